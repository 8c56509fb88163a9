"""Padding (``hw/conv/pad.v``): parameters, golden model, packers, cycle model.

Images ``(N, H, W, C)`` stream channels-last, pixel by pixel in row-major order, ``C/SIMD`` beats per pixel.
The output image ``(H + PAD_T + PAD_B, W + PAD_L + PAD_R)`` holds the input at ``(PAD_T, PAD_L)`` and
``pad_value`` everywhere else (every channel). ``pad_value`` is an element value (signed when ``signed``);
the Verilog ``PAD_VALUE`` parameter gets a 32-bit integer whose two's complement, truncated or
sign-extended to ``ELEM_BITS`` bits, is its code.

Timing: one output beat per cycle; a beat issued in cycle ``t`` is valid in cycle ``t + 1``. A border beat
needs no input, except an image's first output beat, which waits until the image's first input beat is
valid; an interior beat is issued in the cycle its input beat is taken.

Resource estimate (:func:`estimate_resources`): output queue by Yosys' memory cost rules, FF from the RTL's
registers + 1, LUT and CARRY4 = ``sum(coeff[k] * f[k])`` over :func:`resource_features` with
:data:`PAD_LUT_COEFFS`, :data:`PAD_CARRY4_COEFFS` (fitted by ``bench/resource_estimates.py --calibrate``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from flow.blocks.bits import clog2
from flow.blocks.cost import OpEnergy, Resources, map_memory
from flow.blocks.image import (
    ImageParams,
    check_inputs,
    check_valid_times,
    image_spec,
    pack_inputs,
    pack_outputs,
    unpack_outputs,
)
from flow.paths import HW_ROOT

__all__ = [
    "HW_SOURCES",
    "PIPELINE_CYCLES",
    "SPEC",
    "PadParams",
    "cycles_per_image",
    "estimate_resources",
    "first_accept",
    "golden",
    "output_valid_times",
    "pack_inputs",
    "pack_outputs",
    "unpack_outputs",
]

#: Verilog files the block needs.
HW_SOURCES = (HW_ROOT / "conv" / "pad.v",)

#: A beat issued in cycle t is valid at the output in cycle t + 1 (output queue).
PIPELINE_CYCLES = 1


@dataclass(frozen=True)
class PadParams(ImageParams):
    """Parameters of one ``pad`` instance (Verilog parameter names in lower case), after the image fields of
    :class:`~flow.blocks.image.ImageParams`.

    ``signed`` is not a Verilog parameter: it says how element values (and ``pad_value``) are range-checked
    and read back.
    """

    BLOCK: ClassVar[str] = "pad"
    VERILOG_PARAMETERS: ClassVar[tuple[str, ...]] = (
        "IFM_H",
        "IFM_W",
        "CH",
        "SIMD",
        "PAD_T",
        "PAD_B",
        "PAD_L",
        "PAD_R",
        "ELEM_BITS",
    )
    pad_t: int
    pad_b: int
    pad_l: int
    pad_r: int
    elem_bits: int
    pad_value: int = 0
    signed: bool = False

    @property
    def oh(self) -> int:
        """Output rows ``PAD_T + IFM_H + PAD_B``."""
        return self.pad_t + self.ifm_h + self.pad_b

    @property
    def ow(self) -> int:
        """Output columns ``PAD_L + IFM_W + PAD_R``."""
        return self.pad_l + self.ifm_w + self.pad_r

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """Shape of one output image ``(OH, OW, CH)``: ``OH * OW * CF`` beats."""
        return self.oh, self.ow, self.ch

    @property
    def pad_code(self) -> int:
        """``pad_value`` as an ``ELEM_BITS``-bit code."""
        return self.pad_value & ((1 << self.elem_bits) - 1)

    @property
    def verilog_pad_value(self) -> int:
        """The 32-bit signed integer for ``PAD_VALUE`` whose truncation / sign extension is :attr:`pad_code`:
        ``pad_value`` itself when it fits 32 bits."""
        if -(1 << 31) <= self.pad_value < (1 << 31):
            return self.pad_value
        low = self.pad_code & 0xFFFFFFFF
        return low - (1 << 32) if low >> 31 else low

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter, what was expected and what arrived."""
        self._check_image_fields(("ifm_h", "ifm_w", "ch", "simd", "elem_bits"), ("pad_t", "pad_b", "pad_l", "pad_r"))
        lo, hi = self.value_range
        if not isinstance(self.pad_value, int) or isinstance(self.pad_value, bool) or not lo <= self.pad_value <= hi:
            kind = "signed" if self.signed else "unsigned"
            raise ValueError(
                f"pad: pad_value expected an integer in [{lo}, {hi}] ({kind} {self.elem_bits} bits), "
                f"got {self.pad_value!r}"
            )
        mask = (1 << self.elem_bits) - 1
        if self.elem_bits > 32 and (self.verilog_pad_value & mask) != self.pad_code:
            raise ValueError(
                f"pad: pad_value expected to be the sign extension of a 32-bit integer (Verilog PAD_VALUE) for "
                f"elem_bits={self.elem_bits}, got {self.pad_value}"
            )

    def verilog_parameters(self) -> dict[str, int]:
        """The Verilog parameter map, ``PAD_VALUE`` last (:attr:`verilog_pad_value`)."""
        return super().verilog_parameters() | {"PAD_VALUE": self.verilog_pad_value}


