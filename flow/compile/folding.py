"""Folding: how much parallelism (PE x SIMD) each matrix-vector layer gets.

:class:`Folding` is the typed setting, parsed once where a user gives it (CLI, API, recipe, hls4ml config):
``"parallel"`` (one vector per cycle: PE = outputs, SIMD = inputs), ``"folded"`` (64 cycles per inference for
an MLP, the slowest convolution's pace for a CNN) or a positive int, the target cycles per inference; per-layer
overrides ``{layer: (PE, SIMD)}`` win. :func:`fold_table` turns it into the ``layer -> (PE, SIMD)`` table the
lowering (:func:`flow.compile.lower.lower`) reads, from the hls4ml graph's layer shapes. hls4ml's
``ReuseFactor`` other than 1 selects PE x SIMD with exactly that many cycles per vector.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

from flow.compile.pipeline import Pipeline
from flow.errors import UnsupportedError

__all__ = [
    "DEFAULT_FOLDED_TARGET",
    "FoldMode",
    "Folding",
    "check_fold",
    "divisors",
    "fold_for_reuse",
    "fold_for_target",
    "fold_table",
]

#: Cycles per inference of ``"folded"`` for a network without convolutions.
DEFAULT_FOLDED_TARGET = 64

#: hls4ml layer classes lowered to matrix-vector units.
DENSE_CLASSES = ("Dense", "QflowAdderDense")
CONV_CLASSES = ("Conv2D", "QflowAdderConv2D")
#: hls4ml layer classes lowered to depthwise units (one parallelism: SIMD channels per beat, PE = SIMD).
DEPTHWISE_CLASSES = ("DepthwiseConv2D",)


class FoldMode(Enum):
    PARALLEL = "parallel"
    FOLDED = "folded"
    CYCLES = "cycles"  # a target in cycles per inference


@dataclass(frozen=True)
class Folding:
    """A folding setting: a mode, its cycle target (``CYCLES`` only), per-layer ``(PE, SIMD)`` overrides and the
    register stages of the matrix-vector units (:class:`~flow.compile.pipeline.Pipeline`)."""

    mode: FoldMode = FoldMode.PARALLEL
    cycles: int | None = None
    layers: Mapping[str, tuple[int, int]] = field(default_factory=lambda: MappingProxyType({}))
    pipeline: Pipeline = field(default_factory=Pipeline)

    @classmethod
    def parse(cls, value: object, layers: Mapping[str, tuple[int, int]] | None = None,
              pipeline: object = None) -> Folding:
        """``"parallel"``, ``"folded"``, a positive int (or its digits) or a :class:`Folding` -> a Folding;
        ``pipeline`` (``"none"``, ``"auto"``, a fan-in; ``None``: the Folding's own, else ``"none"``).

        Raises :class:`UnsupportedError` naming what was expected and what arrived (``0``, ``""``, ``-3``,
        ``True``, ``"fast"`` are all refused).
        """
        extra = {str(k): (int(pe), int(simd)) for k, (pe, simd) in (layers or {}).items()}
        if isinstance(value, Folding):
            merged = {**value.layers, **extra}
            pipe = value.pipeline if pipeline is None else Pipeline.parse(pipeline)
            return cls(value.mode, value.cycles, MappingProxyType(merged), pipe)
        pipe = Pipeline() if pipeline is None else Pipeline.parse(pipeline)
        text = value.strip() if isinstance(value, str) else value
        if text in ("parallel", "folded"):
            return cls(FoldMode(text), None, MappingProxyType(extra), pipe)
        if isinstance(text, str) and text.isdigit():
            text = int(text)
        if isinstance(text, int) and not isinstance(text, bool) and text >= 1:
            return cls(FoldMode.CYCLES, text, MappingProxyType(extra), pipe)
        raise UnsupportedError(
            f"folding: expected 'parallel', 'folded' or a positive integer (cycles per inference), got {value!r}"
        )

    @property
    def label(self) -> str:
        """``parallel``, ``folded`` or the cycle target as text (what :meth:`parse` reads back)."""
        return str(self.cycles) if self.mode == FoldMode.CYCLES else self.mode.value

    def as_value(self) -> str | int:
        """The plain value users write: ``"parallel"``, ``"folded"`` or the int target."""
        return self.cycles if self.mode == FoldMode.CYCLES else self.mode.value  # type: ignore[return-value]


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def fold_for_target(mh: int, mw: int, target_cycles: int, channels: int | None = None) -> tuple[int, int]:
    """Smallest PE*SIMD with (MH/PE)*(MW/SIMD) <= target (ties: the larger SIMD, the smaller PE).

    ``channels``: SIMD must also divide it (convolutions); if no fold meets the target then, the fastest
    one (PE=MH, SIMD=channels) is returned."""
    if channels is not None and (mh // mh) * (mw // channels) > target_cycles:
        return mh, channels
    best: tuple[int, int, int] | None = None
    for pe in divisors(mh):
        for simd in [d for d in divisors(mw) if channels is None or channels % d == 0]:
            if (mh // pe) * (mw // simd) <= target_cycles:
                key = (pe * simd, pe, -simd)
                if best is None or key < best:
                    best = key
                break  # larger SIMD for this PE only costs more
    assert best is not None  # PE=MH, SIMD=MW always meets any target >= 1
    return best[1], -best[2]


def fold_for_reuse(name: str, mh: int, mw: int, reuse: int, channels: int | None = None) -> tuple[int, int]:
    """PE, SIMD with exactly ``reuse`` cycles per vector (hls4ml's ReuseFactor), smallest PE*SIMD
    (``channels``: SIMD must divide it too)."""
    simds = [d for d in divisors(mw) if channels is None or channels % d == 0]
    options = [(pe * simd, pe, simd) for pe in divisors(mh) for simd in simds if (mh // pe) * (mw // simd) == reuse]
    if not options:
        valid = sorted({(mh // pe) * (mw // simd) for pe in divisors(mh) for simd in simds})
        raise UnsupportedError(
            f"layer {name!r}: ReuseFactor {reuse} does not divide the {mh}x{mw} layer into PE x SIMD folds "
            f"(valid: {', '.join(map(str, valid[:20]))}{' ...' if len(valid) > 20 else ''})"
        )
    _, pe, simd = min(options)
    return pe, simd


def check_fold(name: str, mh: int, mw: int, pe: int, simd: int) -> tuple[int, int]:
    """``(pe, simd)`` if they divide the layer's outputs and inputs, else :class:`UnsupportedError`."""
    if pe < 1 or mh % pe:
        raise UnsupportedError(f"layer {name!r}: PE={pe} must divide the layer's {mh} outputs (valid: {divisors(mh)})")
    if simd < 1 or mw % simd:
        raise UnsupportedError(
            f"layer {name!r}: SIMD={simd} must divide the layer's {mw} inputs (valid: {divisors(mw)})"
        )
    return pe, simd


@dataclass(frozen=True)
class _Shape:
    """A matrix-vector layer as folding sees it: ``mh`` x ``mw`` weights, ``vectors`` per inference, and the
    ``channels`` SIMD must divide (convolutions; ``None`` for dense layers)."""

    name: str
    mh: int
    mw: int
    vectors: int = 1
    channels: int | None = None
    reuse: int = 1
    depthwise: bool = False  # a depthwise unit: (1, SIMD) folded like a one-output layer, then PE = SIMD


def _shapes(hls_model) -> list[_Shape]:
    out = []
    for layer in hls_model.get_layers():
        reuse = int(layer.get_attr("reuse_factor", 1) or 1)
        if layer.class_name in DENSE_CLASSES:
            out.append(_Shape(layer.name, int(layer.get_attr("n_out")), int(layer.get_attr("n_in")), reuse=reuse))
        elif layer.class_name in CONV_CLASSES:
            k2 = int(layer.get_attr("filt_height")) * int(layer.get_attr("filt_width"))
            c = int(layer.get_attr("n_chan"))
            windows = int(layer.get_attr("out_height")) * int(layer.get_attr("out_width"))
            out.append(_Shape(layer.name, int(layer.get_attr("n_filt")), k2 * c, windows, c, reuse))
        elif layer.class_name in DEPTHWISE_CLASSES:
            k2 = int(layer.get_attr("filt_height")) * int(layer.get_attr("filt_width"))
            c = int(layer.get_attr("n_chan"))
            windows = int(layer.get_attr("out_height")) * int(layer.get_attr("out_width"))
            out.append(_Shape(layer.name, 1, k2 * c, windows, c, reuse, depthwise=True))
    return out


def _explicit(folding: Folding, name: str) -> tuple[int, int] | None:
    """A per-layer override, by the hls4ml layer name or that name without its ``Dense_``/``Conv2D_`` prefix."""
    for key in (name, name.removeprefix("Dense_").removeprefix("Conv2D_").removeprefix("DepthwiseConv2D_")):
        if key in folding.layers:
            return folding.layers[key]
    return None


def _fold(s: _Shape, folding: Folding, folded_target: int) -> tuple[int, int]:
    if s.depthwise:  # K2*C/SIMD cycles per window, as a one-output layer of K2*C inputs
        explicit = _explicit(folding, s.name)
        if explicit is not None and (explicit[0] != explicit[1] or s.channels % explicit[1]):
            raise UnsupportedError(
                f"layer {s.name!r}: a depthwise layer takes PE = SIMD, a divisor of its {s.channels} channels "
                f"(valid: {divisors(s.channels)}), got PE={explicit[0]} SIMD={explicit[1]}"
            )
        simd = explicit[1] if explicit is not None else _fold_plain(s, folding, folded_target)[1]
        return simd, simd
    return _fold_plain(s, folding, folded_target)


def _fold_plain(s: _Shape, folding: Folding, folded_target: int) -> tuple[int, int]:
    explicit = None if s.depthwise else _explicit(folding, s.name)
    if explicit is not None:
        return check_fold(s.name, s.mh, s.mw, *explicit)
    if s.reuse > 1:
        return fold_for_reuse(s.name, s.mh, s.mw, s.reuse, s.channels)
    if folding.mode == FoldMode.PARALLEL:
        return s.mh, s.channels or s.mw
    target = folded_target if folding.mode == FoldMode.FOLDED else int(folding.cycles or 1)
    return fold_for_target(s.mh, s.mw, max(1, target // s.vectors), s.channels)


def fold_table(hls_model, folding: Folding) -> dict[str, tuple[int, int]]:
    """``{hls4ml layer name: (PE, SIMD)}`` for every dense and convolution layer of ``hls_model``.

    Convolutions count cycles per inference (image), so a per-vector target is the image target divided by the
    windows per image. ``"folded"`` balances the pipeline at the slowest convolution's fastest fold (SIMD = C,
    PE = outputs: K*K cycles per window), the best any layer can reach, and folds every other layer as far as
    that allows. Raises :class:`UnsupportedError` for an override that does not divide its layer, or an
    override naming no such layer.
    """
    shapes = _shapes(hls_model)
    convs = [s for s in shapes if s.channels is not None]
    folded_target = max((s.vectors * (s.mw // s.channels) for s in convs), default=DEFAULT_FOLDED_TARGET)
    table = {s.name: _fold(s, folding, folded_target) for s in shapes}
    names = {n for s in shapes
             for n in (s.name, s.name.removeprefix("Dense_").removeprefix("Conv2D_").removeprefix("DepthwiseConv2D_"))}
    unknown = sorted(set(folding.layers) - names)
    if unknown:
        raise UnsupportedError(
            f"folding: layer override(s) {unknown} name no dense or convolution layer (layers: "
            f"{sorted(s.name for s in shapes)})"
        )
    return table
