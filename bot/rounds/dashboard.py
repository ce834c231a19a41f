"""The managers' dashboard: signed links, sessions re-checked on every request, and pages.

A link carries who it is for (workspace, person, user id) and when it expires, signed with
HMAC-SHA256 under a key derived from the web channel's shared secret; nothing is stored.
Opening it gives a session token of the same shape (another purpose, so neither can stand in
for the other). Every request checks the signature and time, that the person still exists
(``forget me`` deletes them) and that their role today is manager or admin.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.model.dashboard import (
    Check,
    Choice,
    CustomersPage,
    DashboardAccess,
    DashboardNotFound,
    Entry,
    HeatmapPage,
    OverviewPage,
    OverviewRow,
    RoundPage,
    StudyRow,
    Viewer,
)
from bot.model.domain import Role, UserRef, WorkspaceRef
from bot.model.mirror import CustomerAgreement
from bot.model.ports import DeliveryError
from bot.model.records import PersonInfo, RoundInfo, RoundState, StudyInfo, WorkspaceInfo
from bot.model.store import NotFoundError, Store
from bot.reports import dashboard as pages
from bot.reports.snapshot import Published
from bot.rounds.mirror import customer_agreement
from bot.rounds.service import RoundService

LINK, SESSION = "link", "session"
MAX_TOKEN = 600  # a real token is about 200 characters; anything longer is not ours
MAX_ROUNDS = 104  # two years of weekly rounds on the overview
CACHE_ROUNDS = 1024  # frozen snapshots kept decoded: they never change once stored
STALE_DAYS = 365
KEY_LABEL = b"alignment dashboard links v1"

SecretSource = Callable[[], Awaitable[bytes]]
RoleOf = Callable[[UserRef, bool], Awaitable[Role]]


@dataclass(frozen=True, slots=True)
class Claims:
    purpose: str
    platform: str
    workspace: str
    user_id: str
    person_id: int
    platform_admin: bool  # the role came from the platform (e.g. a Slack workspace admin)
    expires: int  # seconds since the epoch

    @property
    def user(self) -> UserRef:
        return UserRef(WorkspaceRef(self.platform, self.workspace), self.user_id)


class DashboardService:
    def __init__(
        self,
        *,
        store: Store,
        rounds: RoundService,
        clock: Callable[[], datetime],
        link_minutes: int,
        public_url: str,
        role_of: RoleOf,
    ) -> None:
        self._store = store
        self._rounds = rounds
        self._clock = clock
        self._lifetime = timedelta(minutes=link_minutes)
        self._public_url = public_url.rstrip("/")
        self._role_of = role_of
        self._secret: SecretSource | None = None
        self._labels: dict[int, dict[str, str]] = {}
        self._snapshots: OrderedDict[int, Published] = OrderedDict()

    def use_secret(self, source: SecretSource) -> None:
        """The web channel's shared secret (set by the composition root)."""
        self._secret = source

    # -- links and sessions ---------------------------------------------------------------

    async def link(
        self, workspace: WorkspaceInfo, person: PersonInfo, *, platform_admin: bool
    ) -> str:
        claims = self._claims(LINK, workspace.ref, person, platform_admin)
        # A query parameter, not a path: the access log records paths only, and any log
        # line holding "token=…" is redacted.
        return f"{self._public_url}/dashboard/open?token={await self._sign(claims)}"

    @property
    def lifetime(self) -> timedelta:
        return self._lifetime

    async def enter(self, token: str) -> Entry:
        claims, access = await self._verify(token, LINK)
        if claims is None:
            return Entry(access)
        if (await self._viewer(claims)) is None:
            return Entry(DashboardAccess.REVOKED)
        person = PersonInfo(claims.person_id, claims.user_id, "")
        session = self._claims(SESSION, claims.user.workspace, person, claims.platform_admin)
        return Entry(
            DashboardAccess.OK, await self._sign(session), int(self._lifetime.total_seconds())
        )

    async def check(self, session: str | None) -> Check:
        if not session:
            return Check(DashboardAccess.SIGNED_OUT)
        claims, access = await self._verify(session, SESSION)
        if claims is None:
            return Check(access)
        viewer = await self._viewer(claims)
        if viewer is None:
            return Check(DashboardAccess.REVOKED)
        return Check(DashboardAccess.OK, viewer)

    def _claims(
        self, purpose: str, ref: WorkspaceRef, person: PersonInfo, platform_admin: bool
    ) -> Claims:
        expires = int((self._clock() + self._lifetime).timestamp())
        return Claims(
            purpose,
            ref.platform,
            ref.external_id,
            person.user_id,
            person.id,
            platform_admin,
            expires,
        )

    async def _key(self) -> bytes:
        if self._secret is None:
            raise RuntimeError("the dashboard has no secret: the web channel is not wired")
        # A key of its own, so a CSRF token can never pass for a link, nor the reverse.
        return hmac.new(await self._secret(), KEY_LABEL, hashlib.sha256).digest()

    async def _sign(self, claims: Claims) -> str:
        payload = json.dumps(
            [
                claims.purpose,
                claims.platform,
                claims.workspace,
                claims.user_id,
                claims.person_id,
                claims.platform_admin,
                claims.expires,
            ],
            separators=(",", ":"),
        ).encode()
        body = _b64(payload)
        mac = hmac.new(await self._key(), body.encode(), hashlib.sha256).digest()
        return f"{body}.{_b64(mac)}"

    async def _verify(self, token: str, purpose: str) -> tuple[Claims | None, DashboardAccess]:
        body, dot, mac = token.partition(".")
        if not dot or len(token) > MAX_TOKEN:
            return None, DashboardAccess.INVALID
        wanted = hmac.new(await self._key(), body.encode(), hashlib.sha256).digest()
        # As bytes: compare_digest refuses str with non-ASCII characters (a hostile token).
        if not hmac.compare_digest(_b64(wanted).encode(), mac.encode()):
            return None, DashboardAccess.INVALID
        claims = _decode(body)
        if claims is None or claims.purpose != purpose:
            return None, DashboardAccess.INVALID
        if self._clock().timestamp() >= claims.expires:
            return None, DashboardAccess.EXPIRED
        return claims, DashboardAccess.OK

    async def _viewer(self, claims: Claims) -> Viewer | None:
        """The person behind the claims, if they still exist and may see the dashboard."""
        workspace = await self._store.get_workspace(claims.user.workspace)
        if workspace is None:
            return None
        person = await self._store.person_by_id(workspace.id, claims.person_id)
        if person is None or person.user_id != claims.user_id:
            return None  # forgotten (or an id reused by someone else)
        if not await self._allowed(claims):
            return None
        return Viewer(workspace, claims.user_id, claims.person_id)

    async def _allowed(self, claims: Claims) -> bool:
        if (await self._role_of(claims.user, False)).allows(Role.MANAGER):
            return True
        if not claims.platform_admin:
            return False
        # The role came from the platform (a Slack workspace admin): ask the platform again.
        port = self._rounds.port_for(claims.user.workspace)
        if port is None:
            return False
        try:
            profile = await port.lookup_user(claims.user)
        except DeliveryError:
            return False  # unknown standing grants nothing
        return profile.is_platform_admin

    # -- pages ----------------------------------------------------------------------------

    async def overview(self, viewer: Viewer, segment: str) -> OverviewPage:
        closed = await self._closed_rounds(viewer.workspace)
        rows: list[OverviewRow] = []
        for round_info in reversed(closed):
            shown = await self._published(viewer.workspace, round_info)
            labels = await self._study_labels(viewer.workspace, round_info)
            rows.append(pages.overview_row(round_info, shown, labels))
        segments: dict[str, str] = {}
        for row in rows:
            segments.update((s.segment, s.label) for s in row.scores)
        if segment and segment not in segments:
            raise DashboardNotFound("no round was compared with that customer segment")
        chosen = segment or next(iter(segments), "")
        choices = tuple(Choice(key, label) for key, label in segments.items())
        return OverviewPage(tuple(rows), choices, chosen)

    async def heatmap(self, viewer: Viewer, round_id: int | None, segment: str) -> HeatmapPage:
        round_info, closed = await self._chosen_round(viewer.workspace, round_id)
        shown = await self._published(viewer.workspace, round_info)
        segments = _segment_choices(shown)
        if segment and segment not in {c.value for c in segments}:
            raise DashboardNotFound("this round was not compared with that customer segment")
        labels = await self._study_labels(viewer.workspace, round_info)
        attributes, rows, note = pages.heatmap_rows(shown, segment)
        overall = shown.analysis.overall
        chosen = pages.pick_segment(overall, segment) if overall else None
        key = pages.segment_key(chosen.segment) if chosen else segment
        return HeatmapPage(
            round_id=round_info.id,
            round_label=round_info.label,
            rounds=_round_choices(closed),
            segment=key,
            segments=segments,
            study=labels.get(key, ""),
            attributes=attributes,
            rows=rows,
            note=note,
        )

    async def round_page(
        self, viewer: Viewer, round_id: int | None, segment: str, team: str
    ) -> RoundPage:
        round_info, closed = await self._chosen_round(viewer.workspace, round_id)
        shown = await self._published(viewer.workspace, round_info)
        segments = _segment_choices(shown)
        teams = tuple(Choice(name, name) for name in sorted(shown.analysis.teams))
        if segment and segment not in {c.value for c in segments}:
            raise DashboardNotFound("this round was not compared with that customer segment")
        if team and team not in {c.value for c in teams}:
            raise DashboardNotFound("no such team took part in this round")
        try:
            report = await self._rounds.report(
                viewer.workspace,
                round_info,
                team=team or None,
                segment=segment or None,
                with_chart=False,
            )
        except NotFoundError as exc:
            raise DashboardNotFound(str(exc)) from exc
        details = pages.surprise_details(shown, report, team or None, segment or None)
        return RoundPage(
            round_info.id, report, details, _round_choices(closed), segments, teams, segment, team
        )

    async def customers(self, viewer: Viewer) -> CustomersPage:
        workspace = viewer.workspace
        every = await self._store.list_attributes(workspace.id, include_retired=True)
        today = self._clock().date()
        rows = []
        for study in await self._store.list_studies(workspace.id):
            mirror = await self._store.mirror_of_study(workspace.id, study.id)
            agreement = None
            if mirror is not None:
                rankings = await self._store.mirror_rankings(mirror.id)
                agreement = customer_agreement(study, rankings, every)
            age = (today - (study.conducted_on or study.imported_at.date())).days
            rows.append(_study_row(study, age, mirror.name if mirror else None, agreement))
        return CustomersPage(tuple(rows))

    # -- reading --------------------------------------------------------------------------

    async def _closed_rounds(self, workspace: WorkspaceInfo) -> list[RoundInfo]:
        """Newest first."""
        return await self._store.list_rounds(
            workspace.id, state=RoundState.CLOSED, limit=MAX_ROUNDS
        )

    async def _chosen_round(
        self, workspace: WorkspaceInfo, round_id: int | None
    ) -> tuple[RoundInfo, list[RoundInfo]]:
        closed = await self._closed_rounds(workspace)
        if round_id is None:
            if not closed:
                raise DashboardNotFound("no round has closed yet")
            return closed[0], closed
        # Looked up within the viewer's workspace: another workspace's id is simply unknown.
        found = await self._store.get_round(workspace.id, round_id)
        if found is None or found.state is not RoundState.CLOSED:
            raise DashboardNotFound("there is no closed round with that number")
        return found, closed

    async def _published(self, workspace: WorkspaceInfo, round_info: RoundInfo) -> Published:
        cached = self._snapshots.get(round_info.id)
        if cached is not None:
            return cached
        shown = await self._rounds.published(workspace, round_info)
        self._snapshots[round_info.id] = shown
        if len(self._snapshots) > CACHE_ROUNDS:
            self._labels.pop(self._snapshots.popitem(last=False)[0], None)
        return shown

    async def _study_labels(
        self, workspace: WorkspaceInfo, round_info: RoundInfo
    ) -> dict[str, str]:
        """The studies a closed round was compared with: those imported before it closed.
        A later import is newer than the close, so they never change: kept with the snapshot."""
        cached = self._labels.get(round_info.id)
        if cached is None:
            studies = await self._rounds.studies_at(workspace, round_info.closed_at)
            cached = {key: f"#{s.id} {s.source}" for key, s in studies.items()}
            if round_info.id in self._snapshots:
                self._labels[round_info.id] = cached
        return cached


def _segment_choices(shown: Published) -> tuple[Choice, ...]:
    overall = shown.analysis.overall
    if overall is None:
        return ()
    keys = [pages.segment_key(s.segment) for s in overall.segments]
    return tuple(Choice(key, pages.segment_label(key)) for key in keys)


def _round_choices(closed: list[RoundInfo]) -> tuple[Choice, ...]:
    return tuple(Choice(str(r.id), r.label) for r in closed)


def _study_row(
    study: StudyInfo, age: int, mirror: str | None, agreement: CustomerAgreement | None
) -> StudyRow:
    return StudyRow(
        study_id=study.id,
        source=study.source,
        segment=study.segment,
        form=study.form.value,
        conducted_on=study.conducted_on,
        imported_at=study.imported_at,
        sample_size=study.sample_size,
        age_days=age,
        stale=age > STALE_DAYS,
        mirror=mirror,
        agreement=agreement,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(body: str) -> Claims | None:
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        fields = json.loads(raw)
        purpose, platform, workspace, user_id, person_id, admin, expires = fields
        return Claims(
            str(purpose),
            str(platform),
            str(workspace),
            str(user_id),
            int(person_id),
            bool(admin),
            int(expires),
        )
    except (binascii.Error, ValueError, TypeError):
        return None
