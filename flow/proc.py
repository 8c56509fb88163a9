"""Child processes (Verilator, Yosys, the simulation harness) that never outlive qflow.

Each child runs in its own process group and, on Linux, is started through util-linux's ``setpriv
--pdeathsig KILL``, so that the kernel kills it when qflow dies -- even a SIGKILL of qflow leaves no Yosys or
simulator running and writing into a build directory. (``setpriv`` sets the flag and then execs the tool; doing
it in Python's ``preexec_fn`` instead is unsafe in a process with threads, which torch starts.) On any other
way out of :func:`run` (an exception, Ctrl-C, a timeout) the whole group is killed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence

__all__ = ["run"]

#: ``setpriv`` when this system has one that can set the parent-death signal (Linux, util-linux).
SETPRIV = shutil.which("setpriv")


def _bound(cmd: Sequence[str]) -> list[str]:
    return [SETPRIV, "--pdeathsig", "KILL", "--", *cmd] if SETPRIV else list(cmd)


def run(cmd: Sequence[str], cwd=None, env=None, timeout: float | None = None) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd, capture_output=True, text=True)`` with the child bound to qflow's life (see the
    module docstring). Raises :class:`subprocess.TimeoutExpired` like ``subprocess.run`` (the group is killed
    first)."""
    proc = subprocess.Popen(_bound(cmd), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, process_group=0)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        _kill_group(proc)
        raise
    return subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
