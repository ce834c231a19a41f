"""Shared fixtures. The database under test comes from ALIGNMENT_TEST_DATABASE:
"sqlite" (the default) or a PostgreSQL URL such as postgresql+asyncpg://postgres@127.0.0.1/test.
With PostgreSQL every test gets a database of its own, created and dropped around it."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from hypothesis import settings

TEST_DATABASE = os.environ.get("ALIGNMENT_TEST_DATABASE", "sqlite")

# CI ("ci", set by scripts/test.sh) replays the same examples on every run, so a red build is
# reproducible; a plain `pytest` ("dev") keeps exploring new ones. Either prints the failing blob.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def _pg_dsn(url: str, database: str | None = None) -> str:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    if database is None:
        return dsn
    return dsn.rsplit("/", 1)[0] + f"/{database}"


@pytest.fixture(autouse=True)
def _no_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A developer's .env must not leak into tests: run each test from an empty directory.
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if (
            name.startswith(("SLACK_", "MICROSOFT", "ALIGNMENT_"))
            and name != "ALIGNMENT_TEST_DATABASE"
        ):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    if TEST_DATABASE == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(_pg_dsn(TEST_DATABASE))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield TEST_DATABASE.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin = await asyncpg.connect(_pg_dsn(TEST_DATABASE))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
