"""Ordinal classifiers: proportional odds and PRESTO for rare top classes."""

from skreweight.ordinal._presto import PRESTO
from skreweight.ordinal._presto_cv import PRESTOCV
from skreweight.ordinal._proportional_odds import ProportionalOdds

__all__ = ["PRESTO", "PRESTOCV", "ProportionalOdds"]
