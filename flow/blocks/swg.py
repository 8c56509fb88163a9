"""Sliding-window generator (``hw/conv/swg.v``): parameters, golden model, packers, cycle model.

Images ``(N, H, W, C)`` stream in channels-last, pixel by pixel in row-major order, ``C/SIMD`` beats per pixel
(element ``s`` of beat ``cf`` = channel ``cf*SIMD + s`` at bits ``[s*ELEM_BITS, (s+1)*ELEM_BITS)``). For each
output pixel ``(oy, ox)`` in row-major order the block sends the window ``K*K*C/SIMD`` beats: for ``ky``, for
``kx``, for ``cf``: input pixel ``(oy*STRIDE + ky, ox*STRIDE + kx)``, beat ``cf``. The window vector's element
``(ky*K + kx)*C + c`` is what a matrix-vector unit with ``SIMD`` lanes consumes. ``OH = (H-K)//STRIDE + 1``,
``OW = (W-K)//STRIDE + 1``: trailing rows and columns that no window covers are read and dropped.

Timing (see the header of ``hw/conv/swg.v``): a line buffer of ``K + STRIDE`` rows, a counter ``F`` of rows
written beyond the top row of the current output row; the write side accepts a beat of a stored row while
``F < K + STRIDE`` (beats of dropped rows always), the read side issues one output beat per cycle while
``F >= K``; a beat issued in cycle ``t`` is valid in cycle ``t + 2``. :func:`output_valid_times` replays
exactly that control logic cycle by cycle (it is checked against the RTL in ``sim/conv/test_swg.py``).

Resource estimate (:func:`estimate_resources`): line buffer and output queue by Yosys' memory cost rules, FF
from the RTL's registers, LUT and CARRY4 = ``sum(coeff[k] * f[k])`` over :func:`resource_features` with
:data:`SWG_LUT_COEFFS`, :data:`SWG_CARRY4_COEFFS` (fitted by ``bench/resource_estimates.py --calibrate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from flow.blocks.bits import clog2
from flow.blocks.cost import OpEnergy, Resources, map_memory, mux_luts
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
    "SwgParams",
    "cycles_per_image",
    "estimate_resources",
    "golden",
    "output_valid_times",
    "pack_inputs",
    "pack_outputs",
    "simulate",
    "unpack_outputs",
]

#: Verilog files the block needs.
HW_SOURCES = (HW_ROOT / "conv" / "swg.v",)

#: A read issued in cycle t is valid at the output in cycle t + 2 (memory read register, output queue).
PIPELINE_CYCLES = 2


@dataclass(frozen=True)
class SwgParams(ImageParams):
    """Parameters of one ``swg`` instance (Verilog parameter names in lower case), after the image fields of
    :class:`~flow.blocks.image.ImageParams`.

    ``signed`` is not a Verilog parameter (the block moves bits): it says how element values are range-checked
    when packed and read back when unpacked.
    """

    BLOCK: ClassVar[str] = "swg"
    VERILOG_PARAMETERS: ClassVar[tuple[str, ...]] = ("IFM_H", "IFM_W", "CH", "SIMD", "K", "STRIDE", "ELEM_BITS")
    OUT_AXES: ClassVar[str | None] = "OH*OW, K*K*CH"
    k: int
    stride: int
    elem_bits: int
    signed: bool = False

    @property
    def oh(self) -> int:
        """Output rows ``(IFM_H - K)//STRIDE + 1``."""
        return (self.ifm_h - self.k) // self.stride + 1

    @property
    def ow(self) -> int:
        """Output columns ``(IFM_W - K)//STRIDE + 1``."""
        return (self.ifm_w - self.k) // self.stride + 1

    @property
    def kept_rows(self) -> int:
        """Input rows some window covers: ``(OH-1)*STRIDE + K`` (the others are dropped)."""
        return (self.oh - 1) * self.stride + self.k

    @property
    def kept_cols(self) -> int:
        """Input columns some window covers: ``(OW-1)*STRIDE + K``."""
        return (self.ow - 1) * self.stride + self.k

    @property
    def buffer_rows(self) -> int:
        """Rows in the circular line buffer: ``K + STRIDE``."""
        return self.k + self.stride

    @property
    def buffer_words(self) -> int:
        """Line-buffer depth in words of ``SIMD*ELEM_BITS`` bits: ``(K + STRIDE) * kept_cols * CF``."""
        return self.buffer_rows * self.kept_cols * self.cf

    @property
    def window_beats(self) -> int:
        """Beats per window: ``K * K * CF``."""
        return self.k * self.k * self.cf

    @property
    def out_shape(self) -> tuple[int, int]:
        """Windows of one image ``(OH*OW, K*K*CH)``: ``OH * OW * K * K * CF`` beats."""
        return self.oh * self.ow, self.window_beats * self.simd

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter, what was expected and what arrived."""
        self._check_image_fields(("ifm_h", "ifm_w", "ch", "simd", "k", "stride", "elem_bits"), window=self.k)


def golden(x: np.ndarray, params: SwgParams) -> np.ndarray:
    """Windows of a batch: ``(N, IFM_H, IFM_W, CH)`` -> ``(N, OH*OW, K*K*CH)``, element ``(ky*K + kx)*CH + c``."""
    x = check_inputs(x, params)
    k, s, oh, ow = params.k, params.stride, params.oh, params.ow
    out = np.empty((x.shape[0], oh, ow, k, k, params.ch), dtype=np.int64)
    for ky in range(k):
        for kx in range(k):
            out[:, :, :, ky, kx, :] = x[:, ky : ky + s * (oh - 1) + 1 : s, kx : kx + s * (ow - 1) + 1 : s, :]
    return out.reshape(x.shape[0], oh * ow, k * k * params.ch)


# ---------------------------------------------------------------------------------------------- timing
def _image_tables(params: SwgParams) -> tuple[list[bool], list[bool], list[int]]:
    """Per input beat of an image: (beat of a stored row, last beat of a stored row); per output beat: rows
    freed when it is read (``STRIDE`` at the end of an output row, ``K`` at the end of the image, else 0)."""
    h, w, cf = params.ifm_h, params.ifm_w, params.cf
    kept, row_end = [], []
    for y in range(h):
        for i in range(w * cf):
            kept.append(y < params.kept_rows)
            row_end.append(y < params.kept_rows and i == w * cf - 1)
    row_beats = params.ow * params.window_beats
    freed = [0] * params.out_beats
    for oy in range(params.oh):
        freed[(oy + 1) * row_beats - 1] = params.k if oy == params.oh - 1 else params.stride
    return kept, row_end, freed


def simulate(params: SwgParams, input_valid_times: Sequence[int]) -> tuple[list[int], list[int]]:
    """Cycle model of the RTL with the output always ready: ``(input accept cycles, output valid cycles)``.

    ``input_valid_times[i]`` is the cycle in which input beat ``i`` becomes valid; the beat is offered from
    cycle ``max(input_valid_times[i], accepted[i-1] + 1)`` until accepted. Give one image or several back to
    back (a multiple of ``in_beats`` times); cycle 0 is the first cycle after reset, the block starts from
    reset. Replays the RTL's control cycle by cycle (with the output always ready its queue never fills).
    """
    params.validate()
    v = check_valid_times(params, input_valid_times)
    kept, row_end, freed = _image_tables(params)
    n_in, n_out = len(v), len(v) // params.in_beats * params.out_beats
    nr, k = params.buffer_rows, params.k
    full, wi, ri, t = 0, 0, 0, 0  # full = F (may go down to K - STRIDE when STRIDE > K)
    accepted: list[int] = []
    out: list[int] = []
    while ri < n_out or wi < n_in:
        inc = dec = 0
        busy = False
        if wi < n_in:
            j = wi % params.in_beats
            offer = max(v[wi], accepted[-1] + 1) if accepted else v[wi]
            if t >= offer and (not kept[j] or full < nr):
                accepted.append(t)
                busy, inc = True, int(row_end[j])
                wi += 1
        if ri < n_out and full >= k:
            out.append(t + PIPELINE_CYCLES)
            dec = freed[ri % params.out_beats]
            ri += 1
            busy = True
        full += inc - dec
        if busy:
            t += 1
        elif wi < n_in:
            t = max(t + 1, v[wi], accepted[-1] + 1 if accepted else 0)  # idle until the next beat is offered
        else:
            raise AssertionError(f"swg model: no progress at cycle {t} with all input taken (bug)")
    return accepted, out


def output_valid_times(params: SwgParams, input_valid_times: Sequence[int]) -> list[int]:
    """Cycle in which each output beat is first valid, with the output always ready (exact for the RTL).

    ``input_valid_times[i]`` is the cycle in which input beat ``i`` becomes valid; the beat is offered from
    cycle ``max(input_valid_times[i], accepted[i-1] + 1)`` until accepted. Give one image or several back to
    back (a multiple of ``in_beats`` times); cycle 0 is the first cycle after reset. See :func:`simulate`.
    """
    return simulate(params, input_valid_times)[1]


def cycles_per_image(params: SwgParams) -> int:
    """Steady-state cycles per image without stalls (input always valid, output always ready).

    Found by running :func:`output_valid_times` over four back-to-back images (the interval between the
    images' last output beats is the same for all of them). It equals
    ``max(in_beats, out_beats + max(K - STRIDE, 0) * IFM_W * CF)`` (the second term: at each image start the
    reader waits while the ``K - STRIDE`` rows of the next image not taken early are written) except near
    the balance point of the two, where it can be a few cycles more.
    """
    params.validate()
    n = 4
    times = output_valid_times(params, [0] * (n * params.in_beats))
    intervals = np.diff(times[params.out_beats - 1 :: params.out_beats]).tolist()
    if len(set(intervals)) != 1:
        raise AssertionError(f"swg: no steady state within {n} images ({params}): intervals {intervals}")
    return intervals[-1]


# ---------------------------------------------------------------------------------------------- resources
#: Fitted coefficients of :func:`estimate_resources` (LUT and CARRY4 over :func:`resource_features`).
SWG_LUT_COEFFS: dict[str, float] = {
    "aw": 4.405,
    "counters": 0.0,
    "one": 42.421,
    "rd_mux": 1.892,
}
SWG_CARRY4_COEFFS: dict[str, float] = {
    "aw": 0.271,
    "counters": 0.338,
    "one": 11.888,
    "rd_mux": 0.338,
}


def _counter_bits(params: SwgParams) -> dict[str, int]:
    """Register widths of ``swg.v`` (0 where the RTL's counter is constant and Yosys removes it)."""

    p = params
    depth = p.buffer_rows * p.kept_cols * p.cf
    aw = clog2(depth)
    f_off = max(p.stride - p.k, 0)
    return {
        "full_rows": clog2(p.buffer_rows + f_off + 1),
        "wcf": clog2(p.cf + 1) if p.cf > 1 else 0,
        "wx": clog2(p.ifm_w + 1),
        "wy": clog2(p.ifm_h + 1),
        "ky": clog2(p.k + 1) if p.k > 1 else 0,
        "ox": clog2(p.ow + 1) if p.ow > 1 else 0,
        "oy": clog2(p.oh + 1) if p.oh > 1 else 0,
        "addr": aw * (5 if p.ow > 1 else 4),  # wa, kc, rb, kr (+ wb when windows move along a row)
        "queue": 9 + 1,  # q_ip, q_wp, q_rp (3 bits each), v1
    }


def resource_features(params: SwgParams) -> dict[str, float]:
    """Structural features of ``swg.v`` (``AW = clog2(DEPTH)``, ``DEPTH = (K+STRIDE)*kept_cols*CF``):
    ``one``; ``aw`` (address adders: ``kr + wb + kc`` and three modulo-``DEPTH`` additions); ``counters`` (the
    sum of the position counter widths); ``rd_mux`` (``SIMD*ELEM_BITS*mux_luts(banks)`` for a line buffer in
    several LUT RAM banks)."""

    params.validate()
    depth = params.buffer_rows * params.kept_cols * params.cf
    ew = params.simd * params.elem_bits
    mem = map_memory(depth, ew, sync_read=True)
    c = _counter_bits(params)
    counters = sum(v for k, v in c.items() if k not in ("addr", "queue"))
    return {
        "one": 1.0,
        "aw": clog2(depth),
        "counters": counters,
        "rd_mux": ew * mux_luts(mem.banks) if mem.kind == "lutram" else 0,
    }


def estimate_resources(params: SwgParams) -> Resources:
    """Estimated Yosys ``synth_xilinx`` cells of a ``swg`` (sliding-window generator).

    Memories (:func:`~flow.estimate.resources.map_memory`): the line buffer ``DEPTH x SIMD*ELEM_BITS`` (LUT RAM,
    or block RAM when large) and the 4-deep output queue. FF: the RTL's registers -- position counters, five
    ``AW``-bit address registers (four when ``OW == 1``), the row counter, 10 queue/valid bits -- plus the
    ``SIMD*ELEM_BITS`` read register (inside the block RAM when the line buffer is one), minus one (a bit Yosys
    finds constant on every calibration point).
    LUT and CARRY4: ``sum(coeff[k] * f[k])`` over :func:`resource_features` with :data:`SWG_LUT_COEFFS` and
    :data:`SWG_CARRY4_COEFFS`.
    """

    params.validate()
    depth = params.buffer_rows * params.kept_cols * params.cf
    ew = params.simd * params.elem_bits
    mem = map_memory(depth, ew, sync_read=True)
    queue = map_memory(4, ew)
    f = resource_features(params)
    lut = sum(SWG_LUT_COEFFS.get(k, 0.0) * v for k, v in f.items())
    carry = sum(SWG_CARRY4_COEFFS.get(k, 0.0) * v for k, v in f.items())
    ff = sum(_counter_bits(params).values()) - 1
    ff += ew if mem.kind != "bram" else 0  # a block RAM holds the read register itself
    if queue.kind == "logic":
        ff, lut = ff + 4 * ew, lut + ew
    return Resources(lut=lut, ff=ff, carry4=carry, bram18=mem.bram18, lutram=mem.lutram + queue.lutram)


# ---------------------------------------------------------------------------------------------- the block spec
def energy(params: SwgParams, in_beats: int) -> OpEnergy:
    """Data movement only: every window element read from the line buffer (``K + STRIDE`` rows)."""
    e = OpEnergy("sliding window")
    buffer_bits = (params.k + params.stride) * params.ifm_w * params.ch * params.elem_bits
    reads = params.oh * params.ow * params.k * params.k * params.ch * params.elem_bits
    e.read(reads * images_in(params, in_beats), buffer_bits)
    return e


SPEC = image_spec(name="swg", params_type=SwgParams, sources=HW_SOURCES, pipeline_cycles=PIPELINE_CYCLES,
                  cycles_per_image=cycles_per_image, output_valid_times=output_valid_times,
                  estimate=estimate_resources, energy=energy)
