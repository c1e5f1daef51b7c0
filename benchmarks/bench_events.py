"""Event-stream throughput and memory: ``engine.stream()`` with the built-in
deal_stage, crisis and satisfaction rules, next to raw durable_rules ``post``
throughput for a 10-rule ruleset, measured in the same run on the same
machine; then the resident memory before and after a long stream.

    python benchmarks/bench_events.py [--customers 2000] [--repeat 3] [--rss-events 200000]

Streams run on the python backend (the default) and on durable_rules
(``--backend``; durable where it is installed).

Throughput: the same number of events goes through each contender; runs
are interleaved (raw, stream, raw, stream, ...) and the best run of each
is kept, so a busy machine slows both alike. Setup is outside the timing
for both: the raw contender's host and ruleset are registered once, and
so are the stream's rulesets and charts (an engine compiles them for its
first stream and its later streams share them). Each timed stream run
still makes a new stream (``engine.stream()``, with no customers and no
remembered look-up answers), so all per-event work is timed.

* raw durable_rules ``post``: a ``durable.engine.Host`` with a 10-rule
  ruleset (one rule per event kind, a trivial action), one ``post`` per
  event; exactly one rule fires and its action has run when ``post``
  returns. (``post_batch`` is faster but returns before ~99% of the
  actions have run, so it is not a like-for-like comparison; it is printed
  for reference.)
* the stream: ``EventStream.post`` per event, events given as dicts
  (validated by pydantic) and as already-validated models; it maintains
  each customer's record, runs the deal-stage statechart, decides crisis
  and satisfaction for customers with cases, runs the crisis phase charts
  and calls the escalate hook; and the deal events alone through a stream
  with the stage chart only.

Memory: ``--rss-events`` events (customers arriving over the years, each
with a sales story and a third with a complaint) go through a stream that
releases customers idle for 120 days; RSS is read from /proc before and
after, and at every 10% (its peak is printed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import customer_rules as cr
from customer_rules.streams.events import DEAL_EVENTS, parse_event, sample_events


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import resource

    return pages * resource.getpagesize() / 1e6


def raw_durable(
    n_kinds: int = 10,
) -> tuple[Callable[[dict[str, Any]], Any], Callable[[list[dict[str, Any]]], Any]]:
    """A durable_rules host with a 10-rule ruleset: (post one, post a batch)."""
    import durable.engine as de

    fired = [0]

    def act(c: Any) -> None:
        fired[0] += 1

    rules = {f"r{i}": {"all": [{"m": {"kind": i}}], "run": act} for i in range(n_kinds)}
    host = de.Host()
    host.register_rulesets({"raw_bench": rules})
    return (lambda m: host.post("raw_bench", m)), (lambda ms: host.post_batch("raw_bench", ms))


def raw_messages(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One message per event, for the raw ruleset (JSON values, 500 sessions)."""
    kinds = {name: i % 10 for i, name in enumerate(sorted({e["type"] for e in events}))}
    return [
        {
            "sid": str(i % 500),
            "kind": kinds[e["type"]],
            "customer": e["customer_id"],
            "at": e["at"].toordinal(),
        }
        for i, e in enumerate(events)
    ]


def timed(fn: Callable[[], Any]) -> float:
    gc.collect()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def throughput(customers: int, repeat: int, backends: list[str]) -> dict[str, float]:
    events = sample_events(customers, seed=11)
    models = [parse_event(e) for e in events]
    n = len(events)
    print(
        f"events: {n} for {customers} customers; mix: "
        + ", ".join(f"{k} {v}" for k, v in Counter(e["type"] for e in events).most_common())
    )
    engine = cr.Engine(load_entry_points=False)
    deal = [e for e in models if e.type in DEAL_EVENTS]
    contenders: list[tuple[str, Callable[[], None], int]] = []
    serial = iter(range(1 << 62))  # a fresh id per message: durable refuses a message it has seen
    raw = "durable" in backends
    if raw:
        # setup, outside the timing for both contenders: the raw host and its ruleset
        messages = raw_messages(events)
        post_one, post_batch = raw_durable()

        def run_raw() -> None:
            for m in messages:
                post_one({**m, "id": next(serial)})

        contenders.append(("raw durable post", run_raw, n))
    for backend in backends:
        # the engine's stream rulesets and charts are compiled by its first stream, then shared
        engine.stream(backend=backend)
        engine.stream(backend=backend, charts=["deal_stage"])

        def run_stream_dicts(backend: str = backend) -> None:
            stream = engine.stream(backend=backend)
            for e in events:
                stream.post(e)

        def run_stream_models(backend: str = backend) -> None:
            stream = engine.stream(backend=backend)
            for e in models:
                stream.post(e)

        def run_stage_only(backend: str = backend) -> None:
            stream = engine.stream(backend=backend, charts=["deal_stage"])
            for e in deal:
                stream.post(e)

        contenders += [
            (f"{backend} stream (dict events)", run_stream_dicts, n),
            (f"{backend} stream (validated events)", run_stream_models, n),
            (f"{backend} stream, deal events and stage chart only", run_stage_only, len(deal)),
        ]
    if raw:

        def run_batch() -> None:
            for i in range(0, n, 1000):
                post_batch([{**m, "id": next(serial)} for m in messages[i : i + 1000]])

        contenders.append(("raw durable post_batch (actions not awaited)", run_batch, n))
    best: dict[str, float] = {}
    for _ in range(repeat):
        for name, fn, count in contenders:
            rate = count / timed(fn)
            best[name] = max(best.get(name, 0.0), rate)
    return best


