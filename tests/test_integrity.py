"""Build integrity: no child process outlives qflow, one run per build directory, every failure one
``qflow: error:`` line, artefacts readable by others, and a failed rerun never leaves an older result that
looks current."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from torch import nn

from flow import proc
from flow.compile.folding import Folding
from flow.export import export_qonnx
from flow.io import write_text
from flow.qat import QAct, QLinear, seed_everything
from flow.stages.artefacts import BuildLockedError, build_lock
from flow.stages.compile import compile_target
from flow.stages.estimate import estimate_target
from flow.stages.report import report_build
from flow.stages.simulate import simulate_target
from flow.stages.target import resolve


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux") or proc.SETPRIV is None,
                    reason="the parent-death signal is Linux's, set by util-linux's setpriv")
def test_a_sigkill_of_qflow_leaves_no_child_running(tmp_path):
    """A process that runs a tool through flow.proc is SIGKILLed; its child is gone 2 s later."""
    pid_file = tmp_path / "child.pid"
    script = ("import sys; from flow import proc; "
              f"proc.run(['sh', '-c', 'echo $$ > {pid_file}; exec sleep 60'])")
    parent = subprocess.Popen([sys.executable, "-c", script])
    for _ in range(100):
        if pid_file.is_file() and pid_file.read_text().strip():
            break
        time.sleep(0.05)
    child = int(pid_file.read_text())
    assert _alive(child)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    time.sleep(2)
    assert not _alive(child)


def test_one_run_per_build_directory(tmp_path):
    with build_lock(tmp_path), build_lock(tmp_path):  # re-entrant in one process
        other = subprocess.run([sys.executable, "-c", "from flow.stages.artefacts import build_lock\n"
                                f"with build_lock({str(tmp_path)!r}): pass"], capture_output=True, text=True)
        assert other.returncode != 0 and "another qflow run (pid" in other.stderr
    with build_lock(tmp_path):  # released
        pass
    assert issubclass(BuildLockedError, Exception)


def test_artefacts_are_readable_by_others(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_text(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600


def test_a_build_directory_that_cannot_be_written_is_one_error_line(tmp_path, monkeypatch, capsys):
    """``/sys`` refuses new directories to every user, root included (a chmod 555 directory would not stop
    root, who runs CI here)."""
    from flow.cli import main

    seed_everything(0)
    export_qonnx(nn.Sequential(QAct("uint4"), QLinear(16, 4, "int4")).eval(), (16,), tmp_path / "m.onnx")
    monkeypatch.setenv("QFLOW_BUILD", "/sys/qflow-build")
    assert main(["compile", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qflow: error: /sys/qflow-build") and err.count("\n") == 1, err
    assert "Operation not permitted" in err or "Permission denied" in err


def test_an_os_error_becomes_one_error_line(monkeypatch, capsys):
    """Whatever the stage, an OSError (read-only or full disk, a missing tool) is one line, exit 2."""
    import flow.cli as cli

    def full_disk(args):
        raise OSError(28, "No space left on device", "/build/x/report.json")

    monkeypatch.setattr(cli, "_cmd_recipes", full_disk)
    assert cli.main(["recipes"]) == 2
    err = capsys.readouterr().err
    assert err == "qflow: error: /build/x/report.json: No space left on device (errno 28)\n"


@pytest.mark.sim
def test_a_failed_rerun_leaves_no_report_that_disagrees(tmp_path, build_root, monkeypatch):
    """Build, report; recompile at another folding, simulate, then Yosys dies: no report.json or synth.json of
    the old build is left next to the new sim.json, and the report refuses to be made from a partial build."""
    seed_everything(0)
    model = nn.Sequential(QAct("uint4"), QLinear(16, 8, "int4"), nn.BatchNorm1d(8), QAct("uint4"),
                          QLinear(8, 4, "int4")).eval()
    path = tmp_path / "m.onnx"
    export_qonnx(model, (16,), path)
    target = resolve(path)
    root = target.paths.root
    compile_target(target, Folding.parse("parallel"))
    simulate_target(target)
    estimate_target(target, yosys=False)
    report_build(root)
    assert (root / "report.json").is_file()

    compile_target(target, Folding.parse(16))
    assert not (root / "report.json").exists() and not (root / "sim.json").exists()
    simulate_target(target)

    import flow.stages.estimate as estimate

    def yosys_killed(*args, **kwargs):
        raise KeyboardInterrupt  # as a Ctrl-C or a killed Yosys would end the stage

    monkeypatch.setattr(estimate, "synthesize", yosys_killed)
    with pytest.raises(KeyboardInterrupt):
        estimate_target(target, yosys=True)
    assert not any((root / name).exists() for name in ("synth.json", "energy.json", "report.json", "report.md"))
    report = report_build(root)  # made from what exists: the new network and simulation, nothing older
    assert report["folding"] == "16" and "resources" not in report


def test_an_edited_recipe_is_trained_again(tmp_path, build_root):
    """metrics.json records the recipe file's sha256; an edit makes the checkpoint stale (synth retrains it
    unless --reuse-checkpoint), and a different architecture never meets an old checkpoint unannounced."""
    from flow.recipe import load_recipe
    from flow.stages.train import checkpoint_is_current, train_recipe

    source = tmp_path / "tiny_edit.py"
    text = ("from flow.qat.models import mlp\nfrom flow.qat.train import TrainConfig\nfrom flow.recipe import Recipe\n"
            "RECIPE = Recipe(name='tiny_edit', dataset='digits', build=lambda: mlp([64, 16, 10], 'binary', "
            "'binary', 'binary'), train=TrainConfig(epochs=1, lr=1e-2, seed=0))\n")
    source.write_text(text)
    recipe = load_recipe(source)
    assert not checkpoint_is_current(recipe)
    train_recipe(recipe, progress=False)
    assert checkpoint_is_current(recipe)
    source.write_text(text.replace("epochs=1", "epochs=2"))
    assert not checkpoint_is_current(load_recipe(source))
