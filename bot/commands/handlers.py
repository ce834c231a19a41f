"""What each `/alignment …` command does. Parsing and permissions are decided before a
handler runs, so a handler only does its one job."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bot.commands.context import CoreServices
from bot.commands.mirror import MIRROR_HANDLERS
from bot.commands.parser import COMMANDS, Command, help_text
from bot.model.defaults import MAX_ATTRIBUTES, MIN_ATTRIBUTES
from bot.model.domain import ConversationKind, Role
from bot.model.events import CommandEffect, CommandInvoked, CommandResult
from bot.model.records import (
    AttributeInfo,
    NewSchedule,
    PersonInfo,
    RoundInfo,
    RoundState,
    TeamInfo,
    WorkspaceInfo,
)
from bot.model.store import NotFoundError
from bot.reports.render_text import render_feedback_text, render_report_text
from bot.rounds.mirror import MirrorError
from bot.rounds.schedule_spec import (
    ScheduleSpecError,
    next_fire_times,
    parse_duration,
    parse_when,
    validate_timezone,
)
from bot.rounds.service import AudienceError, parse_audience

_ROLE_WORDS = {Role.ADMIN: "admins", Role.MANAGER: "managers or admins"}


@dataclass(frozen=True, slots=True)
class CommandContext:
    core: CoreServices
    event: CommandInvoked
    workspace: WorkspaceInfo
    person: PersonInfo
    role: Role

    @property
    def actor(self) -> str:
        return self.event.user.key

    @property
    def ws(self) -> int:
        return self.workspace.id


Handler = Callable[[CommandContext, Command], Awaitable[CommandResult]]


async def run_command(context: CommandContext, command: Command) -> CommandResult:
    spec = COMMANDS[command.name]
    if not context.role.allows(spec.role):
        return CommandResult(
            f"Only {_ROLE_WORDS[spec.role]} can use '/alignment {command.name}'; nothing was changed.",
            ok=False,
        )
    try:
        return await HANDLERS[command.name](context, command)
    except (NotFoundError, AudienceError, ScheduleSpecError, UsageError, MirrorError) as exc:
        return CommandResult(str(exc), ok=False)


class UsageError(ValueError):
    pass


def _fail(message: str) -> CommandResult:
    return CommandResult(message, ok=False)


# -- everyone ------------------------------------------------------------------------------


async def _help(context: CommandContext, _command: Command) -> CommandResult:
    return CommandResult(help_text(context.role))


async def _me(context: CommandContext, _command: Command) -> CommandResult:
    answers = await context.core.rounds.my_answers(context.workspace, context.person)
    if not answers:
        return CommandResult("You have not answered any poll yet.")
    return CommandResult("\n".join(render_feedback_text(answer) for answer in answers))


async def _forget_me(context: CommandContext, _command: Command) -> CommandResult:
    await context.core.store.forget_person(
        context.ws, context.person.id, actor="(forgotten person)"
    )
    context.core.forget_cached(context.event.user)
    return CommandResult(
        "Done: your answers and your identity are deleted. Reports already made keep only "
        "anonymous totals."
    )


# -- reports and polls ---------------------------------------------------------------------


async def _report(context: CommandContext, command: Command) -> CommandResult:
    round_info = await _round(context, command.option("round"), prefer=RoundState.CLOSED)
    team = await _team(context, command.option("team") or "") if command.option("team") else None
    segment = command.option("segment")
    if segment is not None:
        await _require_segment(context, round_info, segment)
    report = await context.core.rounds.report(
        context.workspace,
        round_info,
        team=team.name if team else None,
        segment=segment,
    )
    text = render_report_text(report, min_answers=context.core.settings.min_group_size)
    in_channel = _in_channel(context)
    return CommandResult(text, in_channel=in_channel, report=report)


async def _require_segment(context: CommandContext, round_info: RoundInfo, segment: str) -> None:
    studies = await context.core.rounds.studies_at(context.workspace, round_info.closed_at)
    if segment not in studies or not segment:
        known = ", ".join(sorted(s for s in studies if s)) or "none (the research has no segments)"
        raise NotFoundError(f"there is no research for segment '{segment}'. Segments: {known}")


def _in_channel(context: CommandContext) -> bool:
    conversation = context.event.conversation
    return conversation is not None and conversation.kind is ConversationKind.CHANNEL


async def _round(context: CommandContext, round_id: str | None, *, prefer: RoundState) -> RoundInfo:
    store = context.core.store
    if round_id is not None:
        found = await store.get_round(context.ws, _int(round_id, "round"))
        if found is None:
            raise NotFoundError(f"there is no round {round_id}")
        return found
    for state in (prefer, None):
        rounds = await store.list_rounds(context.ws, state=state, limit=1)
        if rounds:
            return rounds[0]
    raise NotFoundError("no round has run yet: start one with '/alignment poll now'")


async def _poll_now(context: CommandContext, command: Command) -> CommandResult:
    team = command.option("team")
    audience = f"team:{team}" if team else "everyone"
    window = _duration(command.option("window")) or context.core.settings.answer_window
    channel = context.event.conversation
    report_to = (
        [channel.conversation_id] if channel and channel.kind is ConversationKind.CHANNEL else []
    )
    opened = await context.core.rounds.open(
        context.workspace,
        audience=audience,
        window=window,
        actor=context.actor,
        report_channels=report_to,
    )
    assert opened is not None  # only scheduled rounds can collide
    await context.core.rounds.queue_polls(context.workspace, opened.round)
    return CommandResult(
        f"{opened.round.label} is open: the poll is on its way to {opened.invited} "
        f"{'person' if opened.invited == 1 else 'people'}; answers close "
        f"{opened.round.deadline:%Y-%m-%d %H:%M} UTC."
    )


async def _poll_status(context: CommandContext, _command: Command) -> CommandResult:
    store = context.core.store
    rounds = await store.list_rounds(context.ws, state=RoundState.OPEN)
    if not rounds:
        return CommandResult("No round is open.")
    lines = []
    for r in rounds:
        invited = await store.invitation_count(r.id)
        answered = len(await store.answers_for_round(r.id))
        lines.append(
            f"• {r.label}: {answered} of {invited} answered, closes {r.deadline:%Y-%m-%d %H:%M} UTC"
        )
    return CommandResult("\n".join(lines))


async def _poll_close(context: CommandContext, command: Command) -> CommandResult:
    round_info = await _round(context, command.option("round"), prefer=RoundState.OPEN)
    if round_info.state is RoundState.CLOSED:
        return _fail(f"{round_info.label} is already closed.")
    closed = await context.core.rounds.close(context.workspace, round_info)
    if closed is None:
        return _fail(f"{round_info.label} was closed a moment ago by someone else.")
    text = render_report_text(closed.report, min_answers=context.core.settings.min_group_size)
    return CommandResult(f"{round_info.label} is closed.\n\n{text}", report=closed.report)


# -- attributes ----------------------------------------------------------------------------


async def _attributes_list(context: CommandContext, _command: Command) -> CommandResult:
    attributes = await context.core.store.list_attributes(context.ws)
    lines = [f"• {a.name}" + (f" — {a.description}" if a.description else "") for a in attributes]
    return CommandResult(f"{len(attributes)} attributes:\n" + "\n".join(lines))


async def _attributes_add(context: CommandContext, command: Command) -> CommandResult:
    name = _attribute_name(command.args[0])
    description = command.args[1].strip() if len(command.args) > 1 else ""
    current = await context.core.store.list_attributes(context.ws)
    if _find(current, name) is not None:
        return _fail(f"'{name}' is already on the list.")
    if len(current) >= MAX_ATTRIBUTES:
        return _fail(f"There can be at most {MAX_ATTRIBUTES} attributes; remove one first.")
    await context.core.store.add_attribute(context.ws, name, description, actor=context.actor)
    return CommandResult(f"Added '{name}'.")


async def _attributes_remove(context: CommandContext, command: Command) -> CommandResult:
    current = await context.core.store.list_attributes(context.ws)
    attribute = _require(current, command.args[0])
    if len(current) <= MIN_ATTRIBUTES:
        return _fail(f"There must be at least {MIN_ATTRIBUTES} attributes; add one first.")
    await context.core.store.retire_attribute(context.ws, attribute.id, actor=context.actor)
    return CommandResult(f"Removed '{attribute.name}' (earlier answers that name it are kept).")


async def _attributes_rename(context: CommandContext, command: Command) -> CommandResult:
    current = await context.core.store.list_attributes(context.ws, include_retired=True)
    attribute = _require(current, command.args[0])
    new_name = _attribute_name(command.args[1])
    clash = _find(current, new_name)
    if clash is not None and clash.id != attribute.id:
        return _fail(f"'{new_name}' is already taken.")
    await context.core.store.rename_attribute(
        context.ws, attribute.id, new_name, actor=context.actor
    )
    return CommandResult(f"Renamed '{attribute.name}' to '{new_name}'.")


def _attribute_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not 1 <= len(name) <= 80:
        raise UsageError("an attribute name needs 1 to 80 characters")
    return name


def _find(attributes: list[AttributeInfo], name: str) -> AttributeInfo | None:
    return next((a for a in attributes if a.name.lower() == name.strip().lower()), None)


def _require(attributes: list[AttributeInfo], name: str) -> AttributeInfo:
    found = _find(attributes, name)
    if found is None:
        known = ", ".join(a.name for a in attributes if a.active)
        raise NotFoundError(f"there is no attribute '{name}'. Known: {known}")
    return found


# -- research ------------------------------------------------------------------------------


async def _research_import(context: CommandContext, command: Command) -> CommandResult:
    if not command.args:
        return CommandResult(
            "Paste or upload the research in the dialog.", effect=CommandEffect.OPEN_RESEARCH_IMPORT
        )
    if context.workspace.ref.platform != "console":
        # A chat user must never make the server read its own files.
        return _fail(
            "In chat, run '/alignment research import' alone and paste the file in the dialog."
        )
    path = Path(command.args[0]).expanduser()  # noqa: ASYNC240 (no I/O, only "~" expansion)
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return _fail(f"cannot read '{path}': {exc}")
    return await context.core.import_research(
        context.workspace,
        text,
        filename=path.name,
        segment=command.option("segment"),
        source=command.option("source"),
        actor=context.actor,
    )


async def _research_list(context: CommandContext, _command: Command) -> CommandResult:
    studies = await context.core.store.list_studies(context.ws)
    if not studies:
        return CommandResult("No research imported yet: use '/alignment research import'.")
    return CommandResult("\n".join(f"• {s.label}" for s in studies))


async def _research_show(context: CommandContext, command: Command) -> CommandResult:
    study = await context.core.store.get_study(context.ws, _int(command.args[0], "study id"))
    lines = [study.label + (f", {study.sample_size} customers" if study.sample_size else "")]
    for row in study.rows:
        value = (
            row.rank
            if row.rank is not None
            else row.importance
            if row.importance is not None
            else row.top3_count
        )
        lines.append(f"• {row.attribute}: {value}")
    return CommandResult("\n".join(lines))


# -- teams ---------------------------------------------------------------------------------


async def _teams_list(context: CommandContext, _command: Command) -> CommandResult:
    teams = await context.core.store.list_teams(context.ws)
    if not teams:
        return CommandResult("No teams yet: add one with '/alignment teams add NAME'.")
    return CommandResult(
        "\n".join(
            f"• {t.name}: {t.member_count} members"
            + (f" (from {t.linked_source})" if t.linked_source else "")
            for t in teams
        )
    )


async def _teams_add(context: CommandContext, command: Command) -> CommandResult:
    name = " ".join(command.args[0].split())
    if await _team(context, name, missing_ok=True) is not None:
        return _fail(f"A team called '{name}' already exists.")
    link = None
    if command.option("channel"):
        link = f"channel:{command.option('channel').lstrip('#')}"  # type: ignore[union-attr]
    elif command.option("usergroup"):
        link = f"usergroup:{command.option('usergroup')}"
    await context.core.store.add_team(context.ws, name, linked_source=link, actor=context.actor)
    return CommandResult(f"Added team '{name}'." + (f" Members come from {link}." if link else ""))


async def _teams_remove(context: CommandContext, command: Command) -> CommandResult:
    team = await _team(context, command.args[0])
    assert team is not None
    await context.core.store.remove_team(context.ws, team.id, actor=context.actor)
    return CommandResult(f"Removed team '{team.name}'.")


async def _teams_members(context: CommandContext, command: Command) -> CommandResult:
    team = await _team(context, command.args[0])
    assert team is not None
    add, remove = _member_changes(command.args[1:])
    if add or remove:
        add_ids = [(await _person(context, who)).id for who in add]
        remove_ids = [(await _person(context, who)).id for who in remove]
        await context.core.store.set_team_membership(
            context.ws, team.id, add=add_ids, remove=remove_ids, actor=context.actor
        )
    members = await context.core.store.team_members(team.id)
    names = ", ".join(p.display_name or p.user_id for p in members) or "nobody yet"
    return CommandResult(f"Team '{team.name}' ({len(members)}): {names}")


def _member_changes(words: tuple[str, ...]) -> tuple[list[str], list[str]]:
    add: list[str] = []
    remove: list[str] = []
    target: list[str] | None = None
    for word in words:
        if word.lower() in ("add", "remove"):
            target = add if word.lower() == "add" else remove
        elif target is None:
            raise UsageError(f"usage: /alignment {COMMANDS['teams members'].usage}")
        else:
            target.append(word)
    return add, remove


async def _team(context: CommandContext, name: str, *, missing_ok: bool = False) -> TeamInfo | None:
    teams = await context.core.store.list_teams(context.ws)
    found = next((t for t in teams if t.name.lower() == name.strip().lower()), None)
    if found is None and not missing_ok:
        known = ", ".join(t.name for t in teams) or "none yet"
        raise NotFoundError(f"there is no team '{name}'. Teams: {known}")
    return found


async def _person(context: CommandContext, who: str) -> PersonInfo:
    """A person by platform id (mentions arrive as ids) or, in the console, by name."""
    key = who.lstrip("@")
    people = await context.core.store.list_people(context.ws)
    for person in people:
        if (
            key in (person.user_id, person.display_name)
            or key.lower() == person.display_name.lower()
        ):
            return person
    if context.workspace.ref.platform == "console":
        return await context.core.store.ensure_person(context.ws, key, key)
    return await context.core.store.ensure_person(context.ws, key, "")


# -- schedules -----------------------------------------------------------------------------


async def _schedule_list(context: CommandContext, _command: Command) -> CommandResult:
    schedules = await context.core.store.list_schedules(context.ws)
    if not schedules:
        return CommandResult("No schedules yet: add one with '/alignment schedule add …'.")
    lines = []
    for s in schedules:
        spec = parse_when(s.when_expr)
        state = "paused" if s.paused else f"next {_next(s.when_expr, s.time_zone, context)}"
        lines.append(
            f"• #{s.id} {s.name}: {spec.describe()} ({s.time_zone}), {s.audience}, {state}"
        )
    return CommandResult("\n".join(lines))


def _next(when_expr: str, zone: str, context: CommandContext) -> str:
    times = next_fire_times(parse_when(when_expr), zone, after=context.core.clock(), count=1)
    return f"{times[0]:%Y-%m-%d %H:%M %Z}" if times else "never"


async def _schedule_add(context: CommandContext, command: Command) -> CommandResult:
    spec = parse_when(" ".join(command.args))
    zone = command.option("tz") or context.workspace.time_zone
    validate_timezone(zone)
    window = _duration(command.option("window")) or context.core.settings.answer_window
    remind = _duration(command.option("remind"))
    if remind is not None and remind >= window:
        raise UsageError(
            "the reminder must come before the deadline: make remind: shorter than window:"
        )
    audience = command.option("audience") or "everyone"
    parse_audience(audience)
    report = tuple(c.lstrip("#") for c in (command.option("report") or "").split(",") if c)
    name = command.option("name") or spec.describe()
    schedule = await context.core.store.add_schedule(
        context.ws,
        NewSchedule(
            name,
            spec.expression,
            zone,
            audience,
            int(window.total_seconds()),
            int(remind.total_seconds()) if remind else None,
            report,
        ),
        actor=context.actor,
    )
    context.core.schedules_changed()
    return CommandResult(
        f"Schedule #{schedule.id} added: {spec.describe()} ({zone}), answers open for "
        f"{_human(window)}. Next: {_next(spec.expression, zone, context)}."
    )


async def _schedule_pause(context: CommandContext, command: Command) -> CommandResult:
    return await _set_paused(context, command, paused=True)


async def _schedule_resume(context: CommandContext, command: Command) -> CommandResult:
    return await _set_paused(context, command, paused=False)


async def _set_paused(context: CommandContext, command: Command, *, paused: bool) -> CommandResult:
    schedule_id = _int(command.args[0].lstrip("#"), "schedule id")
    await context.core.store.set_schedule_paused(
        context.ws, schedule_id, paused, actor=context.actor
    )
    context.core.schedules_changed()
    return CommandResult(f"Schedule #{schedule_id} {'paused' if paused else 'resumed'}.")


async def _schedule_remove(context: CommandContext, command: Command) -> CommandResult:
    schedule_id = _int(command.args[0].lstrip("#"), "schedule id")
    await context.core.store.remove_schedule(context.ws, schedule_id, actor=context.actor)
    context.core.schedules_changed()
    return CommandResult(f"Schedule #{schedule_id} removed; rounds it already ran are kept.")


async def _schedule_next(context: CommandContext, command: Command) -> CommandResult:
    schedule_id = _int(command.args[0].lstrip("#"), "schedule id")
    found = next(
        (s for s in await context.core.store.list_schedules(context.ws) if s.id == schedule_id),
        None,
    )
    if found is None:
        raise NotFoundError(f"there is no schedule #{schedule_id}")
    times = next_fire_times(
        parse_when(found.when_expr), found.time_zone, after=context.core.clock(), count=5
    )
    return CommandResult("\n".join(f"• {t:%a %Y-%m-%d %H:%M %Z}" for t in times))


# -- roles and audit -----------------------------------------------------------------------


async def _admins_list(context: CommandContext, _command: Command) -> CommandResult:
    grants = await context.core.store.role_grants(context.ws)
    configured = [f"• {who}: admin (ALIGNMENT_ADMINS)" for who in context.core.settings.admins]
    granted = [f"• {g.principal}: {g.role.value}" for g in grants]
    return CommandResult("\n".join(configured + granted) or "No admins or managers yet.")


async def _admins_add(context: CommandContext, command: Command) -> CommandResult:
    role_word = (command.option("role") or "admin").lower()
    if role_word not in (Role.ADMIN.value, Role.MANAGER.value):
        raise UsageError("role: must be admin or manager")
    principal = await _principal(context, command.args[0])
    changed = await context.core.store.set_role(
        context.ws, principal, Role(role_word), actor=context.actor
    )
    return CommandResult(
        f"{principal} is now {role_word}." if changed else f"{principal} already is {role_word}."
    )


async def _admins_remove(context: CommandContext, command: Command) -> CommandResult:
    principal = await _principal(context, command.args[0])
    if principal == context.person.user_id:
        return _fail("You cannot remove your own role; ask another admin.")
    changed = await context.core.store.set_role(context.ws, principal, None, actor=context.actor)
    return CommandResult(
        f"{principal} has no role now." if changed else f"{principal} had no role."
    )


async def _principal(context: CommandContext, who: str) -> str:
    if who.startswith("usergroup:"):
        return who
    return (await _person(context, who)).user_id


async def _audit(context: CommandContext, _command: Command) -> CommandResult:
    entries = await context.core.store.audit_log(context.ws, limit=30)
    lines = [f"• {e.at:%Y-%m-%d %H:%M} {e.actor}: {e.action}" for e in entries]
    return CommandResult("\n".join(lines) or "No admin changes yet.")


# -- small parsers -------------------------------------------------------------------------


def _int(raw: str, what: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise UsageError(f"{what} must be a number, not '{raw}'") from exc


def _duration(raw: str | None) -> timedelta | None:
    return None if raw is None else parse_duration(raw)


def _human(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours >= 24 and hours % 24 == 0 else f"{hours:g} hours"


HANDLERS: dict[str, Handler] = {
    "help": _help,
    "me": _me,
    "forget me": _forget_me,
    "report": _report,
    "poll now": _poll_now,
    "poll status": _poll_status,
    "poll close": _poll_close,
    "attributes list": _attributes_list,
    "attributes add": _attributes_add,
    "attributes remove": _attributes_remove,
    "attributes rename": _attributes_rename,
    "research import": _research_import,
    "research list": _research_list,
    "research show": _research_show,
    "teams list": _teams_list,
    "teams add": _teams_add,
    "teams remove": _teams_remove,
    "teams members": _teams_members,
    "schedule list": _schedule_list,
    "schedule add": _schedule_add,
    "schedule pause": _schedule_pause,
    "schedule resume": _schedule_resume,
    "schedule remove": _schedule_remove,
    "schedule next": _schedule_next,
    "admins list": _admins_list,
    "admins add": _admins_add,
    "admins remove": _admins_remove,
    "audit": _audit,
    **MIRROR_HANDLERS,
}
