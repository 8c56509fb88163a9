"""The same 8-point sweep serially and on a 2-worker Dask LocalCluster, and the cost of the Dask layer per point.

    PATH=.venv/bin:$PATH OBJCACHE= QFLOW_MAKE_JOBS=2 .venv/bin/python bench/sweep_dask.py
    .venv/bin/python bench/sweep_dask.py --recipe mlp_w4a4_digits --simulate 100 --workers 2 [--yosys] [--rounds 2]

Each point: compile (qflow-rtl), a Verilator build and a simulation of ``--simulate`` test inputs (``== golden``),
with ``--yosys`` also Yosys synth_xilinx. The serial run and the Dask run each get a fresh sweep name (no point
cache) under a temporary ``$QFLOW_BUILD`` and a fresh Yosys cache; run with ``OBJCACHE=`` (no ccache) so the
second run's Verilator builds are not served from the first's cache. The recipe is trained/exported first
(not timed).

The cost of the Dask layer: (a) once, starting the LocalCluster and importing qflow in its worker(s); (b) per
point, with 1 worker and one point in flight at a time, the client's round trip (submit -> result) minus the
point's own time inside ``run_point`` -- pickling, scheduling, transfer. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flow.recipe import load_recipe
from flow.stages.sweep import Execution, plan, run_sweep
from flow.stages.sweep_exec import dask_client
from flow.stages.sweep_point import run_point
from flow.stages.sweep_spec import spec_from_options
from flow.stages.train import ensure_exported

FOLDINGS = ("folded", 16, 32, 128, 256, 512, 1024, 2048)  # 8 distinct designs of mlp_w4a4_digits


def _timed_sweep(recipe: str, name: str, simulate: int, yosys: bool, execution: Execution) -> tuple[float, dict]:
    spec = spec_from_options([recipe], name, foldings=FOLDINGS, yosys=yosys, simulate=simulate)
    start = time.perf_counter()
    summary = run_sweep(spec, execution, progress=False)
    wall = time.perf_counter() - start
    bad = [r["label"] for r in summary["rows"] if r["status"] != "ok"]
    if bad or summary["counts"]["computed"] != len(FOLDINGS):
        raise SystemExit(f"{name}: points failed or were cached: {bad}, {summary['counts']}")
    return wall, summary


def _dask_layer_cost(recipe: str) -> tuple[float, list[float]]:
    """(cluster start + worker imports, s; per-point overhead, s) with 1 worker, compile-only points."""
    spec = spec_from_options([recipe], "overhead", foldings=FOLDINGS, yosys=False, simulate=0)
    tasks = plan(spec)
    start = time.perf_counter()
    with dask_client(Execution(None, 1)) as client:
        client.submit(run_point, tasks[0], key="warm-up").result()  # imports torch, hls4ml, qflow in the worker
        startup = time.perf_counter() - start
        overheads = []
        for task in tasks:
            t0 = time.perf_counter()
            row = client.submit(run_point, task, key=f"overhead-{task.key}").result()
            overheads.append(time.perf_counter() - t0 - row["seconds"])
    return startup, overheads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="mlp_w4a4_digits")
    ap.add_argument("--simulate", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--yosys", action="store_true")
    ap.add_argument("--rounds", type=int, default=1, help="serial, Dask, serial, Dask, ... (fresh caches each)")
    args = ap.parse_args()
    build = Path(tempfile.mkdtemp(prefix="qflow-sweep-bench-"))
    os.environ["QFLOW_BUILD"] = str(build)
    ensure_exported(load_recipe(args.recipe))
    stages = "compile + Verilator build + simulate " + str(args.simulate) + (" + Yosys" if args.yosys else "")
    lines = ["| round | run | wall time, s | speed-up | sum of point times, s | load (1 min) |",
             "|---|---|---|---|---|---|"]
    for i in range(args.rounds):
        walls = {}
        for run, execution in (("serial (one process)", Execution(None, 0)),
                               (f"Dask LocalCluster, {args.workers} workers", Execution(None, args.workers))):
            shutil.rmtree(build / "sweeps" / "synth_cache", ignore_errors=True)
            walls[run], summary = _timed_sweep(args.recipe, f"r{i}-{len(walls)}", args.simulate, args.yosys,
                                               execution)
            speedup = next(iter(walls.values())) / walls[run]  # the round's serial time / this run's
            lines.append(f"| {i + 1} | {run} | {walls[run]:.1f} | {speedup:.2f} | "
                         f"{sum(r['seconds'] for r in summary['rows']):.1f} | {os.getloadavg()[0]:.1f} |")
    startup, overheads = _dask_layer_cost(args.recipe)
    print(f"{args.recipe}, {len(FOLDINGS)} foldings ({', '.join(map(str, FOLDINGS))}), per point: {stages}; "
          f"{os.cpu_count()} cores, OBJCACHE={os.environ.get('OBJCACHE', '')!r}, "
          f"QFLOW_MAKE_JOBS={os.environ.get('QFLOW_MAKE_JOBS', '2')}\n")
    print("\n".join(lines))
    print(f"\nDask layer: LocalCluster start + qflow imports in the worker {startup:.1f} s (once per sweep); "
          f"per point (1 worker, one in flight, compile-only points): median {statistics.median(overheads):.3f} s, "
          f"max {max(overheads):.3f} s")
    shutil.rmtree(build, ignore_errors=True)


if __name__ == "__main__":
    main()
