"""Quantile prediction: multi-quantile models, aggregation, monotonization,
conformal calibration and metrics."""

from skreweight.quantile._aggregator import QuantileAggregator
from skreweight.quantile._conformal import ConformalQuantileRegressor
from skreweight.quantile._metrics import (
    interval_coverage,
    interval_width,
    make_quantile_scorer,
    pinball_loss,
    weighted_interval_score,
)
from skreweight.quantile._monotonize import crossing_rate, monotonize
from skreweight.quantile._multi import MultiQuantileRegressor

__all__ = [
    "ConformalQuantileRegressor",
    "MultiQuantileRegressor",
    "QuantileAggregator",
    "crossing_rate",
    "interval_coverage",
    "interval_width",
    "make_quantile_scorer",
    "monotonize",
    "pinball_loss",
    "weighted_interval_score",
]
