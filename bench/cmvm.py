"""Issue 19: fully parallel layers as constant multipliers (block ``cmvm``) vs da4ml's own designs.

Same weights, same Yosys script (:func:`flow.rtl.yosys.synth_xilinx`: ``synth_xilinx -flatten``, xc7, each block
instance kept as its own module), one run each:

* ``layer`` rows: one matrix-vector layer alone -- qflow's generated ``cmvm`` module (input register, adders,
  output register slice) and da4ml 0.6.0's combinational CMVM of the same matrix over the same input range
  (``FixedVariableArrayInput`` -> ``x @ K`` (+ the bipolar inputs' constant) -> ``comb_trace`` -> ``RTLModel``,
  no registers);
* ``network`` rows: a whole accelerator compiled with ``qflow compile <model> --folding parallel`` (under
  ``$QFLOW_BUILD``): every layer, thresholds and glue.

Usage::

    QFLOW_BUILD=build/issue19 .venv/bin/qflow compile mlp_w4a4_digits --folding parallel
    QFLOW_BUILD=build/issue19 .venv/bin/python bench/cmvm.py mlp1 mlp lenet1 tfc1 tfc --out build/issue19/cmvm.json

Rows (arguments): ``mlp1`` (first layer of mlp_w4a4_digits), ``mlp`` (the whole parallel design and each of its
layers), ``lenet1`` (first convolution of lenet5_w4a4 as a CMVM, from its compiled network.json), ``tfc1``,
``tfc`` (tfc_w1a1; ``tfc_rest``: its layers 1-3 alone). ``--only qflow|da4ml`` runs one side. Each finished
row is added to the ``--out`` JSON at once (a rerun skips rows present).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from flow.blocks import cmvm
from flow.blocks.mvau import MvauMode
from flow.compile.network import MatVec
from flow.compile.serialize import network_from_dict
from flow.paths import build_root
from flow.rtl.yosys import synth_xilinx

log = logging.getLogger("bench.cmvm")

KEYS = ("LUT", "FF", "CARRY4", "DSP48E1")
#: da4ml solver options for the 784-input binary layer (the default search took more than 8 minutes there).
DA4ML_FAST = {"method0": "mc", "search_all_decompose_dc": False}


def _counts(res: dict) -> dict:
    return {k: res.get(k, 0) for k in KEYS} | {"yosys_s": res["seconds"], "tool": res["tool"]}


def matvecs(model: str) -> list[MatVec]:
    data = json.loads((build_root() / model / "network.json").read_text())
    return [layer for layer in network_from_dict(data["network"]).layers if isinstance(layer, MatVec)]


def as_cmvm(layer: MatVec) -> MatVec:
    return dataclasses.replace(layer, pe=layer.mh, simd=layer.mw, cmvm=True, in_reg=False, fanin=0)


def qflow_layer(layer: MatVec, work: Path) -> dict:
    """Synthesize the layer's generated cmvm module alone."""
    params = as_cmvm(layer).params
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    names = []
    for src in cmvm.HW_SOURCES:
        shutil.copy2(src, work / src.name)
        names.append(src.name)
    (work / f"{params.module}.v").write_text(cmvm.verilog(params, layer.weights))
    res = synth_xilinx(work, [*names, f"{params.module}.v"], params.module)
    return _counts(res) | {"adders": params.adders, "adder_bits": params.adder_bits, "stages": params.stages,
                           "estimate": cmvm.estimate_resources(params).as_dict()}


def da4ml_layer(layer: MatVec, work: Path, options: dict | None = None) -> dict:
    """da4ml's own combinational CMVM of the same matrix and input range, synthesized alone."""
    from da4ml.codegen import RTLModel
    from da4ml.trace import FixedVariableArrayInput, comb_trace

    params = as_cmvm(layer).params
    k = int(params.code_range[0] < 0)
    bits = params.in_bits if params.mode not in (MvauMode.XNOR, MvauMode.BIPOLAR_X) else 1
    start = time.perf_counter()
    inp = FixedVariableArrayInput((params.mw,), solver_options=options)
    x = inp.quantize(k, bits - k, 0)
    K = np.ascontiguousarray(layer.weights.T, dtype=np.float64)
    if params.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_X):  # x = 2b - 1: y = 2 (b K) - W 1
        y = (x @ K) * 2 - layer.weights.sum(axis=1).astype(np.float64)
    else:
        y = x @ K
    comb = comb_trace(inp, y)
    solve_s = time.perf_counter() - start
    shutil.rmtree(work, ignore_errors=True)
    RTLModel(comb, "da4ml_layer", work, latency_cutoff=-1).write()
    src = work / "src"
    names = sorted(str(p.relative_to(src)) for p in src.rglob("*.v") if "wrapper" not in p.name)
    res = synth_xilinx(src, names, "da4ml_layer")
    return _counts(res) | {"adders": int(sum(1 for op in comb.ops if op.opcode in (0, 1))),
                           "solve_s": round(solve_s, 1), "solver": options or "default"}


