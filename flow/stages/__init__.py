"""The flow's stages, one module each, and the drivers that run them.

``train`` (``model.pt``) -> ``train.export_recipe`` (``model.qonnx.onnx``) -> ``compile`` (``rtl/``,
``network.json``, ``vectors.npz``) -> ``simulate`` (``sim.json``) -> ``crosscheck`` (``three_way.json``) ->
``estimate`` (``synth.json``, ``energy.json``) -> ``report`` (``report.json/md/html``). Each stage reads the
artefacts before it through :mod:`flow.stages.artefacts`, which refuses missing or stale ones. ``synth`` runs
them in order; ``sweep`` runs compile (and optionally simulation and Yosys) at many foldings; ``hls`` is
``qflow hls``. This package module imports nothing: a stage loads only what it needs.
"""
