"""Command line entry point: ``customer-rules`` / ``python -m customer_rules``.

The commands live in :mod:`customer_rules._cli`; see ``customer-rules --help``.
"""

from __future__ import annotations

from ._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
