"""Save and load the integer :class:`~flow.compile.network.Network` as JSON (the ``network.json`` artefact).

Everything the hardware computes is stored: types, shapes, layouts, weights, thresholds, foldings. The graph's
float input quantizer is not (it is the QONNX model's own code): a loaded network runs on integer input
codes (:meth:`Network.run`), which the compile stage saves next to it (``vectors.npz``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from flow.blocks.mvau import MvauMode
from flow.compile.network import (
    Depthwise,
    Flatten,
    GlobalPool,
    Image,
    IntType,
    MatVec,
    MaxPool,
    Network,
    Pad,
    Residual,
    SlidingWindow,
    Thresholds,
)

__all__ = ["FORMAT", "network_from_dict", "network_to_dict"]

#: Version tag of the layout; a file of another version is refused.
FORMAT = "qflow-network/1"

_LAYERS = {
    cls.__name__: cls
    for cls in (MatVec, Depthwise, Thresholds, SlidingWindow, MaxPool, Pad, GlobalPool, Residual, Flatten)
}


def _encode(value: Any) -> Any:
    if isinstance(value, IntType | Image):
        return dataclasses.asdict(value)
    if isinstance(value, MvauMode):
        return value.name
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):  # a residual block's branches
        return [[_layer_to_dict(layer) for layer in branch] for branch in value]
    return value


def _layer_to_dict(layer: Any) -> dict:
    fields = {f.name: _encode(getattr(layer, f.name)) for f in dataclasses.fields(layer)}
    return {"kind": type(layer).__name__, **fields}


def network_to_dict(net: Network) -> dict:
    """``net`` as plain JSON data (see :func:`network_from_dict`)."""
    layers = [_layer_to_dict(layer) for layer in net.layers]
    return {
        "format": FORMAT,
        "input_type": dataclasses.asdict(net.input_type),
        "input_shape": list(net.input_shape),
        "input_layout": net.input_layout,
        "layers": layers,
    }


def _decode_layer(d: dict) -> Any:
    cls = _LAYERS.get(d.get("kind", ""))
    if cls is None:
        raise ValueError(f"network.json: unknown layer kind {d.get('kind')!r} (expected one of {sorted(_LAYERS)})")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in d and f.default is not dataclasses.MISSING:
            continue  # a field newer than the file: its default
        v = d[f.name]
        if f.name in ("in_type", "out_type", "elem_type", "a_type", "b_type"):
            v = IntType(**v)
        elif f.name == "ifm":
            v = Image(**v)
        elif f.name == "mode":
            v = MvauMode[v]
        elif f.name in ("weights", "thresholds"):
            v = np.asarray(v, dtype=np.int64).reshape(len(v), -1)
        elif f.name == "branches":
            v = tuple(tuple(_decode_layer(layer) for layer in branch) for branch in v)
        elif f.name == "descending":
            v = np.asarray(v, dtype=bool)
        kwargs[f.name] = v
    return cls(**kwargs)


def network_from_dict(data: dict) -> Network:
    """The network :func:`network_to_dict` saved. Raises :class:`ValueError` naming what is wrong."""
    if data.get("format") != FORMAT:
        raise ValueError(f"network.json: expected format {FORMAT!r}, got {data.get('format')!r}")
    return Network(
        input_type=IntType(**data["input_type"]),
        input_shape=tuple(data["input_shape"]),
        layers=[_decode_layer(d) for d in data["layers"]],
        input_layout=data["input_layout"],
    )
