"""ADMM vs STE vs float: test accuracy of LeNet-5 on mnist5k at the same data, seed and epoch budget.

    python bench/admm_accuracy.py                      # the four LeNet-5 recipes
    python bench/admm_accuracy.py --recipes tfc_w1a1,tfc_admm_w1 --seeds 0,1

Each recipe is trained with its default settings, as ``qflow train`` does; the recipe's own seed writes
``build/<recipe>/`` (so ``qflow export`` can follow), other seeds ``build/bench/seed<k>/``. Weight statistics
come from the trained model's actual weight values: bits/weight is ceil(log2(distinct levels)) per layer (32
for float layers), weighted by the number of weights; "non-zero" counts weights that are not exactly zero;
the weight memory is sum(weights x bits) of the dense layout. The table goes to stdout (Markdown) and the rows to
``build/bench/admm_accuracy.json``.
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import sys
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flow.io import write_json
from flow.paths import build_root, recipe_paths
from flow.recipe import load_recipe
from flow.stages.train import train_recipe, trained_model

DEFAULT = "lenet5_float,lenet5_ste_w1,lenet5_admm_w1,lenet5_admm_prune_w1"


def weight_values(layer: nn.Module) -> torch.Tensor:
    """The weights the layer computes with: Brevitas' quantized weight, else the float one."""
    quant = getattr(layer, "quant_weight", None)
    with torch.no_grad():
        return (quant().value if callable(quant) else layer.weight).detach().reshape(-1)


def weight_stats(model: nn.Module) -> dict:
    total = bits = nonzero = 0
    for module in model.modules():
        if not isinstance(module, nn.Linear | nn.Conv2d):
            continue
        w = weight_values(module)
        quantized = hasattr(module, "quant_weight")
        b = max(1, math.ceil(math.log2(len(torch.unique(w))))) if quantized else 32
        total += w.numel()
        bits += w.numel() * b
        nonzero += int((w != 0).sum())
    return {"weights": total, "bits_per_weight": bits / total, "nonzero": nonzero, "weight_kib": bits / 8192}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default=DEFAULT, help=f"comma-separated recipe names (default {DEFAULT})")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds; accuracy is reported per seed and mean")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    rows = []
    for name in args.recipes.split(","):
        recipe = load_recipe(name)
        for seed in (int(s) for s in args.seeds.split(",")):
            seeded = replace(recipe, train=replace(recipe.train, seed=seed))
            # the recipe's own seed writes build/<recipe>/ (what `qflow export` uses); other seeds stay aside
            root = None if seed == recipe.train.seed else build_root() / "bench" / f"seed{seed}"
            paths = recipe_paths(name, root=root)
            result = train_recipe(seeded, progress=False, paths=paths)
            stats = weight_stats(trained_model(seeded, paths=paths))
            rows.append(
                {
                    "recipe": name,
                    "seed": seed,
                    "test_accuracy": result.test_accuracy,
                    "epochs": result.epochs,
                    "seconds": result.seconds,
                    **stats,
                }
            )
            print(
                f"# {name} seed {seed}: test accuracy {result.test_accuracy:.4f} in {result.seconds:.0f} s",
                file=sys.stderr,
                flush=True,
            )

    baseline = {r["seed"]: r["test_accuracy"] for r in rows if r["recipe"] == args.recipes.split(",")[0]}
    print(
        "| recipe | seeds | epochs | test accuracy (per seed) | mean | vs first row | bits/weight | non-zero "
        "weights | weight memory | train time |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.recipes.split(","):
        mine = [r for r in rows if r["recipe"] == name]
        accs = [r["test_accuracy"] for r in mine]
        mean = statistics.fmean(accs)
        delta = statistics.fmean(r["test_accuracy"] - baseline[r["seed"]] for r in mine)
        r0 = mine[0]
        print(
            f"| `{name}` | {','.join(str(r['seed']) for r in mine)} | {r0['epochs']} | "
            f"{' / '.join(f'{a:.4f}' for a in accs)} | {mean:.4f} | {100 * delta:+.1f} pt | "
            f"{r0['bits_per_weight']:.2f} | {r0['nonzero']:,} / {r0['weights']:,} "
            f"({100 * r0['nonzero'] / r0['weights']:.0f} %) | {r0['weight_kib']:.1f} KiB | "
            f"{statistics.fmean(r['seconds'] for r in mine):.0f} s |"
        )
    write_json(build_root() / "bench" / "admm_accuracy.json", rows)


if __name__ == "__main__":
    main()
