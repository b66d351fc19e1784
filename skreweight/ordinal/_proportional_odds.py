"""Proportional-odds (cumulative logit) model fitted by exact maximum likelihood."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skreweight.ordinal._base import _BaseCumulativeLogit, _StandardisedProblem
from skreweight.utils._sklearn_fixes import Interval, _fit_context

__all__ = ["ProportionalOdds"]


def _fit_proportional_odds(problem, alpha, tol, max_iter):
    """Penalised PO MLE on a standardised problem.

    Returns ``(intercept, w, n_iter, converged)`` on the standardised scale.
    The intercepts are ``a_0 - cumsum(exp(d))`` so they stay strictly
    decreasing (the parameterisation statsmodels also uses).
    """
    K, p = problem.K, problem.n_features
    XT, loss = problem.XT, problem.loss
    a_start = problem.a0

    def unpack(theta):
        a = np.empty(K - 1)
        a[0] = theta[0]
        if K > 2:
            a[1:] = theta[0] - np.cumsum(np.exp(theta[1 : K - 1]))
        return a, theta[K - 1 :]

    def fun(theta):
        a, w = unpack(theta)
        eta = a + (w @ XT)[:, None]
        f, G = loss.loss(eta)
        if G is None:  # cannot happen for parallel boundaries; be safe
            return np.inf, np.zeros_like(theta)
        grad = np.empty_like(theta)
        grad_a = G.sum(axis=0)
        grad[0] = grad_a.sum()
        if K > 2:
            grad[1 : K - 1] = (
                -np.exp(theta[1 : K - 1]) * np.cumsum(grad_a[::-1])[::-1][1:]
            )
        grad[K - 1 :] = XT @ G.sum(axis=1)
        if alpha:
            f = f + 0.5 * alpha * (w @ w)
            grad[K - 1 :] += alpha * w
        return f, grad

    theta0 = np.concatenate([[a_start[0]], np.log(-np.diff(a_start)), np.zeros(p)])
    with threadpool_limits(limits=1, user_api="blas"):
        res = minimize(
            fun,
            theta0,
            jac=True,
            method="L-BFGS-B",
            options={
                "maxiter": max_iter,
                "gtol": tol,
                "ftol": 64 * np.finfo(float).eps,
                "maxls": 50,
            },
        )
    a, w = unpack(res.x)
    return a, w, int(res.nit), bool(res.success)


class ProportionalOdds(_BaseCumulativeLogit):
    """Proportional-odds (cumulative logit) classifier for ordered labels.

    The labels, sorted, are taken as the ordinal order ``classes_[0] <
    classes_[1] < ...``. The model has one slope vector shared by all
    ``K - 1`` class boundaries and decreasing intercepts::

        logit P(y > classes_[k] | x) = intercept_[k] + x @ coef_[k],

    with every row of ``coef_`` equal. It is fitted by exact (weighted)
    maximum likelihood with analytic gradients and L-BFGS-B, optionally with a
    ridge penalty ``0.5 * alpha * ||w||^2`` on the standardised slopes.

    Read more in the :ref:`User Guide <ordinal>`.

    Parameters
    ----------
    alpha : float, default=0.0
        Ridge strength on the standardised slopes, on the scale of the mean
        negative log-likelihood; ``0`` gives the maximum-likelihood estimate.

    standardize : bool, default=True
        Fit on features standardised with the weighted mean and population
        standard deviation (the penalty then acts on standardised slopes);
        the attributes are always on the scale of ``X``.

    tol : float, default=1e-8
        Gradient tolerance of L-BFGS-B (``gtol``).

    max_iter : int, default=1000
        Maximum number of L-BFGS-B iterations.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels: the ordinal order.

    coef_ : ndarray of shape (n_classes - 1, n_features)
        Slopes; all rows are equal. Positive values push mass to higher
        classes.

    intercept_ : ndarray of shape (n_classes - 1,)
        Strictly decreasing intercepts of the boundaries.

    n_iter_ : int
        Number of L-BFGS-B iterations.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    PRESTO : One slope vector per boundary, fused towards proportional odds.
    PRESTOCV : PRESTO with its penalty chosen by cross-validation.
    sklearn.linear_model.LogisticRegression : The two-class special case.

    Notes
    -----
    Sign convention: statsmodels ``OrderedModel(distr="logit")`` and
    ``MASS::polr`` write ``P(y <= k) = expit(theta_k - x @ beta)``; then
    ``coef_[k] = beta`` and ``intercept_ = -theta``. With two classes the model
    is logistic regression and ``coef_``/``intercept_`` equal
    ``LogisticRegression``'s.

    Without a penalty the maximum-likelihood estimate does not exist when the
    classes are separable; the fit then stops with a ``ConvergenceWarning``.

    References
    ----------
    .. [1] P. McCullagh, "Regression models for ordinal data", Journal of the
       Royal Statistical Society B, 42(2), 109-142, 1980.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.ordinal import ProportionalOdds
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2))
    >>> latent = X @ [1.0, -2.0] + rng.logistic(size=300)
    >>> y = np.digitize(latent, [-1.0, 1.0])
    >>> clf = ProportionalOdds().fit(X, y)
    >>> clf.coef_.shape, clf.intercept_.shape
    ((2, 2), (2,))
    >>> clf.predict_proba(X[:2]).sum(axis=1)
    array([1., 1.])
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "standardize": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, alpha=0.0, *, standardize=True, tol=1e-8, max_iter=1000):
        self.alpha = alpha
        self.standardize = standardize
        self.tol = tol
        self.max_iter = max_iter

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model by (penalised) maximum likelihood.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows; finite values.

        y : array-like of shape (n_samples,)
            Ordered labels; their sorted order is the ordinal order.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights; integer weights equal repeated rows.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        X, codes, sample_weight = self._validate_fit_data(X, y, sample_weight)
        K = self.classes_.size
        problem = _StandardisedProblem(X, codes, sample_weight, K, self.standardize)
        a, w, n_iter, converged = _fit_proportional_odds(
            problem, self.alpha, self.tol, self.max_iter
        )
        if not converged:
            warnings.warn(
                "ProportionalOdds did not converge (the classes may be "
                "separable, in which case the maximum-likelihood estimate does "
                "not exist); increase max_iter or set alpha > 0.",
                ConvergenceWarning,
            )
        self.intercept_, self.coef_ = problem.unscale(a, np.tile(w, (K - 1, 1)))
        self.n_iter_ = n_iter
        return self

    def _expected_failed_checks(self):
        if self.alpha == 0:
            return {
                "check_sample_weight_equivalence_on_dense_data": (
                    "with alpha=0 the check's data (15 rows, 30 features) are "
                    "separable: the maximum-likelihood estimate does not exist, "
                    "so the two fits may stop at different points."
                ),
            }
        return {}
