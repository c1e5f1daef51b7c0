"""The decision store: an append-only log, grade history, delta feed, replay
and period jobs — on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import customer_rules as cr
from customer_rules.store import HEAD, decision_id
from customer_rules.store.schema import metadata

sa = pytest.importorskip("sqlalchemy", reason="the decision store needs the 'store' extra")

AS_OF = cr.SAMPLE_AS_OF
PG_URL = os.environ.get("CUSTOMER_RULES_TEST_PG")
ROOT = Path(__file__).resolve().parents[1]

TIER = """
id: tier
version: "1"
hit: first
labels:
  - {id: key, zh: 重点客户, en: Key account}
  - {id: regular, zh: 普通客户, en: Regular}
rules:
  - {id: big, when: value.revenue_12m >= 500000, then: key}
default: regular
stability: {min_days: 90, margin: 0.05}
"""


def _fresh_pg(url: str) -> str:
    """A new empty database on the test server, so tests do not see each other."""
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"cr_{os.getpid()}_{time.monotonic_ns()}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'grades.db'}"
    if not PG_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must provide a PostgreSQL server: set CUSTOMER_RULES_TEST_PG (.ci/run does)")
        pytest.skip("no PostgreSQL server: set CUSTOMER_RULES_TEST_PG=postgresql+psycopg://user:pw@host/db")
    return _fresh_pg(PG_URL)


@pytest.fixture(scope="module")
def engine() -> cr.Engine:
    eng = cr.Engine(load_entry_points=False)
    eng.fit(cr.sample_customers(300), as_of=AS_OF)
    return eng


def tier_engine() -> cr.Engine:
    return cr.Engine([cr.load_policy(TIER, format="yaml")], load_entry_points=False)


def customer(cid: str, revenue: float, **extra: Any) -> dict[str, Any]:
    return {"id": cid, "name": f"Customer {cid}", "value": {"revenue_12m": revenue}, **extra}


# -- schema and migrations ----------------------------------------------------------
def test_a_new_store_is_created_at_the_newest_schema_and_matches_the_metadata(url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    store = cr.DecisionStore(url)
    assert store.revision == HEAD
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": "cr_alembic_version"})
        diffs = [d for d in compare_metadata(ctx, metadata) if "cr_alembic_version" not in str(d)]
    assert diffs == []


def test_an_older_store_is_migrated_and_keeps_its_decisions(url: str) -> None:
    store = cr.DecisionStore.__new__(cr.DecisionStore)
    # open a store at the first revision only, as an older library left it
    store.url = url
    store.engine = sa.create_engine(url)
    store.upgrade("0001")
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO cr_blobs (hash, kind, body) VALUES ('p', 'policy', '{}')"
        )
        conn.execute(
            sa.text(
                "INSERT INTO cr_decisions (id, customer_id, scheme, period, as_of, label, policy_id,"
                " policy_version, policy_hash, backend, library_version, logged_at)"
                " VALUES ('d1', 'C1', 'tier', '2026Q3', :d, 'key', 'tier', '1', 'p', 'python', '0.0.9', :t)"
            ),
            {"d": dt.date(2026, 9, 30), "t": dt.datetime(2026, 9, 30, tzinfo=dt.UTC)},
        )
    store.engine.dispose()
    with pytest.raises(cr.StoreError, match="migrate=True"):
        cr.DecisionStore(url, migrate=False)
    reopened = cr.DecisionStore(url)
    assert reopened.revision == HEAD
    assert [d.label for d in reopened.history("C1")] == ["key"]
    # ids are the key written out now; the migrated row is found by its new id
    assert reopened.decision(decision_id("2026Q3", "C1", "tier")).library_version == "0.0.9"


def test_migration_0005_moves_a_records_input_from_its_batch_to_its_decision(url: str) -> None:
    store = cr.DecisionStore.__new__(cr.DecisionStore)
    store.url = url
    store.engine = sa.create_engine(url)
    store.upgrade("0004")
    # as 0004 logged them: a profile's decision whose batch names the record's input,
    # and a table's decision whose batch names the table (the decision its row)
    policy = {"policy": cr.load_policy(TIER, format="yaml").model_dump(mode="json", exclude_none=True), "params": {}}
    record = {"record": customer("C1", 520_000)}
    with store.engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO cr_blobs (hash, kind, body) VALUES ('p', 'policy', :p), ('i', 'input', :i)"),
            {"p": json.dumps(policy), "i": json.dumps(record)},
        )
        conn.exec_driver_sql("INSERT INTO cr_blobs (hash, kind, body) VALUES ('t', 'table', NULL)")
        for bid, inp in ((1, "i"), (2, "t")):
            conn.execute(
                sa.text(
                    "INSERT INTO cr_batches (id, scheme, period, as_of, policy_id, policy_version, policy_hash,"
                    " backend, library_version, input_hash, logged_at)"
                    " VALUES (:b, 'tier', '2026Q4', :d, 'tier', '1', 'p', 'python', '0.0.9', :inp, :t)"
                ),
                {"b": bid, "inp": inp, "d": AS_OF, "t": dt.datetime(2026, 12, 1, tzinfo=dt.UTC)},
            )
        conn.exec_driver_sql(
            "INSERT INTO cr_decisions (customer_id, scheme, period, batch_id, label, input_row)"
            " VALUES ('C1', 'tier', '2026Q4', 1, 'key', NULL), ('C2', 'tier', '2026Q4', 2, 'regular', 7)"
        )
    store.engine.dispose()
    reopened = cr.DecisionStore(url)
    assert reopened.revision == HEAD
    one = reopened.decision(decision_id("2026Q4", "C1", "tier"))
    two = reopened.decision(decision_id("2026Q4", "C2", "tier"))
    assert (one.input_hash, one.input_row) == ("i", None)
    assert (two.input_hash, two.input_row) == ("t", 7)
    with reopened.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT customer_id, input_hash FROM cr_decisions ORDER BY customer_id").all()
        held = conn.exec_driver_sql("SELECT id, input_hash FROM cr_batches ORDER BY id").all()
    assert [tuple(r) for r in rows] == [("C1", "i"), ("C2", None)]
    assert [tuple(r) for r in held] == [(1, None), (2, "t")]
    assert reopened.replay(one.id, engine=tier_engine()).label == "key"


def test_a_store_from_a_newer_library_is_refused(url: str) -> None:
    store = cr.DecisionStore(url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE cr_alembic_version SET version_num = '0099'")
    with pytest.raises(cr.StoreError, match="newer version"):
        cr.DecisionStore(url)


def test_a_bad_url_is_a_store_error() -> None:
    with pytest.raises(cr.StoreError):
        cr.DecisionStore("nosuchdialect://x")


# -- the log ---------------------------------------------------------------------------
def test_logging_is_append_only_and_idempotent_per_period(url: str, engine: cr.Engine) -> None:
    store = cr.DecisionStore(url)
    customers = cr.sample_customers(40)
    batch = engine.classify_many(customers, as_of=AS_OF)
    n = sum(len(p.decisions) for p in batch.profiles)
    assert store.log(batch.profiles, period="2026Q4") == n
    assert store.log(batch.profiles, period="2026Q4") == 0  # same period again adds nothing
    assert store.log(batch.profiles, period="2027Q1") == n
    first = customers[0].id
    assert len(store.history(first)) == 2 * len(batch.profiles[0].decisions)
    d = store.history(first, scheme="bird_style")[0]
    assert d.id == decision_id("2026Q4", first, "bird_style")
    assert store.decision(d.id) == d
    # an id is the key written out, whatever characters a customer id holds
    odd = decision_id("2026/Q4", "C 1/ü%", "tier")
    assert odd.count("/") == 2
    with pytest.raises(cr.StoreError, match="no decision"):
        store.decision(odd)


def test_profiles_logged_together_share_one_batch_per_scheme(url: str, engine: cr.Engine) -> None:
    # each decision names its own customer's input, so the batch need not:
    # 40 profiles are one batch per scheme, not one per decision
    store = cr.DecisionStore(url)
    batch = engine.classify_many(cr.sample_customers(40), as_of=AS_OF)
    store.log(batch.profiles, period="2026Q4")
    with store.engine.connect() as conn:
        n_batches = conn.exec_driver_sql("SELECT count(*) FROM cr_batches").scalar()
        n_inputs = conn.exec_driver_sql("SELECT count(DISTINCT input_hash) FROM cr_decisions").scalar()
    assert n_batches == len(engine.schemes)
    assert n_inputs == len(batch.profiles)
    for profile in (batch.profiles[0], batch.profiles[-1]):
        (given,) = {d.input_hash for d in store.history(profile.customer_id)}
        assert given is not None and store.blob(given)["record"]["id"] == profile.customer_id


def test_a_logged_decision_names_its_policy_cutoffs_backend_and_version(url: str, engine: cr.Engine) -> None:
    store = cr.DecisionStore(url)
    profile = engine.classify(cr.sample_customers(5)[2], as_of=AS_OF, store=store, period="2026Q4")
    rows = {d.scheme: d for d in store.history(profile.customer_id)}
    assert set(rows) == set(profile.decisions)
    for sid, logged in rows.items():
        decision = profile[sid]
        assert (logged.label, logged.rule) == (decision.label, decision.rule)
        assert (logged.policy_id, logged.policy_version) == (decision.policy_id, decision.policy_version)
        assert logged.backend == "python" and logged.library_version == cr.__version__
        stored = store.blob(logged.policy_hash)
        assert stored["policy"]["id"] == sid
        assert stored["params"] == json.loads(json.dumps(engine.params(sid), default=str))
        assert set(logged.missing) == set(decision.missing)
    pyramid = rows["value_pyramid"]
    assert pyramid.fitted_hash is not None
    assert set(store.blob(pyramid.fitted_hash)) == set(engine.fitted_["value_pyramid"]["cuts"])
    assert rows["bird_style"].fitted_hash is None
    # content-addressed: one policy blob per scheme, however many decisions
    engine.classify(cr.sample_customers(6)[5], as_of=AS_OF, store=store, period="2026Q4")
    with store.engine.connect() as conn:
        n_policies = conn.exec_driver_sql("SELECT count(*) FROM cr_blobs WHERE kind = 'policy'").scalar()
    assert n_policies == len(engine.schemes)


def test_overrides_are_logged_with_author_reason_and_expiry(url: str) -> None:
    class Overrides:
        @cr.hookimpl
        def adjust_decision(self, decision: cr.Decision, customer: Any, **_: Any) -> cr.Override | None:
            if decision.scheme == "tier" and customer.id == "C2":
                return cr.Override(
                    label="key", author="li.wei", reason="strategic account", expires=dt.date(2027, 3, 31)
                )
            return None

    eng = cr.Engine([cr.load_policy(TIER, format="yaml")], plugins=[Overrides()], load_entry_points=False)
    store = cr.DecisionStore(url)
    eng.classify(customer("C2", 1000), as_of=AS_OF, store=store)
    (logged,) = store.history("C2", "tier")
    assert logged.label == "key"
    assert logged.override == {"author": "li.wei", "reason": "strategic account", "expires": dt.date(2027, 3, 31)}
    assert logged.note is not None and "li.wei" in logged.note


def test_masked_fields_are_hashed_or_dropped_in_inputs_and_evidence(url: str) -> None:
    store = cr.DecisionStore(url, mask={"name": "drop", "value.revenue_12m": "hash"}, mask_key="secret")
    eng = tier_engine()
    eng.classify(customer("C3", 600_000), as_of=AS_OF, store=store)
    (logged,) = store.history("C3", "tier")
    assert logged.label == "key"
    assert logged.evidence["value.revenue_12m"].startswith("hmac-sha256:")
    with store.engine.connect() as conn:
        bodies = [b for (b,) in conn.exec_driver_sql("SELECT body FROM cr_blobs WHERE kind = 'input'")]
    assert len(bodies) == 1 and "Customer C3" not in bodies[0] and "600000" not in bodies[0]
    # the rule read a masked input: replaying it cannot be faithful, so it is refused
    with pytest.raises(cr.StoreError, match=r"masked input\(s\) value.revenue_12m"):
        store.replay(logged.id, engine=eng)


# -- history, hysteresis and the delta feed ---------------------------------------------------
def test_hysteresis_reads_the_previous_grade_from_the_store(url: str) -> None:
    store = cr.DecisionStore(url)
    eng = tier_engine()
    q3, q4 = dt.date(2026, 9, 30), dt.date(2026, 11, 22)
    assert eng.classify(customer("C1", 600_000), as_of=q3, store=store, period="2026Q3")["tier"].label == "key"
    # revenue fell below the threshold 53 days later: the store's grade history holds it
    held = eng.classify(customer("C1", 450_000), as_of=q4, store=store, period="2026Q4")["tier"]
    assert held.label == "key" and held.note is not None and "held 53 of the 90 days" in held.note
    # without the store the record has no history and the rules decide alone
    assert eng.classify(customer("C1", 450_000), as_of=q4)["tier"].label == "regular"
    assert [g.label for g in store.history("C1", "tier")] == ["key", "key"]
    # the same through a table: classify_frame reads the grade history from the store too
    table = pl.DataFrame({"id": ["C1"], "value.revenue_12m": [450_000.0]})
    out = eng.classify_frame(table, as_of=q4, store=store, period="2026Q4b")
    assert out["tier"].to_list() == ["key"]


def test_changes_lists_who_moved_from_what_to_what(url: str) -> None:
    store = cr.DecisionStore(url)
    eng = cr.Engine([cr.load_policy(TIER.replace("stability: {min_days: 90, margin: 0.05}", ""), format="yaml")],
                    load_entry_points=False)
    q3 = [customer("A", 600_000), customer("B", 100), customer("C", 700_000)]
    q4 = [customer("A", 100), customer("B", 200), customer("C", 800_000), customer("D", 900_000)]
    for period, day, rows in (("2026Q3", dt.date(2026, 9, 30), q3), ("2026Q4", dt.date(2026, 12, 31), q4)):
        for c in rows:
            eng.classify(c, as_of=day, store=store, period=period)
    changes = store.changes("2026Q3", "2026Q4", schemes=["tier"])
    got = sorted(zip(changes["customer_id"], changes["label_from"], changes["label_to"], strict=True),
                 key=lambda r: r[0])
    assert got == [("A", "key", "regular"), ("D", None, "key")]
    assert changes["decision_id"][0] == decision_id("2026Q4", "A", "tier")
    # explain_change works on two logged decisions
    before, after = (d.to_decision() for d in store.history("A", "tier"))
    assert (before.label, after.label) == ("key", "regular")
    change = cr.explain_change(before, after)
    assert change.changed and change.moved["value.revenue_12m"] == (600000, 100)
    assert "revenue (12 months) CNY 600,000 → CNY 100" in change.text("en")


# -- replay ----------------------------------------------------------------------------------
def test_replay_returns_the_logged_decision_for_every_builtin_scheme(url: str, engine: cr.Engine) -> None:
    store = cr.DecisionStore(url)
    batch = engine.classify_many(cr.sample_customers(30), as_of=AS_OF)
    store.log(batch.profiles, period="2026Q4")
    seen: set[str] = set()
    for profile in batch.profiles:
        for sid, decision in profile.decisions.items():
            replayed = store.replay(decision_id("2026Q4", str(profile.customer_id), sid), engine=engine)
            assert (replayed.label, replayed.rule, replayed.note) == (decision.label, decision.rule, decision.note)
            assert dict(replayed.evidence) == dict(decision.evidence)
            seen.add(sid)
    assert seen == set(engine.schemes)


def test_replay_uses_the_logged_policy_not_todays(url: str) -> None:
    store = cr.DecisionStore(url)
    old = tier_engine()
    old.classify(customer("C5", 520_000), as_of=AS_OF, store=store)
    (logged,) = store.history("C5", "tier")
    assert logged.label == "key"
    # the threshold has since been raised; the replay still applies the logged version
    new = cr.Engine([cr.load_policy(TIER.replace("500000", "550000"), format="yaml")], load_entry_points=False)
    assert new.decide("tier", customer("C5", 520_000), as_of=AS_OF).label == "regular"
    assert store.replay(logged.id, engine=new).label == "key"
    with pytest.raises(cr.StoreError, match="no decision"):
        store.replay(decision_id("2026Q4", "nobody", "tier"), engine=new)
    with pytest.raises(cr.StoreError, match="not a decision id"):
        store.replay("nope", engine=new)


def test_a_classified_table_is_logged_in_bulk_and_replays(url: str, engine: cr.Engine) -> None:
    store = cr.DecisionStore(url)
    customers = cr.sample_customers(80)
    table = cr.frame_from_records(customers)
    out = engine.classify_frame(table, as_of=AS_OF, store=store, period="2026Q4")
    n_schemes = len([s for s in engine.schemes if s in out.columns])
    with store.engine.connect() as conn:
        n = conn.exec_driver_sql("SELECT count(*) FROM cr_decisions").scalar()
    assert n == out.height * n_schemes
    # logging the same table again adds no decision and keeps no empty batch
    assert store.log(out, engine=engine, as_of=AS_OF, period="2026Q4") == 0
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM cr_batches").scalar() == n_schemes
    per_record = engine.classify_many(customers, as_of=AS_OF)
    by_id = {p.customer_id: p for p in per_record.profiles}
    for cid in out["id"].to_list()[:15]:
        for logged in store.history(cid):
            assert logged.backend == "frame/python"
            assert logged.label == by_id[cid][logged.scheme].label
            assert store.replay(logged.id, engine=engine).label == logged.label


# -- the period job ---------------------------------------------------------------------------
def test_regrade_is_idempotent(url: str, engine: cr.Engine) -> None:
    store = cr.DecisionStore(url)
    table = cr.frame_from_records(cr.sample_customers(50))
    first = store.regrade(engine, table, period="2026Q4", as_of=AS_OF)
    assert not first.skipped and first.rejected == 0 and first.written == 50 * len(engine.schemes)
    again = store.regrade(engine, table, period="2026Q4", as_of=AS_OF)
    assert again.skipped and again.written == 0
    assert [p["period"] for p in store.periods()] == ["2026Q4"]
    records = store.regrade(engine, cr.sample_customers(50), period="2027Q1", as_of=AS_OF)
    assert records.written == first.written


def _regrade_script(url: str, period: str, n: int, delay: float = 0.0) -> str:
    return f"""
