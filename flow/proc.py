"""Child processes (Verilator, Yosys, the simulation harness) that never outlive qflow.

Each child runs in its own process group, and on Linux asks the kernel to kill it when qflow dies
(``PR_SET_PDEATHSIG``), so even a SIGKILL of qflow leaves no Yosys or simulator running and writing into a build
directory. On any other way out of :func:`run` (an exception, Ctrl-C, a timeout) the whole group is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Sequence

__all__ = ["run"]

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child, between fork and exec
    os.setpgid(0, 0)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def run(cmd: Sequence[str], cwd=None, env=None, timeout: float | None = None) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd, capture_output=True, text=True)`` with the child bound to qflow's life (see the
    module docstring). Raises :class:`subprocess.TimeoutExpired` like ``subprocess.run`` (the group is killed
    first)."""
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_die_with_parent)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        _kill_group(proc)
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
