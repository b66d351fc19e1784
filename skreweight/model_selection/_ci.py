"""Confidence intervals for accuracy, ROC AUC (DeLong) and any score (bootstrap)."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy import stats
from sklearn import config_context
from sklearn.metrics import accuracy_score, get_scorer
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target

from skreweight.model_selection._results import ConfidenceInterval, TestResult
from skreweight.model_selection._tests import DegenerateTestWarning, _z_pvalue
from skreweight.utils._sklearn_fixes import (
    Interval,
    StrOptions,
    _check_sample_weight,
    validate_params,
)

__all__ = ["accuracy_ci", "bootstrap_score_ci", "delong_roc_test", "roc_auc_ci"]


def _z(confidence_level):
    return stats.norm.ppf(0.5 + confidence_level / 2)


def _weights(sample_weight, n):
    if sample_weight is None:
        return np.ones(n)
    w = _check_sample_weight(
        sample_weight, np.empty((n, 0)), dtype=np.float64, ensure_non_negative=True
    )
    if not np.any(w > 0):
        raise ValueError("sample_weight is zero for every row; pass positive weights.")
    return w


def _check_1d_pair(a, b, names):
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise ValueError(
            f"{names[0]} and {names[1]} must be non-empty 1-D arrays of the same "
            f"length; got shapes {a.shape} and {b.shape}."
        )
    return a, b


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "confidence_level": [Interval(Real, 0, 1, closed="neither")],
        "method": [StrOptions({"wilson", "wald", "clopper-pearson"})],
        "sample_weight": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def accuracy_ci(
    y_true, y_pred, *, confidence_level=0.95, method="wilson", sample_weight=None
):
    """Confidence interval of the accuracy on one hold-out test set.

    The number of correct predictions is treated as binomial; the interval is
    a normal approximation (Wald), its better-behaved score version (Wilson)
    or the exact Clopper-Pearson interval.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.

    y_pred : array-like of shape (n_samples,)
        Predicted labels.

    confidence_level : float, default=0.95
        Nominal coverage.

    method : {"wilson", "wald", "clopper-pearson"}, default="wilson"
        ``"wald"``: ``p +- z sqrt(p (1 - p) / n)``, which can leave [0, 1]
        and has poor coverage near 0 and 1; ``"wilson"``: the score
        interval; ``"clopper-pearson"``: exact, conservative.

    sample_weight : array-like of shape (n_samples,), default=None
        Row weights; ``n`` becomes their sum, so integer weights equal
        repeated rows.

    Returns
    -------
    ci : ConfidenceInterval
        Estimate (the accuracy), bounds and standard error
        ``sqrt(p (1 - p) / n)``.

    See Also
    --------
    bootstrap_score_ci : Bootstrap interval for any score.
    roc_auc_ci : DeLong interval of the ROC AUC.

    References
    ----------
    .. [1] Wilson, E. B. (1927). Probable inference, the law of succession,
       and statistical inference. JASA, 22, 209-212.
    .. [2] Raschka, S. (2018). Model evaluation, model selection, and
       algorithm selection in machine learning. arXiv:1811.12808.

    Examples
    --------
    >>> from skreweight.model_selection import accuracy_ci
    >>> ci = accuracy_ci([1] * 163 + [0] * 8, [1] * 171)
    >>> round(ci.low, 6), round(ci.high, 6)
    (0.910411, 0.976106)
    """
    y_true, y_pred = _check_1d_pair(y_true, y_pred, ("y_true", "y_pred"))
    w = _weights(sample_weight, y_true.size)
    n = w.sum()
    x = np.sum(w * (y_true == y_pred))
    p = x / n
    z = _z(confidence_level)
    se = np.sqrt(p * (1 - p) / n)
    if method == "wald":
        low, high = p - z * se, p + z * se
    elif method == "wilson":
        center = p + z**2 / (2 * n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
        low, high = (center - half) / (1 + z**2 / n), (center + half) / (1 + z**2 / n)
    else:
        alpha = 1 - confidence_level
        low = stats.beta.ppf(alpha / 2, x, n - x + 1) if x > 0 else 0.0
        high = stats.beta.ppf(1 - alpha / 2, x + 1, n - x) if x < n else 1.0
    return ConfidenceInterval(
        float(p),
        float(low),
        float(high),
        confidence_level,
        method,
        float(se),
        {"n": float(n), "n_correct": float(x)},
    )


def _binary_labels(y_true, func):
    y_true = np.asarray(y_true)
    classes = np.unique(y_true)
    if classes.size != 2:
        raise ValueError(
            f"{func} needs binary y_true with both classes present; got "
            f"{classes.size} distinct value(s)."
        )
    return y_true == classes[1]


def _placements(pos_scores, pos_w, neg_scores, neg_w):
    """DeLong's structural components V10 (positives) and V01 (negatives).

    V10_i is the weighted share of negatives scored below positive i (ties
    count half); V01_j the share of positives scored above negative j.
    O(n log n) through sorting, weighted so that integer weights equal
    repeated rows.
    """

    def share_below(values, ref_scores, ref_w):
        order = np.argsort(ref_scores, kind="mergesort")
        sorted_scores = ref_scores[order]
        cum = np.concatenate([[0.0], np.cumsum(ref_w[order])])
        left = np.searchsorted(sorted_scores, values, side="left")
        right = np.searchsorted(sorted_scores, values, side="right")
        below = cum[left]
        ties = cum[right] - cum[left]
        return below, ties, cum[-1]

    below, ties, total_neg = share_below(pos_scores, neg_scores, neg_w)
    v10 = (below + 0.5 * ties) / total_neg
    below, ties, total_pos = share_below(neg_scores, pos_scores, pos_w)
    v01 = (total_pos - below - ties + 0.5 * ties) / total_pos
    return v10, v01


def _weighted_cov(v, w):
    """Weighted covariance of the columns of v, divisor sum(w) - 1."""
    total = w.sum()
    mean = (w[:, None] * v).sum(axis=0) / total
    centred = v - mean
    denom = total - 1
    if denom <= 0:
        return np.zeros((v.shape[1], v.shape[1]))
    return (w[:, None] * centred).T @ centred / denom


def _delong(y_true, scores, sample_weight, func):
    positive = _binary_labels(y_true, func)
    w = _weights(sample_weight, positive.size)
    pos_w, neg_w = w[positive], w[~positive]
    if pos_w.sum() <= 0 or neg_w.sum() <= 0:
        raise ValueError(f"{func}: each class needs a positive total sample_weight.")
    v10, v01 = [], []
    for s in scores:
        a, b = _placements(s[positive], pos_w, s[~positive], neg_w)
        v10.append(a)
        v01.append(b)
    v10, v01 = np.column_stack(v10), np.column_stack(v01)
    auc = (pos_w[:, None] * v10).sum(axis=0) / pos_w.sum()
    cov = _weighted_cov(v10, pos_w) / pos_w.sum() + _weighted_cov(v01, neg_w) / (
        neg_w.sum()
    )
    return auc, cov


def _check_scores(y_true, y_score, name):
    y_true, y_score = _check_1d_pair(y_true, y_score, ("y_true", name))
    y_score = np.asarray(y_score, dtype=np.float64)
    if not np.all(np.isfinite(y_score)):
        raise ValueError(f"{name} contains NaN or inf.")
    return y_true, y_score


@validate_params(
    {
        "y_true": ["array-like"],
        "y_score": ["array-like"],
        "confidence_level": [Interval(Real, 0, 1, closed="neither")],
        "transform": [StrOptions({"logit"}), None],
        "sample_weight": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def roc_auc_ci(
    y_true, y_score, *, confidence_level=0.95, transform=None, sample_weight=None
):
    """DeLong confidence interval of the ROC AUC of a binary classifier.

    The AUC is a two-sample U-statistic; DeLong's method estimates its
    variance from the placement values of positives and negatives, without
    resampling.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels; the greater label is the positive class.

    y_score : array-like of shape (n_samples,)
        Scores of the positive class (``predict_proba(X)[:, 1]`` or
        ``decision_function(X)``).

    confidence_level : float, default=0.95
        Nominal coverage.

    transform : {None, "logit"}, default=None
        ``None``: Wald interval ``AUC +- z SE``, clipped to [0, 1]
        (``details["clipped"]`` says whether it was); ``"logit"``: the
        interval on the logit scale with ``SE / (AUC (1 - AUC))``, back-
        transformed, which stays inside (0, 1).

    sample_weight : array-like of shape (n_samples,), default=None
        Row weights (integer weights equal repeated rows).

    Returns
    -------
    ci : ConfidenceInterval
        AUC, bounds and DeLong standard error.

    See Also
    --------
    delong_roc_test : Compare two correlated AUCs.
    sklearn.metrics.roc_auc_score : The point estimate.

    Notes
    -----
    Computed in float64 in O(n log n) with midranks (Sun and Xu, 2014). An
    AUC of exactly 0 or 1 has standard error 0; the interval is then
    ``[AUC, AUC]`` and, with ``transform="logit"``, a warning is raised.

    References
    ----------
    .. [1] DeLong, E. R., DeLong, D. M. and Clarke-Pearson, D. L. (1988).
       Comparing the areas under two or more correlated receiver operating
       characteristic curves: a nonparametric approach. Biometrics, 44(3),
       837-845.
    .. [2] Sun, X. and Xu, W. (2014). Fast implementation of DeLong's
       algorithm for comparing the areas under correlated receiver operating
       characteristic curves. IEEE Signal Processing Letters, 21(11),
       1389-1393.

    Examples
    --------
    >>> from skreweight.model_selection import roc_auc_ci
    >>> ci = roc_auc_ci([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    >>> round(ci.estimate, 4)
    0.8889
    """
    y_true, y_score = _check_scores(y_true, y_score, "y_score")
    auc, cov = _delong(y_true, [y_score], sample_weight, "roc_auc_ci")
    auc, se = float(auc[0]), float(np.sqrt(max(cov[0, 0], 0.0)))
    z = _z(confidence_level)
    details = {"clipped": False}
    if transform is None:
        low, high = auc - z * se, auc + z * se
        details["clipped"] = bool(low < 0 or high > 1)
        low, high = max(low, 0.0), min(high, 1.0)
        method = "DeLong"
    elif auc in (0.0, 1.0):
        warnings.warn(
            f"roc_auc_ci: AUC = {auc} has no logit; returning the interval [AUC, AUC].",
            DegenerateTestWarning,
            stacklevel=2,
        )
        low = high = auc
        method = "DeLong (logit)"
    else:
        logit = np.log(auc / (1 - auc))
        half = z * se / (auc * (1 - auc))
        low, high = (float(1 / (1 + np.exp(-v))) for v in (logit - half, logit + half))
        method = "DeLong (logit)"
    return ConfidenceInterval(
        auc, float(low), float(high), confidence_level, method, se, details
    )


@validate_params(
    {
        "y_true": ["array-like"],
        "y_score1": ["array-like"],
        "y_score2": ["array-like"],
        "alternative": [StrOptions({"two-sided", "greater", "less"})],
        "sample_weight": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def delong_roc_test(
    y_true, y_score1, y_score2, *, alternative="two-sided", sample_weight=None
):
    """Test equal ROC AUCs of two models on the same test set (DeLong).

    The two AUCs are correlated because both models score the same
    examples; DeLong's covariance estimate accounts for that.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Binary labels.

    y_score1 : array-like of shape (n_samples,)
        Positive-class scores of the first model.

    y_score2 : array-like of shape (n_samples,)
        Positive-class scores of the second model.

    alternative : {"two-sided", "greater", "less"}, default="two-sided"
        ``"greater"``: the first model has the higher AUC.

    sample_weight : array-like of shape (n_samples,), default=None
        Row weights (integer weights equal repeated rows).

    Returns
    -------
    result : TestResult
        ``z = (AUC1 - AUC2) / sqrt(S11 + S22 - 2 S12)`` and its normal
        p-value; ``details`` holds both AUCs and the covariance matrix.

    See Also
    --------
    roc_auc_ci : DeLong interval of one AUC.

    Notes
    -----
    If the variance of the difference is 0, the result is (0, 1) with a
    warning when the AUCs are equal; otherwise a ``ValueError`` is raised.

    References
    ----------
    .. [1] DeLong, E. R., DeLong, D. M. and Clarke-Pearson, D. L. (1988).
       Comparing the areas under two or more correlated receiver operating
       characteristic curves: a nonparametric approach. Biometrics, 44(3),
       837-845.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.model_selection import delong_roc_test
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(0, 2, 200)
    >>> good, poor = y + rng.normal(0, 0.5, 200), y + rng.normal(0, 2, 200)
    >>> delong_roc_test(y, good, poor).pvalue < 0.05
    True
    """
    y_true, s1 = _check_scores(y_true, y_score1, "y_score1")
    _, s2 = _check_scores(y_true, y_score2, "y_score2")
    auc, cov = _delong(y_true, [s1, s2], sample_weight, "delong_roc_test")
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    details = {"auc1": float(auc[0]), "auc2": float(auc[1]), "covariance": cov}
    method = "DeLong paired AUC z"
    diff = auc[0] - auc[1]
    if var <= 1e-15:
        if abs(diff) <= 1e-15:
            warnings.warn(
                "delong_roc_test: the two AUCs are equal with zero variance "
                "(identical rankings); returning statistic=0 and pvalue=1.",
                DegenerateTestWarning,
                stacklevel=2,
            )
            return TestResult(0.0, 1.0, None, method, alternative, details)
        raise ValueError(
            "delong_roc_test: the AUC difference has zero variance but is not "
            "zero; the z statistic is undefined."
        )
    z = float(diff / np.sqrt(var))
    return TestResult(z, _z_pvalue(z, alternative), None, method, alternative, details)


def _resolve_metric(scoring):
    """Return ``(metric(y_true, y_pred, sample_weight=None), decomposable, name)``."""
    if scoring is None or scoring == "accuracy":
        return accuracy_score, True, "accuracy"
    if isinstance(scoring, str):
        scorer = get_scorer(scoring)
        func, sign, kwargs = scorer._score_func, scorer._sign, scorer._kwargs

        def metric(y_true, y_pred, sample_weight=None):
            if sample_weight is not None:
                return sign * func(
                    y_true, y_pred, sample_weight=sample_weight, **kwargs
                )
            return sign * func(y_true, y_pred, **kwargs)

        return metric, False, scoring
    if callable(scoring):
        return scoring, False, getattr(scoring, "__name__", "metric")
    raise TypeError(
        "scoring must be None, a scorer name such as 'balanced_accuracy', or a "
        f"metric callable metric(y_true, y_pred); got {scoring!r}."
    )


def _bca_interval(theta_hat, boot, jack, confidence_level, method):
    alpha = 1 - confidence_level
    details = {}
    if np.all(boot == boot[0]):
        warnings.warn(
            "bootstrap_score_ci: every bootstrap replicate has the same score; "
            "returning the interval [estimate, estimate].",
            DegenerateTestWarning,
            stacklevel=3,
        )
        return theta_hat, theta_hat, method, {"degenerate": True}
    if method == "percentile":
        low, high = np.percentile(boot, [100 * alpha / 2, 100 * (1 - alpha / 2)])
        return low, high, method, details
    b = boot.size
    z0 = stats.norm.ppf(
        (np.sum(boot < theta_hat) + np.sum(boot <= theta_hat)) / (2 * b)
    )
    if not np.isfinite(z0):
        warnings.warn(
            "bootstrap_score_ci: the BCa bias correction is infinite (the "
            "estimate lies outside the bootstrap distribution); falling back to "
            "the percentile interval.",
            DegenerateTestWarning,
            stacklevel=3,
        )
        low, high = np.percentile(boot, [100 * alpha / 2, 100 * (1 - alpha / 2)])
        return low, high, "percentile", {"fallback": "infinite z0"}
    dev = jack.mean() - jack
    denom = 6 * np.sum(dev**2) ** 1.5
    accel = float(np.sum(dev**3) / denom) if denom > 0 else 0.0
    levels = []
    for a in (alpha / 2, 1 - alpha / 2):
        za = stats.norm.ppf(a)
        levels.append(stats.norm.cdf(z0 + (z0 + za) / (1 - accel * (z0 + za))))
    low, high = np.percentile(boot, [100 * levels[0], 100 * levels[1]])
    details.update(z0=float(z0), acceleration=accel, levels=tuple(levels))
    return low, high, "bca", details


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "scoring": [None, str, callable],
        "confidence_level": [Interval(Real, 0, 1, closed="neither")],
        "method": [StrOptions({"bca", "percentile"})],
        "n_resamples": [Interval(Integral, 2, None, closed="left")],
        "stratify": ["boolean"],
        "sample_weight": ["array-like", None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def bootstrap_score_ci(
    y_true,
    y_pred,
    *,
    scoring=None,
    confidence_level=0.95,
    method="bca",
    n_resamples=9999,
    stratify=True,
    sample_weight=None,
    random_state=None,
):
    """Bootstrap confidence interval of a score on one test set.

    The (true, predicted) pairs of the test set are resampled with
    replacement, within each class when ``stratify`` is set, and the score is
    recomputed on each resample. The interval is the bias-corrected and
    accelerated (BCa) or the percentile interval.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True targets.

    y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Predictions (labels, scores or probabilities, as ``scoring`` needs).

    scoring : str, callable or None, default=None
        ``None`` or ``"accuracy"`` (fast, vectorised path); a scikit-learn
        scorer name (its metric is applied to ``y_pred``, with the sign of
        the scorer); or a metric ``metric(y_true, y_pred)`` (accepting
        ``sample_weight`` if weights are given).

    confidence_level : float, default=0.95
        Nominal coverage.

    method : {"bca", "percentile"}, default="bca"
        Interval type.

    n_resamples : int, default=9999
        Number of bootstrap resamples.

    stratify : bool, default=True
        Resample within each class of ``y_true`` (only for class labels).

    sample_weight : array-like of shape (n_samples,), default=None
        Row weights, carried along with the resampled rows.

    random_state : int, RandomState instance or None, default=None
        Controls the resampling.

    Returns
    -------
    ci : ConfidenceInterval
        The score on the full test set, the bounds, the bootstrap standard
        error and, in ``method``, the method actually used.

    See Also
    --------
    accuracy_ci : Closed-form intervals of the accuracy.
    scipy.stats.bootstrap : The general bootstrap.

    Notes
    -----
    Where scipy returns NaN the result stays defined: if every replicate has
    the same score the interval is ``[score, score]`` (with a warning); if the
    bias correction is infinite the percentile interval is returned (with a
    warning and ``method="percentile"``); an undefined acceleration is set to
    0. For accuracy the jackknife is computed in O(n).

    References
    ----------
    .. [1] Efron, B. (1987). Better bootstrap confidence intervals. JASA,
       82(397), 171-185.

    Examples
    --------
    >>> from skreweight.model_selection import bootstrap_score_ci
    >>> y_true = [0, 1] * 50
    >>> y_pred = [0, 1] * 40 + [1, 0] * 10
    >>> ci = bootstrap_score_ci(y_true, y_pred, n_resamples=999, random_state=0)
    >>> ci.estimate, ci.low < 0.8 < ci.high
    (0.8, True)
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.shape[0] != y_true.shape[0] or y_true.size < 2:
        raise ValueError(
            "y_true must be 1-D and y_pred must have as many rows, at least 2; got "
            f"shapes {y_true.shape} and {y_pred.shape}."
        )
    n = y_true.size
    w = None if sample_weight is None else _weights(sample_weight, n)
    metric, decomposable, name = _resolve_metric(scoring)
    rng = check_random_state(random_state)
    if stratify and type_of_target(y_true) in ("binary", "multiclass"):
        _, codes = np.unique(y_true, return_inverse=True)
        strata = [np.flatnonzero(codes == k) for k in range(codes.max() + 1)]
    else:
        strata = [np.arange(n)]
    idx = np.concatenate(
        [s[rng.randint(0, s.size, size=(n_resamples, s.size))] for s in strata], axis=1
    )
    ww = np.ones(n) if w is None else w
    if decomposable:
        values = (y_true == y_pred).astype(np.float64) if y_pred.ndim == 1 else None
        if values is None:
            raise ValueError("accuracy needs 1-D predicted labels y_pred.")
        theta_hat = np.sum(ww * values) / ww.sum()
        wb = ww[idx]
        boot = np.sum(wb * values[idx], axis=1) / wb.sum(axis=1)
        total, wsum = np.sum(ww * values), ww.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            jack = (total - ww * values) / (wsum - ww)
        jack = jack[np.isfinite(jack)]
    else:

        def score(rows):
            kw = {} if w is None else {"sample_weight": w[rows]}
            return float(metric(y_true[rows], y_pred[rows], **kw))

        with config_context(skip_parameter_validation=True, assume_finite=True):
            theta_hat = score(np.arange(n))
            boot = np.array([score(rows) for rows in idx])
            jack = np.array([score(np.delete(np.arange(n), i)) for i in range(n)])
    boot = np.asarray(boot, dtype=np.float64)
    if not np.all(np.isfinite(boot)):
        raise ValueError(
            f"The score {name!r} is undefined on some bootstrap resamples (e.g. a "
            "class missing); use stratify=True or another score."
        )
    low, high, used, details = _bca_interval(
        float(theta_hat), boot, jack, confidence_level, method
    )
    details.update(n_resamples=n_resamples, scoring=name, stratified=len(strata) > 1)
    return ConfidenceInterval(
        float(theta_hat),
        float(low),
        float(high),
        confidence_level,
        used,
        float(np.std(boot, ddof=1)),
        details,
    )
