"""Doubly robust (augmented) weighting estimators of a target mean or effect."""

import numpy as np
from sklearn.utils import check_array

from skreweight.utils._sklearn_fixes import StrOptions, validate_params
from skreweight.weighting._diagnostics import _as_groups, _as_weights
from skreweight.weighting._utils import ESTIMANDS

__all__ = ["dr_estimate"]


def _augmented_mean(y, y_pred, weights, source, reference, base):
    """``mean_R(y_pred) + sum_G w (y - y_pred) / sum_G w``."""
    w = weights[source]
    if not w.sum() > 0:
        raise ValueError("The reweighted group has no row with positive weight.")
    residual = y[source] - y_pred[source]
    if not np.all(np.isfinite(residual[w > 0])):
        raise ValueError(
            "y (and y_pred) must be finite on the rows of the reweighted group "
            "with positive weight; NaN is allowed only on the other rows."
        )
    b = base[reference]
    return float(b @ y_pred[reference] / b.sum() + w[w > 0] @ residual[w > 0] / w.sum())


@validate_params(
    {
        "y": ["array-like"],
        "t": ["array-like"],
        "weights": ["array-like"],
        "y_pred": ["array-like", None],
        "estimand": [StrOptions(set(ESTIMANDS))],
        "quantity": [StrOptions({"mean", "effect"})],
        "sample_weight": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def dr_estimate(
    y, t, weights, y_pred=None, *, estimand="ATE", quantity="mean", sample_weight=None
):
    """Doubly robust estimate of a target mean or a treatment effect.

    The augmented weighting estimator: the outcome model's mean over the
    target rows plus the weighted mean of its residuals over the reweighted
    rows,

    ``mean_T(y_pred) + sum_G w_i (y_i - y_pred_i) / sum_G w_i``.

    It is consistent if either the weights or the outcome model are right.
    With ``y_pred=None`` it is the weighted (Hajek) mean of the reweighted
    group. For a recommendation model's risk under missing-not-at-random
    feedback, pass the per-pair loss as ``y`` (NaN where unobserved), the
    observation indicator as ``t``, the imputed loss as ``y_pred`` and
    ``estimand="ATE"``: this is the DR risk ``mean_D(e_hat) + sum_O w (e -
    e_hat) / sum_O w`` of KBDR / AKBDR (Li et al. 2024) with any weights.

    ``quantity="mean"`` estimates the mean over the target rows of the
    reweighted group's outcome: with ``"ATE"`` the t=1 rows against all rows
    (``E[Y(1)]``, or the full-data mean for missing data), with ``"ATT"`` the
    t=0 rows against the t=1 rows (``E[Y(0) | t=1]``), with ``"ATC"`` the t=1
    rows against the t=0 rows. ``quantity="effect"`` returns the average
    effect of t: ``E[Y(1)] - E[Y(0)]`` for ``"ATE"`` (both groups weighted to
    all rows), the effect on the t=1 rows for ``"ATT"``, on the t=0 rows for
    ``"ATC"``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Outcome; only the rows of reweighted groups with positive weight
        (and, for effects, the observed arms) are used, others may be NaN.

    t : array-like of shape (n_samples,)
        Binary group indicator; the larger value is the group t=1.

    weights : array-like of shape (n_samples,)
        Weights of a reweighter fitted with the same ``estimand``.

    y_pred : array-like of shape (n_samples,) or (n_samples, 2), default=None
        Outcome-model predictions on every row. For ``quantity="mean"``, the
        prediction of the reweighted group's outcome, shape (n_samples,).
        For ``quantity="effect"``, the columns are the predictions under t=0
        and t=1. ``None``: no augmentation (Hajek).

    estimand : {"ATT", "ATC", "ATE"}, default="ATE"
        Which rows are weighted to which (see above).

    quantity : {"mean", "effect"}, default="mean"
        Estimate a target mean or an average effect.

    sample_weight : array-like of shape (n_samples,), default=None
        Base weights of the target rows. ``None``: ones.

    Returns
    -------
    estimate : float
        The doubly robust estimate.

    See Also
    --------
    EntropyBalancing : Exact balance makes this estimator exact for linear
        outcome models.
    KernelBalancing : Weights of the kernel-balanced DR estimators.

    Notes
    -----
    With entropy-balancing weights that balance the means of ``X`` exactly
    and a linear outcome model fitted on ``X``, the estimate equals the
    weighted mean without augmentation (Zhao and Percival 2017).

    References
    ----------
    .. [1] J. M. Robins, A. Rotnitzky and L. P. Zhao, "Estimation of
       regression coefficients when some regressors are not always
       observed", JASA 89(427), 1994.
    .. [2] H. Li et al., "Debiased Collaborative Filtering with Kernel-Based
       Causal Balancing", ICLR 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.weighting import dr_estimate
    >>> y = np.array([1.0, 2.0, np.nan, np.nan])
    >>> t = np.array([1, 1, 0, 0])
    >>> w = np.array([1.5, 0.5, 1.0, 1.0])
    >>> dr_estimate(y, t, w)
    1.25
    >>> dr_estimate(y, t, w, y_pred=np.array([1.0, 2.0, 3.0, 3.0]))
    2.25
    """
    y = check_array(
        y, ensure_2d=False, dtype=np.float64, ensure_all_finite=False, input_name="y"
    )
    n = y.shape[0]
    t = _as_groups(t, n)
    weights = _as_weights(weights, n)
    base = _as_weights(sample_weight, n, "sample_weight")
    if y_pred is None:
        y_pred = np.zeros((n, 2)) if quantity == "effect" else np.zeros(n)
    y_pred = check_array(y_pred, ensure_2d=False, dtype=np.float64, input_name="y_pred")
    expected = (n, 2) if quantity == "effect" else (n,)
    if y_pred.shape != expected:
        raise ValueError(
            f"y_pred must have shape {expected} for quantity={quantity!r}; got "
            f"{y_pred.shape}."
        )
    treated, control = t == 1, t == 0
    everyone = np.ones(n, dtype=bool)
    if quantity == "mean":
        source, reference = {
            "ATE": (treated, everyone),
            "ATT": (control, treated),
            "ATC": (treated, control),
        }[estimand]
        return _augmented_mean(y, y_pred, weights, source, reference, base)
    pred0, pred1 = y_pred[:, 0], y_pred[:, 1]
    if estimand == "ATE":
        mu1 = _augmented_mean(y, pred1, weights, treated, everyone, base)
        mu0 = _augmented_mean(y, pred0, weights, control, everyone, base)
    elif estimand == "ATT":
        mu1 = _augmented_mean(y, np.zeros(n), base, treated, treated, base)
        mu0 = _augmented_mean(y, pred0, weights, control, treated, base)
    else:
        mu1 = _augmented_mean(y, pred1, weights, treated, control, base)
        mu0 = _augmented_mean(y, np.zeros(n), base, control, control, base)
    return mu1 - mu0
