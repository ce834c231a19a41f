"""Customer agreement: Kendall's W among a mirror survey's customers, beside the staff's, and
the rule that a comparison with customers who do not agree flags no surprises."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scipy import stats

from bot.analytics import analyse
from bot.model.mirror import CustomerAgreement, MirrorPage
from bot.model.records import AttributeInfo, StudyInfo
from bot.model.research import ResearchForm, ResearchRow, ResearchStudy
from bot.reports.reporting import ReportInput, build_report
from bot.rounds.mirror import customer_agreement
from bot.runtime.outputs import write_report_folder
from tests.core.conftest import World
from tests.core.test_mirror import ADMIN, _answer, _links, _staff_round, _workspace

NAMES = ("a", "b", "c", "d", "e", "f", "g", "h")

# Five customers rank their top 3 of eight attributes: three say a, b, c and two say b, a, d.
# Unnamed attributes share the mean of ranks 4..8, i.e. 6. Rank sums: a 7, b 8, c 21, d 24,
# e..h 30 each; their mean is m(n+1)/2 = 22.5, so S = 15.5² + 14.5² + 1.5² + 1.5² + 4·7.5² = 680.
# Each customer has one tie of five: T = 5³ − 5 = 120, ΣT = 600.
# W = 12·S / (m²(n³ − n) − m·ΣT) = 8160 / (25·504 − 5·600) = 8160 / 9600 = 0.85,
# χ² = m(n − 1)W = 5·7·0.85 = 29.75 on 7 degrees of freedom.
HAND_W = 0.85
HAND_CHI2 = 29.75
HAND_ANSWERS = [("a", "b", "c")] * 3 + [("b", "a", "d")] * 2


def _study(counts: dict[str, int], sample: int, segment: str = "smb") -> StudyInfo:
    return StudyInfo(
        id=1,
        source="mirror",
        segment=segment,
        form=ResearchForm.TOP3,
        conducted_on=None,
        sample_size=sample,
        imported_at=datetime(2026, 1, 1, tzinfo=UTC),
        rows=tuple(ResearchRow(name, top3_count=counts.get(name, 0)) for name in NAMES),
    )


def test_customer_w_reproduces_the_hand_computed_case() -> None:
    attributes = [AttributeInfo(i, name, "") for i, name in enumerate(NAMES, start=1)]
    ids = {name: i for i, name in enumerate(NAMES, start=1)}
    rankings = [tuple(ids[name] for name in answer) for answer in HAND_ANSWERS]
    found = customer_agreement(_study({"a": 5, "b": 5, "c": 3, "d": 2}, 5), rankings, attributes)
    assert found.respondents == 5
    assert found.w == pytest.approx(HAND_W, abs=1e-12)
    assert found.p_value == pytest.approx(float(stats.chi2.sf(HAND_CHI2, 7)), rel=1e-12)


def _surprising_analysis() -> tuple[ReportInput, int]:
    """40 staff all pick a, b, c; 300 customers rarely pick a: a clear "overrated" surprise."""
    staff = [(f"s{i}", (), ("a", "b", "c")) for i in range(40)]
    study = ResearchStudy(
        source="survey",
        form=ResearchForm.TOP3,
        rows=tuple(
            ResearchRow(name, top3_count=count)
            for name, count in zip(NAMES, (15, 150, 150, 150, 120, 120, 100, 95), strict=True)
        ),
        segment="smb",
        sample_size=300,
    )
    analysis = analyse(NAMES, staff, {"smb": study}, k=3)
    data = ReportInput(
        title="t",
        round_label="r",
        generated_at=datetime(2026, 3, 2, tzinfo=UTC),
        invited=40,
        analysis=analysis,
        research_label="survey",
        segment="smb",
    )
    plain = build_report(data, with_chart=False)
    return data, len(plain.surprises)


def test_customers_who_do_not_agree_flag_no_surprises() -> None:
    data, surprises = _surprising_analysis()
    assert surprises > 0  # without customer agreement the comparison flags something

    agreeing = CustomerAgreement("smb", 300, 0.41, 1e-9)
    shown = build_report(ReportInput(**{**_fields(data), "customers": agreeing}), with_chart=False)
    assert len(shown.surprises) == surprises
    assert shown.notes[0] == (
        "Customers of smb show moderate agreement with each other "
        "(W=0.41, p<0.001, 300 customers); staff W=1.00."
    )

    for w, p in ((0.05, 1e-6), (0.41, 0.2), (None, None)):
        disagreeing = CustomerAgreement("smb", 300, w, p)
        weak = build_report(
            ReportInput(**{**_fields(data), "customers": disagreeing}), with_chart=False
        )
        assert weak.surprises == ()
        assert weak.customers == disagreeing
        if w is not None:
            assert "do not agree with each other" in weak.notes[0]
            assert "comparing staff with a customer consensus is weak" in weak.notes[0]


def _fields(data: ReportInput) -> dict[str, object]:
    return {name: getattr(data, name) for name in ReportInput.__dataclass_fields__}


async def test_the_report_shows_customer_w_beside_staff_w(world: World, tmp_path: Path) -> None:
    """The hand-computed answers, given by customers on the mirror form, end up in the round's
    report (text and JSON) next to the staff's W. The survey is published before the staff
    round closes: a closed round's figures are frozen with the research it closed with."""
    await world.run(ADMIN, "/alignment mirror create segment:smb")
    tokens = await _links(world, 1, 5)
    names = {"a": "price", "b": "product quality", "c": "reliability", "d": "delivery speed"}
    for token, answer in zip(tokens, HAND_ANSWERS, strict=True):
        ranking = tuple(names[letter] for letter in answer)
        assert await _answer(world, token, *ranking) is MirrorPage.THANKS
    assert "now research" in await world.run(ADMIN, "/alignment mirror close 1")
    await _staff_round(world)

    report = await world.run(ADMIN, "/alignment report segment:smb")
    assert "Customers of smb show strong agreement with each other (W=0.85, " in report, report
    assert "5 customers); staff W=" in report

    workspace = await _workspace(world)
    round_info = await world.app.core.store.get_round(workspace.id, 1)
    assert round_info is not None
    await write_report_folder(
        world.app.core.rounds,
        workspace,
        round_info,
        tmp_path / "out",
        min_group_size=5,
        segment="smb",
    )
    payload = json.loads((tmp_path / "out" / "report.json").read_text())
    assert payload["customer_agreement"]["segment"] == "smb"
    assert payload["customer_agreement"]["respondents"] == 5
    assert payload["customer_agreement"]["kendall_w"] == pytest.approx(HAND_W)
    assert payload["customer_agreement"]["p_value"] == pytest.approx(
        float(stats.chi2.sf(HAND_CHI2, 7))
    )
    assert payload["kendall_w"] is not None  # the staff's W, beside it
