"""Version fixes for third-party packages, applied in one place.

* onnx 1.23 stamps ``ir_version=14`` on models made with ``onnx.helper.make_model``; onnxruntime 1.31
  accepts at most 13. qonnx builds one such model per node in ``execute_onnx`` (through
  ``qonnx.util.basic.qonnx_make_model``), so every execution failed with "Unsupported model IR version".
  :func:`apply` pins the IR version of those models to :data:`IR_VERSION`.
"""

from __future__ import annotations

import functools

IR_VERSION = 10
_applied = False


def apply() -> None:
    """Idempotently install the fixes (call before using qonnx execution)."""
    global _applied
    if _applied:
        return
    import qonnx.core.modelwrapper as modelwrapper
    import qonnx.core.onnx_exec as onnx_exec
    import qonnx.util.basic as basic

    original = basic.qonnx_make_model

    @functools.wraps(original)
    def make_model_with_supported_ir(graph_proto, **kwargs):
        model = original(graph_proto, **kwargs)
        model.ir_version = min(model.ir_version, IR_VERSION)
        return model

    basic.qonnx_make_model = make_model_with_supported_ir
    onnx_exec.qonnx_make_model = make_model_with_supported_ir
    if hasattr(modelwrapper, "qonnx_make_model"):
        modelwrapper.qonnx_make_model = make_model_with_supported_ir
    _applied = True
