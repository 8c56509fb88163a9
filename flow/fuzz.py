"""Seeded random quantized networks for fuzzing the flow: MLPs and CNNs with random widths, bit widths
(binary, ternary, 2-8 bit weights; binary and 2-8 bit activations), convolution shapes, pooling and foldings.

:func:`random_network` builds one from a seed, :func:`fuzz_one` exports it, compiles it (through the front end,
like a user's file), simulates it under random stalls and returns what happened: ``"built"`` (RTL == golden,
measured latency == predicted for MLPs) or ``"refused: <reason>"`` (a clear one-line refusal). Anything else
-- a mismatch, a crash -- raises. ``tests/test_byom.py`` runs a few seeds; ``make fuzz N=...`` many
(``bench/fuzz.py``).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from flow.compile.folding import Folding, divisors
from flow.errors import QflowError
from flow.export import export_qonnx
from flow.qat import QAct, QConv2d, QLinear, seed_everything
from flow.stages.compile import compile_target
from flow.stages.simulate import simulate_target
from flow.stages.target import resolve

__all__ = ["FuzzCase", "fuzz_one", "random_network"]

WEIGHTS = ["binary", "ternary", "int2", "int3", "int4", "int8"]
ACTS = ["binary", "uint2", "uint3", "uint4", "int4", "uint8"]


@dataclass
class FuzzCase:
    """One random network: the model, its input shape (without batch), a folding and per-layer overrides."""

    seed: int
    kind: str
    model: nn.Module
    input_shape: tuple[int, ...]
    folding: str
    overrides: dict[str, tuple[int, int]]


def _mlp(rng: random.Random) -> tuple[list[nn.Module], tuple[int, ...], dict]:
    widths = [rng.choice([8, 12, 16, 24])] + [rng.randint(4, 24) for _ in range(rng.randint(2, 3))]
    layers: list[nn.Module] = [QAct(rng.choice(ACTS[1:]))]
    overrides = {}
    for i, (n_in, n_out) in enumerate(itertools.pairwise(widths)):
        layers.append(QLinear(n_in, n_out, rng.choice(WEIGHTS)))
        if i < len(widths) - 2:
            layers += [nn.BatchNorm1d(n_out), QAct(rng.choice(ACTS))]
        if rng.random() < 0.7:
            overrides[f"MatMul_{i}"] = (rng.choice(divisors(n_out)), rng.choice(divisors(n_in)))
    return layers, (widths[0],), overrides


def _cnn(rng: random.Random) -> tuple[list[nn.Module], tuple[int, ...], dict]:
    size, channels = rng.choice([6, 8, 10]), rng.choice([1, 2, 3])
    shape = (channels, size, size)
    layers: list[nn.Module] = [QAct(rng.choice(ACTS[1:]))]
    for _ in range(rng.randint(1, 2)):
        out, k = rng.choice([2, 4, 6]), rng.choice([1, 3])
        stride, pad = rng.choice([1, 1, 2]), rng.choice([0, 1]) if k == 3 else 0
        act = rng.choice(ACTS[1:])  # k-bit: zero padding needs a code for 0
        layers += [QConv2d(channels, out, k, weight=rng.choice(WEIGHTS), stride=stride, padding=pad),
                   nn.BatchNorm2d(out), QAct(act)]
        size, channels = (size + 2 * pad - k) // stride + 1, out
    if size >= 2 and rng.random() < 0.5:
        layers.append(nn.MaxPool2d(2))
        size //= 2
    layers += [nn.Flatten(), QLinear(channels * size * size, rng.choice([2, 4, 10]), rng.choice(WEIGHTS))]
    return layers, shape, {}


def random_network(seed: int) -> FuzzCase:
    """The network of ``seed`` (an MLP for even seeds, a CNN for odd ones), with a random folding."""
    rng = random.Random(seed)
    seed_everything(seed)
    kind = "mlp" if seed % 2 == 0 else "cnn"
    layers, shape, overrides = (_mlp if kind == "mlp" else _cnn)(rng)
    folding = rng.choice(["parallel", "folded", str(rng.choice([4, 16, 64, 256]))])
    return FuzzCase(seed, kind, nn.Sequential(*layers).eval(), shape, folding, overrides)


def fuzz_one(seed: int, workdir: Path, stall_percent: int = 40) -> str:
    """Export, compile and simulate the network of ``seed`` under ``workdir`` (``$QFLOW_BUILD`` decides where
    the build goes); return ``"built"`` or ``"refused: <reason>"``. Raises :class:`AssertionError` on any
    mismatch, a refusal that is not one line, or a latency off its prediction (MLPs)."""
    case = random_network(seed)
    path = Path(workdir) / f"fuzz{seed}.onnx"
    try:
        export_qonnx(case.model, case.input_shape, path)
        target = resolve(path)
        compile_target(target, Folding.parse(case.folding, case.overrides))
    except QflowError as exc:
        message = str(exc)
        assert message and "\n" not in message, f"seed {seed}: refusal is not one line: {message!r}"
        return f"refused: {message}"
    sim = simulate_target(target, stall_percent=stall_percent)
    assert (sim["mismatches_with_stalls"], sim["mismatches_without_stalls"]) == (0, 0), f"seed {seed}: {sim}"
    if case.kind == "mlp":
        assert sim["latency_cycles_measured"] == sim["latency_cycles_predicted"], f"seed {seed}: latency"
    return "built"
