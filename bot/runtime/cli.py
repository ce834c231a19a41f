"""The `alignment` command line."""

from __future__ import annotations

import asyncio
import csv
import gc
import json
import logging
import os
import shlex
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

from bot.model.domain import UserRef, WorkspaceRef
from bot.model.events import CommandInvoked
from bot.reports.render_text import render_report_text

if TYPE_CHECKING:
    # The app pulls in the database layer, Alembic and the web server: `--help` and the
    # commands that do not open a database must not pay for that (see bench/startup.py).
    from adapters.console.session import ConsoleSession
    from bot.model.settings import CoreSettings
    from bot.runtime.app import App

T = TypeVar("T")
_log = logging.getLogger("bot.chat")

cli = typer.Typer(
    help="alignment-bot: how well does your organisation know what its customers value?",
    no_args_is_help=True,
    add_completion=False,
)
db_cli = typer.Typer(help="Database maintenance.", no_args_is_help=True)
attributes_cli = typer.Typer(help="The attributes people rank.", no_args_is_help=True)
research_cli = typer.Typer(help="Customer research.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(attributes_cli, name="attributes")
cli.add_typer(research_cli, name="research")
mirror_cli = typer.Typer(help="Mirror surveys of customers.", no_args_is_help=True)
cli.add_typer(mirror_cli, name="mirror")

out = Console(soft_wrap=True)
err = Console(stderr=True)

REPO_EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WorkspaceOption = Annotated[
    str, typer.Option("--workspace", help="PLATFORM:ID of the workspace, e.g. slack:T0123")
]


def main() -> None:
    cli()


async def build_app(settings: CoreSettings, **options: Any) -> App:
    from bot.runtime.app import build_app as build

    return await build(settings, **options)


def _settings(**overrides: object) -> CoreSettings:
    from bot.model.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    return settings.model_copy(update=overrides) if overrides else settings


def _run(work: Callable[[], Awaitable[T]]) -> T:
    from bot.model.settings import SettingsError

    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except SettingsError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


def _workspace(text: str) -> WorkspaceRef:
    platform, _, external = text.partition(":")
    if not platform or not external:
        err.print(f"[red]--workspace must look like PLATFORM:ID (got '{text}')[/red]")
        raise typer.Exit(2)
    return WorkspaceRef(platform, external)


async def _as_operator(app: App, workspace: WorkspaceRef, text: str) -> tuple[bool, str]:
    """Run a chat command as the machine's operator: an admin, with the same validation."""
    result = await app.core.handle_command(
        CommandInvoked(
            event_id=f"cli-{uuid.uuid4()}",
            user=UserRef(workspace, "cli-operator", "command line"),
            text=text,
            user_is_platform_admin=True,
        )
    )
    return result.ok, result.text


def _operator_command(text: str, workspace: str) -> None:
    async def work() -> tuple[bool, str]:
        app = await build_app(_settings(), with_chat_adapters=False)
        try:
            return await _as_operator(app, _workspace(workspace), text)
        finally:
            await app.close()

    ok, message = _run(work)
    (out if ok else err).print(message, markup=False, highlight=False)
    if not ok:
        raise typer.Exit(1)


# -- the main job ---------------------------------------------------------------------------


@cli.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="where the report files go")] = Path(
        "alignment-demo"
    ),
    seed: Annotated[int, typer.Option(help="random seed of the simulated organisation")] = 7,
) -> None:
    """Simulate an organisation, run two rounds offline and print the report."""
    from bot.runtime.demo import ADMIN, DemoClock, dashboard_link, demo_start, run_demo

    out_dir.mkdir(parents=True, exist_ok=True)
    database = out_dir / "demo.db"
    for stale in out_dir.glob("demo.db*"):
        stale.unlink()
    settings = _settings(database_url=f"sqlite+aiosqlite:///{database}", admins=(ADMIN,))
    clock = DemoClock(demo_start())

    async def work() -> None:
        app = await build_app(settings, clock=clock, chart_dir=out_dir, with_chat_adapters=False)
        try:
            with _progress() as bar:
                tasks: dict[str, TaskID] = {}

                def tick(label: str, done: int, total: int) -> None:
                    task = tasks.setdefault(label, bar.add_task(label, total=total))
                    bar.update(task, completed=done)

                result = await run_demo(
                    app, clock, REPO_EXAMPLES, out_dir, seed=seed, progress=tick
                )
            link = await dashboard_link(app, clock)
        finally:
            await app.close()
        first = result.first.figures
        out.print(
            render_report_text(result.second, min_answers=settings.min_group_size), markup=False
        )
        if first is not None:
            out.print(f"(Round one scored {first.alignment_score}/100.)")
        out.print(
            f"\n{result.people} simulated people answered two rounds. Files: "
            f"{out_dir / 'report.md'}, {out_dir / 'report.json'}, {out_dir / 'chart.png'}"
        )
        minutes = settings.dashboard_link_minutes
        out.print(
            f"\nDashboard (for {minutes} minutes, while `DATABASE_URL=sqlite+aiosqlite:///"
            f"{database} alignment serve` runs):\n{link}",
            markup=False,
            soft_wrap=True,
        )

    _run(work)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
    )


