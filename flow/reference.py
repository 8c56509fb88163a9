"""The fast reference: a batched executor of an exported QONNX graph.

It runs qonnx's own ``execute_onnx`` (the semantics of the QONNX standard: Quant/BipolarQuant in numpy,
standard ops in onnxruntime) on a copy of the graph whose batch dimension is set to the chunk size, so a
whole test split runs in a few calls instead of one call per sample. Every later stage (hls4ml C-sim,
RTL simulation) is compared with its outputs.
"""

from __future__ import annotations

import copy
import logging

import numpy as np

from flow import compat

log = logging.getLogger(__name__)


class Reference:
    """Batched QONNX execution. ``run(x)`` maps a float32 batch (N, ...) to the graph's output (N, ...)."""

    def __init__(self, model, chunk: int = 1024) -> None:
        compat.apply()
        self._model = model
        self._chunk = int(chunk)
        self._by_batch: dict[int, object] = {}
        self.input_name = model.graph.input[0].name
        self.output_name = model.graph.output[0].name
        self.input_shape = tuple(model.get_tensor_shape(self.input_name))[1:]

    def _graph_for(self, batch: int):
        if batch not in self._by_batch:
            from qonnx.transformation.change_batchsize import ChangeBatchSize
            from qonnx.transformation.infer_shapes import InferShapes

            wrapper = copy.deepcopy(self._model)
            wrapper = wrapper.transform(ChangeBatchSize(batch)).transform(InferShapes())
            self._by_batch[batch] = wrapper
        return self._by_batch[batch]

    def run(self, x: np.ndarray) -> np.ndarray:
        from qonnx.core.onnx_exec import execute_onnx

        x = np.asarray(x, dtype=np.float32)
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"Reference input {self.input_name!r}: expected shape (N, {', '.join(map(str, self.input_shape))}),"
                f" got {x.shape}"
            )
        outputs = []
        for start in range(0, len(x), self._chunk):
            chunk = x[start : start + self._chunk]
            graph = self._graph_for(len(chunk))
            result = execute_onnx(graph, {self.input_name: chunk})
            outputs.append(np.asarray(result[self.output_name]))
        return np.concatenate(outputs) if outputs else np.zeros((0,), dtype=np.float32)
