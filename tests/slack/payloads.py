"""Signed requests shaped like Slack's documented payloads (slash command form body,
block_actions, view_submission, event_callback)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

SECRET = "test-signing-secret"
TEAM = "T0001"
FORM = "application/x-www-form-urlencoded"


def signed_headers(
    body: bytes, *, content_type: str = FORM, secret: str = SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """v0:timestamp:body, HMAC-SHA256, exactly as Slack signs."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }


def slash_command(
    *,
    response_url: str,
    text: str = "",
    user: str = "UADA",
    channel: str = "C0GENERAL",
    channel_name: str = "general",
    trigger_id: str = "13345224609.738474920.8088930838d88f",
    team: str = TEAM,
) -> bytes:
    form = {
        "token": "deprecated-verification-token",
        "team_id": team,
        "team_domain": "example",
        "channel_id": channel,
        "channel_name": channel_name,
        "user_id": user,
        "user_name": "ada",
        "command": "/alignment",
        "text": text,
        "api_app_id": "A0001",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    return urlencode(form).encode()


def interaction(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def _user(user: str) -> dict[str, Any]:
    return {"id": user, "username": "ada", "name": "ada", "team_id": TEAM}


def block_actions(
    *,
    action_id: str,
    value: str,
    channel: str = "DADA",
    message_ts: str = "1700000001.000100",
    user: str = "UADA",
    trigger_id: str = "trigger-1",
) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "example"},
        "user": _user(user),
        "api_app_id": "A0001",
        "token": "deprecated",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": trigger_id,
        "channel": {"id": channel, "name": "directmessage"},
        "message": {"type": "message", "ts": message_ts, "text": "poll"},
        "response_url": "https://hooks.slack.invalid/actions/unused",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "poll_7",
                "text": {"type": "plain_text", "text": "Rank"},
                "value": value,
                "type": "button",
                "action_ts": "1700000002.000300",
            }
        ],
    }


def view_submission(
    *,
    callback_id: str,
    values: dict[str, Any],
    private_metadata: str = "",
    view_id: str = "V0PICK",
    user: str = "UADA",
) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "example"},
        "user": _user(user),
        "api_app_id": "A0001",
        "token": "deprecated",
        "trigger_id": "trigger-2",
        "view": {
            "id": view_id,
            "team_id": TEAM,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "hash": "156772938.1827394",
            "state": {"values": values},
            "title": {"type": "plain_text", "text": "Rank your top 3"},
            "blocks": [],
        },
        "response_urls": [],
    }


def picks(*values: str | None) -> dict[str, Any]:
    """state.values of the ranking modal; None leaves that place unpicked."""
    out: dict[str, Any] = {}
    for position, value in enumerate(values, start=1):
        selected = (
            None
            if value is None
            else {"text": {"type": "plain_text", "text": value}, "value": value}
        )
        out[f"rank_{position}"] = {"choice": {"type": "static_select", "selected_option": selected}}
    return out


def research_values(
    *,
    text: str | None = None,
    file: dict[str, Any] | None = None,
    segment: str | None = None,
) -> dict[str, Any]:
    return {
        "csv_text": {"csv_text": {"type": "plain_text_input", "value": text}},
        "csv_file": {"csv_file": {"type": "file_input", "files": [file] if file else []}},
        "segment": {"segment": {"type": "plain_text_input", "value": segment}},
        "source": {"source": {"type": "plain_text_input", "value": None}},
    }


def app_home_opened(*, event_id: str = "Ev0HOME1", user: str = "UADA") -> bytes:
    envelope = {
        "token": "deprecated",
        "team_id": TEAM,
        "api_app_id": "A0001",
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": "DADA",
            "tab": "home",
            "event_ts": "1700000003.000400",
        },
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1700000003,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM,
                "user_id": "UBOT",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
    return json.dumps(envelope).encode()
