"""What every hardware block declares about itself: :class:`BlockSpec`, one per block module.

A block is one hand-written Verilog module in ``hw/``. Its Python module (``flow/blocks/<name>.py``, named after
the Verilog module) defines a frozen parameter dataclass and the functions below, and ends with
``SPEC = BlockSpec(...)``; :mod:`flow.blocks.registry` gathers them in ``BLOCKS``. Everything above the block
floor (the integer network, the RTL planner, the resource and energy estimates, the standalone synthesis of
one block) asks the spec instead of dispatching on parameter types.

Timing functions work on one inference with an empty pipeline and no backpressure: ``output_times(params,
valid)`` maps the cycles in which the block's input beats are valid to the cycles in which its output beats
are valid; ``cycles(params, in_beats)`` is the block's steady-state cycles per inference when an inference
brings ``in_beats`` input beats; ``out_beats(params, in_beats)`` is how many beats it sends for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flow.blocks.cost import OpEnergy, Resources

__all__ = ["BlockSpec", "Stream", "accept_times", "no_energy", "passthrough_spec", "register_times"]


@dataclass(frozen=True)
class Stream:
    """An AXI-Stream port's shape: ``elems`` elements of ``elem_bits`` bits per beat."""

    elems: int
    elem_bits: int

    @property
    def width(self) -> int:
        """``tdata`` width in bits."""
        return self.elems * self.elem_bits


def accept_times(valid: list[int]) -> list[int]:
    """A block that takes one beat per cycle accepts beat i at ``max(valid_i, accept_{i-1} + 1)``."""
    out: list[int] = []
    for v in valid:
        out.append(v if not out else max(v, out[-1] + 1))
    return out


def register_times(valid: list[int]) -> list[int]:
    """One register stage (FIFO, skid buffer): each beat valid at the output the cycle after it was accepted."""
    return [t + 1 for t in accept_times(valid)]


def no_energy(params: Any, in_beats: int) -> OpEnergy:
    """Blocks that only move data (FIFOs, width converters): nothing counted by the operation model."""
    return OpEnergy("data movement")


def _no_data(params: Any, seed: int = 0) -> None:
    return None


@dataclass(frozen=True)
class BlockSpec:
    """One hardware block, by its one name (``hw/<dir>/<name>.v``, ``flow/blocks/<name>.py``,
    ``sim/<dir>/test_<name>.py``, ``tests/blocks/test_<name>.py``).

    * ``params_type``: the frozen parameter dataclass (``validate()`` raises :class:`ValueError`);
    * ``sources``: its Verilog files, in compile order;
    * ``ports(params) -> (input Stream, output Stream)``;
    * ``verilog_parameters(params, memory_file)``: the parameter map (``memory_file`` is ``None`` for blocks
      without a memory);
    * ``output_times``, ``cycles``, ``out_beats``, ``latency``: the timing model (module docstring);
    * ``estimate(params, data) -> Resources``: Yosys ``synth_xilinx`` cells, for the actual memory contents
      ``data`` (weights, threshold tables) or, with ``data=None``, for :attr:`random_data`;
    * ``energy(params, in_beats) -> OpEnergy``: operation counts and energy per inference;
    * ``random_data(params, seed)``: seeded memory contents (``None`` for blocks without memory);
    * ``memory_lines(params, data)``: the ``$readmemh`` lines of its memory file (``None``: no memory);
    * ``memory_name``: that file's name in a generated design, ``{layer}`` standing for the layer's name;
    * ``port_names``: the AXI-Stream prefixes of the two ports ``ports`` describes (input, output);
    * ``extra_ports(params)``: further ports of a block with two inputs or outputs, ``{prefix: (direction,
      Stream)}`` with direction ``"in"`` or ``"out"`` (``None``: none). :meth:`port_map` lists them all;
    * ``module(params)``: the Verilog module an instance instantiates when the block generates one per layer
      (``cmvm``: its ``memory_lines`` are that module's Verilog, a ``.v`` file the design compiles); ``None``:
      the hand-written module ``name``;
    * ``first_accept(params, valid)``: the cycle the block takes its first input beat when the beats are valid
      at ``valid`` (no backpressure); ``None``: ``valid[0]`` (taken at once). A block that sends beats of its
      own first (``pad``: the top border) takes it later, and a latency counted from the first input beat's
      acceptance (:func:`flow.rtl.plan.predict_latency`, the simulation's measure) starts there.
    """

    name: str
    params_type: type
    sources: tuple[Path, ...]
    ports: Callable[[Any], tuple[Stream, Stream]]
    verilog_parameters: Callable[[Any, str | None], dict[str, int | str]]
    output_times: Callable[[Any, list[int]], list[int]]
    cycles: Callable[[Any, int], int]
    out_beats: Callable[[Any, int], int]
    latency: Callable[[Any], int]
    estimate: Callable[[Any, Any], Resources]
    energy: Callable[[Any, int], OpEnergy] = no_energy
    random_data: Callable[[Any, int], Any] = _no_data
    memory_lines: Callable[[Any, Any], list[str]] | None = None
    memory_name: str = "{layer}.mem"
    port_names: tuple[str, str] = ("s_axis", "m_axis")
    extra_ports: Callable[[Any], dict[str, tuple[str, Stream]]] | None = None
    module: Callable[[Any], str] | None = None
    first_accept: Callable[[Any, list[int]], int] | None = None

    def port_map(self, params: Any) -> dict[str, tuple[str, Stream]]:
        """Every AXI-Stream port of an instance: ``{prefix: ("in" | "out", Stream)}``, inputs first."""
        first, second = self.ports(params)
        ports = {self.port_names[0]: ("in", first), self.port_names[1]: ("out", second)}
        ports |= self.extra_ports(params) if self.extra_ports is not None else {}
        return dict(sorted(ports.items(), key=lambda kv: kv[1][0] != "in"))

    def module_of(self, params: Any) -> str:
        """The Verilog module an instance with ``params`` instantiates (see ``module``)."""
        return self.name if self.module is None else self.module(params)

    @property
    def has_memory(self) -> bool:
        """Whether an instance reads a memory file (weights, thresholds)."""
        return self.memory_lines is not None


def passthrough_spec(name: str, params_type: type, sources: tuple[Path, ...], estimate: Callable[[Any], Resources],
                     cycles: Callable[[Any, int], int], latency: Callable[[Any], int]) -> BlockSpec:
    """The :class:`BlockSpec` of a block that passes ``WIDTH``-bit beats through unchanged (FIFO, skid buffer):
    one register stage, one beat per cycle, no memory file, no operations counted."""
    return BlockSpec(
        name=name,
        params_type=params_type,
        sources=sources,
        ports=lambda p: (Stream(1, p.width), Stream(1, p.width)),
        verilog_parameters=lambda p, mem: p.verilog_parameters(),
        output_times=lambda p, valid: register_times(valid),
        cycles=cycles,
        out_beats=lambda p, in_beats: in_beats,
        latency=latency,
        estimate=lambda p, data: estimate(p),
    )
