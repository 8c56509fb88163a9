"""Residual blocks in the lowering: the walk along the graph's stream that turns a fork of two branches, joined
again by an elementwise Add (hls4ml ``Merge``), into one :class:`~flow.compile.network.Residual` layer.

:class:`BranchWalk` is the part of :class:`flow.compile.lower._Lowering` that follows the graph: it lowers each
layer with the lowering's handlers (``handle``) and, at a fork, each branch on its own from the same state;
both branches must end quantized (their codes are added exactly), and the sum opens a chain like an
accumulator's, which the quantizer after the add turns into thresholds.
"""

from __future__ import annotations

import numpy as np

from flow.compile.chain import Chain
from flow.compile.network import MatVec, Residual, Thresholds
from flow.errors import UnsupportedError

__all__ = ["BranchWalk", "features", "stream_elems"]


class BranchWalk:
    """The graph walk of the lowering (a mixin: the lowering provides ``layers``, ``consumers``, ``handle``,
    ``ready_input`` and the walk's state: ``chain``, ``pending``, ``current_type``, ``image``, ``chw_flatten``,
    ``net``)."""

    def walk(self, layer, stop=None):
        """Lower the layers after ``layer`` along the stream, up to ``stop`` (a merge, not lowered) or the graph's
        end; a fork of two is a residual block (:meth:`residual`). Returns the last layer lowered."""
        while True:
            after = self.consumers.get(layer.outputs[0], [])
            if not after or after[0] is stop:
                return layer
            if len(after) == 2:
                layer = self.residual(layer, after)
            elif len(after) == 1 and after[0].class_name != "Merge":
                layer = after[0]
                self.handle(layer)
            else:
                raise UnsupportedError(
                    f"layer {layer.name!r}: its output feeds {[x.name for x in after]}; qflow-rtl maps chains and "
                    "forks of two branches that an elementwise Add joins again (residual blocks)"
                )

    def _reachable(self, layer) -> set[str]:
        seen, todo = set(), [layer]
        while todo:
            x = todo.pop()
            if x.name not in seen:
                seen.add(x.name)
                todo.extend(self.consumers.get(x.outputs[0], []))
        return seen

    def _merge_of(self, fork, after: list):
        """The Merge that joins the two branches leaving ``fork``: the first one (in graph order) both reach."""
        common = self._reachable(after[0]) & self._reachable(after[1])
        merge = next((x for x in self.layers if x.name in common), None)
        if merge is None or merge.class_name != "Merge" or str(merge.get_attr("op", "")).lower() != "add":
            raise UnsupportedError(
                f"layer {fork.name!r}: its output feeds two branches {[x.name for x in after]} that "
                + ("never join" if merge is None else f"join at {merge.name!r} ({merge.class_name}), not an add")
                + "; qflow-rtl maps residual blocks (an elementwise Add joins the branches)"
            )
        return merge

    def residual(self, fork, after: list):
        """A residual block from ``fork``'s two consumers to their Merge (add): each branch is lowered on its own
        (it must end quantized), then the exact sum opens a chain like an accumulator's. Returns the merge."""
        merge = self._merge_of(fork, after)
        in_type = self.ready_input(after[0])
        state = (self.chain, self.pending, self.current_type, self.image, self.chw_flatten, self.net.layers)
        if self.chw_flatten is not None:
            raise UnsupportedError(f"layer {fork.name!r}: a residual fork of a channels-first tensor is not mapped")
        ends = {}
        for first in after:
            self.chain, self.pending, self.current_type = Chain(""), None, in_type
            self.image, self.net.layers = state[3], []
            last = fork if first is merge else self.walk_branch(first, merge)
            if self.chain.steps or self.pending is not None or self.chw_flatten is not None:
                raise UnsupportedError(
                    f"layer {merge.name!r}: the residual add expected quantized inputs; the branch ending at "
                    f"{last.name!r} has no quantizer before the add (add a QuantIdentity/QuantReLU)"
                )
            if self.current_type.bipolar:
                raise UnsupportedError(f"layer {merge.name!r}: adding a bipolar (+-1) branch ({last.name!r}) is not "
                                       "mapped; use k-bit activations before a residual add")
            index = merge.inputs.index(last.outputs[0])
            ends[index] = (tuple(self.net.layers), self.current_type, self.image)
        self.net.layers = state[5]
        self._append_residual(merge, ends)
        return merge

    def walk_branch(self, first, merge):
        """Lower ``first`` and what follows it, up to ``merge``."""
        self.handle(first)
        return self.walk(first, stop=merge)

    def _append_residual(self, merge, ends: dict) -> None:
        (a_layers, a_type, a_image), (b_layers, b_type, b_image) = ends[0], ends[1]
        if a_image != b_image:
            raise UnsupportedError(f"layer {merge.name!r}: the two branches give {a_image} and {b_image}; an "
                                   "elementwise add needs equal shapes")
        elems = [stream_elems(list(layers), self.net.layers) for layers in (a_layers, b_layers)]
        image = a_image
        channels = image.c if image is not None else features(a_layers or b_layers, self.net.layers)
        res = Residual(name=merge.name, branches=(a_layers, b_layers), a_type=a_type, b_type=b_type,
                       channels=channels, pe=max(elems), vectors=image.pixels if image is not None else 1)
        if not self.net.layers:
            raise UnsupportedError(f"layer {merge.name!r}: a residual block right after the input is not mapped; "
                                   "put a layer before the fork")
        res.params.validate()
        self.net.layers.append(res)
        lo, hi = res.params.out_range
        self.pending = (res, np.full(channels, lo), np.full(channels, hi))
        self.chain = Chain(merge.name)
        self.current_type = None
        self.image = image


def stream_elems(layers: list, before: list) -> int:
    """Elements per beat of the stream after ``layers`` (after ``before`` when ``layers`` is empty)."""
    return next((x.pe if hasattr(x, "pe") else x.simd for x in reversed([*before, *layers])
                 if hasattr(x, "pe") or hasattr(x, "simd")), 1)


def features(layers: list, before: list) -> int:
    """Elements of the vector after ``layers`` (after ``before`` when ``layers`` is empty)."""
    last = next(x for x in reversed([*before, *layers]) if isinstance(x, MatVec | Thresholds | Residual))
    return last.mh if isinstance(last, MatVec) else last.channels
