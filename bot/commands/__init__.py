"""The `/alignment …` commands: parsing what a person typed, and one handler per command.
Handlers reach the core through ``context.CoreServices``.

May import: ``bot.model``, ``bot.analytics``, ``bot.reports`` and ``bot.rounds``.
"""
