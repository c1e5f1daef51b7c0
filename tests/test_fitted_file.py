"""Fitted cut-off files (customer_rules.engine.fitted_file): validated against
a model before use; anything damaged or meant for another policy is a
FittedFileError naming the file and the key, and nothing is loaded
(issue 13, item 5)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

import customer_rules as cr
from customer_rules.engine.fitted_file import params_hash, read_fitted
from customer_rules.lab.sample import sample_customers

AS_OF = date(2026, 11, 22)
PYRAMID = "value_pyramid"
CUT = "top_pct(customer_value, params.vip_top_pct)"
PERCENTILE = ("terminal_priority", "percentile(value.turnover)")


def fresh() -> cr.Engine:
    return cr.Engine(load_entry_points=False)


@lru_cache(maxsize=1)
def blank() -> cr.Engine:
    """An engine nothing is loaded into: every file given to it is refused."""
    return fresh()


@pytest.fixture(scope="module")
def fitted_engine() -> cr.Engine:
    return fresh().fit(sample_customers(80), as_of=AS_OF)


@pytest.fixture(scope="module")
def fitted(fitted_engine: cr.Engine) -> dict[str, Any]:
    return fitted_engine.fitted_


@pytest.fixture
def saved(fitted_engine: cr.Engine, tmp_path: Path) -> Path:
    path = tmp_path / "cuts.json"
    fitted_engine.save_fitted(path)
    return path


def refuse(path: Path, text: str, engine: cr.Engine | None = None) -> cr.FittedFileError:
    path.write_text(text, encoding="utf-8")
    engine = engine or blank()
    with pytest.raises(cr.FittedFileError) as info:
        engine.load_fitted(path)
    err = info.value
    assert isinstance(err, cr.NotFittedError) and isinstance(err, cr.CustomerRulesError)
    assert err.file == str(path) and str(path) in str(err)
    assert not any(engine.is_fitted(s) for s in engine.population_schemes())  # nothing was loaded
    return err


def test_a_saved_file_loads_and_carries_the_params_hash(saved: Path) -> None:
    data = json.loads(saved.read_text(encoding="utf-8"))
    assert data[PYRAMID]["params_hash"] == params_hash(data[PYRAMID]["params"])
    engine = fresh().load_fitted(saved)
    assert all(engine.is_fitted(s) for s in engine.population_schemes())
    assert not list(saved.parent.glob(".cuts.json.*"))  # no temporary file left behind


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "not valid JSON"),
        ("[1]", "got list"),
        ("1", "got int"),
        ("null", "got NoneType"),
        ('"abc', "not valid JSON"),
        ('{"value_pyramid": 1}', "valid dictionary"),
        ('{"a": 1, "a": 2}', "given twice"),
        # CPython 3.11's json gives up on the nesting; 3.13 reads it and the model refuses it
        ('{"x": ' + "[" * 5000 + "]" * 5000 + "}", "RecursionError|valid dictionary"),
        ('{"x": ' + "9" * 5000 + "}", "digits"),
    ],
)
def test_files_that_are_not_fitted_files(saved: Path, text: str, fragment: str) -> None:
    message = refuse(saved, text).message
    assert any(f in message for f in fragment.split("|")), message


def test_a_truncated_file(saved: Path) -> None:
    text = saved.read_text(encoding="utf-8")
    for cut in (len(text) // 3, len(text) // 2, len(text) - 3):
        assert "not valid JSON" in refuse(saved, text[:cut]).message


def _mutate(saved: Path, change: Callable[[dict[str, Any]], None]) -> cr.FittedFileError:
    data = json.loads(saved.read_text(encoding="utf-8"))
    change(data)
    return refuse(saved, json.dumps(data))


def _set(*path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        node = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


def _delete(*path: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        node = data
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]

    return change


@pytest.mark.parametrize(
    ("change", "key", "fragment"),
    [
        (_set(PYRAMID, "cuts", CUT, "cutoff", value="abc"), f"{PYRAMID}.cuts.{CUT}.cutoff", "valid number"),
        (_set(PYRAMID, "cuts", CUT, "cutoff", value=[1]), f"{PYRAMID}.cuts.{CUT}.cutoff", "valid number"),
        (_set(PYRAMID, "cuts", CUT, "cutoff", value=True), f"{PYRAMID}.cuts.{CUT}.cutoff", "valid number"),
        (_set(PYRAMID, "cuts", CUT, "count", value=True), f"{PYRAMID}.cuts.{CUT}.count", "valid integer"),
        (_set(PYRAMID, "cuts", CUT, "size", value=1.5), f"{PYRAMID}.cuts.{CUT}.size", "valid integer"),
        (_set(PYRAMID, "cuts", CUT, "count", value=-1), f"{PYRAMID}.cuts.{CUT}.count", "greater than"),
        (_set(PYRAMID, "cuts", CUT, "cutoff", value=None), f"{PYRAMID}.cuts.{CUT}", "cutoff"),
        (_set(PYRAMID, "cuts", CUT, "function", value="eval"), f"{PYRAMID}.cuts.{CUT}.function", "Input should be"),
        (_set(PYRAMID, "cuts", CUT, "extra", value=1), f"{PYRAMID}.cuts.{CUT}.extra", "unknown key"),
        (_delete(PYRAMID, "cuts"), f"{PYRAMID}.cuts", "missing required key 'cuts'"),
        (_delete(PYRAMID, "cuts", CUT, "function"), f"{PYRAMID}.cuts.{CUT}.function", "missing required key"),
        (_delete(PYRAMID, "cuts", CUT), f"{PYRAMID}.cuts", "do not match its rules"),
        (_set(PYRAMID, "cuts", "top(x, 1)", value={"function": "top", "size": 1, "count": 0}), f"{PYRAMID}.cuts",
         "do not match its rules"),
        (_set(PYRAMID, "as_of", value="2026/11/22"), f"{PYRAMID}.as_of", "Invalid isoformat"),
        (_set(PYRAMID, "version", value=1), f"{PYRAMID}.version", "valid string"),
        (_set(PYRAMID, "version", value="2"), f"{PYRAMID}.version", "refit"),
        (_set(PYRAMID, "params", "vip_top_pct", value=2.0), f"{PYRAMID}.params_hash", "edited or damaged"),
        (_set(PYRAMID, "params_hash", value="sha256:0"), f"{PYRAMID}.params_hash", "edited or damaged"),
        (_set(PYRAMID, "policy", value="terminal_priority"), f"{PYRAMID}.policy", "runs policy 'value_pyramid'"),
        (lambda d: d.update(no_such_scheme=d[PYRAMID]), "no_such_scheme", "no scheme 'no_such_scheme'"),
        (_set(PYRAMID, "cuts", CUT, "function", value="top"), f"{PYRAMID}.cuts.{CUT}.function", "a top cut for a top_pct"),
    ],
)
def test_damaged_or_foreign_entries_name_the_key(
    saved: Path, change: Callable[[dict[str, Any]], None], key: str, fragment: str
) -> None:
    err = _mutate(saved, change)
    assert err.key == key, str(err)
    assert fragment in err.message, str(err)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "true", '"abc"', "[1]"])
def test_non_numbers_written_into_the_text_are_refused(saved: Path, token: str) -> None:
    text = saved.read_text(encoding="utf-8")
    data = json.loads(text)
    old = json.dumps(data[PYRAMID]["cuts"][CUT]["cutoff"])
    assert text.count(old) == 1
    err = refuse(saved, text.replace(old, token))
    assert err.key == f"{PYRAMID}.cuts.{CUT}.cutoff"


def test_percentile_values_must_be_sorted_finite_and_counted(saved: Path) -> None:
    sid, key = PERCENTILE
    data = json.loads(saved.read_text(encoding="utf-8"))
    values = data[sid]["cuts"][key]["values"]
    assert len(values) > 2

    def change(new: Any, field: str = "values") -> Callable[[dict[str, Any]], None]:
        return _set(sid, "cuts", key, field, value=new)

    assert "sorted" in _mutate(saved, change(list(reversed(values)))).message
    assert "count" in _mutate(saved, change(values[:-1])).message
    assert "needs its sorted 'values'" in _mutate(saved, change(None)).message
    refuse(saved, saved.read_text(encoding="utf-8").replace(json.dumps(values[0]), "NaN", 1))


def test_a_foreign_policy_id_no_longer_changes_labels(fitted: dict[str, Any]) -> None:
    # the reproducer: cut-offs of one scheme filed under another scheme's policy id were applied
    foreign = copy.deepcopy(fitted)
    foreign[PYRAMID]["policy"] = "vip_list"
    with pytest.raises(cr.FittedFileError, match="fitted for policy 'vip_list'") as info:
        blank().load_fitted(foreign)
    assert info.value.file is None and info.value.key == f"{PYRAMID}.policy"


def test_a_mapping_is_validated_the_same_way(fitted: dict[str, Any]) -> None:
    broken = copy.deepcopy(fitted)
    broken[PYRAMID]["cuts"][CUT]["cutoff"] = float("nan")
    with pytest.raises(cr.FittedFileError, match="finite number") as info:
        blank().load_fitted(broken)
    assert info.value.key == f"{PYRAMID}.cuts.{CUT}.cutoff"
    assert read_fitted(fitted)[PYRAMID].cuts[CUT].function == "top_pct"


def test_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(cr.FittedFileError, match="cannot read"):
        blank().load_fitted(tmp_path / "missing.json")
    binary = tmp_path / "cuts.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(cr.FittedFileError, match="not UTF-8"):
        blank().load_fitted(binary)


def _summary_file(fitted: dict[str, Any], n: int) -> dict[str, Any]:
    """``fitted`` with its percentile cut learned from ``n`` turnovers (a summary past 1,000)."""
    from customer_rules.engine.fitting import learn
    from customer_rules.lang.ast import Call, Name

    sid, key = PERCENTILE
    cut = learn(Call("percentile", (Name(("value", "turnover")),)), [float(i % 7919) for i in range(n)], {})
    out = copy.deepcopy(fitted)
    out[sid]["cuts"][key] = cut.to_json()
    return out


def test_a_summarised_percentile_round_trips_and_keeps_its_size(fitted: dict[str, Any], tmp_path: Path) -> None:
    # issue 14: a fitted file no longer grows with the population
    sizes = []
    for n in (20_000, 200_000):
        engine = fresh().load_fitted(_summary_file(fitted, n))
        path = tmp_path / f"cuts-{n}.json"
        engine.save_fitted(path)
        again = fresh().load_fitted(path)
        sid, key = PERCENTILE
        assert again.fitted_[sid]["cuts"][key] == engine.fitted_[sid]["cuts"][key]
        assert "ranks" in engine.fitted_[sid]["cuts"][key]
        sizes.append(path.stat().st_size)
    assert abs(sizes[1] - sizes[0]) < 0.1 * sizes[0]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda c: c.update(ranks=c["ranks"][:-1]), "'ranks' has"),
        (lambda c: c.update(ranks=list(reversed(c["ranks"]))), "'ranks' must rise"),
        (lambda c: c.update(count=c["count"] + 1), "'ranks' must rise"),
        (lambda c: c.update(values=[c["values"][0], *c["values"][:-1]]), "distinct"),
        (lambda c: c.update(ranks=[0, *c["ranks"][1:]]), "'ranks' must rise"),
    ],
)
def test_a_damaged_summary_is_refused(fitted: dict[str, Any], change: Callable[[dict[str, Any]], None], fragment: str) -> None:
    data = _summary_file(fitted, 20_000)
    sid, key = PERCENTILE
    change(data[sid]["cuts"][key])
    with pytest.raises(cr.FittedFileError, match=fragment) as info:
        blank().load_fitted(data)
    assert info.value.key == f"{sid}.cuts.{key}"


def test_a_ranked_cut_other_than_percentile_is_refused(fitted: dict[str, Any]) -> None:
    data = copy.deepcopy(fitted)
    data[PYRAMID]["cuts"][CUT]["ranks"] = [1]
    with pytest.raises(cr.FittedFileError, match="has no 'values' or 'ranks'"):
        blank().load_fitted(data)
