"""Where the tests find the official Slack manifest, Teams manifest and Adaptive Card schemas.

They are not committed (they are Microsoft's and Slack's files) and no test may download them,
so they come from a folder beside the project: ``ALIGNMENT_SCHEMAS_DIR`` (a relative path is
taken from the project root), by default ``../shared/schemas``. Without that folder the tests
that need a schema are skipped with a reason that says how to get the files, so a fresh clone's
test command still passes; with ``ALIGNMENT_REQUIRE_SCHEMAS=1`` (CI sets it) they fail instead,
so CI can never skip them silently.

The environment is read once, at import: the autouse fixture in conftest.py removes every
ALIGNMENT_* variable while a test runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS_DIR = ROOT / os.environ.get("ALIGNMENT_SCHEMAS_DIR", "../shared/schemas")
REQUIRED = os.environ.get("ALIGNMENT_REQUIRE_SCHEMAS", "") not in ("", "0")

HOW_TO_GET_THEM = (
    "put the official schemas (slack-app-manifest.schema.json, teams-manifest-1.29.schema.json, "
    "adaptive-card-1.5.schema.json; see README, Tests) in ../shared/schemas beside the project, "
    "or point ALIGNMENT_SCHEMAS_DIR at their folder"
)


def schema_path(filename: str) -> Path:
    return SCHEMAS_DIR / filename


def is_available(filename: str) -> bool:
    return schema_path(filename).is_file()


def official_schema(filename: str) -> dict[str, Any]:
    """The schema's JSON; skips the calling test when it is missing (fails when required)."""
    path = schema_path(filename)
    if not path.is_file():
        message = f"official schema {path} not found: {HOW_TO_GET_THEM}"
        if REQUIRED:
            pytest.fail(f"{message} (ALIGNMENT_REQUIRE_SCHEMAS is set)", pytrace=False)
        pytest.skip(message)
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded
