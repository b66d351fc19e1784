"""ConformalQuantileRegressor: conformalized quantile regression (CQR)."""

import math
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import KFold, check_cv
from sklearn.utils import check_random_state
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted

from skreweight.quantile._base import (
    QuantileRegressorMixin,
    check_supports_sample_weight,
    expected_failed_checks,
    fit_estimator,
    is_multi_quantile,
)
from skreweight.quantile._common import (
    PAIR_TOL,
    central_pairs,
    check_coverage,
    check_quantiles,
    coverage_to_levels,
    find_pair,
    median_index,
)
from skreweight.quantile._monotonize import _monotonize
from skreweight.quantile._multi import MultiQuantileRegressor
from skreweight.utils._sklearn_fixes import (
    HasMethods,
    Interval,
    StrOptions,
    _check_sample_weight,
    _fit_context,
    _safe_indexing,
)

__all__ = ["ConformalQuantileRegressor"]

# Largest number of (test row, calibration row) scores held at once by CV+.
_CVPLUS_CHUNK = 5_000_000


def _min_calibration_rows(alpha):
    """Smallest n with ceil((1 - alpha) (n + 1)) <= n."""
    n = max(int(math.floor((1 - alpha) / alpha)) - 1, 1)
    while math.ceil((1 - alpha) * (n + 1) - 1e-12) > n:
        n += 1
    return n


def _conformal_quantile(scores, alpha, sample_weight=None):
    """The ``ceil((1 - alpha)(n + 1))``-th smallest score (weighted form)."""
    if sample_weight is None:
        n = scores.shape[0]
        k = math.ceil((1 - alpha) * (n + 1) - 1e-12)
        return float(np.partition(scores, k - 1)[k - 1])
    order = np.argsort(scores, kind="stable")
    cum = np.cumsum(sample_weight[order])
    target = (1 - alpha) * (cum[-1] + 1)
    idx = np.searchsorted(cum, target - 1e-12 * max(target, 1.0))
    if idx >= scores.shape[0]:
        raise ValueError(
            f"The calibration rows carry a total weight of {cum[-1]:.3g}, too "
            f"little for coverage {1 - alpha}: it needs at least "
            f"{(1 - alpha) / alpha:.3g}. Use more calibration rows or larger "
            "weights."
        )
    return float(scores[order][idx])


def _nest(lower, upper, median):
    """Widen intervals so that they are nested (and contain the median).

    ``lower`` and ``upper`` have shape (n, k), columns from the widest to the
    narrowest interval; ``median`` is (n,) or None. Only widens.
    """
    lower, upper = lower.copy(), upper.copy()
    if median is None:
        # Collapse an inverted narrowest interval to its midpoint.
        inverted = lower[:, -1] > upper[:, -1]
        mid = 0.5 * (lower[:, -1] + upper[:, -1])
        lower[inverted, -1] = mid[inverted]
        upper[inverted, -1] = mid[inverted]
        run_lo, run_hi = lower[:, -1], upper[:, -1]
    else:
        run_lo, run_hi = median, median
    for j in range(lower.shape[1] - 1, -1, -1):
        run_lo = np.minimum(run_lo, lower[:, j])
        run_hi = np.maximum(run_hi, upper[:, j])
        lower[:, j], upper[:, j] = run_lo, run_hi
    return lower, upper


def _fit_fold(estimator, X, y, sample_weight, train):
    sw = None if sample_weight is None else sample_weight[train]
    return fit_estimator(estimator, _safe_indexing(X, train), y[train], sw)


