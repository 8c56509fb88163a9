"""What the image-stream blocks (:mod:`.swg`, :mod:`.maxpool`, :mod:`.pad`) share: parameter checks, array
checks and packers for batches of images ``(N, H, W, C)``.

The images stream channels-last, pixel by pixel in row-major order, ``C/SIMD`` beats per pixel; element
``s`` of a beat sits at bits ``[s*ELEM_BITS, (s+1)*ELEM_BITS)`` (see :func:`~flow.blocks.bits.pack_fields`).
Every error message starts with the block's name (``ImageParams.BLOCK``) and says what was expected and
what arrived.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from flow.blocks.bits import (
    MAX_FIELD_BITS,
    check_range,
    encode,
    pack_fields,
    signed_range,
    unpack_fields,
    unsigned_range,
)
from flow.blocks.spec import BlockSpec, Stream

__all__ = [
    "ImageParams",
    "check_images",
    "check_inputs",
    "check_int",
    "check_valid_times",
    "pack_inputs",
    "pack_outputs",
    "unpack_outputs",
]


def check_int(block: str, name: str, v: object, lo: int) -> None:
    """Raise :class:`ValueError` unless ``v`` is an integer (not a bool) ``>= lo``."""
    if not isinstance(v, int) or isinstance(v, bool) or v < lo:
        what = "a positive integer" if lo == 1 else f"an integer >= {lo}"
        raise ValueError(f"{block}: {name} expected {what}, got {v!r}")


@dataclass(frozen=True)
class ImageParams:
    """Base of the parameter dataclasses of the image-stream blocks: the fields they start with (input image
    ``ifm_h x ifm_w`` pixels of ``ch`` channels, ``simd`` channels per beat) and what follows from them.

    A subclass is a frozen dataclass too. It adds its own fields, ``elem_bits`` and ``signed`` among them,
    names its block in ``BLOCK`` and its Verilog parameters in ``VERILOG_PARAMETERS``, and defines
    ``out_shape`` and ``validate``.
    """

    #: The block's name; every error message starts with it.
    BLOCK: ClassVar[str] = "image"
    #: The Verilog parameters, each taken from the field of the same name in lower case.
    VERILOG_PARAMETERS: ClassVar[tuple[str, ...]] = ()
    #: Names of the output axes in shape errors (``None``: numbers only).
    OUT_AXES: ClassVar[str | None] = None

    ifm_h: int
    ifm_w: int
    ch: int
    simd: int
    if TYPE_CHECKING:  # fields of every subclass, declared there (after its own geometry fields)
        elem_bits: int
        signed: bool

    @property
    def cf(self) -> int:
        """Beats per pixel ``CH / SIMD``."""
        return self.ch // self.simd

    @property
    def in_beats(self) -> int:
        """Input beats per image: ``IFM_H * IFM_W * CF``."""
        return self.ifm_h * self.ifm_w * self.cf

    @property
    def out_shape(self) -> tuple[int, ...]:
        """Shape of the golden output of one image, channels last (each block defines it)."""
        raise NotImplementedError

    @property
    def out_beats(self) -> int:
        """Output beats per image: the elements of :attr:`out_shape` over ``SIMD``."""
        return math.prod(self.out_shape) // self.simd

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter (each block defines it)."""
        raise NotImplementedError

    def verilog_parameters(self) -> dict[str, int]:
        """The Verilog parameter map (after :meth:`validate`): ``VERILOG_PARAMETERS`` from the fields of the same
        name in lower case, bools as 0 / 1."""
        self.validate()
        return {name: int(getattr(self, name.lower())) for name in self.VERILOG_PARAMETERS}

    @property
    def value_range(self) -> tuple[int, int]:
        """Inclusive range of element values (signed or unsigned ``ELEM_BITS``)."""
        return signed_range(self.elem_bits) if self.signed else unsigned_range(self.elem_bits)

    def _check_image_fields(
        self, positive: Sequence[str], non_negative: Sequence[str] = (), window: int | None = None
    ) -> None:
        """Raise :class:`ValueError` naming the first bad shared parameter, in this order: the ``positive``
        then the ``non_negative`` integer fields, ``signed`` a bool, ``simd`` a divisor of ``ch``, the
        ``window`` size ``k`` (when given) at most ``ifm_h`` and ``ifm_w``, ``elem_bits`` within the ``int64``
        model."""
        block = self.BLOCK
        for name in positive:
            check_int(block, name, getattr(self, name), 1)
        for name in non_negative:
            check_int(block, name, getattr(self, name), 0)
        if not isinstance(self.signed, bool):
            raise ValueError(f"{block}: signed expected a bool, got {self.signed!r}")
        if self.ch % self.simd:
            raise ValueError(f"{block}: simd expected a divisor of ch={self.ch}, got {self.simd}")
        if window is not None and (window > self.ifm_h or window > self.ifm_w):
            raise ValueError(f"{block}: k expected <= ifm_h={self.ifm_h} and <= ifm_w={self.ifm_w}, got {window}")
        if self.elem_bits > MAX_FIELD_BITS:
            bits = self.elem_bits
            raise ValueError(f"{block}: elem_bits expected at most {MAX_FIELD_BITS} (int64 model), got {bits}")


