"""What each `/alignment …` command does. Parsing and permissions are decided before a
handler runs, so a handler only does its one job."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bot.commands.context import CoreServices
from bot.commands.mirror import MIRROR_HANDLERS
from bot.commands.parser import COMMANDS, Command, help_text, help_view
from bot.commands.references import ReferenceProblem, read_mention, resolve
from bot.model.defaults import MAX_ATTRIBUTES, MIN_ATTRIBUTES
from bot.model.domain import AudienceKind, ConversationKind, Role
from bot.model.events import CommandEffect, CommandInvoked, CommandResult
from bot.model.names import MAX_ID, InvalidName, clean_description, clean_name
from bot.model.ports import RefKind, Resolved
from bot.model.records import (
    AttributeInfo,
    NewSchedule,
    PersonInfo,
    RoundInfo,
    RoundState,
    TeamInfo,
    WorkspaceInfo,
)
from bot.model.store import DuplicateScheduleError, NameTakenError, NotFoundError
from bot.reports.disclosure import answered_text
from bot.reports.render_text import render_feedback_text, render_report_text
from bot.reports.research_io import not_text_message
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
            f"Only {_ROLE_WORDS[spec.role]} can use '/alignment {command.name}'; "
            f"nothing was changed. {await _how_to_get(context, spec.role)}",
            ok=False,
        )
    try:
        return await HANDLERS[command.name](context, command)
    except (
        NotFoundError,
        NameTakenError,
        AudienceError,
        ScheduleSpecError,
        UsageError,
        InvalidName,
        DuplicateScheduleError,
        ReferenceProblem,
        MirrorError,
    ) as exc:
        return CommandResult(str(exc), ok=False)


class UsageError(ValueError):
    pass


async def _how_to_get(context: CommandContext, role: Role) -> str:
    """How the person could get the role: from an admin, or, in a workspace with none yet
    (a fresh console or Teams install), from the bot's own ALIGNMENT_ADMINS setting."""
    you = context.event.user.user_id
    grants = await context.core.store.role_grants(context.ws)
    if context.core.settings.admins or any(g.role is Role.ADMIN for g in grants):
        manager = " role:manager" if role is Role.MANAGER else ""
        return f"An admin can grant it: '/alignment admins add {you}{manager}'."
    return (
        "This workspace has no admin yet: whoever runs the bot sets ALIGNMENT_ADMINS to the "
        f"first admins' user ids (e.g. ALIGNMENT_ADMINS={you}) and restarts it."
    )


def _fail(message: str) -> CommandResult:
    return CommandResult(message, ok=False)


# -- everyone ------------------------------------------------------------------------------


async def _help(context: CommandContext, _command: Command) -> CommandResult:
    return CommandResult(help_text(context.role), help=help_view(context.role))


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
    # The round service refuses an unknown team or segment, for the CLI's report too.
    report = await context.core.rounds.report(
        context.workspace,
        round_info,
        team=command.option("team"),
        segment=command.option("segment"),
    )
    text = render_report_text(report, min_answers=context.core.settings.min_group_size)
    in_channel = _in_channel(context)
    return CommandResult(text, in_channel=in_channel, report=report)


