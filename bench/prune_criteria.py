"""Filter-pruning criteria at equal kept-filter budgets: magnitude vs redundancy (and redundancy in the convolutions
only), on a recipe's trained dense model.

    qflow train lenet5_w4a4                                   # the dense model (build/lenet5_w4a4/model.pt)
    python bench/prune_criteria.py                            # lenet5_w4a4, keep 0.5 and 0.25, 5 fine-tune epochs
    python bench/prune_criteria.py --keep 0.5 --epochs 5 --seeds 0 1

For each kept fraction and criterion: the dense checkpoint is loaded, the filters of conv1, conv2, fc120 and fc84
are chosen (:func:`flow.qat.filter_prune.select_filters`: the same ``max(1, round(keep * n))`` per layer for
every criterion), the others are set to zero, the test accuracy is taken right then ("pruned") and after the
fine-tune ("fine-tuned", Adam 1e-3 cosine, the pruned filters held at zero, as ``lenet5_w4a4_f*``). Prints a
Markdown table; torch runs on one thread.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from flow.paths import recipe_paths
from flow.qat.filter_prune import FilterMasks, FilterPrune, PrunePlan, fit_pruned, select_filters
from flow.qat.models import LENET5_LAYERS
from flow.qat.train import TrainConfig, evaluate, load_checkpoint, seed_everything
from flow.recipe import load_recipe
from flow.stages.train import recipe_dataset

CONVS = LENET5_LAYERS[:2]


def _plans(keep: float) -> dict[str, dict[str, FilterPrune]]:
    layers = LENET5_LAYERS[:-1]
    return {
        "magnitude": {n: FilterPrune(keep, "magnitude") for n in layers},
        "redundancy": {n: FilterPrune(keep, "redundancy") for n in layers},
        "redundancy (convs), magnitude (fc)": {n: FilterPrune(keep, "redundancy" if n in CONVS else "magnitude")
                                               for n in layers},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default="lenet5_w4a4")
    ap.add_argument("--keep", type=float, nargs="+", default=[0.5, 0.25])
    ap.add_argument("--epochs", type=int, default=5, help="fine-tuning epochs")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = ap.parse_args()
    recipe = load_recipe(args.recipe)
    data = recipe_dataset(recipe)
    checkpoint = recipe_paths(recipe.name).checkpoint
    finetune = TrainConfig(epochs=args.epochs, batch_size=64, lr=1e-3, optimizer="adam")
    print("| keep | criterion | seed | filters kept (conv1, conv2, fc120, fc84) | pruned | fine-tuned | seconds |")
    print("|---|---|---|---|---|---|---|")
    for keep in args.keep:
        for label, layers in _plans(keep).items():
            for seed in args.seeds:
                seed_everything(seed)
                model = recipe.build()
                load_checkpoint(model, checkpoint)
                dense = evaluate(model, data.test)
                rng = np.random.default_rng(seed)
                x = data.train.x[np.sort(rng.choice(len(data.train), 256, replace=False))]
                kept = {n: select_filters(model, n, spec, x) for n, spec in layers.items()}
                masks = FilterMasks(model, kept)
                pruned = evaluate(model, data.test)
                masks.remove()
                start = time.perf_counter()
                plan = PrunePlan(layers=layers, finetune=replace(finetune, seed=seed), pretrain=None)
                model = recipe.build()
                load_checkpoint(model, checkpoint)
                result = fit_pruned(model, data, plan, seed=seed, progress=False)
                counts = ", ".join(str(len(k)) for k in kept.values())
                print(f"| {keep} | {label} | {seed} | {counts} | {pruned:.4f} | {result.test_accuracy:.4f} | "
                      f"{time.perf_counter() - start:.0f} |", flush=True)
    print(f"\ndense {args.recipe}: {dense:.4f}")


if __name__ == "__main__":
    main()
