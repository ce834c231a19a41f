"""The running program: the core facade (``AlignmentCore``), the app wiring (the composition
root), the HTTP server, logging, the worker supervisor, the CLI and the demo.

May import: every part of ``bot``; only here may code import ``adapters`` and ``storage``.
"""
