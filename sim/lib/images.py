"""The testbench shared by the image-stream blocks of ``hw/conv/`` (``swg``, ``maxpool``, ``pad``).

A block's test module describes itself with an :class:`ImageBench` and gets its three cocotb tests from
:func:`image_stream_tests`; back-to-back random images, beats compared with ``==``:

* ``stream_with_stalls`` -- random input idle cycles and output backpressure;
* ``timing_input_idle`` -- random input idle cycles, output always ready: every output beat is valid exactly
  in the cycle the block's ``output_valid_times`` predicts from the measured input valid times (and, with
  :attr:`ImageBench.input_accept_times`, every input beat accepted in the cycle it predicts);
* ``throughput_no_stalls`` -- no stalls: valid times as predicted and one image every ``cycles_per_image``
  cycles (intervals between the images' last output beats).

The pytest entry of each parameter case calls :func:`run_image_case`. The pieces work alone too:
:func:`stream_images` (run one stream, return its cycles), :func:`check_cycles`, :func:`check_throughput`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import cocotb
import numpy as np
from cocotb import start_soon
from cocotb.triggers import ReadOnly, RisingEdge

from sim.lib.axis import AxisSink, AxisSource, CycleCounter, assert_beats_equal, start_clock_and_reset
from sim.lib.runner import run_cocotb, sim_build_dir, tb_config

__all__ = [
    "ImageBench",
    "ImageRun",
    "check_cycles",
    "check_throughput",
    "image_stream_tests",
    "random_images",
    "record_valid_times",
    "run_image_case",
    "stream_images",
]


# ---------------------------------------------------------------------------------------------- one stream
async def record_valid_times(dut: Any, counter: CycleCounter, times: list[int], prefix: str = "s_axis") -> None:
    """Passively record the cycle in which each ``<prefix>`` beat is first offered (tvalid high)."""
    tvalid, tready = getattr(dut, f"{prefix}_tvalid"), getattr(dut, f"{prefix}_tready")
    pending = False
    while True:
        await ReadOnly()
        valid, ready = bool(tvalid.value), bool(tready.value)
        if valid and not pending:
            times.append(counter.cycle)
        pending = valid and not ready
        await RisingEdge(dut.clk)


@dataclass(frozen=True)
class ImageRun:
    """Cycles measured in one run: each input beat first valid, each input beat accepted, each output beat
    accepted (= first valid when the output is always ready)."""

    valid_times: list[int]
    in_cycles: list[int]
    out_cycles: list[int]


async def stream_images(
    dut: Any,
    in_beats: Sequence[int],
    expected: Sequence[int],
    *,
    beats_per_vector: int,
    what: str,
    idle: float,
    stall: float,
    seed: int,
    trailing_input: bool = False,
) -> ImageRun:
    """Reset the DUT, stream ``in_beats`` into ``s_axis`` (each cycle idle with probability ``idle``) and take
    ``len(expected)`` beats from ``m_axis`` (each cycle stalled with probability ``stall``).

    Checks the AXI-Stream rules on the output, that every input beat is accepted and every output beat
    ``==`` ``expected`` (errors name the vector of ``beats_per_vector`` beats and ``what``). With
    ``trailing_input`` the block may take input beats after its last output beat (dropped trailing rows
    and columns): they get ``4 * len(in_beats)`` more cycles.
    """
    counter = await start_clock_and_reset(dut)
    valid_times: list[int] = []
    start_soon(record_valid_times(dut, counter, valid_times))
    src = AxisSource(dut, "s_axis", counter, idle_prob=idle, seed=seed)
    sink = AxisSink(dut, "m_axis", counter, stall_prob=stall, seed=seed + 1)
    src.send(in_beats)
    await sink.wait_beats(len(expected), 4 * (len(expected) + len(in_beats)) + 200)
    for _ in range(4 * len(in_beats) if trailing_input else 0):
        if src.idle:
            break
        await counter.wait(1)
    await counter.wait(20)
    if sink.monitor.errors:
        raise AssertionError("AXI-Stream rule broken:\n" + "\n".join(sink.monitor.errors[:10]))
    if not src.idle:
        raise AssertionError(f"{len(src.queue)} input beats never accepted")
    assert_beats_equal(sink.beats, expected, beats_per_vector, what)
    return ImageRun(valid_times, src.accept_cycles, sink.cycles)


def check_cycles(
    measured: Sequence[int], predicted: Sequence[int], beats_per_image: int, beat: str = "output", event: str = "valid"
) -> None:
    """Every measured cycle ``==`` the model's (same count); the error names the image and the beat."""
    for i, (m, p) in enumerate(zip(measured, predicted, strict=True)):
        if m != p:
            img, b = divmod(i, beats_per_image)
            raise AssertionError(f"image {img} {beat} beat {b}: {event} in cycle {m}, model predicts {p}")


