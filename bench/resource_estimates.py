"""Analytical resource estimates of the hw/ blocks vs Yosys ``synth_xilinx``: a table per block and parameter set.

Each point is synthesized alone (:func:`flow.estimate.resources.synth_block`, seeded random weights /
thresholds) and compared with the block's ``estimate_resources``. Two disjoint sets of points:

* ``CALIBRATION``: the points the fitted constants (``*_LUT_COEFFS``, ``*_CARRY4_COEFFS`` in the block
  modules) were fitted on; ``--calibrate`` refits them (non-negative least squares on relative errors) and
  prints them;
* ``VALIDATION``: points chosen after the constants were fixed and never used to fit them. The summary of
  relative errors is computed on these only.

Yosys results are cached in ``build/bench/resource_synth.json`` (``--no-cache`` resynthesizes). Yosys runs
one point at a time (a few seconds to a minute each).

    .venv/bin/python bench/resource_estimates.py                 # table, validation summary
    .venv/bin/python bench/resource_estimates.py --calibrate     # refit the constants on CALIBRATION
    .venv/bin/python bench/resource_estimates.py --network build/mlp_w4a4_digits  # design estimate vs synth.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flow.blocks import axis_dwc, axis_fifo, maxpool, mvau_cost, pad, swg, thresholding  # noqa: E402
from flow.blocks.axis_dwc import DwcParams  # noqa: E402
from flow.blocks.axis_fifo import AxisFifoParams  # noqa: E402
from flow.blocks.maxpool import MaxpoolParams  # noqa: E402
from flow.blocks.mvau import MvauMode, MvauParams  # noqa: E402
from flow.blocks.pad import PadParams  # noqa: E402
from flow.blocks.skid_buffer import SkidBufferParams  # noqa: E402
from flow.blocks.swg import SwgParams  # noqa: E402
from flow.blocks.thresholding import ThresholdingParams  # noqa: E402
from flow.estimate.resources import (  # noqa: E402
    RESOURCE_KEYS,
    estimate_block,
    estimate_network,
    relative_error,
    synth_block,
)

CACHE = REPO / "build" / "bench" / "resource_synth.json"
X, M, B, A = MvauMode.XNOR, MvauMode.MAC, MvauMode.BIPOLAR_W, MvauMode.ADDER


def mv(mw: int, mh: int, pe: int, simd: int, mode: MvauMode, in_bits: int, w_bits: int, acc: int,
       signed: bool = False) -> MvauParams:
    """An MVAU point (XNOR inputs are bipolar: ``in_signed`` True)."""
    return MvauParams(mw, mh, pe, simd, mode, in_bits, signed or mode == X, w_bits, acc)


def auto(p: MvauParams) -> MvauParams:
    """``p`` with the register stages of ``--pipeline auto`` (:meth:`flow.compile.pipeline.Pipeline.stages_for`):
    the ROM word registered once more, fan-in-4 sums with registers, MAC products registered."""
    mac = p.mode == M
    return dataclasses.replace(p, in_reg=p.weight_depth > 1, fanin=4 if (p.simd > 4 or mac) else 0, term_reg=mac)


def th(c: int, pe: int, in_bits: int, n: int, out_bits: int) -> ThresholdingParams:
    return ThresholdingParams(c=c, pe=pe, in_bits=in_bits, n_thresh=n, out_bits=out_bits, out_bias=0)


def sw(h: int, w: int, ch: int, simd: int, k: int, s: int, bits: int) -> SwgParams:
    return SwgParams(ifm_h=h, ifm_w=w, ch=ch, simd=simd, k=k, stride=s, elem_bits=bits)


def mp(h: int, w: int, ch: int, simd: int, k: int, bits: int, signed: bool = False) -> MaxpoolParams:
    return MaxpoolParams(ifm_h=h, ifm_w=w, ch=ch, simd=simd, k=k, elem_bits=bits, signed=signed)


#: Points the constants were fitted on.
CALIBRATION: list[object] = [
    # MVAU, weights from the ROM (NF*SF > 1)
    mv(16, 8, 2, 4, M, 4, 4, 12), mv(32, 16, 4, 8, M, 4, 4, 12), mv(64, 16, 1, 16, M, 4, 4, 13),
    mv(32, 32, 8, 4, M, 4, 4, 12), mv(32, 16, 4, 8, M, 2, 2, 9), mv(32, 16, 4, 8, M, 3, 3, 10),
    mv(16, 8, 2, 4, M, 8, 8, 20, signed=True), mv(16, 8, 2, 4, M, 8, 4, 16), mv(128, 64, 1, 1, M, 4, 4, 13),
    mv(64, 32, 1, 4, M, 4, 4, 13), mv(64, 32, 4, 4, M, 4, 4, 13),
    mv(64, 16, 1, 64, X, 1, 1, 8), mv(64, 16, 4, 16, X, 1, 1, 8), mv(128, 32, 2, 32, X, 1, 1, 9),
    mv(32, 16, 4, 8, X, 1, 1, 7), mv(256, 32, 1, 128, X, 1, 1, 10), mv(64, 64, 8, 8, X, 1, 1, 8),
    mv(128, 16, 2, 64, X, 1, 1, 9), mv(784, 64, 1, 784, X, 1, 1, 11),
    # the same datapath with only the ROM depth changed (rom_column_luts)
    mv(128, 4, 2, 32, X, 1, 1, 9), mv(128, 8, 2, 32, X, 1, 1, 9), mv(128, 128, 2, 32, X, 1, 1, 9),
    mv(32, 4, 4, 8, M, 4, 4, 12), mv(32, 64, 4, 8, M, 4, 4, 12),
    # deep, narrow logic ROMs (PE = SIMD = 1)
    mv(256, 10, 1, 1, X, 1, 1, 10), mv(84, 10, 1, 1, M, 4, 4, 12), mv(64, 8, 1, 2, X, 1, 1, 8),
    mv(32, 16, 4, 8, B, 4, 1, 10), mv(64, 16, 2, 16, B, 8, 1, 15, signed=True), mv(16, 8, 2, 4, B, 4, 1, 8),
    mv(9, 32, 32, 1, B, 8, 1, 12),
    mv(16, 8, 2, 4, A, 4, 4, 10), mv(32, 16, 4, 8, A, 4, 4, 11),
    # the same units with the register stages of --pipeline auto (the default since issue 20)
    auto(mv(64, 16, 4, 16, X, 1, 1, 8)), auto(mv(128, 32, 2, 32, X, 1, 1, 9)), auto(mv(784, 64, 1, 784, X, 1, 1, 11)),
    auto(mv(256, 32, 1, 128, X, 1, 1, 10)), auto(mv(128, 128, 2, 32, X, 1, 1, 9)), auto(mv(32, 16, 4, 8, M, 4, 4, 12)),
    auto(mv(64, 32, 4, 4, M, 4, 4, 13)), auto(mv(32, 16, 4, 8, B, 4, 1, 10)), auto(mv(32, 16, 4, 8, A, 4, 4, 11)),
    auto(mv(64, 16, 16, 64, X, 1, 1, 8)), auto(mv(16, 8, 8, 16, M, 4, 4, 12)),
    # MVAU, constant weights (NF*SF == 1)
    mv(32, 8, 8, 32, X, 1, 1, 7), mv(64, 16, 16, 64, X, 1, 1, 8), mv(128, 4, 4, 128, X, 1, 1, 9),
    mv(16, 8, 8, 16, X, 1, 1, 6), mv(16, 8, 8, 16, M, 4, 4, 12), mv(32, 4, 4, 32, M, 4, 4, 13),
    mv(16, 8, 8, 16, M, 2, 2, 8), mv(8, 4, 4, 8, M, 8, 8, 19, signed=True), mv(16, 8, 8, 16, B, 4, 1, 9),
    mv(32, 8, 8, 32, B, 8, 1, 14, signed=True), mv(16, 8, 8, 16, A, 4, 4, 10), mv(32, 4, 4, 32, A, 4, 4, 11),
    # thresholding
    th(64, 1, 12, 15, 4), th(16, 4, 8, 15, 4), th(64, 1, 11, 1, 1), th(8, 8, 10, 7, 3), th(32, 2, 16, 3, 2),
    th(16, 16, 8, 3, 2), th(64, 8, 10, 15, 4), th(120, 1, 14, 15, 4), th(256, 1, 10, 1, 1), th(32, 32, 8, 1, 1),
    # FIFOs, skid buffers, width converters
    AxisFifoParams(8, 16), AxisFifoParams(64, 2), AxisFifoParams(128, 2), AxisFifoParams(4, 32),
    AxisFifoParams(16, 64), AxisFifoParams(8, 128), AxisFifoParams(4, 256), AxisFifoParams(24, 256),
    AxisFifoParams(32, 1024), AxisFifoParams(2, 1024), AxisFifoParams(16, 16), AxisFifoParams(8, 2),
    AxisFifoParams(12, 512), SkidBufferParams(8), SkidBufferParams(64),
    DwcParams(1, 64, 1), DwcParams(64, 1, 1), DwcParams(1, 32, 4), DwcParams(32, 1, 4), DwcParams(4, 8, 2),
    DwcParams(8, 4, 2), DwcParams(2, 3, 4), DwcParams(16, 64, 1), DwcParams(2, 8, 4), DwcParams(8, 2, 8),
    DwcParams(3, 2, 4),
    # convolution blocks
    sw(28, 28, 1, 1, 3, 1, 8), sw(12, 12, 32, 32, 3, 1, 1), sw(12, 12, 6, 6, 5, 1, 4), sw(16, 16, 8, 2, 3, 2, 4),
    sw(10, 10, 64, 64, 3, 1, 1), sw(32, 32, 3, 3, 3, 1, 8), sw(14, 14, 16, 4, 2, 2, 2), sw(8, 8, 4, 1, 3, 1, 4),
    mp(24, 24, 6, 6, 2, 4), mp(8, 8, 16, 2, 2, 4), mp(24, 24, 32, 32, 2, 1), mp(12, 12, 16, 4, 3, 8, True),
    mp(28, 28, 1, 1, 2, 8), mp(16, 16, 64, 16, 2, 1), mp(10, 10, 8, 8, 2, 4, True),
    PadParams(28, 28, 1, 1, 1, 1, 1, 1, 8), PadParams(12, 12, 16, 4, 2, 2, 2, 2, 4),
    PadParams(8, 8, 32, 32, 1, 1, 1, 1, 1), PadParams(16, 16, 8, 2, 1, 1, 1, 1, 4),
    PadParams(32, 32, 3, 3, 2, 2, 2, 2, 8), PadParams(10, 10, 64, 16, 0, 1, 0, 1, 2),
]

#: Points chosen after the constants were fixed; never used to fit them.
VALIDATION: list[object] = [
    mv(64, 32, 4, 16, X, 1, 1, 8), mv(784, 64, 1, 49, X, 1, 1, 11), mv(32, 16, 16, 32, X, 1, 1, 7),
    mv(64, 32, 4, 8, M, 4, 4, 12), mv(32, 16, 2, 8, M, 8, 4, 17), mv(16, 4, 4, 16, M, 4, 4, 12),
    mv(64, 32, 4, 8, B, 4, 1, 11), mv(24, 6, 6, 24, B, 6, 1, 12), mv(64, 16, 2, 16, A, 4, 4, 11),
    mv(8, 8, 8, 8, A, 4, 4, 8),
    auto(mv(64, 32, 4, 16, X, 1, 1, 8)), auto(mv(784, 64, 1, 49, X, 1, 1, 11)), auto(mv(64, 32, 4, 8, M, 4, 4, 12)),
    auto(mv(64, 32, 4, 8, B, 4, 1, 11)),
    th(32, 4, 12, 15, 4), th(128, 2, 9, 1, 1), th(16, 16, 10, 7, 3), th(64, 4, 8, 3, 2),
    AxisFifoParams(32, 64), AxisFifoParams(48, 256), AxisFifoParams(6, 128), AxisFifoParams(96, 2),
    DwcParams(1, 16, 4), DwcParams(32, 8, 1), DwcParams(4, 6, 2),
    sw(10, 10, 16, 4, 3, 1, 2), sw(24, 24, 6, 2, 5, 1, 4),
    mp(12, 12, 32, 8, 2, 1), mp(20, 20, 6, 6, 2, 8, True),
    PadParams(14, 14, 16, 16, 1, 1, 1, 1, 1), PadParams(24, 24, 6, 6, 2, 2, 2, 2, 4),
]

#: For ``--calibrate``: module, feature function(s), and the coefficient tables they fill.
FITS: list[tuple[type, Any, str, str, Any]] = [
    # (parameter class, module, LUT table, CARRY4 table or "", CARRY4 feature function or None)
    (MvauParams, mvau_cost, "MVAU_LUT_COEFFS", "MVAU_CARRY4_COEFFS", mvau_cost.carry4_features),
    (ThresholdingParams, thresholding, "THRESHOLDING_LUT_COEFFS", "THRESHOLDING_CARRY4_COEFFS",
     thresholding.resource_features),
    (AxisFifoParams, axis_fifo, "FIFO_LUT_COEFFS", "", None),
    (DwcParams, axis_dwc, "DWC_LUT_COEFFS", "", None),
    (SwgParams, swg, "SWG_LUT_COEFFS", "SWG_CARRY4_COEFFS", swg.resource_features),
    (MaxpoolParams, maxpool, "MAXPOOL_LUT_COEFFS", "MAXPOOL_CARRY4_COEFFS", maxpool.resource_features),
    (PadParams, pad, "PAD_LUT_COEFFS", "PAD_CARRY4_COEFFS", pad.resource_features),
]


def key(params: object, seed: int = 0) -> str:
    return f"{params!r}#{seed}"


def load_cache(use: bool) -> dict[str, Any]:
    return json.loads(CACHE.read_text()) if use and CACHE.exists() else {}


def synthesized(points: list[object], cache: dict[str, Any]) -> dict[str, Any]:
    """Yosys summaries of ``points`` (from the cache, or synthesized one at a time and cached)."""
    out = {}
    for i, p in enumerate(points, 1):
        k = key(p)
        if k not in cache:
            start = time.perf_counter()
            summary = synth_block(p)
            cache[k] = {name: summary[name] for name in (*RESOURCE_KEYS, "LUT_by_size", "seconds")}
            CACHE.parent.mkdir(parents=True, exist_ok=True)
            CACHE.write_text(json.dumps(cache, indent=1))
            print(f"  synthesized {i}/{len(points)} {p} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
        out[k] = cache[k]
    return out


def _block(params: object) -> str:
    return type(params).__name__.removesuffix("Params")


def _fmt_err(err: float | None) -> str:
    return "   n/a" if err is None else f"{100 * err:+6.1f}%"


def table(points: list[object], results: dict[str, Any], title: str) -> list[dict[str, Any]]:
    """Print estimate vs Yosys for each point; return the rows."""
    print(f"\n## {title}\n")
    print("| block | parameters | LUT est / Yosys (err) | FF est / Yosys (err) | CARRY4 | DSP | BRAM18 | LUTRAM |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for p in points:
        est = estimate_block(p).as_dict()
        got = results[key(p)]
        errs = {k: relative_error(est[k], got[k]) for k in RESOURCE_KEYS}
        rows.append({"params": p, "estimate": est, "yosys": got, "errors": errs})
        cells = [f"{est[k]} / {got[k]} ({_fmt_err(errs[k]).strip()})" for k in ("LUT", "FF")]
        cells += [f"{est[k]} / {got[k]}" for k in ("CARRY4", "DSP48E1", "BRAM18_equivalent", "LUTRAM")]
        text = repr(p).split("(", 1)[1].rstrip(")").replace("mode=<MvauMode.", "").replace(">", "")
        print(f"| {_block(p)} | {text} | " + " | ".join(cells) + " |")
    return rows


def summary(rows: list[dict[str, Any]], title: str) -> None:
    """Mean and worst |relative error| per resource (points where Yosys counts 0 are left out), per block."""
    print(f"\n## {title}: |relative error| (mean / max over points with a non-zero Yosys count)\n")
    print("| block | points | LUT | FF | CARRY4 | LUTRAM | LUT+FF total |")
    print("|---|---|---|---|---|---|---|")
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(_block(r["params"]), []).append(r)
    groups["all"] = rows
    for name, rs in groups.items():
        cells = []
        for k in ("LUT", "FF", "CARRY4", "LUTRAM"):
            errs = [abs(r["errors"][k]) for r in rs if r["errors"][k] is not None]
            cells.append(f"{100 * np.mean(errs):.1f}% / {100 * max(errs):.1f}%" if errs else "n/a")
        est = sum(r["estimate"]["LUT"] + r["estimate"]["FF"] for r in rs)
        got = sum(r["yosys"]["LUT"] + r["yosys"]["FF"] for r in rs)
        cells.append(_fmt_err(relative_error(est, got)).strip())
        print(f"| {name} | {len(rs)} | " + " | ".join(cells) + " |")


#: ``--blocks`` names.
BLOCK_CLASSES: dict[str, type] = {"mvau": MvauParams, "thresholding": ThresholdingParams, "fifo": AxisFifoParams,
                                  "skid": SkidBufferParams, "dwc": DwcParams, "swg": SwgParams,
                                  "maxpool": MaxpoolParams, "pad": PadParams}


def calibrate(results: dict[str, Any], classes: tuple[type, ...]) -> None:
    """Refit the coefficient tables of ``classes`` on CALIBRATION and print them (paste into the block modules)."""
    from scipy.optimize import nnls

    for cls, module, lut_name, carry_name, carry_fn in FITS:
        if cls not in classes:
            continue
        points = [p for p in CALIBRATION if isinstance(p, cls)]
        for target, name, fn in (("LUT", lut_name, module.resource_features), ("CARRY4", carry_name, carry_fn)):
            if not name:
                continue
            table_now = getattr(module, name)
            feats = [fn(p) for p in points]
            names = sorted({k for f in feats for k in f})
            A = np.array([[f.get(k, 0.0) for k in names] for f in feats], dtype=float)
            # the part of the estimate outside the fitted features (e.g. an output-queue multiplexer)
            attr = "lut" if target == "LUT" else "carry4"
            fixed = np.array([getattr(estimate_block(p), attr) - sum(table_now.get(k, 0.0) * f.get(k, 0.0)
                              for k in names) for p, f in zip(points, feats, strict=True)])
            y = np.array([results[key(p)][target] for p in points], dtype=float)
            w = 1.0 / np.maximum(y, 5.0) ** 0.75  # between relative and absolute errors (counts < 5 weigh as 5)
            used = [i for i in range(len(names)) if A[:, i].any()]
            coef, _ = nnls(A[:, used] * w[:, None], (y - fixed) * w)
            fitted = {names[i]: round(float(c), 3) for i, c in zip(used, coef, strict=True)}
            print(f"{module.__name__}.{name} = {fitted}")


def network(build_dir: Path) -> None:
    """Estimate the design of ``build_dir`` (a recipe's build folder with model.qonnx.onnx and synth.json /
    report.json) and print it next to Yosys' counts."""
    import tempfile

    from flow.estimate.resources import compare
    from flow.frontend.graph import load_qonnx
    from flow.recipe import load_recipe
    from flow.stages.compile import convert

    recipe = load_recipe(build_dir.name)
    folding = {k: (v.pe, v.simd) for k, v in recipe.hardware.layers.items()}
    with tempfile.TemporaryDirectory() as tmp:
        hls_model = convert(load_qonnx(build_dir / "model.qonnx.onnx"), Path(tmp) / "rtl",
                            recipe.hardware.default_folding, folding, recipe.hardware.clock_mhz)
        net = hls_model.config.backend.network(hls_model)
    start = time.perf_counter()
    est = estimate_network(net)
    seconds = time.perf_counter() - start
    report = json.loads((build_dir / "report.json").read_text()) if (build_dir / "report.json").exists() else {}
    synth = report.get("resources") or json.loads((build_dir / "synth.json").read_text())
    synth = synth.get("xilinx", synth)
    cmp = compare(est, synth)
    print(f"\n## {build_dir.name}: estimate ({seconds:.2f} s) vs Yosys synth_xilinx\n")
    print("| block | " + " | ".join(RESOURCE_KEYS) + " |")
    print("|---|" + "---|" * len(RESOURCE_KEYS))
    for name, row in [*cmp["blocks"].items(), ("**total**", cmp["total"])]:
        cells = [f"{v['estimate']} / {v['yosys']} ({_fmt_err(v['rel_error']).strip()})" for v in row.values()]
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calibrate", action="store_true", help="refit the constants on CALIBRATION and print them")
    ap.add_argument("--no-cache", action="store_true", help="synthesize every point again")
    ap.add_argument("--validation-only", action="store_true", help="leave out the calibration table")
    ap.add_argument("--network", type=Path, action="append", default=[], help="a build/<recipe> folder")
    ap.add_argument("--blocks", default=",".join(BLOCK_CLASSES),
                    help=f"comma-separated blocks to synthesize and fit (default all: {','.join(BLOCK_CLASSES)})")
    args = ap.parse_args()
    unknown = sorted(set(args.blocks.split(",")) - set(BLOCK_CLASSES))
    if unknown:
        raise SystemExit(f"bench/resource_estimates.py: unknown block(s) {unknown}, expected {list(BLOCK_CLASSES)}")
    classes = tuple(BLOCK_CLASSES[b] for b in args.blocks.split(","))
    calibration = [p for p in CALIBRATION if isinstance(p, classes)]
    validation = [p for p in VALIDATION if isinstance(p, classes)]
    start = time.perf_counter()
    cache = load_cache(not args.no_cache)
    if args.network:
        for d in args.network:
            network(d)
        return
    if args.calibrate:
        calibrate(synthesized(calibration, cache), classes)
        return
    points = validation if args.validation_only else calibration + validation
    results = synthesized(points, cache)
    t0 = time.perf_counter()
    for p in points:
        estimate_block(p)
    est_seconds = time.perf_counter() - t0
    if not args.validation_only:
        summary(table(calibration, results, "Calibration points (the constants were fitted on these)"),
                "Calibration points")
    summary(table(validation, results, "Validation points (not used for fitting)"), "Validation points")
    yosys = sum(results[key(p)]["seconds"] for p in points)
    print(f"\n{len(points)} points: Yosys {yosys:.0f} s (when synthesized), estimates {est_seconds:.2f} s; "
          f"this run {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
