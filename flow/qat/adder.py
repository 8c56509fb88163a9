"""AdderNet layers: ``y_j = -sum_i |x_i - w_ij|``, no multiplication (Chen et al., "AdderNet", CVPR 2020).

* :class:`AdderLinear` and :class:`AdderConv2d`, float or quantized. Quantized layers own their input
  quantizer (a Brevitas ``QuantReLU`` for ``uint<k>``, ``QuantIdentity`` for ``int<k>``, with a constant
  power-of-two scale, ``act_max / 2^k`` (``2^(k-1)`` when signed) rounded to a power of two) and quantize
  their weights with *the same scale and the same k-bit range*, so ``x - w`` is an integer subtraction in
  hardware. Put BatchNorm after an adder layer, as the paper does: the outputs are large and
  all negative.
* Training as published: the gradient with respect to W is the full-precision difference ``x - w`` (not its
  sign), the gradient with respect to X is ``HardTanh(w - x)``, and each layer's weight gradient is rescaled
  to ``eta * sqrt(k) / ||grad||_2`` (k = number of weights; the adaptive learning rate that balances layers).
* Export: the layer becomes ``Quant(x)``, ``Quant(W)`` and one custom node of the domain ``flow.qonnx_ops``,
  ``AdderMatMul`` (W as ``(in, out)``, the MatMul layout) or ``AdderConv``, which qonnx executes
  (:mod:`flow.qonnx_ops`) and hls4ml parses through qflow's handlers (:mod:`flow.compile.adder`).

The weight parameter is stored as ``(in_features, out_features)`` (the MatMul layout, so export needs no
transpose); :class:`AdderConv2d` stores ``(C*K*K, out_channels)`` in ``torch.nn.functional.unfold`` order.
"""

from __future__ import annotations

import math

import torch
from brevitas.function.ops_ste import round_ste
from torch import nn
from torch.nn import functional as F

from flow.errors import QuantSpecError, UnsupportedError
from flow.qat.quant import Kind, QuantSpec, act_quantizer, parse

ADDER_DOMAIN = "flow.qonnx_ops"
ADDER_OP = "AdderMatMul"
_CHUNK = 128  # rows per chunk of the (rows, in, out) difference tensor in the backward pass


