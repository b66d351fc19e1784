"""Statistical tests that compare models, as pure functions on scores or predictions.

Each test returns a :class:`~skreweight.model_selection.TestResult` (or a
:class:`~skreweight.model_selection.BayesianComparisonResult`), never a bare
inf or NaN: degenerate inputs give a documented result with a warning, or a
``ValueError``. Differences are ``scores1 - scores2`` of greater-is-better
scores, so a positive statistic favours the first model.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy import stats

from skreweight.model_selection._results import BayesianComparisonResult, TestResult
from skreweight.utils._sklearn_fixes import Interval, StrOptions, validate_params

__all__ = [
    "adjust_pvalues",
    "bayesian_correlated_ttest",
    "cochrans_q",
    "combined_ftest_5x2cv",
    "corrected_resampled_ttest",
    "critical_difference",
    "friedman_test",
    "looney_ftest",
    "mcnemar",
    "mcnemar_table",
    "nemenyi_test",
    "paired_ttest_5x2cv",
    "proportion_difference_test",
    "wilcoxon_holm_test",
]

_ALTERNATIVES = StrOptions({"two-sided", "greater", "less"})


class DegenerateTestWarning(UserWarning):
    """Warning raised when a test meets a degenerate input (no variance, no data)."""


def _reject_estimators(*args, func):
    for arg in args:
        if hasattr(arg, "fit"):
            raise TypeError(
                f"{func} takes scores, not estimators; got {type(arg).__name__}. "
                "Use skreweight.model_selection.compare_estimators(est1, est2, X, y, "
                "test=...) to fit and compare estimators."
            )


def _finite(array, name):
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf; pass finite scores.")
    return array


def _differences(scores1, scores2, func, ndim=None):
    """Return ``scores1 - scores2`` (or ``scores1`` if ``scores2`` is None)."""
    _reject_estimators(scores1, scores2, func=func)
    d = _finite(np.asarray(scores1, dtype=np.float64), "scores1")
    if scores2 is not None:
        b = _finite(np.asarray(scores2, dtype=np.float64), "scores2")
        if b.shape != d.shape:
            raise ValueError(
                f"scores1 and scores2 must have the same shape; got {d.shape} and "
                f"{b.shape}. They must hold the scores of the same folds, in order."
            )
        d = d - b
    return d


def _t_pvalue(t, df, alternative):
    if alternative == "greater":
        return float(stats.t.sf(t, df))
    if alternative == "less":
        return float(stats.t.cdf(t, df))
    return float(min(1.0, 2 * stats.t.sf(abs(t), df)))


def _z_pvalue(z, alternative):
    if alternative == "greater":
        return float(stats.norm.sf(z))
    if alternative == "less":
        return float(stats.norm.cdf(z))
    return float(min(1.0, 2 * stats.norm.sf(abs(z))))


def _no_variance(d, method, df, alternative=None, what="differences"):
    """Zero variance: (0, 1) if every difference is 0, else a ValueError."""
    if np.all(d == 0):
        warnings.warn(
            f"{method}: all {what} are zero (identical models); returning "
            "statistic=0 and pvalue=1.",
            DegenerateTestWarning,
            stacklevel=3,
        )
        return TestResult(0.0, 1.0, df, method, alternative, {"degenerate": True})
    raise ValueError(
        f"{method}: the {what} have zero variance but are not all zero, so the "
        "statistic is undefined (division by zero). This happens when one model "
        "wins by the same margin on every fold; use more folds, or a test on "
        "predictions such as mcnemar."
    )


# --------------------------------------------------------------------------
# Tests on predictions of one test set
# --------------------------------------------------------------------------


@validate_params(
    {"y_true": ["array-like"], "y_pred1": ["array-like"], "y_pred2": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def mcnemar_table(y_true, y_pred1, y_pred2):
    """Build the 2x2 contingency table of McNemar's test.

    The table counts, over one test set, the examples that both models get
    right, only one of them gets right, or both get wrong.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.

    y_pred1 : array-like of shape (n_samples,)
        Predictions of the first model.

    y_pred2 : array-like of shape (n_samples,)
        Predictions of the second model.

    Returns
    -------
    table : ndarray of shape (2, 2)
        ``[[A, B], [C, D]]``: A both right, B only model 1 right, C only
        model 2 right, D both wrong (mlxtend's layout since 0.18).

    See Also
    --------
    mcnemar : The test on this table.

    Examples
    --------
    >>> from skreweight.model_selection import mcnemar_table
    >>> mcnemar_table([0, 1, 1, 0], [0, 1, 0, 1], [0, 0, 1, 1])
    array([[1, 1],
           [1, 1]])
    """
    y_true, y_pred1, y_pred2 = (np.asarray(a) for a in (y_true, y_pred1, y_pred2))
    if not (y_true.shape == y_pred1.shape == y_pred2.shape) or y_true.ndim != 1:
        raise ValueError(
            "y_true, y_pred1 and y_pred2 must be 1-D arrays of the same length; "
            f"got shapes {y_true.shape}, {y_pred1.shape} and {y_pred2.shape}."
        )
    right1, right2 = y_pred1 == y_true, y_pred2 == y_true
    return np.array(
        [
            [np.sum(right1 & right2), np.sum(right1 & ~right2)],
            [np.sum(~right1 & right2), np.sum(~right1 & ~right2)],
        ],
        dtype=np.int64,
    )


@validate_params(
    {
        "table": ["array-like"],
        "method": [StrOptions({"exact", "midp", "chi2", "chi2_cc"})],
    },
    prefer_skip_nested_validation=True,
)
def mcnemar(table, *, method="exact"):
    """Test equal error rates of two models on one test set (McNemar).

    Only the discordant counts B (model 1 right, model 2 wrong) and C (the
    reverse) matter. Under the null hypothesis each discordant example is
    equally likely to favour either model.

    Parameters
    ----------
    table : array-like of shape (2, 2)
        ``[[A, B], [C, D]]`` as returned by :func:`mcnemar_table`.

    method : {"exact", "midp", "chi2", "chi2_cc"}, default="exact"
        ``"exact"``: two-sided binomial test, valid for any counts (advised
        when B + C < 25); ``"midp"``: mid-p binomial test; ``"chi2"``:
        ``(B - C)^2 / (B + C)``; ``"chi2_cc"``: Edwards' continuity-corrected
        ``max(|B - C| - 1, 0)^2 / (B + C)``.

    Returns
    -------
    result : TestResult
        ``statistic`` is the chi-square value, or ``min(B, C)`` for the
        binomial methods; ``df`` is 1 for the chi-square methods.

    See Also
    --------
    mcnemar_table : Build the table from predictions.
    cochrans_q : The generalisation to more than two models.

    Notes
    -----
    With B + C = 0 (identical predictions) the result is statistic 0 and
    p-value 1 with a warning; mlxtend returns an infinite statistic. With
    B = C the continuity-corrected statistic is 0.

    References
    ----------
    .. [1] Edwards, A. L. (1948). Note on the "correction for continuity" in
       testing the significance of the difference between correlated
       proportions. Psychometrika, 13, 185-187.
    .. [2] Fagerland, M. W., Lydersen, S. and Laake, P. (2013). The McNemar
       test for binary matched-pairs data: mid-p and asymptotic are better
       than exact conditional. BMC Medical Research Methodology, 13, 91.

    Examples
    --------
    >>> from skreweight.model_selection import mcnemar
    >>> res = mcnemar([[9945, 25], [15, 15]], method="chi2_cc")
    >>> round(res.statistic, 3), round(res.pvalue, 4)
    (2.025, 0.1547)
    """
    table = np.asarray(table, dtype=np.float64)
    if table.shape != (2, 2) or not np.all(np.isfinite(table)) or np.any(table < 0):
        raise ValueError(
            "table must be a 2x2 array of non-negative finite counts [[A, B], "
            "[C, D]]; build it with mcnemar_table(y_true, y_pred1, y_pred2)."
        )
    b, c = table[0, 1], table[1, 0]
    n = b + c
    df = 1 if method.startswith("chi2") else None
    details = {"b": b, "c": c}
    if n == 0:
        warnings.warn(
            "mcnemar: no discordant pairs (B + C = 0), the models make the same "
            "errors; returning statistic=0 and pvalue=1.",
            DegenerateTestWarning,
            stacklevel=2,
        )
        return TestResult(0.0, 1.0, df, f"McNemar ({method})", "two-sided", details)
    if method == "chi2":
        stat = (b - c) ** 2 / n
        p = stats.chi2.sf(stat, 1)
    elif method == "chi2_cc":
        stat = max(abs(b - c) - 1.0, 0.0) ** 2 / n
        p = stats.chi2.sf(stat, 1)
    else:
        if b != round(b) or c != round(c):
            raise ValueError(
                f"method={method!r} needs integer counts B and C; got {b} and {c}. "
                "Use method='chi2' for weighted counts."
            )
        k, n_int = int(min(b, c)), int(n)
        stat = float(k)
        cdf = stats.binom.cdf(k, n_int, 0.5)
        if method == "exact":
            p = min(1.0, 2 * cdf)
        else:
            p = min(1.0, 2 * cdf - stats.binom.pmf(k, n_int, 0.5))
    return TestResult(
        float(stat), float(p), df, f"McNemar ({method})", "two-sided", details
    )


def _check_correct(correct, func):
    _reject_estimators(correct, func=func)
    correct = np.asarray(correct)
    if correct.ndim != 2 or correct.shape[1] < 2 or correct.shape[0] < 1:
        raise ValueError(
            f"{func}: correct must be a 2-D array of shape (n_samples, n_models) "
            f"with at least 2 models; got shape {correct.shape}. Build it with "
            "np.column_stack([y_pred == y_true for y_pred in predictions])."
        )
    if not np.all((correct == 0) | (correct == 1)):
        raise ValueError(
            f"{func}: correct must hold booleans (or 0/1): whether each model got "
            "each example right."
        )
    return correct.astype(np.float64)


@validate_params({"correct": "no_validation"}, prefer_skip_nested_validation=True)
def cochrans_q(correct):
    """Test equal accuracies of several models on one test set (Cochran's Q).

    Under the null hypothesis every model has the same accuracy; the test
    uses the pairing of the predictions (same examples for every model).

    Parameters
    ----------
    correct : array-like of shape (n_samples, n_models)
        Boolean: whether model ``j`` classified example ``i`` correctly.

    Returns
    -------
    result : TestResult
        Q statistic, chi-square p-value with ``n_models - 1`` degrees of
        freedom.

    See Also
    --------
    looney_ftest : An F-test on the same table.
    mcnemar : The two-model case (Q equals the uncorrected McNemar chi2).

    Notes
    -----
    ``Q = (L-1)(L sum G_i^2 - T^2) / (L T - sum L_j^2)`` with ``G_i`` the
    number of examples model ``i`` got right, ``L_j`` the number of models
    right on example ``j`` and ``T = sum G_i``; computed in O(n L). When every
    example is right for all or for no model the denominator is 0; the result
    is then statistic 0, p-value 1, with a warning.

    References
    ----------
    .. [1] Cochran, W. G. (1950). The comparison of percentages in matched
       samples. Biometrika, 37, 256-266.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.model_selection import cochrans_q
    >>> correct = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [1, 0, 0]])
    >>> round(cochrans_q(correct).statistic, 4)
    4.6667
    """
    correct = _check_correct(correct, "cochrans_q")
    n_models = correct.shape[1]
    g = correct.sum(axis=0)
    row = correct.sum(axis=1)
    total = g.sum()
    denom = n_models * total - np.sum(row**2)
    df = n_models - 1
    if denom == 0:
        warnings.warn(
            "cochrans_q: every example is right for all models or for none; "
            "returning statistic=0 and pvalue=1.",
            DegenerateTestWarning,
            stacklevel=2,
        )
        return TestResult(0.0, 1.0, df, "Cochran's Q", None, {"degenerate": True})
    q = (n_models - 1) * (n_models * np.sum(g**2) - total**2) / denom
    q = max(float(q), 0.0)
    return TestResult(q, float(stats.chi2.sf(q, df)), df, "Cochran's Q", None, {})


@validate_params(
    {"correct": "no_validation", "df2": [StrOptions({"anova", "kuncheva"})]},
    prefer_skip_nested_validation=True,
)
def looney_ftest(correct, *, df2="anova"):
    """Test equal accuracies of several models on one test set (Looney's F).

    A two-way (models x examples) ANOVA on the 0/1 correctness table.

    Parameters
    ----------
    correct : array-like of shape (n_samples, n_models)
        Boolean: whether model ``j`` classified example ``i`` correctly.

    df2 : {"anova", "kuncheva"}, default="anova"
        Denominator degrees of freedom: ``(L-1)(n-1)`` as in the ANOVA the
        mean square uses, or ``(L-1) n`` as in Kuncheva's book and mlxtend's
        ``ftest``.

    Returns
    -------
    result : TestResult
        F statistic and upper-tail p-value; ``df`` is ``(L - 1, df2)``.

    See Also
    --------
    cochrans_q : The chi-square test on the same table.

    Notes
    -----
    With no interaction variance (SSAB = 0) the result is statistic 0,
    p-value 1, with a warning.

    References
    ----------
    .. [1] Looney, S. W. (1988). A statistical technique for comparing the
       accuracies of several classifiers. Pattern Recognition Letters, 8(1),
       5-9.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.model_selection import looney_ftest
    >>> rng = np.random.RandomState(0)
    >>> correct = rng.rand(100, 3) < [0.9, 0.8, 0.7]
    >>> looney_ftest(correct).df
    (2, 198)
    """
    correct = _check_correct(correct, "looney_ftest")
    n, n_models = correct.shape
    acc = correct.mean(axis=0)
    mean_acc = acc.mean()
    row = correct.sum(axis=1)
    ssa = n * np.sum(acc**2) - n * n_models * mean_acc**2
    ssb = np.sum(row**2) / n_models - n_models * n * mean_acc**2
    sst = n_models * n * mean_acc * (1 - mean_acc)
    ssab = sst - ssa - ssb
    df1 = n_models - 1
    dfd = (n_models - 1) * (n - 1) if df2 == "anova" else (n_models - 1) * n
    if ssab <= 1e-12 * max(sst, 1.0) or n < 2:
        warnings.warn(
            "looney_ftest: no interaction variance (SSAB = 0); returning "
            "statistic=0 and pvalue=1.",
            DegenerateTestWarning,
            stacklevel=2,
        )
        return TestResult(
            0.0, 1.0, (df1, dfd), "Looney's F", None, {"degenerate": True}
        )
    f = (ssa / df1) / (ssab / ((n_models - 1) * (n - 1)))
    f = max(float(f), 0.0)
    return TestResult(
        f,
        float(stats.f.sf(f, df1, dfd)),
        (df1, dfd),
        "Looney's F",
        None,
        {"ssa": ssa, "ssb": ssb, "ssab": ssab},
    )


@validate_params(
    {
        "n_correct1": [Interval(Real, 0, None, closed="left")],
        "n_correct2": [Interval(Real, 0, None, closed="left")],
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "alternative": [_ALTERNATIVES],
    },
    prefer_skip_nested_validation=True,
)
def proportion_difference_test(
    n_correct1, n_correct2, n_samples, *, alternative="two-sided"
):
    """Pooled two-proportion z-test of two accuracies on one test set.

    Provided for completeness (Raschka 2018, section 4.2). It treats the two
    accuracies as independent although both models were scored on the same
    examples; prefer :func:`mcnemar`, which uses the pairing.

    Parameters
    ----------
    n_correct1, n_correct2 : float
        Number of correctly classified test examples of each model.

    n_samples : int
        Size of the test set.

    alternative : {"two-sided", "greater", "less"}, default="two-sided"
        ``"greater"``: model 1 is more accurate.

    Returns
    -------
    result : TestResult
        The z statistic ``(ACC1 - ACC2) / sqrt(2 p (1 - p) / n)`` with the pooled
        ``p = (ACC1 + ACC2) / 2``, and its normal p-value.

    See Also
    --------
    mcnemar : The paired test on the same predictions.

    Notes
    -----
    mlxtend's ``proportion_difference`` is unpooled and one-sided. When both
    accuracies are 0 or both are 1 the result is z 0, p-value 1, with a
    warning.

    Examples
    --------
    >>> from skreweight.model_selection import proportion_difference_test
    >>> res = proportion_difference_test(163, 162, 171)
    >>> round(res.pvalue, 4)
    0.8035
    """
    if n_correct1 > n_samples or n_correct2 > n_samples:
        raise ValueError(
            "n_correct1 and n_correct2 cannot exceed n_samples; got "
            f"{n_correct1}, {n_correct2} and {n_samples}."
        )
    acc1, acc2 = n_correct1 / n_samples, n_correct2 / n_samples
    pooled = (acc1 + acc2) / 2
    var = 2 * pooled * (1 - pooled) / n_samples
    method = "pooled proportion difference z"
    if var == 0:
        return _no_variance(np.array([acc1 - acc2]), method, None, alternative)
    z = (acc1 - acc2) / np.sqrt(var)
    return TestResult(
        float(z), _z_pvalue(z, alternative), None, method, alternative, {}
    )


# --------------------------------------------------------------------------
# Tests on per-fold scores
# --------------------------------------------------------------------------


def _check_5x2(scores1, scores2, func):
    d = _differences(scores1, scores2, func)
    if d.ndim != 2 or d.shape[1] != 2 or d.shape[0] < 1:
        raise ValueError(
            f"{func} needs scores of shape (n_repeats, 2): one row per repeat, the "
            f"two folds of that repeat in columns; got shape {d.shape}. For the "
            "10 scores of FiveByTwoSplit use np.reshape(scores, (5, 2))."
        )
    return d


@validate_params(
    {
        "scores1": "no_validation",
        "scores2": "no_validation",
        "alternative": [_ALTERNATIVES],
    },
    prefer_skip_nested_validation=True,
)
def _5x2_differences(scores1, scores2, func):
    """Checked (r, 2) differences, r, and the per-repeat variances ``s_i^2``."""
    d = _check_5x2(scores1, scores2, func)
    s2 = np.sum((d - d.mean(axis=1, keepdims=True)) ** 2, axis=1)
    return d, d.shape[0], s2


def paired_ttest_5x2cv(scores1, scores2=None, *, alternative="two-sided"):
    """Compare two models with Dietterich's 5x2cv paired t-test.

    Five repeats of 2-fold cross-validation give ten paired score
    differences; the statistic divides the first difference by the pooled
    within-repeat standard deviation.

    Parameters
    ----------
    scores1 : array-like of shape (n_repeats, 2)
        Fold scores of the first model: row ``i`` holds the two folds of
        repeat ``i`` (see :class:`FiveByTwoSplit`). If ``scores2`` is None,
        the score differences ``p_i^(j)`` themselves.

    scores2 : array-like of shape (n_repeats, 2), default=None
        Fold scores of the second model on the same folds.

    alternative : {"two-sided", "greater", "less"}, default="two-sided"
        ``"greater"``: the first model scores higher.

    Returns
    -------
    result : TestResult
        ``t = p_1^(1) / sqrt(mean_i s_i^2)`` with ``s_i^2`` the variance
        estimate of repeat ``i``; ``df = n_repeats``.

    See Also
    --------
    combined_ftest_5x2cv : Alpaydin's more stable F version.
    compare_estimators : Fit the models and run the test in one call.

    Notes
    -----
    The statistic uses only the first difference, so it depends strongly on
    the seed; prefer :func:`combined_ftest_5x2cv`. If all variance estimates
    are 0 the result is (0, 1) with a warning when every difference is 0;
    otherwise a ``ValueError`` is raised.

    References
    ----------
    .. [1] Dietterich, T. G. (1998). Approximate statistical tests for
       comparing supervised classification learning algorithms. Neural
       Computation, 10(7), 1895-1923.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.model_selection import paired_ttest_5x2cv
    >>> p = np.array([[14, 11], [12, 8], [10, 6], [4, 20], [4, 3]]) / [285, 284]
    >>> t, pvalue = paired_ttest_5x2cv(p)
    >>> round(t, 6), round(pvalue, 6)
    (2.557687, 0.050789)
    """
    d, r, s2 = _5x2_differences(scores1, scores2, "paired_ttest_5x2cv")
    method = "5x2cv paired t"
    if np.all(d[:, 0] == d[:, 1]):
        return _no_variance(d, method, r, alternative)
    t = d[0, 0] / np.sqrt(np.mean(s2))
    return TestResult(
        float(t),
        _t_pvalue(t, r, alternative),
        r,
        method,
        alternative,
        {"differences": d, "variances": s2},
    )


@validate_params(
    {"scores1": "no_validation", "scores2": "no_validation"},
    prefer_skip_nested_validation=True,
)
def combined_ftest_5x2cv(scores1, scores2=None):
    """Compare two models with Alpaydin's combined 5x2cv F-test.

    It combines all ten differences of the 5x2 design instead of only the
    first one, which makes it more stable and less seed-dependent than the
    5x2cv t-test.

    Parameters
    ----------
    scores1 : array-like of shape (n_repeats, 2)
        Fold scores of the first model (row = repeat, columns = its two
        folds), or the differences if ``scores2`` is None.

    scores2 : array-like of shape (n_repeats, 2), default=None
        Fold scores of the second model on the same folds.

    Returns
    -------
    result : TestResult
        ``F = sum_ij (p_i^(j))^2 / (2 sum_i s_i^2)``, upper-tail p-value of
        F(2 r, r); ``df = (2 r, r)``.

    See Also
    --------
    paired_ttest_5x2cv : Dietterich's t version.
    looney_ftest : A different F-test (on one test set).

    Notes
    -----
    Two-sided by construction. Zero variance is handled as in
    :func:`paired_ttest_5x2cv`.

    References
    ----------
    .. [1] Alpaydin, E. (1999). Combined 5 x 2 cv F test for comparing
       supervised classification learning algorithms. Neural Computation,
       11(8), 1885-1892.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.model_selection import combined_ftest_5x2cv
    >>> p = np.array([[14, 11], [12, 8], [10, 6], [4, 20], [4, 3]]) / [285, 284]
    >>> f, pvalue = combined_ftest_5x2cv(p)
    >>> round(f, 6), round(pvalue, 6)
    (3.692906, 0.08107)
    """
    d, r, s2 = _5x2_differences(scores1, scores2, "combined_ftest_5x2cv")
    method = "combined 5x2cv F"
    if np.all(d[:, 0] == d[:, 1]):
        return _no_variance(d, method, (2 * r, r))
    f = np.sum(d**2) / (2 * np.sum(s2))
    return TestResult(
        float(f),
        float(stats.f.sf(f, 2 * r, r)),
        (2 * r, r),
        method,
        None,
        {"differences": d, "variances": s2},
    )


def _fold_differences(scores1, scores2, func):
    d = _differences(scores1, scores2, func).ravel()
    if d.size < 2:
        raise ValueError(f"{func} needs at least 2 fold scores; got {d.size}.")
    return d


@validate_params(
    {
        "scores1": "no_validation",
        "scores2": "no_validation",
        "test_train_ratio": [Interval(Real, 0, None, closed="left")],
        "alternative": [_ALTERNATIVES],
        "confidence_level": [Interval(Real, 0, 1, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def corrected_resampled_ttest(
    scores1,
    scores2=None,
    *,
    test_train_ratio,
    alternative="two-sided",
    confidence_level=0.95,
):
    """Nadeau and Bengio's corrected resampled t-test.

    The fold scores of repeated cross-validation or repeated hold-out are
    correlated (the training sets overlap), which makes the plain paired
    t-test far too liberal. The correction inflates the variance by the
    test/train size ratio.

    Parameters
    ----------
    scores1 : array-like of shape (n_splits,)
        Per-split scores of the first model (any shape; flattened), or the
        differences if ``scores2`` is None.

    scores2 : array-like of shape (n_splits,), default=None
        Per-split scores of the second model on the same splits.

    test_train_ratio : float
        ``n_test / n_train`` of the splits: ``1 / (k - 1)`` for (repeated)
        k-fold CV. ``0`` gives the uncorrected resampled (or k-fold) t-test.

    alternative : {"two-sided", "greater", "less"}, default="two-sided"
        ``"greater"``: the first model scores higher.

    confidence_level : float, default=0.95
        Level of the interval on the mean difference in ``details["ci"]``.

    Returns
    -------
    result : TestResult
        ``t = mean(d) / sqrt((1/J + test_train_ratio) var(d))`` with
        ``df = J - 1``. ``details`` holds ``mean``, ``std_error`` and ``ci``.

    See Also
    --------
    bayesian_correlated_ttest : The Bayesian counterpart.
    paired_cross_val_scores : Per-split scores of several models on the same
        splits.

    Notes
    -----
    For r-times repeated k-fold CV, ``J = r k`` and the ratio is
    ``1 / (k - 1)`` (Bouckaert and Frank, 2004). Zero variance is handled as
    in :func:`paired_ttest_5x2cv`.

    References
    ----------
    .. [1] Nadeau, C. and Bengio, Y. (2003). Inference for the
       generalization error. Machine Learning, 52(3), 239-281.
    .. [2] Bouckaert, R. R. and Frank, E. (2004). Evaluating the
       replicability of significance tests for comparing learning
       algorithms. PAKDD, 3-12.

    Examples
    --------
    >>> from skreweight.model_selection import corrected_resampled_ttest
    >>> d = [0.02, 0.03, 0.01, 0.04, 0.02, 0.03, 0.00, 0.02, 0.03, 0.01]
    >>> res = corrected_resampled_ttest(d, test_train_ratio=1 / 9)
    >>> round(res.statistic, 4), res.df
    (3.8176, 9)
    """
    d = _fold_differences(scores1, scores2, "corrected_resampled_ttest")
    n = d.size
    method = "corrected resampled t" if test_train_ratio > 0 else "paired t"
    var = np.var(d, ddof=1)
    if np.ptp(d) == 0:
        return _no_variance(d, method, n - 1, alternative)
    se = np.sqrt((1 / n + test_train_ratio) * var)
    mean = d.mean()
    t = mean / se
    half = stats.t.ppf(0.5 + confidence_level / 2, n - 1) * se
    details = {
        "mean": float(mean),
        "std_error": float(se),
        "ci": (float(mean - half), float(mean + half)),
        "confidence_level": confidence_level,
        "n_splits": n,
        "test_train_ratio": float(test_train_ratio),
    }
    return TestResult(
        float(t), _t_pvalue(t, n - 1, alternative), n - 1, method, alternative, details
    )


@validate_params(
    {
        "scores1": "no_validation",
        "scores2": "no_validation",
        "test_train_ratio": [Interval(Real, 0, None, closed="left")],
        "rope": [Interval(Real, 0, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def bayesian_correlated_ttest(scores1, scores2=None, *, test_train_ratio, rope=0.0):
    """Bayesian correlated t-test of two models on the same resampling splits.

    The posterior of the mean score difference is a Student distribution
    whose scale accounts for the correlation between overlapping training
    sets. The result gives the posterior probability that the first model is
    better, practically equivalent (within ``rope``), or worse.

    Parameters
    ----------
    scores1 : array-like of shape (n_splits,)
        Per-split scores of the first model, or the differences if
        ``scores2`` is None.

    scores2 : array-like of shape (n_splits,), default=None
        Per-split scores of the second model on the same splits.

    test_train_ratio : float
        ``n_test / n_train`` of the splits; ``1 / (k - 1)`` for k-fold CV
        (the correlation ``rho = 1/k`` enters as ``rho / (1 - rho)``).

    rope : float, default=0.0
        Half-width of the region of practical equivalence, in score units.

    Returns
    -------
    result : BayesianComparisonResult
        ``p_better``, ``p_rope``, ``p_worse`` and the posterior ``loc``,
        ``scale`` and ``df``.

    See Also
    --------
    corrected_resampled_ttest : The frequentist counterpart.

    Notes
    -----
    With ``rope=0``, ``p_better`` equals one minus the one-sided ("greater")
    p-value of :func:`corrected_resampled_ttest`. With zero variance the
    probabilities are indicators of where the constant difference lies, as in
    baycomp. Unlike baycomp's ``CorrelatedTTest.probs(x, y)``, "better" refers
    to the first argument.

    References
    ----------
    .. [1] Corani, G. and Benavoli, A. (2015). A Bayesian approach for
       comparing cross-validated algorithms on multiple data sets. Machine
       Learning, 100(2), 285-304.
    .. [2] Benavoli, A., Corani, G., Demsar, J. and Zaffalon, M. (2017). Time
       for a change: a tutorial for comparing multiple classifiers through
       Bayesian analysis. JMLR, 18(77), 1-36.

    Examples
    --------
    >>> from skreweight.model_selection import bayesian_correlated_ttest
    >>> d = [0.02, 0.03, 0.01, 0.04, 0.02, 0.03, 0.00, 0.02, 0.03, 0.01]
    >>> res = bayesian_correlated_ttest(d, test_train_ratio=1 / 9, rope=0.01)
    >>> round(res.p_better, 3), round(res.p_rope, 3), round(res.p_worse, 3)
    (0.962, 0.038, 0.0)
    """
    d = _fold_differences(scores1, scores2, "bayesian_correlated_ttest")
    n = d.size
    mean = float(d.mean())
    var = np.var(d, ddof=1)
    df = n - 1
    details = {"n_splits": n, "test_train_ratio": float(test_train_ratio)}
    if np.ptp(d) == 0:
        better, worse = float(mean > rope), float(mean < -rope)
        details["degenerate"] = True
        return BayesianComparisonResult(
            better, 1.0 - better - worse, worse, mean, 0.0, df, rope, details
        )
    scale = float(np.sqrt((1 / n + test_train_ratio) * var))
    p_better = float(stats.t.sf((rope - mean) / scale, df))
    p_worse = float(stats.t.cdf((-rope - mean) / scale, df))
    p_rope = max(0.0, 1.0 - p_better - p_worse)
    return BayesianComparisonResult(
        p_better, p_rope, p_worse, mean, scale, df, rope, details
    )


# --------------------------------------------------------------------------
# Many models on many datasets (or folds)
# --------------------------------------------------------------------------


def _check_score_matrix(scores, func):
    _reject_estimators(scores, func=func)
    scores = _finite(np.asarray(scores, dtype=np.float64), "scores")
    if scores.ndim != 2 or scores.shape[0] < 2 or scores.shape[1] < 2:
        raise ValueError(
            f"{func} needs scores of shape (n_datasets, n_models) with at least 2 "
            f"rows and 2 columns; got shape {scores.shape}."
        )
    return scores


def _average_ranks(scores):
    """Rank each row, 1 = best (highest score), ties get the average rank."""
    ranks = stats.rankdata(-scores, axis=1)
    return ranks, ranks.mean(axis=0)


@validate_params(
    {"scores": "no_validation", "method": [StrOptions({"iman-davenport", "chi2"})]},
    prefer_skip_nested_validation=True,
)
def friedman_test(scores, *, method="iman-davenport"):
    """Test equal performance of several models with Friedman's rank test.

    Models are ranked within each dataset (row); under the null hypothesis
    all models have the same expected rank.

    Parameters
    ----------
    scores : array-like of shape (n_datasets, n_models)
        Greater-is-better scores: rows are datasets (or folds), columns are
        models.

    method : {"iman-davenport", "chi2"}, default="iman-davenport"
        ``"chi2"``: Friedman's chi-square statistic (with scipy's tie
        correction); ``"iman-davenport"``: its F transform, less
        conservative.

    Returns
    -------
    result : TestResult
        The statistic and p-value; ``details`` holds ``average_ranks``
        (1 = best), ``chi2`` and its p-value.

    See Also
    --------
    nemenyi_test : Post-hoc pairwise comparisons.
    critical_difference : The critical difference of mean ranks.
    scipy.stats.friedmanchisquare : The chi-square version.

    Notes
    -----
    If every row ties all models, the result is statistic 0 and p-value 1
    with a warning. If every row ranks the models identically the
    Iman-Davenport statistic is infinite: the result is then ``inf`` with
    p-value 0 and a warning.

    References
    ----------
    .. [1] Demsar, J. (2006). Statistical comparisons of classifiers over
       multiple data sets. JMLR, 7, 1-30.
    .. [2] Iman, R. L. and Davenport, J. M. (1980). Approximations of the
       critical region of the Friedman statistic. Communications in
       Statistics, 9(6), 571-595.

    Examples
    --------
    >>> from skreweight.model_selection import friedman_test
    >>> scores = [[.81, .79, .84], [.72, .70, .75], [.90, .91, .93], [.66, .64, .69]]
    >>> res = friedman_test(scores, method="chi2")
    >>> round(res.statistic, 2), res.details["average_ranks"].tolist()
    (6.5, [2.25, 2.75, 1.0])
    """
    scores = _check_score_matrix(scores, "friedman_test")
    n, k = scores.shape
    ranks, avg = _average_ranks(scores)
    tie_term = 0.0
    for row in ranks:
        _, counts = np.unique(row, return_counts=True)
        tie_term += np.sum(counts**3 - counts)
    tie_factor = 1 - tie_term / (n * k * (k * k - 1))
    details = {"average_ranks": avg, "n_datasets": n, "n_models": k}
    if tie_factor <= 0:
        warnings.warn(
            "friedman_test: every row ties all models; returning statistic=0 and "
            "pvalue=1.",
            DegenerateTestWarning,
            stacklevel=2,
        )
        df = k - 1 if method == "chi2" else (k - 1, (k - 1) * (n - 1))
        return TestResult(0.0, 1.0, df, f"Friedman ({method})", None, details)
    chi2 = 12 * n / (k * (k + 1)) * (np.sum(avg**2) - k * (k + 1) ** 2 / 4)
    chi2 = max(float(chi2 / tie_factor), 0.0)
    p_chi2 = float(stats.chi2.sf(chi2, k - 1))
    details.update(chi2=chi2, chi2_pvalue=p_chi2)
    if method == "chi2":
        return TestResult(chi2, p_chi2, k - 1, "Friedman chi2", None, details)
    df = (k - 1, (k - 1) * (n - 1))
    denom = n * (k - 1) - chi2
    if denom <= 1e-12 * n * (k - 1):
        warnings.warn(
            "friedman_test: every row ranks the models identically; the "
            "Iman-Davenport statistic is infinite (pvalue=0).",
            DegenerateTestWarning,
            stacklevel=2,
        )
        return TestResult(np.inf, 0.0, df, "Friedman (Iman-Davenport F)", None, details)
    f = (n - 1) * chi2 / denom
    return TestResult(
        float(f),
        float(stats.f.sf(f, *df)),
        df,
        "Friedman (Iman-Davenport F)",
        None,
        details,
    )


@validate_params(
    {
        "n_models": [Interval(Integral, 2, None, closed="left")],
        "n_datasets": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "test": [StrOptions({"nemenyi", "bonferroni-dunn"})],
    },
    prefer_skip_nested_validation=True,
)
def critical_difference(n_models, n_datasets, *, alpha=0.05, test="nemenyi"):
    """Critical difference of average ranks (Nemenyi or Bonferroni-Dunn).

    Two models whose average ranks differ by at least this value perform
    significantly differently.

    Parameters
    ----------
    n_models : int
        Number of models ``k``.

    n_datasets : int
        Number of datasets (or folds) ``N``.

    alpha : float, default=0.05
        Significance level.

    test : {"nemenyi", "bonferroni-dunn"}, default="nemenyi"
        ``"nemenyi"``: all pairs; ``"bonferroni-dunn"``: each model against
        one control.

    Returns
    -------
    cd : float
        ``q_alpha * sqrt(k (k + 1) / (6 N))``.

    See Also
    --------
    nemenyi_test : Pairwise p-values of the Nemenyi test.
    plot_critical_difference : Draw the critical-difference diagram.

    References
    ----------
    .. [1] Demsar, J. (2006). Statistical comparisons of classifiers over
       multiple data sets. JMLR, 7, 1-30.

    Examples
    --------
    >>> from skreweight.model_selection import critical_difference
    >>> round(critical_difference(4, 8), 6)
    1.658303
    """
    if test == "nemenyi":
        q = stats.studentized_range.ppf(1 - alpha, n_models, np.inf) / np.sqrt(2)
    else:
        q = stats.norm.ppf(1 - alpha / (2 * (n_models - 1)))
    return float(q * np.sqrt(n_models * (n_models + 1) / (6 * n_datasets)))


@validate_params(
    {"scores": "no_validation", "alpha": [Interval(Real, 0, 1, closed="neither")]},
    prefer_skip_nested_validation=True,
)
def nemenyi_test(scores, *, alpha=0.05):
    """Compare all pairs of models by their average ranks (Nemenyi test).

    Run it after :func:`friedman_test` rejects; two models differ when
    their average ranks differ by more than the critical difference.

    Parameters
    ----------
    scores : array-like of shape (n_datasets, n_models)
        Greater-is-better scores: rows are datasets (or folds), columns are
        models.

    alpha : float, default=0.05
        Significance level of the critical difference and of
        ``details["significant"]``.

    Returns
    -------
    result : TestResult
        ``statistic`` and ``pvalue`` are (n_models, n_models) matrices of the
        studentized-range statistics and p-values (diagonal: 0 and 1).
        ``details`` holds ``average_ranks``, ``critical_difference`` and the
        boolean matrix ``significant``.

    See Also
    --------
    friedman_test : The omnibus test to run first.
    wilcoxon_holm_test : Pairwise Wilcoxon tests with Holm's correction.

    Notes
    -----
    ``p_ij = P(Q > sqrt(2) |R_i - R_j| / sqrt(k (k + 1) / (6 N)))`` with
    ``Q`` the studentized range of ``k`` means and infinite degrees of
    freedom, as in scikit-posthocs. Verdicts depend on the whole pool of
    models (Benavoli et al., 2016).

    References
    ----------
    .. [1] Demsar, J. (2006). Statistical comparisons of classifiers over
       multiple data sets. JMLR, 7, 1-30.
    .. [2] Benavoli, A., Corani, G. and Mangili, F. (2016). Should we really
       use post-hoc tests based on mean-ranks? JMLR, 17(5), 1-10.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.model_selection import nemenyi_test
    >>> rng = np.random.RandomState(0)
    >>> scores = rng.rand(10, 3) + [0.0, 0.5, 1.0]
    >>> nemenyi_test(scores).details["significant"][0, 2]
    np.True_
    """
    scores = _check_score_matrix(scores, "nemenyi_test")
    n, k = scores.shape
    _, avg = _average_ranks(scores)
    se = np.sqrt(k * (k + 1) / (6 * n))
    q = np.sqrt(2) * np.abs(avg[:, None] - avg[None, :]) / se
    p = np.ones((k, k))
    iu = np.triu_indices(k, 1)
    p[iu] = np.clip(stats.studentized_range.sf(q[iu], k, np.inf), 0.0, 1.0)
    p = np.minimum(p, p.T)
    cd = critical_difference(k, n, alpha=alpha)
    details = {
        "average_ranks": avg,
        "critical_difference": cd,
        "significant": p < alpha,
    }
    return TestResult(q, p, None, "Nemenyi", "two-sided", details)


@validate_params(
    {"scores": "no_validation", "alpha": [Interval(Real, 0, 1, closed="neither")]},
    prefer_skip_nested_validation=True,
)
def wilcoxon_holm_test(scores, *, alpha=0.05):
    """Pairwise Wilcoxon signed-rank tests with Holm's correction.

    An alternative to :func:`nemenyi_test` whose verdict on a pair does not
    depend on the other models in the pool.

    Parameters
    ----------
    scores : array-like of shape (n_datasets, n_models)
        Greater-is-better scores: rows are datasets (or folds), columns are
        models.

    alpha : float, default=0.05
        Significance level of ``details["significant"]``.

    Returns
    -------
    result : TestResult
        ``statistic`` and ``pvalue`` are (n_models, n_models) matrices of the
        Wilcoxon statistics and Holm-adjusted p-values (diagonal: 0 and 1).
        ``details`` holds ``average_ranks`` and ``significant``.

    See Also
    --------
    nemenyi_test : The mean-rank post-hoc test.
    adjust_pvalues : The Holm correction used.

    Notes
    -----
    A pair whose scores are equal on every row gets statistic 0 and p-value 1
    (scipy would return NaN).

    References
    ----------
    .. [1] Benavoli, A., Corani, G. and Mangili, F. (2016). Should we really
       use post-hoc tests based on mean-ranks? JMLR, 17(5), 1-10.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.model_selection import wilcoxon_holm_test
    >>> rng = np.random.RandomState(0)
    >>> scores = rng.rand(12, 3) + [0.0, 0.0, 1.0]
    >>> wilcoxon_holm_test(scores).details["significant"].astype(int)
    array([[0, 0, 1],
           [0, 0, 1],
           [1, 1, 0]])
    """
    scores = _check_score_matrix(scores, "wilcoxon_holm_test")
    k = scores.shape[1]
    _, avg = _average_ranks(scores)
    stat = np.zeros((k, k))
    raw = []
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    for i, j in pairs:
        diff = scores[:, i] - scores[:, j]
        if np.all(diff == 0):
            raw.append(1.0)
            continue
        res = stats.wilcoxon(scores[:, i], scores[:, j], zero_method="zsplit")
        stat[i, j] = stat[j, i] = res.statistic
        raw.append(float(res.pvalue))
    adjusted = adjust_pvalues(raw, method="holm")
    p = np.ones((k, k))
    for (i, j), value in zip(pairs, adjusted):
        p[i, j] = p[j, i] = value
    details = {"average_ranks": avg, "significant": p < alpha}
    return TestResult(stat, p, None, "Wilcoxon-Holm", "two-sided", details)


@validate_params(
    {
        "pvalues": ["array-like"],
        "method": [StrOptions({"holm", "bonferroni", "fdr_bh"})],
    },
    prefer_skip_nested_validation=True,
)
def adjust_pvalues(pvalues, *, method="holm"):
    """Adjust p-values for multiple comparisons.

    Use it when one study runs several tests (e.g. every strategy against a
    baseline), so that the family-wise error rate (Holm, Bonferroni) or the
    false discovery rate (Benjamini-Hochberg) stays at the nominal level.

    Parameters
    ----------
    pvalues : array-like
        Raw p-values, any shape; NaN is rejected.

    method : {"holm", "bonferroni", "fdr_bh"}, default="holm"
        ``"holm"``: Holm's step-down family-wise correction;
        ``"bonferroni"``: ``min(1, m p)``; ``"fdr_bh"``: Benjamini-Hochberg
        false-discovery-rate step-up.

    Returns
    -------
    adjusted : ndarray
        Adjusted p-values, same shape and order as ``pvalues``.

    See Also
    --------
    statsmodels.stats.multitest.multipletests : Same corrections (its default
        is Holm-Sidak, not Holm).

    References
    ----------
    .. [1] Holm, S. (1979). A simple sequentially rejective multiple test
       procedure. Scandinavian Journal of Statistics, 6(2), 65-70.
    .. [2] Benjamini, Y. and Hochberg, Y. (1995). Controlling the false
       discovery rate. JRSS B, 57(1), 289-300.

    Examples
    --------
    >>> from skreweight.model_selection import adjust_pvalues
    >>> adjust_pvalues([0.010, 0.040, 0.030, 0.005, 0.200]).round(3).tolist()
    [0.04, 0.09, 0.09, 0.025, 0.2]
    """
    p = np.asarray(pvalues, dtype=np.float64)
    shape = p.shape
    p = p.ravel()
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError("pvalues must lie in [0, 1] and contain no NaN.")
    m = p.size
    if m == 0:
        return p.reshape(shape)
    order = np.argsort(p, kind="stable")
    sorted_p = p[order]
    if method == "bonferroni":
        adj_sorted = np.minimum(1.0, m * sorted_p)
    elif method == "holm":
        adj_sorted = np.maximum.accumulate(
            np.minimum(1.0, (m - np.arange(m)) * sorted_p)
        )
    else:
        ranked = m * sorted_p / np.arange(1, m + 1)
        adj_sorted = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    adjusted = np.empty(m)
    adjusted[order] = adj_sorted
    return adjusted.reshape(shape)
