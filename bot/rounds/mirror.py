"""The mirror survey's life: create, hand out links, take customers' answers, close, publish.

Customers answer through a web form (``adapters/web``) that reaches ``mirror_form`` and
``mirror_submit``; admins use the `mirror …` commands. A published study is an ordinary
top-3-count research study, so every comparison with staff works on it unchanged.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from bot.model.mirror import (
    Admission,
    CustomerAgreement,
    MirrorForm,
    MirrorInfo,
    MirrorOutcome,
    MirrorPage,
    MirrorWrite,
)
from bot.model.records import AttributeInfo, StudyInfo, WorkspaceInfo
from bot.model.research import ResearchForm, ResearchRow, ResearchStudy
from bot.model.store import DuplicateStudyError, Store
from bot.rounds.recent import Recent

log = logging.getLogger(__name__)

ATTRIBUTES_SECONDS = 5.0  # an attribute added or retired shows on the form within this
MAX_LINKS = 10_000  # per request: a CRM mail merge, not a denial of service
SHOWN_FORMS = 20_000  # one-time links whose form this process served lately (see mirror_submit)
MAX_NAME = 120
MAX_SEGMENT = 80
WRITES_TO_PAGES = {
    MirrorWrite.RECORDED: MirrorPage.THANKS,
    MirrorWrite.ALREADY_ANSWERED: MirrorPage.ALREADY_ANSWERED,
    MirrorWrite.UNKNOWN_LINK: MirrorPage.UNKNOWN_LINK,
    MirrorWrite.CLOSED: MirrorPage.CLOSED,
}


class MirrorError(ValueError):
    """An admin's mirror request cannot be done; the message says why."""


def new_token() -> str:
    """128 random bits, URL-safe: unguessable, and short enough for a mail merge."""
    return secrets.token_urlsafe(16)


def token_hash(token: str) -> str:
    """Only this is stored: a database dump cannot be turned back into working links."""
    return hashlib.sha256(token.encode()).hexdigest()


