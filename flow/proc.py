"""Child processes (Verilator, Yosys, the simulation harness) that never outlive qflow.

Each child runs in its own process group and, on Linux, is started through util-linux's ``setpriv
--pdeathsig KILL``, so that the kernel kills it when qflow dies -- even a SIGKILL of qflow leaves no Yosys or
simulator running and writing into a build directory. (``setpriv`` sets the flag and then execs the tool; doing
it in Python's ``preexec_fn`` instead is unsafe in a process with threads, which torch starts.) On any other
way out of :func:`run` (an exception, Ctrl-C, a timeout, a cancel event) the whole group is killed.

:func:`run_parallel` runs several such jobs on a few threads (the Xilinx and the NAND2 Yosys runs side by
side): the first job to fail cancels the others -- their children killed, jobs not yet started never start --
and its exception is the one raised, once every job has stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

__all__ = ["CancelledError", "run", "run_parallel"]

T = TypeVar("T")

#: How often a child's wait looks at its cancel event (seconds).
CANCEL_POLL_S = 0.2


class CancelledError(Exception):
    """A job stopped (its child killed) because a sibling job in :func:`run_parallel` failed or qflow was
    interrupted."""

#: ``setpriv`` when this system has one that can set the parent-death signal (Linux, util-linux).
SETPRIV = shutil.which("setpriv")


def _bound(cmd: Sequence[str]) -> list[str]:
    return [SETPRIV, "--pdeathsig", "KILL", "--", *cmd] if SETPRIV else list(cmd)


def run(cmd: Sequence[str], cwd=None, env=None, timeout: float | None = None,
        cancel: threading.Event | None = None) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd, capture_output=True, text=True)`` with the child bound to qflow's life (see the
    module docstring). Raises :class:`subprocess.TimeoutExpired` like ``subprocess.run`` (the group is killed
    first), and :class:`CancelledError` (the group killed) when ``cancel`` is set while the child runs."""
    if cancel is not None and cancel.is_set():
        raise CancelledError(f"{cmd[0]}: not started (cancelled)")
    proc = subprocess.Popen(_bound(cmd), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, process_group=0)
    try:
        out, err = proc.communicate(timeout=timeout) if cancel is None else _communicate(proc, timeout, cancel)
    except BaseException:
        _kill_group(proc)
        raise
    return subprocess.CompletedProcess(list(cmd), proc.returncode, out, err)


def _communicate(proc: subprocess.Popen, timeout: float | None, cancel: threading.Event) -> tuple[str, str]:
    """``proc.communicate(timeout)`` in short slices, raising :class:`CancelledError` as soon as ``cancel`` is set
    (``communicate`` may be called again after a :class:`subprocess.TimeoutExpired`: no output is lost)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise subprocess.TimeoutExpired(proc.args, timeout)
        try:
            return proc.communicate(timeout=CANCEL_POLL_S if left is None else min(CANCEL_POLL_S, left))
        except subprocess.TimeoutExpired:
            if cancel.is_set():
                raise CancelledError("child process killed (cancelled)") from None


def run_parallel(tasks: Sequence[Callable[[threading.Event], T]], jobs: int) -> list[T]:
    """Call every ``task(cancel)`` on at most ``jobs`` threads; return their results in the order of ``tasks``.

    Each task should pass ``cancel`` to :func:`run`. The first task to raise sets ``cancel``: running children
    are killed within :data:`CANCEL_POLL_S`, tasks not yet started raise :class:`CancelledError` at once, and that
    first exception is raised here after every task has stopped (the :class:`CancelledError` of the others is
    dropped). An interrupt (Ctrl-C) of the waiting thread does the same and is re-raised."""
    cancel = threading.Event()
    first: list[BaseException] = []
    lock = threading.Lock()

    def guarded(task: Callable[[threading.Event], T]) -> T:
        try:
            if cancel.is_set():
                raise CancelledError("not started (cancelled)")
            return task(cancel)
        except BaseException as exc:
            with lock:
                if not first and not isinstance(exc, CancelledError):
                    first.append(exc)
            cancel.set()
            raise

    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="qflow-job") as pool:
        futures = [pool.submit(guarded, task) for task in tasks]
        try:
            wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:
            cancel.set()
            raise
        wait(futures)
    if first:
        raise first[0]
    return [f.result() for f in futures]


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
