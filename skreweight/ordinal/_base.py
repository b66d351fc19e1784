"""Shared machinery of the cumulative-logit classifiers.

Sign convention used everywhere in :mod:`skreweight.ordinal`: with the labels
coded ``0..K-1`` in ``classes_`` order, the boundary scores are
``eta_k = intercept_[k] + x @ coef_[k]`` and ``P(y > classes_[k] | x) =
expit(eta_k)``.
"""

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import isotonic_regression
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from skreweight.utils._sklearn_fixes import _check_sample_weight, validate_data

__all__ = []


def _log_expit_and_expit_neg(u):
    """Return ``(log expit(u), expit(-u))`` stably, sharing one exponential.

    Twice as fast as :func:`scipy.special.log_expit` and
    :func:`scipy.special.expit` separately, which dominate the loss.
    """
    e = np.exp(-np.abs(u))
    log_s = np.minimum(u, 0.0) - np.log1p(e)
    return log_s, np.where(u >= 0, e, 1.0) / (1.0 + e)


class _CumulativeLogitLoss:
    """Weighted mean negative log-likelihood as a function of the scores.

    Parameters
    ----------
    codes : ndarray of shape (n_samples,)
        Class codes in ``0..n_classes-1``, **sorted** (rows grouped by class,
        so that every class is a contiguous slice).
    weights : ndarray of shape (n_samples,)
        Positive weights summing to one.
    n_classes : int
        Number of classes ``K``.
    """

    def __init__(self, codes, weights, n_classes):
        self.K = n_classes
        bounds = np.searchsorted(codes, np.arange(n_classes + 1))
        self.slices = [slice(bounds[c], bounds[c + 1]) for c in range(n_classes)]
        self.w = [weights[sl] for sl in self.slices]

    def loss(self, eta):
        """Return ``(f, G)``: the loss and its gradient in ``eta``.

        ``f`` is ``+inf`` (and ``G`` is None) when the probability of some
        row's own class is not positive (its two boundaries cross or touch).
        Crossings of the other boundaries of a row do not enter its
        likelihood: constraining them too (ordinalNet's rule) puts the
        solution on the boundary of the domain on data that is not ordinal,
        where no first-order method converges.
        """
        K = self.K
        G = np.zeros_like(eta)
        f = 0.0
        for c, (sl, w) in enumerate(zip(self.slices, self.w)):
            if w.size == 0:
                continue
            if c == 0:
                log_s, s = _log_expit_and_expit_neg(-eta[sl, 0])
                f -= np.dot(w, log_s)
                G[sl, 0] = w * s
            elif c == K - 1:
                log_s, s = _log_expit_and_expit_neg(eta[sl, K - 2])
                f -= np.dot(w, log_s)
                G[sl, K - 2] = -w * s
            else:
                u, v = eta[sl, c - 1], eta[sl, c]
                delta = u - v
                if not np.all(delta > 0):
                    return np.inf, None
                gap = -np.expm1(-delta)
                log_su, s_u = _log_expit_and_expit_neg(u)
                log_sv, s_v = _log_expit_and_expit_neg(-v)
                f -= np.dot(w, log_su + log_sv + np.log(gap))
                inv = np.exp(-delta) / gap
                G[sl, c - 1] = -w * (s_u + inv)
                G[sl, c] = w * (s_v + inv)
        if not np.isfinite(f):
            return np.inf, None
        return f, G


def _class_probabilities(eta):
    """Class probabilities from non-crossing boundary scores, computed stably.

    ``P(y = c) = expit(u) * expit(-v) * (1 - exp(-(u - v)))`` with
    ``u = eta_{c-1}`` (``+inf`` for the first class) and ``v = eta_c``
    (``-inf`` for the last class).
    """
    n = eta.shape[0]
    U = np.hstack([np.full((n, 1), np.inf), eta])
    V = np.hstack([eta, np.full((n, 1), -np.inf)])
    with np.errstate(invalid="ignore"):
        gap = -np.expm1(-(U - V))
    return expit(U) * expit(-V) * gap


def _intercept_only(codes, weights, n_classes):
    """Intercepts of the intercept-only model: ``log(W_{>k} / W_{<=k})``."""
    totals = np.bincount(codes, weights=weights, minlength=n_classes)
    below = np.cumsum(totals)[:-1]
    above = totals.sum() - below
    return np.log(above) - np.log(below)


def _weighted_scale(X, weights, standardize):
    """Weighted mean and population standard deviation (zero SD -> 1)."""
    n_features = X.shape[1]
    if not standardize:
        return np.zeros(n_features), np.ones(n_features)
    mean = weights @ X
    var = weights @ (X - mean) ** 2
    scale = np.sqrt(var)
    tiny = 1e3 * np.finfo(float).eps * np.maximum(np.abs(mean), 1.0)
    scale[scale <= tiny] = 1.0
    return mean, scale


