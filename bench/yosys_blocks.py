"""Per-block Yosys synthesis (with its cache) vs one whole-design run, on compiled builds (issue 19, "flow time").

    python bench/yosys_blocks.py tfc_w1a1 mlp_w4a4_digits lenet5_w4a4 [--cache DIR]

Each build must have been compiled (``qflow compile`` or ``qflow synth``). For each, the design in ``rtl/`` is
synthesized per block (a cold cache: ``--cache``, default a fresh temporary directory), again per block (every
block from the cache), and as a whole design (``--whole-design``'s two runs side by side), and the figures are
compared: totals and every block whose cells differ, the NAND2 equivalents and the logic depth, and the wall
times. Nothing in the build is changed (``synth.json`` is not written).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from flow.rtl.harness import load_design
from flow.rtl.yosys_blocks import SynthCache, synthesize
from flow.stages.compile import load_network
from flow.stages.target import resolve

KEYS = ("LUT", "FF", "CARRY4", "LUTRAM", "BRAM18_equivalent", "DSP48E1")


def _pct(a: float, b: float) -> str:
    return "-" if b == 0 else f"{(a - b) / b * 100:+.2f} %"


def compare(model: str, cache: SynthCache) -> None:
    target = resolve(model)
    net, _ = load_network(target.paths.root)
    design = load_design(target.paths.rtl, net)
    runs = {}
    for label, whole in (("per block, cold cache", False), ("per block, from the cache", False),
                         ("whole design", True)):
        start = time.perf_counter()
        runs[label] = synthesize(design.directory, design.blocks, design.sources, design.top, whole_design=whole,
                                 cache=cache)
        print(f"{model}: {label}: {time.perf_counter() - start:.1f} s wall")
    (blocks, asic), (whole, whole_asic) = runs["per block, cold cache"], runs["whole design"]
    print(f"{model}: per block vs whole design: "
          + ", ".join(f"{k} {blocks[k]} vs {whole[k]} ({_pct(blocks[k], whole[k])})" for k in KEYS)
          + f"; NAND2 eq. {asic['nand2_equivalents']:.0f} vs {whole_asic['nand2_equivalents']:.0f} "
            f"({_pct(asic['nand2_equivalents'], whole_asic['nand2_equivalents'])}); logic depth "
            f"{asic['logic_depth']['gates']} vs {whole_asic['logic_depth']['gates']} gates; "
            f"{blocks['cache']['instances']} instances, {blocks['cache']['unique']} distinct jobs")
    for inst, b in blocks["blocks"].items():
        w = whole["blocks"][inst]
        diff = [f"{k} {b[k]} vs {w[k]}" for k in KEYS if b[k] != w[k]]
        if diff:
            print(f"    {inst}: {', '.join(diff)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--cache", type=Path, default=None, help="Yosys cache directory (default: a fresh one)")
    args = parser.parse_args()
    directory = args.cache or Path(tempfile.mkdtemp(prefix="qflow_yosys_cache_"))
    for model in args.models:
        compare(model, SynthCache(directory))


if __name__ == "__main__":
    main()
