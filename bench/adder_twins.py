"""AdderNet vs its multiply-accumulate twin: accuracy, resources, cycles and energy from two `make synth` builds.

    make synth MODEL=adder_mlp_mnist && make synth MODEL=mlp_w8a8_mnist
    python bench/adder_twins.py                                   # adder_mlp_mnist vs mlp_w8a8_mnist
    python bench/adder_twins.py --pairs adder_mlp_mnist:mlp_w8a8_mnist

Reads ``build/<recipe>/report.json`` (nothing is re-run here, so every figure is the one its report states with
how it was produced): accuracy (PyTorch and simulated RTL on the test split), Yosys LUT/FF/CARRY4/DSP,
NAND2 equivalents, simulated cycles/inference, and operation-model energy split into compute and memory, plus
the twin/adder ratios. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flow.paths import recipe_paths


def _row(name: str) -> dict:
    path = recipe_paths(name).root / "report.json"
    if not path.is_file():
        raise SystemExit(f"{path}: no report (run: make synth MODEL={name})")
    r = json.loads(path.read_text())
    acc = r.get("accuracy", {})
    res, en, sim = r.get("resources", {}), r["energy"], r["simulation"]
    compute = sum(layer["compute_pj"] for layer in en["layers"])
    memory = sum(layer["memory_pj"] for layer in en["layers"])
    pytorch = next((v["value"] for k, v in acc.items() if "PyTorch" in k), None)
    return {
        "recipe": name,
        "accuracy_pytorch": pytorch,
        "accuracy_rtl": acc.get("RTL (simulated)", {}).get("value"),
        "mismatches": sim["mismatches_with_stalls"] + sim["mismatches_without_stalls"],
        "LUT": res.get("LUT"),
        "FF": res.get("FF"),
        "CARRY4": res.get("CARRY4"),
        "DSP": res.get("DSP48E1"),
        "NAND2": (r.get("asic") or {}).get("nand2_equivalents"),
        "cycles": sim["cycles_per_inference_measured"],
        "compute_nj": compute / 1000,
        "memory_nj": memory / 1000,
        "energy_nj": en["total_pj"] / 1000,
    }


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}" if v < 10 else f"{v:,.1f}" if v < 1000 else f"{v:,.0f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default="adder_mlp_mnist:mlp_w8a8_mnist", help="adder:twin[,adder:twin...]")
    args = parser.parse_args()
    cols = ["recipe", "accuracy_pytorch", "accuracy_rtl", "mismatches", "LUT", "FF", "CARRY4", "DSP", "NAND2",
            "cycles", "compute_nj", "memory_nj", "energy_nj"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for pair in args.pairs.split(","):
        adder, twin = (_row(n) for n in pair.split(":"))
        for row in (adder, twin):
            print("| " + " | ".join(_fmt(row[c]) for c in cols) + " |")
        ratio = {c: (twin[c] / adder[c] if adder[c] and twin[c] is not None else None)
                 for c in ("LUT", "FF", "NAND2", "compute_nj", "memory_nj", "energy_nj")}
        print("| twin / adder | | | | " + " | ".join(
            _fmt(ratio.get(c)) if c in ratio else "" for c in cols[4:]) + " |")
        lut_dsp = (adder["LUT"] or 0) + (adder["DSP"] or 0), (twin["LUT"] or 0) + (twin["DSP"] or 0)
        print(f"\nLUT+DSP: adder {lut_dsp[0]:,} vs twin {lut_dsp[1]:,}; accuracy gap "
              f"{(twin['accuracy_pytorch'] - adder['accuracy_pytorch']) * 100:+.1f} points (twin - adder)")


if __name__ == "__main__":
    main()
