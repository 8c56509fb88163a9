"""``report.md``: the build's figures as Markdown, one function per section, from ``report.json``'s data."""

from __future__ import annotations

from flow.estimate.activity import markdown_section
from flow.report.estimates import estimate_markdown
from flow.report.implementation import implementation_markdown

__all__ = ["report_markdown"]


def _verification(r: dict) -> list[str]:
    lines = ["## Accuracy (test split)", "", "| model | metric | value | how |", "|---|---|---|---|"]
    for k, v in r.get("accuracy", {}).items():
        metric = v.get("metric", "accuracy")
        value = f"{v['value']:.4f}" if metric == "accuracy" else f"{v['value']:.6f}"
        lines.append(f"| {k} | {metric} | {value} | {v['how']} |")
    lines += ["", "## Verification", "", "| check | vectors | differing outputs |", "|---|---|---|"]
    for c in r["checks"]:
        lines.append(f"| {c['check']} | {c['vectors']} | {c['differing_outputs']} |")
    host = r.get("host_stages", {})
    if host.get("input") or host.get("output"):
        lines += ["", "Host stages (float ops of the model that the host runs with onnxruntime, node by node, as qonnx "
                  f"does; the accelerator computes everything between): before the input quantizer "
                  f"{', '.join(host.get('input')) or 'none'}; after the last layer "
                  f"{', '.join(host.get('output')) or 'none'}."]
    if r.get("three_way", {}).get("skipped"):
        lines += ["", f"The three-way comparison with hls4ml's C-simulation was skipped: {r['three_way']['skipped']}."]
    elif "three_way" in r:
        tw = r["three_way"]
        lines += [
            "",
            f"The three-way rows compare the QONNX reference, hls4ml's Vitis C-simulation (project "
            f"`{tw['hls_project']}`, g++ compile {tw['hls_compile_seconds']:.0f} s, settings "
            f"{tw['hls_settings'].get('IOType')}, ReuseFactor {tw['hls_settings'].get('ReuseFactor')}) and the RTL "
            "simulation, every output element with `==`.",
        ]
    return lines


def _energy(r: dict) -> list[str]:
    lines: list[str] = []
    if "energy" in r:
        en = r["energy"]
        lines += [
            "",
            f"## Energy per inference (estimated: operation model): {en['total_pj'] / 1000:.2f} nJ",
            "",
            f"{en['assumptions']}",
            "",
            "| layer | kind | operations per inference | memory bits read | compute pJ | memory pJ |",
            "|---|---|---|---|---|---|",
        ]
        for e in en["layers"]:
            ops = ", ".join(f"{n:,} {kind} {w}" for kind, widths in e["ops"].items() for w, n in widths.items())
            lines.append(
                f"| {e['layer']} | {e['kind']} | {ops or '-'} | {e['memory_bits_read']:,} | "
                f"{e['compute_pj']:.1f} | {e['memory_pj']:.1f} |"
            )
    if "energy_activity" in r:
        lines += markdown_section(r.get("energy"), r["energy_activity"])
    return lines


def _throughput(r: dict) -> str:
    """Throughput at the placed-and-routed Fmax when there is one, else at the recipe's assumed clock."""
    sim, impl = r["simulation"], r.get("implementation")
    if impl is None:
        return (f"- throughput at an assumed {r['clock_mhz']:.0f} MHz clock: "
                f"{r['clock_mhz'] * 1e6 / sim['cycles_per_inference_measured']:,.0f} inferences/s "
                "(Yosys gives no timing: the clock is an assumption; `qflow implement` places and routes)")
    fmax = impl["clock"]["fmax_mhz"]
    cycles = max(sim["cycles_per_inference_measured"], impl["io"]["io_cycles_per_inference"])
    return (f"- throughput at the placed-and-routed Fmax of {fmax:.1f} MHz ({impl['device']['part']}): "
            f"**{round(fmax * 1e6 / cycles, 1):,.0f} inferences/s** (placed and routed: Fmax / {cycles:g} cycles per "
            "inference measured" + (", limited by the I/O pins" if cycles > sim["cycles_per_inference_measured"]
                                    else "") + ")")


def _performance(r: dict) -> list[str]:
    sim = r["simulation"]
    return [
        "",
        "## Performance (simulated, Verilator)",
        "",
        f"- cycles per inference: **{sim['cycles_per_inference_measured']:.2f}** measured, "
        f"{sim['cycles_per_inference_predicted']} predicted (slowest block)",
        f"- latency: {sim['latency_cycles_measured']} cycles measured (first input beat to last output beat), "
        f"{sim['latency_cycles_predicted']} predicted (beat-timing model of the blocks)",
        _throughput(r),
        f"- simulation speed: {sim['sim_inferences_per_second']:,.0f} inferences/s (batch harness)",
    ]


