"""Parsing `/alignment …` text into a typed command, the same for every chat platform.

Words are split shell-style, so names with spaces are quoted ("delivery speed"); options are
`key:value` words anywhere after the verb. Mentions (Slack's `<@U123|ann>`, `<#C123|sales>`,
`<!subteam^S1|@leads>`) stay as they came: the handlers resolve them with the platform
(``bot.commands.references``), which needs to know whether an id or a typed name arrived.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from bot.model.domain import Role
from bot.model.views import HelpLine, HelpView


class CommandError(ValueError):
    """The text is not a valid command; the message says what to type instead."""


@dataclass(frozen=True, slots=True)
class Command:
    group: str  # e.g. "attributes"
    action: str  # e.g. "add"; "" for single-word commands such as "help"
    args: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.group} {self.action}".strip()

    def option(self, key: str) -> str | None:
        return self.options.get(key)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    usage: str
    summary: str
    role: Role
    min_args: int = 0
    max_args: int | None = 0
    options: frozenset[str] = frozenset()


def _spec(
    usage: str,
    summary: str,
    role: Role,
    args: tuple[int, int | None] = (0, 0),
    options: str = "",
) -> CommandSpec:
    return CommandSpec(usage, summary, role, args[0], args[1], frozenset(options.split()))


E, M, A = Role.EMPLOYEE, Role.MANAGER, Role.ADMIN

# One table is the source of truth for help, usage errors and permissions.
COMMANDS: dict[str, CommandSpec] = {
    "help": _spec("help", "show this help", E),
    "me": _spec("me", "your own answers and how they compared with customers", E),
    "forget me": _spec("forget me", "delete your answers and your identity", E),
    "report": _spec(
        "report [team:NAME] [segment:NAME] [round:ID]",
        "the latest report (posted in the channel when a manager runs it there)",
        M,
        options="team segment round",
    ),
    "dashboard": _spec(
        "dashboard",
        "a private link to the web dashboard (trends, teams, customers)",
        M,
    ),
    "poll now": _spec(
        "poll now [team:NAME] [window:3d]",
        "ask the question now (everyone, or one team)",
        M,
        options="team window",
    ),
    "poll status": _spec("poll status", "open rounds and their response rates", M),
    "poll close": _spec(
        "poll close [round:ID]",
        "close an open round now and post its report",
        M,
        options="round",
    ),
    "attributes list": _spec("attributes list", "the attributes people rank", E),
    "attributes add": _spec(
        'attributes add "NAME" ["DESCRIPTION"]', "add an attribute", A, args=(1, 2)
    ),
    "attributes remove": _spec('attributes remove "NAME"', "retire an attribute", A, args=(1, 1)),
    "attributes rename": _spec(
        'attributes rename "OLD" "NEW"', "rename an attribute", A, args=(2, 2)
    ),
    "research import": _spec(
        "research import [FILE] [segment:NAME] [source:NAME]",
        "import customer research (CSV or JSON)",
        A,
        args=(0, 1),
        options="segment source",
    ),
    "research list": _spec("research list", "imported studies, newest first", M),
    "research show": _spec("research show ID", "one study's figures", M, args=(1, 1)),
    "teams list": _spec("teams list", "teams and their sizes", E),
    "teams add": _spec(
        'teams add "NAME" [channel:#CHANNEL] [usergroup:@GROUP]',
        "add a team (optionally linked to a channel or user group)",
        A,
        args=(1, 1),
        options="channel usergroup",
    ),
    "teams remove": _spec('teams remove "NAME"', "remove a team", A, args=(1, 1)),
    "teams members": _spec(
        'teams members "NAME" [add @PERSON …] [remove @PERSON …]',
        "list or change a team's members",
        A,
        args=(1, None),
    ),
    "schedule list": _spec("schedule list", "schedules and their next run", M),
    "schedule add": _spec(
        "schedule add WHEN [tz:ZONE] [window:3d] [remind:24h] [audience:team:NAME] "
        "[report:#CHANNEL] [name:NAME]",
        'add a schedule, WHEN being cron ("0 9 * * 1") or "every monday 09:00"',
        A,
        args=(1, None),
        options="tz window remind audience report name",
    ),
    "schedule pause": _spec("schedule pause ID", "pause a schedule", A, args=(1, 1)),
    "schedule resume": _spec("schedule resume ID", "resume a schedule", A, args=(1, 1)),
    "schedule remove": _spec("schedule remove ID", "remove a schedule", A, args=(1, 1)),
    "schedule next": _spec("schedule next ID", "the next five run times", M, args=(1, 1)),
    "admins list": _spec("admins list", "who holds the admin and manager roles", M),
    "admins add": _spec(
        "admins add @PERSON [role:manager]",
        "grant the admin (or manager) role",
        A,
        args=(1, 1),
        options="role",
    ),
    "admins remove": _spec("admins remove @PERSON", "revoke a role", A, args=(1, 1)),
    "audit": _spec("audit", "the latest admin changes", A),
    "mirror create": _spec(
        "mirror create segment:NAME [k:3] [closes:YYYY-MM-DD] [name:NAME]",
        "start a mirror survey: customers of a segment rank the same attributes on a web form",
        A,
        options="segment k closes name",
    ),
    "mirror list": _spec("mirror list", "mirror surveys and their response counts", M),
    "mirror close": _spec(
        "mirror close ID",
        "close a mirror survey (published as research if large enough)",
        A,
        args=(1, 1),
    ),
    "mirror publish": _spec(
        "mirror publish ID", "close a mirror survey and make it research now", A, args=(1, 1)
    ),
    "mirror links": _spec(
        "mirror links ID count:N",
        "N one-time invitation links (shown once)",
        A,
        args=(1, 1),
        options="count",
    ),
    "mirror open": _spec(
        "mirror open ID",
        "a reusable open link for a website (rate-limited per address)",
        A,
        args=(1, 1),
    ),
}

GROUPS = sorted({name.split(" ")[0] for name in COMMANDS})

# A user group mention on its own (not already an option's value) is the usergroup: option.
_LONE_SUBTEAM = re.compile(r"(?<![:\w])<!subteam\^")
_OPTION = re.compile(r"^([a-z]+):(.+)$")


def normalise_mentions(text: str) -> str:
    return _LONE_SUBTEAM.sub("usergroup:<!subteam^", text)


def parse(text: str) -> Command:
    words = _split(normalise_mentions(text))
    if not words:
        return Command("help", "")
    group = words[0].lower()
    if group not in GROUPS:
        raise CommandError(f"unknown command '{words[0]}'. {_groups_hint()}")
    action, rest = _action(group, words[1:])
    spec = COMMANDS[f"{group} {action}".strip()]
    args, options = _arguments(rest, spec)
    _check_arity(spec, args)
    return Command(group, action, tuple(args), options)


def _split(text: str) -> list[str]:
    # Chat clients turn quotes into typographic ones; shlex only knows the straight kind.
    text = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    try:
        return shlex.split(text.strip())
    except ValueError as exc:
        raise CommandError(f"could not read the command: {exc} (check your quotes)") from exc


def _action(group: str, words: list[str]) -> tuple[str, list[str]]:
    if group in COMMANDS:  # single-word command such as "help" or "report"
        return "", words
    actions = sorted(name.split(" ", 1)[1] for name in COMMANDS if name.startswith(f"{group} "))
    if not words or words[0].lower() not in actions:
        given = f" '{words[0]}'" if words else ""
        raise CommandError(
            f"'{group}' needs one of: {', '.join(actions)}{given and f' (not{given})'}. "
            f"Usage: " + "; ".join(COMMANDS[f"{group} {a}"].usage for a in actions)
        )
    return words[0].lower(), words[1:]


def _arguments(words: list[str], spec: CommandSpec) -> tuple[list[str], dict[str, str]]:
    args: list[str] = []
    options: dict[str, str] = {}
    for word in words:
        _refuse_empty_option(word, spec)
        match = _OPTION.match(word)
        if match and match.group(1) in spec.options:
            options[match.group(1)] = match.group(2)
        elif match and spec.options and match.group(1) not in ("usergroup",):
            raise CommandError(
                f"unknown option '{match.group(1)}:' for '{spec.usage.split(' [')[0]}'. "
                f"Usage: /alignment {spec.usage}"
            )
        else:
            args.append(word)
    return args, options


def _refuse_empty_option(word: str, spec: CommandSpec) -> None:
    # "name:" alone (or "name: weekly", split by the space) would otherwise be read as part of
    # the arguments and fail later with an error about something else.
    key = word[:-1]
    if word.endswith(":") and key in spec.options:
        raise CommandError(
            f"'{word}' needs a value right after the colon, e.g. {key}:VALUE "
            f'(quote a value with spaces: {key}:"two words"). Usage: /alignment {spec.usage}'
        )


def _check_arity(spec: CommandSpec, args: list[str]) -> None:
    too_few = len(args) < spec.min_args
    too_many = spec.max_args is not None and len(args) > spec.max_args
    if too_few or too_many:
        raise CommandError(f"usage: /alignment {spec.usage}")


def _groups_hint() -> str:
    return "Try '/alignment help' for the list of commands."


HELP_TITLE = "alignment-bot — how well do we know what our customers value?"


def help_view(role: Role) -> HelpView:
    """The commands ``role`` may use, from the one table, in no platform's syntax."""
    lines = tuple(
        HelpLine(spec.usage, spec.summary) for spec in COMMANDS.values() if role.allows(spec.role)
    )
    return HelpView(HELP_TITLE, lines)


def help_text(role: Role) -> str:
    """The help as the console shows it (plain text, slash-command syntax)."""
    view = help_view(role)
    lines = [view.title, ""] + [f"• /alignment {h.usage} — {h.summary}" for h in view.lines]
    return "\n".join(lines)
