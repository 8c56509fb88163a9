"""Which fully parallel matrix-vector layers become constant multipliers (block ``cmvm``): :func:`use_cmvm`.

A layer whose weights sit in one ROM word (``PE = MH``, ``SIMD = MW``: one vector per cycle) in a mode that is
linear in its inputs (XNOR, MAC, BIPOLAR_W, BIPOLAR_X) is built by ``cmvm``: the weights become wiring and
shared shift-and-add nodes (da4ml's CMVM solver) instead of multipliers that Yosys would build before it sees
the weights are constants. Folded layers and AdderNet layers stay ``mvau``. ``enabled=False`` (CLI
``--no-cmvm``) keeps every layer an ``mvau``.
"""

from __future__ import annotations

import dataclasses

from flow.blocks.cmvm import MODES
from flow.compile.network import MatVec, Network, Residual

__all__ = ["cmvm_eligible", "use_cmvm"]


def cmvm_eligible(layer: MatVec) -> bool:
    """Whether ``layer`` can be a ``cmvm``: fully parallel and linear in its inputs."""
    return layer.pe == layer.mh and layer.simd == layer.mw and layer.mode in MODES


def _apply(layers, enabled: bool) -> list:
    out = []
    for layer in layers:
        if isinstance(layer, MatVec):
            layer = dataclasses.replace(layer, cmvm=enabled and cmvm_eligible(layer))
        elif isinstance(layer, Residual):
            layer = dataclasses.replace(layer, branches=tuple(tuple(_apply(b, enabled)) for b in layer.branches))
        out.append(layer)
    return out


def use_cmvm(net: Network, enabled: bool = True) -> Network:
    """``net`` with every eligible matrix-vector layer built by ``cmvm`` (``enabled``) or every one by ``mvau``
    (in place: the layer list is replaced; changed layers are copies). Returns ``net``."""
    net.layers = _apply(net.layers, enabled)
    return net
