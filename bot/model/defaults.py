"""What a new workspace starts with."""

from __future__ import annotations

DEFAULT_QUESTION = (
    "Which attributes do our customers value most? Rank your top {k}, the most important first."
)

# The attributes customer-value research most often names; admins can change them.
DEFAULT_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("price", "What customers pay, and how it compares"),
    ("product quality", "How good the product itself is"),
    ("reliability", "It works every time, as promised"),
    ("delivery speed", "How fast customers get what they ordered"),
    ("customer support", "Help when something goes wrong"),
    ("ease of use", "How simple it is to buy and use"),
    ("innovation", "New features and ideas"),
    ("relationship/trust", "Knowing and trusting the people they deal with"),
)

MIN_ATTRIBUTES = 3
MAX_ATTRIBUTES = 25
