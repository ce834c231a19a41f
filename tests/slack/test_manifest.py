"""The manifest is valid and asks for exactly what the code uses."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from adapters.slack import adapter, scopes
from tests.official_schemas import official_schema

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "manifest/slack/manifest.yaml"
SOURCES = sorted((ROOT / "adapters/slack").glob("*.py"))


def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    return loaded


def test_manifest_matches_official_schema() -> None:
    schema = official_schema("slack-app-manifest.schema.json")
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(manifest()), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_manifest_scopes_are_exactly_the_scope_table() -> None:
    assert sorted(manifest()["oauth_config"]["scopes"]["bot"]) == scopes.bot_scopes()


def test_manifest_command_and_events_are_the_registered_ones() -> None:
    features = manifest()["features"]
    assert [c["command"] for c in features["slash_commands"]] == [scopes.COMMAND]
    settings = manifest()["settings"]
    assert tuple(settings["event_subscriptions"]["bot_events"]) == scopes.BOT_EVENTS
    assert features["app_home"]["home_tab_enabled"] is True
    registered = _registrations()
    assert registered["command"] == {"COMMAND"}
    assert registered["event"] - {"ANYTHING"} == set(scopes.BOT_EVENTS)


def test_manifest_urls_point_at_the_adapter_routes() -> None:
    m = manifest()
    urls = [c["url"] for c in m["features"]["slash_commands"]]
    urls += [
        m["settings"]["event_subscriptions"]["request_url"],
        m["settings"]["interactivity"]["request_url"],
    ]
    assert all(u.endswith(adapter.EVENTS_PATH) for u in urls)
    assert all(u.endswith(adapter.REDIRECT_PATH) for u in m["oauth_config"]["redirect_urls"])


def test_every_web_api_call_in_the_code_is_in_the_table_and_vice_versa() -> None:
    called = _called_methods()
    assert called == set(scopes.METHOD_SCOPES), (
        f"not in table: {called - set(scopes.METHOD_SCOPES)}; "
        f"never called: {set(scopes.METHOD_SCOPES) - called}"
    )


def _called_methods() -> set[str]:
    """String literals passed as the method to SlackApi.call / require_method, plus the
    methods the SDK's files_upload_v2 calls for us."""
    found: set[str] = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr == "call" and len(node.args) >= 2:
                    found |= _literal(node.args[1])
                if node.func.attr == "_pages" and len(node.args) >= 2:
                    found |= _literal(node.args[1])
            if _is_call_to(node, "read_pages") and len(node.args) >= 3:  # type: ignore[attr-defined]
                found |= _literal(node.args[2])  # type: ignore[attr-defined]
            if isinstance(node, ast.For) and _is_require_loop(node):
                found |= {e.value for e in node.iter.elts if isinstance(e, ast.Constant)}  # type: ignore[attr-defined]
    return found


def _is_call_to(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name


def _literal(node: ast.expr) -> set[str]:
    return {node.value} if isinstance(node, ast.Constant) and isinstance(node.value, str) else set()


def _is_require_loop(node: ast.For) -> bool:
    calls = [n for n in ast.walk(node) if isinstance(n, ast.Call)]
    named = any(isinstance(c.func, ast.Name) and c.func.id == "require_method" for c in calls)
    return named and isinstance(node.iter, ast.Tuple)


def _registrations() -> dict[str, set[str]]:
    """What SlackInbound.register hands to app.command / app.event."""
    out: dict[str, set[str]] = {"command": set(), "event": set()}
    tree = ast.parse((ROOT / "adapters/slack/inbound.py").read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in out
            and node.args
        ):
            arg = node.args[0]
            name = arg.id if isinstance(arg, ast.Name) else getattr(arg, "value", None)
            out[node.func.attr].add(str(name))
    return out
