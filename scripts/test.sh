#!/usr/bin/env bash
# The project's whole check: install, lint, types, architecture, then the suite on SQLite
# and on PostgreSQL. PostgreSQL is required: if it cannot be reached, this fails.
# The official schemas are read from ALIGNMENT_SCHEMAS_DIR (default ../shared/schemas); without
# them their tests are skipped, unless --require-schemas (or ALIGNMENT_REQUIRE_SCHEMAS=1, as
# .ci/run sets) makes a missing folder a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

for arg in "$@"; do
  case "$arg" in
    --require-schemas) export ALIGNMENT_REQUIRE_SCHEMAS=1 ;;
    *) echo "usage: bash scripts/test.sh [--require-schemas]" >&2; exit 2 ;;
  esac
done
schemas_dir=${ALIGNMENT_SCHEMAS_DIR:-../shared/schemas}
if [ ! -d "$schemas_dir" ]; then
  if [ "${ALIGNMENT_REQUIRE_SCHEMAS:-0}" != "0" ]; then
    echo "The official schemas are required but $schemas_dir does not exist (see README, Tests)." >&2
    exit 1
  fi
  echo "note: no $schemas_dir: the official-schema tests will be skipped (see README, Tests)."
fi

PYTHON=${PYTHON:-python3}
export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-ci}  # same fuzz examples every run
PG_URL=${ALIGNMENT_TEST_POSTGRES:-postgresql+asyncpg://postgres@127.0.0.1:5432/test}

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"

# The mirror survey's browser tests need a real Chromium and axe-core; install what is missing
# (Debian's packages, and axe-core from the npm registry into the gitignored .cache/axe). The
# tests fail rather than skip when BROWSER_TESTS_REQUIRED is set and either is missing.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo "sudo")
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
AXE_VERSION=4.10.3
if ! grep -qs "\"version\": \"$AXE_VERSION\"" .cache/axe/node_modules/axe-core/package.json; then
  mkdir -p .cache/axe
  npm install --silent --no-audit --no-fund --no-save --prefix .cache/axe "axe-core@$AXE_VERSION"
fi
export BROWSER_TESTS_REQUIRED=1

echo "== ruff";          .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== mypy --strict"; .venv/bin/mypy
echo "== import contracts"; .venv/bin/lint-imports --no-cache

echo "== tests on SQLite"
ALIGNMENT_TEST_DATABASE=sqlite .venv/bin/python -m pytest -q -p no:cacheprovider

echo "== tests on PostgreSQL ($PG_URL)"
pg_host=$(echo "$PG_URL" | sed -E 's#^[^@]*@([^:/]+).*#\1#')
if ! pg_isready -q -h "$pg_host" 2>/dev/null; then
  # The machine's own server may just be stopped; start it if this machine has one.
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 20); do pg_isready -q -h "$pg_host" && break; sleep 1; done
  fi
fi
if ! pg_isready -q -h "$pg_host" 2>/dev/null; then
  echo "PostgreSQL is not reachable at $pg_host: the suite must run on it too. Failing." >&2
  exit 1
fi
ALIGNMENT_TEST_DATABASE="$PG_URL" .venv/bin/python -m pytest -q -p no:cacheprovider
