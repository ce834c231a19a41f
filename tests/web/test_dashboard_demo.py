"""`alignment demo` prints a dashboard link that works while a real `alignment serve` runs on
the demo database (as the README shows)."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from typer.testing import CliRunner

from bot.runtime.cli import cli

LINK = re.compile(r"(http://\S+/dashboard/open\?token=\S+)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(log.read_text()[-3000:])


async def _visit(link: str, base: str) -> str:
    """What a browser does with the link: open it (the cookie is set), then the overview."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        async with client.get(link) as opened:
            assert opened.status == 200, await opened.text()
        async with client.get(base + "/dashboard") as page:
            text = await page.text()
            assert page.status == 200, text
            return text


def test_the_demo_prints_a_link_that_works_with_serve(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    found = LINK.search(result.output)
    assert found is not None, result.output
    assert "alignment serve" in result.output
    port = _free_port()
    # The link names the default address (127.0.0.1:3000); this test's server has its own port.
    link = urlsplit(found.group(1))._replace(netloc=f"127.0.0.1:{port}").geturl()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "ALIGNMENT_"))}
    env |= {"DATABASE_URL": f"sqlite+aiosqlite:///{out / 'demo.db'}", "ALIGNMENT_PORT": str(port)}
    log = tmp_path / "serve.log"
    with log.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.runtime.cli", "serve"],
            cwd=tmp_path,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        _healthy(base, process, log)
        text = asyncio.run(_visit(link, base))
        assert "Round 2" in text
        assert '-respondents">42<' in text  # everyone answered round 2
    finally:
        process.terminate()
        process.wait(timeout=10)
    token = urlsplit(link).query.removeprefix("token=")
    assert token not in log.read_text()  # serve's own log never holds the token
