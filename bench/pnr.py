"""Placed-and-routed figures of several builds (ECP5, open tools), next to FINN's published Zynq figures.

    make synth MODEL=tfc_w1a1                                    # or: qflow implement <recipe> on a compiled build
    python bench/pnr.py tfc_w1a1 mlp_w4a4_digits lenet5_w4a4     # reads build/<recipe>/implement.json
    python bench/pnr.py --run tfc_w1a1 --device 85k --freq 100   # runs `qflow implement` first (needs rtl/)

Prints a Markdown table: LUT4/FF/EBR/DSP (used and % of the device), Fmax, cycles/inference, inferences/s,
inferences/s per 1k LUT4, and the P&R time. FINN's rows are their published numbers (FPGA'17, ZC706 with a
Zynq XC7Z045 and Vivado: another FPGA family, LUT6 not LUT4), quoted for scale, not measured here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flow.paths import recipe_paths
from flow.stages.implement import PnrOptions, implement_target
from flow.stages.target import resolve

#: FINN's published figures (Umuroglu et al., FPGA'17, arXiv:1612.07119: ZC706 board, Zynq XC7Z045, LUT6, Vivado
#: HLS): name -> (LUT or None, images/s). 12.3 M images/s (MNIST, SFC-max) and 21,906 images/s (CNV-max) are
#: in the paper's abstract; the 91,131 LUT of SFC-max is as quoted in issue 20.
FINN = {"SFC-max": (91_131, 12_300_000), "CNV-max": (None, 21_906)}


def _row(name: str) -> list[str]:
    path = recipe_paths(name).root / "implement.json"
    if not path.is_file():
        raise SystemExit(f"{path}: missing (run: qflow implement {name}, or --run)")
    d = json.loads(path.read_text())
    u, clock, thr = d["utilisation"], d["clock"], d["throughput"]
    per_klut = thr["inferences_per_second"] / max(u["LUT4"]["used"], 1) * 1000

    def cell(key: str) -> str:
        return f"{u[key]['used']:,} ({u[key]['percent']:.1f} %)"

    return [f"`{name}`", d["device"]["part"], cell("LUT4"), cell("FF"), cell("EBR"), cell("DSP"),
            f"{clock['fmax_mhz']:.1f} ({'met' if clock['met'] else 'missed'} {clock['target_mhz']:g})",
            f"{thr['cycles_per_inference']:g}", f"{thr['inferences_per_second']:,.0f}", f"{per_klut:,.0f}",
            f"{d['synthesis']['seconds']:.0f} + {d['pnr']['seconds']:.0f} + {d['bitstream']['seconds']:.0f} s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipes", nargs="+")
    parser.add_argument("--run", action="store_true", help="run qflow implement on each build first")
    parser.add_argument("--device", default="85k")
    parser.add_argument("--freq", type=float, default=100.0)
    args = parser.parse_args()
    if args.run:
        for name in args.recipes:
            implement_target(resolve(name), PnrOptions(device=args.device, freq_mhz=args.freq))
    head = ["recipe", "device", "LUT4", "FF", "EBR", "DSP", "Fmax MHz (target)", "cycles/inf.", "inferences/s",
            "inf./s per 1k LUT4", "synth + P&R + pack"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name in args.recipes:
        print("| " + " | ".join(_row(name)) + " |")
    print()
    print("FINN (FPGA'17, published; ZC706 / Zynq XC7Z045 with Vivado, LUT6 -- not comparable cell for cell):")
    for name, (lut, fps) in FINN.items():
        per = f", {fps / lut * 1000:,.0f} images/s per 1k LUT" if lut else ""
        print(f"- {name}: {f'{lut:,} LUT, ' if lut else ''}{fps:,} images/s{per}")


if __name__ == "__main__":
    main()
