"""Elementwise add of two streams (``hw/residual/eltwise_add.v``): the join of a residual block.

``y = (a << A_SHIFT) + (b << B_SHIFT)`` per lane, ``ELEMS`` lanes per beat: ``a`` and ``b`` are the integer codes
of the two branches, the shifts align their binary points, so the sum is the exact sum of the two real values
read with the larger fraction count. Parameters (``OUT_BITS`` derived so that every sum fits), golden model,
packers, the timing model (one register stage, exact for the RTL), a structural resource estimate and the
operation count.

Its spec's ``ports`` gives the ``a`` input (``s0_axis``) and the output; the planner wires ``b`` (``s1_axis``) and
joins the two inputs' timing (a pair is taken when both beats are there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from flow.blocks.bits import check_positive, encode, pack_fields, signed_range, unpack_fields, unsigned_range
from flow.blocks.cost import OpEnergy, Resources, add_pj, carry4
from flow.blocks.spec import BlockSpec, Stream, register_times
from flow.paths import HW_ROOT

__all__ = ["HW_SOURCES", "SPEC", "EltwiseAddParams", "estimate_resources", "golden", "join_times", "pack_inputs",
           "unpack_outputs"]

#: Verilog files of the block.
HW_SOURCES = (HW_ROOT / "residual" / "eltwise_add.v",)


def _range(bits: int, signed: bool) -> tuple[int, int]:
    return signed_range(bits) if signed else unsigned_range(bits)


@dataclass(frozen=True)
class EltwiseAddParams:
    """Parameters of one ``eltwise_add`` instance (Verilog names in upper case; the ``*_SIGNED`` as bools)."""

    elems: int
    a_bits: int
    a_signed: bool
    a_shift: int
    b_bits: int
    b_signed: bool
    b_shift: int

    @property
    def out_range(self) -> tuple[int, int]:
        """The smallest and largest sum."""
        (alo, ahi), (blo, bhi) = _range(self.a_bits, self.a_signed), _range(self.b_bits, self.b_signed)
        return (alo << self.a_shift) + (blo << self.b_shift), (ahi << self.a_shift) + (bhi << self.b_shift)

    @property
    def out_bits(self) -> int:
        """Two's complement width that holds every sum (and more than either input)."""
        lo, hi = self.out_range
        bits = 2
        while not (-(1 << (bits - 1)) <= lo and hi < (1 << (bits - 1))):
            bits += 1
        return max(bits, self.a_bits + 1, self.b_bits + 1)

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad parameter, what was expected and what arrived."""
        for name in ("elems", "a_bits", "b_bits"):
            check_positive("eltwise_add", name, getattr(self, name))
        for name in ("a_shift", "b_shift"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"eltwise_add: {name} expected an integer >= 0, got {getattr(self, name)!r}")

    def verilog_parameters(self) -> dict[str, int]:
        """The Verilog parameter map."""
        self.validate()
        return {"ELEMS": self.elems, "A_BITS": self.a_bits, "A_SIGNED": int(self.a_signed), "A_SHIFT": self.a_shift,
                "B_BITS": self.b_bits, "B_SIGNED": int(self.b_signed), "B_SHIFT": self.b_shift,
                "OUT_BITS": self.out_bits}


def golden(a: np.ndarray, b: np.ndarray, params: EltwiseAddParams) -> np.ndarray:
    """Codes ``a`` and ``b`` of the same shape -> their aligned sums (int64). Codes outside their types raise
    :class:`ValueError`."""
    params.validate()
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if a.shape != b.shape:
        raise ValueError(f"eltwise_add: a and b expected the same shape, got {a.shape} and {b.shape}")
    encode(a, params.a_bits, params.a_signed, "eltwise_add: a")  # range checks
    encode(b, params.b_bits, params.b_signed, "eltwise_add: b")
    return (a << params.a_shift) + (b << params.b_shift)


def pack_inputs(x: np.ndarray, bits: int, signed: bool, elems: int) -> list[int]:
    """Codes (any shape, lane order last) -> beats of ``elems`` fields of ``bits``."""
    return pack_fields(encode(np.asarray(x), bits, signed, "eltwise_add input").reshape(-1, elems), bits)


def unpack_outputs(beats: Sequence[int], params: EltwiseAddParams) -> np.ndarray:
    """Output beats -> ``(beats, ELEMS)`` sums."""
    return unpack_fields(list(beats), params.elems, params.out_bits, signed=True)


def join_times(a_valid: Sequence[int], b_valid: Sequence[int]) -> list[int]:
    """When pair i can be taken at the earliest: both of its beats valid."""
    if len(a_valid) != len(b_valid):
        raise ValueError(f"eltwise_add: the two inputs expected the same beats, got {len(a_valid)} and {len(b_valid)}")
    return [max(a, b) for a, b in zip(a_valid, b_valid, strict=True)]


def estimate_resources(params: EltwiseAddParams) -> Resources:
    """Structural estimate, compared with Yosys ``synth_xilinx`` on three points (LUT within 30 %, FF and CARRY4
    exact there): the bits below the larger shift come from one input alone (wires), the adder spans the bits
    above it up to the wider shifted input (one LUT each, on carry chains), the bits above are its sign;
    five LUTs of handshake; flip-flops are the output register and its valid bit."""
    params.validate()
    top = max(params.a_bits + params.a_shift, params.b_bits + params.b_shift)
    adder_bits = top - max(params.a_shift, params.b_shift)
    width = params.elems * params.out_bits
    return Resources(lut=params.elems * adder_bits + 5, ff=width + 1, carry4=params.elems * carry4(params.out_bits))


def energy(params: EltwiseAddParams, in_beats: int) -> OpEnergy:
    """One ``OUT_BITS`` addition per element pair."""
    e = OpEnergy("residual add")
    e.count("add", f"{params.out_bits}b", in_beats * params.elems, add_pj(params.out_bits))
    return e


SPEC = BlockSpec(
    name="eltwise_add",
    params_type=EltwiseAddParams,
    sources=HW_SOURCES,
    ports=lambda p: (Stream(p.elems, p.a_bits), Stream(p.elems, p.out_bits)),
    verilog_parameters=lambda p, mem: p.verilog_parameters(),
    # the planner passes the joined valid times (join_times): from there one register stage
    output_times=lambda p, valid: register_times(valid),
    cycles=lambda p, in_beats: in_beats,
    out_beats=lambda p, in_beats: in_beats,
    latency=lambda p: 1,
    estimate=lambda p, data: estimate_resources(p),
    energy=energy,
    port_names=("s0_axis", "m_axis"),
    extra_ports=lambda p: {"s1_axis": ("in", Stream(p.elems, p.b_bits))},
)
