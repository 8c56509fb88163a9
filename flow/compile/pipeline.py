"""Register stages for Fmax: which matrix-vector units get them (:class:`Pipeline`, :func:`apply_pipeline`).

A setting is parsed once where a user gives it (CLI ``--pipeline``, a recipe's ``HardwareConfig.pipeline``, the
API) and travels inside :class:`~flow.compile.folding.Folding`; :func:`flow.compile.registers.apply_pipeline`
sets the stages of a lowered network's units by it:

* ``"none"``: no register stages (each unit sums its SIMD lanes and accumulates in one cycle: the fewest
  flip-flops and cycles of latency, the lowest Fmax);
* ``"auto"``: where the critical path runs on an FPGA: a register on every weight ROM that is a real memory
  (more than one word: block RAM's read data gets a cycle of its own) and an adder tree with a register after
  every level of :data:`AUTO_FANIN` inputs; in every thresholding
  unit a register on its threshold ROM (when it has several words) and, with more than one threshold, on
  the comparison results before they are counted;
* an integer ``F >= 2``: the adder tree with a register every ``F`` inputs in every unit, the ROM registers
  and the thresholding stages as under ``"auto"``.

Each stage costs one cycle of latency per unit and flip-flops for the partial sums; never a cycle per inference
(``hw/mvau/mvau.v``). The numbers behind ``"auto"`` are in BENCHMARKS.md (issue 20).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flow.errors import UnsupportedError

if TYPE_CHECKING:  # the setting is parsed at the CLI's edge: no numpy/blocks import for it
    from flow.compile.network import MatVec, Thresholds

__all__ = ["AUTO_FANIN", "DEFAULT_PIPELINE", "Pipeline"]

#: The setting of a recipe that names none, and of a QONNX file: the stages an FPGA needs for its clock (the
#: place-and-route stage is part of ``qflow synth``); ``"none"`` gives the fewest flip-flops and cycles.
DEFAULT_PIPELINE = "auto"

#: Inputs per adder-tree level under ``"auto"``: measured on the LFE5U-85F (BENCHMARKS.md, issue 20), folded
#: ``tfc_w1a1`` reached 93 MHz with 8 (the last level, 8 popcounts + the accumulator, was critical) and 102 MHz
#: with 4.
AUTO_FANIN = 4


@dataclass(frozen=True)
class Pipeline:
    """A register-stage setting: ``mode`` ``"none"``, ``"auto"`` or ``"fanin"`` (with ``fanin`` >= 2)."""

    mode: str = "none"
    fanin: int = 0

    @classmethod
    def parse(cls, value: object) -> Pipeline:
        """``"none"``, ``"auto"``, an int >= 2 (or its digits) or a :class:`Pipeline` -> a Pipeline.

        Raises :class:`UnsupportedError` naming what was expected and what arrived."""
        if isinstance(value, Pipeline):
            return value
        text = value.strip() if isinstance(value, str) else value
        if text in ("none", "auto"):
            return cls(str(text))
        if isinstance(text, str) and text.isdigit():
            text = int(text)
        if isinstance(text, int) and not isinstance(text, bool) and text >= 2:
            return cls("fanin", text)
        raise UnsupportedError(
            f"pipeline: expected 'none', 'auto' or an adder-tree fan-in >= 2 (a register every N inputs), "
            f"got {value!r}"
        )

    @property
    def label(self) -> str:
        """``none``, ``auto`` or the fan-in as text (what :meth:`parse` reads back)."""
        return str(self.fanin) if self.mode == "fanin" else self.mode

    def threshold_stages(self, layer: Thresholds) -> int:
        """``pipe`` of one thresholding unit: 2 (ROM word and comparisons registered) with several thresholds,
        1 (the ROM word) with one threshold and a ROM of several words, else 0."""
        if self.mode == "none":
            return 0
        if layer.params.n_thresh > 1:
            return 2
        return 1 if layer.params.cf > 1 else 0

    def stages_for(self, layer: MatVec) -> tuple[bool, int, bool]:
        """``(in_reg, fanin, term_reg)`` of one matrix-vector unit under this setting: products (MAC mode, on
        DSP slices where the FPGA has them) get a register of their own before the tree."""
        if self.mode == "none":
            return False, 0, False
        in_reg = layer.params.weight_depth > 1
        fanin = self.fanin if self.mode == "fanin" else AUTO_FANIN
        term_reg = layer.params.mode.name == "MAC"
        return in_reg, (fanin if fanin < layer.simd or term_reg else 0), term_reg
