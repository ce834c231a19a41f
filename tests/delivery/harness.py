"""Real `alignment serve` processes against the local fake Slack, for crash and replica tests
(and bench/fanout.py). Everything binds to 127.0.0.1 and is killed on the way out."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.fakes.slack_api import FakeSlackApi
from tests.slack import payloads

ADMIN = "UADMIN"
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def populate(fake: FakeSlackApi, channel: str, members: int) -> list[str]:
    """A channel of ``members`` people (plus the admin) in the fake workspace."""
    fake.page_size = 500
    fake.add_user(ADMIN, name="Admin", is_admin=True)
    people = [f"U{n:06d}" for n in range(members)]
    for person in people:
        fake.add_user(person, name=f"Person {person}")
    fake.add_channel(channel, "all", members=people)
    return people


@dataclass
class ServeProcess:
    database_url: str
    slack_api_url: str
    log_path: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ALIGNMENT_"))},
            "DATABASE_URL": self.database_url,
            "ALIGNMENT_PORT": str(self.port),
            "ALIGNMENT_ADMINS": ADMIN,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": payloads.SECRET,
            "SLACK_API_URL": self.slack_api_url,
            "ALIGNMENT_OUTBOX_LEASE_SECONDS": "2",
            "ALIGNMENT_SCHEDULER_TICK_SECONDS": "1",
            **self.extra_env,
        }
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.runtime.cli", "serve", *self.args],
            cwd=self.log_path.parent,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    async def healthy(self, *, within: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"serve exited early:\n{self.log_path.read_text()[-3000:]}")
                try:
                    async with session.get(self.url + "/healthz") as response:
                        if response.status == 200:
                            body: dict[str, Any] = await response.json()
                            return body
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"serve never became healthy:\n{self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crashed machine."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    async def command(self, fake: FakeSlackApi, text: str, key: str) -> dict[str, Any]:
        """A signed /alignment slash command from the admin; returns the reply it got."""
        body = payloads.slash_command(
            response_url=fake.response_url(key), text=text, user=ADMIN, trigger_id=f"t-{key}"
        )
        async with aiohttp.ClientSession() as session:
            headers = payloads.signed_headers(body)
            async with session.post(self.url + "/slack/events", data=body, headers=headers) as r:
                assert r.status == 200, await r.text()
        (reply,) = await fake.wait_for_response(key, within=60)
        return reply


def poll_deliveries(fake: FakeSlackApi) -> Counter[str]:
    """How many poll messages each person's DM actually received, by outbox key."""
    received: Counter[str] = Counter()
    for messages in fake.history.values():
        for message in messages:
            key = ((message.get("metadata") or {}).get("event_payload") or {}).get("key", "")
            if key.startswith("poll:"):
                received[key] += 1
    return received


async def wait_until(predicate: Any, *, within: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return bool(predicate())