def adder_matmul(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``y[b, j] = -sum_i |x[b, i] - w[i, j]|`` for ``x`` (B, in) and ``w`` (in, out), plain autograd-free math.

    Exact in float32 whenever ``x`` and ``w`` are multiples of one power-of-two scale and the sums stay
    below 2^24 codes (each term and every partial sum is then representable).
    """
    return -torch.cdist(x.unsqueeze(0), w.t().unsqueeze(0), p=1).squeeze(0)


class AdderFunction(torch.autograd.Function):
    """The adder product with AdderNet's gradients (full-precision for W, HardTanh-clipped for X)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, w)
        return adder_matmul(x, w)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, w = ctx.saved_tensors
        grad_x = grad_w = None
        if ctx.needs_input_grad[1]:
            # dy_j/dw_ij := x_i - w_ij, summed over the batch without a (B, in, out) tensor
            grad_w = x.t() @ grad - w * grad.sum(0, keepdim=True)
        if ctx.needs_input_grad[0]:
            # dy_j/dx_i := HardTanh(w_ij - x_i)
            parts = []
            for start in range(0, x.shape[0], _CHUNK):
                xb, gb = x[start : start + _CHUNK], grad[start : start + _CHUNK]
                diff = (w.unsqueeze(0) - xb.unsqueeze(2)).clamp_(-1.0, 1.0)  # (b, in, out)
                parts.append(torch.einsum("bio,bo->bi", diff, gb))
            grad_x = torch.cat(parts)
        return grad_x, grad_w


def _adaptive_hook(eta: float, numel: int):
    """AdderNet's adaptive learning rate: the weight gradient becomes ``eta * sqrt(k) * g / ||g||_2``."""
    factor = eta * math.sqrt(numel)

    def hook(grad: torch.Tensor) -> torch.Tensor:
        norm = grad.norm()
        return grad if norm == 0 else grad * (factor / norm)

    return hook


def _code_range(spec: QuantSpec) -> tuple[int, int]:
    if spec.kind is Kind.UINT:
        return 0, (1 << spec.bits) - 1
    return -(1 << (spec.bits - 1)), (1 << (spec.bits - 1)) - 1


def adder_act(quant: str | QuantSpec, act_max: float = 1.0, return_quant_tensor: bool = False) -> nn.Module:
    """The activation quantizer adder layers use: ``uint<k>`` a quantized ReLU, ``int<k>`` a signed quantizer,
    with a *constant* power-of-two scale, ``act_max / 2^k`` (``2^(k-1)`` when signed) rounded to a power of two.

    Put it before a max-pool that feeds an adder layer built with ``quantize_input=False`` (same ``quant`` and
    ``act_max``): the adder layer then puts its weights on this quantizer's grid.

    Why constant: the weights live on the input's grid, so the grid must not move during training. A learned
    scale jumps when Brevitas ends its statistics phase (and is not a power of two before that), which
    re-quantizes every weight at once: measured on adder_mlp_mnist, accuracy fell to 0.10 at that step.
    """
    from brevitas.inject.enum import ScalingImplType
    from brevitas.nn import QuantIdentity, QuantReLU

    spec = parse(quant)
    if spec.kind not in (Kind.INT, Kind.UINT):
        raise QuantSpecError(f"adder_act: expected 'int<k>' or 'uint<k>', got {spec.name}")
    quantizer = act_quantizer(spec, max_val=act_max).let(scaling_impl_type=ScalingImplType.CONST, scaling_const=act_max)
    cls = QuantReLU if spec.kind is Kind.UINT else QuantIdentity
    return cls(act_quant=quantizer, return_quant_tensor=return_quant_tensor)


class _AdderBase(nn.Module):
    """Weights, the input grid (and its quantizer) and the adaptive learning rate shared by the adder layers."""

    def __init__(
        self,
        n_in: int,
        n_out: int,
        quant: str | QuantSpec,
        act_max: float,
        eta: float | None,
        quantize_input: bool = True,
    ) -> None:
        super().__init__()
        self.spec = parse(quant)
        if self.spec.kind not in (Kind.FLOAT, Kind.INT, Kind.UINT):
            raise QuantSpecError(
                f"{type(self).__name__}: adder layers take 'float', 'int<k>' or 'uint<k>', got {self.spec.name} "
                "(x - w needs a k-bit integer grid)"
            )
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        # prototypes start inside the input range (uniform in [0, act_max] for unsigned inputs)
        lo = 0.0 if self.spec.kind is Kind.UINT else -act_max
        nn.init.uniform_(self.weight, lo, act_max)
        self.input_quant: nn.Module | None = None
        self.quantized = self.spec.kind is not Kind.FLOAT
        if self.quantized:
            with torch.no_grad():  # the grid's scale, a constant (not saved: it follows from quant and act_max)
                scale = adder_act(self.spec, act_max, return_quant_tensor=True).eval()(torch.zeros(1, 1)).scale
            self.register_buffer("grid_scale", scale.detach().clone().reshape(()), persistent=False)
            if quantize_input:
                self.input_quant = adder_act(self.spec, act_max, return_quant_tensor=True)
        self.eta = eta
        if eta is not None:
            self.weight.register_hook(_adaptive_hook(float(eta), self.weight.numel()))

    def quantize(self, x: torch.Tensor, weight: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(quantized x, weights on x's grid): both ``code * s`` with one power-of-two ``s`` and k-bit codes.

        Without an own input quantizer (``quantize_input=False``) ``x`` must already be on the grid (an
        :func:`adder_act` with the same settings before it). ``weight`` defaults to the layer's parameter (export
        passes it reordered; quantization is elementwise)."""
        weight = self.weight if weight is None else weight
        if not self.quantized:
            return x, weight
        scale = self.grid_scale
        if self.input_quant is not None:
            q = self.input_quant(x)
            # Brevitas' export mode returns a plain tensor, eager mode a QuantTensor
            x = q if torch.compiler.is_exporting() else q.value
        if torch.compiler.is_exporting():
            return x, self._export_weight_quant(weight, scale)
        lo, hi = _code_range(self.spec)
        codes = torch.clamp(round_ste(weight / scale), lo, hi)
        return x, codes * scale

    def _export_weight_quant(self, weight: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        from brevitas.export.onnx.qonnx.function import BrevitasQuantOp

        zero = torch.zeros((), dtype=weight.dtype)
        bits = torch.tensor(float(self.spec.bits))
        signed = self.spec.kind is Kind.INT
        return BrevitasQuantOp.dynamo.apply(weight, scale, zero, bits, False, signed, "ROUND")


class AdderLinear(_AdderBase):
    """``y = -sum_i |x_i - W[i, :]|``; ``quant`` = ``"float"`` | ``"int<k>"`` | ``"uint<k>"`` (x and W share it).

    ``act_max`` sets the input grid's power-of-two scale (:func:`adder_act`); ``eta`` is AdderNet's adaptive
    learning rate coefficient (``None`` disables the gradient rescaling); ``quantize_input=False`` takes an input
    already on the grid (from an :func:`adder_act` with the same settings, e.g. before a max-pool). Input
    (B, in_features), output (B, out_features).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        quant: str | QuantSpec = "float",
        act_max: float = 1.0,
        eta: float | None = 0.1,
        quantize_input: bool = True,
    ) -> None:
        super().__init__(in_features, out_features, quant, act_max, eta, quantize_input)
        self.in_features, self.out_features = in_features, out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"AdderLinear: expected input (batch, {self.in_features}), got {tuple(x.shape)}")
        xq, wq = self.quantize(x)
        if torch.compiler.is_exporting():
            if not self.quantized:
                raise UnsupportedError(
                    "AdderLinear: a float adder layer has no exact hardware form; use quant='uint<k>' or 'int<k>'"
                )
            return torch.onnx.ops.symbolic(
                f"{ADDER_DOMAIN}::{ADDER_OP}",
                (xq, wq),
                {},
                dtype=xq.dtype,
                shape=(xq.shape[0], self.out_features),
                version=1,
            )
        return AdderFunction.apply(xq, wq)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, quant={self.spec.name}, eta={self.eta}"


