"""Depthwise unit (``hw/mvau/vvau.v``): one output per channel and window, ``y[c] = sum_k op(x[k][c], W[c][k])``
over the ``K2 = K*K`` window positions, with the MVAU's operations (:class:`~flow.blocks.mvau_params.MvauMode`).
Parameters, golden model (the MVAU's, one channel at a time: no arithmetic written twice), weight packing,
the timing model (exact for the RTL) and the resource and energy estimates.

Layout contract shared with the Verilog (see the header of ``vvau.v``): a window arrives position-major, beat
``k*CF + cf`` holding channels ``cf*SIMD .. cf*SIMD+SIMD-1`` of position ``k`` (the sliding-window generator's
order); output beat ``cf`` holds the ``SIMD`` accumulators of those channels; ROM word ``k*CF + cf`` holds
``W[cf*SIMD + s][k]`` at bit ``s*W_BITS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from flow.blocks import mvau
from flow.blocks.bits import check_positive, encode, hex_lines, pack_fields, unpack_fields
from flow.blocks.cost import OpEnergy, Resources, add_pj, map_memory, mul_pj
from flow.blocks.mvau_params import MvauMode, MvauParams, encode_w
from flow.blocks.spec import BlockSpec, Stream, accept_times
from flow.paths import HW_ROOT

__all__ = ["HW_SOURCES", "PIPELINE_CYCLES", "SPEC", "VvauParams", "estimate_resources", "golden", "output_times",
           "pack_inputs", "pack_weights", "unpack_outputs"]

#: Verilog files the block needs, in compile order.
HW_SOURCES = (HW_ROOT / "mvau" / "vvau.v", HW_ROOT / "mvau" / "mvau_dot.v", HW_ROOT / "mem" / "qflow_rom.v")

#: A beat accepted in cycle t that ends a channel fold's window makes its output valid in cycle t + 2.
PIPELINE_CYCLES = 2


@dataclass(frozen=True)
class VvauParams:
    """Parameters of one ``vvau`` instance (Verilog names in upper case; ``MODE`` as an :class:`MvauMode`)."""

    ch: int
    k2: int
    simd: int
    mode: MvauMode
    in_bits: int
    in_signed: bool
    w_bits: int
    acc_bits: int

    @property
    def cf(self) -> int:
        """Channel folds ``CH / SIMD`` (output beats per window)."""
        return self.ch // self.simd

    @property
    def lane(self) -> MvauParams:
        """One channel as an MVAU (``MW = K2``, one output): the operation, ranges and weight encoding."""
        return MvauParams(mw=self.k2, mh=1, pe=1, simd=1, mode=self.mode, in_bits=self.in_bits,
                          in_signed=self.in_signed, w_bits=self.w_bits, acc_bits=self.acc_bits)

    @property
    def matrix(self) -> MvauParams:
        """The MVAU with the same lanes and ROM (``MH = CH``, ``MW = K2``, ``PE = SIMD``, ``SIMD = 1``: one term and
        one accumulator per lane per cycle); its weight matrix is the depthwise ``W`` ``(CH, K2)``."""
        return MvauParams(mw=self.k2, mh=self.ch, pe=self.simd, simd=1, mode=self.mode, in_bits=self.in_bits,
                          in_signed=self.in_signed, w_bits=self.w_bits, acc_bits=self.acc_bits)

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter, what was expected and what arrived."""
        for name in ("ch", "k2", "simd"):
            check_positive("vvau", name, getattr(self, name))
        if self.ch % self.simd:
            raise ValueError(f"vvau: SIMD={self.simd} must divide CH={self.ch}")
        self.lane.validate()

    def verilog_parameters(self, weight_file: str | None = None) -> dict[str, int | str]:
        """The Verilog parameter map."""
        self.validate()
        out: dict[str, int | str] = {"CH": self.ch, "K2": self.k2, "SIMD": self.simd, "MODE": int(self.mode.value),
                                     "IN_BITS": self.in_bits, "IN_SIGNED": int(self.in_signed),
                                     "W_BITS": self.w_bits, "ACC_BITS": self.acc_bits}
        return out | ({"WEIGHT_FILE": weight_file} if weight_file is not None else {})


def golden(x: np.ndarray, W: np.ndarray, params: VvauParams) -> np.ndarray:
    """Exact outputs for a batch of windows: ``x`` ``(batch, K2*CH)`` position-major, ``W`` ``(CH, K2)`` ->
    ``(batch, CH)`` int64, each channel by the MVAU's golden model. Out-of-range values raise
    :class:`ValueError`."""
    params.validate()
    x = np.asarray(x, dtype=np.int64)
    W = np.asarray(W, dtype=np.int64)
    if x.ndim != 2 or x.shape[1] != params.k2 * params.ch or W.shape != (params.ch, params.k2):
        raise ValueError(f"vvau: expected x (batch, {params.k2 * params.ch}) and W ({params.ch}, {params.k2}), "
                         f"got {x.shape} and {W.shape}")
    per_channel = x.reshape(len(x), params.k2, params.ch)
    cols = [mvau.golden(per_channel[:, :, c], W[c : c + 1], params.lane) for c in range(params.ch)]
    return np.concatenate(cols, axis=1) if cols else np.zeros((len(x), 0), np.int64)