def check_images(
    params: ImageParams, a: np.ndarray, name: str, shape: tuple[int, ...], axes: str | None = None
) -> np.ndarray:
    """``a`` as ``int64`` after checking its shape ``(n, *shape)`` and its element range.

    ``axes`` names the dimensions in the shape error (``"ifm_h, ifm_w, ch"``).
    """
    a = np.asarray(a, dtype=np.int64)
    if a.ndim != 1 + len(shape) or a.shape[1:] != shape:
        dims = ", ".join(map(str, shape))
        expected = f"(n, {axes}) = (n, {dims})" if axes else f"(n, {dims})"
        raise ValueError(f"{params.BLOCK}: {name} expected shape {expected}, got {a.shape}")
    kind = "signed" if params.signed else "unsigned"
    check_range(a, *params.value_range, f"{params.BLOCK}: {name} ({kind} {params.elem_bits} bits)")
    return a


def check_inputs(x: np.ndarray, params: ImageParams) -> np.ndarray:
    """Validate ``params``; return the batch ``x`` ``(N, IFM_H, IFM_W, CH)`` as ``int64`` after checking its shape
    and element range."""
    params.validate()
    return check_images(params, x, "x", (params.ifm_h, params.ifm_w, params.ch), "ifm_h, ifm_w, ch")


def _pack(params: ImageParams, a: np.ndarray, name: str) -> list[int]:
    enc = encode(a, params.elem_bits, params.signed, f"{params.BLOCK}: {name}")
    return pack_fields(enc.reshape(-1, params.simd), params.elem_bits)


def pack_inputs(x: np.ndarray, params: ImageParams) -> list[int]:
    """Input beats of a batch ``(N, IFM_H, IFM_W, CH)``: ``N*IFM_H*IFM_W*CF`` words of ``SIMD*ELEM_BITS`` bits."""
    return _pack(params, check_inputs(x, params), "x")


def pack_outputs(y: np.ndarray, params: ImageParams) -> list[int]:
    """Output beats the hardware sends for ``y`` ``(N, *params.out_shape)`` (the expected stream)."""
    params.validate()
    return _pack(params, check_images(params, y, "y", params.out_shape, params.OUT_AXES), "y")


def unpack_outputs(beats: Sequence[int], params: ImageParams) -> np.ndarray:
    """Output beats -> ``(N, *params.out_shape)`` (signed iff ``params.signed``)."""
    params.validate()
    if len(beats) % params.out_beats:
        raise ValueError(
            f"{params.BLOCK}: output beats expected a multiple of {params.out_beats} per image, got {len(beats)}"
        )
    vals = unpack_fields(beats, params.simd, params.elem_bits, signed=params.signed)
    return vals.reshape(-1, *params.out_shape)


def check_valid_times(params: ImageParams, input_valid_times: Sequence[int]) -> list[int]:
    """Input valid times as ints; raise :class:`ValueError` unless they cover a whole number (> 0) of
    images."""
    v = [int(t) for t in input_valid_times]
    if not v or len(v) % params.in_beats:
        raise ValueError(
            f"{params.BLOCK}: input_valid_times expected a non-zero multiple of {params.in_beats} beats, got {len(v)}"
        )
    return v


def image_spec(name: str, params_type: type, sources: tuple, pipeline_cycles: int,
               cycles_per_image: Callable[[Any], int], output_valid_times: Callable[[Any, list[int]], list[int]],
               estimate: Callable[[Any], Any], energy: Callable[[Any, int], Any]) -> BlockSpec:
    """The :class:`BlockSpec` of an image-stream block: ``SIMD`` elements per beat in and out, no memory file,
    timing per image scaled by the images an inference brings."""
    return BlockSpec(
        name=name,
        params_type=params_type,
        sources=sources,
        ports=image_ports,
        verilog_parameters=lambda p, mem: p.verilog_parameters(),
        output_times=output_valid_times,
        cycles=lambda p, in_beats: cycles_per_image(p) * images_in(p, in_beats),
        out_beats=lambda p, in_beats: p.out_beats * images_in(p, in_beats),
        latency=lambda p: pipeline_cycles,
        estimate=lambda p, data: estimate(p),
        energy=energy,
    )


def image_ports(params: ImageParams) -> tuple[Stream, Stream]:
    """``SIMD`` elements of ``ELEM_BITS`` per beat, in and out."""
    return Stream(params.simd, params.elem_bits), Stream(params.simd, params.elem_bits)


def images_in(params: ImageParams, in_beats: int) -> int:
    """Images per inference when an inference brings ``in_beats`` input beats."""
    return in_beats // params.in_beats
