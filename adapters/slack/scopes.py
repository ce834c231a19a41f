"""The single table of what the adapter asks Slack for.

Every Web API call goes through ``SlackApi.call`` which refuses a method missing here, and a
test compares this table with ``manifest/slack/manifest.yaml``, so the manifest asks for exactly
the scopes the code uses: no more (least privilege), no less (no ``missing_scope`` at runtime).
"""

from __future__ import annotations

from typing import Final

COMMAND: Final = "/alignment"

# Web API method -> bot scopes it needs. Methods that need no scope are listed too, so the
# table is the complete list of methods the code may call.
METHOD_SCOPES: Final[dict[str, tuple[str, ...]]] = {
    "chat.postMessage": ("chat:write",),
    "chat.update": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "conversations.open": ("im:write",),
    # The outbox asks whether a message sent just before a crash arrived (by its metadata).
    "conversations.history": ("im:history", "channels:history", "groups:history"),
    # Public and private channels can both be poll audiences.
    "conversations.members": ("channels:read", "groups:read"),
    "usergroups.users.list": ("usergroups:read",),
    # Channels, people and groups named in commands are checked (and found by name) with these.
    "conversations.info": ("channels:read", "groups:read"),
    "conversations.list": ("channels:read", "groups:read"),
    "usergroups.list": ("usergroups:read",),
    "users.info": ("users:read",),
    "users.list": ("users:read",),
    "views.open": (),
    "auth.test": (),  # who the bot is: our single-workspace authorize, bolt's OAuth one
    "views.publish": (),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
}

# Methods bolt and slack-sdk call on their own (authorize, OAuth callback, Socket Mode); listed
# so the full set of endpoints is visible. None needs a bot scope.
LIBRARY_METHODS: Final[dict[str, tuple[str, ...]]] = {
    "oauth.v2.access": (),  # the OAuth redirect exchanges the code
    "apps.connections.open": (),  # Socket Mode, with the app-level token (connections:write)
}

# Scopes needed for things that are not Web API methods.
OTHER_SCOPES: Final[dict[str, tuple[str, ...]]] = {
    "slash command": ("commands",),
    # The research import modal downloads a CSV picked in a file_input via url_private_download.
    "url_private_download": ("files:read",),
}

BOT_EVENTS: Final = ("app_home_opened",)


def bot_scopes() -> list[str]:
    """Every bot scope the code needs, sorted: what the manifest and OAuth install request."""
    scopes = {
        s
        for table in (METHOD_SCOPES, LIBRARY_METHODS, OTHER_SCOPES)
        for need in table.values()
        for s in need
    }
    return sorted(scopes)
