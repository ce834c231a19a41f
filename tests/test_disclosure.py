"""Each rule of disclosure control on its own (bot/reports/disclosure.py, #11)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from bot.analytics import Settings, analyse
from bot.model.research import ResearchForm, ResearchRow, ResearchStudy
from bot.reports import disclosure, snapshot
from bot.reports.disclosure import HIDDEN, ORGANISATION, TOO_FEW, Verdict, decide

SHOWN = Verdict(published=True)


def people(count: int, *teams: str, start: int = 0) -> dict[str, tuple[str, ...]]:
    return {f"p{start + i}": tuple(teams) for i in range(count)}


def verdicts(teams_of: dict[str, tuple[str, ...]], *earlier: Sequence[str]) -> dict[str, Verdict]:
    return dict(decide(teams_of, 5, earlier=[frozenset(e) for e in earlier]).groups)


def test_a_group_below_the_minimum_is_hidden_as_too_few() -> None:
    teams_of = {**people(6, "sales"), **people(4, "legal", start=6), **people(1, start=10)}
    found = verdicts(teams_of)
    assert found == {ORGANISATION: SHOWN, "sales": SHOWN, "legal": Verdict(False, TOO_FEW)}


def test_the_organisation_minus_a_team_of_one_fewer_hides_the_team() -> None:
    # The issue's scenario: 6 answers, a team of 5, one person outside it.
    found = verdicts({**people(5, "sales"), **people(1, start=5)})
    assert found == {ORGANISATION: SHOWN, "sales": Verdict(False, HIDDEN)}


def test_a_difference_of_exactly_the_minimum_is_fine() -> None:
    found = verdicts({**people(6, "sales"), **people(5, start=6)})
    assert found == {ORGANISATION: SHOWN, "sales": SHOWN}


def test_a_parent_minus_the_union_of_its_published_children_hides_the_smallest_child() -> None:
    # 6 + 5 in two teams and one person in none: everyone − sales − support = that person.
    teams_of = {**people(6, "sales"), **people(5, "support", start=6), **people(1, start=11)}
    found = verdicts(teams_of)
    assert found == {ORGANISATION: SHOWN, "sales": SHOWN, "support": Verdict(False, HIDDEN)}


def test_overlapping_teams_that_differ_by_a_few_people_hide_the_smaller() -> None:
    # a = p0..p9, b = p1..p11: a − b is one person, b − a two.
    teams_of = {
        f"p{i}": tuple(t for t, r in (("a", range(10)), ("b", range(1, 12))) if i in r)
        for i in range(20)
    }
    found = verdicts(teams_of)
    assert found == {ORGANISATION: SHOWN, "a": Verdict(False, HIDDEN), "b": SHOWN}


def test_disjoint_teams_do_not_hide_each_other() -> None:
    teams_of = {**people(5, "a"), **people(5, "b", start=5), **people(5, start=10)}
    assert verdicts(teams_of) == {ORGANISATION: SHOWN, "a": SHOWN, "b": SHOWN}


def test_an_earlier_round_of_the_schedule_nesting_with_a_few_more_hides_this_round() -> None:
    now = people(6)
    assert verdicts(now, [*now, "p-gone"])[ORGANISATION] == Verdict(False, HIDDEN)
    assert verdicts(now, [*now][:5])[ORGANISATION] == Verdict(False, HIDDEN)
    assert verdicts(now, now)[ORGANISATION] == SHOWN  # the same people: nothing to subtract
    # Neither contains the other: different answers are different unknowns.
    assert verdicts(now, [*[*now][:5], "p-new"])[ORGANISATION] == SHOWN


def test_a_hidden_organisation_hides_every_team() -> None:
    teams_of = {**people(6, "sales"), **people(5, start=6)}
    found = verdicts(teams_of, [*teams_of, "p-gone"])
    assert found == {ORGANISATION: Verdict(False, HIDDEN), "sales": Verdict(False, HIDDEN)}


def test_counts_are_shown_only_from_the_minimum() -> None:
    assert disclosure.answered_text(4, 10, 5) == "fewer than 5 answers so far"
    assert disclosure.answered_text(5, 10, 5) == "5 of 10 answered (50%)"


STUDY = ResearchStudy(
    source="survey",
    form=ResearchForm.TOP3,
    rows=tuple(
        ResearchRow(a, top3_count=c) for a, c in zip("abcdef", (9, 7, 5, 4, 2, 1), strict=True)
    ),
    conducted_on=None,
    segment=None,
    sample_size=12,
)


def test_unanimity_guard_keeps_every_share_between_one_and_n_minus_one() -> None:
    answers = [(f"p{i}", (), ("a", "b", "c")) for i in range(6)]
    guarded = analyse("abcdef", answers, {None: STUDY}, settings=Settings(unanimity_guard=True))
    plain = analyse("abcdef", answers, {None: STUDY})
    assert plain.overall is not None
    assert guarded.overall is not None
    assert set(plain.overall.employee_top_k_share.values()) == {0.0, 1.0}
    assert set(guarded.overall.employee_top_k_share.values()) == {1 / 6, 5 / 6}
    assert guarded.headline is not None
    assert guarded.headline.share_exact_match <= 5 / 6
    capped = disclosure.apply(guarded, decide({p: () for p, _, _ in answers}, 5))
    assert capped.kendall_w == disclosure.W_CAP


def test_a_snapshot_reads_back_equal_to_what_was_frozen() -> None:
    answers = [(f"p{i}", ("t",) if i < 6 else (), tuple("abcdef"[i % 6 :][:3])) for i in range(12)]
    analysis = analyse("abcdef", answers, {None: STUDY, "smb": STUDY})
    found = decide({p: teams for p, teams, _ in answers}, 5)
    frozen = snapshot.Published(disclosure.apply(analysis, found), found, 14)
    stored = json.loads(json.dumps(snapshot.encode(frozen)))  # as the database keeps it
    assert snapshot.decode(stored) == frozen
