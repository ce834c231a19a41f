"""`alignment serve` migrates in a child process (issue #18): the server never holds Alembic."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import text

from storage.database import create_engine, schema_head, upgrade_in_child

SERVE_LIKE = (
    "import asyncio, sys\n"
    "from storage.database import create_engine, upgrade_in_child\n"
    "async def main(url):\n"
    "    engine = create_engine(url)\n"
    "    await upgrade_in_child(engine, url)\n"
    "    await engine.dispose()\n"
    "    print('alembic' in sys.modules)\n"
    "asyncio.run(main(sys.argv[1]))\n"
)


def test_a_new_database_is_migrated_by_a_child_and_the_process_holds_no_alembic(
    database_url: str,
) -> None:
    for _ in range(2):  # a new database, then one already at head
        done = subprocess.run(
            [sys.executable, "-c", SERVE_LIKE, database_url],
            capture_output=True,
            text=True,
            check=True,
            timeout=180,
        )
        assert done.stdout.strip() == "False"


async def test_the_schema_is_at_head_after_it(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade_in_child(engine, database_url)
        async with engine.connect() as connection:
            version = await connection.execute(text("SELECT version_num FROM alembic_version"))
            assert version.scalar_one() == schema_head()
    finally:
        await engine.dispose()


async def test_a_failed_migration_is_an_error_with_the_childs_last_lines() -> None:
    # The child reads the URL it is given; one it cannot reach fails there, and says so.
    engine = create_engine("sqlite+aiosqlite:///ok.db")
    try:
        with pytest.raises(RuntimeError, match="database migration failed"):
            await upgrade_in_child(engine, "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    finally:
        await engine.dispose()
