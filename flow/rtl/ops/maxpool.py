"""Max pooling (``hw/conv/maxpool.v``): parameters, golden model, packers, cycle model.

Non-overlapping ``K x K`` windows (stride ``K``) over images ``(N, H, W, C)`` streamed channels-last, pixel by
pixel in row-major order, ``C/SIMD`` beats per pixel. Output ``(N, H//K, W//K, C)`` in the same layout;
leftover rows and columns are read and dropped. Elements compare as signed when ``signed`` (Verilog
``SIGNED = 1``), else unsigned (bipolar 1-bit codes 1 = +1 / 0 = -1 pool correctly as unsigned).

Timing: one input beat per cycle; an input beat accepted in cycle ``t`` that completes an output beat (the
last pixel of its window) makes it valid in cycle ``t + 1``. With the output always ready the input is
never stalled.
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
    "MaxpoolParams",
    "cycles_per_image",
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
class MaxpoolParams:
    """Parameters of one ``maxpool`` instance (Verilog parameter names in lower case; ``SIGNED`` as a bool)."""

    ifm_h: int
    ifm_w: int
    ch: int
    simd: int
    k: int
    elem_bits: int
    signed: bool

    @property
    def cf(self) -> int:
        """Beats per pixel ``CH / SIMD``."""
        return self.ch // self.simd

    @property
    def oh(self) -> int:
        """Output rows ``IFM_H // K``."""
        return self.ifm_h // self.k

    @property
    def ow(self) -> int:
        """Output columns ``IFM_W // K``."""
        return self.ifm_w // self.k

    @property
    def in_beats(self) -> int:
        """Input beats per image: ``IFM_H * IFM_W * CF``."""
        return self.ifm_h * self.ifm_w * self.cf

    @property
    def out_beats(self) -> int:
        """Output beats per image: ``OH * OW * CF``."""
        return self.oh * self.ow * self.cf

    @property
    def buffer_words(self) -> int:
        """Words of partial maxima (``SIMD*ELEM_BITS`` bits each): ``OW * CF``."""
        return self.ow * self.cf

    @property
    def value_range(self) -> tuple[int, int]:
        """Inclusive range of element values."""
        return signed_range(self.elem_bits) if self.signed else unsigned_range(self.elem_bits)

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter, what was expected and what arrived."""
        for name in ("ifm_h", "ifm_w", "ch", "simd", "k", "elem_bits"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"maxpool: {name} expected a positive integer, got {v!r}")
        if not isinstance(self.signed, bool):
            raise ValueError(f"maxpool: signed expected a bool, got {self.signed!r}")
        if self.ch % self.simd:
            raise ValueError(f"maxpool: simd expected a divisor of ch={self.ch}, got {self.simd}")
        if self.k > self.ifm_h or self.k > self.ifm_w:
            raise ValueError(f"maxpool: k expected <= ifm_h={self.ifm_h} and <= ifm_w={self.ifm_w}, got {self.k}")
        if self.elem_bits > MAX_FIELD_BITS:
            raise ValueError(
                f"maxpool: elem_bits expected at most {MAX_FIELD_BITS} (int64 model), got {self.elem_bits}"
            )

    def verilog_parameters(self) -> dict[str, int]:
        """The Verilog parameter map."""
        self.validate()
        return {
            "IFM_H": self.ifm_h,
            "IFM_W": self.ifm_w,
            "CH": self.ch,
            "SIMD": self.simd,
            "K": self.k,
            "ELEM_BITS": self.elem_bits,
            "SIGNED": int(self.signed),
        }


def _check(a: np.ndarray, params: MaxpoolParams, name: str, shape: tuple[int, int, int]) -> np.ndarray:
    a = np.asarray(a, dtype=np.int64)
    if a.ndim != 4 or a.shape[1:] != shape:
        raise ValueError(f"maxpool: {name} expected shape (n, {', '.join(map(str, shape))}), got {a.shape}")
    kind = "signed" if params.signed else "unsigned"
    check_range(a, *params.value_range, f"maxpool: {name} ({kind} {params.elem_bits} bits)")
    return a


def _pack(a: np.ndarray, params: MaxpoolParams, what: str) -> list[int]:
    return pack_fields(encode(a, params.elem_bits, params.signed, what).reshape(-1, params.simd), params.elem_bits)


def golden(x: np.ndarray, params: MaxpoolParams) -> np.ndarray:
    """Pooled batch: ``(N, IFM_H, IFM_W, CH)`` -> ``(N, IFM_H//K, IFM_W//K, CH)``."""
    params.validate()
    x = _check(x, params, "x", (params.ifm_h, params.ifm_w, params.ch))
    k, oh, ow = params.k, params.oh, params.ow
    win = x[:, : oh * k, : ow * k, :].reshape(x.shape[0], oh, k, ow, k, params.ch)
    return win.max(axis=(2, 4))


def pack_inputs(x: np.ndarray, params: MaxpoolParams) -> list[int]:
    """Input beats of a batch ``(N, IFM_H, IFM_W, CH)``: ``N*IFM_H*IFM_W*CF`` words of ``SIMD*ELEM_BITS`` bits."""
    params.validate()
    x = _check(x, params, "x", (params.ifm_h, params.ifm_w, params.ch))
    return _pack(x, params, "maxpool: x")


def pack_outputs(y: np.ndarray, params: MaxpoolParams) -> list[int]:
    """Output beats the hardware sends for ``y`` ``(N, OH, OW, CH)`` (the expected stream)."""
    params.validate()
    y = _check(y, params, "y", (params.oh, params.ow, params.ch))
    return _pack(y, params, "maxpool: y")


def unpack_outputs(beats: Sequence[int], params: MaxpoolParams) -> np.ndarray:
    """Output beats -> ``(N, OH, OW, CH)`` (signed iff ``params.signed``)."""
    params.validate()
    if len(beats) % params.out_beats:
        raise ValueError(f"maxpool: output beats expected a multiple of {params.out_beats} per image, got {len(beats)}")
    vals = unpack_fields(beats, params.simd, params.elem_bits, signed=params.signed)
    return vals.reshape(-1, params.oh, params.ow, params.ch)


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
    v = [int(t) for t in input_valid_times]
    if not v or len(v) % params.in_beats:
        raise ValueError(
            f"maxpool: input_valid_times expected a non-zero multiple of {params.in_beats} beats, got {len(v)}"
        )
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
