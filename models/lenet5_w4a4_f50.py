"""LeNet-5-w4a4 with 50 % of its filters kept by magnitude filter pruning, then fine-tuned; the zero filters leave
the hardware exactly (:func:`flow.qat.pruned_recipes.lenet5_filter_pruned` says how)."""

from flow.qat.pruned_recipes import lenet5_filter_pruned

RECIPE = lenet5_filter_pruned("lenet5_w4a4_f50", 0.50, __doc__)