class MirrorService:
    def __init__(
        self,
        *,
        store: Store,
        clock: Callable[[], datetime],
        min_group_size: int,
        public_url: str,
    ) -> None:
        self._store = store
        self._clock = clock
        self._min_group_size = min_group_size
        self._public_url = public_url.rstrip("/")
        # Every form view and submission needs the attribute list; a burst of customers
        # (a newsletter going out) would otherwise read it twice per answer.
        self._attributes: Recent[int, list[AttributeInfo]] = Recent(ttl=ATTRIBUTES_SECONDS)
        # One-time link (hash) -> its study as the form was served (workspace, k and name
        # never change; whether it is still open the answer's write checks).
        self._shown: OrderedDict[str, MirrorInfo] = OrderedDict()

    # -- admins ---------------------------------------------------------------------------

    async def create(
        self,
        workspace: WorkspaceInfo,
        *,
        segment: str,
        top_k: int | None,
        closes_at: datetime | None,
        name: str | None,
        actor: str,
    ) -> MirrorInfo:
        attributes = await self._store.list_attributes(workspace.id)
        k = workspace.top_k if top_k is None else top_k
        _check_new(segment, k, len(attributes), closes_at, self._clock(), name)
        return await self._store.create_mirror(
            workspace.id,
            name=name or f"{segment} customers",
            segment=segment,
            top_k=k,
            closes_at=closes_at,
            actor=actor,
        )

    async def links(self, workspace: WorkspaceInfo, mirror_id: int, count: int) -> list[str]:
        """``count`` new one-time invitation links; their tokens exist nowhere else."""
        if not 1 <= count <= MAX_LINKS:
            raise MirrorError(f"count must be between 1 and {MAX_LINKS}")
        await self._open_mirror(workspace, mirror_id)
        tokens = [new_token() for _ in range(count)]
        hashes = [token_hash(token) for token in tokens]
        await self._store.add_mirror_links(mirror_id, hashes, reusable=False, at=self._clock())
        return [self.link_url(token) for token in tokens]

    async def open_link(self, workspace: WorkspaceInfo, mirror_id: int) -> str:
        """A reusable link for a website or newsletter (the web adapter rate-limits it)."""
        await self._open_mirror(workspace, mirror_id)
        token = new_token()
        await self._store.add_mirror_links(
            mirror_id, [token_hash(token)], reusable=True, at=self._clock()
        )
        return self.link_url(token)

    def link_url(self, token: str) -> str:
        return f"{self._public_url}/m/{token}"

    async def close(
        self, workspace: WorkspaceInfo, mirror_id: int, *, actor: str
    ) -> tuple[MirrorInfo, StudyInfo | None]:
        """Close a study and publish it when it has enough responses."""
        await self._store.close_mirror(workspace.id, mirror_id, at=self._clock(), actor=actor)
        mirror = await self._store.get_mirror(workspace.id, mirror_id)
        if mirror.study_id is not None or mirror.responses < self._min_group_size:
            return mirror, None
        return mirror, await self.publish(workspace, mirror_id, actor=actor)

    async def close_due(self, now: datetime) -> int:
        """Close every study whose closing date has passed, publishing those with enough
        responses (the scheduler's leader calls this on each tick); returns how many."""
        closed = 0
        for mirror in await self._store.mirrors_past_closing(now):
            workspace = await self._store.workspace_by_id(mirror.workspace_id)
            try:
                await self.close(workspace, mirror.id, actor="closing date")
            except (MirrorError, DuplicateStudyError):
                # Published a moment ago by an admin's own `mirror close`: nothing to add.
                log.info("mirror survey %s was closed and published by someone else", mirror.id)
            closed += 1
        return closed

    async def publish(self, workspace: WorkspaceInfo, mirror_id: int, *, actor: str) -> StudyInfo:
        """Close the study (if open) and save it as a top-3-count research study."""
        mirror = await self._store.get_mirror(workspace.id, mirror_id)
        if mirror.study_id is not None:
            raise MirrorError(f"mirror survey {mirror_id} is already published")
        if mirror.responses < self._min_group_size:
            raise MirrorError(
                f"mirror survey {mirror_id} has too few responses to publish "
                f"(at least {self._min_group_size} are needed)"
            )
        now = self._clock()
        await self._store.close_mirror(workspace.id, mirror_id, at=now, actor=actor)
        every = await self._store.list_attributes(workspace.id, include_retired=True)
        rankings = await self._store.mirror_rankings(mirror_id)
        study = mirror_research(mirror, rankings, every, conducted=now)
        saved = await self._store.save_studies(workspace.id, [study], actor=actor)
        await self._store.publish_mirror(workspace.id, mirror_id, saved[0].id, actor=actor)
        return saved[0]

    async def _open_mirror(self, workspace: WorkspaceInfo, mirror_id: int) -> MirrorInfo:
        mirror = await self._store.get_mirror(workspace.id, mirror_id)
        if not mirror.accepts_answers(self._clock()):
            raise MirrorError(f"mirror survey {mirror_id} is closed; it takes no more answers")
        return mirror

    # -- customers ------------------------------------------------------------------------

    async def mirror_form(self, token: str) -> MirrorOutcome:
        link = await self._store.mirror_link(token_hash(token))
        if link is None:
            return MirrorOutcome(MirrorPage.UNKNOWN_LINK)
        if link.used:
            return MirrorOutcome(MirrorPage.ALREADY_ANSWERED)
        if not link.mirror.accepts_answers(self._clock()):
            return MirrorOutcome(MirrorPage.CLOSED)
        form = await self._form(link.mirror)
        if not link.reusable:
            self._remember(token_hash(token), link.mirror)
        return MirrorOutcome(MirrorPage.FORM, form, reusable=link.reusable)

    def _remember(self, hashed: str, mirror: MirrorInfo) -> None:
        self._shown[hashed] = mirror
        self._shown.move_to_end(hashed)
        while len(self._shown) > SHOWN_FORMS:
            self._shown.popitem(last=False)

    async def mirror_submit(
        self, token: str, ranking: tuple[str, ...], *, admit_open: Admission = lambda: True
    ) -> MirrorOutcome:
        """Store one ranking of attribute ids (as the form sent them) or say why not."""
        quick = await self._submit_shown(token, ranking)
        if quick is not None:
            return quick
        shown = await self.mirror_form(token)
        if shown.form is None:
            return shown
        problem = _form_problem(shown.form, ranking)
        if problem is not None:
            return replace(shown, problem=problem)
        if shown.reusable and not admit_open():
            return MirrorOutcome(MirrorPage.TOO_MANY, reusable=True)
        return await self._record(token_hash(token), ranking)

    async def _submit_shown(self, token: str, ranking: tuple[str, ...]) -> MirrorOutcome | None:
        """The usual answer, a valid ranking through a one-time link whose form this process
        just served, in one write: the write itself checks in the database that the link is
        unspent and its study open, and says which if not. None: take the long way (an
        unknown link, or a ranking with a problem, whose page depends on the link's state)."""
        hashed = token_hash(token)
        mirror = self._shown.get(hashed)
        if mirror is None or _form_problem(await self._form(mirror), ranking) is not None:
            return None
        return await self._record(hashed, ranking)

    async def _record(self, hashed: str, ranking: tuple[str, ...]) -> MirrorOutcome:
        ids = [int(value) for value in ranking]
        write = await self._store.record_mirror_response(hashed, ids, at=self._clock())
        return MirrorOutcome(WRITES_TO_PAGES[write])

    async def _form(self, mirror: MirrorInfo) -> MirrorForm:
        workspace_id = mirror.workspace_id
        attributes = await self._attributes.get(
            workspace_id, lambda: self._store.list_attributes(workspace_id)
        )
        return MirrorForm(title=mirror.name, top_k=mirror.top_k, attributes=tuple(attributes))


