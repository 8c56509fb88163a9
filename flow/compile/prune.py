"""Remove the channels structured pruning left dead from the integer network, exactly (:func:`remove_pruned_channels`).

A *segment* is a matrix-vector layer ``P`` (a dense layer or a convolution), its thresholds ``TP``, the layers
that only move its channels (max-pool, flatten, padding, sliding-window generator) and the next matrix-vector
layer ``C`` with its thresholds ``TC`` (or none, when ``C`` is the network's last layer). Channel ``r`` of ``P``
leaves the hardware -- its row of ``P``, its thresholds, its slot in every feature map and its columns in ``C``
(the stream is channels-last, so those are ``r + channels * k`` for every window position or flattened pixel
``k``) -- when:

* **zero filter**: ``P``'s weights of that channel are all zero (not an adder layer), so its accumulator is 0
  and ``TP`` gives a constant ``v``. Its contribution to ``C``'s accumulators is a constant per output (``v``
  times the sum of the removed weights; ``-sum |v - w|`` for an adder layer), which moves into ``TC``'s
  thresholds (``acc + b >= t`` is ``acc >= t - b``, the same for ``<=``). Kept when the contribution is not 0
  and there is no ``TC`` to fold it into (the last layer's outputs are the user's), or when padding sits
  between and would put its own zero next to ``v``.
* **unused**: ``C``'s weights of that channel are all zero (a column-pruned ``C``; not an adder layer): the
  channel contributes nothing.

The output channels of the last layer are never removed, nor channels that cross a residual fork, a
depthwise convolution or a global pooling (such segments are left as they are), and a segment keeps at least
one channel. Removing a channel narrows the accumulators (they are recomputed from the kept weights) and the
thresholds are clamped into the new interval (one code past either end, as the lowering makes them), which
changes no output. PE and SIMD are picked again: ``P`` keeps its SIMD and ``C`` its PE (so nothing outside the
segment changes) and each gets the smallest other factor that keeps its cycles per vector.

The pass repeats until nothing changes (a zero filter whose removal empties a column of the next layer, a
layer whose thresholds a fold made constant...). It is exact by construction; the result is also compared with
the input network on random input codes (:data:`SELF_CHECK_VECTORS`) and a difference raises
:class:`~flow.errors.NotExactError`.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import numpy as np

from flow.blocks.mvau import MvauMode
from flow.compile.folding import divisors
from flow.compile.network import (
    Flatten,
    Image,
    MatVec,
    MaxPool,
    Network,
    Pad,
    SlidingWindow,
    Thresholds,
    from_codes,
)
from flow.compile.weights import acc_interval, adder_interval, signed_bits_for
from flow.errors import NotExactError

__all__ = ["SELF_CHECK_VECTORS", "ChannelRemoval", "remove_pruned_channels"]

log = logging.getLogger(__name__)

#: Random input codes the pruned network is compared on with the network it came from.
SELF_CHECK_VECTORS = 256

#: Layers between a matrix-vector layer's thresholds and the next matrix-vector layer that only move channels.
_MOVERS = (MaxPool, Flatten, Pad, SlidingWindow)


@dataclass(frozen=True)
class ChannelRemoval:
    """What :func:`remove_pruned_channels` did to one layer's output channels.

    ``removed``: the indices (in the unpruned layer) of the channels that left the hardware; ``zero_filters`` of
    them had all-zero weights (their constant output was folded into ``consumer``'s thresholds), ``unused`` fed
    only zero weights of ``consumer``. ``kept_zero_filters``: zero filters that had to stay, with the reason."""

    layer: str
    consumer: str
    channels_before: int
    removed: tuple[int, ...]
    zero_filters: int
    unused: int
    kept_zero_filters: tuple[tuple[int, str], ...] = ()

    @property
    def channels_after(self) -> int:
        return self.channels_before - len(self.removed)

    def as_dict(self) -> dict:
        """The record as ``network.json`` keeps it."""
        return {
            "layer": self.layer,
            "consumer": self.consumer,
            "channels_before": self.channels_before,
            "channels_after": self.channels_after,
            "removed": len(self.removed),
            "removed_channels": list(self.removed),
            "zero_filters": self.zero_filters,
            "unused": self.unused,
            "kept_zero_filters": [{"channel": c, "reason": why} for c, why in self.kept_zero_filters],
        }


@dataclass(frozen=True)
class _Segment:
    """Positions in ``net.layers``: ``p`` the producer, ``p + 1`` its thresholds, ``movers`` between, ``c`` the
    consumer, ``tc`` its thresholds (``None``: the consumer is the last layer)."""

    p: int
    movers: tuple[int, ...]
    c: int
    tc: int | None


def _segments(layers: list) -> list[_Segment]:
    """Every segment of the top level of ``layers`` (residual blocks are not entered, and break a segment)."""
    out = []
    for i, producer in enumerate(layers[:-2]):
        th = layers[i + 1]
        if not isinstance(producer, MatVec) or not isinstance(th, Thresholds) or th.channels != producer.mh:
            continue
        j = i + 2
        while j < len(layers) and isinstance(layers[j], _MOVERS):
            j += 1
        if j == len(layers) or not isinstance(layers[j], MatVec) or layers[j].mw % producer.mh:
            continue
        if j + 1 < len(layers):
            nxt = layers[j + 1]
            if not isinstance(nxt, Thresholds) or nxt.channels != layers[j].mh:
                continue
            tc: int | None = j + 1
        else:
            tc = None
        out.append(_Segment(i, tuple(range(i + 2, j)), j, tc))
    return out


def _interval(layer: MatVec, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row exact accumulator range of ``layer`` with ``weights``."""
    lo, hi, _ = adder_interval(weights, layer.in_type) if layer.mode == MvauMode.ADDER else acc_interval(
        weights, layer.in_type)
    return lo, hi


def _contribution(mode: MvauMode, value: int, columns: np.ndarray) -> np.ndarray:
    """What constant inputs ``value`` on ``columns`` (MH, k) add to each accumulator."""
    if mode == MvauMode.ADDER:
        return -np.abs(value - columns).sum(axis=1)
    return value * columns.sum(axis=1)


def _smallest(options: list[int], cycles_of, budget: int) -> int:
    """The smallest option whose cycles per vector stay within ``budget`` (the largest option otherwise)."""
    for option in options:
        if cycles_of(option) <= budget:
            return option
    return options[-1]


def _clamp(thresholds: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Thresholds moved into ``[lo - 1, hi + 1]`` per row: the same outputs for every accumulator in ``[lo, hi]``."""
    return np.clip(thresholds, (lo - 1)[:, None], (hi + 1)[:, None]).astype(np.int64)


def _decide(layers: list, seg: _Segment) -> tuple[dict[int, np.ndarray], int, int, list[tuple[int, str]]]:
    """The channels of ``seg``'s producer to remove -> their constant contribution to the consumer's accumulators
    (MH,), with the counts of zero filters and unused channels, and the zero filters kept (with the reason)."""
    producer, th, consumer = layers[seg.p], layers[seg.p + 1], layers[seg.c]
    channels = producer.mh
    positions = consumer.mw // channels
    pads = [layers[m] for m in seg.movers if isinstance(layers[m], Pad)]
    # the thresholds' outputs at accumulator 0, i.e. the constant a zero filter produces
    constants = th.run(np.zeros((1, channels), dtype=np.int64))[0]
    remove: dict[int, np.ndarray] = {}
    zero_filters = unused = 0
    kept: list[tuple[int, str]] = []
    unused_set: set[int] = set()
    for r in range(channels):
        columns = consumer.weights[:, r + channels * np.arange(positions)]
        if consumer.mode != MvauMode.ADDER and not columns.any():
            remove[r] = np.zeros(consumer.mh, dtype=np.int64)
            unused_set.add(r)
            unused += 1
            continue
        if producer.mode == MvauMode.ADDER or producer.weights[r].any():
            continue
        v = int(constants[r])
        if any(int(from_codes(np.int64(p.value), p.elem_type)) != v for p in pads):
            kept.append((r, f"padding in {pads[0].name!r} puts 0 next to the constant {v}"))
            continue
        contrib = _contribution(consumer.mode, v, columns)
        if seg.tc is None and contrib.any():
            kept.append((r, f"its constant {v} reaches the outputs of the last layer {consumer.name!r}, which have "
                            "no thresholds to fold it into"))
            continue
        remove[r] = contrib
        zero_filters += 1
    if remove and len(remove) == channels:  # keep one channel: a layer of no outputs is no layer
        r = min(remove)
        del remove[r]
        if r in unused_set:
            unused -= 1
        else:
            zero_filters -= 1
            kept.append((r, "the layer keeps at least one channel"))
    return remove, zero_filters, unused, kept


def _apply(layers: list, seg: _Segment, remove: dict[int, np.ndarray]) -> None:
    """Remove the channels ``remove`` of ``seg`` from ``layers`` (in place), folding their contributions."""
    producer, th, consumer = layers[seg.p], layers[seg.p + 1], layers[seg.c]
    channels = producer.mh
    keep = np.array([r for r in range(channels) if r not in remove], dtype=np.int64)
    positions = consumer.mw // channels
    drop_cols = np.array([r + channels * k for r in remove for k in range(positions)], dtype=np.int64)
    contrib = np.sum(list(remove.values()), axis=0).astype(np.int64)

    # the producer: fewer rows, a narrower accumulator, the same SIMD, the smallest PE that keeps its pace
    w_p = producer.weights[keep]
    lo, hi = _interval(producer, w_p)
    budget = (producer.mh // producer.pe) * (producer.mw // producer.simd)
    sf = producer.mw // producer.simd
    pe = _smallest(divisors(len(keep)), lambda pe: (len(keep) // pe) * sf, budget)
    acc_bits = signed_bits_for(int(lo.min()) - 1, int(hi.max()) + 1)
    layers[seg.p] = dataclasses.replace(producer, weights=w_p, pe=pe, acc_bits=acc_bits)
    layers[seg.p + 1] = dataclasses.replace(
        th, thresholds=_clamp(th.thresholds[keep], lo, hi), descending=th.descending[keep], in_bits=acc_bits, pe=pe)

    # the consumer: fewer columns, the same PE, the smallest SIMD that keeps its pace (dividing its channels
    # behind a sliding-window generator)
    w_c = np.delete(consumer.weights, drop_cols, axis=1)
    mw = int(w_c.shape[1])
    conv = any(isinstance(layers[m], SlidingWindow) for m in seg.movers)
    budget = (consumer.mh // consumer.pe) * (consumer.mw // consumer.simd)
    simds = [d for d in divisors(mw) if not conv or len(keep) % d == 0]
    simd = _smallest(simds, lambda s: (consumer.mh // consumer.pe) * (mw // s), budget)
    lo_c, hi_c = _interval(consumer, w_c)
    if seg.tc is None:  # the outputs' type is the user's: the last layer keeps its accumulator width
        layers[seg.c] = dataclasses.replace(consumer, weights=w_c, simd=simd)
    else:
        acc_c = signed_bits_for(int(lo_c.min()) - 1, int(hi_c.max()) + 1)
        layers[seg.c] = dataclasses.replace(consumer, weights=w_c, simd=simd, acc_bits=acc_c)
        tc = layers[seg.tc]
        moved = _clamp(tc.thresholds - contrib[:, None], lo_c, hi_c)
        layers[seg.tc] = dataclasses.replace(tc, thresholds=moved, in_bits=acc_c)

    # the layers between carry fewer channels, at their producer's (max-pool) or consumer's (window) pace
    for m in seg.movers:
        layer = layers[m]
        if isinstance(layer, Flatten):
            continue
        ifm = Image(layer.ifm.h, layer.ifm.w, len(keep))
        layers[m] = dataclasses.replace(layer, ifm=ifm, simd=pe if isinstance(layer, MaxPool) else simd)
    for m in (seg.p, seg.c):
        layers[m].params.validate()


def _random_codes(net: Network, n: int) -> np.ndarray:
    """``n`` random input vectors of ``net``'s input type, in stream order."""
    rng = np.random.default_rng(0)
    features = int(np.prod(net.input_shape))
    if net.input_type.bipolar:
        return rng.choice(np.array([-1, 1], dtype=np.int64), size=(n, features))
    lo, hi = net.input_type.range
    return rng.integers(lo, hi + 1, size=(n, features), dtype=np.int64)


def remove_pruned_channels(net: Network) -> tuple[Network, list[ChannelRemoval]]:
    """``net`` without the channels structured pruning left dead (see the module docstring), and one
    :class:`ChannelRemoval` per layer that lost channels or kept a zero filter. ``net`` is not changed; the result
    computes the same outputs on every input (checked on random inputs: :class:`NotExactError` otherwise)."""
    layers = list(net.layers)
    original = {layer.name: layer.mh for layer in layers if isinstance(layer, MatVec)}
    index = {name: np.arange(mh) for name, mh in original.items()}  # producer's channel -> unpruned index
    removed: dict[str, list[int]] = {}
    counts: dict[str, list[int]] = {}
    consumers: dict[str, str] = {}
    kept: dict[str, dict[int, str]] = {}
    changed = True
    while changed:
        changed = False
        for seg in _segments(layers):
            producer, consumer = layers[seg.p], layers[seg.c]
            remove, zero_filters, unused, keep_why = _decide(layers, seg)
            names = index[producer.name]
            consumers[producer.name] = consumer.name
            for r, why in keep_why:
                kept.setdefault(producer.name, {})[int(names[r])] = why
            if not remove:
                continue
            removed.setdefault(producer.name, []).extend(int(names[r]) for r in remove)
            c = counts.setdefault(producer.name, [0, 0])
            c[0] += zero_filters
            c[1] += unused
            for r in remove:
                kept.get(producer.name, {}).pop(int(names[r]), None)
            index[producer.name] = np.delete(names, sorted(remove))
            _apply(layers, seg, remove)
            changed = True
            break  # positions and shapes changed: find the segments again
    if not removed and not kept:
        return net, []
    pruned = dataclasses.replace(net, layers=layers)
    report = [
        ChannelRemoval(
            layer=name, consumer=consumers[name], channels_before=original[name],
            removed=tuple(sorted(removed.get(name, []))), zero_filters=counts.get(name, [0, 0])[0],
            unused=counts.get(name, [0, 0])[1], kept_zero_filters=tuple(sorted(kept.get(name, {}).items())),
        )
        for name in original
        if name in removed or kept.get(name)
    ]
    for r in report:
        log.info("%s: %d of %d output channels removed (%d zero filters, %d unused by %s)%s", r.layer,
                 len(r.removed), r.channels_before, r.zero_filters, r.unused, r.consumer,
                 f"; {len(r.kept_zero_filters)} zero filters kept" if r.kept_zero_filters else "")
    if removed:
        x = _random_codes(net, SELF_CHECK_VECTORS)
        before, after = net.run(x), pruned.run(x)
        bad = int((before != after).any(axis=1).sum())
        if bad:
            raise NotExactError(f"channel removal: the pruned network differs from the unpruned one on {bad} of "
                                f"{len(x)} random inputs (a qflow bug; compile with pruning off to go on)")
    return pruned, report
