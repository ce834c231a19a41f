"""The web channel: customers answer a mirror survey on a server-rendered form."""

from adapters.web.adapter import WebAdapter
from adapters.web.settings import WebSettings

__all__ = ["WebAdapter", "WebSettings"]