CHAT_OUT = Path("alignment-out")
CHAT_LOG = CHAT_OUT / "chat.log"
ReadLine = Callable[[], Awaitable[str | None]]
Write = Callable[[str], None]


@cli.command()
def chat(
    as_: Annotated[str, typer.Option("--as", help="who you are in the local workspace")],
    channel: Annotated[str, typer.Option(help="the channel you are in")] = "general",
) -> None:
    """A terminal chat with the bot in the local console workspace."""
    from adapters.console.port import ConsolePort
    from adapters.console.session import CONSOLE_HELP, ConsoleSession

    settings = _settings()
    # The chat's log (and any fault's traceback) goes to a file, so the terminal shows the
    # conversation and, on a fault, one line with the request id to look up there.
    CHAT_OUT.mkdir(parents=True, exist_ok=True)
    with CHAT_LOG.open("a", encoding="utf-8") as log_file:
        _configure_logging(settings, stream=log_file)

        async def work() -> None:
            app = await build_app(settings, chart_dir=CHAT_OUT, with_chat_adapters=False)
            port = app.core.ports["console"]
            assert isinstance(port, ConsolePort)
            session = ConsoleSession(core=app.core, port=port, user_id=as_, channel=channel)
            try:
                out.print(f"Hello {as_}. {CONSOLE_HELP}", markup=False)
                await chat_loop(app, session, _read_terminal_line, _write_plain)
            finally:
                await app.close()

        _run(work)


async def chat_loop(app: App, session: ConsoleSession, read_line: ReadLine, write: Write) -> None:
    """Show the newest messages, then answer line after line until quit or end of input."""
    write(await _guarded(session.catch_up))
    while (line := await read_line()) is not None:
        if line.strip().lower() in ("quit", "exit"):
            return

        async def turn(line: str = line) -> str:
            answer = await session.handle_line(line)
            await app.core.idle()
            return answer

        write(await _guarded(turn))
        write(await _guarded(session.unread))


async def _guarded(work: Callable[[], Awaitable[str]]) -> str:
    """``work``'s text, or, when it fails inside the bot, one line with the request id under
    which the traceback was logged: a fault in one command must not end the person's chat."""
    from bot.runtime.logs import bind_request_id, reset_request_id

    request_id = bind_request_id()
    try:
        return await work()
    except Exception:
        _log.exception("the console chat hit an internal error (request id %s)", request_id)
        return (
            f"Something went wrong on our side (request id {request_id}, logged in {CHAT_LOG}); "
            "the chat goes on."
        )
    finally:
        reset_request_id()


async def _read_terminal_line() -> str | None:
    try:
        return await asyncio.to_thread(input, "> ")
    except EOFError:
        return None


def _write_plain(text: str) -> None:
    if text:
        out.print(text, markup=False, highlight=False)


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default ALIGNMENT_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="default ALIGNMENT_PORT or 3000")] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="server processes on the port; default ALIGNMENT_WORKERS or 1"),
    ] = None,
    reuse_port: Annotated[bool, typer.Option(hidden=True)] = False,
    parent_pid: Annotated[int | None, typer.Option(hidden=True)] = None,
) -> None:
    """Run the bot: one HTTP server for every configured chat platform."""
    from bot.runtime.supervisor import WorkersError, check_workers

    settings = _settings()
    _configure_logging(settings)
    host = host or settings.host
    port = port if port is not None else settings.port
    workers = workers if workers is not None else settings.workers
    try:
        check_workers(workers, settings.database_url, port)
    except WorkersError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    if workers > 1:
        raise typer.Exit(_run(lambda: _supervise(settings, host, port, workers)))
    _run(lambda: _serve(settings, host, port, reuse_port=reuse_port, parent_pid=parent_pid))


