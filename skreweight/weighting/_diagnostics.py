"""Balance diagnostics: standardised mean differences, ESS, kernel MMD, tables."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_array, check_random_state
from sklearn.utils.multiclass import type_of_target

from skreweight.utils._sklearn_fixes import Interval, StrOptions, validate_params
from skreweight.weighting._utils import (
    BLOCK_ROWS,
    ESTIMANDS,
    GAMMA_CONSTRAINT,
    KERNEL_CONSTRAINT,
    kernel_features,
    kernel_fn,
    resolve_gamma,
    weighted_standardizer,
)

__all__ = [
    "balance_table",
    "effective_sample_size",
    "love_plot",
    "standardized_mean_difference",
    "weighted_mmd",
]


def _as_groups(t, n_rows):
    t = np.asarray(t)
    if t.ndim != 1 or t.shape[0] != n_rows:
        raise ValueError(f"t must have shape ({n_rows},); got {t.shape}.")
    values = np.unique(t)
    if values.size != 2 or type_of_target(t) != "binary":
        raise ValueError(
            "t must be a binary group indicator with two distinct values; got "
            f"{values.size} distinct value(s): {values[:5].tolist()}."
        )
    return (t == values[1]).astype(np.int64)


def _as_weights(weights, n_rows, name="weights"):
    if weights is None:
        return np.ones(n_rows)
    weights = check_array(weights, ensure_2d=False, dtype=np.float64, input_name=name)
    if weights.shape != (n_rows,):
        raise ValueError(f"{name} must have shape ({n_rows},); got {weights.shape}.")
    if np.any(weights < 0):
        raise ValueError(f"{name} must be non-negative.")
    return weights


def _prepare(X, t, weights, sample_weight):
    X = check_array(X, dtype=np.float64, input_name="X")
    t = _as_groups(t, X.shape[0])
    weights = _as_weights(weights, X.shape[0])
    sample_weight = _as_weights(sample_weight, X.shape[0], "sample_weight")
    return X, t, weights, sample_weight


def _source_and_reference(t, weights, sample_weight, estimand):
    """Masks and weights of the reweighted group and of its reference."""
    if estimand == "ATT":
        source, reference = t == 0, t == 1
        ref_weights = weights
    elif estimand == "ATC":
        source, reference = t == 1, t == 0
        ref_weights = weights
    else:
        source, reference = t == 1, np.ones_like(t, dtype=bool)
        ref_weights = sample_weight
    for name, mask, w in (
        ("reweighted", source, weights),
        ("reference", reference, ref_weights),
    ):
        if not w[mask].sum() > 0:
            raise ValueError(
                f"The {name} group of estimand={estimand!r} has no rows with "
                "positive weight; check t and the weights."
            )
    return source, weights[source], reference, ref_weights[reference]


def _weighted_mean_var(X, w):
    mean = w @ X / w.sum()
    var = w @ (X - mean) ** 2 / w.sum()
    return mean, var


@validate_params(
    {
        "X": ["array-like"],
        "t": ["array-like"],
        "weights": ["array-like", None],
        "estimand": [StrOptions(set(ESTIMANDS))],
        "std": [StrOptions({"pooled", "target", "source"})],
        "sample_weight": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def standardized_mean_difference(
    X, t, weights=None, *, estimand="ATT", std="pooled", sample_weight=None
):
    """Standardised mean difference of every feature between two groups.

    The weighted mean of the reweighted group minus the mean of its
    reference, divided by a standard deviation that does not depend on the
    weights, so that "before" and "after" values are comparable. The
    reweighted group and its reference follow ``estimand``: the t=0 rows
    against the t=1 rows (``"ATT"``), the t=1 rows against the t=0 rows
    (``"ATC"``), the t=1 rows against all rows (``"ATE"``; MNAR ratings:
    observed rows against all rows).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Covariates.

    t : array-like of shape (n_samples,)
        Binary group indicator; the larger value is the group t=1.

    weights : array-like of shape (n_samples,), default=None
        Row weights, e.g. a reweighter's ``weights_``. ``None``: unweighted
        (the "before" balance).

    estimand : {"ATT", "ATC", "ATE"}, default="ATT"
        Which group is compared with which (see above).

    std : {"pooled", "target", "source"}, default="pooled"
        Denominator: ``"pooled"`` is ``sqrt((s1^2 + s0^2) / 2)`` of the
        unweighted t=1 and t=0 variances (Austin 2009); ``"target"`` and
        ``"source"`` use the unweighted SD of the reference or reweighted
        group.

    sample_weight : array-like of shape (n_samples,), default=None
        Base weights of the rows, used for the standard deviations and for
        the reference mean of ``"ATE"``. ``None``: ones.

    Returns
    -------
    smd : ndarray of shape (n_features,)
        Standardised mean difference of every feature. A feature with zero
        standard deviation gives 0 if the means agree and ``inf`` (with a
        warning) otherwise.

    See Also
    --------
    balance_table : SMDs, variance ratios and ESS before and after weighting.
    weighted_mmd : A multivariate, kernel measure of imbalance.

    References
    ----------
    .. [1] P. C. Austin, "Balance diagnostics for comparing the distribution
       of baseline covariates between treatment groups in propensity-score
       matched samples", Statistics in Medicine 28(25), 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.weighting import standardized_mean_difference
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> t = [0, 0, 1, 1]
    >>> standardized_mean_difference(X, t)
    array([-4.])
    >>> standardized_mean_difference(X, t, weights=[0, 1, 1, 1])
    array([-3.])
    """
    X, t, weights, sample_weight = _prepare(X, t, weights, sample_weight)
    source, w_source, reference, w_ref = _source_and_reference(
        t, weights, sample_weight, estimand
    )
    diff = w_source @ X[source] / w_source.sum() - w_ref @ X[reference] / w_ref.sum()
    if std == "pooled":
        _, var1 = _weighted_mean_var(X[t == 1], sample_weight[t == 1])
        _, var0 = _weighted_mean_var(X[t == 0], sample_weight[t == 0])
        sd = np.sqrt((var1 + var0) / 2)
    elif std == "target":
        sd = np.sqrt(_weighted_mean_var(X[reference], sample_weight[reference])[1])
    else:
        sd = np.sqrt(_weighted_mean_var(X[source], sample_weight[source])[1])
    smd = np.zeros_like(diff)
    positive = sd > 0
    smd[positive] = diff[positive] / sd[positive]
    unequal = ~positive & (np.abs(diff) > 1e-12 * (1 + np.abs(X).max(axis=0)))
    if unequal.any():
        warnings.warn(
            f"Features {np.flatnonzero(unequal)[:5].tolist()} have zero standard "
            "deviation but different means; their SMD is inf.",
            RuntimeWarning,
        )
        smd[unequal] = np.copysign(np.inf, diff[unequal])
    return smd


@validate_params({"weights": ["array-like"]}, prefer_skip_nested_validation=True)
def effective_sample_size(weights):
    """Compute Kish's effective sample size of a set of weights.

    ``(sum w)^2 / sum w^2``: the number of equally weighted rows that would
    give the same variance of a weighted mean. It equals the number of rows
    for uniform weights and falls as the weights become uneven.

    Parameters
    ----------
    weights : array-like of shape (n_samples,)
        Non-negative weights, not all zero.

    Returns
    -------
    ess : float
        The effective sample size.

    See Also
    --------
    balance_table : Reports the ESS of each group before and after weighting.

    References
    ----------
    .. [1] L. Kish, "Survey Sampling", Wiley, 1965.

    Examples
    --------
    >>> from skreweight.weighting import effective_sample_size
    >>> effective_sample_size([1, 1, 1, 1])
    4.0
    >>> effective_sample_size([3, 1, 0, 0])
    1.6
    """
    weights = check_array(
        weights, ensure_2d=False, dtype=np.float64, input_name="weights"
    ).ravel()
    if np.any(weights < 0) or not weights.sum() > 0:
        raise ValueError("weights must be non-negative and not all zero.")
    return float(weights.sum() ** 2 / (weights @ weights))


def _block_quadratic(kfun, A, wa, B, wb):
    """``wa^T K(A, B) wb`` computed in row blocks."""
    total = 0.0
    for start in range(0, A.shape[0], BLOCK_ROWS):
        stop = start + BLOCK_ROWS
        total += wa[start:stop] @ (kfun(A[start:stop], B) @ wb)
    return total


def _kernel_diagonal(kfun, A):
    diag = np.empty(A.shape[0])
    for i in range(A.shape[0]):
        diag[i] = kfun(A[i : i + 1], A[i : i + 1])[0, 0]
    return diag


@validate_params(
    {
        "X": ["array-like"],
        "t": ["array-like"],
        "weights": ["array-like", None],
        "estimand": [StrOptions(set(ESTIMANDS))],
        "kernel": KERNEL_CONSTRAINT,
        "gamma": GAMMA_CONSTRAINT,
        "unbiased": ["boolean"],
        "approximation": [StrOptions({"nystroem", "rff"}), None],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "sample_weight": ["array-like", None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def weighted_mmd(
    X,
    t,
    weights=None,
    *,
    estimand="ATT",
    kernel="rbf",
    gamma="median",
    unbiased=False,
    approximation=None,
    n_components=300,
    sample_weight=None,
    random_state=None,
):
    """Squared maximum mean discrepancy between a weighted group and its target.

    The squared distance in the kernel's feature space between the weighted
    mean embedding of the reweighted group and that of its reference,
    ``|| sum_G w_i phi(x_i) / sum_G w - sum_R v_j phi(x_j) / sum_R v ||^2``.
    It is zero when the weighted distributions agree (for a characteristic
    kernel such as the RBF), so it measures imbalance in every feature and
    interaction at once. Groups follow ``estimand`` as in
    :func:`standardized_mean_difference`. The kernel is evaluated on the
    pooled standardised rows, as the reweighters do.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Covariates.

    t : array-like of shape (n_samples,)
        Binary group indicator; the larger value is the group t=1.

    weights : array-like of shape (n_samples,), default=None
        Row weights; ``None``: unweighted.

    estimand : {"ATT", "ATC", "ATE"}, default="ATT"
        Which group is compared with which.

    kernel : str or callable, default="rbf"
        Kernel name in ``sklearn.metrics.pairwise.PAIRWISE_KERNEL_FUNCTIONS``
        or a callable.

    gamma : "median" or float, default="median"
        Kernel width; ``"median"`` is ``1 / median ||z - z'||^2`` over a
        seeded subsample of 1000 pooled standardised rows.

    unbiased : bool, default=False
        Replace each within-group term by its weighted U-statistic (no
        ``i = i'`` pairs), ``sum_{i != i'} w_i w_i' k_ii' / ((sum w)^2 -
        sum w^2)``; it can be negative.

    approximation : {"nystroem", "rff"}, default=None
        Compute the embeddings with ``n_components`` Nystroem or random
        Fourier features (linear cost) instead of the exact kernel (quadratic
        cost, computed in row blocks with linear memory).

    n_components : int, default=300
        Number of features of ``approximation``.

    sample_weight : array-like of shape (n_samples,), default=None
        Base weights, used for the standardisation and the reference of
        ``"ATE"``. ``None``: ones.

    random_state : int, RandomState instance or None, default=None
        Seed of the ``"median"`` subsample and of the approximation.

    Returns
    -------
    mmd2 : float
        The squared MMD.

    See Also
    --------
    KernelMeanMatching : Weights that minimise this quantity.
    standardized_mean_difference : Per-feature imbalance of the means.

    References
    ----------
    .. [1] A. Gretton, K. Borgwardt, M. Rasch, B. Schoelkopf and A. Smola,
       "A kernel two-sample test", JMLR 13, 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.weighting import weighted_mmd
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(1, 1, (100, 2)), rng.normal(0, 1, (100, 2))])
    >>> t = np.repeat([1, 0], 100)
    >>> bool(weighted_mmd(X, t, random_state=0) > 0.05)
    True
    """
    X, t, weights, sample_weight = _prepare(X, t, weights, sample_weight)
    mean, scale = weighted_standardizer(X, sample_weight)
    Z = (X - mean) / scale
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    gamma_ = resolve_gamma(gamma, kernel, Z[sample_weight > 0], seed)
    source, w_source, reference, w_ref = _source_and_reference(
        t, weights, sample_weight, estimand
    )
    a = w_source / w_source.sum()
    b = w_ref / w_ref.sum()
    Zs, Zr = Z[source], Z[reference]
    if approximation is not None:
        mapper = kernel_features(
            approximation, kernel, gamma_, n_components, Z[sample_weight > 0], seed
        )
        Fs, Fr = mapper.transform(Zs), mapper.transform(Zr)
        ms, mr = a @ Fs, b @ Fr
        ss, rr, sr = ms @ ms, mr @ mr, ms @ mr
        diag_s = np.einsum("ij,ij->i", Fs, Fs)
        diag_r = np.einsum("ij,ij->i", Fr, Fr)
    else:
        kfun = kernel_fn(kernel, gamma_)
        ss = _block_quadratic(kfun, Zs, a, Zs, a)
        rr = _block_quadratic(kfun, Zr, b, Zr, b)
        sr = _block_quadratic(kfun, Zs, a, Zr, b)
        if unbiased:
            diag_s, diag_r = _kernel_diagonal(kfun, Zs), _kernel_diagonal(kfun, Zr)
    if unbiased:
        ss = _unbias(ss, a, diag_s)
        rr = _unbias(rr, b, diag_r)
    return float(ss + rr - 2 * sr)


def _unbias(quadratic, p, diag):
    """Turn ``p^T K p`` (``sum p = 1``) into the weighted U-statistic."""
    off = quadratic - p**2 @ diag
    denominator = 1.0 - p @ p
    if denominator <= 0:
        raise ValueError(
            "unbiased=True needs at least two rows with positive weight per group."
        )
    return off / denominator


@validate_params(
    {
        "X": ["array-like"],
        "t": ["array-like"],
        "weights": ["array-like"],
        "estimand": [StrOptions(set(ESTIMANDS))],
        "feature_names": ["array-like", None],
        "sample_weight": ["array-like", None],
        "mmd": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def balance_table(
    X,
    t,
    weights,
    *,
    estimand="ATT",
    feature_names=None,
    sample_weight=None,
    mmd=True,
    random_state=None,
):
    """Balance of every covariate before and after weighting, as a DataFrame.

    One row per feature with the reference mean, the reweighted group's mean
    before and after weighting, the standardised mean differences (pooled,
    unweighted SD; see :func:`standardized_mean_difference`) and the variance
    ratios (reweighted over reference) before and after. Summary statistics
    (effective sample size of the reweighted group, largest weight, squared
    kernel MMD before and after) are stored in the DataFrame's ``attrs``
    under ``"summary"``. Groups follow ``estimand``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Covariates. Column names of a DataFrame are used as row labels.

    t : array-like of shape (n_samples,)
        Binary group indicator; the larger value is the group t=1.

    weights : array-like of shape (n_samples,)
        Row weights, e.g. a reweighter's ``weights_``.

    estimand : {"ATT", "ATC", "ATE"}, default="ATT"
        Which group is compared with which.

    feature_names : array-like of str, default=None
        Row labels; defaults to the DataFrame columns or ``x0, x1, ...``.

    sample_weight : array-like of shape (n_samples,), default=None
        Base weights (the "before" weights). ``None``: ones.

    mmd : bool, default=True
        Whether to compute the squared kernel MMD before and after (exact
        below 20000 rows, Nystroem features above).

    random_state : int, RandomState instance or None, default=None
        Seed of the MMD's kernel width subsample and approximation.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``target_mean``, ``mean_before``, ``mean_after``,
        ``smd_before``, ``smd_after``, ``variance_ratio_before``,
        ``variance_ratio_after``; ``table.attrs["summary"]`` is a dict.

    See Also
    --------
    love_plot : Plot the SMDs of this table.
    standardized_mean_difference : The SMDs alone, as an array.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.weighting import EntropyBalancing, balance_table
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> t = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    >>> w = EntropyBalancing().fit_reweight(X, t)
    >>> table = balance_table(X, t, w, random_state=0)
    >>> table["smd_after"].abs().max() < 1e-6
    np.True_
    """
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is installed in CI
        raise ImportError(
            "balance_table needs pandas; install it with pip install pandas."
        ) from exc
    if feature_names is None and hasattr(X, "columns"):
        feature_names = [str(c) for c in X.columns]
    X, t, weights, sample_weight = _prepare(X, t, weights, sample_weight)
    if feature_names is None:
        feature_names = [f"x{j}" for j in range(X.shape[1])]
    if len(feature_names) != X.shape[1]:
        raise ValueError(
            f"feature_names has {len(feature_names)} entries; X has "
            f"{X.shape[1]} columns."
        )
    before_src, wb, reference, w_ref = _source_and_reference(
        t, sample_weight, sample_weight, estimand
    )
    source, wa, _, w_ref_after = _source_and_reference(
        t, weights, sample_weight, estimand
    )
    ref_mean, ref_var = _weighted_mean_var(X[reference], w_ref_after)
    mean_b, var_b = _weighted_mean_var(X[source], wb)
    mean_a, var_a = _weighted_mean_var(X[source], wa)
    common = {"estimand": estimand, "sample_weight": sample_weight}
    with np.errstate(divide="ignore", invalid="ignore"):
        table = pd.DataFrame(
            {
                "target_mean": ref_mean,
                "mean_before": mean_b,
                "mean_after": mean_a,
                "smd_before": standardized_mean_difference(
                    X, t, sample_weight, **common
                ),
                "smd_after": standardized_mean_difference(X, t, weights, **common),
                "variance_ratio_before": var_b / ref_var,
                "variance_ratio_after": var_a / ref_var,
            },
            index=pd.Index(list(feature_names), name="feature"),
        )
    summary = {
        "ess_before": effective_sample_size(wb),
        "ess_after": effective_sample_size(wa),
        "max_weight": float(wa.max() / wa.mean()),
    }
    if mmd:
        approx = "nystroem" if X.shape[0] > 20_000 else None
        options = {**common, "approximation": approx, "random_state": random_state}
        summary["mmd2_before"] = weighted_mmd(X, t, sample_weight, **options)
        summary["mmd2_after"] = weighted_mmd(X, t, weights, **options)
    table.attrs["summary"] = summary
    return table


@validate_params(
    {
        "X": ["array-like"],
        "t": ["array-like"],
        "weights": ["array-like"],
        "estimand": [StrOptions(set(ESTIMANDS))],
        "feature_names": ["array-like", None],
        "threshold": [Interval(Real, 0, None, closed="left"), None],
        "ax": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def love_plot(
    X, t, weights, *, estimand="ATT", feature_names=None, threshold=0.1, ax=None
):
    """Love plot: absolute SMD of every feature before and after weighting.

    One row per feature, with the absolute standardised mean difference
    before (open circles) and after (filled circles) weighting and a dashed
    line at ``threshold`` (0.1 is a common rule of thumb). Needs matplotlib
    (``pip install "skreweight[plot]"``).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Covariates.

    t : array-like of shape (n_samples,)
        Binary group indicator; the larger value is the group t=1.

    weights : array-like of shape (n_samples,)
        Row weights, e.g. a reweighter's ``weights_``.

    estimand : {"ATT", "ATC", "ATE"}, default="ATT"
        Which group is compared with which.

    feature_names : array-like of str, default=None
        Labels of the features.

    threshold : float, default=0.1
        Position of the reference line; ``None`` draws none.

    ax : matplotlib Axes, default=None
        Axes to draw on; ``None`` creates a figure.

    Returns
    -------
    ax : matplotlib Axes
        The axes with the plot.

    See Also
    --------
    balance_table : The numbers behind the plot.

    Examples
    --------
    >>> import numpy as np
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skreweight.weighting import EntropyBalancing, love_plot
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> t = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    >>> ax = love_plot(X, t, EntropyBalancing().fit_reweight(X, t))
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - matplotlib is an extra
        raise ImportError(
            "love_plot needs matplotlib; install it with "
            'pip install "skreweight[plot]".'
        ) from exc
    table = balance_table(
        X, t, weights, estimand=estimand, feature_names=feature_names, mmd=False
    )
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 0.35 * len(table) + 1.2))
    rows = np.arange(len(table))
    ax.scatter(
        table["smd_before"].abs(),
        rows,
        facecolors="none",
        edgecolors="C3",
        label="before",
    )
    ax.scatter(table["smd_after"].abs(), rows, color="C0", label="after")
    if threshold is not None:
        ax.axvline(threshold, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(rows)
    ax.set_yticklabels(table.index)
    ax.set_xlabel("absolute standardised mean difference")
    ax.legend(loc="lower right")
    return ax
