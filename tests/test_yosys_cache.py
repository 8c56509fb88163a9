"""Per-block Yosys synthesis with its cache (``flow.rtl.yosys_blocks``), the concurrent jobs behind it
(``flow.proc.run_parallel``), and the ``--hls`` option of ``qflow synth``.

Most tests replace Yosys with fakes that read the batch top the module writes (which instances, which memory
files) and answer from the memory contents, so cache hits, misses and keys are checked without a Yosys run;
one test runs the real Yosys on two small blocks (per block, then from the cache, then whole-design)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

import flow.rtl.yosys_blocks as yb
from flow import proc
from flow.blocks.axis_fifo import AxisFifoParams
from flow.blocks.registry import BLOCKS
from flow.compile.network import IntType, Thresholds
from flow.rtl.plan import Block
from flow.rtl.yosys import SynthesisError

# ------------------------------------------------------------------------------------------ a small design


def _threshold_layer(seed: int = 0) -> Thresholds:
    t = np.sort(np.random.default_rng(seed).integers(-20, 20, size=(4, 3)), axis=1)
    return Thresholds("t", t, np.zeros(4, dtype=bool), in_bits=6, out_type=IntType(2, False), pe=2)


def _design(rtl: Path, fifo_depths=(4, 4), seed: int = 0) -> list[Block]:
    """Two FIFOs (identical when ``fifo_depths`` are equal) and a thresholding block with a memory file, their
    sources copied to ``rtl/hw`` as ``qflow compile`` does."""
    (rtl / "hw").mkdir(parents=True, exist_ok=True)
    th = _threshold_layer(seed)
    spec = BLOCKS[th.block]
    (rtl / "t.mem").write_text("\n".join(spec.memory_lines(th.params, th.data)) + "\n")
    fifo = BLOCKS["axis_fifo"]
    for src in (*spec.sources, *fifo.sources):
        shutil.copy2(src, rtl / "hw" / src.name)
    blocks = [Block(spec, th.params, th.data, "thresholding_0", "s0", "s1", "", "t", 1, memory_file="t.mem")]
    for i, depth in enumerate(fifo_depths):
        blocks.append(Block(fifo, AxisFifoParams(width=4, depth=depth), None, f"fifo_{i}", f"s{i + 1}", f"s{i + 2}",
                            "", "t", 1))
    return blocks


class FakeYosys:
    """Stands in for ``synth_xilinx``/``synth_asic``: per instance of the batch top, figures derived from its
    parameters and memory file (so different contents give different figures); counts its calls."""

    def __init__(self, fail: str | None = None) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.fail = fail
        self.lock = threading.Lock()

    def _instances(self, rtl_dir: Path, top: str) -> dict[str, int]:
        if not (rtl_dir / "top.v").is_file():
            return {}
        text = (rtl_dir / "top.v").read_text()
        found = {}
        for params, inst in re.findall(r"#\(\n(.*?)\n    \) (\w+) \(", text, re.S):
            mem = re.search(r'"(\w+\.mem)"', params)
            extra = len((rtl_dir / mem.group(1)).read_bytes()) if mem else 0
            found[inst] = sum(int(v) for v in re.findall(r"\((\d+)\)", params)) + extra
        return found

    def xilinx(self, rtl_dir, sources, top, timeout=3600, cancel=None):
        with self.lock:
            self.calls.append(("xilinx", sorted(self._instances(rtl_dir, top))))
        if self.fail == "xilinx":
            raise SynthesisError(f"{rtl_dir}: Yosys synth_xilinx failed (see synth.log):\nERROR: fake")
        blocks = {inst: {"LUT": n, "FF": 2 * n, "CARRY4": 0, "DSP48E1": 0, "BRAM18_equivalent": 0, "LUTRAM": 1,
                         "LUT_by_size": {"LUT4": n}, "cells": {"LUT4": n, "FDRE": 2 * n}}
                  for inst, n in self._instances(rtl_dir, top).items()}
        return {"tool": "fake", "command": "fake", "dsp_mapping": "on", "seconds": 0.1, "blocks": blocks,
                "LUT": sum(b["LUT"] for b in blocks.values()), "FF": sum(b["FF"] for b in blocks.values())}

    def asic(self, rtl_dir, sources, top, timeout=3600, cancel=None, keep_blocks=False):
        with self.lock:
            self.calls.append(("asic", sorted(self._instances(rtl_dir, top))))
        if self.fail == "asic":
            raise SynthesisError(f"{rtl_dir}: Yosys generic synthesis failed (see asic.log):\nERROR: fake")
        blocks = {inst: {"cells": {"$_NAND_": n}, "transistors": 4 * n, "nand2_equivalents": float(n),
                         "logic_depth": {"gates": n, "from": "\\a", "to": "\\b", "tool": "fake"}}
                  for inst, n in self._instances(rtl_dir, top).items()}
        return {"tool": "fake", "command": "fake", "seconds": 0.1, "blocks": blocks,
                "transistors": sum(b["transistors"] for b in blocks.values())}


@pytest.fixture()
def fake(monkeypatch) -> FakeYosys:
    yosys = FakeYosys()
    monkeypatch.setattr(yb, "synth_xilinx", yosys.xilinx)
    monkeypatch.setattr(yb, "synth_asic", yosys.asic)
    monkeypatch.setattr(yb, "yosys_version", lambda: "fake-yosys: 1.0")
    return yosys


def _synth(rtl: Path, blocks: list[Block], cache: Path, **kw):
    return yb.synthesize(rtl, blocks, [], "top", cache=yb.SynthCache(cache), **kw)


# ------------------------------------------------------------------------------------------ hits and misses
def test_identical_blocks_once_then_every_block_from_the_cache(tmp_path, fake):
    rtl, cache = tmp_path / "rtl", tmp_path / "cache"
    blocks = _design(rtl)
    xilinx, asic = _synth(rtl, blocks, cache)
    # one Yosys run per flavour; the two identical FIFOs are one job
    assert sorted(kind for kind, _ in fake.calls) == ["asic", "xilinx"]
    assert all(len(instances) == 2 for _, instances in fake.calls)
    assert xilinx["cache"] | {"directory": None} == {"directory": None, "instances": 3, "unique": 4, "hits": 0,
                                                     "misses": 4}
    assert xilinx["blocks"]["fifo_0"]["key"] == xilinx["blocks"]["fifo_1"]["key"]
    assert xilinx["LUT"] == sum(b["LUT"] for b in xilinx["blocks"].values())  # the total is the sum of instances
    assert xilinx["cells"]["FDRE"] == xilinx["FF"]
    assert asic["transistors"] == sum(b["transistors"] for b in asic["blocks"].values())
    assert asic["logic_depth"]["block"] == max(asic["blocks"], key=lambda i: asic["blocks"][i]["logic_depth_gates"])
    assert len(list(cache.glob("*.json"))) == 4
    assert not (rtl / "yosys_blocks").exists()  # work directories removed after success

    fake.calls.clear()
    again, asic_again = _synth(rtl, blocks, cache)
    assert fake.calls == []
    assert again["cache"]["hits"] == 4 and again["cache"]["misses"] == 0
    assert all(b["cached"] for b in again["blocks"].values())
    strip = ("seconds", "yosys_seconds", "cache", "blocks")
    assert {k: v for k, v in again.items() if k not in strip} == {k: v for k, v in xilinx.items() if k not in strip}
    assert asic_again["nand2_equivalents"] == asic["nand2_equivalents"]


def test_no_asic_runs_xilinx_alone(tmp_path, fake):
    rtl = tmp_path / "rtl"
    xilinx, asic = _synth(rtl, _design(rtl), tmp_path / "cache", asic=False)
    assert asic is None and [kind for kind, _ in fake.calls] == ["xilinx"] and xilinx["LUT"] > 0


def _keys(tmp_path: Path, name: str, **design) -> dict[str, str]:
    rtl = tmp_path / name
    return {b.instance: yb.BlockJob.of(b, rtl).key("xilinx", "fake-yosys: 1.0") for b in _design(rtl, **design)}


def test_the_key_follows_parameters_memory_sources_and_yosys(tmp_path):
    base = _keys(tmp_path, "a")
    assert _keys(tmp_path, "b") == base  # same inputs, same keys, wherever the design lives
    deeper = _keys(tmp_path, "c", fifo_depths=(4, 8))
    assert deeper["fifo_0"] == base["fifo_0"] and deeper["fifo_1"] != base["fifo_1"]  # a parameter
    other = _keys(tmp_path, "d", seed=1)
    assert other["thresholding_0"] != base["thresholding_0"] and other["fifo_0"] == base["fifo_0"]  # memory
    rtl = tmp_path / "e"
    blocks = _design(rtl)
    src = rtl / "hw" / "axis_fifo.v"
    src.write_text(src.read_text() + "\n// edited\n")
    job = yb.BlockJob.of(blocks[1], rtl)
    assert job.key("xilinx", "fake-yosys: 1.0") != base["fifo_0"]  # a source's text
    assert job.key("xilinx", "fake-yosys: 2.0") != job.key("xilinx", "fake-yosys: 1.0")  # the Yosys version
    assert job.key("asic", "fake-yosys: 1.0") != job.key("xilinx", "fake-yosys: 1.0")  # the flavour


def test_a_changed_memory_synthesizes_that_block_alone(tmp_path, fake):
    rtl, cache = tmp_path / "rtl", tmp_path / "cache"
    blocks = _design(rtl)
    _synth(rtl, blocks, cache)
    lines = (rtl / "t.mem").read_text().splitlines()
    lines[0] = format(int(lines[0], 16) ^ 1, f"0{len(lines[0])}x")
    (rtl / "t.mem").write_text("\n".join(lines) + "\n")
    fake.calls.clear()
    xilinx, _ = _synth(rtl, blocks, cache)
    assert all(instances == [f"b_{xilinx['blocks']['thresholding_0']['key'][:24]}"] for kind, instances in fake.calls
               if kind == "xilinx")
    assert xilinx["cache"]["hits"] == 2 and xilinx["cache"]["misses"] == 2  # the FIFO of each flavour was cached


def test_a_missing_memory_file_is_named(tmp_path, fake):
    rtl = tmp_path / "rtl"
    blocks = _design(rtl)
    (rtl / "t.mem").unlink()
    with pytest.raises(SynthesisError, match=r"t\.mem: missing \(block thresholding_0"):
        _synth(rtl, blocks, tmp_path / "cache")


# ------------------------------------------------------------------------------------------ the cache files
@pytest.mark.parametrize("content", ["{not json", "", '{"format": 1, "key": "other", "result": {}}',
                                     '{"format": 999, "key": "KEY", "result": {}}', '["a list"]'])
def test_a_corrupt_or_foreign_entry_is_ignored_and_made_again(tmp_path, fake, content, caplog):
    rtl, cache = tmp_path / "rtl", tmp_path / "cache"
    blocks = _design(rtl)
    first, _ = _synth(rtl, blocks, cache)
    key = first["blocks"]["thresholding_0"]["key"]
    (cache / f"{key}.json").write_text(content.replace("KEY", key))
    fake.calls.clear()
    again, _ = _synth(rtl, blocks, cache)
    assert again["cache"]["misses"] == 1 and again["blocks"]["thresholding_0"]["LUT"] == \
        first["blocks"]["thresholding_0"]["LUT"]
    assert "unreadable or foreign Yosys cache entry" in caplog.text
    assert json.loads((cache / f"{key}.json").read_text())["key"] == key  # written again, whole


def test_a_cache_write_is_atomic(tmp_path, monkeypatch):
    cache = yb.SynthCache(tmp_path)
    cache.store("k", {"LUT": 1}, {"flavour": "xilinx"})
    assert cache.load("k") == {"LUT": 1}

    def crash(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("flow.io.os.replace", crash)
    with pytest.raises(OSError):
        cache.store("k", {"LUT": 2}, {"flavour": "xilinx"})
    assert cache.load("k") == {"LUT": 1}  # the old entry, whole
    assert [p.name for p in tmp_path.iterdir()] == ["k.json"]  # no temporary file left


def test_cache_directory_and_jobs_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("QFLOW_BUILD", str(tmp_path / "b"))
    monkeypatch.delenv(yb.CACHE_ENV, raising=False)
    assert yb.cache_dir() == tmp_path / "b" / ".cache" / "yosys"
    monkeypatch.setenv(yb.CACHE_ENV, str(tmp_path / "shared"))
    assert yb.cache_dir() == tmp_path / "shared"
    monkeypatch.delenv(yb.JOBS_ENV, raising=False)
    assert yb.yosys_jobs() == 2
    monkeypatch.setenv(yb.JOBS_ENV, "1")
    assert yb.yosys_jobs() == 1
    monkeypatch.setenv(yb.JOBS_ENV, "zero")
    with pytest.raises(yb.QflowError, match=r"QFLOW_YOSYS_JOBS: expected an integer >= 1.*'zero'"):
        yb.yosys_jobs()


# ------------------------------------------------------------------------------------------ concurrency
def test_run_parallel_runs_the_jobs_side_by_side_and_keeps_their_order():
    barrier = threading.Barrier(2, timeout=60)  # breaks (and the test fails) unless both run at once

    def job(value):
        def run(cancel):
            barrier.wait()
            return value
        return run

    assert proc.run_parallel([job("xilinx"), job("asic")], jobs=2) == ["xilinx", "asic"]
    assert proc.run_parallel([], jobs=2) == []


def test_the_first_failure_stops_the_other_job_and_is_raised():
    stopped = []

    def failing(cancel):
        raise SynthesisError("asic failed")

    def long_running(cancel):
        try:
            return proc.run(["sleep", "60"], cancel=cancel)
        except proc.CancelledError:
            stopped.append(True)
            raise

    with pytest.raises(SynthesisError, match="asic failed"):
        proc.run_parallel([long_running, failing], jobs=2)
    assert stopped == [True]  # its child was killed, not waited for


@pytest.mark.parametrize("which", ["xilinx", "asic"])
def test_either_flavour_failing_is_the_error_raised(tmp_path, monkeypatch, which):
    yosys = FakeYosys(fail=which)
    monkeypatch.setattr(yb, "synth_xilinx", yosys.xilinx)
    monkeypatch.setattr(yb, "synth_asic", yosys.asic)
    monkeypatch.setattr(yb, "yosys_version", lambda: "fake-yosys: 1.0")
    rtl = tmp_path / "rtl"
    blocks = _design(rtl)
    with pytest.raises(SynthesisError, match="fake") as info:
        _synth(rtl, blocks, tmp_path / "cache")
    assert ("synth_xilinx" if which == "xilinx" else "generic synthesis") in str(info.value)
    with pytest.raises(SynthesisError, match="fake"):
        _synth(rtl, blocks, tmp_path / "cache", whole_design=True)


def test_whole_design_mode_runs_both_flavours_on_the_design(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(yb, "synth_xilinx", lambda d, s, t, timeout, c: calls.append(("xilinx", t)) or {"LUT": 1})
    monkeypatch.setattr(yb, "synth_asic", lambda d, s, t, timeout, c: calls.append(("asic", t)) or {"transistors": 4})
    xilinx, asic = yb.synthesize(tmp_path, [], ["top.v"], "qflow_accel", whole_design=True, jobs=2)
    assert sorted(calls) == [("asic", "qflow_accel"), ("xilinx", "qflow_accel")]
    assert xilinx["mode"] == asic["mode"] == "whole design" and xilinx["LUT"] == 1 and asic["transistors"] == 4


# ------------------------------------------------------------------------------------------ real Yosys
@pytest.mark.slow
def test_real_yosys_per_block_equals_the_sum_and_is_cached(tmp_path):
    """Real Yosys (two runs side by side, then none): the FIFOs and the thresholding block per block; the
    whole-design figures of the same blocks agree on flip-flops (LUTs may differ by Yosys' name-dependent
    heuristics: a few percent, see BENCHMARKS.md)."""
    rtl, cache = tmp_path / "rtl", tmp_path / "cache"
    blocks = _design(rtl, fifo_depths=(4, 8))
    xilinx, asic = _synth(rtl, blocks, cache)
    assert xilinx["cache"]["misses"] == 6 and xilinx["FF"] > 0 and asic["transistors"] > 0
    assert xilinx["FF"] == sum(b["FF"] for b in xilinx["blocks"].values())
    again, _ = _synth(rtl, blocks, cache)
    assert again["cache"]["hits"] == 6 and again["LUT"] == xilinx["LUT"]
    # The same blocks as one hand-written top, synthesized whole (what the whole-design mode does to top.v).
    jobs = {b.instance: yb.BlockJob.of(b, rtl) for b in blocks}
    (rtl / "top.v").write_text(yb._top_verilog("top", [job.instance(inst, "t.mem" if job.memory else None)
                                                       for inst, job in jobs.items()]))
    sources = [*sorted(f"hw/{p.name}" for p in (rtl / "hw").glob("*.v")), "top.v"]
    whole, whole_asic = yb.synthesize(rtl, blocks, sources, "top", whole_design=True)
    assert whole["FF"] == xilinx["FF"]
    assert {inst: b["FF"] for inst, b in whole["blocks"].items()} == {i: b["FF"] for i, b in xilinx["blocks"].items()}
    assert abs(whole["LUT"] - xilinx["LUT"]) <= max(3, 0.1 * whole["LUT"])
    assert abs(whole_asic["transistors"] - asic["transistors"]) <= 0.1 * whole_asic["transistors"]


@pytest.mark.sim
def test_qflow_estimate_per_block_then_cached_and_a_yosys_failure_is_one_error_line(tmp_path, build_root, capsys):
    """``qflow estimate`` on a tiny compiled MLP: synth.json per block with the cache counts, a second run all
    from the cache (same figures), and a broken ``hw/`` copy: both Yosys runs fail, one ``qflow: error:`` line,
    exit 2, no synth.json left."""
    from flow.cli import main
    from tests.conftest import compile_tiny_mlp

    path = tmp_path / "tiny_est.onnx"
    root = compile_tiny_mlp(path, "folded").paths.root
    assert main(["-q", "estimate", str(path)]) == 0
    first = json.loads((root / "synth.json").read_text())
    assert first["mode"] == "per block" and first["cache"]["misses"] == first["cache"]["unique"] > 0
    assert first["cache"]["directory"] == str(build_root / ".cache" / "yosys")
    assert first["LUT"] == sum(b["LUT"] for b in first["blocks"].values()) > 0
    assert first["asic"]["transistors"] == sum(b["transistors"] for b in first["asic"]["blocks"].values())
    assert set(first["estimate"]["blocks"]) == set(first["blocks"])
    assert main(["-q", "estimate", str(path)]) == 0
    second = json.loads((root / "synth.json").read_text())
    assert second["cache"]["hits"] == first["cache"]["unique"] and second["cache"]["misses"] == 0
    assert (second["LUT"], second["FF"], second["asic"]["nand2_equivalents"]) == \
        (first["LUT"], first["FF"], first["asic"]["nand2_equivalents"])
    capsys.readouterr()
    broken = root / "rtl" / "hw" / "mvau.v"
    broken.write_text(broken.read_text() + "\nmodule broken(;\n")
    assert main(["-q", "estimate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("qflow: error: ") and "Yosys" in err[0]
    assert sum(line.startswith("qflow:") for line in err) == 1
    assert not (root / "synth.json").exists()


def test_the_generated_top_has_no_logic_of_its_own():
    """The sums are the design's figures only because ``top.v`` is wiring: no always block, no operator in an
    assign (checked on the template every top is rendered from)."""
    template = (Path(yb.__file__).parent / "templates" / "top.v.j2").read_text()
    assert "always" not in template and "reg " not in template
    for line in template.splitlines():
        if line.strip().startswith("assign"):
            assert re.fullmatch(r"\s*assign [\w{}. \[\]-]+ = [\w{}. \[\]-]+;", line), line


# ------------------------------------------------------------------------------------------ --hls
def test_synth_runs_the_hls_csim_only_when_asked():
    import inspect

    from flow.cli import build_parser
    from flow.stages.synth import _steps, synth

    parse = build_parser().parse_args
    assert parse(["synth", "tfc_w1a1"]).hls is False
    assert parse(["synth", "tfc_w1a1", "--hls"]).hls is True
    assert parse(["synth", "tfc_w1a1", "--no-hls"]).hls is False  # the default's explicit form, still accepted
    assert parse(["synth", "tfc_w1a1", "--hls", "--no-hls"]).hls is False  # the last one wins
    assert inspect.signature(synth).parameters["skip_hls"].default is True

    class Onnx:
        recipe = None

    # compile, simulate, report + one Yosys line (Xilinx and NAND2 side by side) [+ the C-simulation]
    assert _steps(Onnx(), skip_yosys=False, skip_hls=True, skip_asic=False, activity=0) == 4
    assert _steps(Onnx(), skip_yosys=False, skip_hls=False, skip_asic=True, activity=0) == 5
    assert _steps(Onnx(), skip_yosys=True, skip_hls=True, skip_asic=False, activity=10) == 4


def test_a_subprocess_timeout_still_kills_with_a_cancel_event():
    with pytest.raises(subprocess.TimeoutExpired):
        proc.run(["sleep", "30"], timeout=0.5, cancel=threading.Event())


def test_a_blocks_counts_include_the_modules_kept_inside_it():
    """A block whose ROM Yosys kept as a module of its own (``qflow_rom``) is counted with the ROM's cells, as
    many times as it instantiates it; the design totals are Yosys' own."""
    from flow.rtl.yosys import _summaries

    rom = "$paramod$abc\\qflow_rom"
    stat = {
        "design": {"num_cells_by_type": {"LUT6": 14, "FDRE": 10, "MUXF7": 4}},
        "modules": {
            rom: {"num_cells_by_type": {"LUT6": 4, "MUXF7": 2, "FDRE": 2}},
            "$paramod$def\\mvau": {"num_cells_by_type": {"LUT6": 6, "FDRE": 6, rom: 2}},
            "\\qflow_blocks": {"num_cells_by_type": {"$paramod$def\\mvau": 1}},
        },
    }
    totals, modules = _summaries(stat)
    assert modules["$paramod$def\\mvau"]["LUT"] == 6 + 2 * 4 and modules["$paramod$def\\mvau"]["FF"] == 6 + 2 * 2
    assert modules["$paramod$def\\mvau"]["MUXF7"] == 4 and modules["\\qflow_blocks"]["LUT"] == 14
    assert totals["LUT"] == 14 and totals["FF"] == 10
