"""Constraint sets for ADMM training, each with an exact Euclidean projection.

Every set is a frozen dataclass with ``project(w) -> w'`` (the nearest point of the set to ``w`` in the
Frobenius norm, same shape and dtype) and ``contains(w) -> bool`` (exact membership test, no tolerance:
a projected tensor is always contained, bit for bit). Weights are laid out as PyTorch stores them:
dim 0 is the output channel/filter, dim 1 the input channel/column.

* :class:`Binary`         -- {-a, +a}, a = mean|w| (per tensor or per output channel); sign(0) = +1.
* :class:`Ternary`        -- {-a, 0, +a} with the optimal a and threshold (exact search over the support size).
* :class:`PowerOfTwoGrid` -- s * {-(2^(b-1)-1) .. 2^(b-1)-1}, s a power of two minimising the error.
* :class:`Sparsity`       -- keep the largest-magnitude fraction of entries, filters (dim 0) or columns (dim 1).
* :class:`Intersect`      -- sparsity and quantization together (support by magnitude, then quantize).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from flow.errors import QuantSpecError

__all__ = ["Binary", "Constraint", "Intersect", "PowerOfTwoGrid", "Sparsity", "Ternary"]


def _rows(w: torch.Tensor, per_channel: bool) -> torch.Tensor:
    """``w`` as a 2-D view: one row per output channel (``per_channel``) or a single row."""
    return w.reshape(w.shape[0], -1) if per_channel and w.dim() > 0 else w.reshape(1, -1)


def _sign(w: torch.Tensor) -> torch.Tensor:
    """Sign with sign(0) = +1 (the convention of binary hardware: bit 1 means +1)."""
    return torch.where(w >= 0, torch.ones_like(w), -torch.ones_like(w))


@dataclass(frozen=True)
class Binary:
    """{-a, +a} with one a >= 0 per tensor or per output channel (dim 0).

    The projection is ``a * sign(w)`` with ``a = mean|w|`` (over the tensor or the channel), which is optimal:
    for a fixed a the nearest sign pattern is sign(w), and for that pattern the best a is mean|w|.
    """

    per_channel: bool = False

    def project(self, w: torch.Tensor) -> torch.Tensor:
        rows = _rows(w, self.per_channel)
        mags = rows.abs()
        top = mags.max(dim=1, keepdim=True).values
        # A row already in the set keeps its magnitude exactly (a float mean of equal values may round).
        alpha = torch.where(mags.min(dim=1, keepdim=True).values == top, top, mags.mean(dim=1, keepdim=True))
        return (alpha * _sign(rows)).reshape(w.shape)

    def contains(self, w: torch.Tensor) -> bool:
        mags = _rows(w, self.per_channel).abs()
        return bool((mags == mags[:, :1]).all())

    def project_on_support(self, w: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Nearest point of {0} outside ``mask`` and {-a, +a} on it (a recomputed on the support)."""
        rows, m = _rows(w, self.per_channel), _rows(mask, self.per_channel).to(w.dtype)
        count = m.sum(dim=1, keepdim=True)
        kept = rows.abs() * m
        top = kept.max(dim=1, keepdim=True).values
        low = torch.where(m > 0, kept, top).min(dim=1, keepdim=True).values
        alpha = torch.where(low == top, top, kept.sum(dim=1, keepdim=True) / count.clamp(min=1))
        return (alpha * _sign(rows) * m).reshape(w.shape)

    def contains_on_support(self, w: torch.Tensor) -> bool:
        """Every non-zero entry has its row's common magnitude (zeros allowed anywhere)."""
        mags = _rows(w, self.per_channel).abs()
        top = mags.max(dim=1, keepdim=True).values
        return bool(((mags == 0) | (mags == top)).all())