import time, customer_rules as cr
from customer_rules.store import store as store_module
store = cr.DecisionStore({url!r})
engine = cr.Engine(load_entry_points=False)
schemes = ["bird_style", "lead_grade", "satisfaction"]
table = cr.frame_from_records(cr.sample_customers({n}))
write = store.__class__._write_batch
def slow_write(conn, batch, columns, rows):
    out = write(conn, batch, columns, rows)
    print("WRITTEN", flush=True)
    time.sleep({delay})
    return out
store.__class__._write_batch = staticmethod(slow_write)
r = store.regrade(engine, table, period={period!r}, as_of=cr.SAMPLE_AS_OF, schemes=schemes)
print("DONE", r.written, r.skipped, flush=True)
"""


def _decisions_in(url: str, period: str) -> int:
    eng = sa.create_engine(url)
    with eng.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM cr_decisions WHERE period = :p"), {"p": period}).scalar()
    eng.dispose()
    return int(n or 0)


def test_a_killed_regrade_leaves_the_whole_period_or_none(url: str) -> None:
    cr.DecisionStore(url).close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _regrade_script(url, "2026Q4", 120, delay=30)],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # rows are written, the transaction is not committed
    assert "WRITTEN" in line
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert _decisions_in(url, "2026Q4") == 0
    store = cr.DecisionStore(url)
    assert store.periods() == []
    # the period can then be run whole
    done = subprocess.run(
        [sys.executable, "-c", _regrade_script(url, "2026Q4", 120)],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    )
    assert "DONE" in done.stdout
    assert _decisions_in(url, "2026Q4") == store.periods()[0]["decisions"] > 0


def test_two_writers_lose_nothing_and_duplicate_nothing(url: str) -> None:
    cr.DecisionStore(url).close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    jobs = [("2026Q4", 0.5), ("2026Q4", 0.5), ("2027Q1", 0.5)]
    procs = [
        subprocess.Popen([sys.executable, "-c", _regrade_script(url, p, 60, delay=d)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for p, d in jobs
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    skipped = [o.split()[-1] for o, _ in outs]
    assert skipped.count("True") == 1  # one of the two 2026Q4 writers found it done
    store = cr.DecisionStore(url)
    q4, q1 = _decisions_in(url, "2026Q4"), _decisions_in(url, "2027Q1")
    assert q4 == q1 > 0
    assert {p["period"]: p["decisions"] for p in store.periods()} == {"2026Q4": q4, "2027Q1": q1}


# -- the command line -------------------------------------------------------------------------
def test_cli_regrade_and_changes(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from customer_rules.cli.main import cli

    url = f"sqlite:///{tmp_path / 'g.db'}"
    customers = cr.sample_customers(30)
    path = tmp_path / "customers.parquet"
    cr.frame_from_records(customers).write_parquet(path)
    runner = CliRunner()
    args = ["regrade", str(path), "--store", url, "--as-of", AS_OF.isoformat(), "--schemes", "bird_style"]
    r1 = runner.invoke(cli, [*args, "--period", "2026Q3"])
    assert r1.exit_code == 0, r1.output
    assert "2026Q3" in r1.output and "30" in r1.output
    again = runner.invoke(cli, [*args, "--period", "2026Q3"])
    assert again.exit_code == 0 and "already" in again.output
    changed = cr.frame_from_records(customers).with_columns(pl.lit("slow").alias("behaviour.speech_pace"))
    changed.write_parquet(path)
    assert runner.invoke(cli, [*args, "--period", "2026Q4"]).exit_code == 0
    out = tmp_path / "changes.csv"
    r3 = runner.invoke(cli, ["changes", "--store", url, "--from", "2026Q3", "--to", "2026Q4", "--out", str(out)])
    assert r3.exit_code == 0, r3.output
    feed = pl.read_csv(out)
    assert feed.columns == ["customer_id", "scheme", "label_from", "label_to", "rule_to", "decision_id"]
    expected = cr.DecisionStore(url).changes("2026Q3", "2026Q4")
    assert feed.height == expected.height > 0
