"""MVAU (matrix-vector unit, ``hw/mvau/mvau.v``): parameters, golden model, packers, cycle formulas.

Values, not encodings: every array here holds the integer *values* of the math. For the bipolar
operands (XNOR inputs and weights, BIPOLAR_W weights) the values are -1 and +1; the packers encode
+1 as bit 1 and -1 as bit 0, as the hardware reads them.

Layout contract shared with the Verilog (see the header of ``mvau.v``):

* input beat ``sf`` of a vector: elements ``x[sf*SIMD + s]``, ``s < SIMD``, each ``IN_BITS`` at ``s*IN_BITS``;
* output beat ``nf``: accumulators ``y[nf*PE + p]``, ``p < PE``, each ``ACC_BITS`` two's complement;
* weight ROM word ``nf*SF + sf``: ``W[nf*PE + p][sf*SIMD + s]`` at bit ``(p*SIMD + s)*W_BITS``.

This module is the block's one entry point: the parameters (:class:`MvauParams`, :class:`MvauMode`) live in
:mod:`flow.blocks.mvau_params` and the resource estimate (:func:`estimate_resources`, :func:`resource_features`,
:func:`carry4_features`, :func:`uses_dsp`, the fitted ``MVAU_*_COEFFS``) in :mod:`flow.blocks.mvau_cost`, both
re-exported here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from flow.blocks.bits import (
    check_range,
    encode,
    hex_lines,
    pack_fields,
    signed_range,
    unpack_fields,
    write_mem,
)
from flow.blocks.cost import OpEnergy, add_pj, mul_pj
from flow.blocks.mvau_cost import (
    DSP_MIN_PRODUCT_BITS,
    MVAU_CARRY4_COEFFS,
    MVAU_LUT_COEFFS,
    carry4_features,
    estimate_resources,
    resource_features,
    uses_dsp,
)
from flow.blocks.mvau_params import MvauMode, MvauParams, check_w, check_x, encode_w, random_data
from flow.blocks.spec import BlockSpec, Stream, accept_times
from flow.paths import HW_ROOT

__all__ = [
    "DSP_MIN_PRODUCT_BITS",
    "HW_SOURCES",
    "MVAU_CARRY4_COEFFS",
    "MVAU_LUT_COEFFS",
    "SPEC",
    "MvauMode",
    "MvauParams",
    "adder_output_range",
    "carry4_features",
    "cycles_per_vector",
    "estimate_resources",
    "golden",
    "latency_cycles",
    "output_valid_cycle",
    "pack_inputs",
    "pack_outputs",
    "pack_weights",
    "pipeline_cycles",
    "random_data",
    "required_acc_bits",
    "resource_features",
    "unpack_outputs",
    "unpack_weights",
    "uses_dsp",
    "write_mem",
]

log = logging.getLogger(__name__)

#: Verilog files the block needs, in compile order.
HW_SOURCES = (HW_ROOT / "mvau" / "mvau.v", HW_ROOT / "mvau" / "mvau_dot.v", HW_ROOT / "mvau" / "mvau_tree.v",
              HW_ROOT / "mem" / "qflow_rom.v")

#: Pipeline depth of ``mvau.v`` without register stages: issue register + stage 1 (terms, tree, accumulate)
#: -> output queue; :func:`pipeline_cycles` adds the stages of ``in_reg`` and ``fanin``.
PIPELINE_CYCLES = 2


def pipeline_cycles(params: MvauParams) -> int:
    """Cycles from a step's issue to its output beat in the queue: ``PIPELINE_CYCLES + extra_latency``."""
    return PIPELINE_CYCLES + params.extra_latency


