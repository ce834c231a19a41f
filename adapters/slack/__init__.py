"""The Slack adapter: ``SlackAdapter(settings=SlackSettings(), core=..., records=...)``."""

from adapters.slack.adapter import SlackAdapter, SlackSettingsError
from adapters.slack.settings import SlackSettings

__all__ = ["SlackAdapter", "SlackSettings", "SlackSettingsError"]
