"""Datasets: the embedded default for the demo and synthetic generators."""

from skreweight.datasets._causal import make_kang_schafer, make_mnar_ratings
from skreweight.datasets._embedded import load_wdbc_imbalanced
from skreweight.datasets._synthetic import make_imbalanced_classification

__all__ = [
    "load_wdbc_imbalanced",
    "make_imbalanced_classification",
    "make_kang_schafer",
    "make_mnar_ratings",
]