def adder_output_range(W: np.ndarray, xlo: int, xhi: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact per-channel (min, max) of ``-sum_i |x_i - W[j, i]|`` over inputs ``x_i`` in ``[xlo, xhi]``."""
    far = np.maximum(np.abs(xlo - W), np.abs(xhi - W))
    near = np.where((xlo <= W) & (xhi >= W), 0, np.minimum(np.abs(xlo - W), np.abs(xhi - W)))
    return -far.sum(axis=1), -near.sum(axis=1)


def _output_range(W: np.ndarray, params: MvauParams) -> tuple[np.ndarray, np.ndarray]:
    """Exact per-channel (min, max) of y over all inputs in ``params.x_range`` (elements independent)."""
    xlo, xhi = params.x_range
    if params.mode == MvauMode.XNOR:
        return np.full(params.mh, -params.mw, np.int64), np.full(params.mh, params.mw, np.int64)
    if params.mode == MvauMode.ADDER:
        return adder_output_range(W, xlo, xhi)
    a, b = xlo * W, xhi * W  # MAC and BIPOLAR_W: x*w is monotonic in x
    return np.minimum(a, b).sum(axis=1), np.maximum(a, b).sum(axis=1)


def required_acc_bits(W: np.ndarray, params: MvauParams) -> int:
    """Smallest ``ACC_BITS`` that holds every output for these weights and any input in range.

    Interval analysis per output channel (exact: the bounds are reached). ``params.acc_bits`` is ignored.
    """
    W = check_w(W, params)
    lo, hi = _output_range(W, params)
    ymin, ymax = int(lo.min()), int(hi.max())
    bits = 1
    while not (signed_range(bits)[0] <= ymin and ymax <= signed_range(bits)[1]):
        bits += 1
    return bits


def golden(x: np.ndarray, W: np.ndarray, params: MvauParams, chunk: int = 256) -> np.ndarray:
    """Exact MVAU outputs for a batch: ``x`` ``(batch, MW)``, ``W`` ``(MH, MW)`` -> ``(batch, MH)`` int64.

    Raises :class:`ValueError` if an input or weight is out of range, or an output does not fit
    ``ACC_BITS`` (the hardware would wrap).
    """
    params.validate()
    x = check_x(x, params)
    W = check_w(W, params)
    if params.mode == MvauMode.ADDER:
        parts = [-np.abs(x[i : i + chunk, None, :] - W[None, :, :]).sum(axis=2) for i in range(0, len(x), chunk)]
        y = np.concatenate(parts, axis=0) if parts else np.zeros((0, params.mh), np.int64)
    else:
        y = x @ W.T
    check_range(y, *signed_range(params.acc_bits), f"mvau: outputs for acc_bits={params.acc_bits}")
    return y


def pack_weights(W: np.ndarray, params: MvauParams) -> list[str]:
    """Weight ROM lines for ``WEIGHT_FILE``: ``NF*SF`` hex words of ``PE*SIMD*W_BITS`` bits."""
    params.validate()
    W = check_w(W, params)
    nf, sf, pe, simd = params.nf, params.sf, params.pe, params.simd
    fields = encode_w(W, params).reshape(nf, pe, sf, simd).transpose(0, 2, 1, 3).reshape(nf * sf, pe * simd)
    return hex_lines(pack_fields(fields, params.w_bits), params.weight_width)


def unpack_weights(words: Sequence[int], params: MvauParams) -> np.ndarray:
    """Inverse of :func:`pack_weights` (given parsed integer words): ``(MH, MW)`` weight values."""
    params.validate()
    if len(words) != params.weight_depth:
        raise ValueError(f"mvau: weight ROM expected {params.weight_depth} words, got {len(words)}")
    nf, sf, pe, simd = params.nf, params.sf, params.pe, params.simd
    bipolar = params.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_W)
    f = unpack_fields(words, pe * simd, params.w_bits, signed=not bipolar)
    if bipolar:
        f = 2 * f - 1
    return f.reshape(nf, sf, pe, simd).transpose(0, 2, 1, 3).reshape(params.mh, params.mw)


def pack_inputs(x: np.ndarray, params: MvauParams) -> list[int]:
    """Input beats for a batch ``(batch, MW)``: ``batch*SF`` words of ``SIMD*IN_BITS`` bits, in order."""
    params.validate()
    x = check_x(x, params)
    if params.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_X):
        enc = (x > 0).astype(np.int64)
    else:
        enc = encode(x, params.in_bits, params.in_signed, "mvau: x")
    return pack_fields(enc.reshape(-1, params.simd), params.in_bits)


def pack_outputs(y: np.ndarray, params: MvauParams) -> list[int]:
    """Output beats the hardware sends for outputs ``y`` ``(batch, MH)`` (the expected stream)."""
    params.validate()
    y = np.asarray(y, dtype=np.int64)
    if y.ndim != 2 or y.shape[1] != params.mh:
        raise ValueError(f"mvau: y expected shape (batch, mh={params.mh}), got {y.shape}")
    enc = encode(y, params.acc_bits, signed=True, what="mvau: y")
    return pack_fields(enc.reshape(-1, params.pe), params.acc_bits)


def unpack_outputs(beats: Sequence[int], params: MvauParams) -> np.ndarray:
    """Output beats (``NF`` per vector, in order) -> ``(batch, MH)`` signed int64."""
    params.validate()
    if len(beats) % params.nf:
        raise ValueError(f"mvau: output beats expected a multiple of nf={params.nf}, got {len(beats)}")
    return unpack_fields(beats, params.pe, params.acc_bits, signed=True).reshape(-1, params.mh)


def cycles_per_vector(params: MvauParams) -> int:
    """Initiation interval without stalls: one vector every ``NF*SF`` cycles."""
    params.validate()
    return params.nf * params.sf


def output_valid_cycle(params: MvauParams, nf: int) -> int:
    """Cycle (relative to the acceptance of the vector's first input beat, no stalls) in which
    output beat ``nf`` is first valid: ``(nf + 1)*SF + 1`` plus the register stages' ``extra_latency``."""
    params.validate()
    if not 0 <= nf < params.nf:
        raise ValueError(f"mvau: nf expected in [0, {params.nf}), got {nf}")
    return (nf + 1) * params.sf - 1 + pipeline_cycles(params)


def latency_cycles(params: MvauParams) -> int:
    """Cycles from accepting a vector's first input beat to its last output beat being valid, no
    stalls: ``NF*SF + 1`` (2 for a fully parallel layer), plus ``extra_latency``."""
    return output_valid_cycle(params, params.nf - 1)


# ---------------------------------------------------------------------------------------------- the block spec
def ports(params: MvauParams) -> tuple[Stream, Stream]:
    """``SIMD`` inputs of ``IN_BITS`` per beat in, ``PE`` accumulators of ``ACC_BITS`` per beat out."""
    return Stream(params.simd, params.in_bits), Stream(params.pe, params.acc_bits)


def _vector_times(params: MvauParams, valid: list[int]) -> list[int]:
    """One vector: fold (0, s) issues when input beat s is accepted, later folds issue one per cycle; output
    beat n is valid :func:`pipeline_cycles` after fold (n, SF-1) issued."""
    issue = accept_times(valid)
    out = [issue[-1] + pipeline_cycles(params)]
    for _ in range(1, params.nf):
        out.append(out[-1] + params.sf)
    return out


def output_times(params: MvauParams, valid: list[int]) -> list[int]:
    """``len(valid) / SF`` vectors: each vector's beats are read during its first fold, and the next vector
    starts when the current one's ``NF*SF`` steps are issued."""
    out: list[int] = []
    free = -(10**9)  # first cycle the unit can accept the next vector's first beat
    for v in range(len(valid) // params.sf):
        accepted = accept_times([max(t, free) for t in valid[v * params.sf : (v + 1) * params.sf]])
        out.extend(_vector_times(params, accepted))
        free = accepted[0] + params.nf * params.sf
    return out


def energy(params: MvauParams, in_beats: int) -> OpEnergy:
    """Per vector ``MH*MW`` operations: XNOR + popcount addition (XNOR), multiply + addition (MAC), addition
    (binary weights), subtraction + absolute value + addition (AdderNet); every weight read once."""
    e = OpEnergy(f"matrix-vector ({params.mode.name})")
    vectors = in_beats // params.sf
    n = params.mh * params.mw * vectors
    acc = params.acc_bits
    if params.mode == MvauMode.XNOR:
        e.count("xnor", "1b", n, add_pj(1))
    elif params.mode == MvauMode.MAC:
        e.count("mul", f"{params.in_bits}x{params.w_bits}b", n, mul_pj(params.in_bits, params.w_bits))
    elif params.mode == MvauMode.ADDER:
        width = max(params.in_bits, params.w_bits) + 1
        e.count("sub", f"{width}b", n, add_pj(width))
        e.count("abs", f"{width}b", n, add_pj(width))
    e.count("add", f"{acc}b", n, add_pj(acc))
    weight_bits = params.mh * params.mw * params.w_bits
    e.read(weight_bits * vectors, weight_bits)
    return e


SPEC = BlockSpec(
    name="mvau",
    params_type=MvauParams,
    sources=HW_SOURCES,
    ports=ports,
    verilog_parameters=lambda p, mem: p.verilog_parameters(mem),
    output_times=output_times,
    cycles=lambda p, in_beats: cycles_per_vector(p) * (in_beats // p.sf),
    out_beats=lambda p, in_beats: in_beats // p.sf * p.nf,
    latency=latency_cycles,
    estimate=lambda p, data: estimate_resources(p, weights=data),
    energy=energy,
    random_data=random_data,
    memory_lines=lambda p, data: pack_weights(data, p),
    memory_name="{layer}_weights.mem",
)
