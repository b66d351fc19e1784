"""Metrics for quantile predictions and prediction intervals."""

from numbers import Real

import numpy as np
from sklearn.utils.validation import check_array, check_consistent_length

from skreweight.quantile._common import check_quantiles
from skreweight.utils._sklearn_fixes import StrOptions, validate_params

__all__ = [
    "interval_coverage",
    "interval_width",
    "make_quantile_scorer",
    "pinball_loss",
    "weighted_interval_score",
]


def _check_sample_weight_1d(sample_weight, n):
    if sample_weight is None:
        return None
    sample_weight = np.asarray(sample_weight, dtype=float)
    if sample_weight.shape != (n,):
        raise ValueError(
            f"sample_weight must have shape ({n},), one weight per row; got "
            f"{sample_weight.shape}."
        )
    if not np.all(np.isfinite(sample_weight)) or np.any(sample_weight < 0):
        raise ValueError("sample_weight must be finite and non-negative.")
    if sample_weight.sum() <= 0:
        raise ValueError("sample_weight must have a positive sum.")
    return sample_weight


def _check_y_pred(y_true, y_pred, quantiles):
    y_true = check_array(y_true, ensure_2d=False, dtype=float, input_name="y_true")
    if y_true.ndim != 1:
        raise ValueError(f"y_true must be 1-D (one target); got shape {y_true.shape}.")
    quantiles = check_quantiles(quantiles)
    y_pred = check_array(y_pred, ensure_2d=False, dtype=float, input_name="y_pred")
    if y_pred.ndim == 1:
        y_pred = y_pred.reshape(-1, 1)
    check_consistent_length(y_true, y_pred)
    if y_pred.ndim != 2 or y_pred.shape[1] != quantiles.size:
        raise ValueError(
            f"y_pred must have shape (n_samples, n_quantiles) = "
            f"({y_true.shape[0]}, {quantiles.size}), one column per level of "
            f"quantiles in increasing order; got {y_pred.shape}."
        )
    return y_true, y_pred, quantiles


def _pinball_matrix(y_true, y_pred, quantiles):
    diff = y_true[:, None] - y_pred
    return np.maximum(quantiles * diff, (quantiles - 1) * diff)


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "quantiles": ["array-like", Real],
        "sample_weight": ["array-like", None],
        "multioutput": [StrOptions({"raw_values", "uniform_average"})],
    },
    prefer_skip_nested_validation=True,
)
def pinball_loss(
    y_true, y_pred, quantiles, *, sample_weight=None, multioutput="raw_values"
):
    """Mean pinball (quantile) loss of every quantile level.

    The pinball loss of level ``tau`` at residual ``u = y - q`` is
    ``max(tau * u, (tau - 1) * u)``. Column ``k`` of ``y_pred`` predicts the
    level ``quantiles[k]``; the loss is averaged over rows (weighted by
    ``sample_weight``) separately for every level.

    Read more in the :ref:`User Guide <quantile>`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed targets.

    y_pred : array-like of shape (n_samples, n_quantiles)
        Predicted quantiles, one column per level of ``quantiles``.

    quantiles : float or array-like of shape (n_quantiles,)
        Quantile levels in (0, 1), distinct and increasing (the order of the
        columns of ``y_pred``).

    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.

    multioutput : {"raw_values", "uniform_average"}, default="raw_values"
        ``"raw_values"`` returns one loss per level; ``"uniform_average"``
        their mean.

    Returns
    -------
    loss : float or ndarray of shape (n_quantiles,)
        Weighted mean pinball loss of each level, or their mean.

    See Also
    --------
    weighted_interval_score : Twice the summed pinball loss, per sample.
    sklearn.metrics.mean_pinball_loss : The same for one level.

    Notes
    -----
    Column ``k`` equals
    ``sklearn.metrics.mean_pinball_loss(y_true, y_pred[:, k], alpha=quantiles[k])``.

    Examples
    --------
    >>> from skreweight.quantile import pinball_loss
    >>> pinball_loss([1.0, 2.0], [[0.0, 1.0], [1.0, 3.0]], [0.1, 0.9])
    array([0.1 , 0.05])
    """
    y_true, y_pred, quantiles = _check_y_pred(y_true, y_pred, quantiles)
    if quantiles.size != y_pred.shape[1]:  # pragma: no cover - checked above
        raise ValueError("quantiles and y_pred do not match.")
    sample_weight = _check_sample_weight_1d(sample_weight, y_true.shape[0])
    losses = np.average(
        _pinball_matrix(y_true, y_pred, quantiles), axis=0, weights=sample_weight
    )
    if multioutput == "uniform_average":
        return float(losses.mean())
    return losses


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "quantiles": ["array-like", Real],
    },
    prefer_skip_nested_validation=True,
)
def weighted_interval_score(y_true, y_pred, quantiles):
    """Weighted interval score (WIS) of every sample.

    On a grid of quantile levels ``T``,
    ``WIS_i = 2 * sum_{tau in T} pinball_tau(y_i - q_i(tau))``. On a symmetric
    grid (central pairs ``(alpha/2, 1 - alpha/2)`` plus perhaps the median) this
    is ``sum_k [alpha_k (u_k - l_k) + 2 dist(y, [l_k, u_k])] + |y - median|``:
    width plus penalties for misses, summed over the intervals.

    Read more in the :ref:`User Guide <quantile>`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed targets.

    y_pred : array-like of shape (n_samples, n_quantiles)
        Predicted quantiles, one column per level of ``quantiles``.

    quantiles : float or array-like of shape (n_quantiles,)
        Quantile levels in (0, 1), distinct and increasing.

    Returns
    -------
    wis : ndarray of shape (n_samples,)
        The score of every sample (lower is better); its mean is the mean WIS.

    See Also
    --------
    pinball_loss : Mean pinball loss per level.
    make_quantile_scorer : A scorer for model selection.

    Notes
    -----
    This is the unnormalised form of Fakoor et al. (2023). Bracher et al.
    (2021) weight the intervals by ``alpha_k / 2`` and divide by ``K + 1/2``;
    their value is this one divided by ``len(quantiles)``. The mean of the
    scores equals ``2 * pinball_loss(y_true, y_pred, quantiles).sum()``.

    References
    ----------
    .. [1] J. Bracher, E. L. Ray, T. Gneiting and N. G. Reich, "Evaluating
       epidemic forecasts in an interval format", PLoS Comput. Biol. 17(2),
       2021.
    .. [2] R. Fakoor, T. Kim, J. Mueller, A. J. Smola and R. J. Tibshirani,
       "Flexible Model Aggregation for Quantile Regression", JMLR 24(162), 2023.

    Examples
    --------
    >>> from skreweight.quantile import weighted_interval_score
    >>> weighted_interval_score([1.0], [[0.0, 2.0, 1.0]], [0.25, 0.5, 0.75])
    array([1.5])
    """
    y_true, y_pred, quantiles = _check_y_pred(y_true, y_pred, quantiles)
    return 2.0 * _pinball_matrix(y_true, y_pred, quantiles).sum(axis=1)


