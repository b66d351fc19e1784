"""Inverse propensity weights from any probabilistic classifier."""

from numbers import Real

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import check_cv, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from skreweight.utils._sklearn_fixes import (
    HasMethods,
    Interval,
    StrOptions,
    _routing_enabled,
    validate_data,
)
from skreweight.weighting._base import _BalancingReweighter
from skreweight.weighting._utils import (
    ESTIMANDS,
    cap_and_normalize,
    check_groups_have_mass,
    group_problems,
    groups_for_new_rows,
)

__all__ = ["PropensityWeights"]


def _odds_weights(propensity, t, estimand):
    """Raw inverse-propensity factors (before per-group normalisation)."""
    p = propensity
    if estimand == "ATT":
        return np.where(t == 1, 1.0, p / (1.0 - p))
    if estimand == "ATC":
        return np.where(t == 1, (1.0 - p) / p, 1.0)
    return np.where(t == 1, 1.0 / p, 1.0 / (1.0 - p))


class PropensityWeights(_BalancingReweighter):
    """Inverse propensity weights from any probabilistic classifier.

    A classifier estimates the propensity ``pi(x) = P(t=1 | x)`` and every row
    is weighted by the inverse probability of its group, so that the reweighted
    groups look like the target of ``estimand``:

    - ``"ATT"``: the t=0 rows are reweighted to the t=1 rows by the odds
      ``pi / (1 - pi)``; t=1 rows keep their ``sample_weight``;
    - ``"ATC"``: the t=1 rows are reweighted to the t=0 rows by
      ``(1 - pi) / pi`` (covariate shift with source rows t=1 and target rows
      t=0); t=0 rows keep their ``sample_weight``;
    - ``"ATE"``: both groups are reweighted to the whole sample, by ``1 / pi``
      and ``1 / (1 - pi)`` (missing data / MNAR ratings: observed rows t=1 to
      all rows; use the t=1 weights).

    The propensity is clipped to ``[clip, 1 - clip]``. With ``normalize=True``
    (Hajek, stabilised weights) every reweighted group's weights sum to its
    total ``sample_weight``.

    Read more in the :ref:`User Guide <weighting>`.

    Parameters
    ----------
    estimator : estimator object, default=None
        Classifier with ``predict_proba``. ``None`` means
        ``make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))``.
        Wrap uncalibrated learners in
        :class:`~sklearn.calibration.CalibratedClassifierCV`.

    estimand : {"ATT", "ATC", "ATE"}, default="ATT"
        Which rows are reweighted to look like which (see above).

    clip : float, default=1e-3
        Propensities are clipped to ``[clip, 1 - clip]``; in ``[0, 0.5)``.

    max_weight : float, default=None
        Cap on a weight as a multiple of its group's mean weight; capped
        weights are fixed and the others renormalised. ``None``: no cap.

    normalize : bool, default=True
        Whether each reweighted group's weights are scaled to sum to the
        group's total ``sample_weight`` (Hajek). ``False`` gives
        Horvitz-Thompson weights ``s_i * (raw factor)``.

    cv : int, cross-validation generator or iterable, default=None
        If given, the propensity of every row is predicted out of fold
        (cross-fitting) with this splitting (stratified for an integer).
        ``None`` predicts in sample.

    Attributes
    ----------
    weights_ : ndarray of shape (n_samples,)
        Weight of every training row (``sample_weight`` included).

    estimator_ : estimator object
        The classifier fitted on all rows; used by :meth:`compute_weights`.

    propensity_ : ndarray of shape (n_samples,)
        Clipped estimated ``P(t=1 | x)`` of every training row (out of fold
        when ``cv`` is set).

    n_clipped_ : int
        Number of training rows whose propensity was clipped.

    effective_sample_size_ : dict
        Kish effective sample size of each group's weights, keyed by group
        value ``0`` and ``1``.

    groups_ : ndarray of shape (2,)
        The two values of ``y``; the second is the group t=1.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    EntropyBalancing : Weights that balance chosen moments exactly.
    KernelBalancing : Propensity-like weights that balance kernel sections.
    standardized_mean_difference : Check the balance the weights achieve.

    Notes
    -----
    Inverse propensity weights balance the covariates only in expectation and
    only under a correctly specified propensity model; check the balance with
    :func:`balance_table`. Flexible learners give propensities near 0 or 1
    in sample: use ``cv`` for out-of-fold propensities.

    References
    ----------
    .. [1] P. R. Rosenbaum and D. B. Rubin, "The central role of the
       propensity score in observational studies for causal effects",
       Biometrika 70(1), 1983.
    .. [2] J. D. Y. Kang and J. L. Schafer, "Demystifying double robustness",
       Statistical Science 22(4), 2007.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.weighting import PropensityWeights
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> t = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    >>> w = PropensityWeights(estimand="ATT").fit_reweight(X, t)
    >>> bool(np.all(w[t == 1] == 1.0)), round(float(w[t == 0].sum()), 6)
    (True, 104.0)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "estimand": [StrOptions(set(ESTIMANDS))],
        "clip": [Interval(Real, 0, 0.5, closed="left")],
        "max_weight": [Interval(Real, 1, None, closed="left"), None],
        "normalize": ["boolean"],
        "cv": ["cv_object"],
    }

    def __init__(
        self,
        estimator=None,
        estimand="ATT",
        clip=1e-3,
        max_weight=None,
        normalize=True,
        cv=None,
    ):
        self.estimator = estimator
        self.estimand = estimand
        self.clip = clip
        self.max_weight = max_weight
        self.normalize = normalize
        self.cv = cv

    def _make_estimator(self):
        if self.estimator is None:
            return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        return clone(self.estimator)

    def _fit_params(self, estimator, sample_weight):
        """Keyword arguments that hand ``sample_weight`` to the classifier.

        With metadata routing off, a Pipeline only forwards ``<step>__param``
        keys: the weights go to its last step (and to the scaler of the
        default pipeline, so that integer weights equal repeated rows).
        """
        if np.all(sample_weight == 1.0):
            return {}
        if self.estimator is None:
            return {
                "standardscaler__sample_weight": sample_weight,
                "logisticregression__sample_weight": sample_weight,
            }
        if _routing_enabled():
            return {"sample_weight": sample_weight}
        prefix, final = "", estimator
        while hasattr(final, "steps"):
            name, final = final.steps[-1]
            prefix += f"{name}__"
        if not has_fit_parameter(final, "sample_weight"):
            raise TypeError(
                f"{type(final).__name__} does not accept sample_weight in fit; "
                "pass sample_weight=None or use a classifier that takes it."
            )
        return {f"{prefix}sample_weight": sample_weight}

    def _propensity_of(self, estimator, X):
        proba = estimator.predict_proba(X)
        classes = list(getattr(estimator, "classes_", [0, 1]))
        return proba[:, classes.index(1)]

    def _fit_reweight(self, X, t, sample_weight):
        check_groups_have_mass(t, sample_weight, type(self).__name__)
        estimator = self._make_estimator()
        fit_params = self._fit_params(estimator, sample_weight)
        self.estimator_ = estimator.fit(X, t, **fit_params)
        if self.cv is None:
            propensity = self._propensity_of(self.estimator_, X)
        else:
            cv = check_cv(self.cv, t, classifier=True)
            proba = cross_val_predict(
                self._make_estimator(),
                X,
                t,
                cv=cv,
                method="predict_proba",
                params=fit_params,
            )
            propensity = proba[:, 1]
        clipped = np.clip(propensity, self.clip, 1.0 - self.clip)
        self.n_clipped_ = int(np.sum(clipped != propensity))
        if not np.all((clipped > 0) & (clipped < 1)):
            raise ValueError(
                "The estimated propensity is 0 or 1 for some rows, which gives "
                "infinite weights; set clip > 0."
            )
        self.propensity_ = clipped
        return self._finish(_odds_weights(clipped, t, self.estimand), t, sample_weight)

    def _finish(self, factors, t, sample_weight):
        weights = sample_weight * factors
        self.effective_sample_size_ = {}
        self._scale_ = {0: 1.0, 1: 1.0}
        for group, source, _ in group_problems(t, self.estimand):
            total = sample_weight[source].sum()
            w = weights[source]
            if self.normalize:
                self._scale_[group] = float(total / w.sum())
                w = w * self._scale_[group]
            if self.max_weight is not None:
                w = cap_and_normalize(
                    w, self.max_weight * w.sum() / source.sum(), w.sum()
                )
            weights[source] = w
        for group in (0, 1):
            w = weights[t == group]
            self.effective_sample_size_[group] = float(w.sum() ** 2 / (w @ w))
        return weights

    def compute_weights(self, X, y=None):
        """Compute the weights of new rows from the fitted classifier.

        Uses ``estimator_`` (fitted on all training rows) and the same clipping,
        but not the training normalisation: the factors are ``pi / (1 - pi)``
        (``"ATT"``), ``(1 - pi) / pi`` (``"ATC"``) or ``1 / pi`` and
        ``1 / (1 - pi)`` (``"ATE"``), scaled by the normalising constants of
        the training groups.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to weight.

        y : array-like of shape (n_samples,), default=None
            Group of every row, with the values seen in ``fit``. ``None``
            treats every row as a member of the reweighted group (t=0 for
            ``"ATT"``, t=1 for ``"ATC"``); required for ``"ATE"``.

        Returns
        -------
        weights : ndarray of shape (n_samples,)
            Weight factor of every row.
        """
        check_is_fitted(self, "estimator_")
        X = validate_data(self, X, reset=False)
        t = groups_for_new_rows(self, y, X.shape[0])
        p = np.clip(self._propensity_of(self.estimator_, X), self.clip, 1 - self.clip)
        factors = _odds_weights(p, t, self.estimand)
        for group in (0, 1):
            factors[t == group] *= self._scale_[group]
        return factors
