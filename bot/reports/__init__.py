"""Turning analyses into what people read: the neutral report view, its text and chart, and the
research and response file formats the reports compare against.

May import: ``bot.model`` and ``bot.analytics``.
"""