def _check_interval(y_interval):
    y_interval = check_array(
        y_interval, ensure_2d=False, allow_nd=True, dtype=float, input_name="y_interval"
    )
    if y_interval.ndim not in (2, 3) or y_interval.shape[1] != 2:
        raise ValueError(
            "y_interval must have shape (n_samples, 2) or (n_samples, 2, "
            f"n_intervals) with lower and upper ends; got {y_interval.shape}."
        )
    return y_interval


@validate_params(
    {
        "y_true": ["array-like"],
        "y_interval": ["array-like"],
        "sample_weight": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def interval_coverage(y_true, y_interval, *, sample_weight=None):
    """Share of targets inside their prediction interval.

    A target ``y`` is covered by ``[lo, hi]`` when ``lo <= y <= hi`` (closed
    interval).

    Read more in the :ref:`User Guide <quantile>`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed targets.

    y_interval : array-like of shape (n_samples, 2) or (n_samples, 2, n_intervals)
        Lower and upper ends, as returned by ``predict_interval``.

    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.

    Returns
    -------
    coverage : float or ndarray of shape (n_intervals,)
        The (weighted) share of covered rows, per interval when
        ``y_interval`` is 3-D.

    See Also
    --------
    interval_width : Mean width of the intervals.

    Examples
    --------
    >>> from skreweight.quantile import interval_coverage
    >>> interval_coverage([0.5, 2.0], [[0.0, 1.0], [0.0, 1.0]])
    0.5
    """
    y_true = check_array(y_true, ensure_2d=False, dtype=float, input_name="y_true")
    if y_true.ndim != 1:
        raise ValueError(f"y_true must be 1-D; got shape {y_true.shape}.")
    y_interval = _check_interval(y_interval)
    check_consistent_length(y_true, y_interval)
    sample_weight = _check_sample_weight_1d(sample_weight, y_true.shape[0])
    y = y_true[:, None] if y_interval.ndim == 3 else y_true
    covered = (y_interval[:, 0] <= y) & (y <= y_interval[:, 1])
    result = np.average(covered, axis=0, weights=sample_weight)
    return float(result) if y_interval.ndim == 2 else result


@validate_params(
    {"y_interval": ["array-like"], "sample_weight": ["array-like", None]},
    prefer_skip_nested_validation=True,
)
def interval_width(y_interval, *, sample_weight=None):
    """Mean width of prediction intervals.

    The width of ``[lo, hi]`` is ``hi - lo``, averaged over rows (weighted by
    ``sample_weight``).

    Read more in the :ref:`User Guide <quantile>`.

    Parameters
    ----------
    y_interval : array-like of shape (n_samples, 2) or (n_samples, 2, n_intervals)
        Lower and upper ends, as returned by ``predict_interval``.

    sample_weight : array-like of shape (n_samples,), default=None
        Row weights.

    Returns
    -------
    width : float or ndarray of shape (n_intervals,)
        The (weighted) mean width, per interval when ``y_interval`` is 3-D.

    See Also
    --------
    interval_coverage : Share of targets inside their interval.

    Examples
    --------
    >>> from skreweight.quantile import interval_width
    >>> interval_width([[0.0, 1.0], [0.0, 3.0]])
    2.0
    """
    y_interval = _check_interval(y_interval)
    sample_weight = _check_sample_weight_1d(sample_weight, y_interval.shape[0])
    widths = y_interval[:, 1] - y_interval[:, 0]
    result = np.average(widths, axis=0, weights=sample_weight)
    return float(result) if y_interval.ndim == 2 else result


class _QuantileScorer:
    """Scorer calling ``estimator.predict`` and reading ``quantiles_``."""

    def __init__(self, metric, coverage):
        self.metric = metric
        self.coverage = coverage

    def __call__(self, estimator, X, y, sample_weight=None):
        if self.metric in ("wis", "pinball"):
            y_pred = estimator.predict(X)
            wis = weighted_interval_score(y, y_pred, estimator.quantiles_)
            sample_weight = _check_sample_weight_1d(sample_weight, wis.shape[0])
            value = np.average(wis, weights=sample_weight)
            if self.metric == "pinball":
                value /= 2 * len(estimator.quantiles_)
            return -float(value)
        y_interval = estimator.predict_interval(X, coverage=self.coverage)
        if self.metric == "coverage":
            return interval_coverage(y, y_interval, sample_weight=sample_weight)
        return -interval_width(y_interval, sample_weight=sample_weight)

    def __repr__(self):
        return f"make_quantile_scorer(metric={self.metric!r})"


@validate_params(
    {
        "metric": [StrOptions({"wis", "pinball", "coverage", "width"})],
        "coverage": [Real],
    },
    prefer_skip_nested_validation=True,
)
def make_quantile_scorer(metric="wis", *, coverage=0.9):
    """Make a scorer for quantile models, usable as ``scoring`` in a search.

    The scorer calls ``estimator.predict(X)`` (an array of shape
    ``(n_samples, n_quantiles)``) and reads the levels from
    ``estimator.quantiles_``, so it works for every model of
    :mod:`skreweight.quantile` and for any model following the same contract.
    Greater is better, as scikit-learn requires.

    Read more in the :ref:`User Guide <quantile>`.

    Parameters
    ----------
    metric : {"wis", "pinball", "coverage", "width"}, default="wis"
        ``"wis"``: minus the mean weighted interval score; ``"pinball"``:
        minus the mean pinball loss over rows and levels; ``"coverage"``: the
        coverage of ``predict_interval(X, coverage)``; ``"width"``: minus its
        mean width.

    coverage : float, default=0.9
        Nominal coverage of the interval scored by ``"coverage"`` and
        ``"width"``.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y, sample_weight=None) -> float``.

    See Also
    --------
    weighted_interval_score : The per-sample score.
    sklearn.metrics.make_scorer : Scorers from plain metrics.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import QuantileRegressor
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skreweight.quantile import MultiQuantileRegressor, make_quantile_scorer
    >>> X, y = make_regression(n_samples=60, n_features=2, noise=5, random_state=0)
    >>> model = MultiQuantileRegressor(
    ...     QuantileRegressor(solver="highs"), quantiles=[0.1, 0.5, 0.9]
    ... )
    >>> grid = {"estimator__alpha": [0.0, 1.0]}
    >>> search = GridSearchCV(model, grid, scoring=make_quantile_scorer(), cv=3)
    >>> search = search.fit(X, y)
    >>> search.best_params_
    {'estimator__alpha': 0.0}
    """
    return _QuantileScorer(metric, coverage)
