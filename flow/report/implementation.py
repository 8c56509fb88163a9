"""The place-and-route figures of a report (``report.json``'s ``implementation``, from ``implement.json``)."""

from __future__ import annotations

from flow.report.page import Page, esc, table

__all__ = ["STATUS", "clock_row", "implementation_html", "implementation_markdown"]

#: How every figure of this section was obtained (a kind of :data:`flow.report.page.KINDS`).
STATUS = "placed and routed"


def implementation_markdown(r: dict) -> list[str]:
    """The "Place and route" section of ``report.md`` from ``report.json``'s ``implementation`` (or "not run")."""
    impl = r.get("implementation")
    lines = ["", "## Place and route (placed and routed: Yosys synth_ecp5, nextpnr-ecp5, ecppack)", ""]
    if impl is None:
        return [*lines, "not run (`qflow implement`, or `qflow synth` without `--no-pnr`)"]
    dev, clock, util, path = impl["device"], impl["clock"], impl["utilisation"], impl["critical_path"]
    lines += [
        f"- device: {dev['family']} {dev['part']} {dev['package']}, speed grade {dev['speed_grade']}",
        f"- Fmax: **{clock['fmax_mhz']:.1f} MHz** ({'meets' if clock['met'] else 'misses'} the "
        f"{clock['target_mhz']:g} MHz target of the timing-driven run)",
        f"- inferences/s at Fmax: {impl['throughput']['inferences_per_second']:,.0f} ({impl['throughput']['how']})",
        "", "| resource | used | available | % of device |", "|---|---|---|---|",
        *(f"| {k} ({v['bel']}) | {v['used']:,} | {v['available']:,} | "
          f"{'-' if v['percent'] is None else format(v['percent'], '.2f')} |" for k, v in util.items()),
        "",
    ]
    if path:
        lines.append(f"Critical path ({path['delay_ns']:.2f} ns: {path['logic_ns']:.2f} ns logic, "
                     f"{path['routing_ns']:.2f} ns routing): from `{path['from']['cell']}` ({path['from']['block']}) "
                     f"to `{path['to']['cell']}` ({path['to']['block']}), through "
                     f"{' -> '.join(path['through_blocks'])}.")
    lines += ["", f"I/O: {impl['io']['how']}. The utilisation includes these converters.", "",
              f"Bitstream: `{impl['bitstream']['path']}` ({impl['bitstream']['bytes']:,} bytes). Times: synthesis "
              f"{impl['synthesis']['seconds']} s ({impl['synthesis']['tool']}), place and route "
              f"{impl['pnr']['seconds']} s "
              f"({impl['pnr']['tool']}, seed {impl['pnr']['seed']}), ecppack {impl['bitstream']['seconds']} s."
              + (" Synthesis and place and route came from the cache (`$QFLOW_PNR_CACHE`): the same sources, "
                 "memories, options and tools were placed and routed before; the times are that run's."
                 if impl.get("cache", {}).get("hit") else "")]
    return lines


def implementation_html(page: Page, r: dict) -> str:
    """The "Place and route" part of ``report.html`` (every number tied to ``report.json``'s
    ``implementation``); empty without one (the clock row then says the clock is assumed)."""
    impl = r.get("implementation")
    head = "<h3>Place and route (ECP5, open tools)</h3>"
    if impl is None:
        return ""
    how = f"{impl['pnr']['tool']} on the {impl['device']['part']} {impl['device']['package']}, timing-driven"
    clock = impl["clock"]
    rows = [
        ["Fmax", page.figure("Fmax", page.num(clock["fmax_mhz"], "implementation.clock.fmax_mhz", 1) + " MHz",
                             STATUS, how)
         + f" ({'meets' if clock['met'] else 'misses'} the "
           f"{page.num(clock['target_mhz'], 'implementation.clock.target_mhz', 0)} MHz target)"],
        ["inferences/s at Fmax",
         page.figure("inferences/s at Fmax", page.num(impl["throughput"]["inferences_per_second"],
                                                      "implementation.throughput.inferences_per_second", 0),
                     STATUS, impl["throughput"]["how"])],
    ]
    for name, u in impl["utilisation"].items():
        key = f"implementation.utilisation.{name}"
        pct = "" if u["percent"] is None else f" ({page.num(u['percent'], key + '.percent', 2)} %)"
        rows.append([esc(f"{name} ({u['bel']})"), page.figure(
            f"{name} placed", f"{page.num(u['used'], key + '.used')} of {page.num(u['available'], key + '.available')}"
            + pct, STATUS, how)])
    path = impl.get("critical_path")
    if path:
        rows.append(["critical path", esc(f"{path['delay_ns']:.2f} ns from {path['from']['block']} "
                                          f"({path['from']['cell']}) to {path['to']['block']} ({path['to']['cell']}), "
                                          f"through {' -> '.join(path['through_blocks'])}")])
    rows.append(["I/O", esc(impl["io"]["how"])])
    rows.append(["bitstream", f"<code>{esc(impl['bitstream']['path'])}</code> "
                              f"({page.num(impl['bitstream']['bytes'], 'implementation.bitstream.bytes')} bytes)"])
    return head + table(["", ""], rows, "kv")


def clock_row(page: Page, r: dict) -> list[str] | None:
    """The summary's clock row: the placed-and-routed Fmax when there is one, else the recipe's assumed clock."""
    impl = r.get("implementation")
    if impl is not None:
        fmax = page.num(impl["clock"]["fmax_mhz"], "implementation.clock.fmax_mhz", 1)
        return ["clock", page.figure("clock (Fmax)", fmax + " MHz", STATUS,
                                     f"achieved Fmax on the {impl['device']['part']} (nextpnr-ecp5)")]
    if "clock_mhz" in r:
        return ["clock", page.figure("clock", page.num(r["clock_mhz"], "clock_mhz", 0) + " MHz", "assumed",
                                     "recipe clock_mhz; Yosys gives no timing, so the clock is assumed")]
    return None
