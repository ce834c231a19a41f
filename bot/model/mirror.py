"""The mirror survey: customers answer the staff's question ("rank your top k") on a web form.

A mirror study collects customers' rankings for one segment through invitation links (one
answer each) and, optionally, one open link. Responses are rows of their own, never mixed with
staff answers; a closed study with enough responses becomes a top-3-count research study.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.model.records import AttributeInfo


class MirrorState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class MirrorInfo:
    id: int
    workspace_id: int
    name: str
    segment: str
    top_k: int
    state: MirrorState
    created_at: datetime
    closes_at: datetime | None
    closed_at: datetime | None
    study_id: int | None  # the research study it became once published
    responses: int

    def accepts_answers(self, now: datetime) -> bool:
        """Open and not past its closing date (a date passes without anyone closing it)."""
        in_time = self.closes_at is None or now < self.closes_at
        return self.state is MirrorState.OPEN and in_time


@dataclass(frozen=True, slots=True)
class MirrorLink:
    """What a link's token opens: its study, and whether it is the reusable open link."""

    mirror: MirrorInfo
    reusable: bool
    used: bool


class MirrorWrite(StrEnum):
    RECORDED = "recorded"
    ALREADY_ANSWERED = "already_answered"
    UNKNOWN_LINK = "unknown_link"
    CLOSED = "closed"


class MirrorStore(Protocol):
    """The storage the mirror survey needs; part of ``bot.model.store.Store``."""

    async def create_mirror(
        self,
        workspace_id: int,
        *,
        name: str,
        segment: str,
        top_k: int,
        closes_at: datetime | None,
        actor: str,
    ) -> MirrorInfo: ...

    async def list_mirrors(self, workspace_id: int) -> list[MirrorInfo]: ...

    async def get_mirror(self, workspace_id: int, mirror_id: int) -> MirrorInfo:
        """Raises NotFoundError for an id of another workspace or none at all."""
        ...

    async def close_mirror(
        self, workspace_id: int, mirror_id: int, *, at: datetime, actor: str
    ) -> bool:
        """Close an open study. False if it was closed already."""
        ...

    async def add_mirror_links(
        self, mirror_id: int, token_hashes: Sequence[str], *, reusable: bool, at: datetime
    ) -> None: ...

    async def mirror_link(self, token_hash: str) -> MirrorLink | None: ...

    async def record_mirror_response(
        self, token_hash: str, ranking: Sequence[int], *, at: datetime
    ) -> MirrorWrite:
        """Store one response in one transaction: a one-time link is spent in the same
        transaction, so two concurrent submissions of one link store exactly one answer."""
        ...

    async def mirror_rankings(self, mirror_id: int) -> list[tuple[int, ...]]:
        """Every response's attribute ids, best first (no link, no time: nothing to trace)."""
        ...

    async def mirror_of_study(self, workspace_id: int, study_id: int) -> MirrorInfo | None: ...

    async def mirrors_past_closing(self, now: datetime) -> list[MirrorInfo]:
        """Open studies, in every workspace, whose closing date has passed."""
        ...

    async def publish_mirror(
        self, workspace_id: int, mirror_id: int, study_id: int, *, actor: str
    ) -> bool:
        """Link the study a mirror became; False if it was published before."""
        ...


class MirrorPage(StrEnum):
    """Which page a customer sees."""

    FORM = "form"
    THANKS = "thanks"
    ALREADY_ANSWERED = "already_answered"
    UNKNOWN_LINK = "unknown_link"
    CLOSED = "closed"
    TOO_MANY = "too_many"  # the open link was used too often from one address


@dataclass(frozen=True, slots=True)
class MirrorForm:
    """The question as customers see it: the study's k and the attributes' descriptions."""

    title: str
    top_k: int
    attributes: tuple[AttributeInfo, ...]


@dataclass(frozen=True, slots=True)
class MirrorOutcome:
    page: MirrorPage
    form: MirrorForm | None = None
    problem: str | None = None  # why a submitted form was refused (shown with the form again)
    reusable: bool = False  # reached through the open link


Admission = Callable[[], bool]


class MirrorApi(Protocol):
    """What the web adapter asks of the core."""

    async def mirror_form(self, token: str) -> MirrorOutcome: ...

    async def mirror_submit(
        self, token: str, ranking: tuple[str, ...], *, admit_open: Admission
    ) -> MirrorOutcome:
        """``admit_open`` is asked, just before storing, whether an answer through the open
        link may count (the web adapter's per-address limit); one-time links need no limit."""
        ...


@dataclass(frozen=True, slots=True)
class CustomerAgreement:
    """Kendall's W among the customers of a segment who answered a mirror survey."""

    segment: str
    respondents: int
    w: float | None
    p_value: float | None
