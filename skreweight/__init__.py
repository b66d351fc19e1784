"""skreweight: which training data counts, and how much.

Resamplers, reweighters and the estimators and evaluation tools built on them,
native to scikit-learn and imbalanced-learn.
"""

from skreweight._show_versions import show_versions
from skreweight._version import __version__
from skreweight.base import BaseReweighter, ReweighterMixin
from skreweight.compose import ImportanceResampler, ReweightedEstimator

__all__ = [
    "BaseReweighter",
    "ImportanceResampler",
    "ReweightedEstimator",
    "ReweighterMixin",
    "__version__",
    "show_versions",
]
