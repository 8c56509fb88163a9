"""Energy per inference from an operation model: per-block operation counts times per-operation energies.

Counts come from the exact integer network (:class:`flow.compile.network.Network`), per inference, through
each layer's block (``energy`` in :mod:`flow.blocks.<name>`):

* matrix-vector layers (per window for convolutions): XNOR mode -- ``MH*MW`` 1-bit XNORs and ``MH*MW``
  popcount additions at the accumulator width; MAC -- ``MH*MW`` multiplies (input bits x weight bits) and
  ``MH*MW`` additions at the accumulator width; binary weights with k-bit inputs -- ``MH*MW`` additions
  (add or subtract); AdderNet -- ``MH*MW`` subtractions, absolute values and additions;
  weight memory reads: ``MH*MW*W_BITS`` bits (every weight read once per vector);
* thresholds: ``N_THRESH`` comparisons at the accumulator width per element (per window after a
  convolution), threshold memory reads once per vector;
* max-pool: ``K*K - 1`` comparisons per output element; sliding-window and padding blocks move data only
  (the sliding window's line-buffer reads are counted as SRAM accesses of the element width).

The per-operation energies and their sources are in :mod:`flow.blocks.cost`.
"""

from __future__ import annotations

from dataclasses import dataclass

from flow.blocks.cost import OpEnergy, add_pj, mul_pj, sram_pj
from flow.blocks.registry import BLOCKS
from flow.compile.network import Network, flat_layers

__all__ = ["ASSUMPTIONS", "LayerEnergy", "add_pj", "layer_energy", "mul_pj", "network_energy", "sram_pj"]


@dataclass
class LayerEnergy(OpEnergy):
    """:class:`~flow.blocks.cost.OpEnergy` of one network layer, named."""

    layer: str = ""


def layer_energy(layer) -> LayerEnergy | None:
    """Counts and energy per inference of one network layer, by its block's operation model (``None`` for
    layers without hardware)."""
    block = getattr(layer, "block", None)
    if block is None:
        return None
    spec = BLOCKS[block]
    params = layer.params
    e = spec.energy(params, layer.in_features // spec.ports(params)[0].elems)
    return LayerEnergy(**vars(e), layer=layer.name)


ASSUMPTIONS = (
    "45 nm, 0.9 V per-operation energies (Horowitz, ISSCC 2014): add 0.03 pJ at 8 bits, 0.1 pJ at 32 bits, "
    "linear in the width (comparisons, subtractions, absolute values and XNORs as additions); multiply 0.2 pJ "
    "at 8x8 and 3.1 pJ at 32x32, scaled with the product of operand widths; SRAM 10/20/100 pJ per 64-bit read "
    "from 8 KiB/32 KiB/1 MiB, log-interpolated in size. Counts per inference from the integer network; every "
    "weight and threshold is read once per vector; control, registers, FIFOs and wires are not counted."
)


def network_energy(net: Network) -> dict:
    """Per-layer and total energy per inference (pJ) of the operation model, with its assumptions."""
    layers = [e for e in (layer_energy(x) for x in flat_layers(net.layers)) if e is not None]
    return {
        "how": "estimated: operation model (counts from the integer network x 45 nm per-operation energies)",
        "assumptions": ASSUMPTIONS,
        "layers": [e.as_dict() for e in layers],
        "total_pj": sum(e.total_pj for e in layers),
        "compute_pj": sum(e.compute_pj for e in layers),
        "memory_pj": sum(e.memory_pj for e in layers),
    }
