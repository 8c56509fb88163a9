"""Build and run one cocotb testbench per parameter case with Verilator (cocotb 2.x Python runner).

Everything a case needs lives in ``build/sim/<block>/<case>/`` (Verilator objects, memory files, the
cocotb results). Toolchain workarounds (see ``TOOLCHAIN.md``) are applied here, in one place:

* ``MAKEFLAGS=CFG_CXXFLAGS_PCH_I=-include`` (the wheel's ``verilated.mk`` leaves it empty, which breaks
  designs whose C++ Verilator splits) and ``OPT_FAST`` chosen per case (``-O1`` by default);
* ``OBJCACHE=ccache`` when ``ccache`` is on ``PATH`` (rebuilds take about a second);
* uninitialized registers start random (``+verilator+rand+reset+2``), so reset bugs show up;
* cocotb's runner makes *every* signal public (``--public-flat-rw``), which keeps Verilator from
  optimizing a fully unrolled layer (a 784x64 XNOR layer then takes minutes to compile). Here only the
  top-level ports and parameters are public, through a generated Verilator control file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

__all__ = ["REPO_ROOT", "SIM_BUILD_ROOT", "TB_CONFIG_ENV", "lint", "run_cocotb", "sim_build_dir", "tb_config"]

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
SIM_BUILD_ROOT = REPO_ROOT / "build" / "sim"
#: Environment variable carrying the testbench configuration (JSON) into the simulator process.
TB_CONFIG_ENV = "QFLOW_TB_CONFIG"


def sim_build_dir(block: str, case: str) -> Path:
    """``build/sim/<block>/<case>/`` (created)."""
    path = SIM_BUILD_ROOT / block / case
    path.mkdir(parents=True, exist_ok=True)
    return path


def tb_config() -> dict:
    """Inside a cocotb test: the configuration the pytest entry passed with ``run_cocotb``."""
    raw = os.environ.get(TB_CONFIG_ENV)
    if raw is None:
        raise RuntimeError(f"{TB_CONFIG_ENV} is not set: run this testbench through its pytest entry point")
    return json.loads(raw)


@contextlib.contextmanager
def _environ(updates: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _hdl_value(value: int | str) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _public_vlt(toplevel: str, parameters: Mapping[str, int | str], extra: Sequence[str] = ()) -> str:
    """Verilator control file: the top's ports (``clk``, ``rst_n``, ``*_axis_*``, ``extra``) and parameters
    public."""
    lines = ["`verilator_config"]
    for var in ("clk", "rst_n", "s_axis_*", "m_axis_*", *extra):
        lines.append(f'public_flat_rw -module "{toplevel}" -var "{var}"')
    for name in parameters:
        lines.append(f'public_flat_rd -module "{toplevel}" -var "{name}"')
    return "\n".join(lines) + "\n"


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _verilator_runner():
    """cocotb's Verilator runner without ``--public-flat-rw`` (see the module docstring)."""
    from cocotb_tools.runner import Verilator  # heavy; only when a simulation runs

    class _Verilator(Verilator):
        def _build_command(self) -> list:
            cmds = super()._build_command()
            cmds[0] = [arg for arg in cmds[0] if arg != "--public-flat-rw"]
            return cmds

    return _Verilator()


def run_cocotb(
    toplevel: str,
    sources: Sequence[str | os.PathLike[str]],
    parameters: Mapping[str, int | str],
    build_dir: str | os.PathLike[str],
    test_module: str,
    extra_env: Mapping[str, str] | None = None,
    *,
    tb_config: Mapping[str, object] | None = None,
    opt_fast: str = "-O1",
    seed: int = 12345,
    plusargs: Sequence[str] = (),
    public: Sequence[str] = (),
    cxx_sources: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Verilate ``sources`` with ``parameters`` into ``build_dir`` and run the cocotb ``test_module``.

    String parameters are passed as Verilog strings (quoted here). ``tb_config`` is serialized into
    ``$QFLOW_TB_CONFIG`` for the test (see :func:`tb_config`). ``plusargs`` go to the simulation,
    ``public`` names extra top-level signals (patterns) the test needs to see besides ``clk``, ``rst_n``,
    ``s_axis_*``, ``m_axis_*`` and the parameters; ``opt_fast`` is the C++ optimization of the model
    (``-O0`` compiles big generated netlists much faster); ``cxx_sources`` are C++ files compiled into the model
    (DPI-C functions the Verilog imports, e.g. the batch harness's ``harness_io.cpp``). Raises
    :class:`AssertionError` when a cocotb test fails, naming the results file. Returns the results file.
    """
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    build_env = {"MAKEFLAGS": f"CFG_CXXFLAGS_PCH_I=-include OPT_FAST={opt_fast}"}
    if shutil.which("ccache"):
        build_env["OBJCACHE"] = "ccache"
    env = dict(extra_env or {})
    if tb_config is not None:
        env[TB_CONFIG_ENV] = json.dumps(tb_config)

    for source in cxx_sources:
        # make's dependency file of a C++ source names its path: a source moved since the last build (another
        # pytest tmp dir) would otherwise stop make with "No rule to make target"
        (build_dir / f"{Path(source).stem}.d").unlink(missing_ok=True)
    runner = _verilator_runner()
    vlt = build_dir / "public.vlt"
    _write_if_changed(vlt, _public_vlt(toplevel, parameters, public))
    with _environ(build_env):
        runner.build(
            sources=[vlt, *(Path(s) for s in sources)],  # the last source must be Verilog (cocotb)
            hdl_toplevel=toplevel,
            parameters={k: _hdl_value(v) for k, v in parameters.items()},
            build_dir=build_dir,
            build_args=[
                "-Wno-fatal",
                "--x-assign",
                "unique",
                "--x-initial",
                "unique",
                *(str(Path(c).resolve()) for c in cxx_sources),
            ],
            log_file=build_dir / "build.log",
        )
    results = build_dir / f"{test_module}.results.xml"
    try:
        runner.test(
            test_module=test_module,
            hdl_toplevel=toplevel,
            build_dir=build_dir,
            test_dir=build_dir,
            extra_env=env,
            plusargs=["+verilator+rand+reset+2", f"+verilator+seed+{seed}", *plusargs],
            seed=seed,
            results_xml=str(results),
        )
    except SystemExit as exc:  # the runner exits when a cocotb test fails
        raise AssertionError(f"cocotb tests of {toplevel} failed (code {exc.code}); see {results}") from None
    return results


def lint(
    sources: Sequence[str | os.PathLike[str]],
    top: str,
    parameters: Mapping[str, int | str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> str:
    """``verilator --lint-only -Wall`` on ``sources``; returns the output, raises ``AssertionError`` on
    any warning or error."""
    cmd = ["verilator", "--lint-only", "-Wall", "--top-module", top]
    cmd += [f"-G{k}={_hdl_value(v)}" for k, v in (parameters or {}).items()]
    cmd += [str(s) for s in sources]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, check=False)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0 or "%Warning" in out or "%Error" in out:
        raise AssertionError(f"lint of {top} failed:\n{out}")
    return out
