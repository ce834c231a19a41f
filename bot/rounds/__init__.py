"""A round's life: opening, polling, answers, reminders, closing; schedules and their parsing,
the scheduler that fires them, the outbox that delivers every message, and background work.

May import: ``bot.model``, ``bot.analytics`` and ``bot.reports``.
"""
