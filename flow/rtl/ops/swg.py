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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flow.rtl.ops import (
    HW_ROOT,
    MAX_FIELD_BITS,
    check_range,
    encode,
    pack_fields,
    signed_range,
    unpack_fields,
    unsigned_range,
)

__all__ = [
    "HW_SOURCES",
    "PIPELINE_CYCLES",
    "SwgParams",
    "cycles_per_image",
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


def _check_int(block: str, name: str, v: object, lo: int) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or v < lo:
        what = "a positive integer" if lo == 1 else f"an integer >= {lo}"
        raise ValueError(f"{block}: {name} expected {what}, got {v!r}")


@dataclass(frozen=True)
class SwgParams:
    """Parameters of one ``swg`` instance (Verilog parameter names in lower case).

    ``signed`` is not a Verilog parameter (the block moves bits): it says how element values are range-checked
    when packed and read back when unpacked.
    """

    ifm_h: int
    ifm_w: int
    ch: int
    simd: int
    k: int
    stride: int
    elem_bits: int
    signed: bool = False

    @property
    def cf(self) -> int:
        """Beats per pixel ``CH / SIMD``."""
        return self.ch // self.simd

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
    def in_beats(self) -> int:
        """Input beats per image: ``IFM_H * IFM_W * CF``."""
        return self.ifm_h * self.ifm_w * self.cf

    @property
    def window_beats(self) -> int:
        """Beats per window: ``K * K * CF``."""
        return self.k * self.k * self.cf

    @property
    def out_beats(self) -> int:
        """Output beats per image: ``OH * OW * K * K * CF``."""
        return self.oh * self.ow * self.window_beats

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter, what was expected and what arrived."""
        for name in ("ifm_h", "ifm_w", "ch", "simd", "k", "stride", "elem_bits"):
            _check_int("swg", name, getattr(self, name), 1)
        if not isinstance(self.signed, bool):
            raise ValueError(f"swg: signed expected a bool, got {self.signed!r}")
        if self.ch % self.simd:
            raise ValueError(f"swg: simd expected a divisor of ch={self.ch}, got {self.simd}")
        if self.k > self.ifm_h or self.k > self.ifm_w:
            raise ValueError(f"swg: k expected <= ifm_h={self.ifm_h} and <= ifm_w={self.ifm_w}, got {self.k}")
        if self.elem_bits > MAX_FIELD_BITS:
            raise ValueError(f"swg: elem_bits expected at most {MAX_FIELD_BITS} (int64 model), got {self.elem_bits}")

    def verilog_parameters(self) -> dict[str, int]:
        """The Verilog parameter map."""
        self.validate()
        return {
            "IFM_H": self.ifm_h,
            "IFM_W": self.ifm_w,
            "CH": self.ch,
            "SIMD": self.simd,
            "K": self.k,
            "STRIDE": self.stride,
            "ELEM_BITS": self.elem_bits,
        }

    @property
    def value_range(self) -> tuple[int, int]:
        """Inclusive range of element values (signed or unsigned ``ELEM_BITS``)."""
        return signed_range(self.elem_bits) if self.signed else unsigned_range(self.elem_bits)


def _check_x(x: np.ndarray, params: SwgParams) -> np.ndarray:
    x = np.asarray(x, dtype=np.int64)
    shape = (params.ifm_h, params.ifm_w, params.ch)
    if x.ndim != 4 or x.shape[1:] != shape:
        dims = ", ".join(map(str, shape))
        raise ValueError(f"swg: x expected shape (n, ifm_h, ifm_w, ch) = (n, {dims}), got {x.shape}")
    kind = "signed" if params.signed else "unsigned"
    check_range(x, *params.value_range, f"swg: x ({kind} {params.elem_bits} bits)")
    return x


def golden(x: np.ndarray, params: SwgParams) -> np.ndarray:
    """Windows of a batch: ``(N, IFM_H, IFM_W, CH)`` -> ``(N, OH*OW, K*K*CH)``, element ``(ky*K + kx)*CH + c``."""
    params.validate()
    x = _check_x(x, params)
    k, s, oh, ow = params.k, params.stride, params.oh, params.ow
    out = np.empty((x.shape[0], oh, ow, k, k, params.ch), dtype=np.int64)
    for ky in range(k):
        for kx in range(k):
            out[:, :, :, ky, kx, :] = x[:, ky : ky + s * (oh - 1) + 1 : s, kx : kx + s * (ow - 1) + 1 : s, :]
    return out.reshape(x.shape[0], oh * ow, k * k * params.ch)


def pack_inputs(x: np.ndarray, params: SwgParams) -> list[int]:
    """Input beats of a batch ``(N, IFM_H, IFM_W, CH)``: ``N*IFM_H*IFM_W*CF`` words of ``SIMD*ELEM_BITS`` bits."""
    params.validate()
    x = _check_x(x, params)
    enc = encode(x, params.elem_bits, params.signed, "swg: x")
    return pack_fields(enc.reshape(-1, params.simd), params.elem_bits)


def pack_outputs(y: np.ndarray, params: SwgParams) -> list[int]:
    """Output beats the hardware sends for windows ``y`` ``(N, OH*OW, K*K*CH)`` (the expected stream)."""
    params.validate()
    y = np.asarray(y, dtype=np.int64)
    shape = (params.oh * params.ow, params.window_beats * params.simd)
    if y.ndim != 3 or y.shape[1:] != shape:
        raise ValueError(f"swg: y expected shape (n, OH*OW, K*K*CH) = (n, {shape[0]}, {shape[1]}), got {y.shape}")
    enc = encode(y, params.elem_bits, params.signed, "swg: y")
    return pack_fields(enc.reshape(-1, params.simd), params.elem_bits)


def unpack_outputs(beats: Sequence[int], params: SwgParams) -> np.ndarray:
    """Output beats -> windows ``(N, OH*OW, K*K*CH)`` (signed iff ``params.signed``)."""
    params.validate()
    if len(beats) % params.out_beats:
        raise ValueError(f"swg: output beats expected a multiple of {params.out_beats} per image, got {len(beats)}")
    vals = unpack_fields(beats, params.simd, params.elem_bits, signed=params.signed)
    return vals.reshape(-1, params.oh * params.ow, params.k * params.k * params.ch)


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
    v = [int(t) for t in input_valid_times]
    if not v or len(v) % params.in_beats:
        raise ValueError(
            f"swg: input_valid_times expected a non-zero multiple of {params.in_beats} beats, got {len(v)}"
        )
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