def network(model: str) -> dict:
    """The whole compiled parallel design of ``model`` under ``$QFLOW_BUILD``."""
    rtl = build_root() / model / "rtl"
    sources = [f"hw/{p.name}" for p in sorted((rtl / "hw").glob("*.v"))]
    sources += [*sorted(p.name for p in rtl.glob("cmvm_*.v")), "top.v"]
    res = synth_xilinx(rtl, sources, "qflow_accel")
    blocks = {inst: {k: b.get(k, 0) for k in KEYS} for inst, b in res["blocks"].items()}
    return _counts(res) | {"blocks": blocks}


def rows(name: str) -> dict[str, callable]:
    work = build_root() / "bench_cmvm"
    out: dict[str, callable] = {}
    if name == "mlp1":
        layer = matvecs("mlp_w4a4_digits")[0]
        out["mlp_w4a4_digits layer 0 qflow cmvm"] = lambda: qflow_layer(layer, work / "q_mlp0")
        out["mlp_w4a4_digits layer 0 da4ml"] = lambda: da4ml_layer(layer, work / "d_mlp0")
    elif name == "mlp":
        out["mlp_w4a4_digits network qflow cmvm"] = lambda: network("mlp_w4a4_digits")
        for i, layer in enumerate(matvecs("mlp_w4a4_digits")[1:], 1):
            out[f"mlp_w4a4_digits layer {i} qflow cmvm"] = lambda layer=layer, i=i: qflow_layer(layer,
                                                                                              work / f"q_mlp{i}")
            out[f"mlp_w4a4_digits layer {i} da4ml"] = lambda layer=layer, i=i: da4ml_layer(layer, work / f"d_mlp{i}")
    elif name == "lenet1":
        layer = matvecs("lenet5_w4a4")[0]
        out["lenet5_w4a4 conv 0 qflow cmvm"] = lambda: qflow_layer(layer, work / "q_lenet0")
        out["lenet5_w4a4 conv 0 da4ml"] = lambda: da4ml_layer(layer, work / "d_lenet0")
    elif name == "tfc1":
        layer = matvecs("tfc_w1a1")[0]
        out["tfc_w1a1 layer 0 qflow cmvm"] = lambda: qflow_layer(layer, work / "q_tfc0")
        out["tfc_w1a1 layer 0 da4ml"] = lambda: da4ml_layer(layer, work / "d_tfc0", DA4ML_FAST)
    elif name in ("tfc", "tfc_rest"):
        if name == "tfc":
            out["tfc_w1a1 network qflow cmvm"] = lambda: network("tfc_w1a1")
        for i, layer in enumerate(matvecs("tfc_w1a1")[1:], 1):
            out[f"tfc_w1a1 layer {i} qflow cmvm"] = lambda layer=layer, i=i: qflow_layer(layer, work / f"q_tfc{i}")
            out[f"tfc_w1a1 layer {i} da4ml"] = lambda layer=layer, i=i: da4ml_layer(layer, work / f"d_tfc{i}",
                                                                                   DA4ML_FAST)
    else:
        raise SystemExit(f"bench/cmvm.py: unknown row set {name!r} (mlp1, mlp, lenet1, tfc1, tfc, tfc_rest)")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="+")
    ap.add_argument("--out", type=Path, default=build_root() / "bench_cmvm.json")
    ap.add_argument("--only", choices=("qflow", "da4ml"), help="run only the rows of one side")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    done = json.loads(args.out.read_text()) if args.out.is_file() else {}
    for name in args.sets:
        for row, fn in rows(name).items():
            if row in done or (args.only and args.only not in row):
                continue
            start = time.perf_counter()
            done[row] = fn() | {"wall_s": round(time.perf_counter() - start, 1)}
            log.info("%s: %s", row, {k: done[row].get(k) for k in (*KEYS, "wall_s")})
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(done, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
