"""CMVM (constant matrix-vector multiplier): a fully parallel matrix-vector layer whose weights are constants,
built as a network of shared shift-and-add nodes (da4ml's CMVM solver) -- parameters, golden model, solver
cache, timing, resources, energy and the generated Verilog.

Same values and output contract as :mod:`flow.blocks.mvau` at ``PE = MH``, ``SIMD = MW``: one input beat of
``MW`` elements of ``IN_BITS`` per vector, one output beat of ``MH`` signed ``ACC_BITS`` accumulators, exact
``y = W x`` (:func:`golden` is mvau's). Modes: MAC, BIPOLAR_W, and the bipolar-input modes XNOR and BIPOLAR_X,
whose inputs ``x = 2b - 1`` arrive as bits ``b``: ``y = 2 (W b) - W 1``, a constant matrix times bits plus a
constant per output. ADDER (``-sum |x - w|``) is not linear and stays an ``mvau``.

Hardware (generated per layer, :mod:`flow.blocks.cmvm_verilog`; control in ``hw/cmvm/cmvm.v``): an input
register, the adder graph (:mod:`flow.blocks.cmvm_graph`) cut into ``stages`` by a register every ``levels``
adder levels, an output register, and the spare register and multiplexer that keep ``s_axis_tready``
registered, on the narrower side of the layer (:attr:`CmvmParams.skid_in`). One vector per cycle; a vector
accepted in cycle ``t`` is valid at the output in cycle ``t + stages + 1``. The stage count depends on the
solution, so the layer's parameters carry it (:func:`layer_params` solves, cached in memory and on disk by
the weights' hash).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flow.blocks import mvau
from flow.blocks.cmvm_graph import AdderGraph, from_da4ml
from flow.blocks.cmvm_verilog import emit_layer, node_stages
from flow.blocks.cost import OpEnergy, Resources, add_pj, carry4
from flow.blocks.mvau_params import MvauMode, MvauParams, check_w
from flow.blocks.spec import BlockSpec, Stream, accept_times
from flow.paths import HW_ROOT, build_root

__all__ = [
    "CACHE_ENV",
    "HW_SOURCES",
    "MODES",
    "SPEC",
    "CmvmParams",
    "estimate_resources",
    "golden",
    "graph",
    "layer_params",
    "levels_for_fanin",
    "pack_inputs",
    "verilog",
]

log = logging.getLogger(__name__)

#: Verilog files the block needs besides its generated module (``hw/cmvm/cmvm.v``: input register, pipeline
#: enable, register slice, instantiated by the generated module).
HW_SOURCES = (HW_ROOT / "cmvm" / "cmvm.v", HW_ROOT / "axis" / "skid_buffer.v")
#: The modes a constant multiplier computes (ADDER is not linear in x).
MODES = (MvauMode.XNOR, MvauMode.MAC, MvauMode.BIPOLAR_W, MvauMode.BIPOLAR_X)
#: Where solutions are kept between processes (default ``$QFLOW_BUILD/.cache/cmvm``).
CACHE_ENV = "QFLOW_CMVM_CACHE"
#: da4ml ``solve`` options: the ``mc`` method (fewer adders and levels than the default ``wmc`` on 64x64 int4,
#: 64x64 and 784x16 binary matrices) and the decomposition at one delay constraint (the full search is slower).
SOLVER_OPTIONS: dict[str, object] = {"method0": "mc", "search_all_decompose_dc": False}


@dataclass(frozen=True)
class CmvmParams:
    """Parameters of one ``cmvm`` instance. ``levels``: adder levels per pipeline stage (0: one stage);
    ``stages``: the stages the layer's solution needs at that setting (:func:`layer_params`); ``module``: the
    generated Verilog module's name."""

    mw: int
    mh: int
    mode: MvauMode
    in_bits: int
    in_signed: bool
    w_bits: int
    acc_bits: int
    levels: int
    stages: int
    module: str
    adders: int = 0  #: the solution's adders (output adders included), from :func:`layer_params`
    adder_bits: int = 0  #: ... their carry-chain bits
    carry4: int = 0  #: ... their CARRY4 cells
    register_bits: int = 0  #: ... and the bits of its stage registers

    @property
    def costs(self) -> dict[str, int]:
        """The solution's counts the parameters carry (see :func:`graph_costs`)."""
        return {k: getattr(self, k) for k in ("adders", "adder_bits", "carry4", "register_bits")}

    @property
    def mvau(self) -> MvauParams:
        """The fully parallel MVAU computing the same function (its value checks and golden model)."""
        return MvauParams(mw=self.mw, mh=self.mh, pe=self.mh, simd=self.mw, mode=self.mode, in_bits=self.in_bits,
                          in_signed=self.in_signed, w_bits=self.w_bits, acc_bits=self.acc_bits)

    @property
    def tree_regs(self) -> int:
        """Register stages inside the adder network (``stages - 1``), as an MVAU's adder-tree registers."""
        return self.stages - 1

    @property
    def weight_depth(self) -> int:
        """One weight word (fully parallel), as an MVAU's ``weight_depth``."""
        return 1

    @property
    def x_range(self) -> tuple[int, int]:
        return self.mvau.x_range

    @property
    def code_range(self) -> tuple[int, int]:
        """Range of the input codes the stream carries (bits for the bipolar-input modes)."""
        return (0, 1) if self.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_X) else self.x_range

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter, what was expected and what arrived."""
        if self.mode not in MODES:
            raise ValueError(f"cmvm: mode expected one of {[m.name for m in MODES]}, got {self.mode!r} "
                             "(ADDER layers are built by mvau)")
        self.mvau.validate()
        for name in ("levels", "stages", "adders", "adder_bits", "carry4", "register_bits"):
            v = getattr(self, name)
            least = 1 if name == "stages" else 0
            if not isinstance(v, int) or isinstance(v, bool) or v < least:
                raise ValueError(f"cmvm: {name} expected an integer >= {least}, got {v!r}")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.module or ""):
            raise ValueError(f"cmvm: module expected a Verilog identifier, got {self.module!r}")

    @property
    def skid_in(self) -> bool:
        """The register slice sits before the input register (``SKID_IN`` of ``hw/cmvm/cmvm.v``): on the narrower
        side, since its multiplexer costs one LUT per bit (the output side on a tie)."""
        return self.mw * self.in_bits < self.mh * self.acc_bits

    @property
    def slice_bits(self) -> int:
        """Bits of the register slice's multiplexer: the narrower side's width."""
        return min(self.mw * self.in_bits, self.mh * self.acc_bits)

    def verilog_parameters(self) -> dict[str, int | str]:
        self.validate()
        return {"MW": self.mw, "MH": self.mh, "IN_BITS": self.in_bits, "ACC_BITS": self.acc_bits}


def levels_for_fanin(fanin: int) -> int:
    """Adder levels per stage for an MVAU adder-tree setting ``fanin`` (a register every ``fanin`` inputs is one
    every ``log2(fanin)`` levels of a binary tree): ``ceil(log2(fanin))``, 0 (no registers) for ``fanin < 2``."""
    return 0 if fanin < 2 else max(1, math.ceil(math.log2(fanin)))


def module_name(layer: str) -> str:
    """The generated module's name for a layer: ``cmvm_<layer>`` with non-identifier characters as ``_``."""
    return "cmvm_" + re.sub(r"[^A-Za-z0-9_]", "_", layer)