class AdderConv2d(_AdderBase):
    """A 2-D adder convolution: each output pixel is ``-sum |window - W[:, oc]|`` over the K x K x C window.

    Trains like :class:`AdderLinear` (same quantization and gradients). Exports as the custom node
    ``AdderConv`` (``flow.qonnx_ops``) with the weight parameter ``(C*K*K, out_channels)`` in unfold order.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        quant: str | QuantSpec = "float",
        act_max: float = 1.0,
        eta: float | None = 0.1,
        quantize_input: bool = True,
    ) -> None:
        super().__init__(in_channels * kernel_size * kernel_size, out_channels, quant, act_max, eta, quantize_input)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        k, s, p = self.kernel_size, self.stride, self.padding
        if torch.compiler.is_exporting():
            return self._export(x, n, h, w)
        xq, wq = self.quantize(x)
        cols = F.unfold(xq, k, padding=p, stride=s)  # (N, C*K*K, L)
        oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        flat = cols.transpose(1, 2).reshape(-1, cols.shape[1])
        y = AdderFunction.apply(flat, wq)  # (N*L, OC)
        return y.reshape(n, oh * ow, self.out_channels).transpose(1, 2).reshape(n, self.out_channels, oh, ow)

    def _export(self, x: torch.Tensor, n: int, h: int, w: int) -> torch.Tensor:
        """``Quant(x)``, ``Quant(W as (OC, C, K, K))`` and the ``AdderConv`` node (weights reordered before the
        quantizer, so the reordering folds into the initializer)."""
        k, s, p = self.kernel_size, self.stride, self.padding
        weight = self.weight.t().reshape(self.out_channels, self.in_channels, k, k)
        if not self.quantized:
            raise UnsupportedError(
                "AdderConv2d: a float adder layer has no exact hardware form; use quant='uint<k>' or 'int<k>'"
            )
        xq, wq = self.quantize(x, weight)
        oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        return torch.onnx.ops.symbolic(
            f"{ADDER_DOMAIN}::AdderConv",
            (xq, wq),
            {"kernel_shape": [k, k], "strides": [s, s], "pads": [p, p, p, p], "data_layout": "NCHW"},
            dtype=xq.dtype,
            shape=(n, self.out_channels, oh, ow),
            version=1,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, quant={self.spec.name}, eta={self.eta}"
        )
