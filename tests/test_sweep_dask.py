"""``qflow sweep`` on Dask, cached, resumable, fault tolerant (issue 21).

The trained and exported ``mlp_w4a4_digits`` (about 40 s) is shared by the module. A 2-worker LocalCluster
gives the same rows as the serial run; a worker killed mid-point leaves every point exactly once; a rerun of a
finished sweep does no work; a failing point is a row and the sweep goes on; an interrupted sweep resumes; the
spec file and the CLI refuse bad input with one line.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

import flow.stages.sweep_exec as sweep_exec
import flow.stages.sweep_point as sweep_point
from flow.cli import main
from flow.recipe import load_recipe
from flow.stages.sweep import Execution, run_sweep, sweep_dir
from flow.stages.sweep_spec import SweepError, build_spec, load_spec, spec_from_options
from flow.stages.train import ensure_exported

RECIPE_NAME = "mlp_w4a4_digits"
FOLDINGS = ("parallel", "folded", 64, 256)
LABELS = ["parallel", "folded", "c64", "c256"]
SMALL_FOLDINGS = ("folded", 64, 256, 1024)  # small designs: quick Verilator builds
VOLATILE = {"rtl", "seconds", "point"}


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    """The path of a copy of the recipe trained for 1 epoch instead of 30 (the sweep needs its architecture, not
    its accuracy), trained and exported under ``$QFLOW_BUILD`` (set for the module)."""
    root = tmp_path_factory.mktemp("sweep_dask")
    source = (Path(__file__).resolve().parents[1] / "models" / f"{RECIPE_NAME}.py").read_text()
    assert source.count("epochs=30") == 1
    (root / f"{RECIPE_NAME}.py").write_text(source.replace("epochs=30", "epochs=1"))
    recipe = str(root / f"{RECIPE_NAME}.py")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QFLOW_BUILD", str(root / "build"))
        ensure_exported(load_recipe(recipe))
        yield recipe


def _spec(recipe: str, name: str, simulate: int = 0, foldings=FOLDINGS):
    return spec_from_options([recipe], name, foldings=foldings, yosys=False, simulate=simulate)


def _comparable(rows: list[dict]) -> list[dict]:
    """Rows without what differs between runs (where the RTL went, how long it took)."""
    out = []
    for row in rows:
        row = {k: v for k, v in row.items() if k not in VOLATILE}
        if row.get("simulation"):
            row["simulation"] = {k: v for k, v in row["simulation"].items() if k != "seconds"}
        out.append(row)
    return out


@pytest.fixture(scope="module")
def serial_and_dask(recipe):
    serial = run_sweep(_spec(recipe, "serial"), Execution(None, 0), progress=False)
    dask = run_sweep(_spec(recipe, "dask"), Execution(None, 2), progress=False)
    return serial, dask


def test_a_two_worker_local_cluster_gives_the_serial_rows(serial_and_dask, recipe):
    serial, dask = serial_and_dask
    assert dask["execution"] == "Dask LocalCluster, 2 workers" and serial["execution"] == "serial"
    assert [r["label"] for r in dask["rows"]] == LABELS and all(r["status"] == "ok" for r in dask["rows"])
    assert _comparable(dask["rows"]) == _comparable(serial["rows"])
    assert dask["pareto"] == serial["pareto"] and dask["counts"]["computed"] == 4
    out = sweep_dir("dask")
    assert len(list((out / "points").glob("*.json"))) == 4
    for name in ("index.html", "sweep.json", "sweep.md", "pareto.svg", "accuracy.svg"):
        assert (out / name).is_file(), name
    page = (out / "index.html").read_text()
    assert "4 of 4 points done" in page and page.count("<svg") == 2 and "c256" in page
    assert json.loads((out / "sweep.json").read_text())["rows"] == dask["rows"]


def test_a_rerun_of_a_finished_sweep_does_no_work(serial_and_dask, recipe, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("a finished sweep started work")

    monkeypatch.setattr(sweep_exec, "dask_client", no_work)
    monkeypatch.setattr(sweep_exec, "run_point", no_work)
    points = sorted((sweep_dir("dask") / "points").glob("*.json"))
    stamps = [p.stat().st_mtime_ns for p in points]
    again = run_sweep(_spec(recipe, "dask"), Execution(None, 2), progress=False)
    assert again["counts"] == {"points": 4, "done": 4, "failed": 0, "cached": 4, "computed": 0, "pending": 0}
    assert _comparable(again["rows"]) == _comparable(serial_and_dask[1]["rows"])
    assert [p.stat().st_mtime_ns for p in points] == stamps


def _kill_one_busy_worker(client, work: Path, done: threading.Event, killed: list) -> None:
    """Once a point has started on a worker (its work directory exists), SIGKILL that worker's process."""
    pids = client.run(os.getpid)
    deadline = time.monotonic() + 240
    while not done.is_set() and time.monotonic() < deadline:
        for address, keys in client.processing().items():
            started = [k for k in keys if str(k).startswith("qflow-point-")
                       and any(work.glob(f"*-{str(k).removeprefix('qflow-point-')[:12]}/rtl"))]
            if started and address in pids:
                os.kill(pids[address], signal.SIGKILL)
                killed.append(started[0])
                return
        time.sleep(0.02)


