"""Benchmark: inferences/s of the RTL simulation vs the Python executors and hls4ml's C-simulation.

All in one process on the same trained recipe (default ``tfc_w1a1``) and the same inputs:

* qflow-rtl Verilator batch harness, fully parallel and one folded configuration, each with the default
  ("fast-build") and the "fast-sim" C++ build: ``predict_int`` over N inferences (packing, binary stimulus
  file, simulation, reading back; checked == golden), and the simulation binary alone on the same stimulus;
  build time reported separately;
* the qflow reference executor (batched qonnx);
* qonnx ``execute_onnx`` per sample (the baseline of the ratio column);
* hls4ml's Vitis backend: ``compile()`` (g++ C-simulation) and ``predict()``; its outputs are also
  compared with the reference and the differing count printed.

    python bench/rtl_throughput.py [recipe] [--n 100000] [--no-hls]
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from flow.frontend.graph import load_qonnx
from flow.io import quiet_stdout
from flow.recipe import load_recipe
from flow.reference import Reference
from flow.stages.compile import convert
from flow.stages.train import ensure_exported, recipe_dataset

PER_SAMPLE = 100


def rtl_rate(qonnx_model, x: np.ndarray, folding, workdir: Path, sim_build: str) -> tuple[float, float, dict]:
    hls_model = convert(qonnx_model, workdir / f"rtl_{folding}_{sim_build}", folding=folding, sim_build=sim_build)
    backend = hls_model.config.backend
    t0 = time.perf_counter()
    hls_model.compile()
    build_s = time.perf_counter() - t0
    net = backend.network(hls_model)
    x_int = net.quantize_input(x)
    golden = net.run(x_int)
    t0 = time.perf_counter()
    y, run = backend.predict_int(hls_model, x_int, tag="bench")
    seconds = time.perf_counter() - t0
    assert np.array_equal(y, golden), "RTL differs from the golden model"
    # the simulation binary alone (no Python packing/unpacking): the same stimulus file, run again
    design = backend.design(hls_model)
    t0 = time.perf_counter()
    result = subprocess.run([str((design.directory / "obj" / "Vqflow_harness").resolve()),
                             "+in=bench_stimulus.bin", "+out=bench_again.bin", f"+n={len(x_int)}"],
                            cwd=design.directory, capture_output=True, text=True)
    sim_only = time.perf_counter() - t0
    assert result.returncode == 0 and "QFLOW_RESULT" in result.stdout, result.stdout + result.stderr
    info = {"cycles/inference": run.steady_cycles_per_inference, "sim_only": len(x_int) / sim_only,
            "blocks": len(design.blocks)}
    return len(x) / seconds, build_s, info


def hls_rate(qonnx_model, x: np.ndarray, reference: np.ndarray, workdir: Path) -> tuple[float, float, int]:
    import hls4ml

    with quiet_stdout():
        config = hls4ml.utils.config_from_onnx_model(qonnx_model, granularity="name", backend="Vitis")
        hls_model = hls4ml.converters.convert_from_onnx_model(
            qonnx_model, hls_config=config, backend="Vitis", output_dir=str(workdir / "hls"),
            io_type="io_parallel")
        t0 = time.perf_counter()
        hls_model.compile()
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        y = hls_model.predict(np.ascontiguousarray(x))
        seconds = time.perf_counter() - t0
    differing = int((np.asarray(y).reshape(reference.shape) != reference).any(axis=1).sum())
    return len(x) / seconds, build_s, differing


def exact_hls_rate(qonnx_model, x: np.ndarray, reference: np.ndarray, workdir: Path, io_type: str):
    """qflow's exact hls4ml Vitis project (flow.hls): compile seconds, C-sim inferences/s, differing samples."""
    from flow.hls.project import convert_exact
    from flow.stages.hls import outputs_as_codes

    project = convert_exact(qonnx_model, workdir / f"hls_exact_{io_type}", io_type=io_type)
    build_s = project.compile()
    x_int = project.network.quantize_input(x)
    t0 = time.perf_counter()
    y = project.predict_int(x_int)
    seconds = time.perf_counter() - t0
    codes = outputs_as_codes(reference, project.network.output_type.scale)
    return len(x) / seconds, build_s, int((y != codes).any(axis=1).sum())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("recipe", nargs="?", default="tfc_w1a1")
    parser.add_argument("--n", type=int, default=100_000, help="inferences for the RTL simulations")
    parser.add_argument("--no-hls", action="store_true", help="skip hls4ml's Vitis C-simulation")
    parser.add_argument("--foldings", default="parallel,folded",
                        help="comma-separated qflow-rtl foldings: parallel, folded or a cycle target")
    parser.add_argument("--sim-builds", default="fast-build,fast-sim",
                        help="comma-separated Verilator C++ builds (see flow.stages.compile.convert)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    recipe = load_recipe(args.recipe)
    paths = ensure_exported(recipe)
    qonnx_model = load_qonnx(paths.qonnx)
    test_x = recipe_dataset(recipe).test.x
    reps = -(-args.n // len(test_x))
    x = np.concatenate([test_x] * reps)[: args.n]
    rows: list[tuple[str, int, float, str]] = []

    in_name, _out_name = qonnx_model.graph.input[0].name, qonnx_model.graph.output[0].name
    from qonnx.core.onnx_exec import execute_onnx

    t0 = time.perf_counter()
    for i in range(PER_SAMPLE):
        execute_onnx(qonnx_model, {in_name: test_x[i : i + 1]})
    rows.append(("qonnx execute_onnx, per sample (baseline)", PER_SAMPLE, PER_SAMPLE / (time.perf_counter() - t0), ""))
    ref = Reference(qonnx_model)
    ref.run(test_x[:8])
    t0 = time.perf_counter()
    reference = ref.run(test_x)
    rows.append(("qflow Reference (batched qonnx)", len(test_x), len(test_x) / (time.perf_counter() - t0), ""))

    with tempfile.TemporaryDirectory(prefix="qflow-bench-", dir=paths.root) as tmp:
        work = Path(tmp)
        for folding in [int(f) if f.isdigit() else f for f in args.foldings.split(",")]:
            for sim_build in args.sim_builds.split(","):
                rate, build_s, info = rtl_rate(qonnx_model, x, folding, work, sim_build)
                rows.append((f"qflow-rtl Verilator batch, {folding}, {sim_build}", len(x), rate,
                             f"build {build_s:.0f} s, {info['cycles/inference']:.0f} cycles/inference"))
                rows.append(("  the same, simulation binary only", len(x), info["sim_only"],
                             "no Python packing, file writing or checking"))
        if not args.no_hls:
            for io_type in ("io_parallel", "io_stream"):
                rate, build_s, differing = exact_hls_rate(qonnx_model, test_x, reference, work, io_type)
                rows.append((f"qflow hls: exact hls4ml Vitis C-sim ({io_type})", len(test_x), rate,
                             f"compile {build_s:.0f} s, {differing} samples differ from the reference"))
            rate, build_s, differing = hls_rate(qonnx_model, test_x, reference, work)
            rows.append(("hls4ml Vitis C-sim, hls4ml's default config", len(test_x), rate,
                         f"compile {build_s:.0f} s, {differing} samples differ from the reference"))

    base = rows[0][2]
    print(f"recipe {recipe.name}")
    print(f"{'executor':52s} {'inferences':>10s} {'inf/s':>12s} {'ratio':>9s}  notes")
    for name, n, rate, notes in rows:
        print(f"{name:52s} {n:10d} {rate:12,.0f} {rate / base:8.0f}x  {notes}")


if __name__ == "__main__":
    main()
