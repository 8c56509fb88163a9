"""Energy per inference from switching activity: per-bit toggle counts of a Verilator simulation (SAIF).

What is measured. The generated design is built a second time, in its own directory (``build/<recipe>/
activity/``; the untraced build in ``rtl/obj`` is left alone), with ``--trace-saif`` and a C++ driver of the
same batch harness that samples every traced signal of ``qflow_accel`` once per clock cycle (after the clock
edge, so values are the settled, zero-delay ones: no glitches). The harness runs ``N`` test inputs back to
back with no stalls and the outputs are compared with the golden integer network (``==``).

Window. The SAIF writer counts a bit that is 1 at its first sample as a toggle; so the same simulation is run
twice, once stopped when reset is released (cycle 5 of the harness) and once to the last output beat, and
the per-bit toggle counts (TC) of the first run are subtracted from the second's: what remains are the
toggles from the cycle reset is released to the cycle the last output is accepted, pipeline fill and drain
included. Divided by ``N`` that is toggles per inference.

What is counted. Every signal Verilator traces inside ``qflow_accel``: ports, wires and variables declared in
the RTL, and unpacked arrays of at most :data:`MAX_TRACED_ARRAY` entries (registers such as output queues and
small FIFOs). Not counted: deeper arrays (weight and threshold ROMs, deep FIFOs, line buffers: memories,
whose reads the operation model charges as SRAM accesses), parameters, the clock net (sampled once per cycle,
so it never toggles in the trace: no clock tree), reset, and the nets a synthesis tool would add inside
expressions (adder and popcount trees are traced only where the RTL names a signal), and glitches; synthesis
may in turn merge or remove RTL signals that are counted. A signal seen from
several scopes (a port and the wire it connects to, an ``assign`` alias) has one Verilator trace code and is
counted once, in the deepest scope that drives it (not an input port there): stream wires between blocks go to
the block that drives them. Registers and combinational signals are counted alike: the SAIF does not say which
is which, and Verilator's trace declarations do not either (it declares every port a wire, ``output reg``
included).

Energy. ``E = toggles x E_toggle`` with ``E_toggle = 0.5 * C * V^2`` (:class:`ToggleEnergy`): by default
C = 1 fF switched per bit-net and V = 0.9 V (the supply of the operation model's 45 nm figures), 0.405 fJ per
toggle. C is an assumption of the order of one 45 nm gate input plus a short wire; it is not extracted from
a layout, and every net gets the same C.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flow import proc
from flow.estimate.activity_build import MAX_TRACED_ARRAY, ActivityError, build, prepare, reset_release_cycles
from flow.estimate.saif import Saif, read_saif
from flow.rtl.backend import cxx_opt_level
from flow.rtl.generate import pack_input_words, unpack_output_words
from flow.rtl.verilator import run_harness

log = logging.getLogger(__name__)

DEFAULT_INFERENCES = 200
DUT_SCOPE = ("qflow_harness", "dut")  # the harness instantiates qflow_accel as ``dut``
TOP_LEVEL = "(top level)"
SAIF_FULL, SAIF_START, TRACE_MAP = "activity.saif", "activity_start.saif", "activity_tracemap.tsv"


@dataclass(frozen=True)
class ToggleEnergy:
    """Energy of one toggle of one bit-net: ``0.5 * C * V^2`` (C in fF, V in volts)."""

    capacitance_ff: float = 1.0
    supply_v: float = 0.9

    @property
    def pj_per_toggle(self) -> float:
        return 0.5 * self.capacitance_ff * 1e-15 * self.supply_v**2 * 1e12

    def describe(self) -> str:
        return (f"E_toggle = 0.5 C V^2 = 0.5 x {self.capacitance_ff:g} fF x ({self.supply_v:g} V)^2 = "
                f"{self.pj_per_toggle * 1000:.3g} fJ per toggle of one bit-net (C assumed, the same for every net: "
                "about one 45 nm gate input plus a short wire, not extracted from a layout; V is the supply of "
                "the operation model's 45 nm figures)")


# -- attribution --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceDecl:
    """One traced declaration: Verilator trace code, port direction, kind, width, scope path and net name."""

    code: int
    direction: str  # none | input | output | inout
    kind: str  # wire | var | parameter | other
    width: int
    scope: tuple[str, ...]
    name: str  # as the SAIF names the net: ``mem[3]`` for element 3 of an unpacked array


def read_trace_map(path: Path) -> list[TraceDecl]:
    """Parse the declarations file the traced driver writes (``+tracemap=``)."""
    decls = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        fields = line.split("\t")
        if len(fields) != 7:
            raise ActivityError(f"{path}:{number}: expected 7 tab-separated fields, got {len(fields)}")
        code, direction, kind, msb, lsb, arraynum, hier = fields
        parts = tuple(hier.split(" "))
        name = parts[-1] + (f"[{arraynum}]" if int(arraynum) >= 0 else "")
        decls.append(TraceDecl(int(code), direction, kind, abs(int(msb) - int(lsb)) + 1, parts[:-1], name))
    return decls


@dataclass
class BlockActivity:
    """Toggles in the window of the signal bits a block drives (or the top level's), and how many bits."""

    instance: str
    toggles: int = 0
    bits: int = 0


def _dut_prefix(saif: Saif) -> tuple[str, ...]:
    for path in saif.instances:
        if path[-len(DUT_SCOPE):] == DUT_SCOPE:
            return path
    raise ActivityError(f"SAIF has no instance .../{'/'.join(DUT_SCOPE)} (the harness's qflow_accel)")


def _bits_under(saif: Saif, prefix: tuple[str, ...]) -> dict[tuple[tuple[str, ...], str], int]:
    """TC of every bit at or below ``prefix``, keyed by (scope relative to ``prefix``, ``name`` or ``name[i]``)."""
    n = len(prefix)
    return {(path[n:], ident): activity.tc for path, net in saif.nets(prefix) for ident, activity in net.bit_names()}


def _identifiers(d: TraceDecl) -> list[str]:
    # The SAIF writer adds a bit index only to signals wider than one bit (so a 1-bit array element is "q[0]").
    return [d.name] if d.width == 1 else [f"{d.name}[{i}]" for i in range(d.width)]


def attribute(full: Saif, start: Saif, decls: list[TraceDecl]) -> tuple[dict[str, BlockActivity], dict]:
    """Toggles of ``full`` minus those of ``start``, per driven signal bit, summed by block instance.

    Each trace code (one signal) is counted once, in its deepest declaration that is not an input port; its
    block is the first scope under ``qflow_accel`` (:data:`TOP_LEVEL` for signals of the top module itself).
    Codes whose every declaration inside ``qflow_accel`` is an input port are not counted: ``clk`` and
    ``rst_n``, and ports fed by an expression that is no named signal (in ``hw/`` these are part-selects of
    counted buses, e.g. one PE's slice of a weight word); their bits are reported as
    ``input_only_bits_skipped``. Raises :class:`ActivityError` when the SAIF and the declarations disagree (a
    SAIF bit no declaration names, a declared bit missing from the SAIF, fewer toggles in ``full`` than in
    ``start``). Returns (blocks by instance, counts of what was and was not counted).
    """
    n = len(DUT_SCOPE)
    inside = [d for d in decls if d.scope[:n] == DUT_SCOPE]
    if not inside:
        raise ActivityError(f"trace map: no declaration under {'/'.join(DUT_SCOPE)}")
    tc_full, tc_start = _bits_under(full, _dut_prefix(full)), _bits_under(start, _dut_prefix(start))
    known = {(d.scope[n:], ident) for d in inside for ident in _identifiers(d)}
    unknown = ["/".join((*scope, ident)) for scope, ident in tc_full if (scope, ident) not in known]
    if unknown:
        raise ActivityError(f"{len(unknown)} SAIF bit(s) have no recorded declaration (e.g. {unknown[:3]}): the "
                            "trace-map hook missed them, toggles cannot be de-duplicated")
    by_code: dict[int, list[TraceDecl]] = defaultdict(list)
    parameters = 0
    for d in inside:
        if d.kind == "parameter":
            parameters += 1
        else:
            by_code[d.code].append(d)
    blocks: dict[str, BlockActivity] = {}
    input_only_bits = 0
    for code, ds in by_code.items():
        drivers = [d for d in ds if d.direction != "input"]
        if not drivers:
            input_only_bits += ds[0].width
            continue
        owner = max(drivers, key=lambda d: len(d.scope))  # the first of the deepest
        rel = owner.scope[n:]
        toggles = 0
        for ident in _identifiers(owner):
            key = (rel, ident)
            if key not in tc_full:
                raise ActivityError(f"signal bit {'/'.join((*rel, ident))} (trace code {code}) is not in the SAIF")
            before = tc_start.get(key, 0)
            if tc_full[key] < before:
                raise ActivityError(f"signal bit {'/'.join((*rel, ident))}: fewer toggles in the full run "
                                    f"({tc_full[key]}) than before the window ({before}): the runs differ")
            toggles += tc_full[key] - before
        instance = rel[0] if rel else TOP_LEVEL
        block = blocks.setdefault(instance, BlockActivity(instance))
        block.toggles += toggles
        block.bits += owner.width
    counts = {"signals": len(by_code), "signal_bits": sum(b.bits for b in blocks.values()),
              "parameters_skipped": parameters, "input_only_bits_skipped": input_only_bits,
              "declarations": len(inside), "saif_bits": len(tc_full)}
    return blocks, counts


# -- the measurement --------------------------------------------------------------------------------------------


def _simulate(net, design, x: np.ndarray, golden: np.ndarray, directory: Path, start_cycle: int) -> int:
    """Run the traced harness on the ``len(x)`` inputs twice: to the last output beat (SAIF and trace map) and
    to ``start_cycle`` (the window-start SAIF). Returns how many outputs of the full run differ from ``golden``."""
    n = len(x)
    for stale in (SAIF_FULL, SAIF_START, TRACE_MAP):
        (directory / stale).unlink(missing_ok=True)
    run = run_harness(directory, pack_input_words(net, x), design.interface["output"]["tdata_width"], n,
                      tag="activity", plusargs=(f"+saif={SAIF_FULL}", f"+tracemap={TRACE_MAP}"))
    got = unpack_output_words(net, run.words)
    differing = int((got != golden.reshape(got.shape)).any(axis=1).sum())
    result = proc.run(
        [str((directory / "obj" / "Vqflow_harness").resolve()), "+in=activity_stimulus.bin",
         "+out=activity_start_outputs.bin", f"+n={n}", f"+saif={SAIF_START}", f"+saif_until={start_cycle}"],
        cwd=directory)
    if result.returncode != 0 or not (directory / SAIF_START).is_file():
        raise ActivityError(f"{directory}: window-start run failed (exit {result.returncode}): "
                            f"{(result.stdout + result.stderr).strip()[-500:]}")
    return differing


def _block_rows(design, blocks: dict[str, BlockActivity], n: int, pj: float) -> list[dict]:
    """One row per block of ``interface.json`` (in its order, with its module and layer); toggles in a scope
    that is no block (nor the top level) raise :class:`ActivityError`."""
    layer_of = {b["instance"]: b["layer"] for b in design.interface["blocks"]}
    module_of = {b["instance"]: b["module"] for b in design.interface["blocks"]}
    rows = []
    for b in design.interface["blocks"]:
        a = blocks.get(b["instance"], BlockActivity(b["instance"]))
        rows.append(_row(a, n, pj) | {"module": module_of[a.instance], "layer": layer_of[a.instance]})
    extra = sorted(set(blocks) - set(layer_of) - {TOP_LEVEL})
    if extra:
        raise ActivityError(f"toggles in scopes that are no block of interface.json: {extra}")
    return rows


def _layer_rows(block_rows: list[dict]) -> list[dict]:
    """The block rows summed per layer (layers in the order their first block appears)."""
    layers: dict[str, dict] = {}
    for row in block_rows:
        layer = layers.setdefault(row["layer"], {"layer": row["layer"], "blocks": [], "toggles_per_inference": 0.0,
                                                 "bits": 0, "pj": 0.0})
        layer["blocks"].append(row["instance"])
        layer["toggles_per_inference"] += row["toggles_per_inference"]
        layer["bits"] += row["bits"]
        layer["pj"] += row["pj"]
    return list(layers.values())


def measure_activity(net, design, x_int: np.ndarray, golden: np.ndarray, directory: Path,
                     inferences: int = DEFAULT_INFERENCES, energy: ToggleEnergy | None = None,
                     opt: str | None = None, inputs: str = "the test split") -> dict:
    """Switching-activity energy per inference of ``design`` on the first ``inferences`` rows of ``x_int``.

    ``net`` is the integer :class:`~flow.compile.network.Network`, ``design`` its
    :class:`~flow.rtl.generate.RtlDesign`, ``golden`` the network's outputs for ``x_int`` (the traced run's
    outputs are compared with them: ``outputs_differing`` in the result); ``inputs`` names where ``x_int``
    comes from. ``directory`` holds the traced build and the SAIF files. Returns the ``energy_activity`` dict
    of ``report.json`` (per block and per layer: toggles per inference, bits, pJ; the window; the assumptions;
    seconds per step).
    """
    energy = energy or ToggleEnergy()
    n = min(int(inferences), len(x_int))
    if n < 1:
        raise ActivityError(f"activity run: need at least one input, got {inferences} (of {len(x_int)})")
    directory = Path(directory)
    t0 = time.perf_counter()
    sources = prepare(design, directory)
    start_cycle = reset_release_cycles((directory / "harness.v").read_text())
    _, rebuilt = build(directory, sources, opt or cxx_opt_level(net))
    t_build = time.perf_counter() - t0

    t0 = time.perf_counter()
    differing = _simulate(net, design, np.asarray(x_int)[:n], np.asarray(golden)[:n], directory, start_cycle)
    t_sim = time.perf_counter() - t0

    t0 = time.perf_counter()
    full, start = read_saif(directory / SAIF_FULL), read_saif(directory / SAIF_START)
    blocks, counts = attribute(full, start, read_trace_map(directory / TRACE_MAP))
    t_parse = time.perf_counter() - t0
    duration = full.duration or 0
    window = duration - start_cycle

    pj = energy.pj_per_toggle
    block_rows = _block_rows(design, blocks, n, pj)
    top = _row(blocks.get(TOP_LEVEL, BlockActivity(TOP_LEVEL)), n, pj)
    total_toggles = sum(a.toggles for a in blocks.values())
    log.info("%s: %d inferences, %.0f toggles/inference, %.2f pJ/inference (build %.1f s, simulate %.1f s, "
             "parse %.1f s)", directory, n, total_toggles / n, total_toggles / n * pj, t_build, t_sim, t_parse)
    return {
        "how": f"simulated switching activity: Verilator SAIF toggle counts over the first {n} inputs of {inputs} "
               "(no stalls, outputs compared with the golden network) x an assumed energy per toggle",
        "assumptions": energy.describe() + ". " + COUNTED,
        "pj_per_toggle": pj,
        "capacitance_ff": energy.capacitance_ff,
        "supply_v": energy.supply_v,
        "inferences": n,
        "inputs": inputs,
        "outputs_differing": differing,
        "window": {"first_cycle": start_cycle, "last_cycle": duration, "cycles": window,
                   "cycles_per_inference": window / n,
                   "what": "from the clock edge that releases reset to the one that accepts the last output beat "
                           "(pipeline fill and drain included); toggles before it are subtracted"},
        "total_pj": total_toggles / n * pj,
        "toggles_per_inference": total_toggles / n,
        "layers": _layer_rows(block_rows),
        "blocks": block_rows,
        "top_level": top | {"what": "signals of qflow_accel's own scope that no block drives: the input stream "
                                    "from the harness"},
        "counts": counts,
        "max_traced_array": MAX_TRACED_ARRAY,
        "saif": str(directory / SAIF_FULL),
        "seconds": {"build": round(t_build, 2), "rebuilt": rebuilt, "simulate": round(t_sim, 2),
                    "parse": round(t_parse, 2), "total": round(t_build + t_sim + t_parse, 2)},
    }


COUNTED = (f"Counted: every signal bit Verilator traces in qflow_accel (ports, wires, reg variables, unpacked arrays "
           f"of at most {MAX_TRACED_ARRAY} entries), registers and combinational signals alike (neither the SAIF nor "
           "Verilator's trace says which is which), sampled once per clock cycle (zero delay), each signal once (one "
           "trace code) in the block that drives it. Not counted: memories (deeper arrays: weight "
           "and threshold ROMs, deep FIFOs, line buffers), parameters, the clock (no clock tree) and reset, glitches, "
           "and the nets synthesis adds inside expressions (adder/popcount trees). This is RTL-visible activity, not "
           "a netlist's: synthesis also merges or removes some of the RTL signals counted here.")


def _row(a: BlockActivity, n: int, pj: float) -> dict:
    return {"instance": a.instance, "toggles_per_inference": a.toggles / n, "bits": a.bits,
            "pj": a.toggles / n * pj}


def compare_with_operation_model(op_energy: dict, activity: dict) -> dict[str, dict]:
    """Per layer, the two energy estimates side by side (pJ per inference)::

        {layer: {"op_model_pj", "op_model_compute_pj", "activity_pj", "toggles_per_inference"}}

    ``op_energy`` is :func:`flow.estimate.energy.network_energy`'s dict, ``activity`` :func:`measure_activity`'s.
    ``op_model_compute_pj`` leaves out the model's memory reads, which the activity does not trace. Layers come
    in the operation model's order, then any only the activity run has; a figure one side lacks is None, never
    zero. The top level's toggles (the input stream) come last under :data:`TOP_LEVEL`, with no model figure.
    """
    op = {e["layer"]: e for e in op_energy.get("layers", [])}
    act = {e["layer"]: e for e in activity.get("layers", [])}
    out: dict[str, dict] = {}
    for layer in [*op, *(name for name in act if name not in op)]:
        o, a = op.get(layer), act.get(layer)
        out[layer] = {"op_model_pj": o["total_pj"] if o else None,
                      "op_model_compute_pj": o["compute_pj"] if o else None,
                      "activity_pj": a["pj"] if a else None,
                      "toggles_per_inference": a["toggles_per_inference"] if a else None}
    top = activity.get("top_level")
    if top:
        out[TOP_LEVEL] = {"op_model_pj": None, "op_model_compute_pj": None, "activity_pj": top["pj"],
                          "toggles_per_inference": top["toggles_per_inference"]}
    return out


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.3g}" if a is not None and b else "-"


