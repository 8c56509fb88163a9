"""``qflow estimate``: what the compiled design costs.

Artefacts: ``synth.json`` -- Yosys ``synth_xilinx`` cell counts (synthesized), the analytical per-block
estimate next to them (estimated), and the generic CMOS synthesis in NAND2 equivalents (synthesized; unless
``asic=False``), both per block instance with a cache and summed, the two Yosys flavours run side by side
(:mod:`flow.rtl.yosys_blocks`; ``whole_design=True``: one Yosys run of the whole design per flavour, as
before); ``energy.json`` -- energy per inference from the operation model (estimated) and, with
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
from flow.rtl.yosys_blocks import synthesize
from flow.stages.artefacts import invalidate, locked, write_artefact
from flow.stages.compile import load_network, load_vectors
from flow.stages.target import Target

__all__ = ["Step", "energy_target", "estimate_target", "synth_options", "synth_target"]

#: Runs one named step of a stage: ``step(name, fn) -> fn()`` (a progress bar, or a plain call).
Step = Callable[[str, Callable[[], Any]], Any]


def _plain(name: str, fn: Callable[[], Any]) -> Any:
    return fn()

ESTIMATE_HOW = ("estimated: analytical per-block formulas (flow/blocks/<block>.py) from the real weights, next "
                "to Yosys; rel_error = (estimate - yosys) / yosys")


@locked
def estimate_target(target: Target, yosys: bool = True, asic: bool = True, activity: int = 0,
                    step: Step = _plain, whole_design: bool = False) -> tuple[dict | None, dict]:
    """The whole estimate stage: earlier ``synth.json``/``energy.json`` removed, then :func:`synth_target`
    (unless ``yosys=False``) and :func:`energy_target`. Returns both artefacts' contents (``None``: no
    synthesis)."""
    invalidate(target.paths.root, "estimate")
    synth = synth_target(target, asic, step, whole_design) if yosys else None
    return synth, energy_target(target, activity, step)


@locked
def synth_target(target: Target, asic: bool = True, step: Step = _plain, whole_design: bool = False) -> dict:
    """Yosys synthesis of the compiled design (and its estimate), in one progress step; return
    ``synth.json``'s contents. Per block instance and cached unless ``whole_design`` (see
    :func:`flow.rtl.yosys_blocks.synthesize`); with ``asic`` the NAND2 synthesis runs alongside."""
    root = target.paths.root
    net, _ = load_network(root)
    (root / "synth.json").unlink(missing_ok=True)
    design = load_design(target.paths.rtl, net)
    what = ("synth_xilinx" + (" + generic CMOS (NAND2 equivalents)" if asic else "")
            + (", whole design" if whole_design else ", per block (cached)"))
    resources, asic_result = step(f"Yosys {what}", lambda: synthesize(
        design.directory, design.blocks, design.sources, design.top, asic=asic, whole_design=whole_design))
    data = {**resources, "options": synth_options(asic, whole_design),
            "estimate": {"how": ESTIMATE_HOW, **compare(estimate_network(net), resources)}}
    if asic_result is not None:
        data["asic"] = asic_result
    return write_artefact(root, "synth.json", data, ["network.json"])


def synth_options(asic: bool, whole_design: bool) -> dict:
    """``synth.json``'s ``options`` (what :func:`flow.stages.artefacts.up_to_date` compares)."""
    return {"asic": asic, "whole_design": whole_design}


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
