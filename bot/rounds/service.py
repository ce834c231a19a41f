"""The life of a round: open it for an audience, deliver the polls, close it, report, thank.

Every step is safe to repeat: invitations are unique per person and round, a delivered poll
keeps its message id (so a restart does not send it again), and closing is a conditional
update that only one caller can win.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.analytics import Analysis, AnswerCount
from bot.analytics import Settings as AnalysisSettings
from bot.analytics.lazy import analyse_counts, customer_profile  # numpy on the first call
from bot.model.defaults import DEFAULT_QUESTION
from bot.model.domain import (
    AudienceKind,
    AudienceSource,
    Role,
    WorkspaceRef,
)
from bot.model.mirror import CustomerAgreement
from bot.model.ports import ChatPort
from bot.model.records import (
    AttributeInfo,
    NewOutboxItem,
    OutboxKind,
    PersonInfo,
    RoundInfo,
    RoundState,
    StudyInfo,
    TeamInfo,
    WorkspaceInfo,
)
from bot.model.store import AnswerGroup, NotFoundError, Store
from bot.model.views import AnswerSummary, HomeView, PollOption, PollState, PollView, ReportView
from bot.reports import disclosure, snapshot
from bot.reports.render_text import render_feedback_text
from bot.reports.reporting import ReportInput, build_report, open_round_report
from bot.reports.snapshot import Published
from bot.rounds.figures import off_loop
from bot.rounds.mirror import customer_agreement
from bot.rounds.recent import Recent

log = logging.getLogger(__name__)

BURST_CACHE_SECONDS = 5.0


class AudienceError(ValueError):
    """The audience names nothing we can reach."""


@dataclass(frozen=True, slots=True)
class Opened:
    round: RoundInfo
    invited: int


@dataclass(frozen=True, slots=True)
class Closed:
    round: RoundInfo
    report: ReportView
    respondents: int


def _require_segment(studies: Mapping[str, StudyInfo], segment: str) -> None:
    if segment not in studies or not segment:
        known = ", ".join(sorted(s for s in studies if s)) or "none (the research has no segments)"
        raise NotFoundError(f"there is no research for segment '{segment}'. Segments: {known}")


def parse_audience(text: str) -> AudienceSource:
    kind, _, ref = text.partition(":")
    try:
        audience = AudienceSource(AudienceKind(kind.lower()), ref)
    except ValueError as exc:
        raise AudienceError(
            f"unknown audience '{text}': use everyone, team:NAME, channel:ID or usergroup:ID"
        ) from exc
    if audience.kind is not AudienceKind.EVERYONE and not ref:
        raise AudienceError(f"audience '{text}' needs a name after the colon")
    return audience


class RoundService:
    def __init__(
        self,
        *,
        store: Store,
        ports: Mapping[str, ChatPort],
        clock: Callable[[], datetime],
        analysis: AnalysisSettings,
        notify: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._ports = ports
        self._clock = clock
        self._analysis = analysis
        # Wakes the outbox when messages were queued, so nobody waits for its next poll.
        self._notify = notify
        self._rounds: Recent[tuple[int, int], RoundInfo | None] = Recent(
            BURST_CACHE_SECONDS, keep=lambda found: found is not None
        )
        self._attributes: Recent[int, list[AttributeInfo]] = Recent(BURST_CACHE_SECONDS)

    def port_for(self, workspace: WorkspaceRef) -> ChatPort | None:
        return self._ports.get(workspace.platform)

    # -- opening --------------------------------------------------------------------------

    async def open(
        self,
        workspace: WorkspaceInfo,
        *,
        audience: str,
        window: timedelta,
        actor: str,
        report_channels: Sequence[str] = (),
        schedule_id: int | None = None,
        fire_time: datetime | None = None,
        remind_before: timedelta | None = None,
    ) -> Opened | None:
        people = await self.audience_members(workspace, parse_audience(audience))
        if not people:
            raise AudienceError(f"nobody is in the audience '{audience}' yet")
        now = self._clock()
        round_info = await self._store.open_round(
            workspace.id,
            question=DEFAULT_QUESTION.format(k=workspace.top_k),
            top_k=workspace.top_k,
            audience=audience,
            opened_at=now,
            deadline=now + window,
            opened_by=actor,
            person_ids=[person.id for person in people],
            schedule_id=schedule_id,
            fire_time=fire_time,
            report_channels=report_channels,
            remind_at=now + window - remind_before if remind_before else None,
        )
        return None if round_info is None else Opened(round_info, len(people))

    async def audience_members(
        self, workspace: WorkspaceInfo, audience: AudienceSource
    ) -> list[PersonInfo]:
        if audience.kind is AudienceKind.EVERYONE:
            return await self._store.list_people(workspace.id)
        if audience.kind is AudienceKind.TEAM:
            return await self._team_members(workspace, audience.ref)
        return await self._platform_members(workspace, audience)

    async def _team_members(self, workspace: WorkspaceInfo, name: str) -> list[PersonInfo]:
        team = next(
            (
                t
                for t in await self._store.list_teams(workspace.id)
                if t.name.lower() == name.lower()
            ),
            None,
        )
        if team is None:
            raise AudienceError(f"there is no team called '{name}'")
        if team.linked_source:
            # A team linked to a channel or user group takes its members from the platform,
            # read when the round opens so joiners and leavers are current.
            linked = await self._platform_members(workspace, parse_audience(team.linked_source))
            await self._store.set_team_membership(
                workspace.id, team.id, add=[p.id for p in linked], actor="sync"
            )
        return await self._store.team_members(team.id)

    async def _platform_members(
        self, workspace: WorkspaceInfo, audience: AudienceSource
    ) -> list[PersonInfo]:
        port = self.port_for(workspace.ref)
        if port is None:
            raise AudienceError(f"no {workspace.ref.platform} connection to read '{audience.key}'")
        users = await port.members(workspace.ref, audience)
        return await self._store.ensure_people(
            workspace.id, [(user.user_id, user.display_name or "") for user in users]
        )

    # -- delivering -----------------------------------------------------------------------

    async def queue_polls(self, workspace: WorkspaceInfo, round_info: RoundInfo) -> int:
        """Put a poll for every invited person in the outbox (once each, however often called),
        then mark the round's polls queued; the scheduler redoes it for an open round left
        unmarked by a crash.

        In chunks, each committed and handed to the outbox at once: the first polls of a
        large round leave while the rest are still being queued."""
        items = [
            NewOutboxItem(
                poll_key(round_info, invitation.person.id),
                OutboxKind.POLL,
                {
                    "round_id": round_info.id,
                    "person_id": invitation.person.id,
                    "user_id": invitation.person.user_id,
                },
            )
            for invitation in await self._store.invitations(round_info.id)
        ]
        queued = 0
        for start in range(0, len(items), POLLS_PER_COMMIT):
            queued += await self._store.enqueue(
                workspace.id, items[start : start + POLLS_PER_COMMIT]
            )
            self._notify()
        await self._store.mark_polls_queued(round_info.id, self._clock())
        return queued

    async def poll_for_person(
        self, workspace: WorkspaceInfo, round_id: int, person_id: int
    ) -> PollView | None:
        round_info = await self.round_briefly(workspace, round_id)
        if round_info is None:
            return None
        attributes = await self.attributes_briefly(workspace)
        answer = await self._store.answer_of(round_id, person_id)
        current = tuple(str(a) for a in answer.ranking) if answer else ()
        return self.poll_view_of(round_info, attributes, current)

    async def polls_for_people(
        self, workspace: WorkspaceInfo, round_id: int, person_ids: Sequence[int]
    ) -> dict[int, PollView]:
        """``poll_for_person`` for a batch of people with one read of their answers: the
        fan-out renders its claimed polls this way instead of one query per poll."""
        round_info = await self.round_briefly(workspace, round_id)
        if round_info is None:
            return {}
        attributes = await self.attributes_briefly(workspace)
        answers = await self._store.rankings_of(round_id, person_ids)
        # Nearly everyone in a fan-out has not answered yet: they share one view, which also
        # lets a port render it once (see SlackPort.send_poll).
        unanswered = self.poll_view_of(round_info, attributes, ())
        return {
            person: self.poll_view_of(round_info, attributes, tuple(str(a) for a in answer))
            if (answer := answers.get(person))
            else unanswered
            for person in person_ids
        }

    async def round_briefly(self, workspace: WorkspaceInfo, round_id: int) -> RoundInfo | None:
        """A round as read at most a few seconds ago.

        A fan-out or a burst of answers names the same round thousands of times; a few
        seconds' staleness is harmless because the answer write checks the round's state and
        deadline in the database itself."""
        return await self._rounds.get(
            (workspace.id, round_id), lambda: self._store.get_round(workspace.id, round_id)
        )

    async def attributes_briefly(self, workspace: WorkspaceInfo) -> list[AttributeInfo]:
        return await self._attributes.get(
            workspace.id, lambda: self._store.list_attributes(workspace.id)
        )

    async def report_for_round(self, workspace: WorkspaceInfo, round_id: int) -> ReportView | None:
        round_info = await self._store.get_round(workspace.id, round_id)
        return None if round_info is None else await self.report(workspace, round_info)

    async def poll_view(
        self, workspace: WorkspaceInfo, round_info: RoundInfo, person: PersonInfo
    ) -> PollView:
        attributes = await self._store.list_attributes(workspace.id)
        answer = await self._store.answer_of(round_info.id, person.id)
        current = tuple(str(a) for a in answer.ranking) if answer else ()
        return self.poll_view_of(round_info, attributes, current)

    def poll_view_of(
        self, round_info: RoundInfo, attributes: Sequence[AttributeInfo], current: tuple[str, ...]
    ) -> PollView:
        """The poll as it stands, from what the caller already read."""
        if not round_info.accepts_answers_at(self._clock()):
            state = PollState.CLOSED
        else:
            state = PollState.ANSWERED if current else PollState.OPEN
        return PollView(
            round_id=round_info.id,
            question=round_info.question,
            options=tuple(PollOption(str(a.id), a.name, a.description) for a in attributes),
            k=min(round_info.top_k, len(attributes)),
            deadline=round_info.deadline,
            state=state,
            current=current,
        )

    # -- reminding and closing ------------------------------------------------------------

    async def remind(self, workspace: WorkspaceInfo, round_info: RoundInfo) -> int:
        """Remind, once, everyone invited who has not answered yet; returns how many."""
        if not await self._store.mark_reminded(round_info.id, self._clock()):
            return 0
        text = (
            f"Reminder: {round_info.label} closes {round_info.deadline:%Y-%m-%d %H:%M} UTC and "
            "your answer is still missing. It takes a minute: rank what you think customers "
            "value most."
        )
        items = [
            NewOutboxItem(
                f"remind:{round_info.id}:{person.id}",
                OutboxKind.TEXT,
                {"user_id": person.user_id, "text": text},
            )
            for person in await self._store.unanswered(round_info.id)
        ]
        queued = await self._store.enqueue(workspace.id, items)
        self._notify()
        return queued

    async def close(
        self, workspace: WorkspaceInfo, round_info: RoundInfo, *, actor: str = "deadline"
    ) -> Closed | None:
        """Close the round and queue its report and each respondent's feedback; ``actor``
        (who closed it, or "deadline") goes into the audit log.

        None when the round was already closed by someone else (nothing is queued twice)."""
        closing = await self._store.close_round(
            workspace.id, round_info.id, self._clock(), actor=actor
        )
        if not closing:
            return None
        closed = await self._store.get_round(workspace.id, round_info.id)
        assert closed is not None
        report = await self.queue_results(workspace, closed)
        answers = await self._store.answer_count(closed.id)
        return Closed(closed, report, answers)

    async def queue_results(self, workspace: WorkspaceInfo, round_info: RoundInfo) -> ReportView:
        """Queue the report for the report channels and feedback for each respondent.

        Safe to repeat: after a crash between closing and queueing, the scheduler calls this
        again for every closed round not yet marked reported, and the dedupe keys hold."""
        report = await self.report(workspace, round_info)
        items = [
            NewOutboxItem(
                f"report:{round_info.id}:{channel.lstrip('#')}",
                OutboxKind.REPORT,
                {"round_id": round_info.id, "channel": channel.lstrip("#")},
            )
            for channel in round_info.report_channels
        ]
        items += await self._feedback_items(workspace, round_info, report)
        await self._store.enqueue(workspace.id, items)
        await self._store.mark_reported(round_info.id, self._clock())
        self._notify()
        return report

    async def _feedback_items(
        self, workspace: WorkspaceInfo, round_info: RoundInfo, report: ReportView
    ) -> list[NewOutboxItem]:
        names = await self._attribute_names(workspace)
        customers = tuple(report.figures.customer_top) if report.figures else ()
        if not customers:
            customers = tuple(await self._customer_top(workspace, round_info))
        answers = await self._store.answers_for_round(round_info.id)
        invited = await self._store.invitation_count(round_info.id)
        # A response count of a group below the minimum would hint at who answered; nor is
        # it shown when the organisation's figures are hidden.
        shown = report.figures is not None and invited
        thanks = (
            f"Thank you for taking part — {len(answers)} of {invited} people answered."
            if shown
            else "Thank you for taking part."
        )
        items = []
        for answer in answers:
            summary = AnswerSummary(
                round_label=round_info.label,
                answered_at=answer.answered_at,
                ranking=tuple(names.get(a, str(a)) for a in answer.ranking),
                customer_top=customers,
                hits=None,
            )
            text = f"{render_feedback_text(summary)}\n{thanks}"
            items.append(
                NewOutboxItem(
                    f"feedback:{round_info.id}:{answer.person_id}",
                    OutboxKind.TEXT,
                    {"user_id": answer.user_id, "text": text},
                )
            )
        return items

    # -- analysing ------------------------------------------------------------------------

    async def analysis(
        self,
        workspace: WorkspaceInfo,
        round_info: RoundInfo,
        studies: Mapping[str, StudyInfo] | None = None,
    ) -> Analysis:
        """The round's figures as they may be published: every hidden group removed."""
        return (await self.published(workspace, round_info, studies)).analysis

    async def published(
        self,
        workspace: WorkspaceInfo,
        round_info: RoundInfo,
        studies: Mapping[str, StudyInfo] | None = None,
    ) -> Published:
        """The round's analysis after disclosure control, with the verdict of every group.

        A closed round's figures are frozen the first time they are asked for (its close
        asks at once) and read back from then on. An open round publishes no figures at
        all: comparing its report before and after one more answer would show that answer."""
        if round_info.state is RoundState.CLOSED:
            stored = await self._store.round_snapshot(round_info.id)
            if stored is not None:
                return snapshot.decode(stored)
        invited = await self._store.invitation_count(round_info.id)
        if round_info.state is not RoundState.CLOSED:
            nothing = Analysis(
                await self._asked(workspace, ()), round_info.top_k, self._analysis, None
            )
            return Published(nothing, NOTHING_PUBLISHED, invited)
        # Counted in the database: rows per distinct (ranking, teams), not one per answer.
        groups = await self._store.answer_groups(round_info.id)
        if studies is None:
            studies = await self.studies_at(workspace, round_info.closed_at)
        analysis = await self._analyse(workspace, round_info, groups, studies)
        verdicts = await self._verdicts(workspace, round_info, groups)
        frozen = Published(disclosure.apply(analysis, verdicts), verdicts, invited)
        stored = await self._store.freeze_round(
            round_info.id, snapshot.encode(frozen), self._clock()
        )
        return snapshot.decode(stored)  # another closer may have frozen it first

    async def _analyse(
        self,
        workspace: WorkspaceInfo,
        round_info: RoundInfo,
        groups: Sequence[AnswerGroup],
        studies: Mapping[str, StudyInfo],
    ) -> Analysis:
        names = await self._attribute_names(workspace)
        rankings: dict[tuple[int, ...], tuple[str, ...]] = {}  # the same ranking in many teams
        for group in groups:
            if group.ranking not in rankings:
                rankings[group.ranking] = tuple(names.get(x, str(x)) for x in group.ranking)
        counted = [AnswerCount(g.teams, rankings[g.ranking], g.count) for g in groups]
        return await off_loop(
            analyse_counts,
            await self._asked(workspace, list(rankings.values())),
            counted,
            {(segment or None): study.to_study() for segment, study in studies.items()},
            k=round_info.top_k,
            settings=replace(self._analysis, unanimity_guard=True),
        )

    async def _asked(
        self, workspace: WorkspaceInfo, rankings: Sequence[Sequence[str]]
    ) -> tuple[str, ...]:
        """The active attributes, then any retired one an answer still names."""
        every = await self._store.list_attributes(workspace.id, include_retired=True)
        asked = [a.name for a in every if a.active]
        for ranking in rankings:
            asked.extend(name for name in ranking if name not in asked)
        return tuple(asked)

    async def _verdicts(
        self, workspace: WorkspaceInfo, round_info: RoundInfo, groups: Sequence[AnswerGroup]
    ) -> disclosure.Verdicts:
        """Disclosure control from respondents counted per (teams, earlier rounds answered),
        in the database: no object per respondent."""
        minimum = self._analysis.min_group_size
        earlier = await self._earlier_published(workspace, round_info)
        if not earlier:
            by_teams: dict[tuple[str, ...], int] = {}
            for group in groups:
                by_teams[group.teams] = by_teams.get(group.teams, 0) + group.count
            return disclosure.decide_counted(list(by_teams), list(by_teams.values()), minimum)
        rounds = sorted({e.round_id for e in earlier})
        rows = await self._store.respondent_groups(round_info.id, rounds)
        column = {round_id: i for i, round_id in enumerate(rounds)}
        previous = [
            (
                [row.also[column[e.round_id]] and _in_group(row.teams, e.group) for row in rows],
                e.size,
            )
            for e in earlier
        ]
        return disclosure.decide_counted(
            [row.teams for row in rows], [row.count for row in rows], minimum, previous
        )

    async def _earlier_published(
        self, workspace: WorkspaceInfo, round_info: RoundInfo
    ) -> list[EarlierGroup]:
        """The groups earlier rounds of the same schedule published, with their size.

        A group's people are those who answered that round and are in the group now (as
        this round's respondents are counted). People forgotten since are gone from the
        answers but not from the frozen figures: the group's size is its frozen count when
        that is larger, and the difference are people nobody in this round is."""
        if round_info.schedule_id is None:
            return []
        closed = await self._store.list_rounds(workspace.id, state=RoundState.CLOSED, limit=50)
        found: list[EarlierGroup] = []
        for earlier in closed:
            if earlier.schedule_id != round_info.schedule_id or earlier.id >= round_info.id:
                continue
            shown = await self.published(workspace, earlier)
            names = shown.verdicts.published()
            if not names:
                continue
            rows = await self._store.respondent_groups(earlier.id)
            for name in names:
                members = sum(row.count for row in rows if _in_group(row.teams, name))
                frozen = _respondents(shown.analysis, name)
                found.append(EarlierGroup(earlier.id, name, max(members, frozen)))
        return found

    async def studies_at(
        self, workspace: WorkspaceInfo, moment: datetime | None
    ) -> dict[str, StudyInfo]:
        return await self._store.latest_studies(workspace.id, as_of=moment)

    async def report(
        self,
        workspace: WorkspaceInfo,
        round_info: RoundInfo,
        *,
        team: str | None = None,
        segment: str | None = None,
        with_chart: bool = True,
    ) -> ReportView:
        """The round's report, for everyone or one team, against the headline or one customer
        segment. An unknown team or segment raises NotFoundError naming the known ones. An
        open round shows no figures (see ``published``)."""
        studies = await self.studies_at(workspace, round_info.closed_at)
        team_info = None if team is None else await self._team_named(workspace, team)
        if segment is not None:
            _require_segment(studies, segment)
        title = "Do we know what our customers value?"
        if round_info.state is not RoundState.CLOSED:
            return await self._open_report(title, round_info, team_info)
        shown = await self.published(workspace, round_info, studies)
        customers = await self._customers(workspace, shown.analysis, studies, segment)
        return await off_loop(
            build_report,
            ReportInput(
                title=title,
                round_label=round_info.label,
                generated_at=self._clock(),
                # The organisation's count is frozen with the figures; a team's is its members'.
                invited=shown.invited
                if team_info is None
                else await self._invited(round_info, team_info),
                analysis=shown.analysis,
                research_label="; ".join(s.label for s in studies.values()) or "no research yet",
                earlier=await self._earlier(workspace, round_info),
                segment=segment,
                team=team_info.name if team_info else None,
                study_labels={key: f"#{s.id} {s.source}" for key, s in studies.items()},
                verdicts=shown.verdicts,
                customers=customers,
            ),
            with_chart=with_chart,
        )

    async def _open_report(
        self, title: str, round_info: RoundInfo, team: TeamInfo | None
    ) -> ReportView:
        answered = await self._store.answer_count(
            round_info.id, team_id=team.id if team is not None else None
        )
        if team is not None:
            title += f" — team {team.name}"
        return open_round_report(
            title,
            round_info.label,
            self._clock(),
            invited=await self._invited(round_info, team),
            answered=answered,
            minimum=self._analysis.min_group_size,
        )

    async def _team_named(self, workspace: WorkspaceInfo, name: str) -> TeamInfo:
        teams = await self._store.list_teams(workspace.id)
        found = next((t for t in teams if t.name.lower() == name.strip().lower()), None)
        if found is None:
            known = ", ".join(t.name for t in teams) or "none yet"
            raise NotFoundError(f"there is no team '{name}'. Teams: {known}")
        return found

    async def _invited(self, round_info: RoundInfo, team: TeamInfo | None) -> int:
        """Invited people in the report's group: a team's rate counts only its own members."""
        if team is None:
            return await self._store.invitation_count(round_info.id)
        members = {p.id for p in await self._store.team_members(team.id)}
        invitations = await self._store.invitations(round_info.id)
        return sum(1 for invitation in invitations if invitation.person.id in members)

    async def _customers(
        self,
        workspace: WorkspaceInfo,
        analysis: Analysis,
        studies: Mapping[str, StudyInfo],
        segment: str | None,
    ) -> CustomerAgreement | None:
        """Agreement among the customers behind the report's segment, when its research came
        from a mirror survey (an imported study has no individual answers to measure)."""
        if segment is None:
            headline = analysis.headline
            segment = headline.segment if headline is not None else None
        study = studies.get(segment or "")
        if study is None:
            return None
        mirror = await self._store.mirror_of_study(workspace.id, study.id)
        if mirror is None:
            return None
        every = await self._store.list_attributes(workspace.id, include_retired=True)
        rankings = await self._store.mirror_rankings(mirror.id)
        return customer_agreement(study, rankings, every)

    async def _earlier(
        self, workspace: WorkspaceInfo, round_info: RoundInfo
    ) -> tuple[tuple[str, Analysis], ...]:
        """Up to five earlier closed rounds with their analyses, oldest first."""
        earlier = [
            r
            for r in await self._store.list_rounds(workspace.id, state=RoundState.CLOSED, limit=6)
            if r.id < round_info.id
        ]
        return tuple([(r.label, await self.analysis(workspace, r)) for r in reversed(earlier[:5])])

    async def _attribute_names(self, workspace: WorkspaceInfo) -> dict[int, str]:
        every = await self._store.list_attributes(workspace.id, include_retired=True)
        return {a.id: a.name for a in every}

    # -- personal views -------------------------------------------------------------------

    async def my_answers(self, workspace: WorkspaceInfo, person: PersonInfo) -> list[AnswerSummary]:
        names = await self._attribute_names(workspace)
        answered = await self._store.answers_of_person(workspace.id, person.id)
        closed = [r for r, _ in answered if r.state is RoundState.CLOSED]
        # The research each closed round compares with, from one read of the studies (not one
        # per round); the customers' top k once per study and k.
        studies = iter(
            await self._store.latest_studies_at(workspace.id, [r.closed_at for r in closed])
        )
        tops: dict[tuple[int, int], tuple[str, ...]] = {}
        summaries: list[AnswerSummary] = []
        for round_info, answer in answered:
            ranking = tuple(names.get(a, str(a)) for a in answer.ranking)
            top: tuple[str, ...] = ()
            if round_info.state is RoundState.CLOSED:
                study = _compared_study(next(studies))
                if study is not None:
                    key = (study.id, round_info.top_k)
                    if key not in tops:
                        tops[key] = tuple(_customer_top_of(study, round_info.top_k))
                    top = tops[key]
            hits = len(set(ranking[: round_info.top_k]) & set(top)) if top else None
            summaries.append(
                AnswerSummary(round_info.label, answer.answered_at, ranking, top, hits)
            )
        return summaries

    async def _customer_top(self, workspace: WorkspaceInfo, round_info: RoundInfo) -> Sequence[str]:
        # Customers' top k comes from research alone, so it is shown even to a person whose
        # group was too small for a report: it reveals nothing about colleagues.
        study = _compared_study(await self.studies_at(workspace, round_info.closed_at))
        if study is None:
            return ()
        return _customer_top_of(study, round_info.top_k)

    async def home_view(self, workspace: WorkspaceInfo, person: PersonInfo, role: Role) -> HomeView:
        mine = tuple(await self.my_answers(workspace, person))
        is_manager = role.allows(Role.MANAGER)
        open_rounds = await self._store.list_rounds(workspace.id, state=RoundState.OPEN, limit=1)
        current = open_rounds[0] if open_rounds else None
        home = HomeView(
            user_name=person.display_name or person.user_id,
            my_answers=mine,
            is_manager=is_manager,
            open_round_label=current.label if current else None,
            open_round_deadline=current.deadline if current else None,
        )
        if not is_manager:
            return home
        return await self._manager_home(workspace, home, current)

    async def _manager_home(
        self, workspace: WorkspaceInfo, home: HomeView, current: RoundInfo | None
    ) -> HomeView:
        rate = None
        if current is not None:
            invited = await self._store.invitation_count(current.id)
            answered = await self._store.answer_count(current.id)
            shown = disclosure.shows_count(answered, self._analysis.min_group_size)
            rate = answered / invited if invited and shown else None
        closed = await self._store.list_rounds(workspace.id, state=RoundState.CLOSED, limit=1)
        latest = None
        if closed:
            latest = (await self.report(workspace, closed[0], with_chart=False)).figures
        return replace(home, response_rate=rate, latest=latest)  # both passed disclosure