def markdown_section(op_energy: dict | None, activity: dict) -> list[str]:
    """``report.md`` lines: per layer, operation model vs switching activity, with the assumptions."""
    op_energy = op_energy or {}
    side = compare_with_operation_model(op_energy, activity)

    def pj(v: float | None) -> str:
        return "-" if v is None else f"{v:,.2f}"

    lines = [
        "",
        f"## Energy per inference (simulated switching activity): {activity['total_pj'] / 1000:.4f} nJ",
        "",
        f"{activity['how']}; window {activity['window']['cycles']:,} cycles "
        f"({activity['window']['cycles_per_inference']:.1f} per inference); traced build and runs "
        f"{activity['seconds']['total']:.1f} s; outputs differing from the golden network: "
        f"{activity['outputs_differing']}.",
        "",
        activity["assumptions"],
        "",
        "| layer | operation model pJ | of it compute pJ | switching activity pJ | toggles per inference | "
        "activity / model | activity / compute |",
        "|---|---|---|---|---|---|---|",
    ]
    for layer, row in side.items():
        toggles = "-" if row["toggles_per_inference"] is None else f"{row['toggles_per_inference']:,.0f}"
        lines.append(f"| {layer} | {pj(row['op_model_pj'])} | {pj(row['op_model_compute_pj'])} | "
                     f"{pj(row['activity_pj'])} | {toggles} | {_ratio(row['activity_pj'], row['op_model_pj'])} | "
                     f"{_ratio(row['activity_pj'], row['op_model_compute_pj'])} |")
    total, compute = op_energy.get("total_pj"), op_energy.get("compute_pj")
    lines.append(f"| **total** | {pj(total)} | {pj(compute)} | {pj(activity['total_pj'])} | "
                 f"{activity['toggles_per_inference']:,.0f} | {_ratio(activity['total_pj'], total)} | "
                 f"{_ratio(activity['total_pj'], compute)} |")
    return lines


__all__ = ["DEFAULT_INFERENCES", "MAX_TRACED_ARRAY", "ActivityError", "ToggleEnergy", "TraceDecl", "attribute",
           "compare_with_operation_model", "markdown_section", "measure_activity", "read_trace_map"]
