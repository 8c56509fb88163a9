"""Per-layer parallelism (PE x SIMD) from explicit settings, hls4ml's ReuseFactor, or a cycle target."""

from __future__ import annotations

from flow.errors import UnsupportedError


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def fold_for_target(mh: int, mw: int, target_cycles: int, channels: int | None = None) -> tuple[int, int]:
    """Smallest PE*SIMD with (MH/PE)*(MW/SIMD) <= target (ties: the larger SIMD, the smaller PE).

    ``channels``: SIMD must also divide it (convolutions); if no fold meets the target then, the fastest
    one (PE=MH, SIMD=channels) is returned."""
    if channels is not None and (mh // mh) * (mw // channels) > target_cycles:
        return mh, channels
    best: tuple[int, int, int] | None = None
    for pe in divisors(mh):
        for simd in [d for d in divisors(mw) if channels is None or channels % d == 0]:
            if (mh // pe) * (mw // simd) <= target_cycles:
                key = (pe * simd, pe, -simd)
                if best is None or key < best:
                    best = key
                break  # larger SIMD for this PE only costs more
    assert best is not None  # PE=MH, SIMD=MW always meets any target >= 1
    return best[1], -best[2]


def fold_for_reuse(name: str, mh: int, mw: int, reuse: int, channels: int | None = None) -> tuple[int, int]:
    """PE, SIMD with exactly ``reuse`` cycles per vector (hls4ml's ReuseFactor), smallest PE*SIMD
    (``channels``: SIMD must divide it too)."""
    simds = [d for d in divisors(mw) if channels is None or channels % d == 0]
    options = [(pe * simd, pe, simd) for pe in divisors(mh) for simd in simds if (mh // pe) * (mw // simd) == reuse]
    if not options:
        valid = sorted({(mh // pe) * (mw // simd) for pe in divisors(mh) for simd in simds})
        raise UnsupportedError(
            f"layer {name!r}: ReuseFactor {reuse} does not divide the {mh}x{mw} layer into PE x SIMD folds "
            f"(valid: {', '.join(map(str, valid[:20]))}{' ...' if len(valid) > 20 else ''})"
        )
    _, pe, simd = min(options)
    return pe, simd


def check_fold(name: str, mh: int, mw: int, pe: int, simd: int) -> tuple[int, int]:
    if pe < 1 or mh % pe:
        raise UnsupportedError(f"layer {name!r}: PE={pe} must divide the layer's {mh} outputs (valid: {divisors(mh)})")
    if simd < 1 or mw % simd:
        raise UnsupportedError(
            f"layer {name!r}: SIMD={simd} must divide the layer's {mw} inputs (valid: {divisors(mw)})"
        )
    return pe, simd
