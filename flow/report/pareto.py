"""Pareto optimality of design points whose every objective is to be minimized."""

from __future__ import annotations

from collections.abc import Sequence


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """True when ``a`` is no worse than ``b`` in every objective and strictly better in at least one."""
    if len(a) != len(b):
        raise ValueError(f"dominates: points with {len(a)} and {len(b)} objectives")
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def pareto_optimal(points: Sequence[Sequence[float]]) -> list[bool]:
    """For each point, whether no other point dominates it (all objectives minimized).

    Equal points do not dominate each other, so duplicates of an optimal point are all optimal.
    """
    return [not any(dominates(q, p) for j, q in enumerate(points) if j != i) for i, p in enumerate(points)]
