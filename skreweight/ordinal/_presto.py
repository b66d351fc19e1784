"""PRESTO: cumulative logit with L1-fused boundary slopes (Faletto & Bien, 2023)."""

from numbers import Integral, Real

import numpy as np
from threadpoolctl import threadpool_limits

from skreweight.ordinal._base import _BaseCumulativeLogit, _StandardisedProblem
from skreweight.ordinal._proportional_odds import _fit_proportional_odds
from skreweight.ordinal._solver import _PrestoObjective, _screened_fista
from skreweight.utils._sklearn_fixes import Interval, StrOptions, _fit_context

__all__ = ["PRESTO"]


def _path_start(objective, penalize_first, tol, max_iter):
    """Point that is optimal at ``alpha_max``: intercept-only or PO MLE."""
    theta = objective.start()
    if not penalize_first:
        a, w, _, _ = _fit_proportional_odds(objective.problem, 0.0, tol, max_iter)
        theta = theta.copy()
        theta[: objective.K - 1] = a
        theta[objective.K - 1 : objective.K - 1 + objective.p] = w
    return theta


# The products with the data are thin (K - 1 columns) and memory-bound:
# threaded BLAS only adds synchronisation, which is very costly on a busy
# machine and under process-level parallelism (a 5-fold path was 3x slower).
@threadpool_limits.wrap(limits=1, user_api="blas")
def _presto_path(
    X,
    codes,
    sample_weight,
    n_classes,
    alphas,
    *,
    penalize_first,
    standardize,
    l1_ratio=1.0,
    tol=1e-8,
    max_iter=10_000,
    theta=None,
    path_tol=None,
    loose_last=False,
    path_start=False,
):
    """Fit PRESTO along decreasing ``alphas`` with warm starts.

    Returns a list of ``(intercept, coef, n_iter)`` on the scale of ``X``, the
    list of standardised solutions ``theta`` and the ``_PrestoObjective``.
    Without ``theta``, start from the intercept-only model, or from the
    solution at ``alpha_max`` when ``path_start`` (see ``_path_start``). With
    ``path_tol``, every alpha but the last (every alpha, if ``loose_last``) is
    only solved to ``max(tol, path_tol)``. Each alpha is solved on a working
    set of features chosen by the sequential strong rule and grown until the
    KKT conditions hold on all features (see ``_screened_fista``).
    """
    problem = _StandardisedProblem(X, codes, sample_weight, n_classes, standardize)
    objective = _PrestoObjective(problem, penalize_first, l1_ratio)
    if theta is None and path_start:
        theta = _path_start(objective, penalize_first, tol, 1000)
    if theta is None or objective.problem.loss.loss(objective.eta(theta))[1] is None:
        theta = objective.start()
    lipschitz = 1.0
    results = []
    thetas = []
    previous = None
    for i, alpha in enumerate(alphas):
        loose = path_tol is not None and (loose_last or i < len(alphas) - 1)
        theta, lipschitz, n_iter = _screened_fista(
            objective,
            alpha,
            previous,
            theta,
            lipschitz=lipschitz,
            tol=max(tol, path_tol) if loose else tol,
            max_iter=max_iter,
        )
        previous = alpha
        a, psi = objective.split(theta)
        intercept, coef = problem.unscale(a, np.cumsum(psi, axis=0))
        results.append((intercept, coef, n_iter))
        thetas.append(theta)
    return results, thetas, objective


