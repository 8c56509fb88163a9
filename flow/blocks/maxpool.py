"""Max pooling (``hw/conv/maxpool.v``): parameters, golden model, packers, cycle model.

Non-overlapping ``K x K`` windows (stride ``K``) over images ``(N, H, W, C)`` streamed channels-last, pixel by
pixel in row-major order, ``C/SIMD`` beats per pixel. Output ``(N, H//K, W//K, C)`` in the same layout;
leftover rows and columns are read and dropped. Elements compare as signed when ``signed`` (Verilog
``SIGNED = 1``), else unsigned (bipolar 1-bit codes 1 = +1 / 0 = -1 pool correctly as unsigned).

Timing: one input beat per cycle; an input beat accepted in cycle ``t`` that completes an output beat (the
last pixel of its window) makes it valid in cycle ``t + 1``. With the output always ready the input is
never stalled.

Resource estimate (:func:`estimate_resources`): row buffer and output queue by Yosys' memory cost rules, FF
from the RTL's registers, LUT and CARRY4 = ``sum(coeff[k] * f[k])`` over :func:`resource_features` with
:data:`MAXPOOL_LUT_COEFFS`, :data:`MAXPOOL_CARRY4_COEFFS` (fitted by ``bench/resource_estimates.py --calibrate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from flow.blocks.bits import clog2
from flow.blocks.cost import OpEnergy, Resources, add_pj, map_memory
from flow.blocks.image import (
    ImageParams,
    check_inputs,
    check_valid_times,
    image_spec,
    images_in,
    pack_inputs,
    pack_outputs,
    unpack_outputs,
)
from flow.paths import HW_ROOT

__all__ = [
    "HW_SOURCES",
    "PIPELINE_CYCLES",
    "SPEC",
    "MaxpoolParams",
    "cycles_per_image",
    "estimate_resources",
    "golden",
    "output_valid_times",
    "pack_inputs",
    "pack_outputs",
    "unpack_outputs",
]

#: Verilog files the block needs.
HW_SOURCES = (HW_ROOT / "conv" / "maxpool.v",)

#: An input beat that completes an output beat, accepted in cycle t, makes it valid in cycle t + 1.
PIPELINE_CYCLES = 1


@dataclass(frozen=True)
class MaxpoolParams(ImageParams):
    """Parameters of one ``maxpool`` instance (Verilog parameter names in lower case; ``SIGNED`` as a bool),
    after the image fields of :class:`~flow.blocks.image.ImageParams`."""

    BLOCK: ClassVar[str] = "maxpool"
    VERILOG_PARAMETERS: ClassVar[tuple[str, ...]] = ("IFM_H", "IFM_W", "CH", "SIMD", "K", "ELEM_BITS", "SIGNED")
    k: int
    elem_bits: int
    signed: bool

    @property
    def oh(self) -> int:
        """Output rows ``IFM_H // K``."""
        return self.ifm_h // self.k

    @property
    def ow(self) -> int:
        """Output columns ``IFM_W // K``."""
        return self.ifm_w // self.k

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """Shape of one output image ``(OH, OW, CH)``: ``OH * OW * CF`` beats."""
        return self.oh, self.ow, self.ch

    @property
    def buffer_words(self) -> int:
        """Words of partial maxima (``SIMD*ELEM_BITS`` bits each): ``OW * CF``."""
        return self.ow * self.cf

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter, what was expected and what arrived."""
        self._check_image_fields(("ifm_h", "ifm_w", "ch", "simd", "k", "elem_bits"), window=self.k)


def golden(x: np.ndarray, params: MaxpoolParams) -> np.ndarray:
    """Pooled batch: ``(N, IFM_H, IFM_W, CH)`` -> ``(N, IFM_H//K, IFM_W//K, CH)``."""
    x = check_inputs(x, params)
    k, oh, ow = params.k, params.oh, params.ow
    win = x[:, : oh * k, : ow * k, :].reshape(x.shape[0], oh, k, ow, k, params.ch)
    return win.max(axis=(2, 4))


def cycles_per_image(params: MaxpoolParams) -> int:
    """Steady-state cycles per image without stalls: ``IFM_H * IFM_W * CF`` (one input beat per cycle)."""
    params.validate()
    return params.in_beats


def _emitting_beats(params: MaxpoolParams) -> list[int]:
    """Indices (within an image) of the input beats that complete an output beat, in output order."""
    k, cf = params.k, params.cf
    return [
        ((oy * k + k - 1) * params.ifm_w + ox * k + k - 1) * cf + c
        for oy in range(params.oh)
        for ox in range(params.ow)
        for c in range(cf)
    ]


def output_valid_times(params: MaxpoolParams, input_valid_times: Sequence[int]) -> list[int]:
    """Cycle in which each output beat is first valid, with the output always ready (exact for the RTL).

    ``input_valid_times[i]`` is the cycle in which input beat ``i`` becomes valid; it is offered from cycle
    ``max(input_valid_times[i], accepted[i-1] + 1)`` and, the output being ready, accepted in that cycle.
    Give one image or several back to back (a multiple of ``in_beats`` times). Output beat ``j`` is valid one
    cycle after the input beat that completes it.
    """
    params.validate()
    v = check_valid_times(params, input_valid_times)
    accepted, last = [], -1
    for t in v:
        last = max(t, last + 1)
        accepted.append(last)
    emitting = _emitting_beats(params)
    return [
        accepted[img * params.in_beats + i] + PIPELINE_CYCLES
        for img in range(len(v) // params.in_beats)
        for i in emitting
    ]


# ---------------------------------------------------------------------------------------------- resources
#: Fitted coefficients of :func:`estimate_resources` (LUT and CARRY4 over :func:`resource_features`).
MAXPOOL_LUT_COEFFS: dict[str, float] = {
    "counters": 0.0,
    "lanes": 1.466,
    "one": 34.953,
}
MAXPOOL_CARRY4_COEFFS: dict[str, float] = {
    "counters": 0.285,
    "lanes": 0.013,
    "one": 0.0,
}


def _register_bits(params: MaxpoolParams) -> int:
    """Flip-flops of ``maxpool.v``'s counters and queue pointers (constant counters left out)."""

    p = params
    aw = clog2(max(p.buffer_words, 2))
    kb = clog2(p.k + 1)
    bits = clog2(p.ifm_w + 1) + clog2(p.ifm_h + 1) + 2 * kb + 4  # x, y, kx, ky, queue pointers
    bits += aw if p.cf > 1 else 0  # cf
    bits += aw if p.ow > 1 else 0  # ob
    return bits


def resource_features(params: MaxpoolParams) -> dict[str, float]:
    """Structural features of ``maxpool.v``: ``one``; ``counters`` (:func:`_register_bits`); ``lanes``
    (``SIMD*ELEM_BITS``: one comparator bit and one multiplexer bit per element bit)."""
    params.validate()
    return {"one": 1.0, "counters": _register_bits(params), "lanes": params.simd * params.elem_bits}


def estimate_resources(params: MaxpoolParams) -> Resources:
    """Estimated Yosys ``synth_xilinx`` cells of a ``maxpool``.

    Memories (:func:`~flow.estimate.resources.map_memory`): the row of partial maxima ``OW*CF`` words of
    ``SIMD*ELEM_BITS`` (single-port LUT RAM) and the 2-deep output queue (LUT RAM when wider than 8 bits, else
    flip-flops with a 2:1 read multiplexer per bit). FF: the counters and queue pointers
    (:func:`_register_bits`), plus ``AW + 1`` when ``CF == 1`` (observed on every such calibration point: Yosys
    then keeps a copy of the word address for the LUT RAM). LUT and CARRY4: ``sum(coeff[k] * f[k])`` over
    :func:`resource_features`.
    """

    params.validate()
    ew = params.simd * params.elem_bits
    words = max(params.buffer_words, 2)
    row = map_memory(words, ew, single_port=True)
    queue = map_memory(2, ew)
    f = resource_features(params)
    lut = sum(MAXPOOL_LUT_COEFFS.get(k, 0.0) * v for k, v in f.items())
    carry = sum(MAXPOOL_CARRY4_COEFFS.get(k, 0.0) * v for k, v in f.items())
    ff = _register_bits(params) + (clog2(words) + 1 if params.cf == 1 else 0)
    if queue.kind == "logic":
        ff, lut = ff + 2 * ew, lut + ew
    if row.kind == "logic":
        ff += words * ew
    return Resources(lut=lut, ff=ff, carry4=carry, bram18=row.bram18, lutram=row.lutram + queue.lutram)


# ---------------------------------------------------------------------------------------------- the block spec
def energy(params: MaxpoolParams, in_beats: int) -> OpEnergy:
    """``K*K - 1`` comparisons at the element width per output element."""
    e = OpEnergy("max-pool")
    n = params.oh * params.ow * params.ch * (params.k * params.k - 1) * images_in(params, in_beats)
    e.count("compare", f"{params.elem_bits}b", n, add_pj(params.elem_bits))
    return e


SPEC = image_spec(name="maxpool", params_type=MaxpoolParams, sources=HW_SOURCES, pipeline_cycles=PIPELINE_CYCLES,
                  cycles_per_image=cycles_per_image, output_valid_times=output_valid_times,
                  estimate=estimate_resources, energy=energy)
