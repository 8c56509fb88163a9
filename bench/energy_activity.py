"""Benchmark: energy per inference, operation model vs switching activity (Verilator SAIF), per recipe.

For each recipe (default: tfc_w1a1 and mlp_w4a4_digits, plus adder_mlp_mnist and mlp_w8a8_mnist when their
checkpoints exist under build/), at the recipe's default folding: compile to RTL in
``build/bench/energy_activity/<recipe>/``, run :func:`flow.estimate.activity.measure_activity` on the first N
test inputs, and print per layer and in total the operation-model energy, the activity energy, their ratio,
toggles per inference, and the seconds the activity run took (traced build, simulation, SAIF parsing).
Results also go to ``build/bench/energy_activity/results.json``.

    python bench/energy_activity.py [recipe ...] [--n 200] [--fresh]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import time
from pathlib import Path

from flow.estimate.activity import DEFAULT_INFERENCES, compare_with_operation_model, measure_activity
from flow.estimate.energy import network_energy
from flow.frontend.graph import load_qonnx
from flow.io import write_json
from flow.paths import build_root, recipe_paths
from flow.recipe import load_recipe
from flow.stages.compile import convert
from flow.stages.train import ensure_exported, recipe_dataset

ALWAYS = ("tfc_w1a1", "mlp_w4a4_digits")
IF_TRAINED = ("adder_mlp_mnist", "mlp_w8a8_mnist")


def run_recipe(name: str, n: int, workdir: Path, fresh: bool) -> dict:
    recipe = load_recipe(name)
    paths = ensure_exported(recipe)
    qonnx_model = load_qonnx(paths.qonnx)
    x = recipe_dataset(recipe).test.x
    root = workdir / name
    if fresh and root.exists():
        shutil.rmtree(root)
    layer_folding = {k: (v.pe, v.simd) for k, v in recipe.hardware.layers.items()}
    hls_model = convert(qonnx_model, root / "rtl", recipe.hardware.default_folding, layer_folding,
                        recipe.hardware.clock_mhz)
    backend = hls_model.config.backend
    net = backend.network(hls_model)
    design = backend.write(hls_model)
    x_int = net.quantize_input(x)
    golden = net.run(x_int[:n])
    op = network_energy(net)
    t0 = time.perf_counter()
    act = measure_activity(net, design, x_int, golden, root / "activity", inferences=n,
                           inputs=f"the {recipe.dataset} test split")
    wall = time.perf_counter() - t0
    return {"recipe": name, "folding": recipe.hardware.default_folding, "op_model": op, "activity": act,
            "side_by_side": compare_with_operation_model(op, act), "wall_seconds": round(wall, 2)}


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2g}" if a is not None and b else "-"


def print_result(r: dict) -> None:
    act, op = r["activity"], r["op_model"]
    print(f"\n{r['recipe']} ({r['folding']}): {act['inferences']} inferences, "
          f"{act['window']['cycles_per_inference']:.1f} cycles/inference in the window, "
          f"outputs differing from golden: {act['outputs_differing']}")
    print(f"  {'layer':32s} {'op model pJ':>12s} {'(compute)':>10s} {'activity pJ':>12s} {'act/op':>8s} "
          f"{'act/comp':>8s} {'toggles/inf':>12s}")
    for layer, row in r["side_by_side"].items():
        opm = "-" if row["op_model_pj"] is None else f"{row['op_model_pj']:.1f}"
        comp = "-" if row["op_model_compute_pj"] is None else f"{row['op_model_compute_pj']:.1f}"
        print(f"  {layer:32s} {opm:>12s} {comp:>10s} {row['activity_pj']:12.2f} "
              f"{_ratio(row['activity_pj'], row['op_model_pj']):>8s} "
              f"{_ratio(row['activity_pj'], row['op_model_compute_pj']):>8s} {row['toggles_per_inference']:12,.0f}")
    print(f"  {'total':32s} {op['total_pj']:12.1f} {op['compute_pj']:10.1f} {act['total_pj']:12.2f} "
          f"{_ratio(act['total_pj'], op['total_pj']):>8s} {_ratio(act['total_pj'], op['compute_pj']):>8s} "
          f"{act['toggles_per_inference']:12,.0f}")
    s = act["seconds"]
    print(f"  activity run: traced build {s['build']:.1f} s ({'built' if s['rebuilt'] else 'cached'}), "
          f"simulation {s['simulate']:.1f} s, SAIF parse {s['parse']:.1f} s, total {s['total']:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="*", help="recipes (default: tfc_w1a1, mlp_w4a4_digits, and "
                        "adder_mlp_mnist, mlp_w8a8_mnist when trained)")
    parser.add_argument("--n", type=int, default=DEFAULT_INFERENCES, help="test inputs simulated per recipe")
    parser.add_argument("--fresh", action="store_true", help="delete earlier bench builds (time a cold build)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    names = args.recipes or [*ALWAYS, *(n for n in IF_TRAINED if recipe_paths(n).checkpoint.is_file())]
    workdir = build_root() / "bench" / "energy_activity"
    results = []
    for name in names:
        results.append(run_recipe(name, args.n, workdir, args.fresh))
        print_result(results[-1])
    e = results[0]["activity"] if results else None
    if e:
        print(f"\nAssumptions: {e['assumptions']}")
    print("\n| recipe | folding | op model nJ (compute) | activity nJ | activity / op model (/ compute) | "
          "toggles/inference | activity run s (build + sim + parse) |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        a, s, op = r["activity"], r["activity"]["seconds"], r["op_model"]
        print(f"| {r['recipe']} | {r['folding']} | {op['total_pj'] / 1000:.3f} ({op['compute_pj'] / 1000:.3f}) | "
              f"{a['total_pj'] / 1000:.4f} | {_ratio(a['total_pj'], op['total_pj'])} "
              f"({_ratio(a['total_pj'], op['compute_pj'])}) | {a['toggles_per_inference']:,.0f} | "
              f"{s['total']:.1f} ({s['build']:.1f} + {s['simulate']:.1f} + {s['parse']:.1f}) |")
    write_json(workdir / "results.json", results)


if __name__ == "__main__":
    main()
