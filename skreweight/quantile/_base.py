"""Shared machinery of the multi-quantile estimators."""

import inspect

import numpy as np
from sklearn.base import RegressorMixin, clone
from sklearn.utils import get_tags
from sklearn.utils.validation import (
    _num_samples,
    check_array,
    check_is_fitted,
    column_or_1d,
    has_fit_parameter,
)

from skreweight.quantile._common import check_coverage, find_pair
from skreweight.quantile._metrics import weighted_interval_score
from skreweight.utils._sklearn_fixes import validate_data

__all__ = []


def fit_estimator(estimator, X, y, sample_weight=None, **fit_params):
    """Fit ``estimator``, passing ``sample_weight`` only when given."""
    if sample_weight is not None:
        fit_params["sample_weight"] = sample_weight
    return estimator.fit(X, y, **fit_params)


def check_supports_sample_weight(estimator, name="estimator"):
    """Raise a TypeError if ``estimator.fit`` has no ``sample_weight``."""
    if not has_fit_parameter(estimator, "sample_weight"):
        raise TypeError(
            f"{name} {type(estimator).__name__} does not accept sample_weight in "
            "fit; drop sample_weight or use a model that supports it."
        )


def predict_accepts_quantiles(estimator):
    """Whether ``estimator.predict`` takes a ``quantiles`` argument."""
    predict = getattr(estimator, "predict", None)
    if predict is None:
        return False
    try:
        return "quantiles" in inspect.signature(predict).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return False


def is_multi_quantile(estimator):
    """Whether ``estimator`` is a multi-level model with a ``quantiles`` param."""
    return "quantiles" in estimator.get_params(deep=False) and hasattr(
        estimator, "predict"
    )


def inner_input_tags(estimators):
    """``(allow_nan, sparse)``: allowed iff every inner estimator allows it."""
    allow_nan = sparse = bool(estimators)
    for est in estimators:
        try:
            tags = get_tags(est).input_tags
        except Exception:  # pragma: no cover - non-sklearn estimators
            return False, False
        allow_nan &= tags.allow_nan
        sparse &= tags.sparse
    return allow_nan, sparse


class QuantileRegressorMixin(RegressorMixin):
    """``score`` (minus mean WIS) and ``predict_interval`` for quantile models.

    Subclasses set ``quantiles_`` and return an array of shape
    ``(n_samples, n_quantiles)`` from ``predict``.
    """

    def _validate_y(self, y):
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        if y.ndim == 2 and y.shape[1] != 1:
            raise ValueError(
                f"{type(self).__name__} supports a single target; y has shape "
                f"{y.shape}. Fit one model per target."
            )
        y = column_or_1d(y, warn=True)
        y = check_array(
            y,
            ensure_2d=False,
            dtype=np.float64,
            ensure_all_finite=True,
            input_name="y",
        )
        return y

    def _inner_estimators(self):
        """The unfitted inner estimators whose input tags this model shares."""
        return [self.estimator]

    def _inner_tags(self):
        """(allow_nan, sparse) of the inner estimator(s)."""
        return inner_input_tags(self._inner_estimators())

    def _check_X(self, X, *, reset, ensure_min_samples=1):
        """Validate ``X``; return what the inner estimators receive.

        DataFrames are passed unchanged (feature names reach the inner
        estimators); anything else is passed as the validated array.
        """
        allow_nan, sparse = self._inner_tags()
        X_checked = validate_data(
            self,
            X,
            reset=reset,
            accept_sparse=["csr", "csc", "coo"] if sparse else False,
            dtype=None,
            ensure_all_finite="allow-nan" if allow_nan else True,
            ensure_min_samples=ensure_min_samples,
        )
        return X if hasattr(X, "iloc") else X_checked

    def _validate_X_y(self, X, y, *, reset=True, ensure_min_samples=1):
        """Set feature attributes and validate ``(X, y)``."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        X = self._check_X(X, reset=reset, ensure_min_samples=ensure_min_samples)
        y = self._validate_y(y)
        n_rows = _num_samples(X)
        if n_rows != y.shape[0]:
            raise ValueError(
                f"X has {n_rows} rows but y has {y.shape[0]}; they must match."
            )
        return X, y

    def _check_predict_X(self, X):
        check_is_fitted(self)
        return self._check_X(X, reset=False)

    def predict_interval(self, X, coverage=0.9):
        """Predict central prediction intervals.

        The interval of coverage ``c`` is formed by the predicted quantiles of
        levels ``(1 - c) / 2`` and ``(1 + c) / 2``, which must both be in
        ``quantiles_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input rows.

        coverage : float or array-like of shape (n_intervals,), default=0.9
            Nominal coverage of each interval, in (0, 1).

        Returns
        -------
        y_interval : ndarray of shape (n_samples, 2) or (n_samples, 2, n_intervals)
            Lower and upper ends; 3-D when ``coverage`` is a sequence.
        """
        check_is_fitted(self)
        coverages, scalar = check_coverage(coverage)
        columns = [find_pair(self.quantiles_, c) for c in coverages]
        y_pred = self.predict(X)
        intervals = np.stack([y_pred[:, list(pair)] for pair in columns], axis=2)
        return intervals[:, :, 0] if scalar else intervals

    def score(self, X, y, sample_weight=None):
        """Return the negative mean weighted interval score on ``(X, y)``.

        Greater is better, as scikit-learn's model selection expects. The
        weighted interval score of a row is twice its pinball loss summed over
        ``quantiles_`` (see :func:`weighted_interval_score`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input rows.

        y : array-like of shape (n_samples,)
            True targets.

        sample_weight : array-like of shape (n_samples,), default=None
            Row weights of the mean.

        Returns
        -------
        score : float
            ``-mean(weighted_interval_score(y, self.predict(X), quantiles_))``.
        """
        wis = weighted_interval_score(y, self.predict(X), self.quantiles_)
        return -float(np.average(wis, weights=sample_weight))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        try:
            allow_nan, sparse = self._inner_tags()
        except (TypeError, ValueError, AttributeError):
            allow_nan, sparse = False, False
        tags.input_tags.allow_nan = allow_nan
        tags.input_tags.sparse = sparse
        tags.target_tags.single_output = True
        tags.target_tags.multi_output = False
        return tags


_SHAPE_REASON = (
    "predict returns (n_samples, n_quantiles), one column per level, not the "
    "shape of y."
)
_SW_REASON = (
    "cross-fitting (or the calibration split) splits repeated rows across "
    "folds, so integer weights differ from repeated rows."
)


def expected_failed_checks(cross_fitted):
    """Expected failures shared by the quantile estimators."""
    failed = {
        "check_regressors_train": _SHAPE_REASON,
        "check_estimator_sparse_array": _SHAPE_REASON,
        "check_estimator_sparse_matrix": _SHAPE_REASON,
    }
    if cross_fitted:
        failed["check_sample_weight_equivalence_on_dense_data"] = _SW_REASON
        failed["check_sample_weight_equivalence_on_sparse_data"] = _SW_REASON
    return failed


def clone_with_quantiles(estimator, quantiles):
    """Clone a multi-level ``estimator`` and set its levels."""
    return clone(estimator).set_params(quantiles=list(np.asarray(quantiles).tolist()))