def test_a_worker_killed_mid_point_leaves_every_point_exactly_once(recipe):
    from distributed import Client, LocalCluster

    spec = _spec(recipe, "killed", 10, SMALL_FOLDINGS)  # a Verilator build per point: long enough to be killed in
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        done, killed = threading.Event(), []
        killer = threading.Thread(target=_kill_one_busy_worker,
                                  args=(client, sweep_dir("killed") / "work", done, killed))
        killer.start()
        try:
            summary = run_sweep(spec, Execution(cluster.scheduler_address), progress=False)
        finally:
            done.set()
            killer.join()
    assert killed, "no worker was killed mid-point"
    rows = summary["rows"]
    assert [r["label"] for r in rows] == ["folded", "c64", "c256", "c1024"] and all(r["status"] == "ok" for r in rows)
    assert all(r["simulation"]["differing_outputs"] == 0 for r in rows)
    assert summary["counts"] == {"points": 4, "done": 4, "failed": 0, "cached": 0, "computed": 4, "pending": 0}
    assert len(list((sweep_dir("killed") / "points").glob("*.json"))) == 4


def test_a_failing_point_is_a_row_and_the_sweep_goes_on(recipe, monkeypatch, capsys):
    real = sweep_point._compute

    def fail_at_64(task):
        if task.label == "c64":
            raise RuntimeError("injected failure")
        return real(task)

    monkeypatch.setattr(sweep_point, "_compute", fail_at_64)
    assert main(["-q", "sweep", recipe, "--name", "faulty", "--no-synth", "--foldings", "parallel,folded,64,256",
                 "--serial"]) == 1
    assert "1 point(s) failed" in capsys.readouterr().err
    summary = json.loads((sweep_dir("faulty") / "sweep.json").read_text())
    by = {r["label"]: r for r in summary["rows"]}
    assert by["c64"]["status"] == "failed" and by["c64"]["error"] == "RuntimeError: injected failure"
    assert by["c64"]["pareto"] is None and all(by[k]["status"] == "ok" for k in ("parallel", "folded", "c256"))
    assert "c64: RuntimeError: injected failure" in (sweep_dir("faulty") / "sweep.md").read_text()
    monkeypatch.setattr(sweep_point, "_compute", real)
    spec = _spec(recipe, "faulty")
    assert run_sweep(spec, progress=False)["counts"]["computed"] == 0  # a failed point stays failed ...
    again = run_sweep(spec, progress=False, retry_failed=True)  # ... until asked
    assert again["counts"]["computed"] == 1 and all(r["status"] == "ok" for r in again["rows"])


