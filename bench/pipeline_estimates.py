"""The register stages' cost in one MVAU: Yosys ``synth_xilinx`` of the same unit with and without stages, next to
the analytical estimate (the flip-flops of the stages are modelled, their extra adders are not).

    python bench/pipeline_estimates.py

Prints one line per configuration: the estimate and Yosys' LUT/FF/CARRY4 (seeded random weights).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flow.blocks.mvau import MvauMode, MvauParams, estimate_resources, random_data
from flow.estimate.resources import synth_block

CASES = [
    MvauParams(64, 8, 2, 16, MvauMode.MAC, 4, False, 4, 16),
    MvauParams(64, 8, 2, 16, MvauMode.MAC, 4, False, 4, 16, in_reg=True, fanin=4),
    MvauParams(256, 16, 1, 128, MvauMode.XNOR, 1, False, 1, 10),
    MvauParams(256, 16, 1, 128, MvauMode.XNOR, 1, False, 1, 10, in_reg=True, fanin=8),
    MvauParams(32, 8, 8, 32, MvauMode.BIPOLAR_W, 3, True, 1, 10),
    MvauParams(32, 8, 8, 32, MvauMode.BIPOLAR_W, 3, True, 1, 10, in_reg=True, fanin=4),
]


def main() -> None:
    print("| mode | MW x MH | PE x SIMD | stages (in_reg, fanin) | estimate LUT / FF | Yosys LUT / FF / CARRY4 |")
    print("|---|---|---|---|---|---|")
    for p in CASES:
        W = random_data(p)
        est = estimate_resources(p, W)
        got = synth_block(p, W)
        print(f"| {p.mode.name} | {p.mw} x {p.mh} | {p.pe} x {p.simd} | {int(p.in_reg)}, {p.fanin} | "
              f"{est.lut:,.0f} / {est.ff:,.0f} | {got['LUT']:,} / {got['FF']:,} / {got['CARRY4']:,} |", flush=True)


if __name__ == "__main__":
    main()
