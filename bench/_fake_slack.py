"""The repo's fake Slack Web API (tests/fakes/slack_api.py) in a process of its own.

Started by the benchmarks so the server's outbound calls (chat.update after every answer,
the poll DMs) are answered on 127.0.0.1 without sharing the server's or the load
generator's event loop. Writes ``{"api_url": …, "stats_url": …, "pid": …}`` to
``--ready-file`` once listening; ``GET stats_url`` gives the count of calls per method.
Stops on SIGTERM / SIGINT.

For bench/fanout.py:

* ``--post-rate R`` sets the fake's steady limit on chat.postMessage (``FakeSlackApi.post_rate``:
  more than R posts in any one-second window are answered 429 with Retry-After 1).
* ``--members N --channel C`` fills the workspace with N people who are all in channel C (plus
  the admin ``UADMIN``; ``tests/delivery/harness.populate``).
* ``GET /deliveries`` (next to ``/stats``) is cheap to poll: how many distinct poll keys
  arrived, how many poll posts in all, and the wall time the last new key arrived.
* ``GET /fanout`` is the full account: per poll key the number of deliveries (duplicates),
  the members whose DM got no poll (lost), the wall time of every first delivery, of every
  429 on chat.postMessage and of the first and last call of each method.
* ``GET /responses/{key}`` is what the server posted to a slash command's ``response_url``
  (``{api_url without /api/}/response/{key}``), each body with the wall time ``at`` it came.

Several workspaces (``bench/fanout.py --workspaces``): ``--team T:C:N`` (repeatable) adds a
workspace ``T`` with bot token ``xoxb-T`` (``auth.test`` answers its team id) and N people of
its own in channel C. ``--post-rate`` then limits each token on its own, as Slack limits each
app per workspace. ``--pause-team T --pause-after K --pause-seconds S``: once K polls reached
T, T's posts are answered 429 for S seconds (Retry-After: what is left of them). ``/fanout``
then also gives, per team, its first deliveries, 429s and lost members.

Times are ``time.time()`` wall-clock seconds, comparable with the benchmark's own clock.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import ROOT  # noqa: F401  (puts the repo root on sys.path for tests.fakes)
from aiohttp import web

from tests.fakes.slack_api import Call, FakeSlackApi

POLL_PREFIX = "poll:"


@dataclass
class RecordingSlackApi(FakeSlackApi):
    """FakeSlackApi that also notes when things happened and which poll keys arrived."""

    first_at: dict[str, float] = field(default_factory=dict)  # method -> first call (any answer)
    last_at: dict[str, float] = field(default_factory=dict)
    throttled_at: list[float] = field(default_factory=list)  # chat.postMessage answered 429
    poll_first: dict[str, float] = field(default_factory=dict)  # key -> first delivery
    poll_count: collections.Counter[str] = field(default_factory=collections.Counter)
    poll_posts: int = 0
    responded_at: dict[str, list[float]] = field(default_factory=dict)  # response_url key
    team_of_token: dict[str, str] = field(default_factory=dict)  # several workspaces' mode
    team_channel: dict[str, str] = field(default_factory=dict)
    team_posts: dict[str, list[float]] = field(default_factory=dict)  # token -> post times
    team_first: dict[str, list[float]] = field(default_factory=dict)  # team -> first deliveries
    team_throttled: dict[str, list[float]] = field(default_factory=dict)
    pause_team: str | None = None
    pause_after: int = 0
    pause_seconds: float = 0.0
    paused_from: float | None = None

    async def _api(self, request: web.Request) -> web.Response:
        now = time.time()
        method = request.match_info["method"]
        self.first_at.setdefault(method, now)
        self.last_at[method] = now
        team = self.team_of_token.get(
            request.headers.get("Authorization", "").removeprefix("Bearer ").strip(), ""
        )
        if method == "chat.postMessage" and team:
            wait = self._team_refuses(team, now)
            if wait is not None:
                self.throttled_at.append(now)
                self.team_throttled.setdefault(team, []).append(now)
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )
        response = await super()._api(request)
        if method == "chat.postMessage" and response.status == 429:
            self.throttled_at.append(now)
        return response

    def _over_rate(self) -> bool:
        # With several workspaces each token has its own limit (``_team_refuses``); the base
        # class's one window over every post would cap all workspaces together at one limit.
        return False if self.team_of_token else super()._over_rate()

    def _team_refuses(self, team: str, now: float) -> float | None:
        """Seconds to wait when one workspace's post is over its own limit (or in its pause)."""
        if self.paused_from is not None and team == self.pause_team:
            left = self.paused_from + self.pause_seconds - now
            if left > 0:
                return left
        if self.post_rate is None:
            return None
        recent = [t for t in self.team_posts.get(team, []) if now - t < 1.0]
        self.team_posts[team] = recent
        if len(recent) >= self.post_rate:
            return 1.0
        recent.append(now)
        return None

    def _m_auth_test(self, call: Call) -> dict[str, Any]:
        answer = super()._m_auth_test(call)
        team = self.team_of_token.get(call.token)
        return {**answer, "team_id": team} if team else answer

    async def _response(self, request: web.Request) -> web.Response:
        self.responded_at.setdefault(request.match_info["key"], []).append(time.time())
        return await super()._response(request)

    def _m_chat_postMessage(self, call: Call) -> dict[str, Any]:
        answer = super()._m_chat_postMessage(call)
        metadata = answer["message"].get("metadata") or {}
        key = str((metadata.get("event_payload") or {}).get("key", ""))
        if key.startswith(POLL_PREFIX):
            self.poll_posts += 1
            self.poll_count[key] += 1
            if key not in self.poll_first:
                self.poll_first[key] = time.time()
                self._team_delivered(self.team_of_token.get(call.token), self.poll_first[key])
        return answer

    def _team_delivered(self, team: str | None, at: float) -> None:
        if team is None:
            return
        firsts = self.team_first.setdefault(team, [])
        firsts.append(at)
        if team == self.pause_team and len(firsts) == self.pause_after:
            self.paused_from = at

    def lost(self, channel: str) -> list[str]:
        """Members of ``channel`` whose DM (D + id, as conversations.open answers) has no poll."""
        missing = []
        for person in self.channel_members.get(channel, []):
            dm = "D" + person.removeprefix("U")
            if not any(_key(m).startswith(POLL_PREFIX) for m in self.history.get(dm, [])):
                missing.append(person)
        return missing


