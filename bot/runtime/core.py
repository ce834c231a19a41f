"""The alignment core: the one implementation of ``bot.model.ports.CoreApi``.

Adapters hand it typed events; it reads and writes through ``bot.model.store.Store`` and talks to
people through the ``ChatPort`` of the event's platform. Commands live in
``bot.commands.handlers``; the life of a round in ``bot.rounds.service``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.analytics import Settings as AnalysisSettings
from bot.commands.handlers import CommandContext, run_command
from bot.commands.parser import CommandError, parse
from bot.model.defaults import DEFAULT_ATTRIBUTES
from bot.model.domain import AudienceKind, AudienceSource, Role, UserRef, WorkspaceRef
from bot.model.events import (
    AnswerOutcome,
    AnswerStatus,
    AnswerSubmitted,
    CommandEffect,
    CommandInvoked,
    CommandResult,
    PersonSeen,
    ResearchSubmitted,
)
from bot.model.names import MAX_ID
from bot.model.ports import ChatPort, DeliveryError
from bot.model.records import AnswerWrite, PersonInfo, WorkspaceInfo
from bot.model.research import ImportIssue, ResearchImportError, ResearchStudy
from bot.model.settings import CoreSettings
from bot.model.store import DuplicateStudyError, Store
from bot.model.views import HomeView, PollView
from bot.reports.research_io import parse_research
from bot.rounds.background import Background
from bot.rounds.dashboard import DashboardService
from bot.rounds.mirror import MirrorService
from bot.rounds.outbox import Outbox, Renderers
from bot.rounds.recent import Recent
from bot.rounds.service import RoundService

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class AlignmentCore:
    def __init__(
        self,
        *,
        store: Store,
        settings: CoreSettings,
        ports: Mapping[str, ChatPort] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self.settings = settings
        self.ports: dict[str, ChatPort] = dict(ports or {})
        self.clock = clock
        self.rounds = RoundService(
            store=store,
            ports=self.ports,
            clock=clock,
            analysis=self.analysis_settings,
            notify=self._messages_queued,
        )
        self.mirror = MirrorService(
            store=store,
            clock=clock,
            min_group_size=settings.min_group_size,
            public_url=settings.public_url,
        )
        self.dashboard = DashboardService(
            store=store,
            rounds=self.rounds,
            clock=clock,
            link_minutes=settings.dashboard_link_minutes,
            public_url=settings.public_url,
            role_of=self._current_role,
        )
        self.outbox = Outbox(
            store=store,
            ports=self.ports,
            clock=clock,
            renderers=Renderers(
                poll=self.rounds.poll_for_person,
                polls=self.rounds.polls_for_people,
                report=self.rounds.report_for_round,
            ),
            concurrency=settings.send_concurrency,
            rate=settings.send_rate,
            lease=timedelta(seconds=settings.outbox_lease_seconds),
        )
        self._background = Background(log, "background work failed")
        # A workspace row never changes once made, so each process reads it once.
        self._workspaces: Recent[str, WorkspaceInfo] = Recent(ttl=None)
        self._people: dict[str, tuple[float, PersonInfo]] = {}
        self._outbox_task: asyncio.Task[None] | None = None
        # Set by the scheduler when it runs, so schedule commands take effect at once.
        self.schedules_changed: Callable[[], None] = lambda: None

    # -- the outbox -----------------------------------------------------------------------

    def start_outbox(self) -> None:
        """Deliver continuously (the server); without it, queued messages drain on demand."""
        if self._outbox_task is None:
            self._outbox_task = asyncio.get_running_loop().create_task(self.outbox.run())

    async def stop_outbox(self) -> None:
        if self._outbox_task is not None:
            self._outbox_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._outbox_task
            self._outbox_task = None

    def _messages_queued(self) -> None:
        if self._outbox_task is not None:
            self.outbox.wake()
        else:
            self.spawn(self._drain())

    async def _drain(self) -> None:
        await self.outbox.drain()

    @property
    def analysis_settings(self) -> AnalysisSettings:
        return AnalysisSettings(
            alpha=self.settings.alpha,
            min_gap=self.settings.min_gap,
            min_group_size=self.settings.min_group_size,
        )

    def register_port(self, port: ChatPort) -> None:
        self.ports[port.platform] = port

    # -- background work ------------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run slow work (fan-out, reports) after the platform has had its answer."""
        self._background.spawn(work)

    async def idle(self) -> None:
        """Wait until every spawned task has finished (tests, the demo, shutdown)."""
        await self._background.idle()

    # -- CoreApi --------------------------------------------------------------------------

    async def workspace(self, ref: WorkspaceRef) -> WorkspaceInfo:
        return await self._workspaces.get(
            ref.key,
            lambda: self.store.ensure_workspace(
                ref,
                time_zone=self.settings.time_zone,
                top_k=self.settings.top_k,
                default_attributes=DEFAULT_ATTRIBUTES,
            ),
        )

    async def handle_command(self, event: CommandInvoked) -> CommandResult:
        # A replayed request (same trigger id) must not open a second round or add twice;
        # the claim is in the database so that every replica sees it.
        if event.event_id and not await self.store.claim_event(event.event_id, "command"):
            return CommandResult("", effect=CommandEffect.REPLAYED)
        try:
            command = parse(event.text)
        except CommandError as exc:
            return CommandResult(str(exc), ok=False)
        workspace = await self.workspace(event.user.workspace)
        person = await self._person(workspace, event.user)
        role = await self._role(workspace, event.user, event.user_is_platform_admin)
        context = CommandContext(
            core=self,
            event=event,
            workspace=workspace,
            person=person,
            role=role,
        )
        return await run_command(context, command)

    async def submit_answer(self, event: AnswerSubmitted) -> AnswerOutcome:
        workspace = await self.workspace(event.user.workspace)
        in_range = 1 <= event.round_id <= MAX_ID
        round_info = (
            await self.rounds.round_briefly(workspace, event.round_id) if in_range else None
        )
        if round_info is None:
            return AnswerOutcome(AnswerStatus.REFUSED, "That poll no longer exists.")
        attributes = await self.rounds.attributes_briefly(workspace)
        by_value = {str(a.id): a for a in attributes}
        problem = ranking_problem(event.ranking, set(by_value), round_info.top_k)
        if problem:
            person = await self._person(workspace, event.user)
            poll = await self.rounds.poll_view(workspace, round_info, person)
            return AnswerOutcome(AnswerStatus.REFUSED, problem, poll)
        ranking = [int(value) for value in event.ranking]
        # The store finds the person itself, in the answer's transaction: most answers come
        # from someone the bot has not heard from for a while, so a cache would miss.
        write = await self.store.record_answer(
            workspace.id,
            event.user.user_id,
            round_info.id,
            ranking,
            at=self.clock(),
            event_id=_event_key(event),
        )
        if write in (AnswerWrite.RECORDED, AnswerWrite.REPLACED):
            # The answer just written is the poll's state: no need to read it back.
            poll = self.rounds.poll_view_of(round_info, attributes, event.ranking)
        else:
            person = await self._person(workspace, event.user)
            poll = await self.rounds.poll_view(workspace, round_info, person)
        return _answer_outcome(write, poll, [by_value[v].name for v in event.ranking])

    async def submit_research(self, event: ResearchSubmitted) -> CommandResult:
        workspace = await self.workspace(event.user.workspace)
        role = await self._role(workspace, event.user, event.user_is_platform_admin)
        if not role.allows(Role.ADMIN):
            return CommandResult("Only admins can import research; nothing was changed.", ok=False)
        return await self.import_research(
            workspace,
            event.text,
            filename=event.filename,
            segment=event.segment,
            source=event.source,
            actor=event.user.key,
        )

    async def import_research(
        self,
        workspace: WorkspaceInfo,
        text: str,
        *,
        filename: str | None,
        segment: str | None,
        source: str | None,
        actor: str,
    ) -> CommandResult:
        names = [a.name for a in await self.store.list_attributes(workspace.id)]
        try:
            studies = parse_research(
                text,
                filename=filename,
                source=source or filename or "research",
                segment=segment,
                known_attributes=names,
            )
            _check_lengths(studies)
            saved = await self.store.save_studies(workspace.id, studies, actor=actor)
        except (ResearchImportError, DuplicateStudyError) as exc:
            return CommandResult(str(exc), ok=False)
        labels = "\n".join(f"• {study.label}" for study in saved)
        return CommandResult(
            f"Imported {len(saved)} stud{'y' if len(saved) == 1 else 'ies'}:\n{labels}"
        )

    async def poll_for(self, user: UserRef, round_id: int) -> PollView | None:
        if not 1 <= round_id <= MAX_ID:
            return None  # no such round, and a number the database driver cannot take
        workspace = await self.workspace(user.workspace)
        round_info = await self.store.get_round(workspace.id, round_id)
        if round_info is None:
            return None
        person = await self._person(workspace, user)
        return await self.rounds.poll_view(workspace, round_info, person)

    async def home_for(self, user: UserRef) -> HomeView:
        workspace = await self.workspace(user.workspace)
        person = await self._person(workspace, user)
        role = await self._role(workspace, user, False)
        return await self.rounds.home_view(workspace, person, role)

    async def person_seen(self, event: PersonSeen) -> None:
        workspace = await self.workspace(event.user.workspace)
        await self._person(workspace, event.user)

    async def role_of(self, user: UserRef, *, is_platform_admin: bool = False) -> str:
        workspace = await self.workspace(user.workspace)
        return (await self._role(workspace, user, is_platform_admin)).value

    async def _current_role(self, user: UserRef, platform_admin: bool) -> Role:
        """The role as it stands now (the dashboard asks on every page request)."""
        workspace = await self.workspace(user.workspace)
        return await self._role(workspace, user, platform_admin)

    # -- helpers --------------------------------------------------------------------------

    async def _person(self, workspace: WorkspaceInfo, user: UserRef) -> PersonInfo:
        # Commands, buttons and App Home visits name their person, often several times in a
        # row; a short-lived cache spares each a query. Short, because another replica may
        # forget the person meanwhile. (Answers find their person in the store's own write.)
        now = time.monotonic()
        cached = self._people.get(user.key)
        if cached is not None and cached[0] > now:
            person = cached[1]
            if not user.display_name or user.display_name == person.display_name:
                return person
        person = await self.store.ensure_person(workspace.id, user.user_id, user.display_name or "")
        if len(self._people) >= PERSON_CACHE_SIZE:
            self._people.clear()
        self._people[user.key] = (now + PERSON_CACHE_SECONDS, person)
        return person

    def forget_cached(self, user: UserRef) -> None:
        self._people.pop(user.key, None)

    async def _role(self, workspace: WorkspaceInfo, user: UserRef, platform_admin: bool) -> Role:
        if (
            platform_admin
            or user.user_id in self.settings.admins
            or user.key in self.settings.admins
        ):
            return Role.ADMIN
        grants = await self.store.role_grants(workspace.id)
        best = Role.EMPLOYEE
        for grant in grants:
            if grant.principal == user.user_id and grant.role.allows(best):
                best = grant.role
        for grant in grants:
            if grant.role.rank > best.rank and await self._in_group(user, grant.principal):
                best = grant.role
        return best

    async def _in_group(self, user: UserRef, principal: str) -> bool:
        """Whether a role granted to a platform user group reaches this user."""
        if not principal.startswith("usergroup:"):
            return False
        port = self.ports.get(user.workspace.platform)
        if port is None:
            return False
        group = AudienceSource(AudienceKind.USERGROUP, principal.removeprefix("usergroup:"))
        try:
            members = await port.members(user.workspace, group)
        except DeliveryError as exc:
            # Unknown membership grants nothing: a failed lookup must not widen access.
            log.warning("could not read %s: %s", principal, exc)
            return False
        return any(member.user_id == user.user_id for member in members)


