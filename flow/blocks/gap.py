"""Global sum pooling (``hw/conv/gap.v``): per channel, the exact sum of all ``IFM_H x IFM_W`` pixels.

Global *average* pooling is this sum and a division by the pixel count ``P``: a power of two is a scale (the
sum carries ``log2 P`` more fraction bits), any other count is left to the thresholds after it, which the
lowering computes from the exact float chain (as for BatchNorm). Parameters, golden model, packers, the
cycle model (exact for the RTL) and a structural resource estimate.

Resource estimate (:func:`estimate_resources`): structural (memories by Yosys' cost rules, one LUT per sum bit,
the counters), compared with Yosys on four parameter sets (LUT within 7 %, FF, CARRY4 and LUT RAM exact there),
not fitted on a separate calibration set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from flow.blocks.bits import clog2, encode, pack_fields, unpack_fields
from flow.blocks.cost import OpEnergy, Resources, add_pj, carry4, map_memory
from flow.blocks.image import ImageParams, check_images, check_inputs, check_valid_times, image_spec, images_in
from flow.blocks.spec import BlockSpec, Stream
from flow.paths import HW_ROOT

__all__ = [
    "HW_SOURCES",
    "PIPELINE_CYCLES",
    "SPEC",
    "GapParams",
    "cycles_per_image",
    "estimate_resources",
    "golden",
    "output_valid_times",
    "pack_inputs",
    "pack_outputs",
    "unpack_outputs",
]

#: Verilog files the block needs.
HW_SOURCES = (HW_ROOT / "conv" / "gap.v",)

#: An input beat of the last pixel, accepted in cycle t, makes its output beat valid in cycle t + 1.
PIPELINE_CYCLES = 1


@dataclass(frozen=True)
class GapParams(ImageParams):
    """Parameters of one ``gap`` instance (Verilog parameter names in lower case; ``SIGNED`` as a bool), after
    the image fields of :class:`~flow.blocks.image.ImageParams`. ``OUT_BITS`` follows from them."""

    BLOCK: ClassVar[str] = "gap"
    VERILOG_PARAMETERS: ClassVar[tuple[str, ...]] = ("IFM_H", "IFM_W", "CH", "SIMD", "ELEM_BITS", "SIGNED")
    elem_bits: int
    signed: bool

    @property
    def pixels(self) -> int:
        return self.ifm_h * self.ifm_w

    @property
    def out_bits(self) -> int:
        """Width of a sum, two's complement: ``ELEM_BITS + clog2(IFM_H*IFM_W)``, one more for unsigned inputs
        (the sums are read as signed by the thresholds after them), holds every sum exactly."""
        return self.elem_bits + clog2(self.pixels) + (0 if self.signed else 1)

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """One output pixel of ``CH`` sums: ``CF`` beats."""
        return 1, 1, self.ch

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter, what was expected and what arrived."""
        self._check_image_fields(("ifm_h", "ifm_w", "ch", "simd", "elem_bits"))

    def verilog_parameters(self) -> dict[str, int]:
        return super().verilog_parameters() | {"OUT_BITS": self.out_bits}


def golden(x: np.ndarray, params: GapParams) -> np.ndarray:
    """Sums of a batch: ``(N, IFM_H, IFM_W, CH)`` -> ``(N, 1, 1, CH)``."""
    x = check_inputs(x, params)
    return x.sum(axis=(1, 2)).reshape(len(x), 1, 1, params.ch)


def pack_inputs(x: np.ndarray, params: GapParams) -> list[int]:
    """Input beats of a batch: ``N*IFM_H*IFM_W*CF`` words of ``SIMD*ELEM_BITS`` bits."""
    enc = encode(check_inputs(x, params), params.elem_bits, params.signed, "gap: x")
    return pack_fields(enc.reshape(-1, params.simd), params.elem_bits)


