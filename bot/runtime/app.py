"""The composition root: the only module that knows every concrete part and wires them."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from adapters.console.port import ConsolePort
from adapters.web import WebAdapter
from adapters.web.dashboard import DashboardSite
from bot.model.ports import ChatAdapter
from bot.model.settings import CoreSettings
from bot.rounds.scheduler import LeaderLock, Scheduler
from bot.runtime.core import AlignmentCore, Clock, utc_now
from bot.runtime.server import create_web_app
from storage.database import create_engine, upgrade, upgrade_in_child
from storage.leader import leader_lock_for
from storage.sql_store import SqlStore

log = logging.getLogger(__name__)


@dataclass
class App:
    core: AlignmentCore
    store: SqlStore
    scheduler: Scheduler
    site: WebAdapter  # the customers' web form (mirror surveys)
    board: DashboardSite  # the managers' dashboard
    adapters: list[ChatAdapter] = field(default_factory=list)

    def web_app(self) -> web.Application:
        return create_web_app(
            health=self.store.ping,
            adapters=self.adapters,
            # The pid tells workers behind one port apart (``serve --workers``).
            details=lambda: {"scheduler": self.scheduler.role, "pid": os.getpid()},
            routes=[self.site.add_routes, self.board.add_routes],
        )

    async def start(self) -> None:
        """Background work of a running server: adapters, outbox delivery, the scheduler."""
        for adapter in self.adapters:
            await adapter.start()
        await self.site.start()
        self.core.start_outbox()
        await self.scheduler.start()

    async def close(self) -> None:
        await self.scheduler.stop()
        for adapter in self.adapters:
            await adapter.stop()
        await self.core.stop_outbox()
        await self.core.idle()
        await self.store.close()


async def build_app(
    settings: CoreSettings,
    *,
    clock: Clock = utc_now,
    chart_dir: Path | None = None,
    with_chat_adapters: bool = True,
    migrate_in_child: bool = False,
) -> App:
    """Open the database (migrating it), build the core and every configured adapter.

    ``migrate_in_child``: for ``serve``, whose process lives on; a migration then runs in a
    short-lived child, so the server never holds Alembic (``storage.database``)."""
    engine = create_engine(settings.database_url)
    if migrate_in_child:
        await upgrade_in_child(engine, settings.database_url)
    else:
        await upgrade(engine)
    store = SqlStore(engine, clock=clock)
    core = AlignmentCore(store=store, settings=settings, clock=clock)
    core.register_port(ConsolePort(records=store, chart_dir=chart_dir))
    site = WebAdapter(api=core.mirror, records=store)
    core.dashboard.use_secret(site.secret_key)  # links signed under the web channel's secret
    app = App(
        core=core,
        store=store,
        scheduler=_scheduler(core, settings, leader_lock_for(engine)),
        site=site,
        board=DashboardSite(api=core.dashboard),
    )
    if with_chat_adapters:
        app.adapters.extend(_chat_adapters(core, store))
        for adapter in app.adapters:
            core.register_port(adapter.port)
    return app


def _scheduler(core: AlignmentCore, settings: CoreSettings, lock: LeaderLock) -> Scheduler:
    grace = settings.missed_run_grace_hours
    scheduler = Scheduler(
        core=core,
        lock=lock,
        tick_seconds=settings.scheduler_tick_seconds,
        missed_run_grace=timedelta(hours=grace) if grace else None,
    )
    core.schedules_changed = scheduler.changed
    return scheduler


def _chat_adapters(core: AlignmentCore, store: SqlStore) -> list[ChatAdapter]:
    # Imported here so a deployment without Slack or Teams never loads their SDKs.
    from adapters.slack import SlackAdapter, SlackSettings
    from adapters.teams import TeamsAdapter, TeamsSettings

    adapters: list[ChatAdapter] = []
    slack = SlackSettings()
    if slack.configured:
        adapters.append(SlackAdapter(settings=slack, core=core, records=store))
        log.info("Slack adapter on")
    teams = TeamsSettings()
    if teams.configured:
        adapters.append(TeamsAdapter(settings=teams, core=core, records=store))
        log.info("Teams adapter on")
    return adapters
