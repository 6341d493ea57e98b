"""The command-centre plan service, tested against a real uvicorn server on 127.0.0.1 with a real SQLite file."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mobility.service import PlanClient, PlanStore, ServiceError
from mobility.signals import SignalPlan, plans_from_net, plans_from_sumo

ROOT = Path(__file__).resolve().parents[1]
NET = ROOT / "networks" / "corridor5.net.xml"
PROV = {"scenario_hash": "0" * 64, "seeds": [1, 2], "toolkit_version": "0.1.0", "sumo_version": "1.28.0"}
ALL = ["plans:read", "plans:draft", "plans:approve", "plans:publish", "audit:read"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``mobility serve`` in a subprocess; ``kill()`` is SIGKILL, ``start()`` again reopens the same file."""

    def __init__(self, db: Path, network: Path = NET) -> None:
        self.db = db
        self.network = network
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mobility.cli", "serve", "--db", str(self.db), "--port", str(self.port),
             "--network", str(self.network), "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start in 60 s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("service") / "plans.db")
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def tokens(server: Server) -> dict[str, str]:
    store = PlanStore(server.db)
    out = {
        "alice": store.create_token("alice", ALL)[0],
        "bob": store.create_token("bob", ["plans:read", "plans:approve", "plans:publish"])[0],
        "reader": store.create_token("reader", ["plans:read"])[0],
    }
    store.close()
    return out


def _plan(junction: str = "J2", **changes: object) -> SignalPlan:
    return plans_from_net(NET)[junction].model_copy(update={"plan_id": "test", **changes})


def _counts(db: Path) -> tuple[int, int]:
    with sqlite3.connect(db) as c:
        return c.execute("SELECT COUNT(*) FROM versions").fetchone()[0], c.execute("SELECT COUNT(*) FROM audit").fetchone()[0]


def _body(plan: SignalPlan) -> dict[str, object]:
    return {"plan": plan.model_dump(mode="json"), "kpis": {"mean_delay_s": 20.0}, "provenance": dict(PROV), "comment": ""}


