"""Verilog of one ``cmvm`` layer: its :class:`~flow.blocks.cmvm_graph.AdderGraph` as a pipelined netlist of
adders inside a module that instantiates ``hw/cmvm/cmvm.v`` (input register, pipeline enable, output
register slice) -- see :mod:`flow.blocks.cmvm` for the contract.

Each adder node becomes ``assign n<i> = {u[W-1:d] +/- s, u[d-1:0]}`` (the ``d`` low bits of the shifted
operand are zero, so only ``W - d`` bits need a carry chain), every operand explicitly sign- or zero-extended
to the node's width ``W``; a value used ``k`` stages after its own gets ``k`` registers ``n<i>_p<stage>``
(clock enable ``ce``). Widths match on every assignment (Verilator ``-Wall`` clean but for bits a consumer
does not read, which the module waives).
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from flow.blocks.cmvm_graph import AdderGraph

__all__ = ["emit_layer", "node_stages"]

TEMPLATE = Path(__file__).resolve().parent / "templates" / "cmvm_layer.v.j2"


def node_stages(graph: AdderGraph, levels: int) -> list[int]:
    """The stage of every node: 0 for inputs (the input register), ``ceil(level / levels)`` for adders
    (``levels`` 0: all in stage 1)."""
    out = []
    for n in graph.nodes:
        if n.is_input:
            out.append(0)
        elif levels <= 0:
            out.append(1)
        else:
            out.append(-(-n.level // levels))
    return out


def _ext(name: str, width: int, signed: bool, shift: int, to: int) -> str:
    """A ``to``-bit expression equal to ``(v << shift) mod 2**to`` for the ``width``-bit value ``v`` in the wire
    ``name`` (two's complement if ``signed``); a negative ``shift`` is an exact arithmetic right shift (the bits
    dropped are zero: the value is a multiple of ``2**-shift``)."""
    low = 0
    if shift < 0:
        low, shift = -shift, 0
        if low >= width:
            return f"{{{to}{{1'b0}}}}"
    if to <= shift:
        return f"{{{to}{{1'b0}}}}"
    keep = min(width - low, to - shift)  # bits of v taken, from bit `low` up
    parts = []
    pad = to - shift - keep
    if pad:
        parts.append(f"{{{pad}{{{_msb(name, width, signed)}}}}}")
    parts.append(name if (low, keep) == (0, width) else f"{name}[{low + keep - 1}:{low}]")
    if shift:
        parts.append(f"{{{shift}{{1'b0}}}}")
    return parts[0] if len(parts) == 1 else "{" + ", ".join(parts) + "}"


def _msb(name: str, width: int, signed: bool) -> str:
    """The bit that extends a ``width``-bit value: its sign bit, or a zero."""
    return f"{name}[{width - 1}]" if signed else "1'b0"


def _literal(value: int, bits: int) -> str:
    return f"{bits}'h{value % (1 << bits):x}"


def emit_layer(graph: AdderGraph, module: str, *, mw: int, mh: int, in_bits: int, acc_bits: int,
               levels: int, stages: int, skid_in: bool, comment: str = "") -> str:
    """The Verilog text of the layer module ``module`` (ports ``clk``, ``rst_n``, ``s_axis_*``, ``m_axis_*``;
    parameters ``MW``, ``MH``, ``IN_BITS``, ``ACC_BITS`` checked against the generated values)."""
    stage = node_stages(graph, levels)
    used = graph.used()
    nodes = graph.nodes
    decls: list[str] = []
    assigns: list[str] = []
    regs: dict[tuple[int, int], str] = {}  # (node, stage) -> register name, created on demand

    def name(i: int, k: int) -> str:
        """Node ``i``'s value as stage ``k`` sees it."""
        own = stage[i]
        if k == own or (own == 0 and k == 1):
            return f"n{i}"
        for j in range(max(own + 1, 2 if own == 0 else own + 1), k + 1):
            regs.setdefault((i, j), f"n{i}_p{j}")
        return f"n{i}_p{k}"

    for i, n in enumerate(nodes):
        if not used[i]:
            continue
        w = n.width
        if n.is_input:
            decls.append(f"    wire [{w - 1}:0] n{i} = x[{n.index * in_bits + w - 1}:{n.index * in_bits}];")
            continue
        k = stage[i]
        u, s = nodes[n.u], nodes[n.s]
        ue = _ext(name(n.u, k), u.width, u.signed, 0, w)
        op = "-" if n.sub else "+"
        if n.d == 0:
            decls.append(f"    wire [{w - 1}:0] n{i};")
            assigns.append(f"    assign n{i} = {ue} {op} {_ext(name(n.s, k), s.width, s.signed, 0, w)};")
        elif n.d >= w:
            decls.append(f"    wire [{w - 1}:0] n{i};")
            assigns.append(f"    assign n{i} = {ue};")
        else:
            se = _ext(name(n.s, k), s.width, s.signed, 0, w - n.d)
            decls.append(f"    wire [{w - 1}:0] n{i}_u, n{i};")
            assigns.append(f"    assign n{i}_u = {ue};")
            assigns.append(f"    assign n{i} = {{n{i}_u[{w - 1}:{n.d}] {op} {se}, n{i}_u[{n.d - 1}:0]}};")

    outs = []
    scale_shift = {1: 0, 2: 1}[graph.scale]
    for j, r in enumerate(graph.outputs):
        lo = j * acc_bits
        offset = int(graph.offsets[j]) if len(graph.offsets) else 0
        if r is None:
            outs.append(f"    assign y[{lo + acc_bits - 1}:{lo}] = {_literal(offset, acc_bits)};")
            continue
        n = nodes[r.node]
        e = n.exp + r.shift + scale_shift
        val = _ext(name(r.node, stages), n.width, n.signed, e, acc_bits)
        if r.neg:
            expr = f"{_literal(offset, acc_bits)} - {val}"
        elif offset:
            expr = f"{_literal(offset, acc_bits)} + {val}"
        else:
            expr = val
        outs.append(f"    assign y[{lo + acc_bits - 1}:{lo}] = {expr};")

    reg_decls, reg_assigns = [], []
    for (i, j), rname in sorted(regs.items()):
        w = nodes[i].width
        src = f"n{i}" if j - 1 == stage[i] or (stage[i] == 0 and j == 2) else f"n{i}_p{j - 1}"
        reg_decls.append(f"    reg  [{w - 1}:0] {rname};")
        reg_assigns.append(f"            {rname} <= {src};")

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE.parent), trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template(TEMPLATE.name).render(
        module=module, mw=mw, mh=mh, in_bits=in_bits, acc_bits=acc_bits, levels=levels, stages=stages,
        skid_in=int(skid_in),
        comment=comment, adders=len(graph.adders()), depth=graph.depth(),
        body="\n".join(decls + reg_decls + assigns + outs), reg_assigns="\n".join(reg_assigns),
    )
