"""Errors that qflow raises for bad input.

Every error message is one line that names the file/layer/node, what was expected and what arrived.
The CLI prints it as ``qflow: error: <message>`` and exits with status 2.
"""

from __future__ import annotations


class QflowError(Exception):
    """Base class of every user-facing qflow error."""


class RecipeError(QflowError):
    """A recipe cannot be found, loaded or is malformed."""


class CheckpointError(QflowError):
    """A checkpoint is missing or does not match its recipe."""


class QuantSpecError(QflowError):
    """A quantization preset string or parameter is invalid."""


class ExportError(QflowError):
    """Export to QONNX failed or produced a graph the flow cannot take."""


class UnsupportedError(QflowError):
    """A node, layer or attribute the flow does not support."""


class NotExactError(QflowError):
    """A tensor cannot be represented exactly (e.g. a scale that is not a power of two)."""
