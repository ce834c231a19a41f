"""Engine creation and migrations."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x414C49474E4D55  # any constant every replica shares


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: checking every connection out with a round trip cost more than half of
    # the CPU of a stored answer under a burst (bench/ack.py: 212 -> 390 answers/s without
    # it). A connection broken by a database restart fails its first statement instead;
    # SQLAlchemy then discards every pooled connection from before the failure, so one
    # request per process is refused (and told so) and the next ones reconnect
    # (tests/hardening/test_db_faults.py). Recycling keeps connections from outliving a
    # proxy's or firewall's idle timeout. At most 30 connections per process, opened only as
    # requests need them; once opened they stay open, since a pool closes its overflow
    # connections when they come back: under a burst of mirror form posts (bench/mirror.py,
    # 100 clients) reopening them cost 4 % of the server's CPU (and a new SSL negotiation
    # attempt and statement preparation each).
    return create_async_engine(url, pool_size=30, max_overflow=0, pool_recycle=1800)


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers run beside the one writer; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe to run on every start."""

    def run(connection: Connection) -> None:
        head = schema_head()
        if revision == "head" and head is not None and _current_revision(connection) == head:
            return  # the usual start: nothing to do, and Alembic (~11 MiB) stays unloaded
        from alembic import command

        command.upgrade(alembic_config(connection), revision)

    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas starting together would otherwise race to create the same tables;
            # the lock ends with this transaction.
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
            )
        await connection.run_sync(run)


async def upgrade_in_child(engine: AsyncEngine, url: str) -> None:
    """``upgrade`` for a long-lived server: Alembic (~11 MiB with Mako) never enters it.

    The usual start finds the schema at head without Alembic, as ``upgrade`` does. When there
    is something to migrate (a new database, a new release), a short-lived child process runs
    ``upgrade_sync`` (the PostgreSQL lock is taken there) and the server waits for it: that
    start pays a second interpreter's start-up once. An in-memory SQLite database lives only
    in this process, so it is migrated here.
    """

    def at_head(connection: Connection) -> bool:
        head = schema_head()
        return head is not None and _current_revision(connection) == head

    async with engine.connect() as connection:
        if await connection.run_sync(at_head):
            return
    if engine.url.get_backend_name() == "sqlite" and engine.url.database in (None, "", ":memory:"):
        await upgrade(engine)
        return
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import os; from storage.database import upgrade_sync; "
        "upgrade_sync(os.environ['ALIGNMENT_MIGRATE_URL'])",
        env={**os.environ, "ALIGNMENT_MIGRATE_URL": url},  # not in argv: it may hold a password
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await child.communicate()
    if child.returncode != 0:
        tail = output.decode(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError("database migration failed:\n" + "\n".join(tail))


def upgrade_sync(url: str) -> None:
    asyncio.run(_upgrade_and_dispose(url))


async def _upgrade_and_dispose(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


_REVISION = re.compile(r"^revision(?:: str)? = [\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision(?:: [^=]+)? = [\"']([^\"']+)[\"']", re.MULTILINE)


@cache
def schema_head() -> str | None:
    """The newest migration's revision, read from the migration files' own declarations.

    Alembic's script directory says the same (tests/storage check it), but loading it costs
    every server start its memory; this needs a glance at a few small files. None when the
    files cannot be read this way (several heads, say): then Alembic decides.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text()
        revisions.update(_REVISION.findall(source))
        parents.update(_DOWN_REVISION.findall(source))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None