class ConformalQuantileRegressor(QuantileRegressorMixin, BaseEstimator):
    """Calibrated prediction intervals from any quantile model (CQR).

    Conformalized quantile regression (Romano et al., 2019) widens (or
    narrows) the interval formed by two predicted quantiles by the
    ``ceil((1 - alpha)(n + 1))``-th smallest conformity score
    ``max(lo(X_i) - Y_i, Y_i - hi(X_i))`` on rows the model was not fitted on,
    so that the interval covers a new exchangeable row with probability at
    least ``1 - alpha`` whatever the model. Several coverages are calibrated
    separately, one central pair of levels each, then made nested without
    losing validity.

    Read more in the :ref:`User Guide <quantile>`.

    Parameters
    ----------
    estimator : estimator object
        The quantile model. A multi-level model (a ``quantiles`` parameter, e.g.
        :class:`MultiQuantileRegressor` or :class:`QuantileAggregator`) is used
        with its own levels, which must hold the pair of every coverage. Any
        other quantile regressor is wrapped in :class:`MultiQuantileRegressor`
        at the levels ``(1 -+ c) / 2`` of every coverage ``c`` and 0.5. A
        :class:`~sklearn.frozen.FrozenEstimator` around a fitted multi-level
        model is not refitted: all rows given to :meth:`fit` calibrate.

    coverage : float, array-like of shape (n_coverages,) or None, default=0.9
        Nominal coverage(s) in (0, 1). ``None`` calibrates every central pair
        ``(tau, 1 - tau)`` of the model's levels.

    method : {"split", "cv+"}, default="split"
        ``"split"``: fit on ``1 - calibration_size`` of the rows, calibrate on
        the rest. ``"cv+"``: fit one model per fold of ``cv`` and calibrate
        with every row's out-of-fold score (Barber et al., 2021); uses all rows
        for fitting and calibration, at ``K`` fits.

    calibration_size : float or int, default=0.25
        Share (float in (0, 1)) or number (int) of rows held out for
        calibration by ``"split"``.

    cv : int, cross-validation generator or iterable, default=5
        Folds of ``"cv+"``. An int means ``KFold(cv, shuffle=True,
        random_state=random_state)``.

    monotonic : {"sort", "isotonic"} or None, default="sort"
        Crossing repair of the model's predictions before calibration (it uses
        no labels, so validity is kept). Calibrated intervals are then only
        widened to be nested, never re-sorted. A repair needs every level of
        the model; with ``None`` and a :class:`MultiQuantileRegressor` model
        that repairs nothing either (``monotonic=None``), only the levels of
        the calibrated pairs and the median are predicted.

    n_jobs : int, default=None
        Number of ``"cv+"`` folds fitted in parallel.

    random_state : int, RandomState instance or None, default=None
        Seeds the calibration split and the folds.

    Attributes
    ----------
    estimator_ : estimator
        The fitted model (``"split"``).

    estimators_ : list of estimators
        The fold models (``"cv+"``).

    coverages_ : ndarray of shape (n_coverages,)
        Calibrated coverages, from the widest interval to the narrowest.

    quantiles_ : ndarray of shape (n_quantiles,)
        Levels of the calibrated pairs (plus 0.5 when the model predicts it);
        the columns of :meth:`predict`.

    conformal_offsets_ : ndarray of shape (n_coverages,)
        The correction ``q_hat`` of each pair (``"split"``; may be negative).

    conformity_scores_ : ndarray of shape (n_calibration, n_coverages)
        The calibration scores of every pair.

    n_calibration_ : int
        Number of calibration rows.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    MultiQuantileRegressor : Many levels from a single-level regressor.
    QuantileAggregator : A sharper model to calibrate.
    interval_coverage : Check the coverage on held-out rows.

    Notes
    -----
    Split CQR covers with probability between ``1 - alpha`` and
    ``1 - alpha + 1 / (n_calibration + 1)`` (no ties). It needs
    ``ceil((1 - alpha)(n_calibration + 1)) <= n_calibration``, i.e. at least
    ``(1 - alpha) / alpha`` calibration rows (9 for 90%, 19 for 95%); fewer
    raise a ``ValueError`` giving the number needed.

    Nesting: a wider interval's lower end becomes the minimum of its own, the
    narrower intervals' and the median's, and symmetrically for the upper
    end. This only widens intervals, so each keeps its guarantee. Without a
    median level, an inverted narrowest interval is collapsed to its
    midpoint.

    With ``sample_weight``, the weights are passed to the model fit and the
    split calibration uses the weighted quantile (the smallest score whose
    cumulative weight reaches ``(1 - alpha)(sum(w) + 1)``), which equals
    repeating rows for integer weights. ``"cv+"`` calibrates unweighted.
    CV+ guarantees ``1 - 2 alpha - sqrt(2 / n)`` in theory and about
    ``1 - alpha`` in practice.

    References
    ----------
    .. [1] Y. Romano, E. Patterson and E. Candès, "Conformalized Quantile
       Regression", NeurIPS 2019.
    .. [2] R. F. Barber, E. J. Candès, A. Ramdas and R. J. Tibshirani,
       "Predictive inference with the jackknife+", Ann. Statist. 49(1), 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import QuantileRegressor
    >>> from skreweight.quantile import ConformalQuantileRegressor, interval_coverage
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(600, 2))
    >>> y = X[:, 0] + (0.5 + np.abs(X[:, 1])) * rng.normal(size=600)
    >>> cqr = ConformalQuantileRegressor(
    ...     QuantileRegressor(alpha=0, solver="highs"),
    ...     coverage=[0.8, 0.9],
    ...     random_state=0,
    ... ).fit(X[:400], y[:400])
    >>> cqr.quantiles_
    array([0.05, 0.1 , 0.5 , 0.9 , 0.95])
    >>> intervals = cqr.predict_interval(X[400:], coverage=[0.8, 0.9])
    >>> intervals.shape
    (200, 2, 2)
    >>> interval_coverage(y[400:], intervals)
    array([0.815, 0.9  ])
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "coverage": [Interval(Real, 0, 1, closed="neither"), "array-like", None],
        "method": [StrOptions({"split", "cv+"})],
        "calibration_size": [
            Interval(Real, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "cv": ["cv_object"],
        "monotonic": [StrOptions({"sort", "isotonic"}), None],
        "n_jobs": [None, Integral],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        coverage=0.9,
        *,
        method="split",
        calibration_size=0.25,
        cv=5,
        monotonic="sort",
        n_jobs=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.coverage = coverage
        self.method = method
        self.calibration_size = calibration_size
        self.cv = cv
        self.monotonic = monotonic
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _resolve_model(self):
        """Return (base estimator, its levels, frozen?)."""
        estimator = self.estimator
        if isinstance(estimator, FrozenEstimator):
            levels = getattr(estimator.estimator, "quantiles_", None)
            if levels is None:
                raise TypeError(
                    "A FrozenEstimator given as estimator must wrap a fitted "
                    "multi-quantile model with a quantiles_ attribute (e.g. a "
                    "fitted MultiQuantileRegressor)."
                )
            return estimator, check_quantiles(levels, "estimator.quantiles_"), True
        if is_multi_quantile(estimator):
            levels = check_quantiles(
                estimator.get_params(deep=False)["quantiles"], "estimator.quantiles"
            )
            return clone(estimator), levels, False
        if self.coverage is None:
            raise ValueError(
                "coverage=None calibrates the central pairs of a multi-quantile "
                f"model, but {type(estimator).__name__} predicts one level; pass "
                "coverage as a float or a list of floats."
            )
        coverages, _ = check_coverage(self.coverage)
        lo, hi = coverage_to_levels(coverages)
        levels = np.unique(np.concatenate([lo, hi, [0.5]]))
        base = MultiQuantileRegressor(clone(estimator), levels, monotonic=None)
        return base, levels, False

    def _select(self, levels):
        """Coverages, pair columns and median column in the model output."""
        if self.coverage is None:
            pairs = central_pairs(levels)
            if not pairs:
                raise ValueError(
                    "coverage=None needs central pairs (tau, 1 - tau) among the "
                    f"model's levels; got {levels.tolist()}."
                )
            coverages = np.array([1 - 2 * levels[i] for i, _ in pairs])
        else:
            coverages, _ = check_coverage(self.coverage)
            coverages = np.unique(coverages)[::-1]  # widest first
            pairs = [find_pair(levels, c) for c in coverages]
        return np.round(coverages, 10), pairs, median_index(levels)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the model and calibrate its intervals.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows, split into fitting and calibration rows (``"split"``) or
            folds (``"cv+"``).

        y : array-like of shape (n_samples,)
            Target.

        sample_weight : array-like of shape (n_samples,), default=None
            Row weights, passed to the model fit and used by the split
            calibration.

        Returns
        -------
        self : object
            The calibrated model.
        """
        X, y = self._validate_X_y(X, y, ensure_min_samples=2)
        n_samples = y.shape[0]
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, y)
        base, levels, frozen = self._resolve_model()
        if sample_weight is not None and not frozen:
            check_supports_sample_weight(base)
        coverages, pairs, med = self._select(levels)
        self._levels = levels
        self._pairs = pairs
        self._median = med
        self.coverages_ = coverages
        keep = sorted({i for pair in pairs for i in pair} | ({med} - {None}))
        self.quantiles_ = levels[keep]
        alphas = 1 - coverages
        if self.method == "cv+":
            if frozen:
                raise ValueError(
                    "method='cv+' refits the model on folds; a FrozenEstimator "
                    "cannot be refitted. Use method='split'."
                )
            self._fit_cv_plus(base, X, y, sample_weight, alphas)
            return self

        rng = check_random_state(self.random_state)
        if frozen:
            cal = np.arange(n_samples)
            self.estimator_ = base
        else:
            n_cal = self.calibration_size
            if isinstance(n_cal, Real) and not isinstance(n_cal, Integral):
                n_cal = int(math.floor(n_cal * n_samples))
            if not 1 <= n_cal < n_samples:
                raise ValueError(
                    f"calibration_size={self.calibration_size} leaves {n_cal} "
                    f"calibration rows out of {n_samples}; it must leave at least "
                    "one row to fit and one to calibrate."
                )
            perm = rng.permutation(n_samples)
            cal, train = np.sort(perm[:n_cal]), np.sort(perm[n_cal:])
        needed = max(_min_calibration_rows(a) for a in alphas)
        if sample_weight is None and cal.size < needed:
            share = needed / n_samples
            raise ValueError(
                f"Coverage {coverages.max()} needs at least {needed} calibration "
                f"rows; got {cal.size}. Raise calibration_size to at least "
                f"{needed} rows ({share:.3g} of the data) or provide more rows."
            )
        if not frozen:
            sw = None if sample_weight is None else sample_weight[train]
            self.estimator_ = fit_estimator(
                base, _safe_indexing(X, train), y[train], sw
            )
        lower, upper = self._pair_predictions(self.estimator_, _safe_indexing(X, cal))
        scores = np.maximum(lower - y[cal, None], y[cal, None] - upper)
        sw = None if sample_weight is None else sample_weight[cal]
        self.conformity_scores_ = scores
        self.conformal_offsets_ = np.array(
            [_conformal_quantile(scores[:, j], a, sw) for j, a in enumerate(alphas)]
        )
        self.n_calibration_ = int(cal.size)
        return self

    def _fit_cv_plus(self, base, X, y, sample_weight, alphas):
        cv = self.cv
        if isinstance(cv, Integral):
            cv = KFold(cv, shuffle=True, random_state=self.random_state)
        splits = list(check_cv(cv).split(X, y))
        n_samples = y.shape[0]
        lowest = min(math.floor(a * (n_samples + 1)) for a in alphas)
        if lowest < 1:
            needed = max(math.ceil(1 / a) - 1 for a in alphas)
            raise ValueError(
                f"method='cv+' with coverage {1 - min(alphas)} needs at least "
                f"{needed} rows; got {n_samples}."
            )
        self.estimators_ = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_fold)(clone(base), X, y, sample_weight, train)
            for train, _ in splits
        )
        fold_of = np.full(n_samples, -1)
        scores = np.empty((n_samples, len(alphas)))
        for k, (_, test) in enumerate(splits):
            if np.any(fold_of[test] >= 0):
                raise ValueError("cv must put every row in exactly one test fold.")
            fold_of[test] = k
            lower, upper = self._pair_predictions(
                self.estimators_[k], _safe_indexing(X, test)
            )
            scores[test] = np.maximum(lower - y[test, None], y[test, None] - upper)
        if np.any(fold_of < 0):
            raise ValueError("cv must put every row in exactly one test fold.")
        self._fold_of = fold_of
        self.conformity_scores_ = scores
        self.n_calibration_ = int(n_samples)

    def _columns(self, median=True):
        """Model columns read by calibration (pairs) or prediction (+ median)."""
        columns = {i for pair in self._pairs for i in pair}
        if median and self._median is not None:
            columns.add(self._median)
        return sorted(columns)

    def _raw(self, estimator, X, columns):
        """The model's repaired predictions; ``columns`` are the ones read.

        Without any crossing repair (``monotonic=None`` here and in a
        :class:`MultiQuantileRegressor` model) each column is one level
        model's own prediction, so only ``columns`` are predicted (the others
        are NaN): the same numbers at a fraction of the cost. A repair mixes
        the levels of a row, so every level is predicted then.
        """
        model = estimator
        if isinstance(model, FrozenEstimator):
            model = model.estimator
        if (
            self.monotonic is None
            and type(model) is MultiQuantileRegressor
            and model.monotonic is None
        ):
            part = model._predict_raw(model._check_predict_X(X), columns)
            y_pred = np.full((part.shape[0], self._levels.size), np.nan)
            y_pred[:, columns] = part
            return y_pred
        y_pred = np.asarray(estimator.predict(X), dtype=float)
        y_pred = y_pred.reshape(y_pred.shape[0], self._levels.size)
        return _monotonize(y_pred, self.monotonic)

    def _pair_predictions(self, estimator, X):
        y_pred = self._raw(estimator, X, self._columns(median=False))
        lower = y_pred[:, [i for i, _ in self._pairs]]
        upper = y_pred[:, [j for _, j in self._pairs]]
        return lower, upper

    def _calibrated(self, X):
        """Calibrated (lower, upper, median) before nesting."""
        if self.method == "split":
            y_pred = self._raw(self.estimator_, X, self._columns())
            lower = y_pred[:, [i for i, _ in self._pairs]] - self.conformal_offsets_
            upper = y_pred[:, [j for _, j in self._pairs]] + self.conformal_offsets_
            median = None if self._median is None else y_pred[:, self._median]
            return lower, upper, median
        preds = [self._raw(est, X, self._columns()) for est in self.estimators_]
        n_test, n_cal = preds[0].shape[0], self._fold_of.size
        lower = np.empty((n_test, len(self._pairs)))
        upper = np.empty_like(lower)
        chunk = max(_CVPLUS_CHUNK // max(n_cal, 1), 1)
        for j, (i_lo, i_hi) in enumerate(self._pairs):
            alpha = 1 - self.coverages_[j]
            k_lo = math.floor(alpha * (n_cal + 1))
            k_hi = math.ceil((1 - alpha) * (n_cal + 1) - 1e-12)
            R = self.conformity_scores_[:, j]
            lo_models = np.column_stack([p[:, i_lo] for p in preds])
            hi_models = np.column_stack([p[:, i_hi] for p in preds])
            for start in range(0, n_test, chunk):
                rows = slice(start, start + chunk)
                cand_lo = lo_models[rows][:, self._fold_of] - R
                cand_hi = hi_models[rows][:, self._fold_of] + R
                lower[rows, j] = np.partition(cand_lo, k_lo - 1, axis=1)[:, k_lo - 1]
                if k_hi <= n_cal:
                    upper[rows, j] = np.partition(cand_hi, k_hi - 1, axis=1)[
                        :, k_hi - 1
                    ]
                else:
                    upper[rows, j] = np.inf
        median = None
        if self._median is not None:
            median = np.mean([p[:, self._median] for p in preds], axis=0)
        return lower, upper, median

    def predict(self, X):
        """Predict the calibrated quantiles.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_quantiles)
            Calibrated interval ends and the median (if predicted), columns
            in ``quantiles_`` order; nested intervals, so rows are
            non-decreasing.
        """
        X = self._check_predict_X(X)
        lower, upper, median = self._calibrated(X)
        lower, upper = _nest(lower, upper, median)
        parts = [lower]
        if median is not None:
            parts.append(median[:, None])
        parts.append(upper[:, ::-1])
        return np.hstack(parts)

    def predict_interval(self, X, coverage=None):
        """Predict calibrated central prediction intervals.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input rows.

        coverage : float or array-like of shape (n_intervals,), default=None
            Calibrated coverage(s) to return, each one of ``coverages_``.
            ``None`` returns all of them (the widest first), as a 2-D array
            when a single coverage was calibrated from a float.

        Returns
        -------
        y_interval : ndarray of shape (n_samples, 2) or (n_samples, 2, n_intervals)
            Lower and upper ends; 3-D when several coverages are requested.
        """
        check_is_fitted(self)
        if coverage is None:
            scalar = isinstance(self.coverage, Real)
            coverage = self.coverages_[0] if scalar else list(self.coverages_)
        coverages, scalar = check_coverage(coverage)
        for c in coverages:
            if not np.any(np.abs(self.coverages_ - c) <= PAIR_TOL):
                raise ValueError(
                    f"coverage={c} was not calibrated; calibrated coverages are "
                    f"{self.coverages_.tolist()}. Refit with it in coverage."
                )
        return super().predict_interval(X, coverage=coverage)

    def _expected_failed_checks(self):
        return expected_failed_checks(cross_fitted=True)
