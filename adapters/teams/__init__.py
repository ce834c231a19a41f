"""Microsoft Teams adapter (Bot Framework). Every botbuilder import stays in this package."""

from adapters.teams.adapter import MESSAGES_ROUTE, TeamsAdapter
from adapters.teams.package import build_teams_package
from adapters.teams.settings import TeamsSettings

__all__ = ["MESSAGES_ROUTE", "TeamsAdapter", "TeamsSettings", "build_teams_package"]