def golden(x: np.ndarray, params: PadParams) -> np.ndarray:
    """Padded batch: ``(N, IFM_H, IFM_W, CH)`` -> ``(N, PAD_T + IFM_H + PAD_B, PAD_L + IFM_W + PAD_R, CH)``."""
    x = check_inputs(x, params)
    y = np.full((x.shape[0], *params.out_shape), params.pad_value, dtype=np.int64)
    y[:, params.pad_t : params.pad_t + params.ifm_h, params.pad_l : params.pad_l + params.ifm_w, :] = x
    return y


def cycles_per_image(params: PadParams) -> int:
    """Steady-state cycles per image without stalls: ``OH * OW * CF`` (one output beat per cycle)."""
    params.validate()
    return params.out_beats


def _interior(params: PadParams) -> list[bool]:
    """Per output beat of an image: whether it carries an input beat."""
    rows = [params.pad_t <= y < params.pad_t + params.ifm_h for y in range(params.oh)]
    cols = [params.pad_l <= x < params.pad_l + params.ifm_w for x in range(params.ow)]
    return [r and c for r in rows for c in cols for _ in range(params.cf)]


def output_valid_times(params: PadParams, input_valid_times: Sequence[int]) -> list[int]:
    """Cycle in which each output beat is first valid, with the output always ready (exact for the RTL).

    ``input_valid_times[i]`` is the cycle in which input beat ``i`` becomes valid; it is offered from cycle
    ``max(input_valid_times[i], accepted[i-1] + 1)`` until taken. Give one image or several back to back (a
    multiple of ``in_beats`` times); cycle 0 is the first cycle after reset. Output beat ``j`` is issued in
    the cycle after beat ``j-1`` (the first: cycle 0) or later: an interior beat when its input beat is
    offered (and then taken), an image's first beat when the image's first input beat is offered.
    """
    params.validate()
    v = check_valid_times(params, input_valid_times)
    interior = _interior(params)
    out: list[int] = []
    issued, taken, i = -1, -1, 0  # cycle of the last issue, of the last input beat taken; next input beat
    for _ in range(len(v) // params.in_beats):
        for j, inside in enumerate(interior):
            t = issued + 1
            if inside or j == 0:
                t = max(t, v[i], taken + 1)  # the input beat is offered from max(v[i], taken + 1)
            if inside:
                taken, i = t, i + 1
            issued = t
            out.append(t + PIPELINE_CYCLES)
    return out


# ---------------------------------------------------------------------------------------------- resources
#: Fitted coefficients of :func:`estimate_resources` (LUT and CARRY4 over :func:`resource_features`).
PAD_LUT_COEFFS: dict[str, float] = {
    "counters": 0.0,
    "one": 27.591,
    "width": 0.813,
}
PAD_CARRY4_COEFFS: dict[str, float] = {
    "counters": 0.257,
    "one": 0.0,
    "width": 0.0,
}


def _register_bits(params: PadParams) -> int:
    """Flip-flops of ``pad.v``'s position counters and queue pointers (a constant ``cf`` left out)."""

    p = params
    return (clog2(p.cf + 1) if p.cf > 1 else 0) + clog2(p.ow + 1) + clog2(p.oh + 1) + 4


def resource_features(params: PadParams) -> dict[str, float]:
    """Structural features of ``pad.v``: ``one``; ``counters`` (:func:`_register_bits`); ``width``
    (``SIMD*ELEM_BITS``: the border/input multiplexer of each data bit)."""
    params.validate()
    return {"one": 1.0, "counters": _register_bits(params), "width": params.simd * params.elem_bits}


def estimate_resources(params: PadParams) -> Resources:
    """Estimated Yosys ``synth_xilinx`` cells of a ``pad``.

    The 2-deep output queue is LUT RAM when wider than 8 bits, else flip-flops with a 2:1 read multiplexer per
    bit (:func:`~flow.estimate.resources.map_memory`). FF: counters and queue pointers
    (:func:`_register_bits`) + 1 (observed on every calibration point). LUT and CARRY4: ``sum(coeff[k] * f[k])``
    over :func:`resource_features`.
    """

    params.validate()
    ew = params.simd * params.elem_bits
    queue = map_memory(2, ew)
    f = resource_features(params)
    lut = sum(PAD_LUT_COEFFS.get(k, 0.0) * v for k, v in f.items())
    carry = sum(PAD_CARRY4_COEFFS.get(k, 0.0) * v for k, v in f.items())
    ff = _register_bits(params) + 1
    if queue.kind == "logic":
        ff, lut = ff + 2 * ew, lut + ew
    return Resources(lut=lut, ff=ff, carry4=carry, lutram=queue.lutram)


def first_accept(params: PadParams, input_valid_times: Sequence[int]) -> int:
    """The cycle the first input beat is taken, output always ready: the image's first output beat is issued
    when that beat is valid, and the border beats before the first interior one (``PAD_T`` rows and ``PAD_L``
    pixels) go out one per cycle before it is taken (as :func:`output_valid_times` models)."""
    params.validate()
    return int(input_valid_times[0]) + (params.pad_t * params.ow + params.pad_l) * params.cf


SPEC = image_spec(name="pad", params_type=PadParams, sources=HW_SOURCES, pipeline_cycles=PIPELINE_CYCLES,
                  cycles_per_image=cycles_per_image, output_valid_times=output_valid_times,
                  estimate=estimate_resources, energy=lambda p, in_beats: OpEnergy("padding"))
SPEC = dataclasses.replace(SPEC, first_accept=first_accept)  # the top border goes out before the first input beat
