"""Benchmark: inferences/s of the batched reference vs qonnx's per-sample ``execute_onnx``.

Both run in this process on the same exported graph and inputs; the table shows the ratio against the
per-sample baseline. Needs trained + exported recipes (``qflow train R && qflow export R``); recipes that are
not built yet are trained and exported first.

    python bench/reference_throughput.py [recipe ...]
"""

from __future__ import annotations

import logging
import sys
import time

import numpy as np

from flow.frontend.graph import load_qonnx
from flow.recipe import load_recipe
from flow.reference import Reference
from flow.stages.train import ensure_exported, recipe_dataset

PER_SAMPLE_COUNT = 100  # per-sample qonnx is slow: time a subset and report the rate


def _ensure_built(name: str):
    recipe = load_recipe(name)
    return recipe, ensure_exported(recipe)


def bench(name: str) -> list[tuple[str, str, int, float]]:
    from qonnx.core.onnx_exec import execute_onnx

    recipe, paths = _ensure_built(name)
    x = recipe_dataset(recipe).test.x
    model = load_qonnx(paths.qonnx)
    ref = Reference(model)
    ref.run(x[:8])  # warm-up (graph copies for this batch size)
    t0 = time.perf_counter()
    batched = ref.run(x)
    t_batched = time.perf_counter() - t0
    in_name, out_name = model.graph.input[0].name, model.graph.output[0].name
    t0 = time.perf_counter()
    single = [execute_onnx(model, {in_name: x[i : i + 1]})[out_name] for i in range(PER_SAMPLE_COUNT)]
    t_single = time.perf_counter() - t0
    assert np.array_equal(np.concatenate(single), batched[:PER_SAMPLE_COUNT]), "reference != qonnx per-sample"
    return [
        (name, "qonnx execute_onnx, per sample (baseline)", PER_SAMPLE_COUNT, PER_SAMPLE_COUNT / t_single),
        (name, "qflow Reference (qonnx, batched)", len(x), len(x) / t_batched),
    ]


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.WARNING)
    names = argv or ["tfc_w1a1", "mlp_w4a4_digits", "mlp_w8a8_mnist"]
    rows = [row for name in names for row in bench(name)]
    print(f"{'recipe':18s} {'executor':44s} {'samples':>8s} {'inf/s':>10s} {'ratio':>7s}")
    baseline: dict[str, float] = {}
    for name, executor, n, rate in rows:
        baseline.setdefault(name, rate)
        print(f"{name:18s} {executor:44s} {n:8d} {rate:10.0f} {rate / baseline[name]:6.1f}x")


if __name__ == "__main__":
    main(sys.argv[1:])