def long_stream(total: int, idle_days: int = 120, backend: str = "python") -> dict[str, Any]:
    """Post ``total`` events (generated lazily, in time order) and watch RSS."""
    chunk = 1000  # customers per cohort; cohorts start 400 days apart, so they never overlap in time

    def events() -> Iterator[dict[str, Any]]:
        k = 0
        made = 0
        while made < total:
            start = dt.date(2000, 1, 1) + dt.timedelta(days=400 * k)
            for e in sample_events(chunk, seed=100 + k, start=start, prefix=f"L{k}-"):
                yield e
                made += 1
                if made >= total:
                    return
            k += 1

    engine = cr.Engine(load_entry_points=False)
    stream = engine.stream(idle_days=idle_days, backend=backend)
    # warm up (first rulesets, caches) before the first reading
    for e in sample_events(50, seed=1, start=dt.date(1999, 1, 1), prefix="W"):
        stream.post(e)
    for cid in stream.customers():
        stream.release(cid)
    gc.collect()
    before = rss_mb()
    peak = before
    readings = []
    t0 = time.perf_counter()
    posted = 0
    for e in events():
        stream.post(e)
        posted += 1
        if posted % (total // 10) == 0:
            now = rss_mb()
            peak = max(peak, now)
            readings.append(round(now, 1))
    seconds = time.perf_counter() - t0
    gc.collect()
    after = rss_mb()
    return {
        "events": posted,
        "seconds": seconds,
        "rss_before": before,
        "rss_after": after,
        "rss_peak": peak,
        "readings": readings,
        "sessions": stream.stats(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=2000, help="0: skip the throughput runs")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rss-events", type=int, default=200_000)
    ap.add_argument(
        "--backend",
        choices=["python", "durable", "both"],
        default="both",
        help="stream backend(s) to run; durable ones are left out where durable_rules is not installed",
    )
    args = ap.parse_args()
    from customer_rules.backends.durable import available

    backends = ["python", "durable"] if args.backend == "both" else [args.backend]
    if not available():
        backends = [b for b in backends if b != "durable"]
        print(f"Python {sys.version.split()[0]}, durable_rules not installed: python streams only")
    else:
        import durable

        print(f"Python {sys.version.split()[0]}, durable_rules {getattr(durable, '__version__', '2.0.28')}")
    if args.customers and backends:  # 0: the memory run only
        best = throughput(args.customers, args.repeat, backends)
        raw = best.get("raw durable post")
        print()
        print(f"{'contender':56s} {'events/s':>10s} {'vs raw post' if raw else '':>12s}")
        for name, rate in best.items():
            print(f"{name:56s} {rate:10.0f} {f'{rate / raw:11.0%}' if raw else ''}")
    for backend in backends if args.rss_events else []:
        print()
        r = long_stream(args.rss_events, backend=backend)
        print(
            f"{backend} long stream: {r['events']} events in {r['seconds']:.1f}s"
            f" ({r['events'] / r['seconds']:.0f}/s); RSS before {r['rss_before']:.1f} MB,"
            f" after {r['rss_after']:.1f} MB, peak {r['rss_peak']:.1f} MB"
        )
        print(f"  RSS at each 10%: {r['readings']}")
        print(f"  held at the end: {r['sessions']}")


if __name__ == "__main__":
    main()