def pack_outputs(y: np.ndarray, params: GapParams) -> list[int]:
    """Output beats the hardware sends for sums ``y`` ``(N, 1, 1, CH)``: ``CF`` words of ``SIMD*OUT_BITS``."""
    params.validate()
    y = check_images(GapParams(1, 1, params.ch, params.simd, params.out_bits, True), y, "y", (1, 1, params.ch))
    enc = encode(y, params.out_bits, True, "gap: y")
    return pack_fields(enc.reshape(-1, params.simd), params.out_bits)


def unpack_outputs(beats: Sequence[int], params: GapParams) -> np.ndarray:
    """Output beats -> ``(N, 1, 1, CH)``."""
    params.validate()
    if len(beats) % params.cf:
        raise ValueError(f"gap: output beats expected a multiple of cf={params.cf}, got {len(beats)}")
    vals = unpack_fields(list(beats), params.simd, params.out_bits, signed=True)
    return vals.reshape(-1, 1, 1, params.ch)


def cycles_per_image(params: GapParams) -> int:
    """Steady-state cycles per image without stalls: ``IFM_H * IFM_W * CF`` (one input beat per cycle)."""
    params.validate()
    return params.in_beats


def output_valid_times(params: GapParams, input_valid_times: Sequence[int]) -> list[int]:
    """Cycle in which each output beat is first valid, with the output always ready (exact for the RTL): the
    ``CF`` beats of an image's last pixel, each one cycle after it is accepted (beats are accepted one per
    cycle, from ``max(valid, previous accept + 1)``)."""
    params.validate()
    v = check_valid_times(params, input_valid_times)
    accepted, last = [], -1
    for t in v:
        last = max(t, last + 1)
        accepted.append(last)
    first_emitting = params.in_beats - params.cf
    return [accepted[img * params.in_beats + first_emitting + c] + PIPELINE_CYCLES
            for img in range(len(v) // params.in_beats) for c in range(params.cf)]


def estimate_resources(params: GapParams) -> Resources:
    """Structural estimate, checked against Yosys ``synth_xilinx`` on four points (``synth_block``; BENCHMARKS.md):
    Yosys puts both the partial sums (``max(CF, 2)`` words of ``SIMD*OUT_BITS``) and the 2-beat output queue in
    LUT RAM (:func:`~flow.blocks.cost.map_memory` for each); one LUT per sum bit (the adders are on carry
    chains: ``SIMD*carry4(OUT_BITS)`` CARRY4) plus 1.5 per counter bit for the position logic; flip-flops are
    the counters (channel fold, pixel, queue pointers) and, with more than one fold, the LUT RAM's registered
    read address."""
    params.validate()
    width = params.simd * params.out_bits
    words = max(params.cf, 2)
    sums, queue = map_memory(words, width), map_memory(2, width)
    counters = clog2(words) + clog2(params.pixels + 1) + 4
    ff = counters + (clog2(params.cf) + 1 if params.cf > 1 else 0)
    for mem, depth in ((sums, words), (queue, 2)):
        if mem.kind == "logic":
            ff += depth * width
    return Resources(lut=width + 1.5 * counters, ff=ff, carry4=params.simd * carry4(params.out_bits) + carry4(counters),
                     bram18=sums.bram18 + queue.bram18, lutram=sums.lutram + queue.lutram)


def energy(params: GapParams, in_beats: int) -> OpEnergy:
    """One ``OUT_BITS`` addition per input element."""
    e = OpEnergy("global pooling (sum)")
    n = params.pixels * params.ch * images_in(params, in_beats)
    e.count("add", f"{params.out_bits}b", n, add_pj(params.out_bits))
    return e


_IMAGE = image_spec(name="gap", params_type=GapParams, sources=HW_SOURCES, pipeline_cycles=PIPELINE_CYCLES,
                    cycles_per_image=cycles_per_image, output_valid_times=output_valid_times,
                    estimate=estimate_resources, energy=energy)
#: The image-block spec, with the wider output port and one output pixel per image.
SPEC = BlockSpec(**{
    **_IMAGE.__dict__,
    "ports": lambda p: (Stream(p.simd, p.elem_bits), Stream(p.simd, p.out_bits)),
    "out_beats": lambda p, in_beats: p.cf * images_in(p, in_beats),
})
