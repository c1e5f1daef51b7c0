"""Coverage-guided fuzzing of the policy reader and the expression parser
with atheris (https://github.com/google/atheris). Not run in CI.

The first byte of each input picks the format (yaml, json, toml, or an
expression alone); the rest is the text. Only ``CustomerRulesError``
subclasses may come out; anything else is a crash atheris reports with
the input that caused it. Run (atheris needs a clang-built CPython
extension; ``pip install atheris``)::

    python3 tests/fuzz/fuzz_policy.py -max_total_time=600 -rss_limit_mb=2048 CORPUS_DIR

``CORPUS_DIR`` (created if missing) keeps the inputs that reached new code;
seed it with policy files, e.g. ``cp customer_rules/schemes/*/policy.yaml``
with a leading format byte. Without atheris, the script runs the target
once on each file given (``python3 tests/fuzz/fuzz_policy.py FILE...``),
e.g. to replay a crash. ``tests/test_fuzz.py`` is the bounded
(hypothesis) counterpart that runs in the suite.
"""

from __future__ import annotations

import sys
from pathlib import Path

FORMATS = ("yaml", "json", "toml", "expression")


def one_input(data: bytes) -> None:
    """The target: read ``data`` as policy text; only library errors may escape."""
    from customer_rules.errors import CustomerRulesError
    from customer_rules.lang.parser import parse
    from customer_rules.lang.policy import parse_policy

    if not data:
        return
    fmt = FORMATS[data[0] % len(FORMATS)]
    text = data[1:].decode("utf-8", errors="replace")
    try:
        if fmt == "expression":
            parse(text)
        else:
            parse_policy(text, fmt)
    except CustomerRulesError:
        pass


def main(argv: list[str]) -> None:
    try:
        import atheris  # type: ignore[import-not-found]
    except ImportError:
        for name in argv[1:]:
            one_input(Path(name).read_bytes())
            print(f"{name}: ok")
        return
    with atheris.instrument_imports():
        import customer_rules.lang.parser
        import customer_rules.lang.policy  # noqa: F401
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
