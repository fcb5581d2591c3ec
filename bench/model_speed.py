"""Model size and speed (issue 3): prints tables, one configuration per subprocess (so
that peak memory is per configuration).

    python bench/model_speed.py            # everything (about 5 minutes on 2 cores)
    python bench/model_speed.py --quick    # the headline case and the hours table only

Tables:
1. growth: build (prepare + build_model) and solve seconds with HiGHS, model size, gap,
   model objective vs simulated cost, peak RSS, for families x monthly steps x products
   around the headline 100 x 36 x 12 (synthetic fleet of bench/fleets.py, min utilization
   0.95, spot cap 0.6, replay-like single path; one row with three forecast paths).
2. hours: the model's size against the number of distinct hours per month (a month folded
   onto 24 / 168 / all of its hours): it is bounded by the distinct demand levels, not by
   the hours; the exact hourly formulation's size grows with the hours.
3. hourly: the same instances solved by the model and by the exact hourly formulation of
   tests/hourly_reference.py (no utilization floor on plans there: its per-hour order
   binaries make it too slow): time ratio and objective difference.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))


def run_one(spec: dict) -> dict:
    from fleets import fleet
    from gpuladder.solver.backends import solve
    from gpuladder.solver.lp import SolverOptions
    from gpuladder.solver.model import build_model
    from gpuladder.solver.modeldata import prepare
    from gpuladder.solver.plan import plan_problem

    prob = fleet(spec["families"], spec["steps"], spec["products"], seed=spec.get("seed", 0),
                 hours_per_month=spec.get("hours_per_month"), paths=spec.get("paths", 1),
                 min_utilization=spec.get("min_utilization", 0.95))
    out = dict(spec)
    if spec.get("mode") == "hourly":
        from hourly_reference import solve_hourly
        t0 = time.perf_counter()
        plan = plan_problem(prob, SolverOptions(time_limit_s=600, mip_gap=1e-6))
        out["model_s"] = time.perf_counter() - t0
        out["model_obj"] = plan.solver.model_objective_usd
        out["model_sim"] = plan.solver.simulated_objective_usd
        out["model_exact"] = plan.solver.exact
        ref = solve_hourly(prob, mip_gap=1e-6, time_limit_s=600)
        out["hourly_s"] = ref.seconds
        out["hourly_obj"] = ref.objective_usd
        out["hourly_status"] = ref.status
        out["hourly_vars"] = ref.n_variables
    elif spec.get("mode") == "size":
        data = prepare(prob)
        lp = build_model(data, prob.constraints).lp
        out.update(vars=lp.n_cols, rows=lp.n_rows, layers=len(data.layers),
                   hours=len(prob.forecast.index), hourly_vars=_hourly_size(prob))
    else:
        t0 = time.perf_counter()
        data = prepare(prob)
        built = build_model(data, prob.constraints)
        out["build_s"] = time.perf_counter() - t0
        sol = solve(built.lp, SolverOptions(time_limit_s=120, mip_gap=1e-3))
        out["solve_s"] = sol.seconds
        out["status"] = sol.status.value
        out["gap"] = sol.gap
        out["vars"], out["ints"], out["rows"] = built.lp.n_cols, int(built.lp.integrality.sum()), built.lp.n_rows
        if spec.get("simulate"):
            t0 = time.perf_counter()
            plan = plan_problem(prob, SolverOptions(time_limit_s=120, mip_gap=1e-3))
            out["plan_s"] = time.perf_counter() - t0
            out["diff"] = plan.solver.difference_share
            out["exact"] = plan.solver.exact
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _hourly_size(prob) -> int:
    """Columns of the hourly formulation: 3 + (plans covering the family) per hour, family, path."""
    fams = prob.forecast.families
    com = prob.catalog.commitments
    plans = com[com["kind"] == "savings_plan"].groupby("family")["product"].nunique().reindex(fams).fillna(0)
    return int(len(prob.forecast.index) * len(prob.forecast.paths) * (3 * len(fams) + plans.sum()))


def spawn(spec: dict) -> dict:
    res = subprocess.run([sys.executable, __file__, "--one", json.dumps(spec)], capture_output=True, text=True)
    if res.returncode != 0:
        return {**spec, "error": res.stderr.strip().splitlines()[-1] if res.stderr else "failed"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def _table(rows: list[dict], cols: list[tuple[str, str, str]]) -> str:
    head = [c[1] for c in cols]
    body = [[("-" if r.get(k) is None else format(r[k], f)) if "error" not in r or k in ("families", "steps",
             "products") else r["error"][:40] for k, _, f in cols] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.rjust(w) for v, w in zip(b, widths)) for b in body]
    return "\n".join(lines)


GROWTH = ([dict(families=f, steps=36, products=12) for f in (25, 50, 100)]
          + [dict(families=100, steps=s, products=12) for s in (12, 24)]
          + [dict(families=100, steps=36, products=p) for p in (4, 8)]
          + [dict(families=100, steps=36, products=12, paths=3)]
          + [dict(families=100, steps=36, products=12, min_utilization=None)])
HOURS = [dict(mode="size", families=20, steps=12, products=12, hours_per_month=h) for h in (24, 168, None)]
HOURLY = [dict(mode="hourly", families=f, steps=s, products=p, min_utilization=None, hours_per_month=h)
          for f, s, p, h in ((4, 3, 12, 24), (8, 3, 12, 24), (4, 3, 6, None), (8, 6, 6, None), (16, 6, 6, None))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--one")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(json.loads(args.one))))
        return
    head = spawn(dict(families=100, steps=36, products=12, simulate=True))
    growth = [head] + ([] if args.quick else [spawn(s) for s in GROWTH])
    for r in growth:
        r["total_s"] = r.get("build_s", 0) + r.get("solve_s", 0)
        r["paths"] = r.get("paths", 1)
        r["floor"] = "off" if r.get("min_utilization", 0.95) is None else "0.95"
    print("Build + solve, HiGHS (mip_gap 0.001); diff = model objective vs simulated cost")
    print(_table(growth, [("families", "families", "d"), ("steps", "steps", "d"), ("products", "products", "d"),
                          ("paths", "paths", "d"), ("floor", "floor", "s"), ("vars", "variables", "d"),
                          ("ints", "integer", "d"), ("rows", "rows", "d"), ("build_s", "build s", ".1f"),
                          ("solve_s", "solve s", ".1f"), ("total_s", "total s", ".1f"), ("gap", "gap", ".2e"),
                          ("diff", "diff", "+.3%"), ("rss_mb", "peak MB", ".0f")]))
    hours = [spawn(s) for s in HOURS]
    for r in hours:
        r["distinct"] = "all" if r.get("hours_per_month") is None else str(r["hours_per_month"])
    print("\nModel size against distinct hours per month (20 families x 12 steps x 12 products)")
    print(_table(hours, [("distinct", "distinct hours/month", "s"), ("hours", "hours", "d"),
                         ("layers", "layers", "d"), ("vars", "model variables", "d"), ("rows", "model rows", "d"),
                         ("hourly_vars", "hourly variables", "d")]))
    if args.quick:
        return
    hourly = [spawn(s) for s in HOURLY]
    for r in hourly:
        if "error" in r:
            continue
        r["ratio"] = r["hourly_s"] / r["model_s"]
        r["obj_diff"] = (r["model_sim"] - r["hourly_obj"]) / r["hourly_obj"]
        r["distinct"] = "all" if r.get("hours_per_month") is None else str(r["hours_per_month"])
    print("\nModel (plan_problem, incl. simulation) against the exact hourly formulation (HiGHS, gap 1e-6)")
    print(_table(hourly, [("families", "families", "d"), ("steps", "months", "d"), ("products", "products", "d"),
                          ("distinct", "distinct h/month", "s"), ("model_s", "model s", ".2f"),
                          ("hourly_s", "hourly s", ".2f"), ("ratio", "time ratio", ".1f"),
                          ("hourly_vars", "hourly vars", "d"), ("obj_diff", "simulated - hourly", "+.4%"),
                          ("model_exact", "exact", "")]))


if __name__ == "__main__":
    main()
