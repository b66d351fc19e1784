"""Kernel mean matching: weights that minimise the kernel MMD to the target."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from skreweight.utils._sklearn_fixes import Interval, StrOptions
from skreweight.weighting._base import _BalancingReweighter
from skreweight.weighting._utils import (
    BLOCK_ROWS,
    ESTIMANDS,
    GAMMA_CONSTRAINT,
    KERNEL_CONSTRAINT,
    cap_and_normalize,
    check_groups_have_mass,
    group_problems,
    kernel_features,
    kernel_fn,
    kernel_row_means,
    resolve_gamma,
    weighted_standardizer,
)

__all__ = ["KernelMeanMatching"]

# The exact kernel matrix is kept in memory up to this size; beyond it, the
# FISTA solver recomputes kernel blocks of BLOCK_ROWS rows at every product.
_KERNEL_MEMORY_BYTES = 512 * 2**20
_CLARABEL_MAX_ROWS = 3000
_WARN_EXACT_ROWS = 20_000
_MMD_TARGET_ROWS = 20_000


class _KernelOperator:
    """``v -> K v`` on the reweighted rows: dense, chunked or low-rank.

    The dense form keeps ``K`` in float64 and a float32 copy. Products use
    the float32 copy on the difference to a reference vector whose exact
    product is refreshed every ``refresh`` calls: ``K v = K v_ref +
    K (v - v_ref)``. Near convergence ``v - v_ref`` is small, so the float32
    rounding is negligible while the memory traffic per product halves.
    """

    def __init__(self, kfun=None, Z=None, features=None, refresh=100):
        self.features = features
        self.kfun = kfun
        self.Z = Z
        self.dense = None
        self.refresh = refresh
        self._calls = 0
        self._ref = None
        if features is None and 8 * Z.shape[0] ** 2 <= _KERNEL_MEMORY_BYTES:
            self.dense = kfun(Z, Z)
            self.dense32 = self.dense.astype(np.float32)

    def matvec(self, v):
        if self.features is not None:
            return self.features @ (self.features.T @ v)
        if self.dense is not None:
            if self._ref is None or self._calls % self.refresh == 0:
                self._ref = v.copy()
                self._ref_product = self.dense @ v
                self._calls += 1
                return self._ref_product.copy()
            self._calls += 1
            diff = (v - self._ref).astype(np.float32)
            return self._ref_product + (self.dense32 @ diff).astype(np.float64)
        return self.exact_matvec(v)

    def exact_matvec(self, v):
        if self.features is not None:
            return self.features @ (self.features.T @ v)
        if self.dense is not None:
            return self.dense @ v
        out = np.empty(self.Z.shape[0])
        for start in range(0, self.Z.shape[0], BLOCK_ROWS):
            stop = start + BLOCK_ROWS
            out[start:stop] = self.kfun(self.Z[start:stop], self.Z) @ v
        return out

    def max_eigenvalue(self, random_state, centred=False):
        """Largest eigenvalue of ``K``, or of ``P K P`` with ``P`` the centring
        projection when ``centred``, by Lanczos iterations."""
        n = self.features.shape[0] if self.features is not None else self.Z.shape[0]
        if n <= 2:
            return float(np.abs(self.exact_matvec(np.ones(n))).sum()) + 1e-12

        def product(v):
            v = np.ravel(v)
            if centred:
                v = v - v.mean()
            u = self.exact_matvec(v)
            return u - u.mean() if centred else u

        rng = check_random_state(random_state)
        operator = LinearOperator((n, n), matvec=product, dtype=np.float64)
        value = eigsh(
            operator,
            k=1,
            which="LA",
            tol=1e-4,
            v0=rng.random(n) + 0.5,
            return_eigenvectors=False,
        )[0]
        return float(max(value, 1e-12)) * 1.01


def _project(y, upper, low, high):
    """Project onto ``{0 <= x <= upper, low <= sum(x) <= high}``.

    The sum constraint, when active, is met by a shift ``tau`` found by
    Newton's method on the piecewise-linear ``sum(clip(y - tau, 0, upper))``,
    safeguarded by bisection.
    """
    x = np.clip(y, 0.0, upper)
    total = x.sum()
    if low <= total <= high:
        return x
    goal = high if total > high else low
    lo, hi = float(np.min(y - upper)), float(np.max(y))
    tau = 0.0
    for _ in range(100):
        x = np.clip(y - tau, 0.0, upper)
        excess = x.sum() - goal
        if abs(excess) <= 1e-14 * goal:
            return x
        if excess > 0:
            lo = tau
        else:
            hi = tau
        slope = np.count_nonzero((x > 0) & (x < upper))
        step = tau + excess / slope if slope else 0.5 * (lo + hi)
        tau = step if lo < step < hi else 0.5 * (lo + hi)
        if hi - lo <= 1e-16 * (1 + abs(tau)):
            break
    return np.clip(y - tau, 0.0, upper)


def _fista(
    operator, kappa, base, ridge, upper, eps, tol, max_iter, random_state, offset=0.0
):
    """Accelerated projected gradient (FISTA) with adaptive restart.

    Minimises ``u^T K u - 2 kappa^T u + ridge * sum((u - base)^2 / base)``
    over ``{0 <= u <= upper, |sum(u) - 1| <= eps}`` in two phases. The
    kernel's top eigenvector is close to the constant vector, whose
    component the sum constraint pins down; so phase 1 (step ``1 / L`` with
    ``L = 2 lambda_max(K)``) only locates the optimal total weight, and
    phase 2 fixes the total there and steps with the much smaller curvature
    of ``K`` on sum-zero directions. Stops when the objective decreased by
    less than ``tol`` per iteration over the last 100 iterations, relative
    to the objective plus ``offset`` (the squared MMD when ``offset`` is the
    target term).
    """
    ridge_max = np.max(2.0 * ridge / base) if ridge > 0 else 0.0
    with threadpool_limits(1, user_api="blas"):
        l_full = 2.0 * operator.max_eigenvalue(random_state) + ridge_max
        phase1 = min(max_iter, 300)
        x, converged, n1 = _fista_loop(
            operator,
            kappa,
            base,
            ridge,
            upper,
            (1 - eps, 1 + eps),
            base,
            l_full,
            tol,
            phase1,
            offset,
        )
        if n1 >= max_iter or (converged and n1 < phase1):
            return x, converged, n1
        l_perp = 2.0 * operator.max_eigenvalue(random_state, centred=True) + ridge_max
        n2, total = 0, x.sum()
        for _ in range(4):
            x, converged, n = _fista_loop(
                operator,
                kappa,
                base,
                ridge,
                upper,
                (total, total),
                x,
                min(l_perp, l_full),
                tol,
                max_iter - n1 - n2,
                offset,
            )
            n2 += n
            # The best total for the current shape x / sum(x): minimise
            # s^2 a - 2 s b over s in [1 - eps, 1 + eps].
            shape = x / x.sum()
            best = (kappa @ shape) / max(shape @ operator.exact_matvec(shape), 1e-300)
            best = float(np.clip(best, 1 - eps, 1 + eps))
            if abs(best - total) <= 1e-6 or n1 + n2 >= max_iter:
                break
            x, total = _project(x * best / total, upper, best, best), best
    return x, converged, n1 + n2


def _fista_loop(
    operator,
    kappa,
    base,
    ridge,
    upper,
    sum_range,
    start,
    lipschitz,
    tol,
    max_iter,
    offset,
):
    ridge_diag = 2.0 * ridge / base if ridge > 0 else 0.0
    low, high = sum_range

    def objective(u, Ku):
        value = u @ Ku - 2.0 * kappa @ u
        if ridge > 0:
            value += ridge * np.sum((u - base) ** 2 / base)
        return value

    x = _project(start, upper, low, high)
    y, momentum = x.copy(), 1.0
    converged = False
    window, history = 100, []
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        Ky = operator.matvec(y)
        g = 2.0 * (Ky - kappa)
        if ridge > 0:
            g += ridge_diag * (y - base)
        x_new = _project(y - g / lipschitz, upper, low, high)
        step = x_new - x
        # Adaptive restart (O'Donoghue and Candes): drop momentum when the
        # step goes against the generalised gradient.
        if (y - x_new) @ step > 0:
            momentum = 1.0
            y = x_new
        else:
            next_momentum = 0.5 * (1 + np.sqrt(1 + 4 * momentum**2))
            y = x_new + ((momentum - 1) / next_momentum) * step
            momentum = next_momentum
        x = x_new
        if n_iter % window == 0:
            history.append(objective(x, operator.exact_matvec(x)))
            if len(history) >= 2:
                scale = max(abs(history[-1] + offset), 1e-300)
                decrease = (history[-2] - history[-1]) / scale
                if decrease <= tol * window:
                    converged = True
                    break
    return x, converged, n_iter


def _solve_cvxpy(K, kappa, base, ridge, upper, eps, solver):
    try:
        import cvxpy as cp
    except ImportError as exc:  # pragma: no cover - cvxpy is an optional extra
        raise ImportError(
            "KernelMeanMatching(solver='clarabel') needs cvxpy; install it with "
            'pip install "skreweight[cvx]", or use solver="fista".'
        ) from exc
    n = len(kappa)
    u = cp.Variable(n)
    if isinstance(K, tuple):  # low-rank: K = Phi Phi^T, kappa = Phi mu
        Phi, mu = K
        quad = cp.sum_squares(Phi.T @ u - mu) - mu @ mu
        lin = 0
    else:
        quad = cp.quad_form(u, cp.psd_wrap(K + 1e-8 * np.eye(n)))
        lin = -2 * kappa @ u
    objective = quad + lin
    if ridge > 0:
        objective = objective + ridge * cp.sum(
            cp.multiply(1.0 / base, cp.square(u - base))
        )
    constraints = [u >= 0, u <= upper, cp.sum(u) <= 1 + eps, cp.sum(u) >= 1 - eps]
    problem = cp.Problem(cp.Minimize(objective), constraints)
    try:
        problem.solve(solver=solver)
    except cp.error.SolverError as exc:
        raise RuntimeError(
            f"KernelMeanMatching: the {solver} solver failed ({exc}). Try "
            "solver='fista' or a positive ridge."
        ) from exc
    if problem.status not in ("optimal", "optimal_inaccurate") or u.value is None:
        raise RuntimeError(
            f"KernelMeanMatching: the {solver} solver returned status "
            f"{problem.status!r}. Try solver='fista' or a positive ridge."
        )
    return np.asarray(u.value, dtype=float), problem.status == "optimal", None


class KernelMeanMatching(_BalancingReweighter):
    """Kernel mean matching: weights that minimise the kernel MMD.

    Finds the weights of the reweighted rows whose weighted kernel mean
    embedding is closest to the target rows' embedding, i.e. the weights that
    minimise the maximum mean discrepancy (MMD) in the reproducing kernel
    Hilbert space of ``kernel`` (Huang et al. 2007). With ``S`` the total
    ``sample_weight`` of the reweighted rows and ``v`` their weights, it
    solves the quadratic program

    ``min (1/S^2) v^T K v - (2/S) kappa^T v + (ridge/S) sum (v_i - s_i)^2 / s_i``

    subject to ``0 <= v_i <= max_weight * s_i`` and
    ``|sum v - S| <= eps * S``, where ``kappa_i`` is the mean kernel between
    row ``i`` and the target rows. The weights are then renormalised to sum to
    ``S``.

    ``estimand`` says which rows are reweighted to look like which:
    ``"ATT"``, the t=0 rows to the t=1 rows (t=1 weights stay
    ``sample_weight``); ``"ATC"``, the t=1 rows to the t=0 rows (covariate
    shift: source t=1, target t=0); ``"ATE"``, each group to the whole sample
    (missing data / MNAR ratings: use the t=1 weights).

    Read more in the :ref:`User Guide <weighting>`.

    Parameters
    ----------
    estimand : {"ATT", "ATC", "ATE"}, default="ATT"
        Which rows are reweighted to look like which (see above).

    kernel : str or callable, default="rbf"
        Kernel name in ``sklearn.metrics.pairwise.PAIRWISE_KERNEL_FUNCTIONS``
        or a callable; it must be positive semi-definite. It is evaluated on
        the pooled standardised rows.

    gamma : "median" or float, default="median"
        Kernel width; ``"median"`` is ``1 / median ||z - z'||^2`` over a
        seeded subsample of 1000 pooled standardised rows.

    max_weight : float, default=10.0
        Upper bound ``B`` on a row's weight relative to its ``sample_weight``.

    eps : float, default=None
        Allowed relative deviation of the total weight before
        renormalisation; ``None`` is ``max_weight / sqrt(n_rows)`` (Huang et
        al.'s order).

    ridge : float, default=0.0
        Weight of the penalty that pulls the weights towards
        ``sample_weight``. The objective is flat near its optimum; a small
        ridge makes the solution unique and raises the effective sample size.

    solver : {"auto", "clarabel", "fista"}, default="auto"
        ``"clarabel"``: the exact QP with cvxpy and Clarabel (memory quadratic
        and time cubic in the number of rows). ``"fista"``: an accelerated
        projected-gradient method that keeps the kernel matrix in memory up
        to 512 MiB and otherwise recomputes it in blocks, never storing it.
        ``"auto"``: Clarabel when cvxpy is installed and a group has at most
        3000 rows (exact form), else FISTA.

    approximation : {"nystroem", "rff"}, default=None
        Replace the kernel by ``n_components`` Nystroem or random Fourier
        features: cost linear in the number of rows.

    n_components : int, default=300
        Number of features of ``approximation``.

    tol : float, default=1e-6
        FISTA stops when no weight moves by more than ``tol * max_weight``
        (relative to the total weight) in an iteration.

    max_iter : int, default=5000
        Maximum number of FISTA iterations.

    random_state : int, RandomState instance or None, default=None
        Seed of the ``"median"`` subsample, of the approximation and of the
        power iteration.

    Attributes
    ----------
    weights_ : ndarray of shape (n_samples,)
        Weight of every training row (``sample_weight`` included).

    converged_ : bool
        Whether every solve converged.

    n_iter_ : int
        Largest number of FISTA iterations (0 for Clarabel).

    imbalance_ : float
        Largest squared MMD after weighting over the reweighted groups, in
        the kernel used for the fit (V-statistic; its target term is
        estimated from 20000 target rows when there are more).

    gamma_ : float or None
        Kernel width used (``None`` for a callable kernel).

    solver_ : str
        Solver used, ``"clarabel"`` or ``"fista"``.

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
    EntropyBalancing : Exact moment balance; Nystroem features scale further.
    KernelBalancing : Entropy weights that balance chosen kernel sections.
    weighted_mmd : The discrepancy these weights minimise.

    Notes
    -----
    The weights exist only for the training rows (no ``compute_weights``).
    They are renormalised to sum to ``S`` after the solve, so ``eps=0``
    optimises the reported weights directly; a positive ``eps`` (Huang et
    al.'s relaxation) can leave a larger MMD after renormalisation.

    The FISTA solver works in two phases: the kernel's top eigenvector is
    close to the constant vector, whose component the sum constraint pins
    down, so after a short phase that locates the total weight it fixes the
    total and steps with the much smaller curvature of the kernel on
    sum-zero directions. Products with the kernel use a float32 copy on the
    difference to a periodically refreshed float64 product.
    The exact QP is cubic in the number of rows; prefer ``solver="fista"``
    beyond a few thousand rows and ``approximation="nystroem"`` beyond a few
    tens of thousands.

    References
    ----------
    .. [1] J. Huang, A. Gretton, K. Borgwardt, B. Schoelkopf and A. Smola,
       "Correcting sample selection bias by unlabeled data", NIPS 2007.
    .. [2] A. Beck and M. Teboulle, "A fast iterative shrinkage-thresholding
       algorithm for linear inverse problems", SIAM J. Imaging Sciences, 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.weighting import KernelMeanMatching, weighted_mmd
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0.5, 1, (100, 2)), rng.normal(0, 1, (100, 2))])
    >>> t = np.repeat([1, 0], 100)
    >>> kmm = KernelMeanMatching(estimand="ATC", solver="fista", random_state=0)
    >>> w = kmm.fit_reweight(X, t)
    >>> before = weighted_mmd(X, t, estimand="ATC", random_state=0)
    >>> after = weighted_mmd(X, t, w, estimand="ATC", random_state=0)
    >>> bool(after < before / 10)
    True
    """

    _parameter_constraints: dict = {
        "estimand": [StrOptions(set(ESTIMANDS))],
        "kernel": KERNEL_CONSTRAINT,
        "gamma": GAMMA_CONSTRAINT,
        "max_weight": [Interval(Real, 1, None, closed="left")],
        "eps": [Interval(Real, 0, 1, closed="left"), None],
        "ridge": [Interval(Real, 0, None, closed="left")],
        "solver": [StrOptions({"auto", "clarabel", "fista"})],
        "approximation": [StrOptions({"nystroem", "rff"}), None],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimand="ATT",
        kernel="rbf",
        gamma="median",
        max_weight=10.0,
        eps=None,
        ridge=0.0,
        solver="auto",
        approximation=None,
        n_components=300,
        tol=1e-6,
        max_iter=5000,
        random_state=None,
    ):
        self.estimand = estimand
        self.kernel = kernel
        self.gamma = gamma
        self.max_weight = max_weight
        self.eps = eps
        self.ridge = ridge
        self.solver = solver
        self.approximation = approximation
        self.n_components = n_components
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state

    def _choose_solver(self, n_rows):
        if self.solver != "auto":
            return self.solver
        if self.approximation is not None or n_rows > _CLARABEL_MAX_ROWS:
            return "fista"
        try:
            import cvxpy  # noqa: F401
        except ImportError:
            return "fista"
        return "clarabel"

    def _fit_reweight(self, X, t, s):
        check_groups_have_mass(t, s, type(self).__name__)
        rng = check_random_state(self.random_state)
        seed = rng.randint(np.iinfo(np.int32).max)
        mean, scale = weighted_standardizer(X, s)
        Z = (X - mean) / scale
        positive = s > 0
        self.gamma_ = resolve_gamma(self.gamma, self.kernel, Z[positive], seed)
        kfun = kernel_fn(self.kernel, self.gamma_)
        Phi = None
        if self.approximation is not None:
            mapper = kernel_features(
                self.approximation,
                self.kernel,
                self.gamma_,
                self.n_components,
                Z[positive],
                seed,
            )
            Phi = np.asarray(mapper.transform(Z), dtype=np.float64)

        weights = s.copy()
        self.converged_, self.n_iter_, self.imbalance_ = True, 0, 0.0
        self._qp_imbalance = -np.inf
        self.effective_sample_size_ = {}
        solvers = set()
        for group, source, target in group_problems(t, self.estimand):
            rows = source & positive
            solver = self._choose_solver(rows.sum())
            solvers.add(solver)
            w = self._solve_group(Z, Phi, kfun, s, rows, target, solver, seed)
            weights[source] = 0.0
            weights[rows] = w
        self.solver_ = solvers.pop() if len(solvers) == 1 else "fista"
        for group in (0, 1):
            w = weights[t == group]
            self.effective_sample_size_[group] = float(w.sum() ** 2 / (w @ w))
        return weights

    def _solve_group(self, Z, Phi, kfun, s, rows, target, solver, seed):
        sg = s[rows]
        total = sg.sum()
        n_rows = int(rows.sum())
        base = sg / total
        upper = self.max_weight * base
        eps = self.eps if self.eps is not None else self.max_weight / np.sqrt(n_rows)
        eps = min(eps, 1.0)
        # The ridge term in u = v / S: ridge * S * sum((u - s/S)^2 / s)
        #   = ridge * sum((u - base)^2 / base).
        ridge = self.ridge
        st = s[target]
        if Phi is not None:
            features = Phi[rows]
            mu = st @ Phi[target] / st.sum()
            kappa = features @ mu
            operator = _KernelOperator(features=features)
            target_term = float(mu @ mu)
        else:
            if n_rows > _WARN_EXACT_ROWS:
                warnings.warn(
                    f"KernelMeanMatching on {n_rows} rows without approximation "
                    "is slow (quadratic time per iteration); consider "
                    "approximation='nystroem'.",
                    UserWarning,
                )
            Zg = Z[rows]
            kappa = kernel_row_means(kfun, Zg, Z[target], st)
            operator = None
            target_term = _target_term(kfun, Z[target], st, seed)
        if solver == "clarabel":
            if Phi is not None:
                K = (features, mu)
            else:
                K = kfun(Zg, Zg)
                _check_psd(K, self.kernel)
            u, converged, _ = _solve_cvxpy(
                K, kappa, base, ridge, upper, eps, "CLARABEL"
            )
            n_iter = 0
        else:
            if operator is None:
                operator = _KernelOperator(kfun=kfun, Z=Zg)
            u, converged, n_iter = _fista(
                operator,
                kappa,
                base,
                ridge,
                upper,
                eps,
                self.tol,
                self.max_iter,
                seed,
                offset=target_term,
            )
            if not converged:
                warnings.warn(
                    f"KernelMeanMatching: FISTA stopped at max_iter={self.max_iter} "
                    f"before reaching tol={self.tol}; increase max_iter or set a "
                    "small ridge.",
                    ConvergenceWarning,
                )
        if not np.all(np.isfinite(u)):
            raise RuntimeError(
                f"KernelMeanMatching: the {solver} solver returned non-finite "
                "weights. Try another solver or a positive ridge."
            )
        if operator is None:
            operator = _KernelOperator(kfun=kfun, Z=Zg)
        # The QP's own objective (squared MMD of the unnormalised weights in
        # the box): what the solvers minimise, to compare solvers by.
        u_box = np.clip(u, 0.0, upper)
        qp = u_box @ operator.exact_matvec(u_box) - 2 * kappa @ u_box + target_term
        self._qp_imbalance = max(self._qp_imbalance, float(qp))
        # Solvers may overshoot the box by round-off: clip and renormalise.
        w = cap_and_normalize(np.maximum(u, 0.0) * total, self.max_weight * sg, total)
        u = w / total
        mmd2 = float(u @ operator.exact_matvec(u) - 2 * kappa @ u + target_term)
        self.imbalance_ = max(self.imbalance_, max(mmd2, 0.0))
        self.converged_ = self.converged_ and bool(converged)
        self.n_iter_ = max(self.n_iter_, n_iter)
        return w


def _target_term(kfun, Zt, st, seed):
    """``sum_jk s_j s_k k(z_j, z_k) / (sum s)^2`` (subsampled beyond 20k rows)."""
    if Zt.shape[0] > _MMD_TARGET_ROWS:
        rng = check_random_state(seed)
        pick = rng.choice(Zt.shape[0], _MMD_TARGET_ROWS, replace=False)
        Zt, st = Zt[pick], st[pick]
    return float(st @ kernel_row_means(kfun, Zt, Zt, st) / st.sum())


def _check_psd(K, kernel):
    """Refuse clearly non-PSD callable kernels (cvxpy's psd_wrap trusts them)."""
    if not callable(kernel) and kernel in ("rbf", "laplacian", "linear", "poly"):
        return
    eig = np.linalg.eigvalsh(K)
    if eig[0] < -1e-8 * max(eig[-1], 1e-300):
        raise ValueError(
            f"KernelMeanMatching needs a positive semi-definite kernel; kernel="
            f"{kernel!r} gives a kernel matrix with eigenvalue {eig[0]:.3g}."
        )