@dataclass(frozen=True)
class Ternary:
    """{-a, 0, +a} with one a >= 0 per tensor or per output channel (dim 0).

    Exact projection: for a support of size k the best support is the k largest |w| and the best a their
    mean, with error ||w||^2 - (sum of top-k |w|)^2 / k; so k maximises (sum top-k |w|)^2 / k.
    """

    per_channel: bool = False

    def project(self, w: torch.Tensor) -> torch.Tensor:
        rows = _rows(w, self.per_channel)
        mags, order = rows.abs().sort(dim=1, descending=True)
        sums = mags.cumsum(dim=1)
        k = torch.arange(1, rows.shape[1] + 1, dtype=rows.dtype)
        best = (sums * sums / k).argmax(dim=1, keepdim=True)  # index k*-1
        alpha = sums.gather(1, best) / (best + 1).to(rows.dtype)
        # If the kept magnitudes are all equal, use that value exactly (idempotence despite float rounding).
        alpha = torch.where(mags.gather(1, best) == mags[:, :1], mags[:, :1], alpha)
        keep_sorted = torch.arange(rows.shape[1]).unsqueeze(0) <= best
        keep = torch.zeros_like(keep_sorted).scatter(1, order, keep_sorted)
        return (alpha * _sign(rows) * keep.to(rows.dtype)).reshape(w.shape)

    def contains(self, w: torch.Tensor) -> bool:
        return Binary(self.per_channel).contains_on_support(w)


@dataclass(frozen=True)
class PowerOfTwoGrid:
    """The uniform grid s * {-(2^(b-1)-1) .. 2^(b-1)-1} (narrow range, like qflow's ``int<b>`` weights), one
    power-of-two scale s per tensor, chosen to minimise ||w - proj||.

    The scale search is exact: with q = 2^(b-1)-1, every exponent from the one where all entries round to 0
    (s >= 2 max|w|) down to the largest one with q*s < min non-zero |w| is tried; below that, every non-zero
    entry is clipped to +-q*s and the error only grows as s shrinks. The window is capped at
    ``_MAX_EXPONENTS`` exponents below the top (weights spanning more than 2^60 in magnitude are not
    expected; beyond it the result is the best of the window).
    """

    bits: int = 8

    _MAX_EXPONENTS = 64

    def __post_init__(self) -> None:
        if not isinstance(self.bits, int) or self.bits < 2:
            raise QuantSpecError(
                f"PowerOfTwoGrid.bits: expected an integer >= 2 (use Binary() for 1 bit), got {self.bits!r}"
            )

    @property
    def qmax(self) -> int:
        return 2 ** (self.bits - 1) - 1

    def scale(self, w: torch.Tensor) -> float:
        """The power-of-two scale of the projection of ``w`` (1.0 for an all-zero tensor)."""
        flat = w.detach().reshape(-1).to(torch.float64)
        mags = flat.abs()
        m = float(mags.max()) if flat.numel() else 0.0
        if m == 0.0:
            return 1.0
        min_nz = float(mags[mags > 0].min())
        e_top = math.ceil(math.log2(2 * m)) + 1
        e_bottom = max(math.floor(math.log2(min_nz / self.qmax)) - 1, e_top - self._MAX_EXPONENTS)
        exps = torch.arange(e_bottom, e_top + 1, dtype=torch.float64)
        scales = torch.pow(2.0, exps).unsqueeze(1)
        q = torch.clamp(torch.round(flat.unsqueeze(0) / scales), -self.qmax, self.qmax)
        err = ((flat.unsqueeze(0) - q * scales) ** 2).sum(dim=1)
        # argmin returns the first minimum: ties go to the smallest scale (finest grid).
        return float(scales[int(err.argmin())])

    def project(self, w: torch.Tensor) -> torch.Tensor:
        s = self.scale(w)
        # Dividing and multiplying by a power of two is exact in floating point.
        return torch.clamp(torch.round(w / s), -self.qmax, self.qmax) * s

    def contains(self, w: torch.Tensor) -> bool:
        # If w = s*q with |q| <= qmax for a power of two s, it also holds for the smallest power of two
        # s0 >= max|w|/qmax (s is a multiple of s0), so testing s0 is enough.
        flat = w.detach().reshape(-1).to(torch.float64)
        m = float(flat.abs().max()) if flat.numel() else 0.0
        if m == 0.0:
            return True
        e = math.ceil(math.log2(m / self.qmax))
        while self.qmax * 2.0 ** (e - 1) >= m:  # guard log2 rounding: smallest e with qmax*2^e >= m
            e -= 1
        while self.qmax * 2.0**e < m:
            e += 1
        q = flat / 2.0**e
        return bool((q == torch.round(q)).all() and (q.abs() <= self.qmax).all())


_STRUCTURES = ("none", "filter", "column")


