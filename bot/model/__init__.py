"""The core's vocabulary: domain values, events, views, records, settings, the chat port and
the store protocol. Everything else in ``bot`` builds on these.

May import: the standard library and pydantic only; nothing else from ``bot``.
"""