def _form_problem(form: MirrorForm, ranking: Sequence[str]) -> str | None:
    return ranking_problem(ranking, {str(a.id) for a in form.attributes}, form.top_k)


def ranking_problem(ranking: Sequence[str], valid: set[str], k: int) -> str | None:
    """Why a customer's picks cannot be stored, in words for them (None if fine)."""
    if any(value not in valid for value in ranking if value):
        return "One of the choices is not on the list; please choose again."
    if len(ranking) != min(k, len(valid)) or not all(ranking):
        return f"Please choose exactly {k} different attributes, one for each place."
    if len(set(ranking)) != len(ranking):
        return "Each attribute can be chosen only once; please choose different ones."
    return None


def mirror_research(
    mirror: MirrorInfo,
    rankings: Sequence[Sequence[int]],
    attributes: Sequence[AttributeInfo],
    *,
    conducted: datetime,
) -> ResearchStudy:
    """The responses as a top-3-count study: per attribute, how many customers put it in their
    top k, with the number of customers asked as its sample size."""
    names = {attribute.id: attribute.name for attribute in attributes}
    counts = Counter(names[value] for ranking in rankings for value in ranking[: mirror.top_k])
    listed = [a.name for a in attributes if a.active or a.name in counts]
    return ResearchStudy(
        source=f"mirror survey #{mirror.id}: {mirror.name}"[:180],
        form=ResearchForm.TOP3,
        rows=tuple(ResearchRow(name, top3_count=counts.get(name, 0)) for name in listed),
        conducted_on=conducted.date(),
        segment=mirror.segment or None,
        sample_size=len(rankings),
    )


def customer_agreement(
    study: StudyInfo, rankings: Sequence[Sequence[int]], attributes: Sequence[AttributeInfo]
) -> CustomerAgreement:
    """Kendall's W (tie-corrected) over the attributes of the study the answers became."""
    from bot.analytics.agreement import kendall_w  # numpy on first use
    from bot.analytics.ranks import rank_matrix

    names = {attribute.id: attribute.name for attribute in attributes}
    answers = [tuple(names[value] for value in ranking) for ranking in rankings]
    matrix = rank_matrix(study.to_study().attributes, answers)
    concordance = kendall_w(matrix.ranks)
    return CustomerAgreement(study.segment, len(answers), concordance.w, concordance.p_value)


def _check_new(
    segment: str,
    k: int,
    attribute_count: int,
    closes_at: datetime | None,
    now: datetime,
    name: str | None,
) -> None:
    if not segment or len(segment) > MAX_SEGMENT:
        raise MirrorError(f"segment: give a name of 1 to {MAX_SEGMENT} characters")
    if not 1 <= k <= min(10, attribute_count):
        raise MirrorError(f"k must be between 1 and {min(10, attribute_count)}")
    if closes_at is not None and closes_at <= now:
        raise MirrorError("closes: the closing date must be in the future")
    if name is not None and not 1 <= len(name) <= MAX_NAME:
        raise MirrorError(f"name: at most {MAX_NAME} characters")
