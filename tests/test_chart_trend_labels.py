"""The trend panel's score labels stay clear of its title (#16: "over r99nds")."""

from __future__ import annotations

import pytest

from bot.reports.chart import chart_figure
from tests.test_chart import _data


@pytest.mark.parametrize("scores", [(99, 100), (100, 99, 98), (0, 100)])
def test_score_labels_do_not_overlap_the_trend_title(scores: tuple[int, ...]) -> None:
    trend = tuple((f"Round {n}", score) for n, score in enumerate(scores, start=1))
    figure = chart_figure(_data(trend=trend))
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    panel = figure.axes[-1]
    title = panel.title.get_window_extent(renderer)
    labels = [text for text in panel.texts if text.get_text().isdigit()]
    assert [label.get_text() for label in labels] == [str(score) for score in scores]
    for label in labels:
        box = label.get_window_extent(renderer)
        assert not box.overlaps(title), label.get_text()
        assert box.y1 <= panel.get_window_extent(renderer).y1, label.get_text()
