"""What zero weights save in an MVAU: Yosys ``synth_xilinx`` of one block, dense vs sparse weights, same shape.

    .venv/bin/python bench/sparse_mvau.py               # every point below; Markdown table
    .venv/bin/python bench/sparse_mvau.py --only conv2  # the points whose name starts with conv2

Each point is one MVAU (``hw/mvau``) synthesized alone (:func:`flow.estimate.resources.synth_block`). The dense
weights are seeded random k-bit values (narrow range, so about 1 in 15 is already 0); a sparse set is the same
matrix with a seeded random fraction of the entries set to 0 ("unstructured"), or whole SIMD groups of a ROM word
set to 0 ("simd-groups": what a sparse-aware MVAU could skip). Shapes: LeNet-5-w4a4's folded layers (conv2:
16x150, PE 2, SIMD 6, a 200-word LUT ROM; fc3: 10x84, PE 1, SIMD 1, 840 words) and a small fully parallel layer
(8x32, PE 8, SIMD 32: every weight in one ROM word, a constant Yosys can propagate). Results are cached in
``build/bench/sparse_mvau.json`` (``--no-cache`` resynthesizes).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flow.blocks.mvau import MvauMode, MvauParams  # noqa: E402
from flow.estimate.resources import synth_block  # noqa: E402

CACHE = REPO / "build" / "bench" / "sparse_mvau.json"
KEYS = ("LUT", "FF", "CARRY4", "DSP48E1", "BRAM18_equivalent", "LUTRAM")

#: name -> (MW, MH, PE, SIMD, input bits, weight bits, accumulator bits)
SHAPES = {
    "conv2": (150, 16, 2, 6, 4, 4, 13),
    "fc3": (84, 10, 1, 1, 4, 4, 12),
    "parallel": (32, 8, 8, 32, 4, 4, 12),
}
#: (shape, pattern, zero fraction)
POINTS = [
    ("conv2", "dense", 0.0), ("conv2", "unstructured", 0.5), ("conv2", "unstructured", 0.75),
    ("conv2", "unstructured", 0.9), ("conv2", "simd-groups", 0.75),
    ("fc3", "dense", 0.0), ("fc3", "unstructured", 0.75),
    ("parallel", "dense", 0.0), ("parallel", "unstructured", 0.75),
]


def weights(shape: str, pattern: str, zeros: float, seed: int = 0) -> np.ndarray:
    mw, mh, _, simd, _, w_bits, _ = SHAPES[shape]
    rng = np.random.default_rng(seed)
    top = 2 ** (w_bits - 1) - 1
    W = rng.integers(-top, top + 1, size=(mh, mw))
    mask_rng = np.random.default_rng(seed + 1)
    if pattern == "unstructured":
        W = W * (mask_rng.random((mh, mw)) >= zeros)
    elif pattern == "simd-groups":  # whole SIMD groups of a row (one ROM word's slice of a PE) are zero
        groups = mask_rng.random((mh, mw // simd)) >= zeros
        W = W * np.repeat(groups, simd, axis=1)
    return W.astype(np.int64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="only the points whose shape name starts with this")
    ap.add_argument("--no-cache", action="store_true")
    args = ap.parse_args()
    cache = json.loads(CACHE.read_text()) if CACHE.is_file() and not args.no_cache else {}
    print("| shape | MH x MW, PE x SIMD | weights | zeros (measured) | LUT | FF | CARRY4 | BRAM18 | LUTRAM | Yosys s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for shape, pattern, zeros in POINTS:
        if not shape.startswith(args.only):
            continue
        mw, mh, pe, simd, in_bits, w_bits, acc = SHAPES[shape]
        key = f"{shape}/{pattern}/{zeros}"
        W = weights(shape, pattern, zeros)
        if key not in cache:
            params = MvauParams(mw, mh, pe, simd, MvauMode.MAC, in_bits, False, w_bits, acc)
            cache[key] = synth_block(params, W)
            CACHE.parent.mkdir(parents=True, exist_ok=True)
            CACHE.write_text(json.dumps(cache, indent=1))
        r = cache[key]
        print(f"| {shape} | {mh}x{mw}, {pe}x{simd} | {pattern} | {100 * float((W == 0).mean()):.0f} % | "
              + " | ".join(str(r.get(k, "-")) for k in ("LUT", "FF", "CARRY4", "BRAM18_equivalent", "LUTRAM"))
              + f" | {r.get('seconds', 0):.0f} |", flush=True)


if __name__ == "__main__":
    main()
