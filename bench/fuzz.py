"""Fuzz the flow with seeded random quantized networks (``flow.fuzz``): ``make fuzz N=200``.

Each network (MLPs for even seeds, CNNs for odd ones; random widths, 1-8 bit weights and activations, random
convolution shapes, pooling and folding) is exported, compiled through the front end like a user's file, and
simulated on 1000 inputs with 40 % random stalls on both sides, every output compared with ``==``. Prints
one line per network and a table: networks tried, built, refused (by reason), vectors, mismatches (must be
0). Any mismatch or crash stops the run with the seed that caused it.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from flow.fuzz import fuzz_one, random_network


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="networks (seeds start..start+n-1)")
    parser.add_argument("--start", type=int, default=0, help="first seed")
    args = parser.parse_args()
    built, refused, start = 0, collections.Counter(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="qflow-fuzz-") as tmp:
        for seed in range(args.start, args.start + args.n):
            work = Path(tmp) / str(seed)
            work.mkdir()
            os.environ["QFLOW_BUILD"] = str(work / "build")
            case = random_network(seed)
            t0 = time.perf_counter()
            result = fuzz_one(seed, work)  # raises on a mismatch: the seed is in the message
            kind = f"{case.kind} {case.input_shape} folding {case.folding}"
            print(f"seed {seed:4d}  {kind:40s} {time.perf_counter() - t0:5.1f} s  {result[:100]}", flush=True)
            if result == "built":
                built += 1
            else:
                refused[re.sub(r"'[^']*'|\d+", "_", result.removeprefix("refused: "))[:90]] += 1
    print()
    print("| networks | built | refused | vectors simulated | mismatches | seconds |")
    print("|---|---|---|---|---|---|")
    print(f"| {args.n} | {built} | {sum(refused.values())} | {built * 1000} x 2 runs | 0 | "
          f"{time.perf_counter() - start:.0f} |")
    for reason, count in refused.most_common():
        print(f"refused {count}x: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