class PRESTO(_BaseCumulativeLogit):
    """PRESTO: ordinal regression whose slopes are fused towards proportional odds.

    A cumulative-logit model with one slope vector per class boundary,

        logit P(y > classes_[k] | x) = intercept_[k] + x @ coef_[k],

    fitted by penalised maximum likelihood with an L1 penalty on the
    differences of consecutive slope vectors (and, by default, on the first
    one). Large ``alpha`` shrinks towards the proportional-odds model (with
    ``penalize_first=False``) or the intercept-only model; ``alpha=0`` is the
    non-parallel cumulative-logit MLE. Borrowing strength from the common
    classes gives much better probabilities of a rare last class than a
    logistic regression of that class against the rest.

    Read more in the :ref:`User Guide <ordinal>`.

    Parameters
    ----------
    alpha : float, default=0.01
        Penalty strength ``lambda`` on the scale of the weighted mean negative
        log-likelihood (the scale of the authors' ordinalNet code).

    penalize_first : bool, default=True
        Penalise the first slope vector as well as the differences (the
        authors' final code). With ``False`` the fit shrinks towards the
        proportional-odds MLE and is equivariant to reversing the label order.

    standardize : bool, default=True
        Fit on features standardised with the weighted mean and population
        standard deviation; the attributes are on the scale of ``X``.

    crossing : {"isotonic", "sort", "raise"}, default="isotonic"
        What to do at prediction time with a row whose cumulative
        probabilities cross: ``"isotonic"``
        projects them on non-decreasing sequences (pool adjacent
        violators), ``"sort"`` rearranges them, ``"raise"`` raises a
        ``ValueError``.

    l1_ratio : float, default=1.0
        Mix of the penalty: ``l1_ratio * ||.||_1 + 0.5 * (1 - l1_ratio) *
        ||.||_2^2`` on the same blocks (``l1_ratio < 1`` is the paper's
        PRESTO-L2 family).

    tol : float, default=1e-8
        Tolerance on the KKT residual of the solution.

    max_iter : int, default=10_000
        Maximum number of FISTA iterations.

    warm_start : bool, default=False
        Start from the previous solution when refitting on data with the same
        shape and classes.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels: the ordinal order.

    coef_ : ndarray of shape (n_classes - 1, n_features)
        Slopes of the boundaries; positive values push mass upwards.

    intercept_ : ndarray of shape (n_classes - 1,)
        Intercepts of the boundaries.

    n_iter_ : int
        Number of solver iterations (FISTA plus L-BFGS-B polishing).

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    PRESTOCV : PRESTO with ``alpha`` chosen by cross-validation.
    ProportionalOdds : The limit of one shared slope vector.
    sklearn.linear_model.LogisticRegression : The two-class special case.

    Notes
    -----
    The objective, on standardised features, is the weighted mean negative
    log-likelihood plus ``alpha * (c * ||w_1||_1 + sum_k ||w_k - w_{k-1}||_1)``
    with ``c = 1`` when ``penalize_first``. Writing ``psi_1 = w_1`` and
    ``psi_k = w_k - w_{k-1}`` turns it into a lasso, solved by FISTA with
    backtracking and adaptive restart until the KKT residual is below
    ``tol``, polishing on the support by L-BFGS-B once the signs of ``psi``
    are stable. Points where a training row's own class gets a non-positive
    probability are outside the domain; other boundaries of a row may cross
    (constraining them puts the solution on the edge of the domain for data
    that is not ordinal, where the KKT conditions cannot be met), and any
    crossing row is repaired at prediction time by the ``crossing`` policy.

    Sign convention: the paper and ordinalNet write ``P(y <= k) =
    expit(alpha_k + x @ beta_k)``, so ``intercept_ = -alpha`` and ``coef_ =
    -beta``. With two classes and ``alpha=0`` the model is logistic regression.

    References
    ----------
    .. [1] G. Faletto and J. Bien, "Predicting Rare Events by Shrinking Towards
       Proportional Odds", ICML 2023, PMLR 202:9547-9602.
    .. [2] A. Beck and M. Teboulle, "A Fast Iterative Shrinkage-Thresholding
       Algorithm for Linear Inverse Problems", SIAM J. Imaging Sciences, 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.ordinal import PRESTO
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 3))
    >>> latent = X @ [1.0, -1.0, 0.0] + rng.logistic(size=400)
    >>> y = np.digitize(latent, [-1.0, 1.0, 3.0])
    >>> clf = PRESTO(alpha=0.01).fit(X, y)
    >>> clf.coef_.shape
    (3, 3)
    >>> proba = clf.predict_proba(X)
    >>> bool(np.all(proba >= 0)), np.allclose(proba.sum(axis=1), 1)
    (True, True)
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "penalize_first": ["boolean"],
        "standardize": ["boolean"],
        "crossing": [StrOptions({"isotonic", "sort", "raise"})],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        alpha=0.01,
        *,
        penalize_first=True,
        standardize=True,
        crossing="isotonic",
        l1_ratio=1.0,
        tol=1e-8,
        max_iter=10_000,
        warm_start=False,
    ):
        self.alpha = alpha
        self.penalize_first = penalize_first
        self.standardize = standardize
        self.crossing = crossing
        self.l1_ratio = l1_ratio
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit PRESTO at the penalty ``alpha``.

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
        previous = getattr(self, "_theta", None) if self.warm_start else None
        previous_classes = getattr(self, "classes_", None)
        X, codes, sample_weight = self._validate_fit_data(X, y, sample_weight)
        K = self.classes_.size
        theta = None
        if (
            previous is not None
            and previous_classes is not None
            and np.array_equal(previous_classes, self.classes_)
            and previous.size == (K - 1) * (X.shape[1] + 1)
        ):
            theta = previous
        results, thetas, _ = _presto_path(
            X,
            codes,
            sample_weight,
            K,
            [self.alpha],
            penalize_first=self.penalize_first,
            standardize=self.standardize,
            l1_ratio=self.l1_ratio,
            tol=self.tol,
            max_iter=self.max_iter,
            theta=theta,
        )
        self.intercept_, self.coef_, self.n_iter_ = results[-1]
        self._theta = thetas[-1]
        return self
