"""Disclosure control: which groups of a round may show figures, decided once, in one place.

The primary rule hides a group with fewer than the minimum number of respondents. That is
not enough on its own: published groups can be subtracted from each other (the
organisation minus a team, a parent minus the union of its published children, two
overlapping teams, the same group in two rounds of a schedule), and a difference that holds
fewer than the minimum gives those few people's answers away. Statistical agencies call the
remedy complementary (secondary) suppression; here it is greedy: while some difference is
too small, hide the smallest published group that takes part in it.

Every output (chat reports, report files, charts, the export, trends, App Home) reads the
figures of a group only through these verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from bot.analytics import Analysis, GroupResult

if TYPE_CHECKING:  # numpy itself is imported where it computes: an idle server never needs it
    import numpy as np
    from numpy.typing import NDArray

TOO_FEW = "too few answers"
HIDDEN = "hidden so that individual answers cannot be worked out"
ORGANISATION = "(organisation)"  # the key of the whole organisation: no team name has brackets

# The highest Kendall's W shown. W is 1 only when every answer is the same, which would
# tell each member's whole ranking; above this cap a reader learns "very strong", no more.
W_CAP = 0.9


@dataclass(frozen=True, slots=True)
class Verdict:
    published: bool
    reason: str = ""  # why the group is hidden: TOO_FEW or HIDDEN


PUBLISHED = Verdict(published=True)


@dataclass(frozen=True, slots=True)
class Verdicts:
    """Per group (ORGANISATION or a team name): shown, or hidden and why."""

    groups: Mapping[str, Verdict]

    def of(self, team: str | None) -> Verdict:
        return self.groups.get(ORGANISATION if team is None else team, Verdict(False, TOO_FEW))

    def published(self) -> tuple[str, ...]:
        return tuple(name for name, verdict in self.groups.items() if verdict.published)


def decide(
    teams_of: Mapping[str, Sequence[str]],
    minimum: int,
    earlier: Sequence[frozenset[str]] = (),
) -> Verdicts:
    """The verdict of every group of one round.

    ``teams_of``: each respondent (any stable id) with the teams they belong to.
    ``earlier``: the respondent sets of groups published by earlier rounds of the same
    schedule; a group of this round whose respondents nest with one of them and differ by
    fewer than ``minimum`` people is hidden (it would show what the extra people answered
    if answers stayed the same between rounds).
    """
    import numpy as np

    people = tuple(teams_of)
    previous = [(_mask(people, ids), len(ids)) for ids in earlier]
    return decide_counted(
        [teams_of[p] for p in people], np.ones(len(people), dtype=np.int64), minimum, previous
    )


def decide_counted(
    teams: Sequence[Sequence[str]],
    counts: Sequence[int] | NDArray[np.int64],
    minimum: int,
    earlier: Sequence[tuple[Sequence[bool] | NDArray[np.bool_], int]] = (),
) -> Verdicts:
    """:func:`decide` for respondents counted in rows: row i stands for ``counts[i]`` people
    who belong to ``teams[i]`` and to the same earlier groups.

    ``earlier``: per group an earlier round published, which rows are in it and how many
    people it had in all (some may not have answered this round). Every rule sums people
    over rows, so rows of people who are alike in all these respects give exactly the
    verdicts of one row per person, with work that grows with the rows, not the people.
    """
    import numpy as np

    weights = np.asarray(counts, dtype=np.int64)
    groups = _member_sets(teams)
    verdicts = {
        name: PUBLISHED if _size(members, weights) >= max(minimum, 1) else Verdict(False, TOO_FEW)
        for name, members in groups.items()
    }
    previous = []
    for rows, size in earlier:
        mask = np.asarray(rows, dtype=np.bool_)
        previous.append((mask, size - _size(mask, weights)))
    while (leak := _leak(groups, weights, verdicts, minimum, previous)) is not None:
        verdicts[leak] = Verdict(False, HIDDEN)
    if not verdicts[ORGANISATION].published:
        # Every report starts from the organisation; without it no team is shown either.
        verdicts = {
            name: v if not v.published else Verdict(False, HIDDEN) for name, v in verdicts.items()
        }
    return Verdicts(verdicts)


def _size(members: NDArray[np.bool_], weights: NDArray[np.int64]) -> int:
    """How many people the marked rows stand for."""
    return int(weights @ members)


def _member_sets(teams: Sequence[Sequence[str]]) -> dict[str, NDArray[np.bool_]]:
    # Few distinct team combinations, many rows: number the combinations in one pass,
    # then build each team's membership with vector operations.
    import numpy as np

    patterns: dict[tuple[str, ...], int] = {}
    codes = np.fromiter(
        (patterns.setdefault(tuple(found), len(patterns)) for found in teams),
        dtype=np.intp,
        count=len(teams),
    )
    groups = {ORGANISATION: np.ones(len(teams), dtype=np.bool_)}
    for names, code in patterns.items():
        members = codes == code
        for team in names:
            groups[team] = groups.get(team, np.zeros(len(teams), dtype=np.bool_)) | members
    return groups


def _mask(people: Sequence[str], ids: frozenset[str]) -> NDArray[np.bool_]:
    """An earlier group over this round's respondents."""
    import numpy as np

    return np.fromiter((person in ids for person in people), dtype=np.bool_, count=len(people))