PERSON_CACHE_SECONDS = 60.0
PERSON_CACHE_SIZE = 100_000
MAX_SOURCE = 180
MAX_SEGMENT = 80


def _check_lengths(studies: list[ResearchStudy]) -> None:
    """The stored columns have limits; refuse a study that would not fit, as a whole."""
    issues = []
    for number, study in enumerate(studies, start=1):
        if len(study.source) > MAX_SOURCE:
            issues.append(ImportIssue(number, "source", f"at most {MAX_SOURCE} characters"))
        if study.segment and len(study.segment) > MAX_SEGMENT:
            issues.append(ImportIssue(number, "segment", f"at most {MAX_SEGMENT} characters"))
    if issues:
        raise ResearchImportError(issues)


def ranking_problem(ranking: tuple[str, ...], valid: set[str], k: int) -> str | None:
    """Why a ranking cannot be stored, in words for the person who sent it (None if fine)."""
    if len(ranking) != min(k, len(valid)):
        return f"Please pick exactly {k} attributes, one per place."
    if len(set(ranking)) != len(ranking):
        return "Each attribute can be picked only once; please choose different ones."
    if any(value not in valid for value in ranking):
        return "One of the picks is no longer on the list; please pick again."
    return None


def _event_key(event: AnswerSubmitted) -> str:
    return f"answer:{event.user.workspace.key}:{event.event_id}"


def _answer_outcome(write: AnswerWrite, poll: PollView, names: list[str]) -> AnswerOutcome:
    picked = ", ".join(names)
    if write is AnswerWrite.RECORDED:
        return AnswerOutcome(
            AnswerStatus.RECORDED, f"Thanks! Your answer is recorded: {picked}.", poll
        )
    if write is AnswerWrite.REPLACED:
        return AnswerOutcome(AnswerStatus.REPLACED, f"Your answer is updated: {picked}.", poll)
    if write is AnswerWrite.DUPLICATE:
        return AnswerOutcome(AnswerStatus.DUPLICATE, "Your answer was already recorded.", poll)
    if write is AnswerWrite.NOT_INVITED:
        return AnswerOutcome(
            AnswerStatus.REFUSED,
            "This poll was not sent to you, so an answer from you cannot count in it. "
            "You will be asked in the next round you are part of.",
            poll,
        )
    return AnswerOutcome(
        AnswerStatus.REFUSED,
        "Sorry, this round has closed, so answers are no longer accepted. "
        "You will get the next poll when it opens.",
        poll,
    )
