"""``qflow estimate``: what the compiled design costs.

Artefacts: ``synth.json`` -- Yosys ``synth_xilinx`` cell counts (synthesized), the analytical per-block
estimate next to them (estimated), and the generic CMOS synthesis in NAND2 equivalents (synthesized; unless
``asic=False``); ``energy.json`` -- energy per inference from the operation model (estimated) and, with
``activity > 0``, from switching activity in a SAIF-traced simulation (simulated). Without Yosys
(``yosys=False``) no ``synth.json`` is written, and none from an earlier run is left behind. Refuses a missing
or stale ``network.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flow.estimate.activity import measure_activity
from flow.estimate.energy import network_energy
from flow.estimate.resources import compare, estimate_network
from flow.rtl.harness import load_design
from flow.rtl.yosys import synth_asic, synth_xilinx
from flow.stages.artefacts import invalidate, locked, write_artefact
from flow.stages.compile import load_network, load_vectors
from flow.stages.target import Target

__all__ = ["Step", "energy_target", "estimate_target", "synth_target"]

#: Runs one named step of a stage: ``step(name, fn) -> fn()`` (a progress bar, or a plain call).
Step = Callable[[str, Callable[[], Any]], Any]


def _plain(name: str, fn: Callable[[], Any]) -> Any:
    return fn()

ESTIMATE_HOW = ("estimated: analytical per-block formulas (flow/blocks/<block>.py) from the real weights, next "
                "to Yosys; rel_error = (estimate - yosys) / yosys")


@locked
def estimate_target(target: Target, yosys: bool = True, asic: bool = True, activity: int = 0,
                    step: Step = _plain) -> tuple[dict | None, dict]:
    """The whole estimate stage: earlier ``synth.json``/``energy.json`` removed, then :func:`synth_target`
    (unless ``yosys=False``) and :func:`energy_target`. Returns both artefacts' contents (``None``: no
    synthesis)."""
    invalidate(target.paths.root, "estimate")
    synth = synth_target(target, asic, step) if yosys else None
    return synth, energy_target(target, activity, step)


@locked
def synth_target(target: Target, asic: bool = True, step: Step = _plain) -> dict:
    """Yosys synthesis of the compiled design (and its estimate); return ``synth.json``'s contents."""
    root = target.paths.root
    net, _ = load_network(root)
    (root / "synth.json").unlink(missing_ok=True)
    design = load_design(target.paths.rtl, net)
    resources = step("Yosys synth_xilinx", lambda: synth_xilinx(design.directory, design.sources, design.top))
    data = {**resources, "options": {"asic": asic},
            "estimate": {"how": ESTIMATE_HOW, **compare(estimate_network(net), resources)}}
    if asic:
        data["asic"] = step("Yosys generic CMOS synthesis (NAND2 equivalents)",
                            lambda: synth_asic(design.directory, design.sources, design.top))
    return write_artefact(root, "synth.json", data, ["network.json"])


@locked
def energy_target(target: Target, activity: int = 0, step: Step = _plain) -> dict:
    """Energy per inference of the compiled design; return ``energy.json``'s contents.

    ``activity`` > 0 also measures switching activity on that many of the compile stage's vectors (a second,
    SAIF-traced Verilator build in ``activity/``), with a check that the traced run's outputs equal the
    golden network's (``energy_activity.outputs_differing``)."""
    root = target.paths.root
    net, _ = load_network(root)
    (root / "energy.json").unlink(missing_ok=True)
    data = {"energy": network_energy(net), "options": {"activity": activity}}
    if activity > 0:
        vectors = load_vectors(root)
        design = load_design(target.paths.rtl, net)
        n = min(activity, len(vectors.x_int))
        data["energy_activity"] = step(
            f"switching activity: SAIF-traced build + {n} inferences",
            lambda: measure_activity(net, design, vectors.x_int, vectors.golden, root / "activity", n,
                                     inputs=f"the {vectors.description}"),
        )
    return write_artefact(root, "energy.json", data, ["network.json", "vectors.npz"])
