"""A recording CoreApi for the adapter tests; the real core is separate."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from bot.model.domain import UserRef
from bot.model.events import (
    AnswerOutcome,
    AnswerStatus,
    AnswerSubmitted,
    CommandInvoked,
    CommandResult,
    PersonSeen,
    ResearchSubmitted,
)
from bot.model.views import AnswerSummary, HomeView, PollOption, PollState, PollView

OPTIONS = (
    PollOption("price", "Low price"),
    PollOption("speed", "Fast delivery"),
    PollOption("support", "Friendly support"),
    PollOption("quality", "Build quality"),
    PollOption("range", "Wide range"),
)


def sample_poll(state: PollState = PollState.OPEN, current: tuple[str, ...] = ()) -> PollView:
    return PollView(
        round_id=7,
        question="What do our customers value most?",
        options=OPTIONS,
        k=3,
        deadline=datetime(2030, 5, 17, 15, 0, tzinfo=UTC),
        state=state,
        current=current,
    )


@dataclass
class FakeCore:
    """Records every call; de-duplicates answers by event id like the real core promises."""

    command_result: CommandResult = field(default_factory=lambda: CommandResult(text="Done."))
    research_result: CommandResult = field(default_factory=lambda: CommandResult(text="Imported."))
    poll: PollView | None = field(default_factory=sample_poll)
    refuse_answers: bool = False
    # When set, commands and answers are recorded, then wait for it: a core still working.
    hold: asyncio.Event | None = None
    commands: list[CommandInvoked] = field(default_factory=list)
    answer_calls: list[AnswerSubmitted] = field(default_factory=list)
    answers: dict[str, AnswerSubmitted] = field(default_factory=dict)
    research: list[ResearchSubmitted] = field(default_factory=list)
    homes: list[UserRef] = field(default_factory=list)
    seen: list[PersonSeen] = field(default_factory=list)

    @property
    def untouched(self) -> bool:
        return not (self.commands or self.answer_calls or self.research or self.homes)

    async def handle_command(self, event: CommandInvoked) -> CommandResult:
        self.commands.append(event)
        await self._held()
        return self.command_result

    async def _held(self) -> None:
        if self.hold is not None:
            await self.hold.wait()

    async def submit_answer(self, event: AnswerSubmitted) -> AnswerOutcome:
        self.answer_calls.append(event)
        await self._held()
        assert self.poll is not None
        if self.refuse_answers:
            closed = replace(self.poll, state=PollState.CLOSED)
            return AnswerOutcome(AnswerStatus.REFUSED, "Sorry, this round has closed.", closed)
        answered = replace(self.poll, state=PollState.ANSWERED, current=event.ranking)
        if event.event_id in self.answers:
            return AnswerOutcome(AnswerStatus.DUPLICATE, "Already recorded.", answered)
        self.answers[event.event_id] = event
        return AnswerOutcome(AnswerStatus.RECORDED, "Thanks, your answer is recorded.", answered)

    async def submit_research(self, event: ResearchSubmitted) -> CommandResult:
        self.research.append(event)
        return self.research_result

    async def poll_for(self, user: UserRef, round_id: int) -> PollView | None:
        return self.poll if self.poll and self.poll.round_id == round_id else None

    async def home_for(self, user: UserRef) -> HomeView:
        self.homes.append(user)
        answer = AnswerSummary(
            round_label="May 2030",
            answered_at=datetime(2030, 5, 10, 9, 30, tzinfo=UTC),
            ranking=("Low price", "Fast delivery", "Build quality"),
            customer_top=("Build quality", "Low price", "Friendly support"),
            hits=2,
        )
        return HomeView(
            user_name="Ada",
            my_answers=(answer,),
            is_manager=True,
            open_round_label="June 2030",
            open_round_deadline=datetime(2030, 6, 1, tzinfo=UTC) + timedelta(hours=15),
            response_rate=0.5,
        )

    async def person_seen(self, event: PersonSeen) -> None:
        self.seen.append(event)

    async def role_of(self, user: UserRef, *, is_platform_admin: bool = False) -> str:
        return "admin" if is_platform_admin else "employee"
