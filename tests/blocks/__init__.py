"""Unit tests of the hardware blocks, one file per block (``tests/blocks/test_<name>.py`` for
``flow/blocks/<name>.py``), plus the shared helpers (``test_bits``, ``test_cost``) and the registry.

A package so that its ``test_<name>.py`` files do not clash with the cocotb tests ``sim/<dir>/test_<name>.py``
under pytest's default ``prepend`` import mode (these import as ``blocks.test_<name>``)."""