def _key(message: dict[str, Any]) -> str:
    return str(((message.get("metadata") or {}).get("event_payload") or {}).get("key", ""))


def add_team(fake: RecordingSlackApi, number: int, spec: str) -> None:
    """Workspace TEAM:CHANNEL:MEMBERS: token xoxb-TEAM, people U<number><n> in CHANNEL."""
    team, channel, members = spec.split(":")
    token = f"xoxb-{team}"
    fake.tokens.add(token)
    fake.team_of_token[token] = team
    fake.team_channel[team] = channel
    people = [f"U{number}{n:06d}" for n in range(int(members))]
    for person in people:
        fake.add_user(person, name=f"Person {person}")
    # A real channel (conversations.info knows it), as `teams add … channel:ID` now checks.
    fake.add_channel(channel, f"all-{team.lower()}", members=people)


async def serve(args: argparse.Namespace) -> None:
    from tests.delivery.harness import populate

    fake = await RecordingSlackApi(page_size=200, post_rate=args.post_rate).start()
    for user in args.admin:
        fake.add_user(user, name=user.lower(), is_admin=True)
    if args.members:
        populate(fake, args.channel, args.members)
    for number, spec in enumerate(args.team, start=1):
        add_team(fake, number, spec)
    fake.pause_team, fake.pause_after = args.pause_team, args.pause_after
    fake.pause_seconds = args.pause_seconds

    async def stats(_request: web.Request) -> web.Response:
        counts = collections.Counter(call.method for call in fake.calls)
        refused = collections.Counter(call.method for call in fake.refused)
        return web.json_response({"calls": dict(counts), "refused": dict(refused)})

    async def deliveries(_request: web.Request) -> web.Response:
        last = max(fake.poll_first.values(), default=None)
        return web.json_response(
            {
                "distinct": len(fake.poll_first),
                "posts": fake.poll_posts,
                "throttled": len(fake.throttled_at),
                "last_new_at": last,
            }
        )

    async def fanout(_request: web.Request) -> web.Response:
        twice = {k: n for k, n in fake.poll_count.items() if n > 1}
        lost = fake.lost(args.channel) if args.members else []
        return web.json_response(
            {
                "distinct": len(fake.poll_first),
                "posts": fake.poll_posts,
                "duplicate_keys": len(twice),
                "duplicate_posts": sum(n - 1 for n in twice.values()),
                "duplicate_examples": sorted(twice)[:5],
                "lost": len(lost),
                "lost_examples": lost[:5],
                "first_delivery_at": sorted(fake.poll_first.values()),
                "throttled_at": fake.throttled_at,
                "first_at": fake.first_at,
                "last_at": fake.last_at,
                "calls": dict(collections.Counter(call.method for call in fake.calls)),
            }
        )

    async def teams(_request: web.Request) -> web.Response:
        lost = {team: len(fake.lost(channel)) for team, channel in fake.team_channel.items()}
        return web.json_response(
            {
                team: {
                    "first_delivery_at": sorted(fake.team_first.get(team, [])),
                    "throttled_at": fake.team_throttled.get(team, []),
                    "lost": lost[team],
                }
                for team in fake.team_channel
            }
            | {"paused_from": fake.paused_from}
        )

    async def responses(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        bodies = fake.responses.get(key, [])
        return web.json_response(
            [
                {"at": at, **body}
                for at, body in zip(fake.responded_at.get(key, []), bodies, strict=False)
            ]
        )

    app = web.Application()
    app.router.add_get("/stats", stats)
    app.router.add_get("/deliveries", deliveries)
    app.router.add_get("/fanout", fanout)
    app.router.add_get("/teams", teams)
    app.router.add_get("/responses/{key}", responses)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    stats_port = runner.addresses[0][1]
    ready = {
        "api_url": fake.api_url,
        "stats_url": f"http://127.0.0.1:{stats_port}/stats",
        "pid": os.getpid(),
    }
    partial = args.ready_file.with_suffix(".tmp")
    partial.write_text(json.dumps(ready))
    partial.replace(args.ready_file)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="fake Slack Web API for the benchmarks")
    parser.add_argument("--ready-file", type=Path, required=True)
    parser.add_argument("--admin", action="append", default=[], help="a workspace admin user id")
    parser.add_argument(
        "--post-rate", type=float, default=None, help="chat.postMessage limit per second (429)"
    )
    parser.add_argument("--members", type=int, default=0, help="people in --channel")
    parser.add_argument("--channel", default="C0ALL", help="the channel --members are in")
    parser.add_argument(
        "--team", action="append", default=[], help="TEAM:CHANNEL:MEMBERS, a workspace of its own"
    )
    parser.add_argument("--pause-team", default=None, help="the team whose posts pause")
    parser.add_argument("--pause-after", type=int, default=0, help="polls before the pause")
    parser.add_argument("--pause-seconds", type=float, default=0.0, help="the pause's length")
    args = parser.parse_args()
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