def test_an_interrupted_sweep_resumes_where_it_stopped(recipe, monkeypatch):
    real, calls = sweep_exec.run_point, []

    def interrupted_at_the_third(task):
        calls.append(task.label)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(sweep_exec, "run_point", interrupted_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(_spec(recipe, "resumed"), progress=False)
    partial = json.loads((sweep_dir("resumed") / "sweep.json").read_text())
    assert [r["label"] for r in partial["rows"]] == LABELS[:2] and partial["pending"] == LABELS[2:]
    monkeypatch.setattr(sweep_exec, "run_point", real)
    resumed = run_sweep(_spec(recipe, "resumed"), progress=False)
    assert resumed["counts"]["cached"] == 2 and resumed["counts"]["computed"] == 2
    assert [r["label"] for r in resumed["rows"]] == LABELS


def test_a_spec_file(tmp_path):
    spec_file = tmp_path / "digits.toml"
    spec_file.write_text('models = ["mlp_w4a4_digits", "nets/m.onnx"]\nfoldings = ["parallel", 16]\n'
                         'target_cycles = [256]\nobjectives = ["lanes", "accuracy"]\n'
                         '[stages]\nsimulate = 5\nyosys = false\n[dask]\nworkers = 3\n')
    spec = load_spec(spec_file)
    assert spec.name == "digits" and spec.models == ("mlp_w4a4_digits", str(tmp_path / "nets" / "m.onnx"))
    assert spec.foldings == ("parallel", 16, 256) and spec.simulate == 5 and not spec.yosys
    assert spec.objectives == ("lanes", "accuracy") and spec.workers == 3
    assert Execution.choose(spec) == Execution(None, 3) and Execution.choose(spec, serial=True).serial
    assert Execution.choose(spec, "tcp://h:8786").scheduler == "tcp://h:8786"
    overridden = build_spec([str(spec_file)], "other", simulate=0, foldings=("folded",))
    assert (overridden.name, overridden.simulate, overridden.foldings) == ("other", 0, ("folded",))
    default = tmp_path / "d.toml"
    default.write_text('models = ["mlp_w4a4_digits"]\n')
    assert load_spec(default).objectives[0] == "LUT"
    assert build_spec([str(default)], yosys=False).objectives[0] == "lanes"  # the default follows --no-synth


@pytest.mark.parametrize(("text", "match"), [
    ('models = ["x"]\nfoldigs = [1]\n', r"unknown key\(s\) \['foldigs'\]"),
    ('models = ["x"]\nfoldings = ["fast"]\n', "got 'fast'"),
    ('models = ["x"]\nfoldings = [16, 16]\n', "each folding once"),
    ('models = ["x"]\nobjectives = ["LUT", "speed"]\n', "objectives: expected two or more"),
    ('models = ["x"]\nobjectives = ["LUT", "FF"]\n[stages]\nyosys = false\n', "need Yosys"),
    ('models = []\n', "no models"),
    ('models = ["x"]\n[stages]\nsimulate = -1\n', "simulate: expected an integer >= 0"),
    ('models = ["x"\n', "syntax error"),
])
def test_bad_spec_files_are_refused_in_one_line(tmp_path, text, match, capsys):
    spec_file = tmp_path / "bad.toml"
    spec_file.write_text(text)
    with pytest.raises(SweepError, match=match):
        load_spec(spec_file)
    assert main(["sweep", str(spec_file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"qflow: error: {spec_file}") and err.count("\n") == 1 and "Traceback" not in err


def test_an_unreachable_scheduler_is_one_error_line(recipe, monkeypatch, capsys):
    monkeypatch.setattr(sweep_exec, "CONNECT_TIMEOUT_S", 1)
    assert main(["-q", "sweep", recipe, "--name", "nowhere", "--no-synth", "--foldings", "16",
                 "--scheduler", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qflow: error: Dask scheduler tcp://127.0.0.1:9: could not connect") and err.count("\n") == 1


def test_a_recipe_and_a_qonnx_file_in_one_sweep(recipe):
    """Two models: rows named model/folding; the .onnx file (the recipe's own export) simulates random input
    codes, has no accuracy, and gets the recipe's figures."""
    qonnx = Path(os.environ["QFLOW_BUILD"]) / RECIPE_NAME / "model.qonnx.onnx"
    spec = spec_from_options([recipe, str(qonnx)], "two", foldings=(256,), yosys=False, simulate=5)
    summary = run_sweep(spec, progress=False)
    mine, theirs = summary["rows"]
    assert [mine["point"], theirs["point"]] == [f"{RECIPE_NAME}/c256", "model/c256"]
    assert mine["accuracy"] is not None and theirs["accuracy"] is None
    assert mine["simulation"]["differing_outputs"] == theirs["simulation"]["differing_outputs"] == 0
    for key in ("layers", "lanes", "cycles_per_inference", "energy_pj"):
        assert mine[key] == theirs[key], key
    assert "| model/c256 |" in (sweep_dir("two") / "sweep.md").read_text()
