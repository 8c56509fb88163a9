"""Energy per inference from an operation model: per-layer operation counts times per-operation energies.

Counts come from the exact integer network (:class:`flow.compile.network.Network`), per inference:

* matrix-vector layers (per window for convolutions): XNOR mode -- ``MH*MW`` 1-bit XNORs and ``MH*MW``
  popcount additions at the accumulator width; MAC -- ``MH*MW`` multiplies (input bits x weight bits) and
  ``MH*MW`` additions at the accumulator width; binary weights with k-bit inputs -- ``MH*MW`` additions
  (add or subtract); AdderNet -- ``MH*MW`` subtractions, absolute values and additions;
  weight memory reads: ``MH*MW*W_BITS`` bits (every weight read once per vector);
* thresholds: ``N_THRESH`` comparisons at the accumulator width per element, threshold memory reads;
* max-pool: ``K*K - 1`` comparisons per output element; sliding-window and padding blocks move data only
  (their line-buffer writes and reads are counted as SRAM accesses of the element width).

Energies (45 nm, 0.9 V; M. Horowitz, "Computing's energy problem", ISSCC 2014): 8-bit add 0.03 pJ, 32-bit
add 0.1 pJ, 8-bit multiply 0.2 pJ, 32-bit multiply 3.1 pJ. Scaling rule for other widths: additions,
subtractions, comparisons, absolute values and XNORs grow linearly with the bit width, interpolated through
the two add points (``E_add(b) = 0.03 + (b - 8) * 0.07/24`` pJ, floored at 0.03*b/8 for b < 8); multiplies
grow with the product of the operand widths (``E_mul(a, b) = 0.2 * a*b/64`` pJ below 8x8, through the 8x8 and
32x32 points as ``0.2 * (a*b/64) ** 1.32`` above). SRAM reads: 10 pJ per 64-bit word from an 8 KiB array,
20 pJ from 32 KiB, 100 pJ from 1 MiB (Horowitz), log-interpolated in the array size and scaled linearly in
the bits read. These are textbook ASIC figures, not measurements of this design; the report says so.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field

from flow.compile.network import Flatten, MatVec, MaxPool, Network, Pad, SlidingWindow, Thresholds
from flow.rtl.ops.mvau import MvauMode

ADD8_PJ, ADD32_PJ = 0.03, 0.1
MUL8_PJ, MUL32_PJ = 0.2, 3.1
SRAM_POINTS = ((8 * 1024, 10.0), (32 * 1024, 20.0), (1024 * 1024, 100.0))  # (bytes, pJ per 64-bit read)
_MUL_EXP = math.log(MUL32_PJ / MUL8_PJ) / math.log(16.0)  # 8x8 -> 32x32 is 16x the operand-width product


def add_pj(bits: int) -> float:
    """Energy of one ``bits``-wide addition (also subtraction, comparison, absolute value, XNOR)."""
    if bits < 8:
        return ADD8_PJ * bits / 8
    return ADD8_PJ + (bits - 8) * (ADD32_PJ - ADD8_PJ) / 24


def mul_pj(a_bits: int, b_bits: int) -> float:
    """Energy of one ``a_bits`` x ``b_bits`` multiplication."""
    ratio = a_bits * b_bits / 64
    return MUL8_PJ * ratio if ratio <= 1 else MUL8_PJ * ratio**_MUL_EXP


def sram_pj(bits_read: int, array_bits: int) -> float:
    """Energy of reading ``bits_read`` bits from an SRAM of ``array_bits`` bits (64-bit words)."""
    size = max(array_bits / 8, 1.0)
    points = SRAM_POINTS
    if size <= points[0][0]:
        per_word = points[0][1]
    elif size >= points[-1][0]:
        per_word = points[-1][1]
    else:
        for (s0, e0), (s1, e1) in itertools.pairwise(points):
            if s0 <= size <= s1:
                t = (math.log(size) - math.log(s0)) / (math.log(s1) - math.log(s0))
                per_word = e0 + t * (e1 - e0)
                break
    return per_word * bits_read / 64


@dataclass
class LayerEnergy:
    """Operation counts per inference of one layer (``ops``: kind -> {bit width label: count}) and energy."""

    layer: str
    kind: str
    ops: dict[str, dict[str, int]] = field(default_factory=dict)
    memory_bits_read: int = 0
    memory_bits: int = 0
    compute_pj: float = 0.0
    memory_pj: float = 0.0

    @property
    def total_pj(self) -> float:
        return self.compute_pj + self.memory_pj

    def count(self, kind: str, width: str, n: int, pj_each: float) -> None:
        self.ops.setdefault(kind, {})
        self.ops[kind][width] = self.ops[kind].get(width, 0) + int(n)
        self.compute_pj += n * pj_each

    def read(self, bits: int, array_bits: int) -> None:
        self.memory_bits_read += int(bits)
        self.memory_bits = max(self.memory_bits, int(array_bits))
        self.memory_pj += sram_pj(bits, array_bits)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["total_pj"] = self.total_pj
        return d


def layer_energy(layer) -> LayerEnergy | None:
    """Counts and energy per inference of one network layer (None for layers without hardware)."""
    if isinstance(layer, Flatten):
        return None
    if isinstance(layer, MatVec):
        e = LayerEnergy(layer.name, f"matrix-vector ({layer.mode.name})")
        n = layer.mh * layer.mw * layer.vectors
        acc = layer.acc_bits
        if layer.mode == MvauMode.XNOR:
            e.count("xnor", "1b", n, add_pj(1))
            e.count("add", f"{acc}b", n, add_pj(acc))
        elif layer.mode == MvauMode.MAC:
            e.count("mul", f"{layer.in_type.bits}x{layer.w_bits}b", n, mul_pj(layer.in_type.bits, layer.w_bits))
            e.count("add", f"{acc}b", n, add_pj(acc))
        elif layer.mode == MvauMode.BIPOLAR_W:
            e.count("add", f"{acc}b", n, add_pj(acc))
        else:  # ADDER: |x - w| then accumulate
            width = max(layer.in_type.bits, layer.w_bits) + 1
            e.count("sub", f"{width}b", n, add_pj(width))
            e.count("abs", f"{width}b", n, add_pj(width))
            e.count("add", f"{acc}b", n, add_pj(acc))
        weight_bits = layer.mh * layer.mw * layer.w_bits
        e.read(weight_bits * layer.vectors, weight_bits)
        return e
    if isinstance(layer, Thresholds):
        e = LayerEnergy(layer.name, "thresholds")
        steps = int(layer.thresholds.shape[1])
        e.count("compare", f"{layer.in_bits}b", layer.channels * steps, add_pj(layer.in_bits))
        table_bits = layer.channels * steps * layer.in_bits
        e.read(table_bits, table_bits)
        return e
    if isinstance(layer, MaxPool):
        e = LayerEnergy(layer.name, "max-pool")
        bits = layer.elem_type.bits
        e.count("compare", f"{bits}b", layer.ofm.pixels * layer.ofm.c * (layer.k * layer.k - 1), add_pj(bits))
        return e
    if isinstance(layer, SlidingWindow | Pad):
        e = LayerEnergy(layer.name, "sliding window" if isinstance(layer, SlidingWindow) else "padding")
        bits = layer.elem_type.bits
        if isinstance(layer, SlidingWindow):
            buffer_bits = (layer.k + layer.stride) * layer.ifm.w * layer.ifm.c * bits
            e.read(layer.ofm.pixels * layer.k * layer.k * layer.ifm.c * bits, buffer_bits)
        return e
    raise TypeError(f"layer_energy: unknown layer type {type(layer).__name__}")


ASSUMPTIONS = (
    "45 nm, 0.9 V per-operation energies (Horowitz, ISSCC 2014): add 0.03 pJ at 8 bits, 0.1 pJ at 32 bits, "
    "linear in the width (comparisons, subtractions, absolute values and XNORs as additions); multiply 0.2 pJ "
    "at 8x8 and 3.1 pJ at 32x32, scaled with the product of operand widths; SRAM 10/20/100 pJ per 64-bit read "
    "from 8 KiB/32 KiB/1 MiB, log-interpolated in size. Counts per inference from the integer network; every "
    "weight and threshold is read once per vector; control, registers, FIFOs and wires are not counted."
)


def network_energy(net: Network) -> dict:
    """Per-layer and total energy per inference (pJ) of the operation model, with its assumptions."""
    layers = [e for e in (layer_energy(x) for x in net.layers) if e is not None]
    total = sum(e.total_pj for e in layers)
    return {
        "how": "estimated: operation model (counts from the integer network x 45 nm per-operation energies)",
        "assumptions": ASSUMPTIONS,
        "layers": [e.as_dict() for e in layers],
        "total_pj": total,
        "compute_pj": sum(e.compute_pj for e in layers),
        "memory_pj": sum(e.memory_pj for e in layers),
    }
