"""Load test of the plan service on loopback: published-plan GETs per second, latency, errors.

Starts ``mobility serve`` (one uvicorn process) on 127.0.0.1 over a fresh SQLite file holding the
shipped grid3x3 and corridor5 signals with one published plan each (14 plans), then sends a bounded
number of requests (``--requests``, stopped after ``--max-seconds`` anyway) from ``--concurrency``
keep-alive connections (one thread each; the load generator shares the machine's 2 cores with the
server), for three endpoints in one run:

- ``GET /health`` (no token, no database read: the reference for the server's own overhead);
- ``GET /published`` (the full list of published plans, as on a centre's first poll);
- ``GET /published?updated_since=<cursor>`` (the steady-state poll: nothing new).

    python benchmarks/bench_service.py [--requests 3000] [--concurrency 8]

Targets (issue): published-plan GETs >= 500 requests/s, p99 < 50 ms, zero errors.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NETS = [ROOT / "networks" / "grid3x3.net.xml", ROOT / "networks" / "corridor5.net.xml"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _setup(db: Path, url: str) -> tuple[str, str]:
    from mobility.service import PlanClient, PlanStore
    from mobility.signals import plans_from_net

    store = PlanStore(db)
    author = store.create_token("optimiser", ["plans:read", "plans:draft"])[0]
    approver = store.create_token("engineer", ["plans:read", "plans:approve", "plans:publish"])[0]
    reader = store.create_token("centre", ["plans:read"])[0]
    store.close()
    prov = {"scenario_hash": "0" * 64, "seeds": [1, 2, 3, 4, 5], "toolkit_version": "0.1.0", "sumo_version": "1.28.0"}
    with PlanClient(url, author) as a, PlanClient(url, approver) as b:
        for net in NETS:
            for plan in plans_from_net(net).values():
                d = a.submit(plan.model_copy(update={"plan_id": "bench"}), {"mean_delay_s": 20.0}, prov)
                b.approve(d["plan"], d["version"])
                b.publish(d["plan"], d["version"])
        cursor = a.published()["cursor"]
    return reader, cursor


def _load(url: str, path: str, headers: dict[str, str], n: int, concurrency: int, max_s: float) -> dict[str, float]:
    """``concurrency`` threads, each with its own keep-alive connection, share ``n`` requests."""
    import httpx

    lat: list[float] = []
    errors = [0]
    size = [0]
    left = iter(range(n))
    lock = threading.Lock()
    t_end = time.perf_counter() + max_s

    def worker() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
            client.get(path)  # warm up this connection
            go.wait()
            while time.perf_counter() < t_end:
                with lock:
                    if next(left, None) is None:
                        return
                t0 = time.perf_counter()
                try:
                    r = client.get(path)
                    ok = r.status_code == 200
                    size[0] = len(r.content)
                except httpx.HTTPError:
                    ok = False
                dt = time.perf_counter() - t0
                with lock:
                    lat.append(dt)
                    errors[0] += not ok

    go = threading.Barrier(concurrency + 1)
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    go.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
    return {"requests": len(lat), "errors": errors[0], "seconds": wall, "rps": len(lat) / wall,
            "p50_ms": q(0.50), "p99_ms": q(0.99), "max_ms": lat[-1] * 1000, "bytes": size[0]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=3000, help="requests per endpoint (bounded)")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--max-seconds", type=float, default=30.0, help="stop each endpoint's run after this long")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "service_load.json")
    args = ap.parse_args()

    import httpx

    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "plans.db"
        port = _port()
        url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "mobility.cli", "serve", "--db", str(db), "--port", str(port), "--log-level", "warning"]
        for net in NETS:
            cmd += ["--network", str(net)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            for _ in range(600):
                try:
                    if httpx.get(url + "/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise SystemExit("the service did not start")
            token, cursor = _setup(db, url)
            auth = {"Authorization": f"Bearer {token}"}
            runs = {
                "GET /health (reference)": ("/health", {}),
                "GET /published (14 plans)": ("/published", auth),
                "GET /published?updated_since (poll)": (f"/published?updated_since={cursor}", auth),
            }
            results = {}
            for name, (path, headers) in runs.items():
                results[name] = _load(url, path, headers, args.requests, args.concurrency, args.max_seconds)
        finally:
            proc.terminate()
            proc.wait(10)
    ref = results["GET /health (reference)"]["rps"]
    print(f"plan service load test: {args.concurrency} connections, up to {args.requests} requests each, one uvicorn process")
    print(f"{'endpoint':<40} {'req':>6} {'err':>4} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'bytes':>7} {'vs health':>9}")
    for name, r in results.items():
        print(f"{name:<40} {r['requests']:>6.0f} {r['errors']:>4.0f} {r['rps']:>8.0f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} "
              f"{r['max_ms']:>7.1f} {r['bytes']:>7.0f} {r['rps'] / ref:>9.2f}")
    pub = [r for n, r in results.items() if "published" in n]
    met = all(r["rps"] >= 500 and r["p99_ms"] < 50 and r["errors"] == 0 for r in pub)
    print(f"target (>= 500 req/s, p99 < 50 ms, 0 errors on /published): {'met' if met else 'NOT met'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
