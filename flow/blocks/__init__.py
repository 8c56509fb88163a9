"""The hardware blocks: the ground floor of qflow.

One module per hand-written Verilog module in ``hw/``, named after it (``mvau``, ``thresholding``, ``swg``,
``maxpool``, ``pad``, ``axis_dwc``, ``axis_fifo``, ``skid_buffer``; ``cmvm``, whose arithmetic is generated per
layer around ``hw/cmvm/cmvm.v``). Each holds the block's parameter dataclass,
its golden model, its cycle/latency timing, its resource and energy estimate, the list of its ``hw/`` sources,
and a ``SPEC`` (:class:`flow.blocks.spec.BlockSpec`) that :mod:`flow.blocks.registry` gathers in ``BLOCKS``.
Shared helpers: :mod:`flow.blocks.bits` (packing, memory files), :mod:`flow.blocks.cost` (resource and energy
primitives), :mod:`flow.blocks.image` (the image-stream blocks' common parameters).

Blocks import nothing above this floor (only :mod:`flow.paths` below it). This package module imports
nothing, so importing one block does not load the others.
"""