def check_throughput(out_cycles: Sequence[int], out_beats: int, ii: int, images: int) -> None:
    """``images`` images whose last output beats are ``ii`` cycles apart."""
    intervals = np.diff(out_cycles[out_beats - 1 :: out_beats]).tolist()
    if intervals != [ii] * (images - 1):
        raise AssertionError(f"images should finish every {ii} cycles, measured {intervals}")


# ---------------------------------------------------------------------------------------------- one block
def random_images(params: Any, images: int, rng: np.random.Generator, extremes: bool = False) -> np.ndarray:
    """Random batch ``(images, IFM_H, IFM_W, CH)`` in ``params.value_range``; with ``extremes`` the first
    element is the lowest value, the last the highest."""
    lo, hi = params.value_range
    x = rng.integers(lo, hi + 1, size=(images, params.ifm_h, params.ifm_w, params.ch))
    if extremes:
        x.flat[0], x.flat[-1] = lo, hi
    return x


@dataclass(frozen=True)
class ImageBench:
    """One image-stream block under test.

    ``ops`` is its model module (``flow.blocks.<block>``: ``golden``, ``pack_inputs``, ``pack_outputs``,
    ``output_valid_times``, ``cycles_per_image``); ``params_from_dut`` reads its parameters back from the
    DUT; ``draw`` makes a random batch; ``vector_beats`` is the number of output beats in one vector of the
    beat comparison (``what`` names that vector in errors); ``trailing_input`` as in :func:`stream_images`;
    ``input_accept_times`` (optional) predicts the input accept cycles from the input valid times.
    """

    ops: ModuleType
    params_from_dut: Callable[[Any], Any]
    what: str
    vector_beats: Callable[[Any], int] = lambda params: params.cf
    draw: Callable[[Any, int, np.random.Generator], np.ndarray] = random_images
    trailing_input: bool = False
    input_accept_times: Callable[[Any, Sequence[int]], list[int]] | None = None

    async def run(self, dut: Any, images: int, idle: float, stall: float, seed: int) -> tuple[Any, ImageRun]:
        """Stream ``images`` random images (seeded by ``seed``); return the parameters and the cycles."""
        params = self.params_from_dut(dut)
        x = self.draw(params, images, np.random.default_rng(seed))
        in_beats, expected = self.ops.pack_inputs(x, params), self.ops.pack_outputs(self.ops.golden(x, params), params)
        run = await stream_images(
            dut,
            in_beats,
            expected,
            beats_per_vector=self.vector_beats(params),
            what=self.what,
            idle=idle,
            stall=stall,
            seed=seed,
            trailing_input=self.trailing_input,
        )
        return params, run

    def check_timing(self, params: Any, run: ImageRun) -> None:
        """Input accept cycles (when predicted) and output valid cycles ``==`` the cycle model."""
        if self.input_accept_times is not None:
            accepted = self.input_accept_times(params, run.valid_times)
            check_cycles(run.in_cycles, accepted, params.in_beats, "input", "accepted")
        check_cycles(run.out_cycles, self.ops.output_valid_times(params, run.valid_times), params.out_beats)


def image_stream_tests(bench: ImageBench, module: str) -> tuple[Any, Any, Any]:
    """The cocotb tests ``stream_with_stalls``, ``timing_input_idle`` and ``throughput_no_stalls`` of
    ``bench``, named as if written in ``module`` (assign them to module globals there)."""

    async def stream_with_stalls(dut) -> None:
        """Random images, random idle cycles and backpressure."""
        cfg = tb_config()
        await bench.run(dut, cfg["images"], 0.3, 0.4, cfg["seed"])

    async def timing_input_idle(dut) -> None:
        """Random input idle cycles, output always ready: output valid times == cycle model."""
        cfg = tb_config()
        params, run = await bench.run(dut, cfg["images"], 0.3, 0.0, cfg["seed"] + 3)
        bench.check_timing(params, run)

    async def throughput_no_stalls(dut) -> None:
        """No stalls: output valid times == cycle model; one image every cycles_per_image cycles."""
        cfg = tb_config()
        images = cfg["images"] + 1
        params, run = await bench.run(dut, images, 0.0, 0.0, cfg["seed"] + 7)
        bench.check_timing(params, run)
        check_throughput(run.out_cycles, params.out_beats, bench.ops.cycles_per_image(params), images)

    tests = []
    for func in (stream_with_stalls, timing_input_idle, throughput_no_stalls):
        func.__module__, func.__qualname__ = module, func.__name__
        tests.append(cocotb.test()(func))
    return tests[0], tests[1], tests[2]


# ---------------------------------------------------------------------------------------------- pytest side
def run_image_case(block: str, sources: Sequence[Any], params: Any, case: str, images: int, **config: object) -> None:
    """One Verilator build of ``block`` with ``params`` under ``build/sim/<block>/<case>/``; runs the cocotb
    tests of ``test_<block>`` in it with ``images`` images, a seed derived from ``case`` and ``config``."""
    run_cocotb(
        block,
        sources,
        params.verilog_parameters(),
        sim_build_dir(block, case),
        f"test_{block}",
        tb_config={"seed": sum(map(ord, case)), "images": images, **config},
    )
