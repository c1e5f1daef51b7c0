"""The public facade: a small, sorted ``__all__`` holding the names of the
design's API contract."""

from __future__ import annotations

import customer_rules as cr

# the names DESIGN.md promises to users
CONTRACT = (
    "Engine",
    "Customer",
    "load_policy",
    "hookimpl",
    "CustomerRulesError",
    "PolicyError",
    "RecordError",
    "NotFittedError",
    "EvaluationError",
    "PluginError",
    "BackendUnavailable",
    "Decision",
    "Profile",
    "Policy",
    "Scheme",
    "Strategy",
)


def _isort_key(name: str) -> tuple[int, str]:
    # constants, then classes, then functions (ruff's RUF022 order)
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_all_is_sorted() -> None:
    assert cr.__all__ == sorted(cr.__all__, key=_isort_key)


def test_all_has_no_duplicates() -> None:
    assert len(set(cr.__all__)) == len(cr.__all__)


def test_every_name_in_all_exists() -> None:
    missing = [name for name in cr.__all__ if not hasattr(cr, name)]
    assert missing == []


def test_the_contract_names_are_public() -> None:
    assert [name for name in CONTRACT if name not in cr.__all__] == []


def test_hookimpl_marks_customer_rules_hooks() -> None:
    import pluggy

    assert isinstance(cr.hookimpl, pluggy.HookimplMarker)
    assert cr.hookimpl.project_name == "customer_rules"


def test_private_modules_stay_private() -> None:
    assert all(not name.startswith("_") for name in cr.__all__)


def test_version_is_a_string() -> None:
    assert isinstance(cr.__version__, str) and cr.__version__
