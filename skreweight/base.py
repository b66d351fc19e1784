"""Base classes for reweighters.

A reweighter learns one non-negative weight per training row. It is the
"upweight" counterpart of an imbalanced-learn sampler: instead of returning new
rows it returns ``sample_weight`` for any estimator. See
:class:`~skreweight.ReweightedEstimator` to use one inside a ``Pipeline``.
"""

from abc import ABCMeta, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted

from skreweight.utils._sklearn_fixes import (
    _check_sample_weight,
    _fit_context,
    validate_data,
)

__all__ = ["BaseReweighter", "ReweighterMixin", "is_reweighter"]


def is_reweighter(estimator):
    """Return True if ``estimator`` is a reweighter.

    A reweighter is any object with a ``fit_reweight`` method; it need not
    derive from :class:`BaseReweighter`.

    Parameters
    ----------
    estimator : object
        Any object.

    Returns
    -------
    is_reweighter : bool
        Whether the object has a callable ``fit_reweight`` method.

    See Also
    --------
    BaseReweighter : Base class of skreweight's reweighters.

    Examples
    --------
    >>> from skreweight.base import is_reweighter
    >>> from skreweight.weighting import ClassWeights
    >>> is_reweighter(ClassWeights())
    True
    """
    return callable(getattr(estimator, "fit_reweight", None))


class ReweighterMixin:
    """Mixin class for all reweighters in skreweight.

    It provides :meth:`fit_reweight`, which fits the reweighter and returns the
    weights of the rows it was fitted on.
    """

    def fit_reweight(self, X, y=None, sample_weight=None, **params):
        """Fit the reweighter and return the weight of every row of ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows.

        y : array-like of shape (n_samples,), default=None
            Class labels, or the binary group indicator for balancing
            reweighters.

        sample_weight : array-like of shape (n_samples,), default=None
            Incoming weights, folded into the returned weights.

        **params : dict
            Further fit parameters, passed to :meth:`fit`.

        Returns
        -------
        weights : ndarray of shape (n_samples,)
            Non-negative weights, already including ``sample_weight``.
        """
        return self.fit(X, y, sample_weight=sample_weight, **params).weights_


class BaseReweighter(ReweighterMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class for reweighters.

    Subclasses implement ``_fit_reweight(X, y, sample_weight)`` and return one
    non-negative weight per row that already includes ``sample_weight``. The
    base class validates the input, calls it and checks the result.

    The weight convention is ``w_i = s_i * r_i`` where ``r`` is built only
    from ``s``-weighted sums. Then an integer weight ``s_i`` equals ``s_i``
    repeated rows, each of which gets ``r_i``.

    Class attributes that subclasses may override:

    - ``_validation_params``: keyword arguments of the input validation of
      ``X`` (default: dense, finite, numeric);
    - ``_requires_y``: whether ``y`` is needed (default ``True``);
    - ``_y_kind``: ``"classification"`` (any class labels),
      ``"binary"`` (a two-group indicator) or ``None`` (not checked).
    """

    _validation_params: dict = {"accept_sparse": False}
    _requires_y = True
    _y_kind = "classification"

    _parameter_constraints: dict = {}

    def _validate_input(self, X, y):
        if self._requires_y and y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        if y is None:
            X = validate_data(self, X, reset=True, **self._validation_params)
            return X, None
        X, y = validate_data(self, X, y, reset=True, **self._validation_params)
        if self._y_kind in ("classification", "binary"):
            check_classification_targets(y)
        if self._y_kind == "binary":
            y = self._check_binary_groups(y)
        return X, y

    def _check_binary_groups(self, y):
        """Return ``y`` as 0/1 ints, or raise if it is not a two-group indicator."""
        groups = np.unique(y)
        if type_of_target(y) != "binary" or groups.size != 2:
            raise ValueError(
                f"{type(self).__name__} needs y to be a binary group indicator "
                f"(two distinct values); got {groups.size} distinct value(s): "
                f"{groups[:5].tolist()}."
            )
        self.groups_ = groups
        return (y == groups[1]).astype(np.int64)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the reweighter and store the training weights in ``weights_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows.

        y : array-like of shape (n_samples,), default=None
            Class labels, or the binary group indicator for balancing
            reweighters.

        sample_weight : array-like of shape (n_samples,), default=None
            Incoming non-negative weights; ``None`` means all ones.

        Returns
        -------
        self : object
            Fitted reweighter.
        """
        X, y = self._validate_input(X, y)
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        if not np.any(sample_weight > 0):
            raise ValueError(
                "sample_weight is zero for every row; at least one row needs a "
                "positive weight."
            )
        weights = np.asarray(self._fit_reweight(X, y, sample_weight), dtype=np.float64)
        self.weights_ = self._check_weights(weights, X.shape[0])
        return self

    def _check_weights(self, weights, n_samples):
        name = type(self).__name__
        if weights.shape != (n_samples,):
            raise ValueError(
                f"{name} produced weights of shape {weights.shape}; expected "
                f"({n_samples},)."
            )
        if not np.all(np.isfinite(weights)):
            raise ValueError(f"{name} produced non-finite weights.")
        if np.any(weights < 0):
            raise ValueError(f"{name} produced negative weights.")
        return weights

    @abstractmethod
    def _fit_reweight(self, X, y, sample_weight):
        """Return the weights of the validated training rows."""

    def _check_fitted(self):
        check_is_fitted(self, "weights_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self._requires_y
        tags.input_tags.sparse = bool(self._validation_params.get("accept_sparse"))
        tags.input_tags.allow_nan = (
            self._validation_params.get("ensure_all_finite", True) is not True
        )
        return tags
