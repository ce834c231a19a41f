"""What an idle server has imported (issue #18: idle RSS of `alignment serve` under 100 MiB).

The statistics (numpy, scipy), the chart (matplotlib), Alembic and the Teams SDK load on first
use, not at start-up: a server that has started, answered a health check and taken a poll
answer from Slack holds none of them. Nothing here measures memory or time;
bench/startup.py and bench/memory.py do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from adapters.teams import TeamsAdapter, TeamsSettings
from tests.slack import payloads

# The start-up `alignment serve` runs (bot.runtime.cli._serve), with Slack (HTTP mode) and
# Teams on, then one request to /healthz; prints the top-level modules it holds.
SERVE_AND_LIST_MODULES = """
import asyncio, json, os, sys
from datetime import UTC, datetime, timedelta
from aiohttp import ClientSession, web
from adapters.slack import render
from adapters.slack.parse import PollMeta
from bot.model.domain import WorkspaceRef
from bot.runtime.cli import _settings, build_app
from tests.fakes.slack_api import FakeSlackApi
from tests.slack import payloads

async def answer(app, base, session):
    # One poll answer, as Slack posts it, on a round opened through the store for one person.
    workspace = await app.core.workspace(WorkspaceRef("slack", payloads.TEAM))
    person = await app.store.ensure_person(workspace.id, "UADA")
    now = datetime.now(UTC)
    opened = await app.store.open_round(
        workspace.id, question="?", top_k=3, audience="everyone", opened_at=now,
        deadline=now + timedelta(days=1), opened_by="test", person_ids=[person.id],
    )
    ids = [str(a.id) for a in await app.store.list_attributes(workspace.id)][:3]
    body = payloads.interaction(payloads.view_submission(
        callback_id=render.CALLBACK_POLL, values=payloads.picks(*ids),
        private_metadata=PollMeta(opened.id, 3, "DADA", "1.0").encode(),
    ))
    headers = payloads.signed_headers(body)
    async with session.post(base + "/slack/events", data=body, headers=headers) as response:
        assert response.status == 200 and not await response.text(), response.status
    assert len(await app.store.answers_for_round(opened.id)) == 1

