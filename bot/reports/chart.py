"""The report chart: staff vs customer top-k shares per attribute, plus the score trend.

Pure and deterministic: matplotlib's object API on the Agg canvas (no pyplot global state,
no display) and PNG metadata without a software/version stamp, so identical input gives
identical bytes. The palette is Okabe-Ito, which stays distinguishable with the common
colour-vision deficiencies; surprises are also marked by bold labels and a shaded band so
they do not depend on colour alone.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.model.views import SurpriseKind

STAFF_COLOUR = "#0072B2"  # Okabe-Ito blue
CUSTOMER_COLOUR = "#E69F00"  # Okabe-Ito orange
SURPRISE_COLOURS: Mapping[SurpriseKind, str] = {
    SurpriseKind.BLIND_SPOT: "#D55E00",  # vermillion
    SurpriseKind.OVERRATED: "#CC79A7",  # reddish purple
}
SURPRISE_NAMES: Mapping[SurpriseKind, str] = {
    SurpriseKind.BLIND_SPOT: "blind spot",
    SurpriseKind.OVERRATED: "overrated",
}
TREND_COLOUR = "#009E73"  # Okabe-Ito bluish green
WIDTH_INCHES = 10.0
DPI = 100  # 1000 px wide
ROW_INCHES = 0.42
TREND_INCHES = 2.6
TREND_TOP = 118  # the trend axis ends here, above the highest possible score (100)
PNG_METADATA: Mapping[str, str | None] = {"Software": None}


@dataclass(frozen=True, slots=True)
class ChartData:
    """What the chart shows; shares are fractions in [0, 1]."""

    attributes: tuple[str, ...]
    employee_share: tuple[float, ...]  # share of staff putting it in their top k
    # Customers' measured top-3 share; None when the research gives only an order: then no
    # customer bars are drawn (a made-up share would look measured) and rows keep the
    # order given, which should be the customers'.
    customer_share: tuple[float, ...] | None
    surprises: Mapping[str, SurpriseKind]
    k: int
    title: str
    trend: tuple[tuple[str, int], ...] = field(default=())  # (round label, alignment score)
    subtitle: str = ""  # the report's scope: round, staff, customers and their study

    def __post_init__(self) -> None:
        n = len(self.attributes)
        customers = n if self.customer_share is None else len(self.customer_share)
        if len(self.employee_share) != n or customers != n:
            raise ValueError("attributes, employee_share and customer_share differ in length")


def render_chart(data: ChartData) -> bytes:
    """The chart as PNG bytes, about 1000 px wide; a trend panel when there are ≥ 2 rounds."""
    figure = chart_figure(data)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata=dict(PNG_METADATA))
    return buffer.getvalue()


def chart_figure(data: ChartData) -> Any:
    """The matplotlib Figure of the chart (on an Agg canvas), before it is saved."""
    with_trend = len(data.trend) >= 2
    rows = max(len(data.attributes), 1)
    main_height = max(3.0, ROW_INCHES * rows + 1.6)
    height = main_height + (TREND_INCHES if with_trend else 0.0)
    # matplotlib costs ~30 MB: load it when the first chart is drawn, not when the bot starts.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    if with_trend:
        grid = figure.add_gridspec(2, 1, height_ratios=[main_height, TREND_INCHES])
        _draw_shares(figure.add_subplot(grid[0]), data)
        _draw_trend(figure.add_subplot(grid[1]), data.trend)
    else:
        _draw_shares(figure.add_subplot(), data)
    title = f"{data.title}\n{data.subtitle}" if data.subtitle else data.title
    figure.suptitle(title, fontsize=14, fontweight="bold")
    return figure


def _sorted_rows(data: ChartData) -> list[tuple[str, float, float]]:
    if data.customer_share is None:
        return [(a, s, 0.0) for a, s in zip(data.attributes, data.employee_share, strict=True)]
    rows = zip(data.attributes, data.employee_share, data.customer_share, strict=True)
    return sorted(rows, key=lambda row: (-row[2], row[0]))


def _draw_shares(ax: Any, data: ChartData) -> None:
    rows = _sorted_rows(data)
    measured = data.customer_share is not None
    title = f"Share putting each attribute in their top {data.k}"
    if not measured:
        title += " (the research gives customers' order, not their shares)"
    ax.set_title(title, fontsize=11, loc="left")
    if not rows:
        ax.text(0.5, 0.5, "No data", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    height = 0.38
    positions = list(range(len(rows)))
    staff = [100.0 * row[1] for row in rows]
    customers = [100.0 * row[2] for row in rows]
    _mark_surprises(ax, rows, data.surprises)
    if measured:
        ax.barh([y - height / 2 for y in positions], customers, height, color=CUSTOMER_COLOUR)
        for y, value in zip(positions, customers, strict=True):
            ax.text(value + 0.8, y - height / 2, f"{value:.0f}%", va="center", fontsize=8)
    ax.barh([y + height / 2 for y in positions], staff, height, color=STAFF_COLOUR)
    for y, value in zip(positions, staff, strict=True):
        ax.text(value + 0.8, y + height / 2, f"{value:.0f}%", va="center", fontsize=8)
    ax.set_yticks(positions, [row[0] for row in rows], fontsize=10)
    for label, row in zip(ax.get_yticklabels(), rows, strict=True):
        kind = data.surprises.get(row[0])
        if kind is not None:
            label.set_color(SURPRISE_COLOURS[kind])
            label.set_fontweight("bold")
    ax.set_ylim(len(rows) - 0.5, -0.5)  # most valued by customers at the top
    ax.set_xlim(0, 108)
    ax.set_xlabel(f"% putting it in their top {data.k}")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(
        handles=_legend_handles(data.surprises, measured),
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=9,
        frameon=False,
    )


def _mark_surprises(
    ax: Any, rows: list[tuple[str, float, float]], surprises: Mapping[str, SurpriseKind]
) -> None:
    for y, row in enumerate(rows):
        kind = surprises.get(row[0])
        if kind is not None:
            ax.axhspan(y - 0.48, y + 0.48, color=SURPRISE_COLOURS[kind], alpha=0.12, lw=0)


def _legend_handles(surprises: Mapping[str, SurpriseKind], measured: bool) -> list[Any]:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [Patch(color=CUSTOMER_COLOUR, label="customers")] if measured else []
    handles.append(Patch(color=STAFF_COLOUR, label="staff"))
    for kind in SurpriseKind:
        if kind in surprises.values():
            handles.append(
                Line2D(
                    [],
                    [],
                    color=SURPRISE_COLOURS[kind],
                    marker="s",
                    linestyle="none",
                    markersize=9,
                    alpha=0.6,
                    label=SURPRISE_NAMES[kind],
                )
            )
    return handles


def _draw_trend(ax: Any, trend: tuple[tuple[str, int], ...]) -> None:
    positions = list(range(len(trend)))
    scores = [score for _, score in trend]
    ax.plot(positions, scores, color=TREND_COLOUR, marker="o", linewidth=2)
    for x, score in zip(positions, scores, strict=True):
        ax.annotate(
            str(score),
            (x, score),
            textcoords="offset points",
            xytext=(0, 7),
            ha="center",
            fontsize=9,
        )
    ax.set_xticks(positions, [label for label, _ in trend], fontsize=9)
    # Headroom above 100 keeps a top score's label inside the panel, clear of its title.
    ax.set_ylim(0, TREND_TOP)
    ax.set_yticks(range(0, 101, 20))
    ax.set_xlim(-0.5, len(trend) - 0.5)
    ax.set_ylabel("Alignment score")
    ax.set_title("Alignment score over rounds", fontsize=11, loc="left")
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