# ---- authentication and scopes ---------------------------------------------------------------
def test_refused_requests_are_401_or_403_and_change_nothing(server: Server, tokens: dict[str, str]) -> None:
    store = PlanStore(server.db)
    expired, _ = store.create_token("old", ALL, expires_in=dt.timedelta(seconds=0.3))
    revoked, tok = store.create_token("gone", ALL)
    store.revoke_token(tok.id)
    store.close()
    time.sleep(0.4)
    before = _counts(server.db)
    body = _body(_plan())
    cases = [
        ({}, 401), ({"Authorization": "Bearer nonsense"}, 401), ({"Authorization": f"Bearer {expired}"}, 401),
        ({"Authorization": f"Bearer {revoked}"}, 401), ({"Authorization": f"Bearer {tokens['alice']}x"}, 401),
        ({"Authorization": f"Bearer {tokens['reader']}"}, 403), ({"Authorization": f"Bearer {tokens['bob']}"}, 403),
    ]
    for headers, status in cases:
        r = httpx.post(server.url + "/plans/versions", json=body, headers=headers)
        assert r.status_code == status, (headers, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == status and r.json()["type"].startswith("urn:mobility:problem:")
    r = httpx.get(server.url + "/audit", headers={"Authorization": f"Bearer {tokens['reader']}"})
    assert r.status_code == 403 and r.json()["required_scope"] == "audit:read"
    assert _counts(server.db) == before


def test_revocation_and_expiry_take_effect_on_a_token_in_use(server: Server) -> None:
    store = PlanStore(server.db)
    raw, tok = store.create_token("shortlived", ["plans:read"], expires_in=dt.timedelta(seconds=1.5))
    raw2, tok2 = store.create_token("revoked-later", ["plans:read"])
    h, h2 = {"Authorization": f"Bearer {raw}"}, {"Authorization": f"Bearer {raw2}"}
    assert httpx.get(server.url + "/plans", headers=h).status_code == 200
    assert httpx.get(server.url + "/plans", headers=h2).status_code == 200
    store.revoke_token(tok2.id)  # another process's change: the server must see it on the next request
    store.close()
    assert httpx.get(server.url + "/plans", headers=h2).status_code == 401
    time.sleep(max(0.0, (dt.datetime.fromisoformat(str(tok.expires_at)) - dt.datetime.now(dt.UTC)).total_seconds()) + 0.1)
    assert httpx.get(server.url + "/published", headers=h).status_code == 401


def test_author_cannot_approve_own_plan_and_workflow_runs_in_order(server: Server, tokens: dict[str, str]) -> None:
    alice, bob = PlanClient(server.url, tokens["alice"]), PlanClient(server.url, tokens["bob"])
    d = alice.submit(_plan(plan_id="fourEyes"), {"mean_delay_s": 20.0}, PROV)
    assert (d["state"], d["version"], d["author"]) == ("draft", 1, "alice")
    with pytest.raises(ServiceError) as e:
        alice.approve(d["plan"], 1)
    assert e.value.status == 403 and "four-eyes" in e.value.problem["type"]
    assert alice.version(d["plan"], 1)["state"] == "draft"
    with pytest.raises(ServiceError) as e:
        bob.publish(d["plan"], 1)  # not approved yet
    assert e.value.status == 409
    a = bob.approve(d["plan"], 1)
    assert (a["state"], a["approved_by"]) == ("approved", "bob")
    p = alice.publish(d["plan"], 1)
    assert p["state"] == "published" and p["etag"] != a["etag"]
    # a second version, once published, retires the first in the same transaction
    d2 = alice.submit(_plan(plan_id="fourEyes").with_timing([40, 44]), {"mean_delay_s": 19.0}, PROV)
    assert d2["version"] == 2
    bob.approve(d2["plan"], 2)
    bob.publish(d2["plan"], 2)
    states = {v["version"]: v["state"] for v in alice._call("GET", f"/plans/{d['plan']}/versions")}
    assert states == {1: "retired", 2: "published"}


def test_two_plans_in_force_at_once_for_one_junction_are_refused(server: Server, tokens: dict[str, str]) -> None:
    alice, bob = PlanClient(server.url, tokens["alice"]), PlanClient(server.url, tokens["bob"])
    day, peak = _plan("J4", plan_id="allDay"), _plan("J4", plan_id="amPeak")
    peak = peak.model_copy(update={"validity": peak.validity.model_copy(update={"start_s": 7 * 3600, "end_s": 9 * 3600})})
    night = _plan("J4", plan_id="night")
    night = night.model_copy(update={"validity": night.validity.model_copy(update={"start_s": 0, "end_s": 6 * 3600})})
    ids = {}
    for p in (day, peak, night):
        d = alice.submit(p, {"mean_delay_s": 20.0}, PROV)
        bob.approve(d["plan"], 1)
        ids[p.plan_id] = d["plan"]
    bob.publish(ids["amPeak"], 1)
    bob.publish(ids["night"], 1)  # 0-6 h and 7-9 h: never both in force
    with pytest.raises(ServiceError) as e:
        bob.publish(ids["allDay"], 1)  # in force all day: overlaps both
    assert e.value.status == 409 and "overlapping-validity" in e.value.problem["type"]
    assert alice.version(ids["allDay"], 1)["state"] == "approved"
    # the same check, offline
    from mobility.signals.safety import overlapping_plans

    assert [v.kind for v in overlapping_plans([day, peak, night])] == ["overlap", "overlap"]
    assert overlapping_plans([peak, night]) == []


def test_transitions_need_a_current_etag(server: Server, tokens: dict[str, str]) -> None:
    alice, bob = PlanClient(server.url, tokens["alice"]), PlanClient(server.url, tokens["bob"])
    d = alice.submit(_plan(plan_id="etag"), {"mean_delay_s": 20.0}, PROV)
    url = f"{server.url}/plans/{d['plan']}/versions/{d['version']}/approve"
    h = {"Authorization": f"Bearer {tokens['bob']}"}
    assert httpx.post(url, headers=h).status_code == 428
    assert httpx.post(url, headers={**h, "If-Match": '"999.1"'}).status_code == 412
    bob.approve(d["plan"], d["version"], etag=d["etag"])
    r = httpx.post(url.replace("approve", "publish"), headers={**h, "If-Match": d["etag"]})  # stale etag
    assert r.status_code == 412 and r.json()["etag"] != d["etag"]


def test_two_concurrent_transitions_on_one_version_yield_exactly_one_success(server: Server, tokens: dict[str, str]) -> None:
    alice = PlanClient(server.url, tokens["alice"])
    for k in range(6):
        d = alice.submit(_plan(plan_id=f"race{k}"), {"mean_delay_s": 20.0}, PROV)
        url = f"{server.url}/plans/{d['plan']}/versions/{d['version']}/approve"
        go = threading.Barrier(2)
        codes: list[int] = []

        def approve(url: str = url, etag: str = d["etag"], go: threading.Barrier = go, codes: list[int] = codes) -> None:
            with httpx.Client(headers={"Authorization": f"Bearer {tokens['bob']}", "If-Match": etag}) as c:
                go.wait()
                codes.append(c.post(url).status_code)

        ts = [threading.Thread(target=approve) for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert sorted(codes) == [200, 412], codes
        audit = [r for r in alice.audit() if r["resource"] == f"plans/{d['plan']}/versions/1" and r["action"] == "version.approve"]
        assert len(audit) == 1


# ---- safety at the door ------------------------------------------------------------------------
def _unsafe_plans() -> dict[str, SignalPlan]:
    p = _plan(plan_id="unsafe")
    s0, s1 = p.stages
    return {
        "conflict": p.model_copy(update={"stages": (s0.model_copy(update={"green": (*s0.green, 1)}), s1)}),
        "yellow": p.model_copy(update={"stages": (s0.model_copy(update={"yellow_s": 2.0}), s1), "cycle_s": p.cycle_s - 1}),
        "min_green": p.model_copy(update={"stages": (s0.model_copy(update={"min_green_s": 50.0}), s1)}),
        "cycle": p.model_copy(update={"cycle_s": p.cycle_s + 5}),
        "offset": p.model_copy(update={"offset_s": p.cycle_s}),
        "coverage": p.model_copy(update={"stages": (s0, s1.model_copy(update={"green": (0, 7, 8)}))}),
        "link_count": p.model_copy(update={"n_links": p.n_links + 1}),
    }


@pytest.mark.parametrize("kind", ["conflict", "yellow", "min_green", "cycle", "offset", "coverage", "link_count"])
def test_each_unsafe_plan_kind_is_refused_with_a_problem_document(server: Server, tokens: dict[str, str], kind: str) -> None:
    before = _counts(server.db)
    r = httpx.post(server.url + "/plans/versions", json=_body(_unsafe_plans()[kind]),
                   headers={"Authorization": f"Bearer {tokens['alice']}"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    doc = r.json()
    assert doc["type"] == "urn:mobility:problem:unsafe-plan" and doc["status"] == 422
    v = doc["violations"][0]
    assert v["kind"] == kind and v["junction"] == "J2" and "junction J2" in v["message"]
    if kind in ("conflict", "yellow", "min_green"):
        assert v["stage"] == 0 and v["movements"]
    if kind == "conflict":
        assert 1 in v["movements"]
    assert _counts(server.db) == before


def test_negative_all_red_and_unknown_junction_are_refused(server: Server, tokens: dict[str, str]) -> None:
    h = {"Authorization": f"Bearer {tokens['alice']}"}
    body = _body(_plan())
    body["plan"]["stages"][0]["all_red_s"] = -1.0  # type: ignore[index]
    r = httpx.post(server.url + "/plans/versions", json=body, headers=h)
    assert r.status_code == 422 and "all_red_s" in r.json()["detail"]
    r = httpx.post(server.url + "/plans/versions", json=_body(_plan().model_copy(update={"junction": "nowhere"})), headers=h)
    assert r.status_code == 422 and r.json()["type"].endswith("unknown-intersection")
    no_seeds = {**_body(_plan()), "provenance": {k: v for k, v in PROV.items() if k != "seeds"}}
    r = httpx.post(server.url + "/plans/versions", json=no_seeds, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "provenance", "seeds"]
    no_kpis = {**_body(_plan()), "kpis": {}}
    assert httpx.post(server.url + "/plans/versions", json=no_kpis, headers=h).status_code == 422


# ---- idempotency, polling, exports -------------------------------------------------------------
def test_idempotency_key_replays_the_first_answer(server: Server, tokens: dict[str, str]) -> None:
    h = {"Authorization": f"Bearer {tokens['alice']}", "Idempotency-Key": "k-123"}
    body = _body(_plan(plan_id="idem"))
    r1 = httpx.post(server.url + "/plans/versions", json=body, headers=h)
    r2 = httpx.post(server.url + "/plans/versions", json=body, headers=h)
    assert r1.status_code == r2.status_code == 201, (r1.text, r2.text)
    assert r1.json() == r2.json() and r2.headers["Idempotent-Replayed"] == "true"
    other = _body(_plan(plan_id="idem").with_timing([40, 44]))
    r3 = httpx.post(server.url + "/plans/versions", json=other, headers=h)
    assert r3.status_code == 422 and r3.json()["type"].endswith("idempotency-key-reused")
    assert len(PlanClient(server.url, tokens["alice"])._call("GET", f"/plans/{r1.json()['plan']}/versions")) == 1


def test_polling_with_updated_since_sees_publications_and_retirements(server: Server, tokens: dict[str, str]) -> None:
    alice, bob, centre = (PlanClient(server.url, tokens[n]) for n in ("alice", "bob", "reader"))
    centre.poll()  # catch up
    assert centre.poll() == []
    d = alice.submit(_plan("J3", plan_id="poll"), {"mean_delay_s": 18.0}, PROV)
    bob.approve(d["plan"], 1)
    assert centre.poll() == []  # drafts and approvals are not published
    bob.publish(d["plan"], 1)
    new = centre.poll()
    assert [(x["junction"], x["state"]) for x in new] == [("J3", "published")]
    assert SignalPlan.model_validate(new[0]["signal_plan"]).junction == "J3"
    alice.retire(d["plan"], 1)
    assert [x["state"] for x in centre.poll()] == ["retired"]
    assert centre.poll() == []
    r = httpx.get(server.url + "/published", params={"updated_since": "yesterday"},
                  headers={"Authorization": f"Bearer {tokens['reader']}"})
    assert r.status_code == 422 and "ISO 8601" in r.json()["detail"]


def test_exports_round_trip_and_agree(server: Server, tokens: dict[str, str], tmp_path: Path) -> None:
    alice = PlanClient(server.url, tokens["alice"])
    plan = _plan("J4", plan_id="export").with_timing([35.5, 30], offset_s=12.0)
    d = alice.submit(plan, {"mean_delay_s": 18.0}, PROV)
    stored = SignalPlan.model_validate(d["signal_plan"])
    assert stored == plan.model_copy(update={"version": 1})
    xml = alice.export(d["plan"], 1, "sumo")
    assert isinstance(xml, str)
    (tmp_path / "p.add.xml").write_text(xml)
    assert plans_from_sumo(tmp_path / "p.add.xml") == [stored]
    gat = alice.export(d["plan"], 1, "gat1049")
    timing = gat["PlanParam"]["StageTimingList"]  # type: ignore[index]
    assert gat["PlanParam"]["CycleLen"] == sum(t["Green"] + t["Yellow"] + t["AllRed"] for t in timing) == stored.cycle_s  # type: ignore[index]
    assert gat["PlanParam"]["OffSet"] == 12.0  # type: ignore[index]
    nt = alice.export(d["plan"], 1, "ntcip1202")
    assert sum(s["splitTime"] for s in nt["splitTable"]) == nt["patternTable"][0]["patternCycleTime"] == stored.cycle_s  # type: ignore[index]
    assert httpx.get(f"{server.url}/plans/{d['plan']}/versions/1/export/pdf",
                     headers={"Authorization": f"Bearer {tokens['alice']}"}).status_code == 422
    # actuated timing sheets: the service validates, stores and exports them with their actuation
    from mobility.signals import Actuation

    base = _plan("J5", plan_id="sheet")
    stages = (base.stages[0].model_copy(update={"max_green_s": base.cycle_s}), *base.stages[1:])
    for act in (Actuation(passage_s=2.5, coordinated=True), Actuation(skip=True, jam_threshold_s=120.0)):
        sheet = base.model_copy(update={"stages": stages, "actuation": act, "plan_id": f"sheet_{int(act.skip)}"})
        d = alice.submit(sheet, {"mean_delay_s": 18.0}, PROV)
        assert SignalPlan.model_validate(d["signal_plan"]).actuation == act
        nt = alice.export(d["plan"], 1, "ntcip1202")
        ph = nt["phaseTable"]  # type: ignore[index]
        assert ph[0]["phasePassage"] == act.passage_s and nt["patternTable"][0]["patternMode"] == sheet.kind  # type: ignore[index]
        assert ("minVehicleRecall" in ph[0]["phaseOptions"]) != act.skip
        assert 'type="actuated"' in alice.export(d["plan"], 1, "sumo")  # type: ignore[operator]
    unsafe = base.model_copy(update={"actuation": Actuation(coordinated=True), "plan_id": "unsafe",
                                     "stages": (base.stages[0].model_copy(update={"max_green_s": 10.0, "green_s": 10.0}),
                                                *base.stages[1:])}).with_timing([10.0, base.stages[1].green_s])
    r = httpx.post(server.url + "/plans/versions", json=_body(unsafe), headers={"Authorization": f"Bearer {tokens['alice']}"})
    assert r.status_code == 422 and "yield point" in r.text


# ---- durability and the audit trail ------------------------------------------------------------
def test_killed_server_restarts_with_every_plan_and_audit_record(tmp_path: Path) -> None:
    s = Server(tmp_path / "plans.db")
    s.start()
    try:
        store = PlanStore(s.db)
        tok = store.create_token("alice", ALL)[0]
        store.close()
        stop = threading.Event()
        done: list[int] = []

        def writer(k: int) -> None:
            with PlanClient(s.url, tok, timeout_s=5) as c:
                n = 0
                while not stop.is_set():
                    try:
                        c.submit(_plan("J1", plan_id=f"w{k}").with_timing([30 + n % 10, 40]), {"mean_delay_s": 1.0}, PROV)
                        done.append(k)
                    except ServiceError:
                        return
                    n += 1

        ts = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
        for t in ts:
            t.start()
        time.sleep(1.5)
        s.kill()  # SIGKILL while requests are in flight
        stop.set()
        for t in ts:
            t.join()
        versions, audit = _counts(s.db)
        assert versions >= len(done) > 5
        s.start()
        with PlanClient(s.url, tok) as c:
            plans = c.plans()
            assert sum(p["versions"] for p in plans) == versions
            creates = [r for r in c.audit(0) if r["action"] == "version.create"]
            # every stored version has exactly one create record and the other way round: nothing half-written
            assert len(creates) == versions == len({r["resource"] for r in creates})
        assert PlanStore(s.db).verify_audit().ok
        assert _counts(s.db) == (versions, audit)
    finally:
        s.stop()


def test_tampered_audit_record_is_detected(tmp_path: Path) -> None:
    db = tmp_path / "plans.db"
    store = PlanStore(db)
    store.put_intersections({}, "none")
    for k in range(4):
        store.create_token(f"user{k}", ["plans:read"])
    ok = store.verify_audit()
    assert ok.ok and ok.records == 4
    store.close()
    with sqlite3.connect(db) as c:  # the log refuses edits...
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            c.execute("UPDATE audit SET actor='mallory' WHERE seq=2")
    with sqlite3.connect(db) as c:  # ...so a tamperer drops the trigger first
        c.execute("DROP TRIGGER audit_no_update")
        c.execute("""UPDATE audit SET details='{"subject":"mallory"}' WHERE seq=2""")
    bad = PlanStore(db).verify_audit()
    assert not bad.ok and bad.first_bad_seq == 2 and "altered" in bad.problem
    r = subprocess.run([sys.executable, "-m", "mobility.cli", "audit", "verify", "--db", str(db)], capture_output=True, text=True)
    assert r.returncode == 1 and "TAMPERED" in r.stderr
    with sqlite3.connect(db) as c:  # opening the store put the trigger back; removing records breaks the chain too
        c.execute("DROP TRIGGER audit_no_delete")
        c.execute("DELETE FROM audit WHERE seq IN (2, 3)")
    bad = PlanStore(db).verify_audit()
    assert not bad.ok and "missing" in bad.problem


def test_token_cli_prints_the_token_once_and_stores_only_its_hash(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    cmd = [sys.executable, "-m", "mobility.cli", "tokens", "create", "--db", str(db), "--subject", "centre",
           "--scopes", "plans:read", "--expires-in", "90d"]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    raw = r.stdout.strip()
    assert raw.startswith("mbt_") and "expires" in r.stderr
    assert raw.split(".", 1)[1].encode() not in db.read_bytes()
    tok = PlanStore(db).authenticate(raw)
    assert tok is not None and tok.subject == "centre" and tok.scopes == {"plans:read"}
    bad = subprocess.run([*cmd[:-4], "--scopes", "plans:write"], capture_output=True, text=True)
    assert bad.returncode == 2 and "plans:write" in bad.stderr


# ---- OpenAPI ---------------------------------------------------------------------------------
def test_committed_openapi_document_matches_the_served_one(server: Server) -> None:
    served = httpx.get(server.url + "/openapi.json").json()
    committed = json.loads((ROOT / "mobility" / "service" / "openapi.json").read_text())
    assert served == committed, "regenerate with: python -m mobility.service.openapi"


@pytest.mark.skipif(os.environ.get("MOBILITY_SKIP_FUZZ") == "1", reason="MOBILITY_SKIP_FUZZ=1")
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_fuzzing_the_openapi_spec_finds_no_server_errors(server: Server, tokens: dict[str, str], mode: str) -> None:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    import hypothesis.errors
    from schemathesis.generation import GenerationMode

    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    failures: list[str] = []
    unsatisfiable: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
        @settings(max_examples=30, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def check(case: schemathesis.Case) -> None:
            nonlocal calls
            resp = case.call(headers={"Authorization": f"Bearer {tokens['alice']}"}, timeout=10)
            calls += 1
            if resp.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {resp.status_code}: {resp.text[:200]}")
            elif resp.status_code >= 400 and "application/problem+json" not in str(resp.headers.get("content-type", "")):
                failures.append(f"{case.method} {case.formatted_path} -> {resp.status_code} is not a problem document")

        try:
            check()
        except hypothesis.errors.Unsatisfiable:
            unsatisfiable.append(f"{operation.method} {operation.path}")  # nothing to vary (or to make invalid)
    assert calls > 100, (calls, unsatisfiable)
    assert not failures, failures


# ---- the optimiser's side ----------------------------------------------------------------------
def test_optimise_publish_submits_measured_drafts_with_provenance(server: Server, tokens: dict[str, str], tmp_path: Path) -> None:
    import mobility as mb

    scenario = ROOT / "scenarios" / "signal_control" / "corridor5.yaml"
    r = subprocess.run([sys.executable, "-m", "mobility.cli", "signals", "optimise", str(scenario), "--method", "webster",
                        "--output", str(tmp_path / "plans"), "--publish", server.url, "--quiet"],
                       capture_output=True, text=True, env={**os.environ, "MOBILITY_TOKEN": tokens["alice"]}, timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("submitted") == 15  # 5 signals x 3 demand periods, each plan with its validity
    with PlanClient(server.url, tokens["reader"]) as c:
        drafts = [v for p in c.plans() if p["name"].startswith("webster") for v in c._call("GET", f"/plans/{p['plan']}/versions")]
    assert sorted(d["junction"] for d in drafts) == sorted(["J1", "J2", "J3", "J4", "J5"] * 3)
    assert {d["name"] for d in drafts} == {"webster_p0", "webster_p1", "webster_p2"}
    d = drafts[0]
    assert d["state"] == "draft" and d["author"] == "alice"
    sc = mb.load_scenario(scenario)
    as_run = sc.model_copy(update={"sumo": sc.sumo.model_copy(update={"time_to_teleport_s": -1.0})})  # RESCO's rule
    assert d["provenance"]["scenario_hash"] == as_run.spec_hash and d["provenance"]["scenario_file"] == str(scenario)
    assert d["provenance"]["seeds"] == [900000, 900001] and d["provenance"]["sumo_version"] == "1.28.0"
    assert d["kpis"]["mean_delay_s"] > 0 and d["kpis"]["current_mean_delay_s"] > d["kpis"]["mean_delay_s"]


# ---- hostile requests ---------------------------------------------------------------------------
def test_hostile_requests_get_problem_documents_and_the_service_stays_up(server: Server, tokens: dict[str, str]) -> None:
    good = {"Authorization": f"Bearer {tokens['alice']}", "Content-Type": "application/json"}
    plan = _plan(plan_id="hostile").model_dump(mode="json")
    body = {"plan": plan, "kpis": {"mean_delay_s": 10.0}, "provenance": PROV}
    probes: list[tuple[str, int, httpx.Response]] = []

    def probe(name: str, expect: int, method: str, path: str, **kw: object) -> None:
        probes.append((name, expect, httpx.request(method, server.url + path, timeout=30, **kw)))

    for t in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "not-a-time", "2026-13-45T99:00:00"):
        probe(f"updated_since {t}", 422, "GET", "/published", params={"updated_since": t}, headers=good)
    probe("50 MB body, valid token", 413, "POST", "/plans/versions", content=b"{" + b" " * 50_000_000 + b"}", headers=good)
    probe("50 MB body, no token", 401, "POST", "/plans/versions", content=b"{" + b" " * 50_000_000 + b"}",
          headers={"Content-Type": "application/json"})
    probe("malformed JSON, no token", 401, "POST", "/plans/versions", content=b"{not json",
          headers={"Content-Type": "application/json"})
    probe("text/plain body", 415, "POST", "/plans/versions", content=json.dumps(body), headers={**good, "Content-Type": "text/plain"})
    probe("no content type", 415, "POST", "/plans/versions", content=json.dumps(body),
          headers={"Authorization": good["Authorization"]})
    probe("20,000 stages", 413, "POST", "/plans/versions",
          json={**body, "plan": {**plan, "stages": plan["stages"] * 10_000}}, headers=good)
    probe("40 stages", 422, "POST", "/plans/versions", json={**body, "plan": {**plan, "stages": plan["stages"] * 20}},
          headers=good)
    probe("6 MB metadata", 413, "POST", "/plans/versions",
          json={**body, "plan": {**plan, "metadata": {"x": "y" * 6_000_000}}}, headers=good)
    probe("500 kB metadata", 422, "POST", "/plans/versions",
          json={**body, "plan": {**plan, "metadata": {"x": "y" * 500_000}}}, headers=good)
    probe("5 MB junction id", 413, "POST", "/plans/versions", json={**body, "plan": {**plan, "junction": "J" * 5_000_000}},
          headers=good)
    probe("1 kB junction id", 422, "POST", "/plans/versions", json={**body, "plan": {**plan, "junction": "J" * 1000}},
          headers=good)
    probe("1 MB Authorization header", 431, "GET", "/plans", headers={"Authorization": "Bearer " + "x" * 1_000_000})
    probe("infinite KPI", 422, "POST", "/plans/versions", content=json.dumps({**body, "kpis": {"d": float("inf")}}),
          headers=good)
    probe("unknown junction", 422, "POST", "/plans/versions", json={**body, "plan": {**plan, "junction": "nowhere"}},
          headers=good)
    for name, expect, r in probes:
        assert r.status_code == expect, (name, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("application/problem+json"), name
        assert len(r.content) < 4000, (name, len(r.content))  # nothing echoed back at length
        assert r.json()["status"] == expect
    assert httpx.get(server.url + "/health", timeout=10).status_code == 200
    v = subprocess.run([sys.executable, "-m", "mobility.cli", "audit", "verify", "--db", str(server.db)],
                       capture_output=True, text=True)
    assert v.returncode == 0, v.stdout + v.stderr


# ---- incident response plans ---------------------------------------------------------------------------------
def test_a_response_plan_goes_through_four_eyes_and_the_audit_trail(server: Server, tokens: dict[str, str]) -> None:
    from mobility.incident.response import ResponsePlan

    alice, bob = PlanClient(server.url, tokens["alice"]), PlanClient(server.url, tokens["bob"])
    reader = PlanClient(server.url, tokens["reader"])
    plan = ResponsePlan.model_validate({"id": "crash_detour", "incident": "crash", "detours": [
        {"sign_edge": "W_J1", "avoid": ["J1_J2"], "begin_s": 0, "end_s": 600, "compliance": 0.6,
         "message": "<b>crash</b> ahead"}]})
    d = alice.submit_response(plan, "2026-12-07T08:05:00Z", "2026-12-07T09:00:00Z", {"induced_vehicle_hours": 3.1},
                              dict(PROV))
    assert (d["state"], d["version"], d["author"]) == ("draft", 1, "alice")
    assert ResponsePlan.model_validate(d["response_plan"]) == plan            # stored as sent, text as text
    with pytest.raises(ServiceError) as e:
        reader.submit_response(plan, "2026-12-07T08:05:00Z", "2026-12-07T09:00:00Z", {"x": 1.0}, dict(PROV))
    assert e.value.status == 403
    with pytest.raises(ServiceError) as e:
        alice.move_response("approve", d["response"], 1)                     # the author may not approve
    assert e.value.status == 403 and "four-eyes" in e.value.problem["type"]
    with pytest.raises(ServiceError) as e:                                   # a window that ends before it starts
        alice.submit_response(plan, "2026-12-07T09:00:00Z", "2026-12-07T08:00:00Z", {"x": 1.0}, dict(PROV))
    assert e.value.status == 422 and "valid_to" in e.value.problem["detail"]
    bob.move_response("approve", d["response"], 1)
    p = bob.move_response("publish", d["response"], 1)
    assert (p["state"], p["approved_by"], p["published_by"]) == ("published", "bob", "bob")
    d2 = alice.submit_response(plan, "2026-12-07T08:30:00Z", "2026-12-07T10:00:00Z", {"induced_vehicle_hours": 2.0},
                               dict(PROV))
    bob.move_response("approve", d2["response"], 2)
    bob.move_response("publish", d2["response"], 2)                           # retires version 1
    states = {v["version"]: v["state"] for v in reader.response_versions() if v["name"] == "crash_detour"}
    assert states == {1: "retired", 2: "published"}
    actions = [a["action"] for a in alice.audit() if a["resource"].startswith(f"responses/{d['response']}/")]
    assert actions == ["response.create", "response.approve", "response.publish", "response.create",
                       "response.approve", "response.retire", "response.publish"]
    store = PlanStore(server.db)
    assert store.verify_audit().ok
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):   # the stored plan cannot be edited
        store._conn().execute("UPDATE response_versions SET body='{}' WHERE number=1")
    store.close()
