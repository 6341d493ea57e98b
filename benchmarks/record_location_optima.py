"""Record the optima of the generated capacitated instances with long runs (once; hours of CPU).

    python benchmarks/record_location_optima.py [--sizes 100x1000:8,200x2000:2] [--time-limit-s 7200]
                                                [--method mip|reduce]

Each instance of ``bench_location.py --scale`` is solved with the time limit by ``--method``: ``mip`` (the
default) is the strong formulation over every site (HiGHS), ``reduce`` the toolkit's branch and bound. Its
objective, best bound, status and method go into ``benchmarks/data/location_optima.json``, written after every
instance (an instance already recorded as OPTIMAL is skipped, so a stopped run resumes; a better solution
replaces a worse one). An entry that is not OPTIMAL is a best known solution with its bound, and is shown as
such.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "data" / "location_optima.json"
RATIOS = (3.0, 5.0, 7.0, 10.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100x1000:8,200x2000:2")
    ap.add_argument("--time-limit-s", type=float, default=7200.0)
    ap.add_argument("--method", choices=("mip", "reduce"), default="mip")
    args = ap.parse_args()

    import optimise
    from optimise.instances import cst_instance

    data = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for part in filter(None, args.sizes.split(",")):
        size, count = part.split(":")
        m, n = (int(x) for x in size.split("x"))
        for k in range(int(count)):
            inst = cst_instance(m, n, RATIOS[k % len(RATIOS)], k + 1)
            if data.get(inst.name, {}).get("status") == "OPTIMAL":
                continue
            t0 = time.perf_counter()
            try:
                res = optimise.capacitated_facility_location(inst.cost, inst.demand, inst.capacity, inst.fixed_cost,
                                                             method=args.method, time_limit_s=args.time_limit_s)
                entry = {"objective": res.objective, "bound": res.bound, "status": res.status}
            except ValueError as exc:  # no solution within the limit
                entry = {"objective": float("inf"), "bound": float("-inf"), "status": f"NO SOLUTION ({exc})"}
            entry |= {"seconds": round(time.perf_counter() - t0, 1), "time_limit_s": args.time_limit_s,
                      "method": "plain MIP (HiGHS)" if args.method == "mip" else "branch and bound (reduce)"}
            old = data.get(inst.name)
            if old is None or old.get("objective", float("inf")) > entry["objective"] or (
                    entry["status"] == "OPTIMAL" and old.get("status") != "OPTIMAL"):
                data[inst.name] = entry
            print(inst.name, entry, flush=True)
            OUT.parent.mkdir(parents=True, exist_ok=True)
            tmp = OUT.with_name(OUT.name + ".tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
            tmp.replace(OUT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
