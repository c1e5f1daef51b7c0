"""The HTTP decision service (customer_rules.serve): FastAPI's test client,
a real uvicorn process on 127.0.0.1, and a bounded schemathesis run."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import customer_rules as cr
from customer_rules.serve import ServeConfig, ServeConfigError, create_app, hash_token

AS_OF = cr.SAMPLE_AS_OF.isoformat()
ENGINE = cr.Engine()
RECORDS = [c.model_dump(mode="json") for c in cr.sample_customers(12)]
TOKEN = "s3cret-token"
BIRDS = Path(__file__).parent / "policies" / "clean" / "birds_complete.yaml"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(ENGINE, config=ServeConfig())) as c:
        yield c


@pytest.fixture(scope="module")
def guarded() -> Iterator[TestClient]:
    config = ServeConfig(token_sha256=(hash_token(TOKEN),), max_body_bytes=20_000, max_batch=5)
    with TestClient(create_app(ENGINE, config=config)) as c:
        yield c


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def is_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


# -- classify ------------------------------------------------------------------------


def test_classify_one_matches_the_engine_and_names_policy_versions(client: TestClient) -> None:
    r = client.post("/v1/classify", json={"record": RECORDS[0], "as_of": AS_OF})
    assert r.status_code == 200, r.text
    body = r.json()
    want = ENGINE.classify(RECORDS[0], as_of=cr.SAMPLE_AS_OF)
    assert body["labels"] == want.labels
    assert body["record_id"] == RECORDS[0]["id"]
    assert body["policies"] == {sid: s.policy.version for sid, s in ENGINE.schemes.items()}
    assert body["generation"] == 1
    by_scheme = {d["scheme"]: d for d in body["decisions"]}
    for sid, decision in want.items():
        assert by_scheme[sid]["rule"] == decision.rule
        assert by_scheme[sid]["policy"] == {"id": decision.policy_id, "version": decision.policy_version}
        assert by_scheme[sid]["explanation"] is None
    assert body["skipped"] == dict(want.skipped)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_classify_explains_short_and_full(client: TestClient, lang: str) -> None:
    want = ENGINE.classify(RECORDS[1], as_of=cr.SAMPLE_AS_OF, schemes=["crisis"])["crisis"]
    for level, text in (("short", want.because(lang)), ("full", want.explain(lang))):
        r = client.post(
            "/v1/classify",
            json={
                "record": RECORDS[1],
                "as_of": AS_OF,
                "schemes": ["crisis"],
                "lang": lang,
                "explain": level,
            },
        )
        (decision,) = r.json()["decisions"]
        assert decision["explanation"] == text
        assert decision["label_name"] == want.label_name(lang)


def test_classify_needs_as_of_and_a_valid_record(client: TestClient) -> None:
    body = is_problem(client.post("/v1/classify", json={"record": RECORDS[0]}), 422)
    assert ["body", "as_of"] in [e["loc"] for e in body["errors"]]
    bad = {**RECORDS[0], "value": {"revenue_12m": "lots"}}
    body = is_problem(client.post("/v1/classify", json={"record": bad, "as_of": AS_OF}), 422)
    assert "revenue_12m" in body["detail"] and RECORDS[0]["id"] in body["detail"]
    body = is_problem(
        client.post("/v1/classify", json={"record": RECORDS[0], "as_of": AS_OF, "schemes": ["nope"]}), 422
    )
    assert "nope" in body["detail"]
    is_problem(
        client.post("/v1/classify", content=b"{not json", headers={"content-type": "application/json"}), 422
    )


# -- batch ---------------------------------------------------------------------------

ROW = st.one_of(
    st.sampled_from(RECORDS),
    st.sampled_from([{"id": 5}, 3, None, "x", {"id": "b", "value": {"revenue_12m": "lots"}}]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ROW, max_size=8))
def test_batch_rows_in_equal_results_plus_rejected(client: TestClient, rows: list[Any]) -> None:
    r = client.post("/v1/classify/batch", json={"records": rows, "as_of": AS_OF, "schemes": ["crisis"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["results"]) + len(body["rejected"]) == len(rows)
    bad = {x["row"] for x in body["rejected"]}
    good = [row for i, row in enumerate(rows) if i not in bad]
    assert [p["record_id"] for p in body["results"]] == [row["id"] for row in good]
    for row in good:
        assert row in RECORDS


def test_batch_ndjson_rejects_bad_lines_and_keeps_row_numbers(client: TestClient) -> None:
    lines = [json.dumps(RECORDS[0]), "{broken", json.dumps({"id": 7}), "", json.dumps(RECORDS[2])]
    r = client.post(
        f"/v1/classify/batch?as_of={AS_OF}&schemes=crisis,satisfaction&explain=short",
        content="\n".join(lines).encode(),
        headers={"content-type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [p["record_id"] for p in body["results"]] == [RECORDS[0]["id"], RECORDS[2]["id"]]
    assert [x["row"] for x in body["rejected"]] == [1, 2]
    assert "not JSON" in body["rejected"][0]["reason"]
    assert set(body["results"][0]["labels"]) == {"crisis", "satisfaction"}
    is_problem(
        client.post("/v1/classify/batch", content=b"{}", headers={"content-type": "application/x-ndjson"}),
        422,
    )
    is_problem(client.post("/v1/classify/batch", content=b"a,b", headers={"content-type": "text/csv"}), 415)


def test_batch_size_limit(guarded: TestClient) -> None:
    body = is_problem(
        guarded.post(
            "/v1/classify/batch",
            json={"records": [{"id": str(i)} for i in range(6)], "as_of": AS_OF},
            headers=bearer(),
        ),
        413,
    )
    assert "at most 5" in body["detail"]
    ok = guarded.post("/v1/classify/batch", json={"records": RECORDS[:5], "as_of": AS_OF}, headers=bearer())
    assert ok.status_code == 200


def test_time_limit_answers_503() -> None:
    with TestClient(
        create_app(ENGINE, config=ServeConfig(time_limit_s=1e-6, max_batch=5000, max_body_bytes=10_000_000))
    ) as c:
        r = c.post("/v1/classify/batch", json={"records": RECORDS * 20, "as_of": AS_OF})
        assert "longer than" in is_problem(r, 503)["detail"]


# -- schemes, health, metrics ---------------------------------------------------------


def test_schemes_list_and_detail(client: TestClient) -> None:
    listed = client.get("/v1/schemes").json()
    assert [s["id"] for s in listed] == list(ENGINE.schemes)
    crisis = client.get("/v1/schemes/crisis", params={"lang": "zh"}).json()
    assert crisis["labels"] == ["G", "F", "none"]
    assert crisis["label_names"][0] == {"id": "G", "name": "危机事件"}
    assert crisis["params"] == ENGINE.params("crisis")
    assert crisis["version"] == ENGINE.schemes["crisis"].policy.version
    vp = client.get("/v1/schemes/value_pyramid").json()
    assert vp["population_relative"] and not vp["fitted"]
    is_problem(client.get("/v1/schemes/nope"), 404)


def test_health_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "generation": None, "schemes": None}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["schemes"] == len(ENGINE.schemes)
    client.post("/v1/classify", json={"record": RECORDS[0], "as_of": AS_OF, "schemes": ["crisis"]})
    text = client.get("/metrics").text
    assert 'customer_rules_http_requests_total{method="POST",route="/v1/classify",status="200"}' in text
    assert "customer_rules_http_request_seconds_bucket" in text
    assert 'customer_rules_decisions_total{label="' in text


def test_openapi_is_made_from_the_models(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert {"ClassifyRequest", "ClassifyResponse", "BatchResponse", "Problem"} <= set(
        doc["components"]["schemas"]
    )
    batch = doc["paths"]["/v1/classify/batch"]["post"]["requestBody"]["content"]
    assert set(batch) == {"application/json", "application/x-ndjson"}
    assert "/v1/policies" not in doc["paths"]  # no policy upload
    assert not [p for p in doc["paths"] if "upload" in p]


# -- safe by default -------------------------------------------------------------------


def test_tokens_no_token_wrong_token_right_token(guarded: TestClient) -> None:
    body = {"record": RECORDS[0], "as_of": AS_OF, "schemes": ["crisis"]}
    r = guarded.post("/v1/classify", json=body)
    is_problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    is_problem(guarded.post("/v1/classify", json=body, headers=bearer("wrong")), 403)
    is_problem(guarded.post("/v1/classify", json=body, headers={"Authorization": TOKEN}), 401)
    assert guarded.post("/v1/classify", json=body, headers=bearer()).status_code == 200
    is_problem(guarded.get("/metrics"), 401)
    is_problem(guarded.get("/v1/schemes"), 401)
    assert guarded.get("/healthz").status_code == 200  # probes need no token
    assert guarded.get("/readyz").status_code == 200


def test_oversized_body_is_refused(guarded: TestClient) -> None:
    big = {"record": {**RECORDS[0], "name": "x" * 30_000}, "as_of": AS_OF}
    body = is_problem(guarded.post("/v1/classify", json=big, headers=bearer()), 413)
    assert "20000 bytes" in body["detail"]

    def chunks() -> Iterator[bytes]:  # no content-length: counted as it streams in
        yield b'{"record": {"id": "a", "name": "'
        for _ in range(30):
            yield b"y" * 1000
        yield b'"}, "as_of": "2026-01-01"}'

    is_problem(guarded.post("/v1/classify", content=chunks(), headers=bearer()), 413)


def test_non_local_bind_needs_tokens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUSTOMER_RULES_TOKEN_SHA256", raising=False)
    ServeConfig().check_bind()
    ServeConfig(host="::1").check_bind()
    with pytest.raises(ServeConfigError, match="needs API tokens"):
        ServeConfig(host="0.0.0.0").check_bind()
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# ops team\nsha256:{hash_token(TOKEN)}\n", encoding="utf-8")
    config = ServeConfig.from_sources(host="0.0.0.0", token_file=tokens)
    config.check_bind()
    assert config.token_sha256 == (hash_token(TOKEN),)
    monkeypatch.setenv("CUSTOMER_RULES_TOKEN_SHA256", hash_token("other"))
    assert len(ServeConfig.from_sources(token_file=tokens).token_sha256) == 2
    tokens.write_text("plain-token\n", encoding="utf-8")
    with pytest.raises(ServeConfigError, match=r"tokens:1: not a sha256"):
        ServeConfig.from_sources(token_file=tokens)
    with pytest.raises(ValueError, match="digests"):
        ServeConfig(token_sha256=("abc",))


def test_admin_reload_needs_a_token(client: TestClient, guarded: TestClient) -> None:
    is_problem(client.post("/v1/admin/reload"), 403)  # no tokens configured: no admin
    is_problem(guarded.post("/v1/admin/reload"), 401)
    is_problem(guarded.post("/v1/admin/reload", headers=bearer()), 409)  # given an engine: nothing to reload


# -- reload --------------------------------------------------------------------------


def _config_with_policy(tmp_path: Path, version: str) -> tuple[ServeConfig, Path]:
    policy = tmp_path / "birds.yaml"
    policy.write_text(BIRDS.read_text(encoding="utf-8") + f"version: '{version}'\n", encoding="utf-8")
    return ServeConfig(policies=(policy,), token_sha256=(hash_token(TOKEN),)), policy


def test_reload_swaps_the_engine_without_dropping_requests(tmp_path: Path) -> None:
    config, policy = _config_with_policy(tmp_path, "1")
    with TestClient(create_app(config=config)) as c:
        body = {"record": RECORDS[0], "as_of": AS_OF, "schemes": ["birds_complete"]}
        assert c.post("/v1/classify", json=body, headers=bearer()).json()["policies"]["birds_complete"] == "1"
        statuses: list[int] = []
        versions: set[str] = set()
        stop = threading.Event()

        def hammer() -> None:
            while not stop.is_set():
                r = c.post("/v1/classify", json=body, headers=bearer())
                statuses.append(r.status_code)
                versions.add(r.json()["policies"]["birds_complete"])

        workers = [threading.Thread(target=hammer) for _ in range(3)]
        for w in workers:
            w.start()
        policy.write_text(
            policy.read_text(encoding="utf-8").replace("version: '1'", "version: '2'"), encoding="utf-8"
        )
        r = c.post("/v1/admin/reload", headers=bearer())
        stop.set()
        for w in workers:
            w.join()
        assert r.status_code == 200, r.text
        assert r.json()["generation"] == 2 and r.json()["policies"]["birds_complete"] == "2"
        assert statuses and set(statuses) == {200}
        assert versions <= {"1", "2"}
        after = c.post("/v1/classify", json=body, headers=bearer()).json()
        assert after["policies"]["birds_complete"] == "2" and after["generation"] == 2
        # a broken policy file: the reload fails, the old engine keeps serving
        policy.write_text("id: birds_complete\nrules: [", encoding="utf-8")
        is_problem(c.post("/v1/admin/reload", headers=bearer()), 422)
        assert c.post("/v1/classify", json=body, headers=bearer()).json()["generation"] == 2
        assert (
            'customer_rules_reloads_total{outcome="failed"} 1.0' in c.get("/metrics", headers=bearer()).text
        )


# -- events ----------------------------------------------------------------------------


def _day(n: int) -> str:
    return (dt.date(2026, 3, 1) + dt.timedelta(days=n)).isoformat()


def test_events_keep_each_customers_order(client: TestClient) -> None:
    pytest.importorskip("durable")
    events = [
        {"type": "case_opened", "customer_id": "e1", "at": _day(0), "case_id": "k1", "media_involved": True},
        {"type": "contact", "customer_id": "e2", "at": _day(0)},
        {"type": "contact", "customer_id": "e1", "at": _day(-5)},  # earlier than e1's last event
        {"type": "teleport", "customer_id": "e1", "at": _day(1)},
    ]
    r = client.post("/v1/events", json={"events": events})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["posted"] + len(body["rejected"]) == len(events)
    assert [x["index"] for x in body["rejected"]] == [2, 3]
    want = [c.key()[:7] for c in ENGINE.stream().post_many(events[:2])]
    got = [
        (
            c["kind"],
            c["customer_id"],
            dt.date.fromisoformat(c["at"]),
            c["scheme"],
            c["previous"],
            c["current"],
            c["rule"],
        )
        for c in body["changes"]
    ]
    assert got == want
    assert any(c["current"] == "G" for c in body["changes"])
    assert body["policies"]["crisis"] == ENGINE.schemes["crisis"].policy.version


def test_an_escalation_lists_its_steps_in_english_and_chinese(client: TestClient) -> None:
    events = [
        {"type": "case_opened", "customer_id": "e3", "at": _day(0), "case_id": "k1"},
        {"type": "case_updated", "customer_id": "e3", "at": _day(1), "case_id": "k1", "media_involved": True},
    ]
    r = client.post("/v1/events", json={"events": events})
    assert r.status_code == 200, r.text
    (escalation,) = [c for c in r.json()["changes"] if c["kind"] == "escalation"]
    actions = ENGINE.schemes["crisis"].strategies["G"].actions
    assert escalation["plan"] == [a.en for a in actions]
    assert escalation["steps"] == [{"en": a.en, "zh": a.zh} for a in actions]


# -- the CRM webhook adapter -----------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/changes", got
    server.shutdown()
    server.server_close()


def test_webhook_calls_back_with_changed_labels_only(receiver: tuple[str, list[dict[str, Any]]]) -> None:
    url, got = receiver
    with TestClient(create_app(ENGINE, config=ServeConfig(callback_url=url))) as c:
        rec = next(r for r in RECORDS if ENGINE.classify(r, as_of=cr.SAMPLE_AS_OF)["crisis"].label != "G")
        hook = {"record": rec, "as_of": AS_OF, "schemes": ["crisis", "satisfaction"], "event_id": "ev-1"}
        first = c.post("/v1/webhooks/record-changed", json=hook).json()
        assert first["delivered"] is True and {x["scheme"] for x in first["changed"]} == {
            "crisis",
            "satisfaction",
        }
        assert all(x["previous"] is None for x in first["changed"])
        assert len(got) == 1 and got[0]["event_id"] == "ev-1" and got[0]["record_id"] == rec["id"]
        again = c.post("/v1/webhooks/record-changed", json={**hook, "event_id": "ev-2"}).json()
        assert (
            again["changed"] == [] and again["delivered"] is None and len(got) == 1
        )  # nothing changed: no call
        crisis = {**rec, "cases": [{"id": "k9", "opened_at": AS_OF, "media_involved": True}]}
        third = c.post(
            "/v1/webhooks/record-changed", json={**hook, "record": crisis, "event_id": "ev-3"}
        ).json()
        moved = {x["scheme"]: (x["previous"], x["current"]) for x in third["changed"]}
        assert moved["crisis"][1] == "G" and moved["crisis"][0] == first_label(first, "crisis")
        assert len(got) == 2 and got[1]["changed"] == third["changed"]


def first_label(response: dict[str, Any], scheme: str) -> str | None:
    return next(x["current"] for x in response["changed"] if x["scheme"] == scheme)


def test_webhook_callback_failure_is_sent_again() -> None:
    with TestClient(
        create_app(ENGINE, config=ServeConfig(callback_url="http://127.0.0.1:9/none", callback_timeout_s=1))
    ) as c:
        hook = {"record": RECORDS[0], "as_of": AS_OF, "schemes": ["crisis"]}
        assert c.post("/v1/webhooks/record-changed", json=hook).json()["delivered"] is False
        assert c.post("/v1/webhooks/record-changed", json=hook).json()["changed"]  # still pending


# -- the CLI and a real server process ---------------------------------------------------


def test_missing_fastapi_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from click.testing import CliRunner

    from customer_rules.cli.main import cli

    for name in [m for m in sys.modules if m.startswith("customer_rules.serve")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "fastapi", None)
    with pytest.raises(ImportError, match=r"customer-rules\[serve\]"):
        import customer_rules.serve  # noqa: F401
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert "customer-rules[serve]" in result.output


def test_cli_refuses_a_public_bind_without_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from customer_rules.cli.main import cli

    monkeypatch.delenv("CUSTOMER_RULES_TOKEN_SHA256", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code == 1
    assert "needs API tokens" in result.output


def test_params_change_the_served_schemes_and_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--param`` / ``ServeConfig.params`` reach the served engine (and every reload);
    an unknown scheme or parameter stops the service before it binds, saying why."""
    from click.testing import CliRunner

    from customer_rules.cli.main import cli
    from customer_rules.serve.settings import build_engine

    engine = build_engine(ServeConfig(params={"value_pyramid": {"vip_top_pct": 3}}))
    assert engine.params("value_pyramid")["vip_top_pct"] == 3
    with pytest.raises(ServeConfigError, match=r"do not fit together.*vip_top_pct <= major_top_pct"):
        build_engine(ServeConfig(params={"value_pyramid": {"vip_top_pct": 7}}))
    with pytest.raises(ServeConfigError, match="did you mean 'value_pyramid'"):
        build_engine(ServeConfig(params={"value_pyramd": {"vip_top_pct": 7}}))
    with pytest.raises(ServeConfigError, match="vip_top_pt"):
        build_engine(ServeConfig(params={"value_pyramid": {"vip_top_pt": 7}}))
    started: list[Any] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: started.append(app))
    ok = CliRunner().invoke(cli, ["serve", "--param", "value_pyramid.vip_top_pct=3"])
    assert ok.exit_code == 0, ok.output
    assert len(started) == 1
    bad = CliRunner().invoke(cli, ["serve", "--param", "value_pyramd.vip_top_pct=7"])
    assert bad.exit_code != 0 and "did you mean 'value_pyramid'" in bad.output
    assert len(started) == 1


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """``customer-rules serve`` in its own process on 127.0.0.1 (a free port)."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    tmp = tmp_path_factory.mktemp("serve")
    tokens = tmp / "tokens"
    tokens.write_text(hash_token(TOKEN) + "\n", encoding="utf-8")
    policy = tmp / "birds.yaml"
    policy.write_text(BIRDS.read_text(encoding="utf-8") + "version: '1'\n", encoding="utf-8")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(cr.__file__).parent.parent)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "customer_rules",
            "serve",
            "--port",
            str(port),
            "--token-file",
            str(tokens),
            "--policy",
            str(policy),
            "--log-level",
            "warning",
            "--body-timeout",
            "1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"server did not start: {out}")
            time.sleep(0.2)
        yield base, (proc, policy)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_real_server_classifies_and_reloads_on_sighup(server: tuple[str, Any]) -> None:
    import os
    import signal
    import time

    import httpx

    base, (proc, policy) = server
    body = {"record": RECORDS[0], "as_of": AS_OF, "schemes": ["birds_complete", "crisis"]}
    assert httpx.post(base + "/v1/classify", json=body, timeout=10).status_code == 401
    r = httpx.post(base + "/v1/classify", json=body, headers=bearer(), timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["labels"] == ENGINE.classify(
        RECORDS[0], as_of=cr.SAMPLE_AS_OF, schemes=["crisis"]
    ).labels | {"birds_complete": r.json()["labels"]["birds_complete"]}
    assert "server" not in r.headers
    if not hasattr(signal, "SIGHUP"):
        return
    policy.write_text(
        policy.read_text(encoding="utf-8").replace("version: '1'", "version: '2'"), encoding="utf-8"
    )
    os.kill(proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 30
    while httpx.get(base + "/readyz", timeout=5).json()["generation"] != 2:
        assert time.monotonic() < deadline, "SIGHUP did not reload"
        time.sleep(0.1)
    r = httpx.post(base + "/v1/classify", json=body, headers=bearer(), timeout=10)
    assert r.json()["policies"]["birds_complete"] == "2"


def test_real_server_drops_a_slow_client(server: tuple[str, Any]) -> None:
    import socket

    base, _ = server
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(
            b"POST /v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b'\r\nContent-Length: 100\r\n\r\n{"record":'
        )
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert b"application/problem+json" in reply


# -- schemathesis against the OpenAPI document -------------------------------------------


def _schemathesis_schema() -> Any:
    schemathesis = pytest.importorskip("schemathesis")
    app = create_app(ENGINE, config=ServeConfig(time_limit_s=30))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


try:
    import schemathesis as _st

    @_st.serializer("application/x-ndjson")
    def _ndjson(ctx: Any, value: Any) -> bytes:
        """NDJSON bodies are text in the document: send the generated text as it is."""
        return value.encode("utf-8") if isinstance(value, str) else json.dumps(value).encode("utf-8")

    SCHEMA = _schemathesis_schema()
    CHECKS = [
        _st.checks.not_a_server_error,
        _st.checks.response_schema_conformance,
        _st.checks.status_code_conformance,
        _st.checks.content_type_conformance,
    ]

    @SCHEMA.parametrize()
    @settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def test_openapi_contract(case: Any) -> None:
        """Generated requests for every operation: no 5xx, every response matches the document."""
        case.call_and_validate(checks=CHECKS)

except ImportError:  # pragma: no cover - schemathesis is in the test extra
    pass


def test_with_a_decision_store_every_decision_is_logged(tmp_path: Path) -> None:
    pytest.importorskip("sqlalchemy")
    url = f"sqlite:///{tmp_path / 'grades.db'}"
    with TestClient(create_app(ENGINE, config=ServeConfig(store_url=url))) as c:
        one = c.post("/v1/classify", json={"record": RECORDS[0], "as_of": AS_OF, "schemes": ["crisis"]})
        assert one.status_code == 200, one.text
        batch = c.post(
            "/v1/classify/batch",
            json={
                "records": [*RECORDS[1:4], {"id": "bad", "kind": "spaceship"}],
                "as_of": AS_OF,
                "schemes": ["crisis"],
            },
        )
        assert batch.status_code == 200, batch.text
        assert len(batch.json()["rejected"]) == 1
    store = cr.DecisionStore(url)
    for record in RECORDS[:4]:
        (logged,) = store.history(record["id"])
        assert logged.scheme == "crisis"
        assert logged.label == ENGINE.classify(record, as_of=cr.SAMPLE_AS_OF)["crisis"].label
    assert store.history("bad") == []