async def _serve(
    settings: CoreSettings, host: str, port: int, *, reuse_port: bool, parent_pid: int | None
) -> None:
    from bot.runtime.supervisor import watch_parent

    try:
        app = await build_app(settings, migrate_in_child=True)
    except ValueError as exc:  # adapters' settings errors are ValueErrors with one clear line
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    from aiohttp import web

    runner = web.AppRunner(app.web_app(), access_log=None)  # the middleware logs requests
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
    await site.start()
    await app.start()
    # Everything loaded so far (libraries, app, caches) lives as long as the process: keep it
    # out of the collector's full passes, which otherwise walk it all every few thousand
    # requests and stall every request in flight (the slowest acks of bench/ack.py).
    gc.collect()  # garbage from start-up must not be frozen with the rest
    gc.freeze()
    out.print(f"alignment-bot listening on http://{host}:{port} (pid {os.getpid()})")
    stop = _stop_on_signals()
    watcher = None if parent_pid is None else asyncio.ensure_future(watch_parent(parent_pid, stop))
    try:
        await stop.wait()
    finally:
        if watcher is not None:
            watcher.cancel()
        await runner.cleanup()
        await app.close()


async def _supervise(settings: CoreSettings, host: str, port: int, workers: int) -> int:
    from bot.runtime.supervisor import Supervisor, worker_argv, worker_env

    env = worker_env(os.environ, settings.send_rate, workers)
    out.print(f"alignment-bot: {workers} workers on http://{host}:{port}")
    return await Supervisor(worker_argv(host, port), env, workers).run(_stop_on_signals())


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


def _configure_logging(settings: CoreSettings, stream: TextIO | None = None) -> None:
    from adapters.slack import SlackSettings
    from adapters.teams import TeamsSettings
    from bot.runtime.logs import configure_logging

    try:
        slack, teams = SlackSettings(), TeamsSettings()
        configure_logging(
            settings.log_level,
            settings.log_json,
            secrets=[
                slack.SLACK_BOT_TOKEN,
                slack.SLACK_SIGNING_SECRET,
                slack.SLACK_APP_TOKEN,
                slack.SLACK_CLIENT_SECRET,
                teams.app_password,
            ],
            stream=stream,
        )
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


# -- reports and files ----------------------------------------------------------------------


