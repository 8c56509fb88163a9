"""The compiler floor: an hls4ml graph (parsed from QONNX) lowered to qflow's exact integer network.

:mod:`.lower` (one handler per hls4ml layer class), :mod:`.chain` (elementwise chains -> exact thresholds),
:mod:`.weights`, :mod:`.folding` (the typed ``Folding`` and the per-layer PE x SIMD table), :mod:`.network`
(the integer network, whose layers compute with the blocks' golden models), :mod:`.serialize`
(``network.json``), :mod:`.adder` (AdderNet layers in hls4ml). This package module imports nothing.
"""
