"""Command line entry point: ``customer-rules`` / ``python -m customer_rules``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="customer-rules", description="Classify customers with explainable policies."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="classify the built-in sample customers and explain three of them")
    demo.add_argument("--lang", choices=["en", "zh"], default="en", help="language of the explanations")
    demo.add_argument("-n", type=int, default=300, help="number of sample customers")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from ._demo import run_demo

        run_demo(sys.stdout, lang=args.lang, n=args.n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
