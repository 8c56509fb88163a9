"""``flow.blocks.registry``: every block in ``BLOCKS`` has its one name on mirrored paths
(``hw/<dir>/<name>.v``, ``flow/blocks/<name>.py``, ``sim/<dir>/test_<name>.py``, ``tests/blocks/test_<name>.py``)
and ``spec_of`` finds its spec from its parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from flow.blocks.axis_dwc import DwcParams
from flow.blocks.axis_fifo import AxisFifoParams
from flow.blocks.axis_fork import AxisForkParams
from flow.blocks.cmvm import CmvmParams
from flow.blocks.eltwise_add import EltwiseAddParams
from flow.blocks.gap import GapParams
from flow.blocks.maxpool import MaxpoolParams
from flow.blocks.mvau import MvauMode, MvauParams
from flow.blocks.pad import PadParams
from flow.blocks.registry import BLOCKS, spec_of
from flow.blocks.skid_buffer import SkidBufferParams
from flow.blocks.swg import SwgParams
from flow.blocks.thresholding import ThresholdingParams
from flow.blocks.vvau import VvauParams

REPO_ROOT = Path(__file__).resolve().parents[2]

#: One valid parameter object per block.
EXAMPLE_PARAMS = {
    "mvau": MvauParams(mw=12, mh=6, pe=2, simd=4, mode=MvauMode.MAC, in_bits=4, in_signed=False, w_bits=3,
                       acc_bits=10),
    "thresholding": ThresholdingParams(c=6, pe=2, in_bits=5, n_thresh=3, out_bits=2, out_bias=0),
    "swg": SwgParams(12, 12, 6, 3, 5, 1, 4, signed=True),
    "maxpool": MaxpoolParams(8, 10, 3, 1, 3, 5, False),
    "pad": PadParams(5, 6, 4, 2, 1, 1, 1, 1, 4),
    "gap": GapParams(4, 4, 8, 2, 4, True),
    "axis_dwc": DwcParams(in_elems=4, out_elems=2, elem_bits=3),
    "axis_fifo": AxisFifoParams(width=8, depth=16),
    "skid_buffer": SkidBufferParams(width=8),
    "axis_fork": AxisForkParams(width=8),
    "vvau": VvauParams(ch=6, k2=9, simd=3, mode=MvauMode.MAC, in_bits=4, in_signed=False, w_bits=4, acc_bits=12),
    "cmvm": CmvmParams(mw=4, mh=2, mode=MvauMode.MAC, in_bits=4, in_signed=False, w_bits=3, acc_bits=10, levels=0,
                       stages=1, module="cmvm_example"),
    "eltwise_add": EltwiseAddParams(elems=2, a_bits=4, a_signed=True, a_shift=1, b_bits=4, b_signed=False, b_shift=0),
}


def test_every_block_has_example_params() -> None:
    assert sorted(EXAMPLE_PARAMS) == sorted(BLOCKS)


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_block_name_is_mirrored_on_its_paths(name: str) -> None:
    spec = BLOCKS[name]
    assert spec.name == name
    assert spec.sources, f"{name}: no hw/ sources"
    first = Path(spec.sources[0])
    hw_dir = first.parent.name
    assert first.resolve() == REPO_ROOT / "hw" / hw_dir / f"{name}.v"
    missing = [
        p
        for p in (
            *map(Path, spec.sources),
            REPO_ROOT / "flow" / "blocks" / f"{name}.py",
            REPO_ROOT / "sim" / hw_dir / f"test_{name}.py",
            REPO_ROOT / "tests" / "blocks" / f"test_{name}.py",
        )
        if not p.is_file()
    ]
    assert not missing, f"{name}: missing {[str(p.relative_to(REPO_ROOT)) for p in missing]}"


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_spec_of_finds_the_block_from_its_params(name: str) -> None:
    params = EXAMPLE_PARAMS[name]
    params.validate()
    assert isinstance(params, BLOCKS[name].params_type)
    assert spec_of(params) is BLOCKS[name]


def test_spec_of_rejects_other_objects() -> None:
    with pytest.raises(TypeError, match="blocks: expected the parameters of a hw/ block, got dict"):
        spec_of({})
