"""Shared cocotb pieces for the ``hw/`` block testbenches.

* :mod:`sim.lib.axis` -- AXI-Stream source (random idle cycles), sink (random backpressure) and a
  passive monitor that checks the AXI-Stream rules; a cycle counter shared by all of them.
* :mod:`sim.lib.runner` -- :func:`~sim.lib.runner.run_cocotb` (Verilator build + test per parameter
  case under ``build/sim/<block>/<case>/``) and :func:`~sim.lib.runner.lint` (``verilator --lint-only -Wall``).

``sim.lib.axis`` imports cocotb and is only used inside the simulator; ``sim.lib.runner`` is what the
pytest entry points import.
"""