@cli.command()
def report(
    out_dir: Annotated[
        Path, typer.Option("--out", help="folder for report.md, report.json, chart.png")
    ],
    workspace: WorkspaceOption = "console:local",
    round_id: Annotated[int | None, typer.Option("--round")] = None,
    team: Annotated[str | None, typer.Option()] = None,
    segment: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Write the report of the latest closed round (or --round) to a folder."""
    from bot.model.records import RoundState
    from bot.model.store import NotFoundError
    from bot.runtime.outputs import write_report_folder

    async def work() -> str:
        app = await build_app(_settings(), with_chat_adapters=False)
        try:
            info = await app.core.workspace(_workspace(workspace))
            if round_id is not None:
                chosen = await app.store.get_round(info.id, round_id)
            else:
                closed = await app.store.list_rounds(info.id, state=RoundState.CLOSED, limit=1)
                chosen = closed[0] if closed else None
            if chosen is None:
                raise typer.BadParameter("no such round (or no closed round yet)")
            try:
                view = await write_report_folder(
                    app.core.rounds,
                    info,
                    chosen,
                    out_dir,
                    min_group_size=app.core.settings.min_group_size,
                    team=team,
                    segment=segment,
                )
            except NotFoundError as exc:  # an unknown --team or --segment: same words as chat
                err.print(f"{exc}; nothing was written.", markup=False, highlight=False)
                raise typer.Exit(1) from exc
            return render_report_text(view, min_answers=app.core.settings.min_group_size)
        finally:
            await app.close()

    out.print(_run(work), markup=False)
    out.print(f"Written to {out_dir}/")


@cli.command()
def stats(
    responses: Annotated[Path, typer.Option(help="respondent,team,rank_1,… CSV")],
    research: Annotated[Path, typer.Option(help="customer research CSV or JSON")],
    segment: Annotated[str | None, typer.Option(help="one research segment")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    min_group_size: Annotated[int, typer.Option(help="smaller groups are suppressed")] = 5,
) -> None:
    """Every figure from two files, without a database."""
    from bot.analytics import Settings as AnalysisSettings
    from bot.model.research import ResearchImportError
    from bot.reports.responses_io import ResponsesImportError
    from bot.runtime.outputs import offline_stats

    try:
        analysis = offline_stats(
            responses.read_text("utf-8-sig"),
            research.read_text("utf-8-sig"),
            research_name=research.name,
            segment=segment,
            settings=AnalysisSettings(min_group_size=min_group_size),
        )
    except (ResearchImportError, ResponsesImportError, OSError) as exc:
        err.print(f"[red]{exc}[/red]", markup=True, highlight=False)
        raise typer.Exit(1) from exc
    payload = analysis.to_json_dict()
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    _print_stats(payload)


def _print_stats(payload: dict[str, Any]) -> None:
    if payload.get("suppressed"):
        out.print("Too few respondents to report.")
        return
    for key in ("respondents", "k", "consensus"):
        out.print(f"{key}: {payload.get(key)}", markup=False)
    out.print(f"kendall_w: {payload.get('kendall_w')}", markup=False)
    out.print(f"kendall_w_p: {payload.get('kendall_w_p')}", markup=False)
    out.print(f"kendall_w_permutation_p: {payload.get('kendall_w_permutation_p')}", markup=False)
    # Every segment, not only the headline: a two-segment file has two comparisons.
    for segment in payload.get("segments", []):
        _print_segment(segment)


def _print_segment(segment: dict[str, Any]) -> None:
    name = segment["customer_segment"] or "all customers"
    out.print(f"\nsegment: {name} ({segment['customer_source']})", markup=False)
    for key in ("customer_order", "top3_hits", "spearman", "kendall_tau", "rbo"):
        out.print(f"  {key}: {segment.get(key)}", markup=False)
    out.print(f"  alignment_score: {segment['alignment_score']}", markup=False)
    detail = segment.get("alignment_score_detail")
    if detail:
        out.print(
            f"  alignment_score_interval: {detail['ci_low']} to {detail['ci_high']} (95%)\n"
            f"  alignment_score_permutation_p: {detail['permutation_p']:.4g}\n"
            f"  alignment_score_chance_95th: {detail['null_95th_percentile']}",
            markup=False,
        )
    if not segment.get("share_test"):
        out.print("  surprises: no share test (the research gives no customer shares)")
        return
    out.print(f"  detectable_gap: {100 * segment['detectable_gap']:.0f} points", markup=False)
    for surprise in segment.get("surprises", []):
        out.print(f"  surprise: {surprise_text(surprise)}", markup=False)


def surprise_text(surprise: dict[str, Any]) -> str:
    """One surprise in words, e.g. ``blind spot: support — customers 62%, staff 18% …``."""
    kind = surprise["kind"].replace("_", " ")
    low, high = surprise["ci_low"], surprise["ci_high"]
    return (
        f"{kind}: {surprise['attribute']} — customers {surprise['customer_share']:.0%}, "
        f"staff {surprise['employee_share']:.0%}, gap {100 * surprise['gap']:+.0f} points "
        f"({surprise['ci_level']:.0%} interval {100 * low:+.0f} to {100 * high:+.0f}), "
        f"q = {surprise['q_value']:.3g}"
    )


@cli.command()
def export(
    out_file: Annotated[Path, typer.Option("--out", help="CSV file to write")],
    workspace: WorkspaceOption = "console:local",
) -> None:
    """Aggregates of every closed round as CSV (no individual answers)."""
    from bot.model.records import RoundState
    from bot.runtime.outputs import export_rows, rows_to_csv

    async def work() -> int:
        app = await build_app(_settings(), with_chat_adapters=False)
        try:
            info = await app.core.workspace(_workspace(workspace))
            closed = await app.store.list_rounds(info.id, state=RoundState.CLOSED, limit=10_000)
            rows = []
            with _progress() as bar:
                task = bar.add_task("rounds", total=len(closed))
                for round_info in reversed(closed):
                    rows.extend(
                        export_rows(round_info, await app.core.rounds.analysis(info, round_info))
                    )
                    bar.advance(task)
            out_file.write_text(rows_to_csv(rows), "utf-8")
            return len(rows)
        finally:
            await app.close()

    count = _run(work)
    out.print(f"Wrote {count} rows to {out_file}")


# -- administration -------------------------------------------------------------------------


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (also done automatically on start)."""
    from storage.database import upgrade_sync

    settings = _settings()
    upgrade_sync(settings.database_url)
    out.print("Database is up to date.")


@research_cli.command("import")
def research_import(
    file: Annotated[Path, typer.Argument(help="CSV or JSON file")],
    segment: Annotated[str | None, typer.Option(help="market segment")] = None,
    source: Annotated[str | None, typer.Option(help="where the research came from")] = None,
    workspace: WorkspaceOption = "console:local",
) -> None:
    """Import customer research (all rows or none)."""
    words = ["research", "import", str(file.resolve())]
    words += [f"segment:{segment}"] if segment else []
    words += [f"source:{source}"] if source else []
    _operator_command(shlex.join(words), workspace)


@research_cli.command("list")
def research_list(workspace: WorkspaceOption = "console:local") -> None:
    """Imported studies, newest first."""
    _operator_command("research list", workspace)


@mirror_cli.command("create")
def mirror_create(
    segment: Annotated[str, typer.Option(help="the customers' market segment")],
    k: Annotated[int | None, typer.Option(help="how many attributes customers rank")] = None,
    closes: Annotated[str | None, typer.Option(help="last day of answers, YYYY-MM-DD")] = None,
    name: Annotated[str | None, typer.Option(help="a name for the survey")] = None,
    workspace: WorkspaceOption = "console:local",
) -> None:
    """Start a mirror survey: customers rank the staff's attributes on a web form."""
    words = ["mirror", "create", f"segment:{segment}"]
    words += [f"k:{k}"] if k is not None else []
    words += [f"closes:{closes}"] if closes else []
    words += [f"name:{name}"] if name else []
    _operator_command(shlex.join(words), workspace)


@mirror_cli.command("list")
def mirror_list(workspace: WorkspaceOption = "console:local") -> None:
    """Mirror surveys and their response counts."""
    _operator_command("mirror list", workspace)


@mirror_cli.command("close")
def mirror_close(mirror_id: int, workspace: WorkspaceOption = "console:local") -> None:
    """Close a mirror survey; with enough responses it becomes research."""
    _operator_command(f"mirror close {mirror_id}", workspace)


@mirror_cli.command("publish")
def mirror_publish(mirror_id: int, workspace: WorkspaceOption = "console:local") -> None:
    """Close a mirror survey and make it research now."""
    _operator_command(f"mirror publish {mirror_id}", workspace)


@mirror_cli.command("links")
def mirror_links(
    mirror_id: int,
    count: Annotated[int, typer.Option(help="how many one-time links")],
    out_file: Annotated[Path, typer.Option("--out", help="CSV file for a mail merge")],
    workspace: WorkspaceOption = "console:local",
) -> None:
    """One-time invitation links as a CSV (one `link` column); they exist nowhere else."""

    async def work() -> list[str]:
        app = await build_app(_settings(), with_chat_adapters=False)
        try:
            ws = await app.core.workspace(_workspace(workspace))
            return await app.core.mirror.links(ws, mirror_id, count)
        finally:
            await app.close()

    from bot.model.store import NotFoundError
    from bot.rounds.mirror import MirrorError

    try:
        links = _run(work)
    except (MirrorError, NotFoundError) as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(1) from exc
    write_links_csv(out_file, links)
    out.print(f"Wrote {len(links)} links to {out_file}", markup=False, highlight=False)


def write_links_csv(path: Path, links: list[str]) -> None:
    # Readable by the owner only: every line is a working invitation.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["link"])
        writer.writerows([link] for link in links)


@attributes_cli.command("list")
def attributes_list(workspace: WorkspaceOption = "console:local") -> None:
    """The attributes people rank."""
    _operator_command("attributes list", workspace)


@attributes_cli.command("add")
def attributes_add(
    name: str,
    description: Annotated[str, typer.Argument()] = "",
    workspace: WorkspaceOption = "console:local",
) -> None:
    """Add an attribute."""
    _operator_command(shlex.join(["attributes", "add", name, description]), workspace)


@attributes_cli.command("remove")
def attributes_remove(name: str, workspace: WorkspaceOption = "console:local") -> None:
    """Retire an attribute (answers that name it are kept)."""
    _operator_command(shlex.join(["attributes", "remove", name]), workspace)


@attributes_cli.command("rename")
def attributes_rename(old: str, new: str, workspace: WorkspaceOption = "console:local") -> None:
    """Rename an attribute."""
    _operator_command(shlex.join(["attributes", "rename", old, new]), workspace)


@cli.command("teams-package")
def teams_package(
    out_file: Annotated[Path, typer.Option("--out", help="zip to write")] = Path("alignment.zip"),
    app_id: Annotated[str | None, typer.Option(help="bot app id (default MicrosoftAppId)")] = None,
    domain: Annotated[str, typer.Option(help="the bot's public host name")] = "example.com",
) -> None:
    """Build the Microsoft Teams app package to upload."""
    from adapters.teams import TeamsSettings, build_teams_package

    chosen = app_id or TeamsSettings().app_id
    if not chosen:
        err.print("[red]give --app-id or set MicrosoftAppId[/red]")
        raise typer.Exit(2)
    build_teams_package(out_file, app_id=chosen, domain=domain)
    out.print(f"Wrote {out_file}")


if __name__ == "__main__":
    main()