async def main():
    fake = await FakeSlackApi().start()
    os.environ["SLACK_API_URL"] = fake.api_url
    app = await build_app(_settings(), migrate_in_child=True)
    runner = web.AppRunner(app.web_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    await app.start()
    port = runner.addresses[0][1]
    async with ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200, response.status
        if os.environ.get("ANSWER_ONE"):
            await answer(app, f"http://127.0.0.1:{port}", session)
    await asyncio.sleep(0.3)  # the poll DM's edit goes out after 100 ms of quiet
    loaded = sorted({name.split(".")[0] for name in sys.modules})
    adapters = [type(adapter).__name__ for adapter in app.adapters]
    await runner.cleanup()
    await app.close()
    await fake.stop()
    print(json.dumps({"loaded": loaded, "adapters": adapters}))

asyncio.run(main())
"""

# A round of six answers, with customer research, closed through the core as the deadline
# would close it (its report frozen and queued); prints the thread that first imported each
# heavy module of the statistics and the chart.
CLOSE_AND_LIST_IMPORTING_THREADS = """
import asyncio, json, sys, threading
from datetime import UTC, datetime, timedelta

HEAVY = ("numpy", "scipy.stats", "matplotlib.figure")
importing_thread = {}

def hook(event, args):
    if event == "import" and args[0] in HEAVY and args[0] not in importing_thread:
        importing_thread[args[0]] = threading.current_thread().name

sys.addaudithook(hook)

from bot.model.domain import WorkspaceRef
from bot.model.settings import CoreSettings
from bot.runtime.app import build_app
from bot.runtime.cli import _as_operator

async def main():
    app = await build_app(CoreSettings(database_url=sys.argv[1]), with_chat_adapters=False)
    ref = WorkspaceRef("console", "local")
    workspace = await app.core.workspace(ref)
    ok, said = await _as_operator(app, ref, "research import " + sys.argv[2])
    assert ok, said
    people = [await app.store.ensure_person(workspace.id, f"U{n}") for n in range(6)]
    now = datetime.now(UTC)
    opened = await app.store.open_round(
        workspace.id, question="?", top_k=3, audience="everyone", opened_at=now,
        deadline=now + timedelta(days=1), opened_by="test", person_ids=[p.id for p in people],
    )
    ids = [a.id for a in await app.store.list_attributes(workspace.id)]
    for n in range(6):
        ranking = [ids[(n + i) % len(ids)] for i in range(3)]
        await app.store.record_answer(
            workspace.id, f"U{n}", opened.id, ranking, at=now, event_id=f"e{n}"
        )
    loaded_before = dict(importing_thread)
    round_info = await app.store.get_round(workspace.id, opened.id)
    closed = await app.core.rounds.close(workspace, round_info, actor="test")
    assert closed is not None and closed.report.chart_png is not None
    await app.close()
    print(json.dumps({"before": loaded_before, "importing_thread": importing_thread}))

asyncio.run(main())
"""

ROOT = Path(__file__).resolve().parents[1]
FIRST_USE_ONLY = {"numpy", "scipy", "matplotlib", "alembic", "mako", "botbuilder", "msrest"}


def _run_script(script: str, *argv: str, **env: str) -> Any:
    """Run ``script`` in a fresh interpreter with the repository importable; the JSON on its
    last line of output."""
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-c", script, *argv],
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _serve_modules(database_url: str, **env: str) -> dict[str, list[str]]:
    result: dict[str, list[str]] = _run_script(
        SERVE_AND_LIST_MODULES,
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=payloads.SECRET,
        TEAMS_ENABLED="true",
        **env,
    )
    return result


async def test_an_idle_server_holds_no_statistics_chart_migrations_or_teams_sdk(
    database_url: str,
) -> None:
    # A new database: the migration runs (in a child process) before the server starts.
    first = _serve_modules(database_url)
    assert first["adapters"] == ["SlackAdapter", "TeamsAdapter"]
    assert set(first["loaded"]) & FIRST_USE_ONLY == set()
    # The usual start, on a database already at head, likewise; and taking a poll answer
    # (the hot path of a burst) needs none of them either.
    again = _serve_modules(database_url, ANSWER_ONE="1")
    assert set(again["loaded"]) & FIRST_USE_ONLY == set()


def _close_and_list_importing_threads(database_url: str) -> dict[str, dict[str, str]]:
    seen: dict[str, dict[str, str]] = _run_script(
        CLOSE_AND_LIST_IMPORTING_THREADS,
        database_url,
        str(ROOT / "examples" / "research_top3.csv"),
    )
    return seen


async def test_a_report_loads_its_statistics_and_chart_off_the_event_loop(
    database_url: str,
) -> None:
    """Loading numpy and matplotlib on first use takes a second or more: done on the event
    loop, when a round closes, it would hold up every request in flight for as long. The
    figures and the chart are computed on a thread of their own, so that is where the first
    report imports them."""
    seen = _close_and_list_importing_threads(database_url)
    assert seen["before"] == {}  # nothing before the close had loaded them
    threads = seen["importing_thread"]
    assert {"numpy", "matplotlib.figure"} <= set(threads), threads
    assert "MainThread" not in threads.values(), threads


def test_the_analytics_package_loads_its_modules_on_first_use() -> None:
    script = (
        "import json, sys\n"
        "import bot.analytics as analytics\n"
        "from bot.analytics import Analysis, Settings\n"
        "before = 'numpy' in sys.modules\n"
        "analytics.kendall_w\n"
        "print(json.dumps([before, 'numpy' in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == [False, True]


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"MicrosoftAppType": "SingleTenant", "MicrosoftAppId": "a"}, "MicrosoftAppPassword"),
        (
            {
                "MicrosoftAppType": "SingleTenant",
                "MicrosoftAppId": "a",
                "MicrosoftAppPassword": "p",
            },
            "MicrosoftAppTenantId",
        ),
        ({"MicrosoftAppType": "UserAssignedMSI", "MicrosoftAppId": "a"}, "MicrosoftAppTenantId"),
    ],
)
def test_teams_settings_the_sdk_would_refuse_fail_at_start_up(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], missing: str
) -> None:
    # The SDK itself is imported on the first Teams call; what it would refuse when built is
    # still refused when the adapter is built, as a ValueError that `serve` prints in one line.
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=missing):
        TeamsAdapter(settings=TeamsSettings(), core=None, records=None)  # type: ignore[arg-type]
    from adapters.teams.sdk import BotBridge

    sdk_name = {"MicrosoftAppPassword": "APP_PASSWORD", "MicrosoftAppTenantId": "APP_TENANTID"}
    with pytest.raises(Exception, match=sdk_name[missing]):
        BotBridge(TeamsSettings())  # the SDK refuses the same settings
