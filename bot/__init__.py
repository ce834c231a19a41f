"""alignment-bot's platform-neutral core, one sub-package per part. Dependencies point one way:
``model`` <- ``analytics`` <- ``reports`` <- ``rounds`` <- ``commands`` <- ``runtime``;
only ``runtime`` (the composition root) may import ``adapters`` or ``storage``.
"""
