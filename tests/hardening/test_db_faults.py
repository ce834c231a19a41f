"""The database goes away in the middle of a round (PostgreSQL only).

A private PostgreSQL cluster is started for the test (initdb + pg_ctl into a temporary
directory, a free port, trust authentication; the machine's own server is not touched). The
real core runs on it with a round open; the cluster is killed (``pg_ctl stop -m immediate``)
while answers keep arriving, then started again. No answer may be lost silently: every
submission either returned an accepted outcome and is in the database, or raised / was refused
(and then a retry with the same event id after the restart stores it exactly once). A poll
submitted through the Slack adapter during the outage gets a visible error in the modal.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.console.port import LOCAL_WORKSPACE, ConsolePort
from adapters.console.session import ConsoleSession
from adapters.slack import SlackAdapter, render
from adapters.slack.parse import PollMeta
from bot.model.domain import UserRef
from bot.model.events import AnswerStatus, AnswerSubmitted
from bot.model.settings import CoreSettings
from bot.runtime.app import App, build_app
from tests.conftest import TEST_DATABASE
from tests.core.conftest import Clock
from tests.fakes.slack_api import FakeSlackApi
from tests.slack import payloads
from tests.slack.conftest import Server, serve, settings_for

pytestmark = pytest.mark.skipif(
    TEST_DATABASE == "sqlite",
    reason="database faults are tested against a private PostgreSQL cluster; "
    "SQLite is an in-process file with no server to lose",
)

ADMIN = "boss"
PEOPLE = [f"p{i}" for i in range(12)]
ACCEPTED = {AnswerStatus.RECORDED, AnswerStatus.REPLACED, AnswerStatus.DUPLICATE}


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    bin: Path
    root: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 30) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def init(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.root / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "--no-instructions",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=50"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.root / "data"),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            "20",
            "start",
        )

    def kill(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    pg_bin = _pg_bin()
    if pg_bin is None:
        pytest.skip("no PostgreSQL server binaries in /usr/lib/postgresql/*/bin")
    root = Path(tempfile.mkdtemp(prefix="alignment-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = Cluster(pg_bin, root, _free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def app(cluster: Cluster, tmp_path: Path) -> AsyncIterator[App]:
    clock = Clock()
    clock.now = datetime.now(UTC)  # the Slack adapter's timestamps are real ones
    settings = CoreSettings(database_url=cluster.url, admins=(ADMIN, "UADA"))
    built = await build_app(settings, clock=clock, chart_dir=tmp_path, with_chat_adapters=False)
    try:
        yield built
    finally:
        await built.close()


async def _submit(
    app: App, person: str, round_id: int, ranking: tuple[str, ...], event_id: str
) -> AnswerStatus | Exception:
    event = AnswerSubmitted(
        event_id=event_id,
        user=UserRef(LOCAL_WORKSPACE, person, person),
        round_id=round_id,
        ranking=ranking,
    )
    try:
        outcome = await asyncio.wait_for(app.core.submit_answer(event), timeout=15)
    except Exception as exc:  # what an adapter sees: it must turn this into a visible error
        return exc
    return outcome.status


async def _modal_ack(server: Server, submission: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST a signed view_submission; the status and the JSON ack Slack would act on."""
    body = payloads.interaction(submission)
    headers = payloads.signed_headers(body)
    async with server.session.post(server.url + "/slack/events", data=body, headers=headers) as r:
        text = await r.text()
        status = r.status
    ack = json.loads(text) if text.strip() else {}
    return status, ack if isinstance(ack, dict) else {"raw": ack}


async def test_answers_during_an_outage_are_stored_or_refused_never_lost(
    cluster: Cluster, app: App, fake_slack: FakeSlackApi
) -> None:
    core = app.core
    console = core.ports["console"]
    assert isinstance(console, ConsolePort)
    for person in [ADMIN, *PEOPLE]:
        await ConsoleSession(core=core, port=console, user_id=person).join()
    admin = ConsoleSession(core=core, port=console, user_id=ADMIN)
    opened = await admin.handle_line("/alignment poll now window:2h")
    assert "is open" in opened, opened
    await core.idle()
    workspace = await core.workspace(LOCAL_WORKSPACE)
    attributes = [str(a.id) for a in await core.store.list_attributes(workspace.id)]
    ranking = tuple(attributes[:3])

    results: dict[str, AnswerStatus | Exception] = {}
    events = {person: f"ev-{person}-{uuid.uuid4().hex[:6]}" for person in PEOPLE}
    outage = PEOPLE[3:8]
    # The Slack adapter on the same core, for what a person sees during the outage.
    adapter = SlackAdapter(settings=settings_for(fake_slack), core=core, records=app.store)
    async for server in serve(adapter, app.store):  # type: ignore[arg-type]
        for person in PEOPLE[:3]:  # before the outage
            results[person] = await _submit(app, person, 1, ranking, events[person])
            assert results[person] is AnswerStatus.RECORDED, results[person]

        cluster.kill()
        for person in outage:
            results[person] = await _submit(app, person, 1, ranking, events[person])
        submission = payloads.view_submission(
            callback_id=render.CALLBACK_POLL,
            values=payloads.picks(*ranking),
            private_metadata=PollMeta(1, 3, "DADA", "1700000001.000100").encode(),
            view_id="V0OUTAGE",
        )
        slack_status, slack_ack = await _modal_ack(server, submission)
        assert not await app.store.ping()

        cluster.start()
        for person in PEOPLE[8:]:  # after the restart the pool recovers by itself
            results[person] = await _submit(app, person, 1, ranking, events[person])
            assert results[person] is AnswerStatus.RECORDED, results[person]
        assert await app.store.ping()
        # Whoever saw an error tries again (same event id): stored exactly once.
        retried = {
            person: await _submit(app, person, 1, ranking, events[person]) for person in outage
        }

    stored = [a.user_id for a in await app.store.answers_for_round(1)]
    lost = [
        person
        for person, result in results.items()
        if isinstance(result, AnswerStatus) and result in ACCEPTED and person not in stored
    ]
    assert not lost, (lost, results)
    for person in outage:
        assert isinstance(results[person], Exception) or results[person] in ACCEPTED, results
        assert retried[person] in ACCEPTED, (person, retried[person])
    assert sorted(stored) == sorted(PEOPLE)  # each once: the retries did not double anything
    # During the outage the core raised rather than pretending: nothing was acknowledged
    # as stored, and the Slack adapter turned the exception into a visible error.
    assert all(isinstance(results[p], Exception) for p in outage), results
    assert slack_status == 200
    assert slack_ack.get("response_action") == "update", slack_ack
    assert "Something went wrong" in json.dumps(slack_ack), slack_ack
