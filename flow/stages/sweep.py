"""``qflow sweep <recipe>``: the recipe's accelerator at several foldings, each with its cost and speed.

For every folding (``"parallel"``, ``"folded"`` or a target in cycles per inference) :func:`sweep` compiles
the recipe's QONNX graph with the ``qflow-rtl`` backend (:func:`flow.stages.compile.convert`, the same call
``qflow compile`` makes), writes the Verilog to ``build/<recipe>/sweep/<label>/rtl`` and records:

* PE x SIMD of every matrix-vector unit and the lanes (PE*SIMD summed) -- from the lowered network;
* cycles per inference and latency -- **predicted** by the generated design's beat-timing model (the same
  figures ``qflow synth`` checks against simulation); with ``simulate=N`` also **simulated** on N test inputs
  (Verilator, no stalls, outputs compared with ``==`` against the golden integer network);
* LUT, FF, ... -- **synthesized** with Yosys ``synth_xilinx`` (:func:`flow.rtl.yosys.synth_xilinx`), cached
  by a digest of the Verilog and memory files in ``build/<recipe>/sweep/synth_cache/``. Designs with more
  lanes than ``max_synth_lanes`` and runs past ``yosys_timeout`` are listed as not synthesized, never as 0;
* energy per inference -- **estimated** by the operation model (:func:`flow.estimate.energy.network_energy`).

Outputs (atomically): ``sweep.json`` (one row per folding, in the order given), ``sweep.md`` (the table) and
``pareto.svg`` (LUT -- or lanes with ``synth=False`` -- vs cycles/inference, energy as colour, Pareto-optimal
points circled). Pareto optimality minimizes (LUT or lanes, cycles/inference, energy) over the rows that have
all three figures.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path

from flow.compile.folding import Folding as TypedFolding
from flow.compile.network import MatVec
from flow.errors import QflowError, UnsupportedError
from flow.estimate.energy import network_energy
from flow.frontend.graph import load_qonnx
from flow.io import write_json, write_text
from flow.recipe import load_recipe
from flow.report import svg
from flow.report.pareto import pareto_optimal
from flow.rtl.backend import cxx_opt_level
from flow.rtl.verilator import build_harness
from flow.rtl.yosys import SynthesisError, synth_xilinx, yosys_command
from flow.stages.compile import convert
from flow.stages.progress import Progress
from flow.stages.train import ensure_exported, recipe_dataset

log = logging.getLogger(__name__)

FoldValue = str | int  # a folding as users write it (one sweep point's label comes from it)
DEFAULT_FOLDINGS: tuple[FoldValue, ...] = ("parallel", 16, "folded", 256, 1024)
# Above this many lanes Yosys (WebAssembly) runs for many minutes: fully parallel tfc_w1a1 has 59,008 lanes,
# 64x the folded design's (922) in its first layer, and the folded design takes ~40 s. Such rows are listed
# as not synthesized unless the limit is raised.
MAX_SYNTH_LANES = 16384
YOSYS_TIMEOUT_S = 900
RESOURCE_KEYS = ("LUT", "FF", "CARRY4", "DSP48E1", "BRAM18_equivalent", "LUTRAM")


class SweepError(QflowError):
    """A sweep was given something it cannot run."""


def parse_folding(text: str) -> FoldValue:
    """``"parallel"`` | ``"folded"`` | a positive integer (target cycles per inference)."""
    try:
        return TypedFolding.parse(text).as_value()
    except UnsupportedError as exc:
        raise SweepError(str(exc)) from None


def parse_foldings(text: str) -> list[FoldValue]:
    """A comma-separated list of foldings, e.g. ``"parallel,folded,256"`` (duplicates refused)."""
    foldings = [parse_folding(part) for part in text.split(",") if part.strip()]
    if not foldings:
        raise SweepError(f"--foldings: expected a comma-separated list such as 'parallel,folded,256', got {text!r}")
    labels = [folding_label(f) for f in foldings]
    if len(set(labels)) != len(labels):
        raise SweepError(f"--foldings: each folding once, got {text!r}")
    return foldings


def folding_label(folding: FoldValue) -> str:
    """Directory-safe name of a folding: ``parallel``, ``folded``, ``c256``."""
    return folding if isinstance(folding, str) else f"c{folding}"


def design_lanes(net) -> int:
    """Parallel lanes of a lowered network: PE x SIMD summed over its matrix-vector units."""
    return sum(layer.pe * layer.simd for layer in net.layers if isinstance(layer, MatVec))


def design_digest(design, tool: str) -> str:
    """SHA-256 of what Yosys reads (Verilog sources and memory files) and of the Yosys used."""
    h = hashlib.sha256(tool.encode())
    files = sorted({*design.sources, *(p.name for p in design.directory.glob("*.mem") if "stimulus" not in p.name)})
    for name in files:
        h.update(name.encode() + b"\0" + (design.directory / name).read_bytes() + b"\0")
    return h.hexdigest()


def cached_synth_xilinx(design, cache_dir: Path, timeout: int) -> tuple[dict, bool]:
    """``synth_xilinx`` of ``design``, reusing an earlier result for identical files; (result, from cache)."""
    digest = design_digest(design, yosys_command()[1])
    path = cache_dir / f"{digest}.json"
    if path.is_file():
        try:
            return json.loads(path.read_text()), True
        except json.JSONDecodeError:
            log.warning("%s: unreadable cache entry, synthesizing again", path)
    result = synth_xilinx(design.directory, design.sources, design.top, timeout=timeout) | {"digest": digest}
    write_json(path, result)
    return result, False


def _simulate(backend, hls_model, net, design, x, n: int) -> dict:
    """N inputs through the Verilator model, no stalls: steady cycles/inference and mismatches vs golden."""
    build_harness(design.directory, design.sources, opt=cxx_opt_level(net))
    x_int = net.quantize_input(x[:n])
    start = time.perf_counter()
    got, run = backend.predict_int(hls_model, x_int, tag="sweep")
    return {
        "vectors": len(x_int),
        "differing_outputs": int((got != net.run(x_int)).any(axis=1).sum()),
        "cycles_per_inference": run.steady_cycles_per_inference,
        "seconds": round(time.perf_counter() - start, 2),
    }


def _point(folding: FoldValue, qonnx_model, root: Path, recipe, synth: bool, max_lanes: int, timeout: int,
           x, simulate: int) -> dict:
    """One row of the sweep (see the module docstring)."""
    label = folding_label(folding)
    layer_folding = {k: (v.pe, v.simd) for k, v in recipe.hardware.layers.items()}
    hls_model = convert(qonnx_model, root / label / "rtl", folding, layer_folding, recipe.hardware.clock_mhz)
    backend = hls_model.config.backend
    net = backend.network(hls_model)
    design = backend.write(hls_model)
    energy = network_energy(net)
    row: dict = {
        "folding": folding,
        "label": label,
        "layers": [{"layer": m.name, "pe": m.pe, "simd": m.simd, "cycles_per_vector": (m.mh // m.pe) * (m.mw // m.simd)}
                   for m in net.layers if isinstance(m, MatVec)],
        "lanes": design_lanes(net),
        "cycles_per_inference": design.cycles_per_inference,
        "latency_cycles": int(design.interface["latency_cycles_estimate"]),
        "energy_pj": energy["total_pj"],
        "rtl": str(design.directory),
    }
    row |= dict.fromkeys(RESOURCE_KEYS)
    if not synth:
        row["synth"] = {"not_run": "--no-synth"}
    elif row["lanes"] > max_lanes:
        row["synth"] = {"not_run": f"{row['lanes']:,} lanes > {max_lanes:,} (--max-synth-lanes)"}
    else:
        try:
            res, cached = cached_synth_xilinx(design, root / "synth_cache", timeout)
        except SynthesisError as exc:
            log.warning("%s: %s", label, exc)
            row["synth"] = {"not_run": str(exc).splitlines()[0]}
        else:
            row |= {k: res.get(k) for k in RESOURCE_KEYS}
            row["synth"] = {"tool": res.get("tool"), "seconds": res.get("seconds"), "cached": cached,
                            "digest": res.get("digest")}
    row["simulation"] = _simulate(backend, hls_model, net, design, x, simulate) if simulate else None
    return row


def _mark_pareto(rows: list[dict], x_key: str) -> None:
    comparable = [r for r in rows if r[x_key] is not None]
    flags = pareto_optimal([(r[x_key], r["cycles_per_inference"], r["energy_pj"]) for r in comparable])
    for r in rows:
        r["pareto"] = None
    for r, flag in zip(comparable, flags, strict=True):
        r["pareto"] = flag


def sweep(model: str, foldings: list[FoldValue] | tuple[FoldValue, ...] = DEFAULT_FOLDINGS, synth: bool = True,
          simulate: int = 0, max_synth_lanes: int = MAX_SYNTH_LANES, yosys_timeout: int = YOSYS_TIMEOUT_S,
          progress: bool = True) -> dict:
    """Run the sweep for a recipe (name or path); write sweep.json, sweep.md, pareto.svg; return the summary.

    Trains and exports the recipe first when its checkpoint or QONNX file is missing.
    """
    start = time.perf_counter()
    recipe = load_recipe(model)
    foldings = list(foldings)
    if not foldings:
        raise SweepError(f"{recipe.name}: no foldings to sweep")
    bar = Progress(f"sweep {recipe.name}", len(foldings) + 1, enabled=progress)
    paths = bar.run("checkpoint + QONNX (train/export if missing)", lambda: ensure_exported(recipe))
    qonnx_model = load_qonnx(paths.qonnx)
    root = paths.root / "sweep"
    x = recipe_dataset(recipe).test.x if simulate else None
    rows = []
    for folding in foldings:
        what = "compile + RTL" + (" + Yosys" if synth else "") + (f" + simulate {simulate}" if simulate else "")
        rows.append(bar.run(f"folding {folding_label(folding)}: {what}",
                            lambda f=folding: _point(f, qonnx_model, root, recipe, synth, max_synth_lanes,
                                                     yosys_timeout, x, simulate)))
    x_key = "LUT" if synth else "lanes"
    _mark_pareto(rows, x_key)
    summary = {
        "model": recipe.name,
        "clock_mhz": recipe.hardware.clock_mhz,
        "objectives": [x_key, "cycles_per_inference", "energy_pj"],
        "how": {
            "lanes": "PE x SIMD summed over the matrix-vector units of the lowered network",
            "cycles_per_inference": "predicted: beat-timing model of the generated blocks (slowest block)",
            "latency_cycles": "predicted: beat-timing model, one inference through the empty pipeline",
            "LUT": "synthesized: Yosys synth_xilinx cell counts (no place and route)" if synth
                   else "not run (--no-synth): lanes stand in for area",
            "energy_pj": "estimated: operation model (flow.estimate.energy); it counts operations and memory "
                         "reads per inference, which folding does not change",
            "simulation": f"simulated: Verilator, {simulate} test inputs, no stalls, outputs == golden"
                          if simulate else "not run (--simulate 0)",
        },
        "rows": rows,
        "pareto": [r["label"] for r in rows if r["pareto"]],
        "seconds": round(time.perf_counter() - start, 1),
    }
    write_json(root / "sweep.json", summary)
    write_text(root / "sweep.md", sweep_markdown(summary))
    write_text(root / "pareto.svg", pareto_svg(summary))
    return summary


def _layers_text(row: dict) -> str:
    return ", ".join(f"{layer['pe']}x{layer['simd']}" for layer in row["layers"])


def sweep_table(summary: dict) -> str:
    """The sweep as a Markdown table (one row per folding)."""
    sim = any(r.get("simulation") for r in summary["rows"])
    clock = summary["clock_mhz"]
    head = ["folding", "PE x SIMD per layer", "lanes", "cycles/inf. (predicted)"]
    head += ["cycles/inf. (simulated)", "mismatches"] if sim else []
    head += ["latency (predicted)", f"inf./s at {clock:g} MHz", "LUT", "FF", "energy/inf. (estimated)", "Pareto"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in summary["rows"]:
        cells = [str(r["label"]), _layers_text(r), f"{r['lanes']:,}", f"{r['cycles_per_inference']:,}"]
        if sim:
            s = r.get("simulation")
            cells += [f"{s['cycles_per_inference']:,.2f}", str(s["differing_outputs"])] if s else ["-", "-"]
        not_run = "not run" if r["LUT"] is None else None
        cells += [f"{r['latency_cycles']:,}", f"{clock * 1e6 / r['cycles_per_inference']:,.0f}",
                  not_run or f"{r['LUT']:,}", not_run or f"{r['FF']:,}", f"{r['energy_pj'] / 1000:.2f} nJ",
                  {True: "**yes**", False: "no", None: "-"}[r["pareto"]]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sweep_markdown(summary: dict) -> str:
    """``sweep.md``: the table, how each column was produced, rows that were not synthesized and why."""
    how = summary["how"]
    lines = [f"# qflow sweep: {summary['model']}", "", sweep_table(summary), "",
             "How each column was produced:", ""]
    lines += [f"- {k}: {v}" for k, v in how.items()]
    missing = [r for r in summary["rows"] if r["synth"].get("not_run")]
    if missing:
        lines += ["", "Not synthesized:", ""] + [f"- {r['label']}: {r['synth']['not_run']}" for r in missing]
    lines += ["", f"Pareto-optimal (minimizing {', '.join(summary['objectives'])}): "
              + (", ".join(summary["pareto"]) or "none"), "",
              f"Sweep time {summary['seconds']} s. Plot: `pareto.svg`.", ""]
    return "\n".join(lines)


def pareto_svg(summary: dict) -> str:
    """``pareto.svg``: area (LUT or lanes) vs cycles/inference, energy as colour, Pareto points circled."""
    x_key = summary["objectives"][0]
    rows = [r for r in summary["rows"] if r[x_key] is not None]
    x_label = "LUT (synthesized, Yosys synth_xilinx)" if x_key == "LUT" else "lanes (PE x SIMD; NOT synthesized)"
    left_out = [r["label"] for r in summary["rows"] if r[x_key] is None]
    title = f"qflow sweep {summary['model']}: foldings"
    if left_out:
        title += f"\nnot plotted (not synthesized): {', '.join(left_out)}"
    plot = svg.pareto_scatter(
        "pareto", [r[x_key] for r in rows], [r["cycles_per_inference"] for r in rows],
        [r["energy_pj"] / 1000 for r in rows], [r["label"] for r in rows], [bool(r["pareto"]) for r in rows],
        x_label, "cycles per inference (predicted)", "energy per inference, nJ (estimated)",
        title,
    )
    return svg.standalone(plot)
