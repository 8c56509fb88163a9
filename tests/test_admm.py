"""ADMM: exact projections (against brute force), the trainer's residuals and sets, and the binarized twin."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from flow.errors import QuantSpecError, UnsupportedError
from flow.qat import QAct
from flow.qat.admm import (
    AdmmConfig,
    Binary,
    Intersect,
    PowerOfTwoGrid,
    Sparsity,
    Ternary,
    admm_train,
    binarize_for_export,
    binary_twin,
)
from flow.qat.data import Dataset, Split

torch.set_num_threads(1)


def _vec(seed: int, n: int) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).normal(size=n)).to(torch.float64)


def _err(w: torch.Tensor, p: torch.Tensor) -> float:
    return float(((w - p) ** 2).sum())


# --- projections against brute force -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_projection_is_optimal(seed):
    w = _vec(seed, 7)
    best = min(
        _err(w, max(0.0, float((s * w).mean())) * s)
        for s in (torch.tensor(p, dtype=torch.float64) for p in itertools.product((-1.0, 1.0), repeat=7))
    )
    p = Binary().project(w)
    assert _err(w, p) == pytest.approx(best, rel=1e-12, abs=1e-12)
    assert Binary().contains(p) and not Binary().contains(w)


def test_binary_per_channel_is_per_row_and_sign_of_zero_is_plus():
    w = torch.from_numpy(np.random.default_rng(3).normal(size=(4, 2, 3, 3)))
    p = Binary(per_channel=True).project(w)
    for c in range(4):
        assert torch.equal(p[c], Binary().project(w[c]))
    assert torch.equal(Binary().project(torch.tensor([0.0, -2.0, 4.0])), torch.tensor([2.0, -2.0, 2.0]))
    assert Binary(per_channel=True).contains(p) and not Binary().contains(p)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ternary_projection_is_optimal(seed):
    w = _vec(seed, 6)
    best = float(w.pow(2).sum())  # the all-zero pattern
    for pattern in itertools.product((-1.0, 0.0, 1.0), repeat=6):
        s = torch.tensor(pattern, dtype=torch.float64)
        nnz = float(s.abs().sum())
        if nnz:
            best = min(best, _err(w, max(0.0, float((s * w).sum()) / nnz) * s))
    p = Ternary().project(w)
    assert _err(w, p) == pytest.approx(best, rel=1e-12, abs=1e-12)
    assert Ternary().contains(p) and not Ternary().contains(w)
    rows = torch.stack([_vec(seed + 10, 6), w])
    assert torch.equal(Ternary(per_channel=True).project(rows)[1], p)


GRID_VECTORS = [
    [0.3, -0.11, 0.07, 0.52, -0.26],
    [5.0, 0.01, -0.02, 0.015, 0.03],  # one outlier: a finer grid that clips it can win
    [1.0, 1.0, -0.5, 0.25, 0.0],  # already on a grid
    [1e-3, -2e-3, 7e-4, 0.0, 3e-3],
]


@pytest.mark.parametrize("values", GRID_VECTORS)
@pytest.mark.parametrize("bits", [2, 3])
def test_grid_projection_is_optimal(values, bits):
    w = torch.tensor(values, dtype=torch.float64)
    qmax = 2 ** (bits - 1) - 1
    levels = torch.arange(-qmax, qmax + 1, dtype=torch.float64)
    best = float("inf")
    for e in range(-40, 12):  # far wider than the projection's search window
        s = 2.0**e
        # every integer pattern: the nearest level per entry, found by enumeration rather than rounding
        best = min(best, sum(float(((wi - s * levels) ** 2).min()) for wi in w))
    if bits == 2:  # and the full pattern enumeration for the smallest grid
        for e in range(-40, 12):
            for q in itertools.product((-1.0, 0.0, 1.0), repeat=len(values)):
                best = min(best, _err(w, 2.0**e * torch.tensor(q, dtype=torch.float64)))
    grid = PowerOfTwoGrid(bits)
    p = grid.project(w)
    assert _err(w, p) == pytest.approx(best, rel=1e-12, abs=1e-15)
    assert grid.contains(p)
    s = grid.scale(w)
    assert s == 2.0 ** round(np.log2(s))


def test_grid_contains():
    grid = PowerOfTwoGrid(3)  # levels -3..3
    assert grid.contains(torch.tensor([0.75, -0.5, 0.0, 0.25]))
    assert grid.contains(torch.tensor([3.0, -2.0, 1.0]))
    assert not grid.contains(torch.tensor([4.0, 1.0]))  # the scale must be >= 4/3, i.e. 2: then 1 is off-grid
    assert not grid.contains(torch.tensor([0.3]))
    assert grid.contains(torch.zeros(3))


@pytest.mark.parametrize(
    ("structure", "shape", "keep"),
    [("none", (8,), 0.5), ("none", (2, 4), 0.25), ("filter", (5, 3), 0.4), ("column", (3, 6, 2), 0.5)],
)
def test_sparsity_projection_is_optimal(structure, shape, keep):
    w = torch.from_numpy(np.random.default_rng(7).normal(size=shape))
    sp = Sparsity(keep, structure)
    axis = {"none": None, "filter": 0, "column": 1}[structure]
    n = w.numel() if axis is None else w.shape[axis]
    k = sp.count(n)
    best = float("inf")
    for size in range(k + 1):
        for support in itertools.combinations(range(n), size):
            mask = torch.zeros(n, dtype=torch.bool)
            mask[list(support)] = True
            if axis is None:
                m = mask.reshape(shape)
            else:
                view = [1] * w.dim()
                view[axis] = -1
                m = mask.reshape(view).expand(shape)
            best = min(best, _err(w, w * m))
    p = sp.project(w)
    assert _err(w, p) == pytest.approx(best, rel=1e-12)
    assert sp.contains(p) and not sp.contains(w)


def test_intersect_binary_recomputes_alpha_on_the_support():
    w = torch.tensor([[3.0, -0.1, 1.0, -2.0], [0.5, 0.2, -0.4, 0.1]])
    p = Intersect(Sparsity(0.5), Binary(per_channel=True)).project(w)
    # kept: 3, -2, 1, 0.5 (top 4 magnitudes); row alphas (3+2+1)/3 = 2 and 0.5
    assert torch.equal(p, torch.tensor([[2.0, 0.0, 2.0, -2.0], [0.5, 0.0, 0.0, 0.0]]))
    assert Intersect(Sparsity(0.5), Binary(per_channel=True)).contains(p)
    assert not Intersect(Sparsity(0.5), Binary()).contains(p)  # per tensor: 2 != 0.5


SETS = [
    Binary(),
    Binary(per_channel=True),
    Ternary(),
    Ternary(per_channel=True),
    PowerOfTwoGrid(2),
    PowerOfTwoGrid(4),
    PowerOfTwoGrid(8),
    Sparsity(0.3),
    Sparsity(0.5, "filter"),
    Sparsity(0.5, "column"),
    Intersect(Sparsity(0.5), Binary(per_channel=True)),
    Intersect(Sparsity(0.4, "filter"), Ternary()),
    Intersect(Sparsity(0.6, "column"), PowerOfTwoGrid(3)),
]


@pytest.mark.parametrize("constraint", SETS, ids=repr)
def test_projection_is_idempotent_and_contained(constraint):
    w = torch.from_numpy(np.random.default_rng(11).normal(size=(6, 4, 3, 3))).float()
    p = constraint.project(w)
    assert p.shape == w.shape and p.dtype == w.dtype
    assert constraint.contains(p)
    assert not constraint.contains(w)
    assert torch.equal(constraint.project(p), p)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: PowerOfTwoGrid(1), r"PowerOfTwoGrid\.bits: expected an integer >= 2 .*got 1"),
        (lambda: Sparsity(0.0), r"Sparsity\.keep: expected .*0 < keep <= 1.*got 0\.0"),
        (lambda: Sparsity(1.5), r"Sparsity\.keep: .*got 1\.5"),
        (lambda: Sparsity(0.5, "rows"), r"Sparsity\.structure: expected one of .*got 'rows'"),
        (lambda: Intersect(Sparsity(0.5), Sparsity(0.5)), r"Intersect\.quant: expected .*got Sparsity"),
    ],
)
def test_bad_constraints_are_refused(make, message):
    with pytest.raises(QuantSpecError, match=message):
        make()


def test_keep_one_is_no_pruning():
    w = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(Sparsity(1.0).project(w), w)


# --- trainer ---------------------------------------------------------------------------------------------------


def _toy_dataset(n: int = 256, features: int = 16, classes: int = 4) -> Dataset:
    rng = np.random.default_rng(0)
    teacher = rng.normal(size=(features, classes))
    x = rng.uniform(-1, 1, size=(2 * n, features)).astype(np.float32)
    y = (x @ teacher).argmax(axis=1).astype(np.int64)
    return Dataset("toy", Split(x[:n], y[:n]), Split(x[n:], y[n:]), (4, 4), classes)


def _toy_mlp(act: nn.Module | None = None) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(16, 12, bias=False),
        nn.BatchNorm1d(12),
        act or nn.ReLU(),
        nn.Linear(12, 4, bias=False),
        nn.BatchNorm1d(4),
    )


# 16 steps per W-step: enough for W to follow the penalty (4 steps per iteration were not).
FAST = AdmmConfig(
    rho=0.5,
    rho_growth=1.5,
    max_iterations=6,
    inner_epochs=1,
    finetune_epochs=1,
    lr=1e-2,
    batch_size=16,
    tol_primal=0.0,
    tol_dual=0.0,
)


def test_primal_residual_decreases():
    model = _toy_mlp()
    result = admm_train(model, _toy_dataset(), {"0": Ternary(), "3": PowerOfTwoGrid(3)}, FAST)
    primal = [r.primal for r in result.iterations]
    assert len(primal) == FAST.max_iterations
    assert primal[-1] < 0.5 * primal[0]
    assert all(r.dual >= 0 for r in result.iterations)


@pytest.mark.parametrize(
    "constraints",
    [
        {"0": Binary(per_channel=True), "3": Binary()},
        {"0": Sparsity(0.25), "3": Sparsity(0.5, "column")},
        {"0": Intersect(Sparsity(0.5, "filter"), Ternary(per_channel=True)), "3": PowerOfTwoGrid(4)},
        {"0": [PowerOfTwoGrid(8), PowerOfTwoGrid(4), PowerOfTwoGrid(2), Binary()], "3": PowerOfTwoGrid(4)},
    ],
    ids=["binary", "sparsity", "intersect", "progressive"],
)
def test_admm_ends_in_the_sets(constraints):
    model = _toy_mlp()
    config = AdmmConfig(rho=0.05, max_iterations=2, inner_epochs=1, finetune_epochs=1, lr=1e-2, batch_size=64)
    result = admm_train(model, _toy_dataset(), constraints, config)
    for name, spec in constraints.items():
        final = spec[-1] if isinstance(spec, list) else spec
        assert final.contains(model.get_submodule(name).weight.detach()), name
    stages = max(len(s) if isinstance(s, list) else 1 for s in constraints.values())
    assert len(result.converged) == stages == len({r.stage for r in result.iterations})
    assert 0.0 <= result.test_accuracy <= 1.0


def test_sparse_weights_stay_zero_but_train():
    model = _toy_mlp()
    config = AdmmConfig(rho=0.05, max_iterations=2, finetune_epochs=2, lr=1e-2, weight_decay=1e-3)
    admm_train(model, _toy_dataset(), {"0": Sparsity(0.25)}, config)
    w = model[0].weight.detach()
    assert int((w != 0).sum()) <= Sparsity(0.25).count(w.numel())


def test_unknown_layer_is_refused():
    with pytest.raises(QuantSpecError, match=r"layer 'fc9'.*valid: '0', '3'"):
        admm_train(_toy_mlp(), _toy_dataset(), {"fc9": Binary()}, FAST)
    with pytest.raises(QuantSpecError, match=r"layer '0': expected at least one constraint"):
        admm_train(_toy_mlp(), _toy_dataset(), {"0": []}, FAST)
    with pytest.raises(QuantSpecError, match=r"layer '0': expected Binary.*got str"):
        admm_train(_toy_mlp(), _toy_dataset(), {"0": "binary"}, FAST)


# --- binarized export --------------------------------------------------------------------------------------------


def test_binary_twin_equals_admm_model():
    data = _toy_dataset()
    model = _toy_mlp(act=QAct("uint4"))
    config = AdmmConfig(rho=0.05, max_iterations=3, finetune_epochs=1, lr=1e-2)
    admm_train(model, data, {"0": Binary(per_channel=True), "3": Binary(per_channel=True)}, config)
    model.eval()
    alphas = model[0].weight.detach().abs()[:, 0]
    assert not torch.all(alphas == 1)

    folded = binarize_for_export(model)
    twin = binary_twin(model)
    from brevitas.nn import QuantLinear

    assert isinstance(twin[0], QuantLinear) and isinstance(twin[3], QuantLinear)
    assert torch.equal(twin[0].quant_weight().value.abs(), torch.ones(12, 16))
    assert torch.equal(model[0].weight.detach().abs()[:, 0], alphas)  # the original is untouched

    x = torch.from_numpy(data.test.x)
    with torch.no_grad():
        ref, out_folded, out_twin = model(x), folded(x), twin(x)
    # alpha moves from the weights into BatchNorm: equal in real arithmetic, float32 rounding differs by a few
    # ulps of the logits (~1e-6); 1e-4 leaves room for that and would catch any real (alpha-sized) mismatch.
    assert torch.allclose(out_folded, ref, rtol=0, atol=1e-4)
    assert torch.allclose(out_twin, ref, rtol=0, atol=1e-4)
    assert torch.equal(out_twin.argmax(dim=1), ref.argmax(dim=1))


def test_binarize_needs_a_following_batchnorm():
    model = nn.Sequential(nn.Linear(4, 3, bias=False), nn.ReLU())
    with torch.no_grad():
        model[0].weight.copy_(Binary(per_channel=True).project(torch.randn(3, 4)))
    with pytest.raises(UnsupportedError, match=r"layer '0': expected a BatchNorm right after it"):
        binarize_for_export(model)
    with pytest.raises(QuantSpecError, match=r"layers \['7'\] not found"):
        binarize_for_export(model, layers=["7"])


def test_binary_twin_of_a_convolution():
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1, bias=False),
        nn.BatchNorm2d(3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(3 * 5 * 5, 4, bias=False),
        nn.BatchNorm1d(4),
    )
    with torch.no_grad():
        for i in (0, 4):
            model[i].weight.copy_(Binary(per_channel=True).project(model[i].weight))
        for i in (1, 5):  # non-trivial BatchNorm statistics and affine parameters
            bn = model[i]
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
            bn.weight.uniform_(0.5, 2)
            bn.bias.uniform_(-1, 1)
    model.eval()
    twin = binary_twin(model)
    from brevitas.nn import QuantConv2d

    assert isinstance(twin[0], QuantConv2d) and twin[0].padding == (1, 1)
    x = torch.rand(32, 1, 5, 5, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref, out = model(x), twin(x)
    assert torch.allclose(out, ref, rtol=0, atol=1e-4)  # float rounding only, as above
    assert torch.equal(out.argmax(dim=1), ref.argmax(dim=1))


def test_pruned_binary_twin_is_ternary_and_equal():
    """Intersect(Sparsity, Binary) weights: alpha_c * {-1, 0, +1}; the twin uses the ternary preset."""
    from brevitas.nn import QuantLinear

    model = _toy_mlp()
    pruned = Intersect(Sparsity(keep=0.5), Binary(per_channel=True))
    with torch.no_grad():
        for i in (0, 3):
            model[i].weight.copy_(pruned.project(model[i].weight))
        for i in (1, 4):
            model[i].running_mean.uniform_(-1, 1)
            model[i].weight.uniform_(-2, 2)  # negative BatchNorm scales too
    model.eval()
    twin = binary_twin(model)
    assert isinstance(twin[0], QuantLinear)
    levels = torch.unique(twin[0].quant_weight().value)
    assert set(levels.tolist()) == {-1.0, 0.0, 1.0}
    assert int((twin[0].quant_weight().value == 0).sum()) == int((model[0].weight == 0).sum()) == 12 * 16 // 2
    x = torch.from_numpy(_toy_dataset().test.x)
    with torch.no_grad():
        ref, out = model(x), twin(x)
    assert torch.allclose(out, ref, rtol=0, atol=1e-4)  # float rounding of the alpha fold only


def test_output_layer_alpha_is_dropped_only_when_asked():
    """A last layer without BatchNorm: its single alpha can be dropped (logits / alpha, argmax unchanged)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 12, bias=False), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 4, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(Binary(per_channel=True).project(model[0].weight))
        model[3].weight.copy_(Binary(per_channel=False).project(model[3].weight))
    model.eval()
    with pytest.raises(UnsupportedError, match="rescale_output=True"):
        binary_twin(model)
    twin = binary_twin(model, rescale_output=True)
    alpha = float(model[3].weight.detach().abs()[0, 0])
    x = torch.from_numpy(_toy_dataset().test.x)
    with torch.no_grad():
        ref, out = model(x), twin(x)
    assert torch.allclose(out * alpha, ref, rtol=0, atol=1e-4)
    assert torch.equal(out.argmax(dim=1), ref.argmax(dim=1))
    with torch.no_grad():  # per-channel alphas on the output layer cannot be dropped: argmax would change
        model[3].weight.copy_(Binary(per_channel=True).project(torch.randn(4, 12)))
    with pytest.raises(UnsupportedError, match="expected a BatchNorm right after it"):
        binary_twin(model, rescale_output=True)


