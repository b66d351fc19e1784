"""Entropy balancing: exact moment (and kernel-feature) balance by the dual."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy.linalg import qr
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from skreweight.utils._sklearn_fixes import (
    HasMethods,
    Interval,
    StrOptions,
    validate_data,
)
from skreweight.weighting._base import _BalancingReweighter
from skreweight.weighting._dual import balance_is_feasible, solve_entropy_dual
from skreweight.weighting._utils import (
    ESTIMANDS,
    GAMMA_CONSTRAINT,
    KERNEL_CONSTRAINT,
    cap_and_normalize,
    check_groups_have_mass,
    group_problems,
    groups_for_new_rows,
    kernel_features,
    resolve_gamma,
    weighted_standardizer,
)

__all__ = ["EntropyBalancing"]

# Rows per block when the balance features are built.
_FEATURE_BLOCK = 16384


class _BalanceFeatures:
    """The balance features ``c(x)``: standardised moments + kernel features.

    Fitted on the pooled rows; columns are scaled to unit pooled SD and
    exactly collinear moment columns are dropped.
    """

    def __init__(self, moments, features, kernel, gamma, n_components, linear, seed):
        self.moments = moments
        self.features = features
        self.kernel = kernel
        self.gamma = gamma
        self.n_components = n_components
        self.linear = linear
        self.seed = seed

    def fit_transform(self, X, s):
        self.mean_, self.scale_ = weighted_standardizer(X, s)
        Z = (X - self.mean_) / self.scale_
        self.gamma_ = None
        self.map_ = None
        if self.features is not None:
            positive = s > 0
            if isinstance(self.features, str):
                self.gamma_ = resolve_gamma(
                    self.gamma, self.kernel, Z[positive], self.seed
                )
                self.map_ = kernel_features(
                    self.features,
                    self.kernel,
                    self.gamma_,
                    self.n_components,
                    Z[positive],
                    self.seed,
                )
            else:
                self.map_ = clone(self.features).fit(Z[positive])
        # Build the feature matrix in row blocks into one preallocated array,
        # so that memory stays at one copy of it (plus a block).
        C = None
        total = s.sum()
        centre = None
        for start in range(0, Z.shape[0], _FEATURE_BLOCK):
            block = self._block(Z[start : start + _FEATURE_BLOCK])
            if C is None:
                C = np.empty((Z.shape[0], block.shape[1]))
                centre = np.zeros(block.shape[1])
            stop = start + block.shape[0]
            C[start:stop] = block
            centre += s[start:stop] @ block
        if C is None:  # no rows: validation prevents it; keep shapes right
            C = self._block(Z)
            centre = np.zeros(C.shape[1])
        centre /= total
        var = np.zeros(C.shape[1])
        for start in range(0, C.shape[0], _FEATURE_BLOCK):
            stop = start + _FEATURE_BLOCK
            var += s[start:stop] @ (C[start:stop] - centre) ** 2
        sd = np.sqrt(var / total)
        n_moment = self._n_moment_columns(X.shape[1])
        self.is_kernel_ = np.arange(C.shape[1]) >= n_moment
        keep = sd > 1e-10 * (1 + np.abs(centre))
        # Rank-revealing QR on the moment block only (kernel blocks are
        # full rank by construction, and QR of n x r is costly for large n).
        moment_cols = np.flatnonzero(keep & ~self.is_kernel_)
        if moment_cols.size > 1:
            block = (C[:, moment_cols] - centre[moment_cols]) / sd[moment_cols]
            block = block * np.sqrt(s / total)[:, None]
            _, R, piv = qr(block, mode="economic", pivoting=True)
            diag = np.abs(np.diag(R))
            rank = int(np.sum(diag > 1e-9 * diag[0]))
            keep[moment_cols[piv[rank:]]] = False
        self.n_columns_ = C.shape[1]
        self.keep_ = keep
        self.col_scale_ = np.where(keep, sd, 1.0)[keep]
        self.is_kernel_ = self.is_kernel_[keep]
        if not keep.all():
            C = C[:, keep]
        for start in range(0, C.shape[0], _FEATURE_BLOCK):
            C[start : start + _FEATURE_BLOCK] /= self.col_scale_
        return C

    def _n_moment_columns(self, n_features):
        if not self.linear:
            return 0
        return n_features * (2 if self.moments == 2 else 1)

    def _block(self, Z):
        """Unscaled balance features of the standardised rows ``Z``."""
        blocks = [self._moments(Z)] if self.linear else []
        if self.map_ is not None:
            blocks.append(np.asarray(self.map_.transform(Z), dtype=np.float64))
        if not blocks:
            return np.zeros((Z.shape[0], 0))
        return np.hstack(blocks) if len(blocks) > 1 else np.asarray(blocks[0])

    def _moments(self, Z):
        return np.hstack([Z, Z**2]) if self.moments == 2 else Z

    def transform(self, X):
        Z = (X - self.mean_) / self.scale_
        blocks = [self._moments(Z)] if self.linear else []
        if self.map_ is not None:
            blocks.append(np.asarray(self.map_.transform(Z), dtype=np.float64))
        C = np.hstack(blocks) if blocks else np.zeros((X.shape[0], 0))
        return C[:, self.keep_] / self.col_scale_

    def column_names(self, feature_names):
        names = [str(f) for f in feature_names] if self.linear else []
        if self.linear and self.moments == 2:
            names += [f"{f}^2" for f in feature_names]
        if self.map_ is not None:
            names += [f"kernel_{j}" for j in range(self.n_columns_ - len(names))]
        return np.asarray(names, dtype=object)


class EntropyBalancing(_BalancingReweighter):
    """Entropy balancing: the closest weights to uniform with exact balance.

    Among all weights of the reweighted rows, entropy balancing picks the ones
    closest to the incoming ``sample_weight`` in Kullback-Leibler divergence
    such that the weighted means of the balance features equal their target
    means exactly. The balance features are the standardised covariates
    (``moments=1``), optionally with their squares (``moments=2``), and
    optionally low-rank kernel features (``features="nystroem"`` or
    ``"rff"``), which balance a kernel mean embedding approximately. The
    problem is solved by its convex dual, which has one variable per feature.

    ``estimand`` says which rows are reweighted to look like which:
    ``"ATT"``, the t=0 rows to the t=1 rows (t=1 weights stay
    ``sample_weight``); ``"ATC"``, the t=1 rows to the t=0 rows (covariate
    shift: source t=1, target t=0); ``"ATE"``, each group to the whole sample
    (missing data / MNAR ratings: use the t=1 weights). Each reweighted
    group's weights sum to its total ``sample_weight``.

    Read more in the :ref:`User Guide <weighting>`.

    Parameters
    ----------
    estimand : {"ATT", "ATC", "ATE"}, default="ATT"
        Which rows are reweighted to look like which (see above).

    moments : {1, 2}, default=1
        Balance the means (1) or the means and the second moments (2) of the
        standardised covariates.

    features : {"nystroem", "rff"} or transformer, default=None
        Extra kernel features, fitted on the pooled standardised rows:
        Nystroem or random Fourier features of ``kernel``, or any transformer
        with ``fit`` and ``transform``. ``None``: moments only.

    kernel : str or callable, default="rbf"
        Kernel of the ``"nystroem"`` features (a name in
        ``sklearn.metrics.pairwise.PAIRWISE_KERNEL_FUNCTIONS`` or a callable);
        ``"rff"`` needs ``"rbf"``.

    gamma : "median" or float, default="median"
        Kernel width; ``"median"`` is ``1 / median ||z - z'||^2`` over a
        seeded subsample of 1000 pooled standardised rows.

    n_components : int, default=300
        Number of kernel features.

    include_linear : bool, default=True
        Whether the moment block is balanced along with the kernel features.
        Kernel features alone under-balance linear tails.

    alpha : "auto" or float, default="auto"
        Dual L2 penalty: the balance of feature ``j`` is traded off against the
        divergence with weight ``1 / (2 alpha)``. ``"auto"``: 0 (exact balance)
        on the moment block and 1e-3 on the kernel features. A float applies
        to every column; use ``alpha > 0`` when exact balance is infeasible.

    max_weight : float, default=None
        Cap on a row's weight as a multiple of its ``sample_weight``
        (the group's mean weight is 1). Capped rows are fixed and the rest
        re-balanced, at most 10 rounds. ``None``: no cap.

    tol : float, default=1e-6
        Stop when every balance condition holds to ``tol`` (in units of the
        feature's pooled standard deviation).

    max_iter : int, default=1000
        Maximum number of dual iterations.

    random_state : int, RandomState instance or None, default=None
        Seed of the kernel features and of the ``"median"`` subsample.

    Attributes
    ----------
    weights_ : ndarray of shape (n_samples,)
        Weight of every training row (``sample_weight`` included).

    dual_coef_ : dict
        Dual solution of each reweighted group (keyed by group value 0 or
        1), one entry per balance feature in scaled units.

    converged_ : bool
        Whether every dual solve met ``tol``.

    n_iter_ : int
        Largest number of dual iterations over the reweighted groups.

    imbalance_ : float
        Largest absolute standardised difference between a weighted mean and
        its target, over features and groups, after weighting.

    gamma_ : float or None
        Kernel width used (``None`` without kernel features).

    dropped_features_ : ndarray of str
        Balance features dropped as constant or exactly collinear.

    effective_sample_size_ : dict
        Kish effective sample size of each group's weights.

    groups_ : ndarray of shape (2,)
        The two values of ``y``; the second is the group t=1.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    PropensityWeights : Inverse propensity weights from a classifier.
    KernelMeanMatching : Weights that minimise the kernel MMD.
    KernelBalancing : Entropy weights that balance chosen kernel sections.

    Notes
    -----
    With exact balance, the weights are a log-linear model of the
    propensity odds, ``w(x) ∝ exp(lambda^T c(x))``, which
    :meth:`compute_weights` evaluates on new rows. If the target means lie
    outside the convex hull of the reweighted rows, no weights balance them:
    ``fit`` raises a ``ValueError`` (checked by a linear program when the dual
    diverges). A dual that stops before ``tol`` is met emits a
    ``ConvergenceWarning`` and sets ``converged_=False``.

    For large samples use ``features="nystroem"``: the cost is linear in the
    number of rows (one million rows with 300 features in well under a
    minute). The features are built in row blocks, and the dual is solved by
    a damped Newton method: for many features its Hessian is a blocked
    float32 product, on very many rows estimated from a seeded row subsample
    and warm-started from the solution on a subsample (the gradient, and so
    the balance reached, stays exact in float64).

    References
    ----------
    .. [1] J. Hainmueller, "Entropy balancing for causal effects",
       Political Analysis 20(1), 2012.
    .. [2] Q. Zhao and D. Percival, "Entropy balancing is doubly robust",
       Journal of Causal Inference 5(1), 2017.
    .. [3] C. Hazlett, "Kernel balancing", Statistica Sinica 30, 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.weighting import EntropyBalancing
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3))
    >>> t = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    >>> w = EntropyBalancing(estimand="ATT").fit_reweight(X, t)
    >>> target = X[t == 1].mean(axis=0)
    >>> balanced = np.average(X[t == 0], axis=0, weights=w[t == 0])
    >>> bool(np.allclose(balanced, target, atol=1e-8))
    True
    """

    _parameter_constraints: dict = {
        "estimand": [StrOptions(set(ESTIMANDS))],
        "moments": [Interval(Integral, 1, 2, closed="both")],
        "features": [
            StrOptions({"nystroem", "rff"}),
            HasMethods(["fit", "transform"]),
            None,
        ],
        "kernel": KERNEL_CONSTRAINT,
        "gamma": GAMMA_CONSTRAINT,
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "include_linear": ["boolean"],
        "alpha": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "max_weight": [Interval(Real, 1, None, closed="neither"), None],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimand="ATT",
        moments=1,
        features=None,
        kernel="rbf",
        gamma="median",
        n_components=300,
        include_linear=True,
        alpha="auto",
        max_weight=None,
        tol=1e-6,
        max_iter=1000,
        random_state=None,
    ):
        self.estimand = estimand
        self.moments = moments
        self.features = features
        self.kernel = kernel
        self.gamma = gamma
        self.n_components = n_components
        self.include_linear = include_linear
        self.alpha = alpha
        self.max_weight = max_weight
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state

    def _fit_reweight(self, X, t, s):
        name = type(self).__name__
        check_groups_have_mass(t, s, name)
        if not self.include_linear and self.features is None:
            raise ValueError(
                "include_linear=False needs features='nystroem', 'rff' or a "
                "transformer; otherwise nothing is balanced."
            )
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        self.features_ = _BalanceFeatures(
            self.moments,
            self.features,
            self.kernel,
            self.gamma,
            self.n_components,
            self.include_linear,
            seed,
        )
        C = self.features_.fit_transform(X, s)
        self.gamma_ = self.features_.gamma_
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            names = np.array([f"x{j}" for j in range(X.shape[1])], dtype=object)
        all_names = self.features_.column_names(names)
        self.dropped_features_ = all_names[~self.features_.keep_]
        if self.alpha == "auto":
            alpha = np.where(self.features_.is_kernel_, 1e-3, 0.0)
        else:
            alpha = np.full(C.shape[1], float(self.alpha))
        # alpha is given for unscaled columns; the dual works on scaled ones.
        alpha = alpha / self.features_.col_scale_**2
        self._alpha_scaled = alpha

        weights = s.copy()
        self.dual_coef_, self.target_mean_, self._log_norm = {}, {}, {}
        self.converged_, self.n_iter_, self.imbalance_ = True, 0, 0.0
        self.effective_sample_size_ = {}
        for group, source, target in group_problems(t, self.estimand):
            rows = source & (s > 0)
            st = np.where(target, s, 0.0)
            mu = st @ C / st.sum()
            Cg = C[rows]
            Cg -= mu
            w, lam, log_norm = self._solve_group(Cg, s[rows], alpha, group)
            weights[source] = 0.0
            weights[rows] = w
            self.dual_coef_[group] = lam
            self.target_mean_[group] = mu
            self._log_norm[group] = log_norm
        for group in (0, 1):
            w = weights[t == group]
            self.effective_sample_size_[group] = float(w.sum() ** 2 / (w @ w))
        return weights

    def _solve_group(self, Cg, s, alpha, group):
        total = s.sum()
        res = solve_entropy_dual(
            Cg, s, alpha=alpha, tol=self.tol, max_iter=self.max_iter
        )
        self.n_iter_ = max(self.n_iter_, res.n_iter)
        exact = alpha == 0
        if not res.converged and exact.any():
            if not balance_is_feasible(Cg, soft=~exact):
                raise ValueError(
                    f"{type(self).__name__}: exact balance is infeasible for the "
                    f"reweighted group t={group}: the target means lie outside "
                    "the convex hull of its rows. Use alpha > 0 (approximate "
                    "balance), moments=1, fewer features, or check the "
                    "overlap of the groups."
                )
        lam = res.lam
        # log of sum_G s exp(lam^T c) / S: weights_i = s_i exp(lam^T c_i - log_norm)
        log_norm = logsumexp(Cg @ lam, b=s) - np.log(total)
        w = total * res.p
        converged = res.converged
        if self.max_weight is not None:
            w, converged, capped_ok = self._cap(Cg, s, alpha, w, converged)
            if not capped_ok:
                self.converged_ = False
                converged = True  # already warned about the cap
        imbalance = (w @ Cg) / total
        worst = float(np.max(np.abs(imbalance[exact]), initial=0.0))
        self.imbalance_ = max(self.imbalance_, worst)
        if not converged:
            if exact.any():
                state = f"largest standardised imbalance {worst:.3g}"
                advice = "Increase max_iter, use alpha > 0 or fewer moments."
            else:
                # Every feature is soft (alpha > 0): no exact constraint to
                # report, only the penalised dual's optimality.
                state = "penalised dual not optimal"
                advice = "Increase max_iter or alpha, or use fewer moments."
            warnings.warn(
                f"{type(self).__name__} did not reach tol={self.tol} for group "
                f"t={group} ({state}) in max_iter={self.max_iter} iterations. "
                + advice,
                ConvergenceWarning,
            )
            self.converged_ = False
        return w, lam, log_norm

    def _cap(self, Cg, s, alpha, w, converged):
        """Fix rows above ``max_weight * s`` and re-balance the rest."""
        total = s.sum()
        cap = self.max_weight * s
        fixed = np.zeros(len(s), dtype=bool)
        for _ in range(10):
            over = (~fixed) & (w > cap * (1 + 1e-12))
            if not over.any():
                break
            fixed |= over
            w[fixed] = cap[fixed]
            free_mass = total - cap[fixed].sum()
            if free_mass <= 0:
                raise ValueError(
                    "max_weight is too small: the capped rows alone exceed the "
                    "group's total sample_weight. Increase max_weight."
                )
            # The free rows must carry the remaining balance.
            target = -(cap[fixed] @ Cg[fixed]) / free_mass
            res = solve_entropy_dual(
                Cg[~fixed] - target,
                s[~fixed],
                alpha=alpha,
                tol=self.tol,
                max_iter=self.max_iter,
            )
            if not res.converged:
                break  # the capped problem is infeasible: stop re-balancing
            w[~fixed] = free_mass * res.p
        w = cap_and_normalize(w, cap, total)
        exact = alpha == 0
        if np.max(np.abs((w @ Cg)[exact] / total), initial=0.0) > self.tol:
            warnings.warn(
                f"max_weight={self.max_weight} costs balance: the capped weights "
                "no longer balance every feature to tol. Increase max_weight.",
                ConvergenceWarning,
            )
            return w, converged, False
        return w, converged, True

    def compute_weights(self, X, y=None):
        """Evaluate the fitted log-linear weight function on new rows.

        The weight of a row of a reweighted group is
        ``exp(lambda^T (c(x) - mu) - log_norm)``, normalised so that the
        training weights equal ``sample_weight * compute_weights(X_train)``
        (without ``max_weight`` capping). Rows of a group that is not
        reweighted get 1.

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
        check_is_fitted(self, "dual_coef_")
        X = validate_data(self, X, reset=False)
        t = groups_for_new_rows(self, y, X.shape[0])
        C = self.features_.transform(X)
        out = np.ones(X.shape[0])
        for group, lam in self.dual_coef_.items():
            rows = t == group
            eta = (C[rows] - self.target_mean_[group]) @ lam - self._log_norm[group]
            out[rows] = np.exp(eta)
        return out
