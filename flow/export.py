"""Brevitas -> QONNX export, cleanup, and the exactness check against PyTorch.

``export_qonnx(model, input_shape, path)`` writes one self-contained ``.onnx`` file (no external data):
Brevitas' QONNX export, qonnx cleanup (constant folding, unique readable names, shapes, datatypes),
every ``Gemm`` rewritten as ``Transpose`` + ``MatMul`` (+ ``Add``) because hls4ml does not take Gemm
(qonnx 1.0's own ``GemmToMatMul`` crashes on bias-free Gemm), then checked by the front end every model goes
through (:func:`flow.frontend.prepare.prepare`: supported ops, every quantizer scale a power of two).
``compare_with_torch`` runs both on a whole split and counts differing outputs.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from flow import compat
from flow.errors import ExportError
from flow.frontend.graph import clean
from flow.frontend.prepare import prepare
from flow.io import atomic_path, quiet_stdout
from flow.qat.train import predict
from flow.reference import Reference

log = logging.getLogger(__name__)

def export_qonnx(model: nn.Module, input_shape: tuple[int, ...], path: str | Path):
    """Export ``model`` (eval mode) to a cleaned QONNX file at ``path``; return the qonnx ModelWrapper.

    ``input_shape`` excludes the batch dimension (the file has batch size 1).
    Raises :class:`NotExactError` if a quantizer scale is not a power of two.
    """
    from brevitas.export import export_qonnx as brevitas_export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper

    compat.apply()
    model = model.eval()
    with tempfile.TemporaryDirectory(prefix="qflow-export-") as tmp:
        raw = Path(tmp) / "raw.onnx"
        try:
            with torch.no_grad(), quiet_stdout():
                brevitas_export_qonnx(model, input_t=torch.zeros(1, *input_shape), export_path=str(raw))
        except Exception as exc:
            raise ExportError(f"Brevitas QONNX export of {type(model).__name__} failed: {exc}") from exc
        proto = onnx.load(str(raw), load_external_data=True)
    wrapper = clean(ModelWrapper(proto))
    prepare(wrapper)  # the front end's checks, on a copy: refused here, not at compile time
    with atomic_path(path) as tmp_path:
        wrapper.save(str(tmp_path))
    log.info("wrote %s (%d nodes)", path, len(wrapper.graph.node))
    return wrapper


@dataclass(frozen=True)
class Comparison:
    """Result of comparing two executions output for output."""

    samples: int
    differing_samples: int
    differing_outputs: int
    max_abs_difference: float
    argmax_agreement: float

    def as_dict(self) -> dict:
        return {
            "samples": self.samples,
            "differing_samples": self.differing_samples,
            "differing_outputs": self.differing_outputs,
            "max_abs_difference": self.max_abs_difference,
            "argmax_agreement": self.argmax_agreement,
        }


def compare_outputs(a: np.ndarray, b: np.ndarray) -> Comparison:
    """Exact (``==``) comparison of two output batches of equal shape."""
    if a.shape != b.shape:
        raise ValueError(f"compare_outputs: shapes differ: {a.shape} vs {b.shape}")
    differ = a != b
    per_sample = differ.reshape(len(a), -1).any(axis=1)
    return Comparison(
        samples=len(a),
        differing_samples=int(per_sample.sum()),
        differing_outputs=int(differ.sum()),
        max_abs_difference=float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)), initial=0.0)),
        argmax_agreement=float(
            (a.reshape(len(a), -1).argmax(1) == b.reshape(len(b), -1).argmax(1)).mean()
        ) if len(a) else 1.0,
    )


def compare_with_torch(model: nn.Module, qonnx_model, x: np.ndarray) -> Comparison:
    """Run PyTorch and the QONNX graph (via :class:`~flow.reference.Reference`) on ``x``; compare exactly."""
    torch_out = predict(model, x)
    ref_out = Reference(qonnx_model).run(x)
    return compare_outputs(torch_out, ref_out.astype(torch_out.dtype))