def test_admm_plan_budget_and_cap():
    from flow.qat.admm_fit import AdmmPlan, capped, same_schedule
    from flow.qat.train import TrainConfig

    plan = AdmmPlan(
        twin=_toy_mlp,
        constraints={**same_schedule(["0"], [PowerOfTwoGrid(4), Binary()]), "3": [Binary()]},
        config=AdmmConfig(max_iterations=5, inner_epochs=2, finetune_epochs=3),
        pretrain=TrainConfig(epochs=4),
    )
    assert plan.stages() == 2 and plan.epochs() == 4 + 2 * 5 * 2 + 3
    one = capped(plan, 1)
    assert one.epochs() == 1 + 1 * 1 * 2 + 1 and one.constraints == {"0": [Binary()], "3": [Binary()]}
    assert capped(plan, 100) == plan


def test_quantized_forward_w_step_sees_projected_weights_and_ends_in_the_set():
    """ADMM + straight-through W-step: the loss is computed on project(W), the latent W is restored before
    the optimizer step, and the result still ends in the set."""
    model = _toy_mlp()
    seen = []
    hook = model[0].register_forward_pre_hook(lambda m, args: seen.append(m.weight.detach().clone()))
    constraints = {"0": Binary(per_channel=True), "3": Binary(per_channel=True)}
    config = AdmmConfig(rho=0.05, max_iterations=2, finetune_epochs=1, lr=1e-2, batch_size=64, quantized_forward=True)
    admm_train(model, _toy_dataset(), constraints, config)
    hook.remove()
    w_step = seen[: len(seen) // 3]  # the first iteration's W-step forwards (evaluations come later)
    assert w_step and all(Binary(per_channel=True).contains(w) for w in w_step)
    for name, c in constraints.items():
        assert c.contains(model.get_submodule(name).weight.detach()), name


def test_ste_finetune_trains_latent_weights_through_the_projection():
    """finetune="ste": the loss sees project(latent), the latent weights keep changing (so signs may flip), the
    support of a pruned set stays the one of the hard projection, and the result ends in the set."""
    constraints = {"0": Intersect(Sparsity(0.5), Binary(per_channel=True)), "3": Binary(per_channel=True)}
    base = dict(rho=0.05, max_iterations=1, finetune_epochs=2, lr=1e-2, finetune_lr=5e-2, batch_size=16)
    frozen, ste = _toy_mlp(), _toy_mlp()
    admm_train(frozen, _toy_dataset(), constraints, AdmmConfig(**base))
    seen = []
    hook = ste[0].register_forward_pre_hook(lambda m, args: seen.append(m.weight.detach().clone()))
    admm_train(ste, _toy_dataset(), constraints, AdmmConfig(**base, finetune="ste"))
    hook.remove()
    fine = seen[-2 * (256 // 16) - 2 :]  # the fine-tuning forwards (and its per-epoch evaluations)
    assert all(constraints["0"].contains(w) for w in fine)
    supports = {tuple((w != 0).reshape(-1).tolist()) for w in fine}
    assert len(supports) == 1  # the support is fixed after the hard projection
    assert len({tuple(w.reshape(-1).tolist()) for w in fine}) > 1  # the levels (signs or alpha) moved
    for name, c in constraints.items():
        assert c.contains(ste.get_submodule(name).weight.detach()), name
    # frozen fine-tuning leaves the projected weights alone: same constraints, other training result
    assert not torch.equal(frozen[3].weight, ste[3].weight)


def test_cosine_schedule_and_bad_modes():
    model = _toy_mlp()
    config = AdmmConfig(rho=0.05, max_iterations=2, finetune_epochs=1, lr=1e-2, batch_size=64, lr_schedule="cosine")
    admm_train(model, _toy_dataset(), {"0": Binary(per_channel=True)}, config)
    assert Binary(per_channel=True).contains(model[0].weight.detach())
    with pytest.raises(ValueError, match=r"AdmmConfig.lr_schedule: expected 'constant' or 'cosine', got 'step'"):
        AdmmConfig(lr_schedule="step")
    with pytest.raises(ValueError, match=r"AdmmConfig.finetune: expected 'frozen' or 'ste', got 'masked'"):
        AdmmConfig(finetune="masked")
