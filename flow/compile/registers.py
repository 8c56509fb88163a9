"""Set the register stages of a lowered network's units by a :class:`~flow.compile.pipeline.Pipeline` setting
(:func:`apply_pipeline`): the matrix-vector units' ``in_reg``/``fanin`` and the thresholding units' ``pipe``,
inside residual branches too."""

from __future__ import annotations

import dataclasses

from flow.compile.network import MatVec, Network, Thresholds
from flow.compile.pipeline import Pipeline
from flow.compile.residual import Residual

__all__ = ["apply_pipeline"]


def _apply(layers, pipeline: Pipeline) -> list:
    out = []
    for layer in layers:
        if isinstance(layer, MatVec):
            in_reg, fanin, term_reg = pipeline.stages_for(layer)
            layer = dataclasses.replace(layer, in_reg=in_reg, fanin=fanin, term_reg=term_reg)
        elif isinstance(layer, Thresholds):
            layer = dataclasses.replace(layer, pipe=pipeline.threshold_stages(layer))
        elif isinstance(layer, Residual):
            layer = dataclasses.replace(layer, branches=tuple(tuple(_apply(b, pipeline)) for b in layer.branches))
        out.append(layer)
    return out


def apply_pipeline(net: Network, pipeline: Pipeline) -> Network:
    """``net`` with every matrix-vector unit's register stages set by ``pipeline`` (in place: the layer list is
    replaced; layers are frozen, so changed ones are copies). Returns ``net``."""
    net.layers = _apply(net.layers, pipeline)
    return net
