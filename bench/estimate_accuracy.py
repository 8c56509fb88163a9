"""The analytical resource estimate vs Yosys, whole designs: every recipe at its default folding (and
``--folding parallel`` where asked), LUT and FF, the relative error and whether it is within +-15 % (issue 19).

For each recipe the trained checkpoint and export of ``build/<recipe>/`` are copied into a bench build root
(``--root``, default ``build/estimate_accuracy``; nothing is trained here: a recipe without a checkpoint in
``build/`` is listed as not built), then ``qflow compile <recipe> [--folding F]`` and ``qflow estimate <recipe>
--no-asic`` run there (per-block Yosys ``synth_xilinx``, cached in ``$QFLOW_YOSYS_CACHE``, default the main
build's ``build/.cache/yosys``). The estimate stage records both figures (``synth.json``'s ``estimate``); this
script prints them. One row per (recipe, folding); rows already in ``--out`` are not run again.

    .venv/bin/python bench/estimate_accuracy.py tfc_w1a1 sfc_w1a1 mlp_w4a4_digits:parallel --out build/est.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from flow.estimate.resources import compare, estimate_network
from flow.stages.compile import load_network

REPO = Path(__file__).resolve().parents[1]
BOUND = 0.15
COPY = ("model.pt", "model.qonnx.onnx", "export.json", "metrics.json")


def build_dir(root: Path, recipe: str, folding: str | None) -> Path:
    """Where a row is built: ``root/<recipe>`` at the default folding, ``root/@<folding>/<recipe>`` otherwise."""
    return root / recipe if folding is None else root / f"@{folding}" / recipe


def run_row(recipe: str, folding: str | None, root: Path) -> dict:
    """Compile and estimate ``recipe`` at ``folding`` (``None``: the recipe's default) under ``root``."""
    src, dst = REPO / "build" / recipe, build_dir(root, recipe, folding)
    root = dst.parent
    if not (src / "model.pt").is_file() or not (src / "model.qonnx.onnx").is_file():
        return {"status": f"not built: no checkpoint and export in {src}"}
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    for name in COPY:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
    env = {**os.environ, "QFLOW_BUILD": str(root),
           "QFLOW_YOSYS_CACHE": os.environ.get("QFLOW_YOSYS_CACHE", str(REPO / "build" / ".cache" / "yosys")),
           "QFLOW_CMVM_CACHE": os.environ.get("QFLOW_CMVM_CACHE", str(REPO / "build" / ".cache" / "cmvm"))}
    qflow = [sys.executable, "-m", "flow.cli", "-q"]
    start = time.perf_counter()
    for args in (["compile", recipe, *(["--folding", folding] if folding else [])], ["estimate", recipe, "--no-asic"]):
        proc = subprocess.run([*qflow, *args], cwd=REPO, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            return {"status": f"qflow {args[0]} failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}"}
    row = {"status": "ok", "seconds": round(time.perf_counter() - start, 1)}
    return row | figures(dst)


def figures(build: Path) -> dict:
    """Estimate (the current code's, from ``network.json``) vs the Yosys counts in ``synth.json``, LUT and FF."""
    net, _ = load_network(build)
    synth = json.loads((build / "synth.json").read_text())
    total = compare(estimate_network(net), synth)["total"]
    return {k: total[k] for k in ("LUT", "FF")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", nargs="+", help="recipe or recipe:folding")
    ap.add_argument("--root", type=Path, default=REPO / "build" / "estimate_accuracy")
    ap.add_argument("--out", type=Path, default=REPO / "build" / "estimate_accuracy.json")
    args = ap.parse_args()
    done = json.loads(args.out.read_text()) if args.out.is_file() else {}
    for spec in args.rows:
        recipe, _, folding = spec.partition(":")
        label = f"{recipe} ({folding or 'default'})"
        if label not in done:
            done[label] = run_row(recipe, folding or None, args.root)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(done, indent=2) + "\n")
        print(label, json.dumps(done[label]), flush=True)
    print("\n| recipe (folding) | LUT estimated / Yosys | error | FF estimated / Yosys | error | within +-15 % |")
    print("|---|---|---|---|---|---|")
    for label, row in done.items():
        if row.get("status") == "ok":  # the estimate of the code as it is now, on the synthesized design
            recipe, folding = label.split(" (")[0], label.split(" (")[1].rstrip(")")
            row.update(figures(build_dir(args.root, recipe, None if folding == "default" else folding)))
        if row.get("status") != "ok":
            print(f"| {label} | {row.get('status')} | | | | |")
            continue
        cells, ok = [], True
        for k in ("LUT", "FF"):
            f = row[k]
            err = f["rel_error"]
            ok = ok and err is not None and abs(err) <= BOUND
            cells += [f"{f['estimate']:,} / {f['yosys']:,}", "-" if err is None else f"{100 * err:+.1f} %"]
        print(f"| {label} | " + " | ".join(cells) + f" | {'yes' if ok else 'no'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