# ---------------------------------------------------------------------------------------------- solving
_GRAPHS: dict[str, AdderGraph] = {}


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or build_root() / ".cache" / "cmvm")


def _kernel(W: np.ndarray, mode: MvauMode) -> tuple[np.ndarray, int, np.ndarray]:
    """``(K (MW, MH), scale, offsets)`` with ``y = scale * K^T b + offsets`` for the input codes ``b``."""
    if mode in (MvauMode.XNOR, MvauMode.BIPOLAR_X):  # x = 2b - 1
        return W.T, 2, -W.sum(axis=1)
    return W.T, 1, np.zeros(W.shape[0], np.int64)


def _key(K: np.ndarray, code_range: tuple[int, int]) -> str:
    from da4ml import __version__ as da4ml_version  # heavy import only when solving

    head = json.dumps([list(K.shape), list(code_range), SOLVER_OPTIONS, da4ml_version]).encode()
    return hashlib.sha256(head + np.ascontiguousarray(K, dtype=np.int64).tobytes()).hexdigest()


def _solve(K: np.ndarray, code_range: tuple[int, int]):
    """The da4ml solution for kernel ``K`` over inputs in ``code_range``, from the disk cache if there."""
    from da4ml.cmvm import solve
    from da4ml.types import Pipeline

    key = _key(K, code_range)
    path = cache_dir() / f"{key}.json"
    if path.is_file():
        try:
            return Pipeline.load(str(path))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            log.warning("%s: unreadable cmvm solution; solving again", path)
    log.info("cmvm: solving a %dx%d constant matrix with da4ml", *K.shape)
    lo, hi = code_range
    # C order: the solver reads the raw buffer (a transposed view gave another matrix)
    sol = solve(np.ascontiguousarray(K, dtype=np.float32), qintervals=[(float(lo), float(hi), 1.0)] * K.shape[0],
                **SOLVER_OPTIONS)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{key}.", dir=path.parent)
    os.close(fd)
    try:
        sol.save(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return sol


def graph(W: np.ndarray, mode: MvauMode, code_range: tuple[int, int]) -> AdderGraph:
    """The checked adder graph of ``y = W x`` (``W`` ``(MH, MW)``, values) over input codes in ``code_range``.

    Solved by da4ml once per (weights, mode, range) and kept in memory and in :func:`cache_dir`. The graph is
    checked before use: on the zero vector, every unit vector and a seeded random batch it must give exactly
    ``scale * K^T b + offsets``, every node inside its interval; :class:`AssertionError` otherwise.
    """
    W = np.asarray(W, dtype=np.int64)
    K, scale, offsets = _kernel(W, mode)
    key = _key(K, code_range) + str(int(mode))
    g = _GRAPHS.get(key)
    if g is None:
        g = from_da4ml(_solve(K, code_range), [code_range] * K.shape[0])
        g.scale, g.offsets = scale, np.asarray(offsets, dtype=np.int64)
        lo, hi = code_range
        one = hi if hi != 0 else lo
        probes = np.concatenate([np.zeros((1, K.shape[0]), np.int64), one * np.eye(K.shape[0], dtype=np.int64),
                                 np.random.default_rng(0).integers(lo, hi + 1, size=(64, K.shape[0]))])
        want = scale * (probes @ K) + offsets[None, :]
        got = g.evaluate(probes)
        if not np.array_equal(got, want):
            raise AssertionError(f"cmvm: the adder graph of a {W.shape[0]}x{W.shape[1]} matrix is not exact "
                                 f"({int(np.count_nonzero(got != want))} wrong outputs on the probe vectors)")
        _GRAPHS[key] = g
    return g


def params_graph(W: np.ndarray, params: CmvmParams) -> AdderGraph:
    """The adder graph of ``W`` under ``params`` (weights checked against the mode first)."""
    params.validate()
    return graph(check_w(W, params.mvau), params.mode, params.code_range)


def layer_params(name: str, W: np.ndarray, base: MvauParams, fanin: int = 0) -> CmvmParams:
    """The ``cmvm`` parameters of a fully parallel layer ``name`` with weights ``W`` and MVAU parameters ``base``
    (``PE = MH``, ``SIMD = MW``), a register every :func:`levels_for_fanin` adder levels; solves (cached)."""
    levels = levels_for_fanin(fanin)
    p = CmvmParams(mw=base.mw, mh=base.mh, mode=base.mode, in_bits=base.in_bits, in_signed=base.in_signed,
                   w_bits=base.w_bits, acc_bits=base.acc_bits, levels=levels, stages=1, module=module_name(name))
    g = params_graph(W, p)
    p = dataclasses.replace(p, stages=g.stages(levels))
    return dataclasses.replace(p, **graph_costs(g, p))


# ---------------------------------------------------------------------------------------------- values
def golden(x: np.ndarray, W: np.ndarray, params: CmvmParams) -> np.ndarray:
    """Exact outputs ``(batch, MH)`` for inputs ``x`` ``(batch, MW)`` (values): mvau's golden model."""
    params.validate()
    return mvau.golden(x, W, params.mvau)


def pack_inputs(x: np.ndarray, params: CmvmParams) -> list[int]:
    """Input beats, one per vector (mvau's packing)."""
    return mvau.pack_inputs(x, params.mvau)


def verilog(params: CmvmParams, W: np.ndarray, comment: str = "") -> str:
    """The generated module ``params.module`` for weights ``W`` (:mod:`flow.blocks.cmvm_verilog`)."""
    g = params_graph(W, params)
    if g.stages(params.levels) != params.stages:
        raise ValueError(f"cmvm: {params.module}: the solution needs {g.stages(params.levels)} stages at "
                         f"levels={params.levels}, the parameters say {params.stages}")
    return emit_layer(g, params.module, mw=params.mw, mh=params.mh, in_bits=params.in_bits,
                      acc_bits=params.acc_bits, levels=params.levels, stages=params.stages, skid_in=params.skid_in,
                      comment=comment)


# ---------------------------------------------------------------------------------------------- timing
def latency_cycles(params: CmvmParams) -> int:
    """Input beat accepted -> output beat valid, no stalls: the input register, the stages, the output register."""
    return params.stages + 1


def output_times(params: CmvmParams, valid: list[int]) -> list[int]:
    """One beat in, one beat out, ``stages + 1`` cycles later; one vector per cycle."""
    return [t + latency_cycles(params) for t in accept_times(valid)]


# ---------------------------------------------------------------------------------------------- cost
#: LUTs per carry-chain bit of a two-operand adder (one LUT6 per bit feeding CARRY4, fewer where an operand bit
#: is a constant or a sign copy) and per bit of the register slice (its multiplexer, on the narrower side), and the
#: CARRY4 cells Yosys keeps of ``ceil(bits/4)`` per adder: fitted to Yosys ``synth_xilinx`` on the first layers of
#: mlp_w4a4_digits (14,283 adder bits: 13,393 LUT, 3,227 CARRY4) and lenet5_w4a4 (1,386: 1,340 LUT, 345 CARRY4),
#: BENCHMARKS.md, issue 19.
LUT_PER_ADDER_BIT = 0.885
LUT_PER_SLICE_BIT = 1.0
CARRY4_KEPT = 0.75


def _stage_register_bits(g: AdderGraph, params: CmvmParams) -> int:
    """Flip-flops of the values crossing stage boundaries (the input register not included)."""
    stage = node_stages(g, params.levels)
    used = g.used()
    last_use = [0] * len(g.nodes)
    for i, n in enumerate(g.nodes):
        if used[i] and not n.is_input:
            for o in (n.u, n.s):
                last_use[o] = max(last_use[o], stage[i])
    for r in g.outputs:
        if r is not None:
            last_use[r.node] = params.stages
    return sum(n.width * max(0, last_use[i] - max(stage[i], 1)) for i, n in enumerate(g.nodes) if used[i])


def graph_costs(g: AdderGraph, params: CmvmParams) -> dict[str, int]:
    """Counts of a solution the estimate reads: ``adders`` (graph adders plus output adders), ``adder_bits``
    (their carry-chain bits), ``carry4`` (their CARRY4 cells), ``register_bits`` (stage registers)."""
    adders = g.adders()
    affine = sum(1 for j in range(params.mh) if g.output_needs_adder(j))
    return {
        "adders": len(adders) + affine,
        "adder_bits": sum(b for b, _ in adders) + affine * params.acc_bits,
        "carry4": sum(carry4(b) for b, _ in adders) + affine * carry4(params.acc_bits),
        "register_bits": _stage_register_bits(g, params),
    }


def estimate_resources(params: CmvmParams, weights: np.ndarray | None = None) -> Resources:
    """Xilinx cells from the solution's adders: :data:`LUT_PER_ADDER_BIT` per carry-chain bit of every adder (the
    low bits that pass through cost nothing) and :data:`CARRY4_KEPT` of its CARRY4 cells, an ``ACC_BITS`` adder
    for each output that needs a negation or an offset, the register slice's multiplexer (one LUT per bit of the
    narrower side, where it sits); flip-flops: the input register, the values crossing each stage boundary, the
    output register, the slice's spare register and the valid bits. ``weights`` ``None``:
    the counts the parameters carry (from :func:`layer_params`'s solution)."""
    c = params.costs if weights is None else graph_costs(params_graph(weights, params), params)
    in_bits, out_bits = params.mw * params.in_bits, params.mh * params.acc_bits
    lut = LUT_PER_ADDER_BIT * c["adder_bits"] + LUT_PER_SLICE_BIT * params.slice_bits
    ff = in_bits + c["register_bits"] + out_bits + params.slice_bits + params.stages + 1
    return Resources(lut=lut, ff=ff, carry4=CARRY4_KEPT * c["carry4"])


def random_data(params: CmvmParams, seed: int = 0) -> np.ndarray:
    """Seeded uniform random weights in the mode's range (mvau's)."""
    return mvau.random_data(params.mvau, seed)


def energy(params: CmvmParams, in_beats: int) -> OpEnergy:
    """Per vector one addition per adder of the solution, at the average carry-chain width; no weight memory
    is read (the weights are wiring)."""
    e = OpEnergy(f"constant matrix-vector ({params.mode.name}, shared adders)")
    adders, bits = params.costs["adders"], params.costs["adder_bits"]
    width = max(1, round(bits / adders)) if adders else 1
    e.count("add", f"{width}b", adders * in_beats, add_pj(width))
    return e


SPEC = BlockSpec(
    name="cmvm",
    params_type=CmvmParams,
    sources=HW_SOURCES,
    ports=lambda p: (Stream(p.mw, p.in_bits), Stream(p.mh, p.acc_bits)),
    verilog_parameters=lambda p, mem: p.verilog_parameters(),
    output_times=output_times,
    cycles=lambda p, in_beats: in_beats,
    out_beats=lambda p, in_beats: in_beats,
    latency=latency_cycles,
    estimate=lambda p, data: estimate_resources(p, data),
    energy=energy,
    random_data=random_data,
    memory_lines=lambda p, data: verilog(p, data).splitlines(),
    memory_name="cmvm_{layer}.v",
    module=lambda p: p.module,
)