def _leak(
    groups: Mapping[str, NDArray[np.bool_]],
    weights: NDArray[np.int64],
    verdicts: Mapping[str, Verdict],
    minimum: int,
    previous: Sequence[tuple[NDArray[np.bool_], int]],
) -> str | None:
    """The group to hide next, or None when no published difference is too small."""
    shown = sorted(
        (name for name, verdict in verdicts.items() if verdict.published),
        key=lambda name: (_size(groups[name], weights), name),
    )
    for finder in (_pair_leak, _atom_leak):
        found = finder(groups, weights, shown, minimum)
        if found is not None:
            return found
    return _earlier_leak(groups, weights, shown, minimum, previous)


def _small(count: int, minimum: int) -> bool:
    return 0 < count < minimum


def _pair_leak(
    groups: Mapping[str, NDArray[np.bool_]],
    weights: NDArray[np.int64],
    shown: Sequence[str],
    minimum: int,
) -> str | None:
    """Two published groups that nest or overlap, where either minus the other is too small.

    ``shown`` is smallest first, so the first group of a leaking pair is the one to hide."""
    for i, small in enumerate(shown):
        a = groups[small]
        for large in shown[i + 1 :]:
            b = groups[large]
            if not (a & b).any():
                continue  # disjoint groups: a difference tells nothing about either
            if _small(_size(a & ~b, weights), minimum) or _small(_size(b & ~a, weights), minimum):
                return small
    return None


def _atom_leak(
    groups: Mapping[str, NDArray[np.bool_]],
    weights: NDArray[np.int64],
    shown: Sequence[str],
    minimum: int,
) -> str | None:
    """A set of people too small to show whose total some combination of published groups
    gives: e.g. the organisation minus the union of its published, disjoint teams.

    People in exactly the same published groups (an "atom") are indistinguishable; the
    published totals are sums over atoms, so an atom's total is known exactly when its
    indicator lies in the row space of the group-by-atom matrix. The smallest group with a
    part in that combination is hidden."""
    import numpy as np

    if not shown:
        return None
    atoms, sizes = _atoms(np.stack([groups[name] for name in shown]), weights)
    atom_by_group = atoms.astype(np.float64)
    for index in np.flatnonzero(sizes < minimum):
        combination = _combination_for(atom_by_group, int(index))
        if combination is not None:
            return shown[int(np.flatnonzero(np.abs(combination) > 1e-9)[0])]
    return None


