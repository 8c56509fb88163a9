"""AXI-Stream driver, sink, monitor and checker for cocotb 2.x testbenches (clock ``clk``, reset ``rst_n``).

Timing model, shared by every component: right after a rising edge a component drives its outputs for
the new cycle; in the ``ReadOnly`` phase of that cycle it samples the settled handshake, and a beat is
*accepted in cycle k* when ``tvalid && tready`` holds there (it is taken by the rising edge ending cycle
``k``). Cycle ``k`` is the number of rising edges seen by :class:`CycleCounter` since it started.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from cocotb import start_soon
from cocotb.clock import Clock
from cocotb.handle import HierarchyObject
from cocotb.triggers import ReadOnly, RisingEdge

__all__ = [
    "AxisMonitor",
    "AxisSink",
    "AxisSource",
    "CycleCounter",
    "assert_beats_equal",
    "check_capacity",
    "check_stream_timing",
    "dut_params",
    "run_stream",
    "start_clock_and_reset",
]


class CycleCounter:
    """Counts rising edges of ``clk``; ``cycle`` is the index of the cycle in progress."""

    def __init__(self, clk: Any) -> None:
        self.clk = clk
        self.cycle = 0
        start_soon(self._run())

    async def _run(self) -> None:
        while True:
            await RisingEdge(self.clk)
            self.cycle += 1

    async def wait(self, n: int) -> None:
        """Wait ``n`` rising edges."""
        for _ in range(n):
            await RisingEdge(self.clk)


async def start_clock_and_reset(dut: HierarchyObject, reset_cycles: int = 3) -> CycleCounter:
    """Start a 10 ns clock on ``dut.clk``, hold ``rst_n`` low (and ``s_axis_tvalid``/``m_axis_tready``
    low) for ``reset_cycles`` edges, then release it.

    Returns just after the first rising edge that samples ``rst_n`` high: the design is out of reset, and
    components created now drive from cycle 0 of the returned counter on.
    """
    Clock(dut.clk, 10, unit="ns").start()
    # Inputs start random in Verilator (x-initial unique): idle every stream input before leaving reset,
    # or the first edge out of reset may take a garbage beat.
    idle_inputs = [getattr(dut, n) for n in ("s_axis_tvalid", "m_axis_tready") if hasattr(dut, n)]
    for _ in range(reset_cycles):
        dut.rst_n.value = 0
        for h in idle_inputs:
            h.value = 0
        await RisingEdge(dut.clk)
    dut.rst_n.value = 1
    await RisingEdge(dut.clk)
    return CycleCounter(dut.clk)


def dut_params(dut: HierarchyObject, names: Iterable[str]) -> dict[str, int]:
    """Read integer parameters back from the DUT (``run_cocotb`` makes the top's parameters public)."""
    return {name: int(getattr(dut, name).value) for name in names}


class _Bus:
    def __init__(self, dut: HierarchyObject, prefix: str) -> None:
        self.tdata = getattr(dut, f"{prefix}_tdata")
        self.tvalid = getattr(dut, f"{prefix}_tvalid")
        self.tready = getattr(dut, f"{prefix}_tready")
        self.name = f"{dut._name}.{prefix}"


class AxisSource:
    """Drives ``<prefix>_tdata/tvalid`` from a queue of integer beats.

    Before offering each beat it idles (``tvalid`` low, ``tdata`` randomized) for a random number of
    cycles: each cycle is idle with probability ``idle_prob``. A beat once offered stays stable until
    accepted (AXI-Stream rule). ``accept_cycles`` lists the cycle in which each beat was accepted.
    """

    def __init__(
        self,
        dut: HierarchyObject,
        prefix: str,
        counter: CycleCounter,
        *,
        idle_prob: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.bus = _Bus(dut, prefix)
        self.counter = counter
        self.idle_prob = idle_prob
        self.rng = random.Random(seed)
        self.width = len(self.bus.tdata)
        self.queue: deque[int] = deque()
        self.accept_cycles: list[int] = []
        self.bus.tvalid.value = 0
        start_soon(self._run())

    def send(self, beats: Iterable[int]) -> None:
        """Queue beats (non-blocking)."""
        self.queue.extend(int(b) for b in beats)

    @property
    def idle(self) -> bool:
        """True when every queued beat has been accepted."""
        return not self.queue and self._current is None

    _current: int | None = None

    async def _run(self) -> None:
        clk = self.counter.clk
        while True:
            if self._current is None:
                if self.queue and (self.idle_prob <= 0.0 or self.rng.random() >= self.idle_prob):
                    self._current = self.queue.popleft()
                    self.bus.tdata.value = self._current
                    self.bus.tvalid.value = 1
                else:
                    self.bus.tvalid.value = 0
                    if self.idle_prob > 0.0:  # garbage on idle cycles catches sampling without tvalid
                        self.bus.tdata.value = self.rng.getrandbits(self.width)
            await ReadOnly()
            if self._current is not None and self.bus.tready.value:
                self.accept_cycles.append(self.counter.cycle)
                self._current = None
            await RisingEdge(clk)


class AxisMonitor:
    """Passively records accepted beats of ``<prefix>_*`` and checks the AXI-Stream rules.

    Rule checked every cycle: once ``tvalid`` is high without ``tready``, ``tvalid`` must stay high and
    ``tdata`` must not change until the beat is accepted. Violations are collected in ``errors``.
    """

    def __init__(self, dut: HierarchyObject, prefix: str, counter: CycleCounter) -> None:
        self.bus = _Bus(dut, prefix)
        self.counter = counter
        self.beats: list[int] = []
        self.cycles: list[int] = []
        self.errors: list[str] = []
        start_soon(self._run())

    async def _run(self) -> None:
        clk = self.counter.clk
        pending: int | None = None  # data of a beat offered and not accepted in the previous cycle
        while True:
            await ReadOnly()
            valid = bool(self.bus.tvalid.value)
            if valid:
                value = self.bus.tdata.value
                if not value.is_resolvable:
                    self.errors.append(f"{self.bus.name}: cycle {self.counter.cycle}: tdata={value} with tvalid")
                    data = -1
                else:
                    data = value.to_unsigned()
            if pending is not None and (not valid or data != pending):
                got = f"tdata={data:#x}" if valid else "tvalid low"
                self.errors.append(
                    f"{self.bus.name}: cycle {self.counter.cycle}: beat {pending:#x} withdrawn before "
                    f"acceptance ({got})"
                )
            pending = None
            if valid:
                if self.bus.tready.value:
                    self.beats.append(data)
                    self.cycles.append(self.counter.cycle)
                else:
                    pending = data
            await RisingEdge(clk)


class AxisSink:
    """Drives ``<prefix>_tready``: low with probability ``stall_prob`` each cycle (``stall_prob`` may be
    changed while running; 1.0 holds tready low); records beats."""

    def __init__(
        self,
        dut: HierarchyObject,
        prefix: str,
        counter: CycleCounter,
        *,
        stall_prob: float = 0.0,
        seed: int = 1,
    ) -> None:
        self.monitor = AxisMonitor(dut, prefix, counter)
        self.bus = self.monitor.bus
        self.counter = counter
        self.stall_prob = stall_prob
        self.rng = random.Random(seed)
        self.bus.tready.value = 1 if stall_prob <= 0.0 else 0
        start_soon(self._run())

    @property
    def beats(self) -> list[int]:
        """Accepted beats, in order."""
        return self.monitor.beats

    @property
    def cycles(self) -> list[int]:
        """Cycle in which each beat was accepted."""
        return self.monitor.cycles

    async def _run(self) -> None:
        clk = self.counter.clk
        while True:  # stall_prob may be changed by the test at any time
            stall = self.stall_prob > 0.0 and self.rng.random() < self.stall_prob
            self.bus.tready.value = 0 if stall else 1
            await RisingEdge(clk)

    async def wait_beats(self, n: int, timeout_cycles: int) -> None:
        """Wait until ``n`` beats arrived; raise :class:`AssertionError` after ``timeout_cycles``."""
        start = self.counter.cycle
        while len(self.beats) < n:
            if self.counter.cycle - start > timeout_cycles:
                raise AssertionError(
                    f"{self.bus.name}: timeout after {timeout_cycles} cycles: got {len(self.beats)} of {n} beats"
                )
            await RisingEdge(self.counter.clk)


def assert_beats_equal(got: Sequence[int], expected: Sequence[int], beats_per_vector: int, what: str) -> None:
    """Compare beat lists with ``==``; the error names the first differing vector and beat."""
    for i, (g, e) in enumerate(zip(got, expected, strict=False)):
        if g != e:
            v, b = divmod(i, beats_per_vector)
            raise AssertionError(f"{what}: vector {v} beat {b}: expected {e:#x}, got {g:#x}")
    if len(got) != len(expected):
        raise AssertionError(f"{what}: expected {len(expected)} beats, got {len(got)}")


async def run_stream(
    dut: HierarchyObject,
    in_beats: Sequence[int],
    n_out: int,
    *,
    idle_prob: float,
    stall_prob: float,
    seed: int,
    timeout_cycles: int,
    drain_cycles: int = 20,
) -> tuple[AxisSource, AxisSink]:
    """Reset the DUT, stream ``in_beats`` into ``s_axis`` and collect ``n_out`` beats from ``m_axis``.

    Checks the AXI-Stream rules on the output and that no extra beat follows within ``drain_cycles``.
    Returns the source and sink for the caller's value and timing checks.
    """
    counter = await start_clock_and_reset(dut)
    src = AxisSource(dut, "s_axis", counter, idle_prob=idle_prob, seed=seed)
    sink = AxisSink(dut, "m_axis", counter, stall_prob=stall_prob, seed=seed + 1)
    src.send(in_beats)
    await sink.wait_beats(n_out, timeout_cycles)
    await counter.wait(drain_cycles)
    if sink.monitor.errors:
        raise AssertionError("AXI-Stream rule broken:\n" + "\n".join(sink.monitor.errors[:10]))
    if len(sink.beats) != n_out:
        raise AssertionError(f"expected {n_out} output beats, got {len(sink.beats)}")
    if not src.idle:
        raise AssertionError(f"{len(src.queue)} input beats never accepted")
    return src, sink


def check_stream_timing(
    src: AxisSource,
    sink: AxisSink,
    *,
    in_beats: int,
    out_beats: int,
    ii: int,
    valid_cycle: Callable[[int], int] | None = None,
    warmup: int = 0,
) -> None:
    """Timing checks of a run without stalls.

    * consecutive vectors start (first input beat) and finish (last output beat) every ``ii`` cycles,
      after the first ``warmup`` intervals (a block may take a few vectors faster while it fills);
    * with ``valid_cycle``: output beat ``b`` of each vector is accepted (= first valid, the sink being
      always ready) ``valid_cycle(b)`` cycles after the vector's first input beat.
    """
    first_in = src.accept_cycles[::in_beats]
    last_out = sink.cycles[out_beats - 1 :: out_beats]
    n = len(last_out)
    starts, ends = np.diff(first_in).tolist()[warmup:], np.diff(last_out).tolist()[warmup:]
    if not starts or starts != [ii] * len(starts):
        raise AssertionError(f"vectors should start every {ii} cycles, measured intervals {starts}")
    if ends != [ii] * len(ends):
        raise AssertionError(f"vectors should finish every {ii} cycles, measured intervals {ends}")
    if valid_cycle is None:
        return
    for v in range(n):
        for b in range(out_beats):
            measured = sink.cycles[v * out_beats + b] - first_in[v]
            if measured != valid_cycle(b):
                raise AssertionError(
                    f"vector {v} output beat {b}: valid {measured} cycles after the first input beat, "
                    f"expected {valid_cycle(b)}"
                )


async def check_capacity(dut: HierarchyObject, capacity: int, seed: int) -> None:
    """With the output held (``tready`` low) a block must take exactly ``capacity`` beats, then deliver
    them unchanged and in order once released."""
    counter = await start_clock_and_reset(dut)
    width = len(dut.s_axis_tdata)
    rng = random.Random(seed)
    beats = [rng.getrandbits(width) for _ in range(capacity + 3)]
    src = AxisSource(dut, "s_axis", counter, seed=seed)
    sink = AxisSink(dut, "m_axis", counter, stall_prob=1.0, seed=seed + 1)
    src.send(beats)
    await counter.wait(4 * capacity + 10)
    if len(src.accept_cycles) != capacity:
        raise AssertionError(f"with the output held: expected {capacity} beats taken, got {len(src.accept_cycles)}")
    if sink.beats:
        raise AssertionError(f"beats delivered while tready was low: {sink.beats}")
    sink.stall_prob = 0.0
    await sink.wait_beats(len(beats), 10 * len(beats) + 10)
    if sink.monitor.errors:
        raise AssertionError("AXI-Stream rule broken:\n" + "\n".join(sink.monitor.errors[:10]))
    assert_beats_equal(sink.beats, beats, 1, "after release")