def _resources(r: dict) -> list[str]:
    res = r.get("resources", {})
    lines = ["", "## Resources (synthesized, Yosys synth_xilinx, 7-series cells)", ""]
    if not res:
        return [*lines, "not run"]
    lines += [
        "| LUT | FF | CARRY4 | DSP48E1 | BRAM18 | LUTRAM | tool |",
        "|---|---|---|---|---|---|---|",
        f"| {res['LUT']} | {res['FF']} | {res['CARRY4']} | {res['DSP48E1']} | {res['BRAM18_equivalent']} | "
        f"{res['LUTRAM']} | {res['tool']} ({res['seconds']} s) |",
        "",
        "LUTs by size: " + ", ".join(f"{k} {v}" for k, v in res["LUT_by_size"].items()),
    ]
    if res.get("dsp_mapping", "on") != "on":
        lines += ["", f"DSP mapping: {res['dsp_mapping']}."]
    cache = res.get("cache")
    if cache:
        lines += ["", f"Synthesized per block instance: {cache['instances']} instances, {cache['unique']} distinct "
                      f"Yosys jobs, {cache['hits']} from the cache (`{cache['directory']}`), {cache['misses']} "
                      f"synthesized now ({res.get('yosys_seconds', 0)} s of Yosys synth_xilinx)."]
    est = r.get("resources_estimate", {}).get("total")
    if est:
        parts = [
            f"{k} {v['estimate']:,} vs {v['yosys']:,}"
            + ("" if v["rel_error"] is None else f" ({v['rel_error'] * 100:+.1f} %)")
            for k, v in est.items() if v["estimate"] or v["yosys"]
        ]
        lines += ["", "Estimated (analytical per-block formulas) vs synthesized: " + "; ".join(parts) + "."]
    return lines + estimate_markdown(r) + _asic(r)


def _asic(r: dict) -> list[str]:
    asic = r.get("asic")
    if not asic:
        return []
    lines = [
        "",
        f"ASIC-style figure (synthesized, Yosys generic `synth` + `abc -g cmos2`, `stat -tech cmos`): "
        f"**{asic['nand2_equivalents']:,.0f} NAND2 equivalents** ({asic['transistors']:,} transistors / 4; "
        f"cells {', '.join(f'{k} {v}' for k, v in asic['cells'].items())}; memories as logic and flip-flops, "
        f"no SRAM macros: an all-logic upper bound; {asic['seconds']} s)",
    ]
    depth = asic.get("logic_depth")
    if depth:
        lines += [
            "",
            f"Logic depth (synthesized, a hint, not timing): **{depth['gates']} gates** (NAND2/NOR2/NOT) on the "
            f"longest register-to-register path, from `{depth['from']}` to `{depth['to']}` (Yosys `ltp -noff`). "
            + ("Throughput figures use the placed-and-routed Fmax (see Place and route)." if "implementation" in r
               else f"Throughput figures assume the recipe's clock of {r['clock_mhz']:g} MHz; Yosys does no timing "
                    "analysis."),
        ]
    return lines


def _layers(r: dict) -> list[str]:
    timing = {t["instance"]: t for t in r["simulation"].get("layers", [])}
    lines = [
        "", "## Layers", "",
        "Done cycle: when the block's last output beat of one inference leaves, counted from the first input "
        "beat (empty pipeline, no stalls), predicted by the beat-timing model and simulated. Interval: cycles "
        "per inference, the block's own (predicted) and simulated inside the pipeline without stalls (the "
        "slowest block sets the pace of all).", "",
        "| block | module | done cycle predicted | done cycle simulated | cycles/inference (own) | "
        "interval simulated | what |",
        "|---|---|---|---|---|---|---|",
    ]
    for b in r["interface"]["blocks"]:
        t = timing.get(b["instance"], {})
        interval = t.get("interval_simulated")
        lines.append(
            f"| {b['instance']} | {b['module']} | {t.get('done_cycle_predicted', '-')} | "
            f"{t.get('done_cycle_simulated', '-')} | {b['cycles_per_inference']} | "
            f"{'-' if interval is None else f'{interval:g}'} | {b['comment']} |"
        )
    return [*lines, "", "Interface: see `rtl/interface.json`.", ""]


def report_markdown(report: dict) -> str:
    """``report.md`` for the data of ``report.json`` (sections: accuracy and checks, energy, performance,
    resources, place and route, layers)."""
    head = [f"# qflow report: {report['model']}", "",
            f"Generated by qflow on {report['machine']}; every figure says how it was obtained.", ""]
    sections = (_verification, _energy, _performance, _resources, implementation_markdown, _layers)
    return "\n".join(head + [line for section in sections for line in section(report)])