def pack_weights(W: np.ndarray, params: VvauParams) -> list[str]:
    """Weight ROM lines: ``K2*CF`` hex words of ``SIMD*W_BITS`` bits (word ``k*CF + cf``)."""
    params.validate()
    W = np.asarray(W, dtype=np.int64)
    if W.shape != (params.ch, params.k2):
        raise ValueError(f"vvau: W expected shape ({params.ch}, {params.k2}), got {W.shape}")
    fields = encode_w(W, params.lane).T.reshape(params.k2 * params.cf, params.simd)
    return hex_lines(pack_fields(fields, params.w_bits), params.simd * params.w_bits)


def pack_inputs(x: np.ndarray, params: VvauParams) -> list[int]:
    """Windows ``(batch, K2*CH)`` -> input beats of ``SIMD`` fields (bipolar values -1/+1 as 0/1)."""
    x = np.asarray(x, dtype=np.int64)
    if params.mode in (MvauMode.XNOR, MvauMode.BIPOLAR_X):
        return pack_fields(((x + 1) // 2).reshape(-1, params.simd), 1)
    return pack_fields(encode(x, params.in_bits, params.in_signed, "vvau: x").reshape(-1, params.simd),
                       params.in_bits)


def unpack_outputs(beats: Sequence[int], params: VvauParams) -> np.ndarray:
    """Output beats -> ``(windows, CH)``."""
    return unpack_fields(list(beats), params.simd, params.acc_bits, signed=True).reshape(-1, params.ch)


def output_times(params: VvauParams, valid: list[int]) -> list[int]:
    """Beats accepted one per cycle (never held back without backpressure); the output beat of channel fold cf
    of a window is valid ``PIPELINE_CYCLES`` after the window's beat ``(K2-1)*CF + cf`` was accepted."""
    params.validate()
    accepted = accept_times(valid)
    per_window = params.k2 * params.cf
    last = (params.k2 - 1) * params.cf
    return [accepted[w * per_window + last + cf] + PIPELINE_CYCLES
            for w in range(len(accepted) // per_window) for cf in range(params.cf)]


def estimate_resources(params: VvauParams, weights: np.ndarray | None = None) -> Resources:
    """The MVAU's estimate for the same lanes and ROM (``MH = CH``, ``MW = K2``, ``PE = SIMD``, ``SIMD = 1``: one
    term and one accumulator per lane per cycle, the same ``K2*CF``-word weight ROM), with the MVAU's input
    buffer (``K2`` words) replaced by this block's partial-sum memory (``CF`` words of ``SIMD*ACC_BITS``, LUT RAM,
    read and written in one cycle). Against Yosys ``synth_xilinx`` (MAC, 4-bit x 4-bit, 3x3 windows; CH/SIMD
    8/2, 16/16, 32/4): LUT 11-17 % low, FF -18 % to +45 %, LUT RAM exact; a 1x1 depthwise layer (one ROM word,
    constant weights) is 2.5x too high in LUT. Not fitted: a structural first model, measured."""
    params.validate()
    twin = params.matrix
    est = mvau.estimate_resources(twin, weights)
    lut, ff, lutram, bram = est.lut, est.ff, est.lutram, est.bram18
    if twin.nf > 1:  # the twin's input buffer and its multiplexers, which this block does not have
        ibuf = map_memory(twin.sf, params.in_bits, single_port=True, sync_read=True)
        lut, lutram, bram = lut - params.in_bits, lutram - ibuf.lutram, bram - ibuf.bram18
        ff -= twin.sf * params.in_bits if ibuf.kind == "logic" else 0
    if params.cf > 1:
        partial = map_memory(params.cf, params.simd * params.acc_bits)
        lutram += partial.lutram
        ff += params.simd * params.acc_bits * params.cf if partial.kind == "logic" else 0
    return replace(est, lut=lut, ff=ff, lutram=lutram, bram18=bram)


def energy(params: VvauParams, in_beats: int) -> OpEnergy:
    """Per window ``CH*K2`` operations (as the MVAU's, per term) and every weight read once."""
    e = OpEnergy(f"depthwise ({params.mode.name})")
    windows = in_beats // (params.k2 * params.cf)
    n = params.ch * params.k2 * windows
    if params.mode == MvauMode.MAC:
        e.count("mul", f"{params.in_bits}x{params.w_bits}b", n, mul_pj(params.in_bits, params.w_bits))
    elif params.mode == MvauMode.XNOR:
        e.count("xnor", "1b", n, add_pj(1))
    e.count("add", f"{params.acc_bits}b", n, add_pj(params.acc_bits))
    weight_bits = params.ch * params.k2 * params.w_bits
    e.read(weight_bits * windows, weight_bits)
    return e


def _random_data(params: VvauParams, seed: int = 0) -> np.ndarray:
    return mvau.random_data(params.matrix, seed)


SPEC = BlockSpec(
    name="vvau",
    params_type=VvauParams,
    sources=HW_SOURCES,
    ports=lambda p: (Stream(p.simd, p.in_bits), Stream(p.simd, p.acc_bits)),
    verilog_parameters=lambda p, mem: p.verilog_parameters(mem),
    output_times=output_times,
    cycles=lambda p, in_beats: in_beats,
    out_beats=lambda p, in_beats: in_beats // p.k2,
    latency=lambda p: p.k2 * p.cf - 1 + PIPELINE_CYCLES,
    estimate=lambda p, data: estimate_resources(p, data),
    energy=energy,
    random_data=_random_data,
    memory_lines=lambda p, data: pack_weights(data, p),
)
