"""A missing schema folder skips the schema tests with a reason (a fresh clone passes), and
ALIGNMENT_REQUIRE_SCHEMAS turns that into a failure (CI never skips them silently)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.official_schemas import ROOT

SCHEMA_TEST = "tests/slack/test_manifest.py::test_manifest_matches_official_schema"


def run_schema_test(schemas_dir: Path, *, required: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALIGNMENT_")}
    env["ALIGNMENT_SCHEMAS_DIR"] = str(schemas_dir)
    if required:
        env["ALIGNMENT_REQUIRE_SCHEMAS"] = "1"
    command = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", SCHEMA_TEST]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_missing_schemas_skip_with_how_to_get_them(tmp_path: Path) -> None:
    result = run_schema_test(tmp_path / "nowhere", required=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert "ALIGNMENT_SCHEMAS_DIR" in result.stdout
    assert "../shared/schemas" in result.stdout


def test_missing_schemas_fail_when_required(tmp_path: Path) -> None:
    result = run_schema_test(tmp_path / "nowhere", required=True)
    assert result.returncode != 0
    assert "1 failed" in result.stdout
    assert "ALIGNMENT_REQUIRE_SCHEMAS" in result.stdout


def test_a_relative_folder_is_read_from_the_project_root(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    # A permissive schema: this checks where the file is looked for, not what it says.
    (schemas / "slack-app-manifest.schema.json").write_text("{}")
    result = run_schema_test(Path(os.path.relpath(schemas, ROOT)), required=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
