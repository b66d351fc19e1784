"""Reweighters: class, propensity and balancing weights, and balance diagnostics."""

from skreweight.weighting._class_weights import ClassWeights
from skreweight.weighting._diagnostics import (
    balance_table,
    effective_sample_size,
    love_plot,
    standardized_mean_difference,
    weighted_mmd,
)
from skreweight.weighting._doubly_robust import dr_estimate
from skreweight.weighting._entropy import EntropyBalancing
from skreweight.weighting._kernel_balancing import KernelBalancing
from skreweight.weighting._kmm import KernelMeanMatching
from skreweight.weighting._propensity import PropensityWeights

__all__ = [
    "ClassWeights",
    "EntropyBalancing",
    "KernelBalancing",
    "KernelMeanMatching",
    "PropensityWeights",
    "balance_table",
    "dr_estimate",
    "effective_sample_size",
    "love_plot",
    "standardized_mean_difference",
    "weighted_mmd",
]
