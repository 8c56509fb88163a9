"""``qflow synth``: the whole flow for a recipe (RTL stages land with the qflow-rtl issue)."""

from __future__ import annotations

from flow.errors import QflowError


def synth(recipe: str, progress: bool = True) -> int:
    """Run the whole flow for ``recipe``. Until the RTL backend exists this raises a clear error."""
    raise QflowError(
        f"synth {recipe}: the RTL flow (compile -> Verilog -> simulation -> Yosys) is not available yet; "
        "'qflow train' and 'qflow export' work"
    )
