"""``BLOCKS``: every hardware block qflow instantiates, by its one name (the Verilog module's).

Adding a block = its Verilog in ``hw/``, its module here with a ``SPEC``, one line in :data:`BLOCKS`, its cocotb
test and its unit test; nothing else dispatches on block types.
"""

from __future__ import annotations

from flow.blocks import (
    axis_dwc,
    axis_fifo,
    axis_fork,
    cmvm,
    eltwise_add,
    gap,
    maxpool,
    mvau,
    pad,
    skid_buffer,
    swg,
    thresholding,
    vvau,
)
from flow.blocks.spec import BlockSpec

__all__ = ["BLOCKS", "spec_of"]

#: name -> spec, for every block in ``hw/``.
BLOCKS: dict[str, BlockSpec] = {
    m.SPEC.name: m.SPEC
    for m in (
        mvau, cmvm, vvau, thresholding, swg, maxpool, pad, gap, eltwise_add, axis_dwc, axis_fifo, axis_fork,
        skid_buffer,
    )
}

_BY_PARAMS = {spec.params_type: spec for spec in BLOCKS.values()}


def spec_of(params: object) -> BlockSpec:
    """The spec of the block whose parameter object is ``params``; :class:`TypeError` for anything else."""
    spec = _BY_PARAMS.get(type(params))
    if spec is None:
        raise TypeError(f"blocks: expected the parameters of a hw/ block, got {type(params).__name__}")
    return spec
