"""Loopback load test of the HTTP decision service (``customer-rules serve``).

    python benchmarks/bench_serve.py [--seconds 3] [--batch-size 50] [--clients 1,8,32]

Starts ``customer-rules serve`` in its own process on 127.0.0.1 (a free
port; traffic never leaves the machine), waits until ``/readyz`` answers,
then for single (``POST /v1/classify``) and batch (``POST
/v1/classify/batch``) classification and each number of concurrent
clients runs the clients for ``--seconds`` (each client sends its next
request when the last one is answered) and prints requests/s, records/s
and the p50/p99 latency. Beside it, the in-process rate of the same engine
calls (``engine.classify`` and ``engine.classify_many``) is the reference.

Nothing may be lost: every request must be answered 200 and, for batches,
results + rejected must equal the rows sent; the run fails otherwise. The
server is stopped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

import customer_rules as cr

HOST = "127.0.0.1"  # loopback only


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def start_server(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(cr.__file__).parent.parent)}
    cmd = [sys.executable, "-m", "customer_rules", "serve", "--host", HOST, "--port", str(port)]
    cmd += ["--log-level", "warning", "--max-batch", "10000"]
    proc = subprocess.Popen(cmd, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{HOST}:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def load(url: str, body: dict[str, Any], rows: int, clients: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    stop = time.perf_counter() + seconds

    async def client(http: httpx.AsyncClient) -> None:
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            r = await http.post(url, json=body)
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 200:
                raise SystemExit(f"lost a request: {r.status_code} {r.text[:200]}")
            data = r.json()
            got = len(data["results"]) + len(data["rejected"]) if "results" in data else 1
            if got != rows:
                raise SystemExit(f"rows in {rows} != rows out {got}")

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    n = len(latencies)
    return {
        "requests": n,
        "rps": n / elapsed,
        "records_s": n * rows / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * pct(latencies, 0.99),
    }


def in_process(engine: Any, records: list[dict[str, Any]], batch: int, seconds: float) -> tuple[float, float]:
    """Records/s of engine.classify and engine.classify_many, same inputs, in this process."""
    as_of = cr.SAMPLE_AS_OF
    n, stop, i = 0, time.perf_counter() + seconds, 0
    t0 = time.perf_counter()
    while time.perf_counter() < stop:
        engine.classify(records[i % len(records)], as_of=as_of)
        n, i = n + 1, i + 1
    single = n / (time.perf_counter() - t0)
    n, stop = 0, time.perf_counter() + seconds
    t0 = time.perf_counter()
    while time.perf_counter() < stop:
        engine.classify_many(records[:batch], as_of=as_of)
        n += batch
    return single, n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=3.0, help="Length of each measurement.")
    parser.add_argument("--batch-size", type=int, default=50, help="Records in a batch request.")
    parser.add_argument("--clients", default="1,8,32", help="Numbers of concurrent clients.")
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    records = [c.model_dump(mode="json") for c in cr.sample_customers(max(args.batch_size, 50))]
    single_ref, batch_ref = in_process(cr.Engine(), records, args.batch_size, args.seconds)
    print(
        f"in-process reference: classify {single_ref:,.0f} records/s, "
        f"classify_many({args.batch_size}) {batch_ref:,.0f} records/s"
    )
    port = free_port()
    proc = start_server(port)
    try:
        base = f"http://{HOST}:{port}"
        as_of = cr.SAMPLE_AS_OF.isoformat()
        kinds = {
            "single": (f"{base}/v1/classify", {"record": records[0], "as_of": as_of}, 1, single_ref),
            "batch": (
                f"{base}/v1/classify/batch",
                {"records": records[: args.batch_size], "as_of": as_of},
                args.batch_size,
                batch_ref,
            ),
        }
        print(
            f"{'kind':7} {'clients':>7} {'requests':>9} {'req/s':>8} {'records/s':>10} "
            f"{'vs in-proc':>10} {'p50 ms':>8} {'p99 ms':>8}"
        )
        for kind, (url, body, rows, ref) in kinds.items():
            for c in clients:
                m = asyncio.run(load(url, body, rows, c, args.seconds))
                print(
                    f"{kind:7} {c:>7} {m['requests']:>9.0f} {m['rps']:>8.1f} {m['records_s']:>10.0f} "
                    f"{m['records_s'] / ref:>9.0%} {m['p50_ms']:>8.1f} {m['p99_ms']:>8.1f}"
                )
        print("every request answered 200; rows in = results + rejected for every batch")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
