"""The one cocotb test body of the pass-through AXI-Stream blocks (``axis_fifo``, ``skid_buffer``).

A pass-through block's golden model is the identity: the same beats leave as entered, in order. What its
tests check is the same for every such block -- beats out == ``golden(beats in)`` under random idle cycles
and backpressure, one beat per cycle at latency ``latency_cycles`` without stalls, and exactly
``capacity`` beats held while the output is stalled. Only the block's description differs
(:class:`PassthroughBlock`); :func:`passthrough_tests` turns one into the three cocotb tests, which the
block's test module binds at module level so that cocotb discovers them there::

    stream_with_stalls, throughput_no_stalls, holds_capacity = passthrough_tests(FIFO, __name__)

This module imports cocotb: use it from cocotb test modules only.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import cocotb
import numpy as np
from cocotb.handle import HierarchyObject
from cocotb.regression import TestGenerator

from sim.lib.axis import assert_beats_equal, check_capacity, check_stream_timing, run_stream
from sim.lib.runner import tb_config

__all__ = ["PassthroughBlock", "passthrough_tests"]

#: Beats per run: enough for every idle/stall pattern to occur many times, short enough for a quick build.
STALL_BEATS = 300
THROUGHPUT_BEATS = 50


class _HasWidth(Protocol):
    @property
    def width(self) -> int: ...


P = TypeVar("P", bound=_HasWidth)


@dataclass(frozen=True)
class PassthroughBlock(Generic[P]):
    """What the shared tests need to know about one pass-through block.

    * ``name``: the Verilog module, used in failure messages;
    * ``params_from_dut(dut)``: the block's parameters read back from the DUT, validated (raises
      :class:`ValueError` on a bad parameter);
    * ``golden(beats)``: the expected output beats for ``beats`` (the identity for these blocks);
    * ``capacity(params)``: beats the block takes while its output is held;
    * ``cycles_per_vector(params)``: cycles between one-beat vectors without stalls;
    * ``latency_cycles(params)``: cycles from a beat's acceptance to its being valid at the output.
    """

    name: str
    params_from_dut: Callable[[HierarchyObject], P]
    golden: Callable[[np.ndarray], np.ndarray]
    capacity: Callable[[P], int]
    cycles_per_vector: Callable[[P], int]
    latency_cycles: Callable[[P], int]


def _beats(width: int, n: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.getrandbits(width) for _ in range(n)]


def _expected(block: PassthroughBlock[Any], beats: list[int]) -> list[int]:
    return [int(b) for b in block.golden(np.array(beats, dtype=object))]


def passthrough_tests(block: PassthroughBlock[Any], module: str) -> tuple[TestGenerator, TestGenerator, TestGenerator]:
    """The cocotb tests ``stream_with_stalls``, ``throughput_no_stalls`` and ``holds_capacity`` of ``block``.

    ``module`` is the ``__name__`` of the test module that binds them: cocotb discovers tests among a
    module's globals and names each ``<module>.<test>`` in its log and results file, so the tests read as
    the block's own (``test_axis_fifo.stream_with_stalls``), exactly as when each module defined them.
    Each test reads ``seed`` from :func:`~sim.lib.runner.tb_config` and raises :class:`AssertionError` with
    the first difference found.
    """

    async def stream_with_stalls(dut: HierarchyObject) -> None:
        """Random beats, random idle cycles and backpressure: beats out == golden(beats in)."""
        seed = tb_config()["seed"]
        params = block.params_from_dut(dut)
        beats = _beats(params.width, STALL_BEATS, seed)
        _, sink = await run_stream(
            dut, beats, len(beats), idle_prob=0.3, stall_prob=0.4, seed=seed, timeout_cycles=20 * len(beats)
        )
        assert_beats_equal(sink.beats, _expected(block, beats), 1, f"{block.name} output")

    async def throughput_no_stalls(dut: HierarchyObject) -> None:
        """One beat per cycle; a beat is valid at the output ``latency_cycles`` after it was accepted."""
        seed = tb_config()["seed"]
        params = block.params_from_dut(dut)
        beats = _beats(params.width, THROUGHPUT_BEATS, seed + 7)  # other beats than stream_with_stalls
        src, sink = await run_stream(
            dut, beats, len(beats), idle_prob=0.0, stall_prob=0.0, seed=seed, timeout_cycles=10 * len(beats)
        )
        assert_beats_equal(sink.beats, _expected(block, beats), 1, f"{block.name} output")
        check_stream_timing(
            src,
            sink,
            in_beats=1,
            out_beats=1,
            ii=block.cycles_per_vector(params),
            valid_cycle=lambda _: block.latency_cycles(params),
        )

    async def holds_capacity(dut: HierarchyObject) -> None:
        """Exactly ``capacity`` beats fit while the output is held; released, they leave unchanged, in order."""
        params = block.params_from_dut(dut)
        await check_capacity(dut, block.capacity(params), tb_config()["seed"])

    def bind(func: Callable[[HierarchyObject], Coroutine[Any, Any, None]]) -> TestGenerator:
        # cocotb takes a test's name and module from the function (__qualname__, __module__): name them as
        # if the test module had defined them, not as locals of this factory
        func.__module__ = module
        func.__qualname__ = func.__name__
        return cocotb.test(func)

    return bind(stream_with_stalls), bind(throughput_no_stalls), bind(holds_capacity)