class _StandardisedProblem:
    """Positive-weight rows of a fit, standardised, with their loss."""

    def __init__(self, X, codes, sample_weight, n_classes, standardize):
        # Drop zero-weight rows and group the rows by class (the loss works on
        # one contiguous slice per class).
        order = np.argsort(codes, kind="stable")
        order = order[sample_weight[order] > 0]
        X, codes, sample_weight = X[order], codes[order], sample_weight[order]
        w = sample_weight / sample_weight.sum()
        self.mean, self.scale = _weighted_scale(X, w, standardize)
        # Stored transposed: products with a C-contiguous (p, n) array stay
        # fast under BLAS thread contention (both X.T @ G and W @ X.T).
        self.XT = np.ascontiguousarray(((X - self.mean) / self.scale).T)
        self.loss = _CumulativeLogitLoss(codes, w, n_classes)
        self.K = n_classes
        self.n_features = X.shape[1]
        self.a0 = _intercept_only(codes, w, n_classes)

    def unscale(self, intercept, W):
        """Map standardised (intercept, slopes) to the original X scale."""
        coef = W / self.scale
        return intercept - coef @ self.mean, coef


def _check_no_sparse(X):
    if hasattr(X, "toarray") or hasattr(X, "tocsr"):
        raise TypeError(
            "Sparse input X is not supported by the ordinal classifiers; "
            "convert it with X.toarray()."
        )


def _check_ordered_categorical(y):
    """Reject an ordered pandas Categorical whose order is not the sorted one."""
    cat = getattr(y, "cat", None)
    dtype = getattr(y, "dtype", None)
    if cat is None and getattr(dtype, "name", None) != "category":
        return
    ordered = getattr(dtype, "ordered", False)
    if not ordered:
        return
    categories = list(dtype.categories)
    if categories != sorted(categories):
        raise ValueError(
            "y is an ordered Categorical whose category order "
            f"{categories} differs from the sorted order; the ordinal "
            "classifiers use the sorted labels as the ordinal order. Recode y "
            "(e.g. with y.cat.codes) so that sorting gives the intended order."
        )


def _has_two_classes(estimator):
    # Unfitted: not available, so that callers probing with hasattr before fit
    # (e.g. scikit-learn's checks) do not expect it on a multi-class fit.
    return len(getattr(estimator, "classes_", ())) == 2


class _BaseCumulativeLogit(ClassifierMixin, BaseEstimator):
    """Prediction methods shared by the cumulative-logit classifiers."""

    _crossing_default = "isotonic"

    def _validate_fit_data(self, X, y, sample_weight):
        """Validate, encode the classes and check each has positive weight."""
        _check_no_sparse(X)
        _check_ordered_categorical(y)
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=False)
        check_classification_targets(y)
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        classes, codes = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y; got 1 "
                f"class: {classes.tolist()}."
            )
        totals = np.bincount(codes, weights=sample_weight, minlength=classes.size)
        empty = classes[totals <= 0]
        if empty.size:
            raise ValueError(
                f"Every class needs a positive total sample_weight; class "
                f"{empty.tolist()} has none. Drop the class from y or give its "
                "rows positive weight."
            )
        self.classes_ = classes
        return X, codes, sample_weight

    def boundary_scores(self, X):
        """Raw boundary scores ``intercept_ + X @ coef_.T``, never repaired.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes - 1)
            Column ``k`` is the log-odds of ``y > classes_[k]``. A row
            *crosses* when it is not non-increasing.
        """
        check_is_fitted(self, "coef_")
        _check_no_sparse(X)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return X @ self.coef_.T + self.intercept_

    def _cumulative_and_proba(self, X):
        eta = self.boundary_scores(X)
        cum = expit(-eta)
        if eta.shape[1] < 2:
            return cum, _class_probabilities(eta)
        crossing = np.any(eta[:, 1:] > eta[:, :-1], axis=1)
        proba = np.empty((eta.shape[0], eta.shape[1] + 1))
        proba[~crossing] = _class_probabilities(eta[~crossing])
        if np.any(crossing):
            policy = getattr(self, "crossing", self._crossing_default)
            if policy == "raise":
                raise ValueError(
                    f"{int(crossing.sum())} of {crossing.size} rows have crossing "
                    "cumulative probabilities; set crossing='isotonic' or 'sort' "
                    "to repair them, or inspect boundary_scores(X)."
                )
            bad = cum[crossing]
            if policy == "sort":
                bad = np.sort(bad, axis=1)
            else:
                bad = np.vstack([isotonic_regression(row) for row in bad])
            cum[crossing] = bad
            n_bad = bad.shape[0]
            edges = np.hstack([np.zeros((n_bad, 1)), bad, np.ones((n_bad, 1))])
            proba[crossing] = np.clip(np.diff(edges, axis=1), 0.0, 1.0)
        return cum, proba

    def predict_cumulative_proba(self, X):
        """Cumulative class probabilities ``P(y <= classes_[k] | x)``.

        Rows whose boundary scores cross are repaired by the ``crossing``
        policy, so every row is non-decreasing and lies in ``[0, 1]``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        cumulative_proba : ndarray of shape (n_samples, n_classes - 1)
            Column ``k`` is ``P(y <= classes_[k] | x)``.
        """
        return self._cumulative_and_proba(X)[0]

    def predict_proba(self, X):
        """Class probabilities, columns in ``classes_`` order.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Non-negative probabilities whose rows sum to one.
        """
        return self._cumulative_and_proba(X)[1]

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))``; ``-inf`` where a repaired row has an
            exact zero.
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Most probable class of every row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            ``classes_[argmax(predict_proba(X))]``.
        """
        check_is_fitted(self, "coef_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    @available_if(_has_two_classes)
    def decision_function(self, X):
        """Compute the log-odds of the second class; only for two classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``intercept_[0] + X @ coef_[0]``, as ``LogisticRegression``.
        """
        return self.boundary_scores(X)[:, 0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True
        tags.input_tags.sparse = False
        return tags
