"""Kernel-balanced propensity weights (Li et al., ICLR 2024), convex form."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from skreweight.utils._sklearn_fixes import (
    HasMethods,
    Interval,
    StrOptions,
    validate_data,
)
from skreweight.weighting._base import _BalancingReweighter
from skreweight.weighting._dual import solve_entropy_dual
from skreweight.weighting._entropy import _BalanceFeatures
from skreweight.weighting._kernel_balancing_sgd import fit_sgd
from skreweight.weighting._utils import (
    ESTIMANDS,
    GAMMA_CONSTRAINT,
    KERNEL_CONSTRAINT,
    check_groups_have_mass,
    device_matvec,
    group_problems,
    groups_for_new_rows,
    kernel_fn,
    kernel_row_means,
    resolve_gamma,
)

__all__ = ["KernelBalancing"]


class _GroupModel:
    """Fitted weight function of one reweighted group."""


class KernelBalancing(_BalancingReweighter):
    """Kernel-balanced weights: entropy weights that balance kernel sections.

    The weights of the reweighted rows are the closest (in Kullback-Leibler
    divergence) to base weights ``q`` (``sample_weight`` times
    ``base_weights``' weights, e.g. inverse propensities) such that the
    standardised covariate means balance exactly (``include_linear``) and the
    kernel witness function

    ``Delta(z) = sum_G w_i k(x_i, z) / sum_G w_i - sum_T s_j k(x_j, z) / sum_T s_j``

    is within ``imbalance_tol`` of zero at a set of centres ``z``. Balancing
    the sections ``k(., z)`` of a universal kernel balances every function of
    its reproducing kernel Hilbert space in the limit, which makes weighted
    (IPS) and doubly robust losses unbiased (Li et al. 2024). Centres are
    added ``n_centers`` at a time over ``n_rounds`` rounds, from
    ``n_candidates`` target rows:

    - ``centers="random"`` (RKB): uniformly at random;
    - ``centers="worst"`` (WKB): the candidates with the largest
      coefficients ``|eps|`` of the current witness, ``eps = (K_cc + ridge
      I)^-1 Delta_c``, the closed-form maximiser of the paper's worst-case
      ratio;
    - ``centers="adaptive"`` (AKB): the candidates with the largest
      coefficients of a ridge projection of ``residual`` (a loss for
      AKBIPS, a loss minus an imputed loss for AKBDR) on the kernel
      sections.

    ``estimand`` says which rows are reweighted to look like which:
    ``"ATT"``, the t=0 rows to the t=1 rows (t=1 weights stay
    ``sample_weight``); ``"ATC"``, the t=1 rows to the t=0 rows (covariate
    shift: source t=1, target t=0); ``"ATE"``, each group to the whole sample
    (MNAR ratings: the observed rows t=1 to all user-item pairs; use the t=1
    weights).

    Read more in the :ref:`User Guide <weighting>`.

    Parameters
    ----------
    estimand : {"ATT", "ATC", "ATE"}, default="ATT"
        Which rows are reweighted to look like which (see above).

    centers : {"random", "worst", "adaptive"}, default="worst"
        How the centres of each round are chosen (see above). ``"adaptive"``
        needs ``residual`` in :meth:`fit`.

    n_centers : int, default=3
        Centres added per round (``J`` in the paper).

    n_rounds : int, default=10
        Number of rounds.

    n_candidates : int, default=500
        Number of target rows, drawn with ``random_state``, that centres are
        chosen from.

    kernel : str or callable, default="rbf"
        Kernel name in ``sklearn.metrics.pairwise.PAIRWISE_KERNEL_FUNCTIONS``
        or a callable, evaluated on the pooled standardised rows.

    gamma : "median" or float, default="median"
        Kernel width; ``"median"`` is ``1 / median ||z - z'||^2`` over a
        seeded subsample of 1000 pooled standardised rows.

    imbalance_tol : float, default=1e-4
        Allowed ``|Delta(z)|`` at every active centre (``C`` in the paper).

    include_linear : bool, default=True
        Whether the standardised covariate means are balanced exactly too.

    base_weights : reweighter, default=None
        Reweighter (with ``fit_reweight`` and, for :meth:`compute_weights`,
        ``compute_weights``) whose weights are the base measure, e.g.
        :class:`PropensityWeights`. ``None``: ``sample_weight``.

    ridge : float, default=1e-3
        Ridge of the ``"worst"`` and ``"adaptive"`` projections.

    tol : float, default=1e-6
        Tolerance of the dual solver (standardised units).

    max_iter : int, default=1000
        Maximum number of dual iterations per round; with ``solver="sgd"``,
        the number of Adam steps.

    solver : {"dual", "sgd"}, default="dual"
        ``"dual"``: the convex problem above, solved exactly by its entropy
        dual with centres added over rounds (deterministic). ``"sgd"``: the
        paper's stochastic mode (needs PyTorch): the log-linear weight model
        on the covariates and the sections at every candidate is trained by
        minibatch Adam on ``KL(p || q) + balance_penalty * sum_j [|Delta(z_j)|
        - imbalance_tol]_+`` (plus the same hinge on the covariate means),
        with one hinge per centre and ``n_centers`` centres chosen afresh for
        every batch by the ``centers`` rule; ``n_rounds`` and ``ridge`` are
        not used. Balance then holds only approximately.

    balance_penalty : float, default=1.0
        Weight of the balance hinges with ``solver="sgd"``.

    batch_size : int, default=2048
        Rows per Adam step with ``solver="sgd"``.

    learning_rate : float, default=1e-3
        Adam's step size with ``solver="sgd"``. The paper's 0.05 suits its
        low-dimensional propensity model; with one coefficient per
        candidate, larger steps make the weights degenerate.

    random_state : int, RandomState instance or None, default=None
        Seed of the candidates, of ``"random"`` centres and of the
        ``"median"`` subsample.

    device : str, torch.device or None, default=None
        ``None`` computes the kernel with numpy. A torch device (``"cpu"``,
        ``"cuda"``, ``"auto"``...) computes the candidates' kernel means over
        the target rows (the part that grows with the number of rows) with
        :func:`skreweight.torch.kernel_matvec` in chunks: float64 on the
        CPU, float32 on accelerators. Needs PyTorch (``pip install
        "skreweight[torch]"``) and ``kernel`` in ``{"rbf", "laplacian",
        "linear"}``. With ``solver="sgd"``, the training runs on it too.

    Attributes
    ----------
    weights_ : ndarray of shape (n_samples,)
        Weight of every training row (``sample_weight`` included).

    base_weights_ : reweighter or None
        The fitted clone of ``base_weights``.

    centers_ : dict
        Active centres (rows of ``X``) of each reweighted group (keyed by
        group value 0 or 1), of shape (n_active, n_features); with
        ``solver="sgd"``, every candidate (each has a coefficient).

    center_indices_ : dict
        Row indices in the training ``X`` of the active centres of each
        group.

    dual_coef_ : dict
        Dual coefficients of each group: the linear block, then one per
        active centre (standardised units).

    imbalance_ : float
        Largest ``|Delta(z)|`` over the active centres and groups.

    max_candidate_imbalance_ : float
        Largest ``|Delta(z)|`` over all candidates and groups.

    converged_ : bool
        Whether the first (linear) dual solve of every group met ``tol``.
        Later rounds keep only centres whose solve converged. Always
        ``True`` with ``solver="sgd"`` (a fixed number of steps).

    n_iter_ : int
        Total number of dual iterations (all rounds and groups), or of Adam
        steps with ``solver="sgd"``.

    n_rejected_centers_ : int
        Proposed centres that could not be balanced to ``imbalance_tol``
        with strictly positive weights; they were skipped.

    gamma_ : float or None
        Kernel width used (``None`` for a callable kernel).

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
    EntropyBalancing : Balance fixed moments or kernel features.
    KernelMeanMatching : Minimise the whole kernel MMD instead.
    dr_estimate : Doubly robust estimators with these weights (KBDR/AKBDR).

    Notes
    -----
    This is the convex, deterministic form of the paper's method: each round
    solves ``min KL(p || q)`` subject to the box ``|Delta(z_j)| <=
    imbalance_tol`` through its dual, ``min log sum_G q exp(lambda^T c) +
    imbalance_tol ||lambda_kernel||_1``, with one hinge per centre (the
    official code sums the imbalances under one hinge, so opposite signs
    cancel). The weights are a log-linear model of the base weights and
    extend to new rows through :meth:`compute_weights`.

    References
    ----------
    .. [1] H. Li, C. Zheng, W. Wang, H. Wang, F. Feng and X.-H. Zhou,
       "Debiased Collaborative Filtering with Kernel-Based Causal Balancing",
       ICLR 2024.
    .. [2] C. Hazlett, "Kernel balancing", Statistica Sinica 30, 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.weighting import KernelBalancing
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2))
    >>> t = (X[:, 0] ** 2 + rng.normal(size=300) > 1).astype(int)
    >>> kb = KernelBalancing(n_rounds=3, random_state=0).fit(X, t)
    >>> bool(kb.imbalance_ <= 1e-4 * (1 + 1e-3))
    True
    >>> kb.center_indices_[0].shape
    (9,)
    """

    _parameter_constraints: dict = {
        "estimand": [StrOptions(set(ESTIMANDS))],
        "centers": [StrOptions({"random", "worst", "adaptive"})],
        "n_centers": [Interval(Integral, 1, None, closed="left")],
        "n_rounds": [Interval(Integral, 0, None, closed="left")],
        "n_candidates": [Interval(Integral, 1, None, closed="left")],
        "kernel": KERNEL_CONSTRAINT,
        "gamma": GAMMA_CONSTRAINT,
        "imbalance_tol": [Interval(Real, 0, None, closed="neither")],
        "include_linear": ["boolean"],
        "base_weights": [HasMethods(["fit_reweight"]), None],
        "ridge": [Interval(Real, 0, None, closed="neither")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "device": [None, str, object],  # object: a torch.device
        "solver": [StrOptions({"dual", "sgd"})],
        "balance_penalty": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        estimand="ATT",
        centers="worst",
        n_centers=3,
        n_rounds=10,
        n_candidates=500,
        kernel="rbf",
        gamma="median",
        imbalance_tol=1e-4,
        include_linear=True,
        base_weights=None,
        ridge=1e-3,
        tol=1e-6,
        max_iter=1000,
        solver="dual",
        balance_penalty=1.0,
        batch_size=2048,
        learning_rate=1e-3,
        random_state=None,
        device=None,
    ):
        self.estimand = estimand
        self.centers = centers
        self.n_centers = n_centers
        self.n_rounds = n_rounds
        self.n_candidates = n_candidates
        self.kernel = kernel
        self.gamma = gamma
        self.imbalance_tol = imbalance_tol
        self.include_linear = include_linear
        self.base_weights = base_weights
        self.ridge = ridge
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.device = device
        self.solver = solver
        self.balance_penalty = balance_penalty
        self.batch_size = batch_size
        self.learning_rate = learning_rate

    def fit(self, X, y=None, sample_weight=None, residual=None):
        """Fit the weights and store them in ``weights_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows.

        y : array-like of shape (n_samples,)
            Binary group indicator ``t``.

        sample_weight : array-like of shape (n_samples,), default=None
            Incoming non-negative weights; ``None`` means all ones.

        residual : array-like of shape (n_samples,), default=None
            Per-row loss (AKBIPS) or loss minus imputed loss (AKBDR) that
            ``centers="adaptive"`` projects on the kernel sections. Only the
            rows of reweighted groups are used; NaN marks unknown values (a
            group with no known residual falls back to ``"worst"``).
            Required by ``centers="adaptive"``, ignored otherwise.

        Returns
        -------
        self : object
            Fitted reweighter.
        """
        if self.centers == "adaptive" and residual is None:
            raise ValueError(
                "KernelBalancing(centers='adaptive') needs residual= in fit: the "
                "per-row loss (AKBIPS) or loss minus imputed loss (AKBDR)."
            )
        if residual is not None:
            residual = check_array(
                residual,
                ensure_2d=False,
                dtype=np.float64,
                ensure_all_finite=False,
                input_name="residual",
            )
        self._residual = residual
        try:
            return super().fit(X, y, sample_weight=sample_weight)
        finally:
            del self._residual

    def _fit_reweight(self, X, t, s):
        check_groups_have_mass(t, s, type(self).__name__)
        residual = self._residual
        if residual is not None and residual.shape != (X.shape[0],):
            raise ValueError(
                f"residual must have shape ({X.shape[0]},); got {residual.shape}."
            )
        rng = check_random_state(self.random_state)
        seed = rng.randint(np.iinfo(np.int32).max)
        if self.base_weights is not None:
            self.base_weights_ = clone(self.base_weights)
            base = np.asarray(
                self.base_weights_.fit_reweight(X, t, sample_weight=s), dtype=float
            )
            if base.shape != s.shape or not np.all(np.isfinite(base) & (base >= 0)):
                raise ValueError(
                    "base_weights returned invalid weights (not finite, "
                    "negative or of the wrong shape)."
                )
        else:
            self.base_weights_ = None
            base = s
        self.features_ = _BalanceFeatures(1, None, None, None, 0, True, seed)
        linear = (
            self.features_.fit_transform(X, s)
            if self.include_linear
            else np.zeros((X.shape[0], 0))
        )
        Z = (X - self.features_.mean_) / self.features_.scale_
        self._Z_scale = (self.features_.mean_, self.features_.scale_)
        self.gamma_ = resolve_gamma(self.gamma, self.kernel, Z[s > 0], seed)
        kfun = kernel_fn(self.kernel, self.gamma_)
        matvec = device_matvec(self.kernel, self.gamma_, self.device, "KernelBalancing")

        weights = s.copy()
        self._models = {}
        self.centers_, self.center_indices_, self.dual_coef_ = {}, {}, {}
        self.converged_, self.n_iter_ = True, 0
        self.imbalance_, self.max_candidate_imbalance_ = 0.0, 0.0
        self.n_rejected_centers_ = 0
        for group, source, target in group_problems(t, self.estimand):
            rows = source & (base > 0)
            if not rows.any():
                raise ValueError(
                    f"base_weights gave zero weight to every row of group t={group}."
                )
            with threadpool_limits(1, user_api="blas"):
                w = self._fit_group(
                    X,
                    Z,
                    linear,
                    kfun,
                    s,
                    base,
                    rows,
                    target,
                    residual,
                    group,
                    rng,
                    matvec,
                )
            weights[source] = 0.0
            weights[rows] = w
        self.effective_sample_size_ = {}
        for group in (0, 1):
            w = weights[t == group]
            self.effective_sample_size_[group] = float(w.sum() ** 2 / (w @ w))
        return weights

    def _fit_group(
        self, X, Z, linear, kfun, s, base, rows, target, residual, group, rng, matvec
    ):
        total = s[rows].sum()
        q = base[rows]
        st = s[target]
        target_idx = np.flatnonzero(target & (s > 0))
        n_cand = min(self.n_candidates, target_idx.size)
        cand = np.sort(rng.choice(target_idx, n_cand, replace=False))
        Zc = Z[cand]
        Zg = Z[rows]
        K_gc = kfun(Zg, Zc)
        kappa = kernel_row_means(kfun, Zc, Z[target], st, matvec=matvec)
        sections = K_gc - kappa  # witness columns, centred at the target
        qn = q / q.sum()
        section_sd = np.sqrt(qn @ (sections - qn @ sections) ** 2)
        section_sd = np.where(section_sd > 1e-12, section_sd, 1.0)
        lin_mu = st @ linear[target] / st.sum()
        lin = linear[rows] - lin_mu
        r = None
        rule = self.centers
        if rule == "adaptive":
            r_all = residual[rows]
            known = np.isfinite(r_all)
            if not known.any():
                rule = "worst"
            else:
                r = (r_all, known)
        if self.solver == "sgd":
            p, lam = fit_sgd(
                lin,
                sections,
                section_sd,
                q,
                r,
                rule,
                self.n_centers,
                self.imbalance_tol,
                self.balance_penalty,
                self.max_iter,
                self.batch_size,
                self.learning_rate,
                rng,
                self.device,
            )
            self.n_iter_ += self.max_iter
            cols = np.arange(n_cand)  # every candidate is a feature of the model
            delta = np.abs(p @ sections)
            self.imbalance_ = max(self.imbalance_, float(delta.max()))
            self.max_candidate_imbalance_ = self.imbalance_
        else:
            p, lam, cols = self._fit_group_dual(
                lin, sections, section_sd, q, r, rule, kfun, Zc, K_gc, qn, rng, group
            )
        idx = cand[cols]
        self.centers_[group] = X[idx]
        self.center_indices_[group] = idx
        self.dual_coef_[group] = lam
        C = np.hstack([lin, sections[:, cols] / section_sd[cols]])
        model = _GroupModel()
        model.lin_mu, model.kappa, model.sd = lin_mu, kappa[cols], section_sd[cols]
        model.Zc, model.lam = Zc[cols], lam
        model.log_norm = logsumexp(C @ lam, b=q) - np.log(q.sum())
        # weights_ = s * omega0 * exp(eta - log_norm) * total / sum(q)
        model.scale = total / q.sum()
        self._models[group] = model
        return total * p

    def _fit_group_dual(
        self, lin, sections, section_sd, q, r, rule, kfun, Zc, K_gc, qn, rng, group
    ):
        """Entropy dual with centres added over rounds; ``(p, lam, cols)``."""
        n_lin, n_cand = lin.shape[1], sections.shape[1]
        K_cc = None
        if rule == "worst":
            K_cc = cho_factor(kfun(Zc, Zc) + self.ridge * np.eye(n_cand))

        active = []
        lam = np.zeros(n_lin)
        tol = min(self.tol, 1e-3 * self.imbalance_tol)
        res = solve_entropy_dual(lin, q, tol=self.tol, max_iter=self.max_iter)
        self.n_iter_ += res.n_iter
        converged = res.converged
        linear_gap = float(np.max(np.abs(res.imbalance), initial=0.0))
        p = res.p
        lam = res.lam
        rejected = []
        for _ in range(self.n_rounds):
            delta = p @ sections
            inactive = np.setdiff1d(np.arange(n_cand), active + rejected)
            if inactive.size == 0:
                break
            score = self._center_scores(rule, delta, K_cc, K_gc, qn, r, rng, inactive)
            take = min(self.n_centers, inactive.size)
            new = inactive[np.argsort(-score[inactive], kind="stable")[:take]]
            cols = np.asarray(active + new.tolist())
            C = np.hstack([lin, sections[:, cols] / section_sd[cols]])
            l1 = np.concatenate(
                [np.zeros(n_lin), self.imbalance_tol / section_sd[cols]]
            )
            lam0 = np.concatenate([lam, np.zeros(C.shape[1] - len(lam))])
            res = solve_entropy_dual(
                C, q, l1=l1, lam0=lam0, tol=tol, max_iter=self.max_iter, fallback=False
            )
            self.n_iter_ += res.n_iter
            if not res.converged:
                # These centres cannot be balanced to imbalance_tol together
                # with the others (no strictly positive weights do it): keep
                # the previous solution and never propose them again.
                rejected.extend(new.tolist())
                continue
            active = cols.tolist()
            p, lam = res.p, res.lam
        self.n_rejected_centers_ += len(rejected)
        delta = p @ sections
        cols = np.asarray(active, dtype=int)
        worst_active = float(np.max(np.abs(delta[cols]), initial=0.0))
        self.imbalance_ = max(self.imbalance_, worst_active)
        self.max_candidate_imbalance_ = max(
            self.max_candidate_imbalance_, float(np.max(np.abs(delta)))
        )
        if not converged:
            warnings.warn(
                f"KernelBalancing: the linear balance of group t={group} did not "
                f"reach tol={self.tol} in max_iter={self.max_iter} iterations "
                f"(largest standardised imbalance {linear_gap:.3g}); the means "
                "may be infeasible to balance. Use include_linear=False or "
                "check the overlap of the groups.",
                ConvergenceWarning,
            )
            self.converged_ = False
        return p, lam, cols

    def _center_scores(self, rule, delta, K_cc, K_gc, qn, r, rng, inactive):
        if rule == "random":
            score = np.full(delta.shape, -np.inf)
            score[inactive] = rng.random(inactive.size)
            return score
        if rule == "worst":
            return np.abs(cho_solve(K_cc, delta))
        values, known = r
        A = K_gc[known]
        wq = qn[known] * known.sum() / qn[known].sum()
        gram = A.T @ (A * wq[:, None])
        eps = np.linalg.solve(
            gram + self.ridge * known.sum() * np.eye(gram.shape[0]),
            A.T @ (wq * values[known]),
        )
        return np.abs(eps)

    def compute_weights(self, X, y=None):
        """Evaluate the fitted weight function on new rows.

        The weight of a row of a reweighted group is ``w0(x) * exp(lambda^T
        c(x) - log_norm)``, where ``c(x)`` holds the standardised covariates
        and the kernel sections at the active centres, and ``w0`` is
        ``base_weights_.compute_weights`` (1 without base weights). It is
        normalised so that the training weights equal ``sample_weight *
        compute_weights(X_train)``. Rows of a group that is not reweighted
        get 1.

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
        if self.base_weights_ is not None:
            if not hasattr(self.base_weights_, "compute_weights"):
                raise AttributeError(
                    f"{type(self.base_weights_).__name__} has no compute_weights, "
                    "so these weights do not extend to new rows."
                )
            labels = self.groups_[t]
            base = np.asarray(self.base_weights_.compute_weights(X, labels))
        else:
            base = np.ones(X.shape[0])
        mean, scale = self._Z_scale
        Z = (X - mean) / scale
        lin_all = (
            self.features_.transform(X)
            if self.include_linear
            else np.zeros((X.shape[0], 0))
        )
        out = np.ones(X.shape[0])
        kfun = kernel_fn(self.kernel, self.gamma_)
        for group, model in self._models.items():
            rows = t == group
            if not rows.any():
                continue
            lin = lin_all[rows] - model.lin_mu
            if model.Zc.shape[0]:
                sec = (kfun(Z[rows], model.Zc) - model.kappa) / model.sd
            else:
                sec = np.zeros((rows.sum(), 0))
            eta = np.hstack([lin, sec]) @ model.lam - model.log_norm
            out[rows] = base[rows] * np.exp(eta) * model.scale
        return out
