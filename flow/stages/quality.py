"""The test-split figure of a build: top-1 accuracy for a classifier, reconstruction MSE for an autoencoder
(:data:`flow.qat.train.TASKS`), computed the same way from the golden network's outputs (compile stage) and
from the RTL's (simulate stage), so the two are comparable number for number."""

from __future__ import annotations

import numpy as np

from flow.compile.network import Network

__all__ = ["quality"]


def quality(task: str, net: Network, outputs: np.ndarray, x_int: np.ndarray, labels: np.ndarray | None,
            name: str, how: str) -> dict:
    """``{name: {"metric", "value", "how"}}`` for integer ``outputs`` (N, outputs) of ``net`` on input codes
    ``x_int``; ``{}`` without labels. A reconstruction is compared with the accelerator's own (quantized) input,
    ``x_int`` times the input scale: what the hardware was asked to reproduce."""
    if labels is None:
        return {}
    real = net.outputs_to_float(outputs).reshape(len(outputs), -1)
    if task == "reconstruct":
        target = np.asarray(x_int, dtype=np.float64).reshape(len(x_int), -1) * net.input_type.scale
        value = float(np.mean((real - target) ** 2))
        return {name: {"metric": "reconstruction MSE", "value": value,
                       "how": f"{how}; mean squared error against the quantized input"}}
    return {name: {"metric": "accuracy", "value": float((real.argmax(1) == labels).mean()), "how": how}}
