"""Command line entry point: ``customer-rules`` / ``python -m customer_rules``.

The commands live in :mod:`customer_rules.cli.main`; see ``customer-rules --help``.
"""

from __future__ import annotations

from customer_rules.cli.main import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