@dataclass(frozen=True, slots=True)
class EarlierGroup:
    """A group an earlier round of the schedule published: its round, name and size."""

    round_id: int
    group: str  # disclosure.ORGANISATION or a team name
    size: int


def _compared_study(studies: Mapping[str, StudyInfo]) -> StudyInfo | None:
    """The study a person's own answers are compared with: all customers, else any segment."""
    return studies.get("") or next(iter(studies.values()), None)


def _customer_top_of(study: StudyInfo, k: int) -> Sequence[str]:
    return customer_profile(study.to_study(), k).top(k)


def _in_group(teams: Sequence[str], group: str) -> bool:
    return group == disclosure.ORGANISATION or group in teams


def _respondents(analysis: Analysis, group: str) -> int:
    found = analysis.overall if group == disclosure.ORGANISATION else analysis.teams.get(group)
    return 0 if found is None else found.respondents


# Polls queued per commit: enough that a 10,000-person round takes a few commits, few enough
# that the first polls leave a fraction of a second after the round opens.
POLLS_PER_COMMIT = 1000

NOTHING_PUBLISHED = disclosure.Verdicts({disclosure.ORGANISATION: disclosure.Verdict(False, "")})


def poll_key(round_info: RoundInfo, person_id: int) -> str:
    return f"poll:{round_info.id}:{person_id}"
