"""Starting on an up-to-date database skips Alembic; the quick head check agrees with Alembic."""

from __future__ import annotations

import subprocess
import sys

from alembic.script import ScriptDirectory

from storage.database import alembic_config, schema_head


def test_the_quick_head_is_alembics_head() -> None:
    # If this fails, a migration declares its revision in a form schema_head() cannot read:
    # write it as `revision: str = "…"` / `down_revision: str | None = "…"` like the others.
    assert schema_head() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_a_migrated_database_starts_without_loading_alembic(database_url: str) -> None:
    script = (
        "import asyncio, sys\n"
        "from storage.database import create_engine, upgrade\n"
        "async def main(url, check):\n"
        "    engine = create_engine(url)\n"
        "    await upgrade(engine)\n"
        "    await engine.dispose()\n"
        "    if check:\n"
        "        print('alembic' in sys.modules)\n"
        "asyncio.run(main(sys.argv[1], sys.argv[2] == 'check'))\n"
    )

    def run(mode: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", script, database_url, mode],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return done.stdout.strip()

    run("migrate")  # a fresh database: Alembic creates the schema
    assert run("check") == "False"
