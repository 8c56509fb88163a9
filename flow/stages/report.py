"""``qflow report``: ``report.json``, ``report.md`` and ``report.html`` from the stages' artefacts.

Reads ``network.json`` and ``sim.json`` (required), ``export.json`` (a recipe's export check),
``three_way.json``, ``synth.json``, ``energy.json`` and ``implement.json`` (when their stages ran), and refuses
any of them whose inputs have changed since it was made (:func:`flow.stages.artefacts.require`): a report never
mixes results of different runs. ``report.json`` records the digests of every artefact it was made from.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

from flow.io import write_text
from flow.report.html import write_html_report
from flow.report.markdown import report_markdown
from flow.stages.artefacts import invalidate, locked, require, write_artefact

__all__ = ["OPTIONAL_ARTEFACTS", "assemble_report", "failed_checks", "report_build"]

#: Artefacts a report includes when their stage ran: file -> the stage that makes it.
OPTIONAL_ARTEFACTS = {"three_way.json": "crosscheck", "synth.json": "estimate", "energy.json": "estimate",
                      "implement.json": "implement"}


def _export_check(root: Path) -> list[dict]:
    path = root / "export.json"
    if not path.is_file():
        return []
    summary = json.loads(path.read_text())
    return [{"check": "QONNX execution == PyTorch", "vectors": summary["samples"],
             "differing_outputs": summary["differing_outputs"]}]


def assemble_report(root: Path) -> tuple[dict, list[str]]:
    """The ``report.json`` data of the build in ``root`` and the artefacts it was made from."""
    network = require(root, "network.json", "compile")
    sim = require(root, "sim.json", "simulate")
    interface = json.loads((root / "rtl" / "interface.json").read_text())
    optional = {name: require(root, name, stage) for name, stage in OPTIONAL_ARTEFACTS.items()
                if (root / name).is_file()}
    strip = ("made_from", "checks", "accuracy", "options", "qflow")
    report: dict = {
        "model": network["model"],
        "machine": f"{platform.machine()} {platform.system()}",
        "clock_mhz": network["clock_mhz"],
        "folding": network["folding"],
        "source": network.get("source"),
        "host_stages": network.get("host_stages", {"input": [], "output": []}),
        "checks": _export_check(root) + network["checks"] + sim["checks"],
        "accuracy": {**network.get("accuracy", {}), **sim.get("accuracy", {})},
        "pruning": network.get("pruning", []),
        "simulation": {k: v for k, v in sim.items() if k not in strip},
        "interface": interface,
    }
    energy = optional.get("energy.json")
    if energy:
        report["energy"] = energy["energy"]
        if "energy_activity" in energy:
            act = energy["energy_activity"]
            report["energy_activity"] = act
            report["checks"].append({"check": "RTL simulation (SAIF-traced build) == golden, no stalls",
                                     "vectors": act["inferences"], "differing_outputs": act["outputs_differing"]})
    three_way = optional.get("three_way.json")
    if three_way:
        report["three_way"] = {k: v for k, v in three_way.items() if k not in ("made_from", "options", "qflow")}
        report["checks"] += [{"check": row["pair"], "vectors": row["vectors"],
                              "differing_outputs": row["differing_outputs"]} for row in three_way["comparisons"]]
    synth = optional.get("synth.json")
    if synth:
        report["resources"] = {k: v for k, v in synth.items()
                               if k not in ("made_from", "estimate", "asic", "options", "qflow")}
        report["resources_estimate"] = synth["estimate"]
        if "asic" in synth:
            report["asic"] = synth["asic"]
    implement = optional.get("implement.json")
    if implement:  # placed and routed: the achieved Fmax replaces the recipe's assumed clock in every figure
        report["implementation"] = {k: v for k, v in implement.items() if k not in ("made_from", "options", "qflow")}
    made_from = ["network.json", "sim.json", *optional]
    if (root / "export.json").is_file():
        made_from.append("export.json")
    return report, made_from


def failed_checks(report: dict) -> list[dict]:
    """The checks of ``report`` that found differing outputs."""
    return [c for c in report["checks"] if c["differing_outputs"]]


@locked
def report_build(root: Path) -> dict:
    """Write ``report.json``, ``report.md`` and ``report.html`` of the build in ``root``; return the report."""
    root = Path(root)
    report, made_from = assemble_report(root)
    invalidate(root, "report")
    report = write_artefact(root, "report.json", report, made_from)
    write_text(root / "report.md", report_markdown(report))
    write_html_report(root)  # the same figures as one self-contained page
    return report
