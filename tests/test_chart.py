"""The report chart: valid, deterministic PNG bytes that depend on their input."""

from __future__ import annotations

import dataclasses
import struct

import pytest

from bot.model.views import SurpriseKind
from bot.reports.chart import ChartData, render_chart

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _data(**changes: object) -> ChartData:
    data = ChartData(
        attributes=("Price", "Customer support", "Delivery speed", "Quality", "Brand"),
        employee_share=(0.8, 0.18, 0.5, 0.6, 0.3),
        customer_share=(0.45, 0.62, 0.4, 0.7, 0.05),
        surprises={
            "Customer support": SurpriseKind.BLIND_SPOT,
            "Brand": SurpriseKind.OVERRATED,
        },
        k=3,
        title="Q2 alignment",
    )
    return dataclasses.replace(data, **changes)  # type: ignore[arg-type]


def _size(png: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk comes first
    return width, height


def test_png_signature_and_size() -> None:
    png = render_chart(_data())
    assert png.startswith(PNG_SIGNATURE)
    assert png[12:16] == b"IHDR"
    assert len(png) > 10_000
    width, _ = _size(png)
    assert width == 1000


def test_identical_input_gives_identical_bytes() -> None:
    assert render_chart(_data()) == render_chart(_data())


def test_no_software_or_time_stamp() -> None:
    png = render_chart(_data())
    assert b"matplotlib" not in png.lower()
    assert b"tIME" not in png


def test_different_input_gives_different_bytes() -> None:
    base = render_chart(_data())
    assert render_chart(_data(employee_share=(0.7, 0.18, 0.5, 0.6, 0.3))) != base
    assert render_chart(_data(surprises={})) != base
    assert render_chart(_data(title="Q3 alignment")) != base


def test_trend_panel_makes_the_image_taller() -> None:
    _, plain = _size(render_chart(_data()))
    _, single = _size(render_chart(_data(trend=(("R1", 60),))))
    _, with_trend = _size(render_chart(_data(trend=(("R1", 60), ("R2", 66), ("R3", 71)))))
    assert single == plain  # one point is no trend
    assert with_trend > plain


def test_more_attributes_make_the_image_taller() -> None:
    names = tuple(f"Attribute {i}" for i in range(12))
    shares = tuple(i / 12 for i in range(12))
    many = _data(attributes=names, employee_share=shares, customer_share=shares[::-1])
    assert _size(render_chart(many))[1] > _size(render_chart(_data()))[1]


def test_empty_chart_still_renders() -> None:
    png = render_chart(_data(attributes=(), employee_share=(), customer_share=(), surprises={}))
    assert png.startswith(PNG_SIGNATURE)


def test_mismatched_lengths_are_rejected() -> None:
    with pytest.raises(ValueError, match="length"):
        _data(employee_share=(0.5,))
