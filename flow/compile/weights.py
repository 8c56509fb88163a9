"""Integer weights of a hls4ml Dense/Conv2D or adder layer, and the exact ranges of their outputs."""

from __future__ import annotations

import numpy as np

from flow.blocks.mvau import adder_output_range
from flow.compile.network import IntType
from flow.errors import NotExactError, UnsupportedError

__all__ = ["acc_interval", "adder_interval", "adder_weights", "layer_weights", "signed_bits_for"]


def signed_bits_for(lo: int, hi: int) -> int:
    bits = 1
    while not (-(1 << (bits - 1)) <= lo and hi <= (1 << (bits - 1)) - 1):
        bits += 1
    return bits


def _dense_weights(layer) -> tuple[np.ndarray, int, bool]:
    """(W as (MH, MW) integers, frac bits, bipolar?) from a Dense or Conv2D layer's quantized weights.

    hls4ml holds Dense weights as (MW, MH) and channels-last Conv2D weights as (K, K, C, OC); the conv's
    matrix row is the window in the sliding-window generator's order, element (ky*K + kx)*C + c."""
    raw = np.asarray(layer.weights["weight"].data, dtype=np.float64)
    data = raw.reshape(-1, raw.shape[-1]).T
    p = layer.weights["weight"].type.precision
    from hls4ml.model.quantizers import BinaryQuantizer

    if isinstance(layer.get_attr("weight_quantizer"), BinaryQuantizer) or (int(p.width) == 1 and not p.signed):
        if not np.all(np.isin(data, (-1.0, 0.0, 1.0))):
            raise NotExactError(f"layer {layer.name!r}: binary weights expected in {{0, 1}} or {{-1, +1}}")
        return np.where(data > 0, 1, -1).astype(np.int64), 0, True
    frac = int(p.width) - int(p.integer)
    ints = data * 2.0**frac
    if not np.array_equal(ints, np.round(ints)):
        raise NotExactError(
            f"layer {layer.name!r}: weights are not integers times 2^-{frac} (type {p}); "
            "expected power-of-two quantized weights"
        )
    return ints.astype(np.int64), frac, False


def layer_weights(layer, in_type: IntType, adder: bool) -> tuple[np.ndarray, int, bool]:
    """(W as (MH, MW) integers, w_frac, bipolar?) of a Dense/Conv2D or adder layer, where the layer's output
    scale is 2^-(input frac + w_frac). Adder weights sit on the input's grid (:func:`adder_weights`) and
    ``-sum |x - w|`` keeps that grid, so their w_frac is 0."""
    if adder:
        W, frac = adder_weights(layer, in_type)
        return W, frac - in_type.frac, False
    return _dense_weights(layer)


def adder_weights(layer, in_type: IntType) -> tuple[np.ndarray, int]:
    """(W as (MH, MW) integer codes on the input's grid, that grid's frac bits) of a ``QflowAdderDense``.

    ``x - w`` is an integer subtraction only when both sit on one grid: weights on a coarser grid than the
    input (fewer fraction bits) are shifted onto it (exact); a finer one cannot be, and is refused."""
    if in_type.bipolar:
        raise UnsupportedError(f"layer {layer.name!r}: adder layers take k-bit integer inputs, got a bipolar input")
    raw = np.asarray(layer.weights["weight"].data, dtype=np.float64)
    data = raw.reshape(-1, raw.shape[-1]).T  # (MH, MW): dense (MW, MH) or channels-last conv (K, K, C, OC)
    p = layer.weights["weight"].type.precision
    w_frac = int(p.width) - int(p.integer)
    if w_frac > in_type.frac:
        raise NotExactError(
            f"layer {layer.name!r}: adder weights have {w_frac} fraction bits, the input {in_type.frac}; "
            "x - w needs one grid (quantize x and w with the same power-of-two scale, as flow.qat.AdderLinear does)"
        )
    ints = data * 2.0**in_type.frac
    if not np.array_equal(ints, np.round(ints)):
        raise NotExactError(
            f"layer {layer.name!r}: adder weights are not integers times 2^-{in_type.frac} (type {p})"
        )
    return ints.astype(np.int64), in_type.frac


def adder_interval(W: np.ndarray, in_type: IntType) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel exact (lo, hi) of ``-sum |x - w|`` over all inputs, and the bound on any partial sum."""
    lo, hi = adder_output_range(W, *in_type.range)
    return lo, hi, -lo  # every term is <= 0, so the partial sums lie between the total and 0


def acc_interval(W: np.ndarray, in_type: IntType) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-channel exact (lo, hi) of ``W x`` over all inputs, and the bound on any partial sum."""
    xlo, xhi = in_type.range
    a, b = W * xlo, W * xhi
    lo, hi = np.minimum(a, b).sum(axis=1), np.maximum(a, b).sum(axis=1)
    partial = (np.abs(W) * max(abs(xlo), abs(xhi))).sum(axis=1)
    return lo, hi, partial


