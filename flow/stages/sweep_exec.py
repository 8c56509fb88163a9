"""Where a sweep's points run: in this process, one after another (serial), or as one Dask task each on a
``dask.distributed`` cluster -- a ``LocalCluster`` sized to this machine, or an existing cluster by address.

Both executors call :func:`flow.stages.sweep_point.run_point` per point and hand each row to ``on_result`` in
this process, as it arrives (the caller stores it and rewrites the pages). On Dask, a worker process that dies
mid-point has its point rescheduled on another worker by the scheduler (up to Dask's
``distributed.scheduler.allowed-failures``, default 3; past that the point gets a failed row); a point that
raises is retried ``RETRIES`` times (``run_point`` itself turns stage errors into failed rows). Every task's key
is the point's cache key, so a point is never submitted twice and ``on_result`` sees it once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from tqdm import tqdm

from flow.stages.sweep_point import PointTask, failed_row, run_point
from flow.stages.sweep_spec import SweepError, SweepSpec

__all__ = ["SCHEDULER_ENV", "Execution", "PointProgress", "execute"]

log = logging.getLogger(__name__)

SCHEDULER_ENV = "QFLOW_DASK_SCHEDULER"
RETRIES = 2
CONNECT_TIMEOUT_S = 30
OnResult = Callable[[PointTask, dict], None]


@dataclass(frozen=True)
class Execution:
    """``scheduler``: a Dask scheduler address (``tcp://host:8786``) or ``None``; ``workers``: the size of the
    ``LocalCluster`` started when there is no scheduler (``None``: one per core; ``0``: serial, no Dask)."""

    scheduler: str | None = None
    workers: int | None = None

    @property
    def serial(self) -> bool:
        return self.scheduler is None and self.workers == 0

    @classmethod
    def choose(cls, spec: SweepSpec, scheduler: str | None = None, workers: int | None = None,
               serial: bool = False) -> Execution:
        """The first given of: ``serial``; ``scheduler`` (the CLI's), the spec's, ``$QFLOW_DASK_SCHEDULER``;
        ``workers`` (the CLI's), the spec's; else a LocalCluster with one worker per core."""
        if serial:
            return cls(None, 0)
        address = scheduler or spec.scheduler or os.environ.get(SCHEDULER_ENV) or None
        if workers is not None and workers < 0:
            raise SweepError(f"--workers: expected an integer >= 0, got {workers}")
        return cls(address, workers if workers is not None else spec.workers)

    def describe(self) -> str:
        if self.scheduler:
            return f"Dask cluster at {self.scheduler}"
        return "serial" if self.serial else f"Dask LocalCluster, {self.workers or os.cpu_count()} workers"


class PointProgress:
    """A progress bar on stderr: points done (of all, cached ones included), running, failed."""

    def __init__(self, title: str, total: int, done: int, failed: int, enabled: bool = True) -> None:
        self.done, self.failed, self.running = done, failed, 0
        self.bar = tqdm(total=total, initial=done, desc=title, unit="point", file=sys.stderr, disable=not enabled,
                        dynamic_ncols=True)
        self._show()

    def _show(self) -> None:
        self.bar.set_postfix({"running": self.running, "failed": self.failed}, refresh=True)

    def set_running(self, running: int) -> None:
        self.running = running
        self._show()

    def finished(self, row: dict, running: int) -> None:
        self.done += 1
        self.failed += row.get("status") == "failed"
        self.running = running
        self.bar.update(1)
        self._show()

    def close(self) -> None:
        self.bar.close()


def _serial(tasks: Sequence[PointTask], on_result: OnResult, progress: PointProgress) -> None:
    for i, task in enumerate(tasks):
        progress.set_running(1)
        row = run_point(task)
        on_result(task, row)
        progress.finished(row, running=0 if i == len(tasks) - 1 else 1)


@contextlib.contextmanager
def dask_client(execution: Execution) -> Iterator:
    """A ``distributed.Client`` for ``execution`` (a LocalCluster of worker processes, one thread each, when
    there is no scheduler address); closed, with its cluster, on exit."""
    from distributed import Client, LocalCluster  # heavy: only when a sweep runs on Dask

    # distributed logs every connection at INFO on its own handler: warnings and errors only; for our own
    # LocalCluster errors only (on a loaded machine its shutdown warns that worker processes exit slowly).
    quiet = logging.WARNING if execution.scheduler else logging.ERROR
    logging.getLogger("distributed").setLevel(max(logging.getLogger().getEffectiveLevel(), quiet))
    with contextlib.ExitStack() as stack:
        if execution.scheduler:
            try:
                client = Client(execution.scheduler, timeout=CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError) as exc:
                raise SweepError(f"Dask scheduler {execution.scheduler}: could not connect within "
                                 f"{CONNECT_TIMEOUT_S} s ({type(exc).__name__}: {exc})") from None
        else:
            n = execution.workers or os.cpu_count() or 1
            cluster = stack.enter_context(LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                                       dashboard_address=None, silence_logs=logging.ERROR))
            client = Client(cluster)
        stack.enter_context(client)
        yield client


def _dask(tasks: Sequence[PointTask], on_result: OnResult, execution: Execution, progress: PointProgress) -> None:
    from distributed import as_completed

    with dask_client(execution) as client:
        threads = sum(client.nthreads().values()) or 1
        futures = {client.submit(run_point, t, key=f"qflow-point-{t.key}", retries=RETRIES): t for t in tasks}
        pending = len(futures)
        progress.set_running(min(pending, threads))
        try:
            for future in as_completed(futures):
                task = futures[future]
                try:
                    row = future.result()
                except Exception as exc:  # KilledWorker (the point killed too many workers), lost connection
                    log.warning("%s/%s: %s: %s", task.model, task.label, type(exc).__name__, exc)
                    row = failed_row(task, f"{type(exc).__name__}: {exc}")
                pending -= 1
                on_result(task, row)
                progress.finished(row, running=min(pending, threads))
        finally:
            if pending:
                client.cancel(list(futures))


def execute(tasks: Sequence[PointTask], on_result: OnResult, execution: Execution,
            progress: PointProgress) -> float:
    """Run every task with ``execution``, calling ``on_result(task, row)`` once per task in this process, in
    the order the rows arrive; return the wall time in seconds. Interrupting (Ctrl-C) cancels what is left."""
    start = time.perf_counter()
    if not tasks:
        return 0.0
    log.info("%d points on %s", len(tasks), execution.describe())
    if execution.serial:
        _serial(tasks, on_result, progress)
    else:
        _dask(tasks, on_result, execution, progress)
    return time.perf_counter() - start