def _atoms(
    matrix: NDArray[np.bool_], weights: NDArray[np.int64]
) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
    """The distinct membership patterns (atoms x groups) of a groups x rows matrix, and
    how many people (the rows' weights added up) have each."""
    import numpy as np

    if matrix.shape[0] > 62:
        atoms, inverse = np.unique(matrix.T, axis=0, return_inverse=True)
        return atoms, _weighted_counts(inverse, weights, len(atoms))
    # One integer per row, a bit per group: far faster than unique rows at 100,000 people.
    bits = np.left_shift(np.int64(1), np.arange(matrix.shape[0], dtype=np.int64))
    codes, inverse = np.unique(bits @ matrix.astype(np.int64), return_inverse=True)
    return (codes[:, None] & bits[None, :]) != 0, _weighted_counts(inverse, weights, len(codes))


def _weighted_counts(
    inverse: NDArray[np.intp], weights: NDArray[np.int64], size: int
) -> NDArray[np.int64]:
    import numpy as np

    totals = np.zeros(size, dtype=np.int64)
    np.add.at(totals, np.ravel(inverse), weights)
    return totals


def _combination_for(atom_by_group: NDArray[np.float64], atom: int) -> NDArray[np.float64] | None:
    """Coefficients c with (groups' totals) · c = the atom's total alone, or None."""
    import numpy as np

    target = np.zeros(atom_by_group.shape[0])
    target[atom] = 1.0
    solved = np.linalg.lstsq(atom_by_group, target, rcond=None)[0]
    coefficients = np.asarray(solved, dtype=np.float64)
    if np.allclose(atom_by_group @ coefficients, target, atol=1e-9):
        return coefficients
    return None


def _earlier_leak(
    groups: Mapping[str, NDArray[np.bool_]],
    weights: NDArray[np.int64],
    shown: Sequence[str],
    minimum: int,
    previous: Sequence[tuple[NDArray[np.bool_], int]],
) -> str | None:
    for name in shown:
        now = groups[name]
        for before, gone in previous:
            added = _size(now & ~before, weights)
            dropped = _size(before & ~now, weights) + gone
            if not (now & before).any():
                continue
            if (dropped == 0 and _small(added, minimum)) or (
                added == 0 and _small(dropped, minimum)
            ):
                return name
    return None


def shows_count(answered: int, minimum: int) -> bool:
    """A count (or a rate) of answers is shown only from the minimum group size up: below
    it, "1 of 2 answered" tells the second person who the one was and what was said."""
    return answered >= max(minimum, 1)


def answered_text(answered: int, invited: int, minimum: int) -> str:
    if not shows_count(answered, minimum):
        return f"fewer than {minimum} answers so far"
    rate = f" ({answered / invited:.0%})" if invited else ""
    return f"{answered} of {invited} answered{rate}"


def apply(analysis: Analysis, verdicts: Verdicts) -> Analysis:
    """The analysis with every hidden group removed and agreement capped below unanimity."""
    overall_verdict = verdicts.of(None)
    if analysis.overall is None or not overall_verdict.published:
        return replace(analysis, overall=None, teams={})
    teams = {
        name: _capped(group) if verdicts.of(name).published else None
        for name, group in analysis.teams.items()
    }
    return replace(analysis, overall=_capped(analysis.overall), teams=teams)


def _capped(group: GroupResult | None) -> GroupResult | None:
    if group is None or group.concordance.w is None or group.concordance.w <= W_CAP:
        return group
    concordance = group.concordance
    assert concordance.w is not None
    assert concordance.chi2 is not None
    chi2 = concordance.chi2 * W_CAP / concordance.w
    return replace(group, concordance=replace(concordance, w=W_CAP, chi2=chi2))


def public_json(analysis: Analysis) -> dict[str, Any]:
    """The analysis as report.json shows it: mean ranks left out, because a mean rank of 1
    (or of the rank every unlisted attribute shares) says what each member answered; the
    consensus order they give is published instead."""
    payload = analysis.to_json_dict()
    payload.pop("mean_ranks", None)
    for team in payload.get("teams", {}).values():
        team.pop("mean_ranks", None)
    return payload
