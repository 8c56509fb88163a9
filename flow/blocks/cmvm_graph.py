"""The adder graph of a constant matrix-vector product (block ``cmvm``): built from a da4ml solution, evaluated
exactly in Python, pipelined, and written as Verilog.

Values, not encodings. A graph computes ``y = K^T b`` for the integer input elements ``b`` (the codes the
stream carries: ``MW`` elements of ``in_bits``) with shift-and-add nodes only, then per output an affine step
``y_j = scale * z_j + offset_j`` (``scale`` 1 or 2: the bipolar inputs ``x = 2b - 1`` of the XNOR and
BIPOLAR_X modes, see :mod:`flow.blocks.cmvm`).

Node arithmetic, integer only: node ``n`` holds ``v_n`` with real value ``v_n * 2**exp_n``. An adder node is
``v_n = u + s * 2**d`` or ``u - s * 2**d`` (``u``, ``s`` the integer values of two earlier nodes, ``d >= 0``,
both brought to the node's exponent), so its ``d`` low bits are ``u``'s and only the bits above them need a
carry chain. A reference (:class:`Ref`) to a node carries a shift and a sign, so negations and power-of-two
factors cost nothing until an output needs them. Widths come from exact interval arithmetic over the input
ranges (a sound bound: every node's value fits its width, so arithmetic mod ``2**width`` is exact).

Pipelining: an adder's level is one more than its deepest operand's (inputs: level 0). With ``levels = N >= 1``
an adder at level ``l`` is computed in stage ``ceil(l / N)``; ``N = 0`` puts every adder in stage 1. A value
used in a later stage than its own is carried by one register per stage boundary. The input register is the
boundary before stage 1, the output register (in ``hw/cmvm/cmvm.v``) the one after the last stage, so
``stages`` combinational stages take ``stages + 1`` cycles from an accepted input beat to a valid output beat.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from flow.blocks.bits import signed_range

__all__ = ["AdderGraph", "Node", "Ref", "from_da4ml", "signed_width"]


@dataclass(frozen=True)
class Ref:
    """``sign * v[node] * 2**shift`` in real terms (``shift`` relative to the node's exponent)."""

    node: int
    shift: int = 0
    neg: bool = False

    def scaled(self, shift: int, neg: bool = False) -> Ref:
        return Ref(self.node, self.shift + shift, self.neg != neg)


@dataclass
class Node:
    """One value of the graph: an input element (``u`` None) or ``u +/- s * 2**d`` (``sub``), integers."""

    exp: int
    lo: int
    hi: int
    level: int = 0
    index: int = -1  # input element index (inputs only)
    u: int = -1
    s: int = -1
    d: int = 0
    sub: bool = False

    @property
    def is_input(self) -> bool:
        return self.u < 0

    @property
    def signed(self) -> bool:
        return self.lo < 0

    @property
    def width(self) -> int:
        return signed_width(self.lo, self.hi) if self.signed else max(1, int(self.hi).bit_length())


def signed_width(lo: int, hi: int) -> int:
    """Fewest two's complement bits holding ``[lo, hi]``."""
    bits = 1
    while not (signed_range(bits)[0] <= lo and hi <= signed_range(bits)[1]):
        bits += 1
    return bits


@dataclass
class AdderGraph:
    """Nodes (inputs first), one output :class:`Ref` per output channel (``None``: the constant 0), the affine
    step ``scale``/``offsets`` and the pipelining (``levels`` per stage)."""

    nodes: list[Node]
    outputs: list[Ref | None]
    scale: int = 1
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    # -- building ------------------------------------------------------------------------------------------
    @classmethod
    def with_inputs(cls, ranges: Sequence[tuple[int, int]]) -> AdderGraph:
        return cls([Node(0, lo, hi, 0, i) for i, (lo, hi) in enumerate(ranges)], [])

    def add(self, a: Ref | None, b: Ref | None) -> Ref | None:
        """A reference to the value ``a + b`` (``None`` is 0): a new adder node unless one side is 0."""
        if a is None or b is None:
            return a if b is None else b
        if a.neg and b.neg:  # -(A + B): the node adds, the reference negates
            total = self.add(Ref(a.node, a.shift), Ref(b.node, b.shift))
            return None if total is None else total.scaled(0, True)
        if a.neg:
            a, b = b, a  # B - A
        # A +/- B with A positive; orient so that the unshifted operand is u
        ea, eb = self.nodes[a.node].exp + a.shift, self.nodes[b.node].exp + b.shift
        if b.neg and ea > eb:  # A - B with A the shifted one: store B - A, negate the reference
            return self._node(Ref(b.node, b.shift), Ref(a.node, a.shift), sub=True).scaled(0, True)
        if ea > eb:
            a, b = b, a
        return self._node(Ref(a.node, a.shift), Ref(b.node, b.shift), sub=b.neg)

    def _node(self, u: Ref, s: Ref, sub: bool) -> Ref:
        """A new node ``u +/- s`` in the units of ``u`` (the operand with the lower exponent)."""
        nu, ns = self.nodes[u.node], self.nodes[s.node]
        eu, es = nu.exp + u.shift, ns.exp + s.shift
        if es < eu:
            raise AssertionError("cmvm: adder operands in the wrong order")
        d = es - eu
        slo, shi = ns.lo * 2**d, ns.hi * 2**d
        lo, hi = (nu.lo - shi, nu.hi - slo) if sub else (nu.lo + slo, nu.hi + shi)
        self.nodes.append(Node(eu, lo, hi, 1 + max(nu.level, ns.level), u=u.node, s=s.node, d=d, sub=sub))
        return Ref(len(self.nodes) - 1)

    # -- evaluation ----------------------------------------------------------------------------------------
    def node_values(self, b: np.ndarray) -> list[np.ndarray]:
        """Every node's integer value for inputs ``b`` ``(batch, MW)`` (int64; object arithmetic not needed:
        widths stay far below 63 bits, checked by :meth:`check_widths`)."""
        b = np.asarray(b, dtype=np.int64)
        vals: list[np.ndarray] = []
        for n in self.nodes:
            if n.is_input:
                vals.append(b[:, n.index])
            else:
                u = vals[n.u]
                s = vals[n.s] << n.d
                vals.append(u - s if n.sub else u + s)
        return vals

    def ref_value(self, ref: Ref | None, vals: list[np.ndarray], batch: int) -> np.ndarray:
        """The real value of ``ref`` (an integer: the outputs' exponents are never negative in the end)."""
        if ref is None:
            return np.zeros(batch, np.int64)
        e = self.nodes[ref.node].exp + ref.shift
        v = vals[ref.node]
        v = v << e if e >= 0 else v >> -e
        return -v if ref.neg else v

    def evaluate(self, b: np.ndarray) -> np.ndarray:
        """``(batch, MW)`` input codes -> ``(batch, MH)`` outputs, computed node by node as the hardware does,
        with every node checked against its interval."""
        b = np.asarray(b, dtype=np.int64)
        vals = self.node_values(b)
        for i, (n, v) in enumerate(zip(self.nodes, vals, strict=True)):
            if v.size and (v.min() < n.lo or v.max() > n.hi):
                raise AssertionError(f"cmvm: node {i} left its interval [{n.lo}, {n.hi}]")
        z = np.stack([self.ref_value(r, vals, len(b)) for r in self.outputs], axis=1)
        return self.scale * z + self.offsets[None, :]

    # -- structure -----------------------------------------------------------------------------------------
    def used(self) -> list[bool]:
        """Which nodes an output depends on."""
        used = [False] * len(self.nodes)
        stack = [r.node for r in self.outputs if r is not None]
        while stack:
            i = stack.pop()
            if used[i]:
                continue
            used[i] = True
            n = self.nodes[i]
            if not n.is_input:
                stack += [n.u, n.s]
        return used

    def output_needs_adder(self, j: int) -> bool:
        """Whether output ``j``'s affine step needs an adder (a negation or an offset), not only wiring."""
        r = self.outputs[j]
        if r is None:
            return False
        return r.neg or int(self.offsets[j]) != 0

    def depth(self) -> int:
        """Adder levels on the longest path, the outputs' affine adders included."""
        levels = [0]
        for j, r in enumerate(self.outputs):
            if r is not None:
                levels.append(self.nodes[r.node].level + int(self.output_needs_adder(j)))
        return max(levels)

    def stages(self, levels: int) -> int:
        """Combinational stages with a register every ``levels`` adder levels (0: one stage)."""
        if levels <= 0:
            return 1
        return max(1, math.ceil(self.depth() / levels))

    def adders(self) -> list[tuple[int, int]]:
        """``(carry-chain bits, node)`` of every adder node the outputs use: the node's width minus the low bits
        that pass through (the outputs' own adders, :meth:`output_needs_adder`, are not included)."""
        used = self.used()
        out = []
        for i, n in enumerate(self.nodes):
            if used[i] and not n.is_input:
                out.append((max(0, n.width - n.d), i))
        return out


def from_da4ml(pipeline, ranges: Sequence[tuple[int, int]]) -> AdderGraph:
    """The :class:`AdderGraph` of a da4ml ``Pipeline`` (``da4ml.cmvm.solve``) over integer inputs in
    ``ranges``: each stage's ``a +/- b * 2**shift`` operations (opcodes 0, 1) become adder nodes; the stages'
    input and output shifts and output signs become reference shifts and signs. Any other opcode raises
    :class:`ValueError` (``solve`` emits none)."""
    g = AdderGraph.with_inputs(ranges)
    prev: list[Ref | None] = [Ref(i) for i in range(len(ranges))]
    for sol in pipeline.solutions:
        refs: list[Ref | None] = []
        for op in sol.ops:
            if op.opcode == -1:
                r = prev[op.id0]
                refs.append(None if r is None else r.scaled(int(sol.inp_shifts[op.id0])))
            elif op.opcode in (0, 1):
                a, b = refs[op.id0], refs[op.id1]
                b = None if b is None else b.scaled(int(op.data), neg=op.opcode == 1)
                refs.append(g.add(a, b))
            else:
                raise ValueError(f"cmvm: da4ml operation with opcode {op.opcode} is not an addition ({op})")
        prev = []
        for idx, shift, neg in zip(sol.out_idxs, sol.out_shifts, sol.out_negs, strict=True):
            r = refs[idx] if idx >= 0 else None
            prev.append(None if r is None else r.scaled(int(shift), bool(neg)))
    g.outputs = prev
    return g