@dataclass(frozen=True)
class Sparsity:
    """Keep the largest-magnitude fraction ``keep`` (0 < keep <= 1) of the weights, the rest is zero.

    ``structure``: ``"none"`` (single entries by |w|), ``"filter"`` (whole output filters, dim 0, by L2 norm)
    or ``"column"`` (whole input columns, dim 1, by L2 norm over all other dims). The number kept is
    ``max(1, round(keep * n))`` of the n entries/filters/columns. Keeping the largest units is the exact
    projection (ties broken arbitrarily: every tie-break is a nearest point). ``keep = 1`` means no pruning.
    """

    keep: float = 0.5
    structure: str = "none"

    def __post_init__(self) -> None:
        if not 0.0 < float(self.keep) <= 1.0:
            raise QuantSpecError(
                f"Sparsity.keep: expected a kept fraction 0 < keep <= 1 (keep = 1 - sparsity), got {self.keep!r}"
            )
        if self.structure not in _STRUCTURES:
            raise QuantSpecError(f"Sparsity.structure: expected one of {_STRUCTURES}, got {self.structure!r}")

    def _units(self, w: torch.Tensor) -> torch.Tensor:
        """Per-unit score (a 1-D tensor) and the dims that define a unit."""
        if self.structure == "none":
            return w.detach().reshape(-1).abs()
        if w.dim() < 2:
            raise QuantSpecError(
                f"Sparsity(structure={self.structure!r}): expected a weight with >= 2 dims, got shape {tuple(w.shape)}"
            )
        dims = [d for d in range(w.dim()) if d != (0 if self.structure == "filter" else 1)]
        return w.detach().pow(2).sum(dim=dims)

    def count(self, n: int) -> int:
        """How many of ``n`` units are kept."""
        return max(1, round(self.keep * n))

    def mask(self, w: torch.Tensor) -> torch.Tensor:
        """Boolean mask (shape of ``w``) of the kept entries."""
        score = self._units(w)
        kept = torch.zeros(score.numel(), dtype=torch.bool)
        kept[torch.topk(score, self.count(score.numel()), sorted=False).indices] = True
        if self.structure == "none":
            return kept.reshape(w.shape)
        view = [1] * w.dim()
        axis = 0 if self.structure == "filter" else 1
        view[axis] = -1
        return kept.reshape(view).expand(w.shape)

    def project(self, w: torch.Tensor) -> torch.Tensor:
        return w * self.mask(w).to(w.dtype)

    def contains(self, w: torch.Tensor) -> bool:
        score = self._units(w)
        return int((score != 0).sum()) <= self.count(score.numel())


@dataclass(frozen=True)
class Intersect:
    """Sparsity and quantization together: the support is chosen by magnitude (``sparsity.mask``), then the
    kept entries are projected onto ``quant`` and the pruned ones are 0.

    This is the standard ADMM-NN-S heuristic (prune, then quantize the survivors), not the exact projection onto
    the intersection in general. It is exact for a fixed support with Binary/Ternary: Binary's a is recomputed
    as the mean |w| over the support (per tensor or per channel); Ternary may zero further entries.
    """

    sparsity: Sparsity
    quant: Binary | Ternary | PowerOfTwoGrid

    def __post_init__(self) -> None:
        if not isinstance(self.sparsity, Sparsity):
            raise QuantSpecError(f"Intersect.sparsity: expected a Sparsity, got {type(self.sparsity).__name__}")
        if not isinstance(self.quant, Binary | Ternary | PowerOfTwoGrid):
            raise QuantSpecError(
                f"Intersect.quant: expected Binary, Ternary or PowerOfTwoGrid, got {type(self.quant).__name__}"
            )

    def project(self, w: torch.Tensor) -> torch.Tensor:
        mask = self.sparsity.mask(w)
        if isinstance(self.quant, Binary):
            return self.quant.project_on_support(w, mask)
        # Ternary and the grid map 0 to 0, and zeros never change their choice of scale/support optimality.
        m = mask.to(w.dtype)
        return self.quant.project(w * m) * m

    def contains(self, w: torch.Tensor) -> bool:
        if not self.sparsity.contains(w):
            return False
        if isinstance(self.quant, Binary):
            return self.quant.contains_on_support(w)
        return self.quant.contains(w)


Constraint = Binary | Ternary | PowerOfTwoGrid | Sparsity | Intersect
"""Any constraint set accepted by :func:`flow.qat.admm.admm_train`."""

QUANT_SETS = (Binary, Ternary, PowerOfTwoGrid, Intersect)
"""Sets whose points are fixed levels: after the hard projection such weights are frozen, not retrained."""
