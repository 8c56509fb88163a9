"""The fully binarized export path of ADMM-trained models (re-exported by :mod:`flow.qat.admm`).

After ADMM with :class:`~flow.qat.admm_sets.Binary` constraints a layer's weight is ``alpha_c * s`` with ``s`` in
{-1, +1}; :func:`binarize_for_export` folds ``alpha_c`` into the BatchNorm that follows the layer, leaving weights
exactly +-1, and :func:`binary_twin` rebuilds the model with qflow ``QLinear/QConv2d(weight="binary")`` layers
that the export flow takes.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable

import torch
from torch import nn

from flow.errors import QuantSpecError, UnsupportedError
from flow.qat.admm_sets import Binary
from flow.qat.layers import QConv2d, QLinear

log = logging.getLogger(__name__)

__all__ = ["binarize_for_export", "binary_twin"]

_BN = (nn.BatchNorm1d, nn.BatchNorm2d)


def _layer_bn_pairs(model: nn.Module) -> list[tuple[str, nn.Module, nn.Module]]:
    """(name, layer, following BatchNorm or None) for every Linear/Conv2d child of an nn.Sequential."""
    pairs = []
    for prefix, container in model.named_modules():
        if not isinstance(container, nn.Sequential):
            continue
        children = list(container.named_children())
        for i, (child_name, child) in enumerate(children):
            if isinstance(child, nn.Linear | nn.Conv2d):  # Brevitas QuantLinear/QuantConv2d included
                after = children[i + 1][1] if i + 1 < len(children) else None
                full = f"{prefix}.{child_name}" if prefix else child_name
                pairs.append((full, child, after if isinstance(after, _BN) else None))
    return pairs


def binarize_for_export(
    model: nn.Module, layers: Iterable[str] | None = None, rescale_output: bool = False
) -> nn.Module:
    """Return a copy of ``model`` whose binary layers have weights exactly +-1, with alpha folded into BN.

    ``layers``: names of the binary layers (default: every Linear/Conv2d in an nn.Sequential whose weight is in
    ``Binary(per_channel=True)``). Each must be directly followed by a BatchNorm in its nn.Sequential, else
    :class:`UnsupportedError` names it. With the layer's weight ``alpha_c * s_c`` (alpha_c > 0 per output
    channel c; no bias) its output is ``alpha_c * y'_c`` with ``y'`` the +-1-weight output, and

        BN(alpha * y') = gamma (alpha y' - mu) / sqrt(var + eps) + beta
                       = (gamma alpha) (y' - mu / alpha) / sqrt(var + eps) + beta = BN'(y'),

    so BN' keeps ``running_var``, ``eps`` and ``bias`` and takes ``weight' = gamma * alpha``,
    ``running_mean' = mu / alpha``. This is exact in real arithmetic; in float32 the products and the quotient
    round differently (relative error ~1e-7 per operation), so outputs agree to float rounding, not bit for bit.
    When every alpha is a power of two the fold is exact in floating point as well. The check is
    ``max |twin - original|`` on a batch (see ``tests/test_admm.py``): a quantized activation right after BN
    can turn this rounding into a one-step difference only for a pre-activation within ~1e-6 of a threshold.

    ``rescale_output``: the network's output layer (the last module of the model) may have no BatchNorm if its
    weight is ``+-alpha`` with one alpha for the whole tensor (``Binary(per_channel=False)``); its alpha is
    then dropped, which divides the logits by alpha > 0 -- argmax and accuracy are unchanged, the logits are
    not (the integer logits of FINN-style binary nets such as ``tfc_w1a1``).
    """
    out = copy.deepcopy(model).eval()
    pairs = _layer_bn_pairs(out)
    wanted = None if layers is None else set(layers)
    by_name = {name: (layer, bn) for name, layer, bn in pairs}
    if wanted is not None:
        missing = sorted(wanted - set(by_name))
        if missing:
            valid = ", ".join(repr(n) for n in by_name) or "none"
            raise QuantSpecError(
                f"binarize_for_export: layers {missing} not found in an nn.Sequential (valid: {valid})"
            )
    for name, (layer, bn) in by_name.items():
        w = layer.weight.detach()
        rows = w.reshape(w.shape[0], -1)
        # +-alpha_c per channel, zeros allowed (pruned and binarized: Intersect(Sparsity, Binary)), each channel
        # with at least one non-zero weight so that alpha_c is defined
        binary = Binary(per_channel=True).contains_on_support(w) and bool((rows != 0).any(dim=1).all())
        if wanted is None and not binary:
            continue
        if wanted is not None and name not in wanted:
            continue
        if not binary:
            raise QuantSpecError(
                f"binarize_for_export: layer {name!r}: expected weights +-alpha per output channel, zeros allowed "
                "(after ADMM with Binary or Intersect(Sparsity, Binary) constraints), got other values or an "
                "all-zero channel"
            )
        if getattr(layer, "bias", None) is not None:
            raise UnsupportedError(f"binarize_for_export: layer {name!r}: expected no bias, got one")
        alpha = rows.abs().max(dim=1).values
        if torch.all(alpha == 1):
            continue
        output_layer = list(out.modules())[-1] is layer
        if bn is None and rescale_output and output_layer and bool((alpha == alpha[0]).all()):
            log.info("binarize_for_export: output layer %r: dropped alpha %.6g (logits / alpha)", name, alpha[0])
            with torch.no_grad():
                layer.weight.copy_(torch.sign(w))
            continue
        if bn is None:
            raise UnsupportedError(
                f"binarize_for_export: layer {name!r}: expected a BatchNorm right after it to absorb the scale "
                f"alpha, got none (add a BatchNorm, constrain it with a fixed-scale set, or -- for the output "
                f"layer with Binary(per_channel=False) -- pass rescale_output=True)"
            )
        with torch.no_grad():
            layer.weight.copy_(torch.sign(w))  # exactly +-1, and 0 where pruned
            if bn.affine:
                bn.weight.mul_(alpha)
            else:
                raise UnsupportedError(f"binarize_for_export: BatchNorm after {name!r}: expected affine=True")
            bn.running_mean.div_(alpha)
    return out


def binary_twin(model: nn.Module, layers: Iterable[str] | None = None, rescale_output: bool = False) -> nn.Module:
    """The same network with each binary layer rebuilt as qflow ``QLinear/QConv2d(weight="binary")``.

    Runs :func:`binarize_for_export` first, then replaces every layer whose weight is exactly +-1 (or the named
    ``layers``) by the Brevitas binary preset with the same shape, stride and padding, copying the weight; a
    pruned binary layer (weights in {-1, 0, +1} after the fold) gets the ``"ternary"`` preset, whose levels are
    exactly those. All other modules (BatchNorm with alpha folded, activations) are copied. The twin computes
    the same function (up to the logits' scale with ``rescale_output``).
    """
    folded = binarize_for_export(model, layers, rescale_output=rescale_output)
    for name, layer, _ in _layer_bn_pairs(folded):
        w = layer.weight.detach()
        if not bool(((w.abs() == 1) | (w == 0)).all()) or (layers is not None and name not in set(layers)):
            continue
        preset = "binary" if bool((w != 0).all()) else "ternary"
        if isinstance(layer, nn.Conv2d) or w.dim() == 4:
            if (
                layer.kernel_size[0] != layer.kernel_size[1]
                or layer.stride[0] != layer.stride[1]
                or isinstance(layer.padding, str)
                or layer.padding[0] != layer.padding[1]
                or layer.groups != 1
                or any(d != 1 for d in layer.dilation)
            ):
                raise UnsupportedError(f"binary_twin: layer {name!r}: expected a square, ungrouped convolution")
            new = QConv2d(
                layer.in_channels,
                layer.out_channels,
                layer.kernel_size[0],
                weight=preset,
                stride=layer.stride[0],
                padding=layer.padding[0],
            )
        else:
            new = QLinear(layer.in_features, layer.out_features, weight=preset)
        with torch.no_grad():
            new.weight.copy_(w)
        parent_name, _, child = name.rpartition(".")
        parent = folded.get_submodule(parent_name) if parent_name else folded
        setattr(parent, child, new)
    return folded.eval()
