"""The `mirror …` commands: admins run a mirror survey of customers from chat."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.commands.parser import Command
from bot.model.events import CommandResult
from bot.model.mirror import MirrorInfo
from bot.rounds.mirror import MirrorError

if TYPE_CHECKING:  # handlers.py imports this module to register the handlers
    from bot.commands.handlers import CommandContext

MAX_CHAT_LINKS = 200  # a chat message has a size limit; the CLI writes any number to a CSV


async def mirror_create(context: CommandContext, command: Command) -> CommandResult:
    closes, k = command.option("closes"), command.option("k")
    mirror = await context.core.mirror.create(
        context.workspace,
        segment=command.option("segment") or "",
        top_k=_number(k, "k") if k else None,
        closes_at=closing_instant(closes, context.workspace.time_zone) if closes else None,
        name=command.option("name"),
        actor=context.actor,
    )
    return CommandResult(
        f"Mirror survey #{mirror.id} ({mirror.name}) is open: customers of segment "
        f"'{mirror.segment}' rank their top {mirror.top_k}. Get invitation links with "
        f"'/alignment mirror links {mirror.id} count:50'."
    )


async def mirror_list(context: CommandContext, _command: Command) -> CommandResult:
    mirrors = await context.core.store.list_mirrors(context.ws)
    if not mirrors:
        return CommandResult("No mirror survey yet: start one with '/alignment mirror create'.")
    now = context.core.clock()
    return CommandResult("\n".join(describe(mirror, now) for mirror in mirrors))


async def mirror_close(context: CommandContext, command: Command) -> CommandResult:
    mirror_id = _number(command.args[0], "mirror survey id")
    mirror, study = await context.core.mirror.close(
        context.workspace, mirror_id, actor=context.actor
    )
    if study is not None:
        return CommandResult(
            f"Mirror survey #{mirror_id} is closed with {mirror.responses} responses and is "
            f"now research: {study.label}."
        )
    if mirror.study_id is not None:
        return CommandResult(f"Mirror survey #{mirror_id} is closed and already published.")
    minimum = context.core.settings.min_group_size
    return CommandResult(
        f"Mirror survey #{mirror_id} is closed. It has too few responses to become research "
        f"(at least {minimum} are needed), so nothing was published."
    )


async def mirror_publish(context: CommandContext, command: Command) -> CommandResult:
    mirror_id = _number(command.args[0], "mirror survey id")
    study = await context.core.mirror.publish(context.workspace, mirror_id, actor=context.actor)
    return CommandResult(
        f"Mirror survey #{mirror_id} is closed and is now research: {study.label}."
    )


async def mirror_links(context: CommandContext, command: Command) -> CommandResult:
    mirror_id = _number(command.args[0], "mirror survey id")
    count = _number(command.option("count") or "", "count")
    if count > MAX_CHAT_LINKS:
        raise MirrorError(
            f"at most {MAX_CHAT_LINKS} links in chat; for more use "
            f"'alignment mirror links {mirror_id} --count {count} --out links.csv'"
        )
    links = await context.core.mirror.links(context.workspace, mirror_id, count)
    return CommandResult(
        f"{count} one-time invitation link{'s' if count != 1 else ''} for mirror survey "
        f"#{mirror_id} (each accepts one answer; they are shown only now):\n" + "\n".join(links)
    )


async def mirror_open(context: CommandContext, command: Command) -> CommandResult:
    mirror_id = _number(command.args[0], "mirror survey id")
    link = await context.core.mirror.open_link(context.workspace, mirror_id)
    return CommandResult(
        f"Open link for mirror survey #{mirror_id} (anyone with it can answer, a few times per "
        f"address and hour; it is shown only now):\n{link}"
    )


def describe(mirror: MirrorInfo, now: datetime) -> str:
    state = "open" if mirror.accepts_answers(now) else "closed"
    parts = [
        f"#{mirror.id} {mirror.name}: segment '{mirror.segment}', top {mirror.top_k}, {state}",
        f"{mirror.responses} response{'s' if mirror.responses != 1 else ''}",
    ]
    if mirror.closes_at is not None and state == "open":
        parts.append(f"closes {mirror.closes_at:%Y-%m-%d %H:%M} UTC")
    if mirror.study_id is not None:
        parts.append(f"published as research study {mirror.study_id}")
    return "• " + ", ".join(parts)


def closing_instant(text: str, time_zone: str) -> datetime:
    """`closes:2026-12-31` takes answers all of that day in the workspace's zone."""
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise MirrorError(f"closes: '{text}' is not a date such as 2026-12-31") from exc
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(time_zone))


def _number(raw: str, what: str) -> int:
    try:
        return int(raw.lstrip("#"))
    except ValueError as exc:
        raise MirrorError(f"{what} must be a whole number (got '{raw}')") from exc


MIRROR_HANDLERS: dict[str, Callable[[CommandContext, Command], Awaitable[CommandResult]]] = {
    "mirror create": mirror_create,
    "mirror list": mirror_list,
    "mirror close": mirror_close,
    "mirror publish": mirror_publish,
    "mirror links": mirror_links,
    "mirror open": mirror_open,
}