async def _dashboard(context: CommandContext, _command: Command) -> CommandResult:
    dashboard = context.core.dashboard
    link = await dashboard.link(
        context.workspace, context.person, platform_admin=context.event.user_is_platform_admin
    )
    minutes = int(dashboard.lifetime.total_seconds() // 60)
    # Always private (never in_channel): the link opens the dashboard as this person.
    return CommandResult(
        f"Your dashboard link (just for you; it works for {_count(minutes, 'minute')}, "
        f"and only while you are a manager or admin):\n{link}"
    )


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
    already_open = await context.core.store.list_rounds(context.ws, state=RoundState.OPEN)
    opened = await context.core.rounds.open(
        context.workspace,
        audience=audience,
        window=window,
        actor=context.actor,
        report_channels=report_to,
    )
    assert opened is not None  # only scheduled rounds can collide
    await context.core.rounds.queue_polls(context.workspace, opened.round)
    text = (
        f"{opened.round.label} is open: the poll is on its way to {opened.invited} "
        f"{'person' if opened.invited == 1 else 'people'}; answers close "
        f"{opened.round.deadline:%Y-%m-%d %H:%M} UTC."
    )
    return CommandResult(text + _also_open(already_open, audience))


def _also_open(open_rounds: Sequence[RoundInfo], audience: str) -> str:
    """A warning when the same people already have an open round: each person then has two
    polls to answer, and the two rounds' reports split their answers."""
    same = [r for r in open_rounds if r.audience.lower() == audience.lower()]
    if not same:
        return ""
    older = min(same, key=lambda r: r.id)
    return (
        f"\nNote: {older.label} for {audience} is still open too, so these people have "
        f"{len(same) + 1} polls to answer; if that was not meant, close the older one with "
        f"'/alignment poll close round:{older.id}'."
    )


async def _poll_status(context: CommandContext, _command: Command) -> CommandResult:
    store = context.core.store
    rounds = await store.list_rounds(context.ws, state=RoundState.OPEN)
    if not rounds:
        return CommandResult("No round is open.")
    minimum = context.core.settings.min_group_size
    lines = []
    for r in rounds:
        invited = await store.invitation_count(r.id)
        answered = len(await store.answers_for_round(r.id))
        lines.append(
            f"• {r.label}: {answered_text(answered, invited, minimum)}, "
            f"closes {r.deadline:%Y-%m-%d %H:%M} UTC"
        )
    return CommandResult("\n".join(lines))


async def _poll_close(context: CommandContext, command: Command) -> CommandResult:
    round_info = await _round(context, command.option("round"), prefer=RoundState.OPEN)
    if round_info.state is RoundState.CLOSED:
        return _fail(f"{round_info.label} is already closed.")
    closed = await context.core.rounds.close(context.workspace, round_info, actor=context.actor)
    if closed is None:
        return _fail(f"{round_info.label} was closed a moment ago by someone else.")
    text = render_report_text(closed.report, min_answers=context.core.settings.min_group_size)
    note = f"{round_info.label} is closed."
    return CommandResult(f"{note}\n\n{text}", report=closed.report, note=note)


# -- attributes ----------------------------------------------------------------------------


async def _attributes_list(context: CommandContext, _command: Command) -> CommandResult:
    attributes = await context.core.store.list_attributes(context.ws)
    lines = [f"• {a.name}" + (f" — {a.description}" if a.description else "") for a in attributes]
    return CommandResult(f"{len(attributes)} attributes:\n" + "\n".join(lines))


async def _attributes_add(context: CommandContext, command: Command) -> CommandResult:
    name = _attribute_name(command.args[0])
    description = clean_description(command.args[1]) if len(command.args) > 1 else ""
    current = await context.core.store.list_attributes(context.ws)
    existing = _find(current, name)
    if existing is not None:
        return _fail(f"Attribute '{existing.name}' already exists.")
    if len(current) >= MAX_ATTRIBUTES:
        return _fail(f"There can be at most {MAX_ATTRIBUTES} attributes; remove one first.")
    every = await context.core.store.list_attributes(context.ws, include_retired=True)
    retired = _find(every, name)
    added = await context.core.store.add_attribute(
        context.ws, name, description, actor=context.actor
    )
    if retired is None:
        return CommandResult(f"Added '{name}'.")
    # A retired attribute comes back with its id (so its earlier answers) and, unless a new
    # one is given, its earlier description: said out loud, not restored silently.
    if not added.description:
        described = "with no description"
    elif description:
        described = f"described as '{added.description}'"
    else:
        described = f"with its earlier description '{added.description}'"
    return CommandResult(f"Added '{name}' back, {described}; its earlier answers count again.")


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
    return clean_name(raw, "an attribute name")


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
    except UnicodeDecodeError as exc:
        return _fail(not_text_message(path.name, exc))
    except OSError as exc:
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
    name = clean_name(command.args[0], "a team name")
    existing = await _team(context, name, missing_ok=True)
    if existing is not None:
        return _fail(f"A team called '{name}' already exists.")
    link, shown = None, ""
    if command.option("channel"):
        channel = await _resolve(context, command.option("channel") or "", RefKind.CHANNEL)
        link, shown = f"channel:{channel.id}", _labelled(channel, "#")
    elif command.option("usergroup"):
        group = await _resolve(context, command.option("usergroup") or "", RefKind.GROUP)
        link, shown = f"usergroup:{group.id}", _labelled(group, "@")
    await context.core.store.add_team(context.ws, name, linked_source=link, actor=context.actor)
    source = f" Members come from {link}{shown}." if link else ""
    return CommandResult(f"Added team '{name}'.{source}")


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
    """A person the platform confirmed, by mention or by name (never a typed name as id)."""
    found = await _resolve(context, who, RefKind.PERSON)
    return await context.core.store.ensure_person(context.ws, found.id, found.label)


async def _resolve(context: CommandContext, word: str, kind: RefKind) -> Resolved:
    port = context.core.ports.get(context.workspace.ref.platform)
    if port is None:
        raise UsageError(f"'{context.workspace.ref.platform}' is not connected; try again later")
    return await resolve(port, context.workspace.ref, word, kind)


def _labelled(found: Resolved, sigil: str) -> str:
    """' (#sales)' after an id the person would not recognise; nothing when they are equal."""
    return "" if found.label in ("", found.id) else f" ({sigil}{found.label})"


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
    # The canonical IANA spelling, so "europe/berlin" and "Europe/Berlin" are one zone.
    zone = validate_timezone(command.option("tz") or context.workspace.time_zone).key
    window = _duration(command.option("window")) or context.core.settings.answer_window
    remind = _duration(command.option("remind"))
    if remind is not None and remind >= window:
        raise UsageError(
            "the reminder must come before the deadline: make remind: shorter than window:"
        )
    audience = await _schedule_audience(context, command.option("audience") or "everyone")
    report = tuple(
        [
            (await _resolve(context, word, RefKind.CHANNEL)).id
            for word in (command.option("report") or "").split(",")
            if word
        ]
    )
    # Offices in two zones polling at 09:00 local is the normal case: the default name says
    # where and for whom, so two such schedules get two names.
    given = command.option("name")
    name = (
        clean_name(given, "a schedule name") if given else f"{spec.describe()} ({zone}, {audience})"
    )
    new = NewSchedule(
        name,
        spec.expression,
        zone,
        audience,
        int(window.total_seconds()),
        int(remind.total_seconds()) if remind else None,
        report,
    )
    await _refuse_duplicate_schedule(context, new)
    schedule = await context.core.store.add_schedule(context.ws, new, actor=context.actor)
    context.core.schedules_changed()
    return CommandResult(
        f"Schedule #{schedule.id} added: {spec.describe()} ({zone}), answers open for "
        f"{_human(window)}. Next: {_next(spec.expression, zone, context)}."
    )


async def _schedule_audience(context: CommandContext, text: str) -> str:
    """The audience as stored: a channel or group by its checked id; a team must exist now
    (as for `poll now`), in its own spelling."""
    text = await _audience(context, text)
    audience = parse_audience(text)
    if audience.kind is not AudienceKind.TEAM:
        return text
    team = await _team(context, audience.ref)
    assert team is not None  # _team raises for a missing team
    return f"team:{team.name}"


async def _refuse_duplicate_schedule(context: CommandContext, new: NewSchedule) -> None:
    """A second schedule for the same runs would only collide with the first; a taken name
    would hit the database's unique key. Both get words instead."""
    existing = await context.core.store.list_schedules(context.ws)
    runs = (new.when_expr, new.time_zone, new.audience.lower())
    for old in existing:
        if (old.when_expr, old.time_zone, old.audience.lower()) == runs:
            raise UsageError(
                f"schedule #{old.id} '{old.name}' already polls {old.audience} at these times "
                f"in {old.time_zone}; nothing was added"
            )
    for old in existing:
        if old.name.lower() == new.name.lower():
            raise UsageError(
                f"schedule #{old.id} is already called '{old.name}': "
                "give this one another name with name:NAME"
            )


async def _audience(context: CommandContext, text: str) -> str:
    """The audience with its channel or group checked and stored by id."""
    kinds = {"channel": RefKind.CHANNEL, "usergroup": RefKind.GROUP}
    prefix, _, rest = text.partition(":")
    if prefix.lower() in kinds and rest:
        found = await _resolve(context, rest, kinds[prefix.lower()])
        return f"{prefix.lower()}:{found.id}"
    if text.startswith(("#", "<#")):
        return f"channel:{(await _resolve(context, text, RefKind.CHANNEL)).id}"
    if text.startswith(("@", "<!subteam^")):
        return f"usergroup:{(await _resolve(context, text, RefKind.GROUP)).id}"
    parse_audience(text)
    return text


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
    principal = await _granted(context, command.args[0]) or await _principal(
        context, command.args[0]
    )
    if principal == context.person.user_id:
        return _fail("You cannot remove your own role; ask another admin.")
    changed = await context.core.store.set_role(context.ws, principal, None, actor=context.actor)
    return CommandResult(
        f"{principal} has no role now." if changed else f"{principal} had no role."
    )


async def _granted(context: CommandContext, who: str) -> str | None:
    """The holder of a role named by its stored id, so a role of someone who has left the
    workspace (whom the platform no longer confirms) can still be taken away."""
    mention = read_mention(who.removeprefix("usergroup:"), RefKind.PERSON)
    wanted = {mention.text, f"usergroup:{mention.text}"}
    grants = await context.core.store.role_grants(context.ws)
    return next((g.principal for g in grants if g.principal in wanted), None)


async def _principal(context: CommandContext, who: str) -> str:
    """A person's id, or "usergroup:ID" for a user group (named as such or by its @handle)."""
    if who.startswith("usergroup:"):
        group = await _resolve(context, who.removeprefix("usergroup:"), RefKind.GROUP)
        return f"usergroup:{group.id}"
    try:
        return (await _person(context, who)).user_id
    except ReferenceProblem as not_a_person:
        if not who.startswith("@"):
            raise
        try:  # Slack's "@sales-team" is a group's handle as often as a person's name
            return f"usergroup:{(await _resolve(context, who, RefKind.GROUP)).id}"
        except ReferenceProblem:
            raise not_a_person from None


async def _audit(context: CommandContext, _command: Command) -> CommandResult:
    entries = await context.core.store.audit_log(context.ws, limit=30)
    lines = [f"• {e.at:%Y-%m-%d %H:%M} {e.actor}: {e.action}" for e in entries]
    return CommandResult("\n".join(lines) or "No admin changes yet.")


# -- small parsers -------------------------------------------------------------------------


def _int(raw: str, what: str) -> int:
    """An id typed by a person: a number the database can hold, or a message saying why not
    (a huge number would otherwise overflow the database driver)."""
    try:
        number = int(raw)
    except ValueError as exc:
        raise UsageError(f"{what} must be a number, not '{_clip(raw)}'") from exc
    if not 1 <= number <= MAX_ID:
        raise UsageError(f"{what} must be a number from 1 to {MAX_ID}, not {_clip(raw)}")
    return number


def _clip(raw: str, limit: int = 40) -> str:
    return raw if len(raw) <= limit else raw[:limit] + "…"


def _duration(raw: str | None) -> timedelta | None:
    return None if raw is None else parse_duration(raw)


def _human(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours >= 24 and hours % 24 == 0:
        return _count(hours / 24, "day")
    return _count(hours, "hour")


def _count(amount: float, unit: str) -> str:
    return f"{amount:g} {unit}{'' if amount == 1 else 's'}"


HANDLERS: dict[str, Handler] = {
    "help": _help,
    "me": _me,
    "forget me": _forget_me,
    "report": _report,
    "dashboard": _dashboard,
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
