"""Kernel mean matching: weights that minimise the kernel MMD to the target."""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
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
    device_matvec,
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
_CLARABEL_MAX_ROWS = 1000
_WARN_EXACT_ROWS = 20_000
_MMD_TARGET_ROWS = 20_000
# Diagonal jitter of the exact kernel QP, the same for every solver (cvxpy's
# psd_wrap(K + 1e-8 I)): it makes the QP strictly convex, so its solution is
# unique and solvers can be compared on the weights themselves.
_JITTER = 1e-8
# Active-set solver (see _fista_active_set): FISTA iterations of the warm
# start; active-set iterations in all and per continuation stage; block-pivot
# iterations without fewer violations before single pivots; first and largest
# jitter of the continuation; weights within _THETA * upper of a bound whose
# gradient pushes them there start at that bound.
_WARM_ITER = 100
_ACTIVE_SET_ITER = 300
_STAGE_ITER = 30
_PIVOT_PATIENCE = 3
_JITTER_START = 1e-2
_JITTER_MAX = 10.0
_THETA = 0.05


class _KernelOperator:
    """``v -> K v`` on the reweighted rows: dense, chunked or low-rank.

    The dense form keeps ``K`` in float64 and a float32 copy. Products use
    the float32 copy on the difference to a reference vector whose exact
    product is refreshed every ``refresh`` calls: ``K v = K v_ref +
    K (v - v_ref)``. Near convergence ``v - v_ref`` is small, so the float32
    rounding is negligible while the memory traffic per product halves.
    """

    def __init__(self, kfun=None, Z=None, features=None, refresh=100, matvec=None):
        self.features = features
        self.kfun = kfun
        self.Z = Z
        self.dense = None
        self.refresh = refresh
        # Products beyond the cache on a torch device (device_matvec), and
        # the relative precision of the exact products.
        self.device_matvec = matvec
        self.rtol = 1e-10
        self._calls = 0
        self._ref = None
        if features is None and 8 * Z.shape[0] ** 2 <= _KERNEL_MEMORY_BYTES:
            self.dense = kfun(Z, Z)
            self.dense32 = self.dense.astype(np.float32)
        elif matvec is not None:
            self.rtol = matvec.rtol

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
        if self.device_matvec is not None:
            return self.device_matvec(self.Z, self.Z, v)
        out = np.empty(self.Z.shape[0])
        for start in range(0, self.Z.shape[0], BLOCK_ROWS):
            stop = start + BLOCK_ROWS
            out[start:stop] = self.kfun(self.Z[start:stop], self.Z) @ v
        return out

    def block(self, rows, cols):
        """``K[rows][:, cols]`` of the exact kernel (never the float32 copy)."""
        if self.dense is not None:
            return self.dense[np.ix_(rows, cols)]
        return self.kfun(self.Z[rows], self.Z[cols])

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
    operator,
    kappa,
    base,
    ridge,
    upper,
    eps,
    tol,
    max_iter,
    random_state,
    offset=0.0,
    jitter=0.0,
    start=None,
):
    """Accelerated projected gradient (FISTA) with adaptive restart.

    Minimises ``u^T (K + jitter I) u - 2 kappa^T u + ridge * sum((u - base)^2
    / base)`` over ``{0 <= u <= upper, |sum(u) - 1| <= eps}`` in two phases,
    from ``start`` (default ``base``). The
    kernel's top eigenvector is close to the constant vector, whose
    component the sum constraint pins down; so phase 1 (step ``1 / L`` with
    ``L = 2 lambda_max(K)``) only locates the optimal total weight, and
    phase 2 fixes the total there and steps with the much smaller curvature
    of ``K`` on sum-zero directions. Stops when the objective decreased by
    less than ``tol`` per iteration over the last 100 iterations, relative
    to the objective plus ``offset`` (the squared MMD when ``offset`` is the
    target term).
    """
    ridge_max = (np.max(2.0 * ridge / base) if ridge > 0 else 0.0) + 2.0 * jitter
    start = base if start is None else start
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
            start,
            l_full,
            tol,
            phase1,
            offset,
            jitter,
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
                jitter,
            )
            n2 += n
            # The best total for the current shape x / sum(x): minimise
            # s^2 a - 2 s b over s in [1 - eps, 1 + eps].
            shape = x / x.sum()
            curvature = shape @ operator.exact_matvec(shape) + jitter * shape @ shape
            best = (kappa @ shape) / max(curvature, 1e-300)
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
    jitter=0.0,
):
    ridge_diag = 2.0 * ridge / base if ridge > 0 else 0.0
    low, high = sum_range

    def objective(u, Ku):
        value = u @ Ku + jitter * u @ u - 2.0 * kappa @ u
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
        g = 2.0 * (Ky + jitter * y - kappa)
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


def _fista_active_set(
    operator, kappa, base, ridge, upper, eps, tol, max_iter, random_state, offset
):
    """Solve the exact-kernel QP to solver precision: FISTA, then active sets.

    A short FISTA run (``_WARM_ITER`` iterations) guesses which weights sit
    at 0 or at ``upper``. :func:`_active_set` then solves the QP's KKT
    system exactly by moving weights between the sets. It converges from a
    guess close enough to the optimal sets, and the kernel block is very
    ill-conditioned, so the jitter is lowered by continuation: the QP is
    solved with a jitter of ``_JITTER_START`` (well conditioned), then each
    solution's sets start the next, 10 times smaller jitter, down to
    ``_JITTER`` (a step that fails is retried with a smaller reduction, a
    first stage that fails with 10 times more jitter). Falls back to the
    full FISTA solver (from the best point so far) when the sets do not
    settle or the free block would not fit in memory.
    Returns ``(u, converged, n_iter)`` with ``n_iter`` the FISTA plus
    active-set iterations.
    """
    low, high = 1 - eps, 1 + eps
    ridge_diag = ridge / base if ridge > 0 else np.zeros_like(base)
    c = kappa + ridge
    with threadpool_limits(1, user_api="blas"):
        lipschitz = 2.0 * (operator.max_eigenvalue(random_state) + np.max(ridge_diag))
        warm = min(max_iter, _WARM_ITER)
        x, _, n_iter = _fista_loop(
            operator,
            kappa,
            base,
            ridge,
            upper,
            (low, high),
            base,
            lipschitz + 2.0 * _JITTER,
            tol,
            warm,
            offset,
            _JITTER,
        )
        jitter = max(_JITTER_START, _JITTER)
        sets = _initial_sets(
            operator, c, ridge_diag + jitter, upper, (low, high), x, 2.0 / lipschitz
        )
        solved, reduction, budget = None, 10.0, _ACTIVE_SET_ITER
        while budget > 0:
            u, converged, n, new_sets = _active_set(
                operator,
                c,
                ridge_diag + jitter,
                upper,
                (low, high),
                sets,
                min(budget, _STAGE_ITER),
            )
            n_iter, budget = n_iter + n, budget - n
            if converged:
                solved, sets = (u, jitter), new_sets
                if jitter <= _JITTER:
                    return u, True, n_iter
                if n <= 2:  # an easy step: take larger ones again
                    reduction = min(10.0, reduction**2)
                jitter = _lower_jitter(jitter, reduction)
            elif u is None or reduction < 1.5 or jitter >= _JITTER_MAX:
                break  # no memory, not definite, or no progress: FISTA
            elif solved is None:  # the first guess was too far: more jitter
                jitter *= 10.0
            else:  # a smaller step from the last solved jitter
                reduction = np.sqrt(reduction)
                jitter = _lower_jitter(solved[1], reduction)
    # The last solution (exact for a larger jitter) warm-starts FISTA.
    start = x if solved is None else solved[0]
    u, converged, n = _fista(
        operator,
        kappa,
        base,
        ridge,
        upper,
        eps,
        tol,
        max(max_iter - n_iter, 1),
        random_state,
        offset=offset,
        jitter=_JITTER,
        start=start,
    )
    return u, converged, n_iter + n


def _lower_jitter(jitter, reduction):
    """``jitter / reduction``, snapped to ``_JITTER`` when within 1.5 of it."""
    return _JITTER if jitter / reduction < 1.5 * _JITTER else jitter / reduction


def _initial_sets(operator, c, diag, upper, sum_range, start, step):
    """Weights at 0 and at ``upper`` guessed from a feasible point ``start``.

    Those a projected-gradient step of size ``step`` would clip, and those
    within 5% of the bound (``_THETA``) whose gradient pushes them to it.
    """
    x = _project(start, upper, *sum_range)
    g = operator.exact_matvec(x) + diag * x - c
    inside = (x > 0) & (x < upper)
    lam = float(-np.median(g[inside])) if inside.any() else 0.0
    mu = g + lam
    trial = x - step * mu
    at_low = (trial <= 0) | ((x < _THETA * upper) & (mu > 0))
    at_up = ((trial >= upper) | ((x > (1 - _THETA) * upper) & (mu < 0))) & ~at_low
    return at_low, at_up


def _active_set(operator, c, diag, upper, sum_range, sets, max_iter):
    """Primal-dual active-set (semismooth Newton) solver of the KKT system.

    Solves ``min u^T (K + diag) u - 2 c^T u`` over ``{0 <= u <= upper,
    low <= sum(u) <= high}`` (Hintermueller, Ito and Kunisch 2002) from
    ``sets = (at_low, at_up)``, the weights guessed at 0 and at ``upper``.
    With ``F`` the free weights and ``A`` those at ``upper``, each iteration
    solves by Cholesky

    ``(K_FF + diag_F) u_F + lam = c_F - K_FA upper_A``

    with ``lam = 0`` when the resulting total lies in ``[low, high]`` and
    otherwise ``lam`` such that the total equals the bound it crossed (the
    total decreases monotonically in ``lam``). Then the free weights outside
    the box join the bound they crossed and the fixed weights whose bound
    multiplier ``mu = (K + diag) u - c + lam`` has the wrong sign (``mu < 0``
    at 0, ``mu > 0`` at ``upper``) are freed. When no set changes, ``u``
    satisfies the KKT conditions exactly (violations below 1e-10 of the
    bound, or ``operator.rtol`` of ``max |c|``, count as round-off; the
    result is projected on the feasible set). All violations are moved at
    once while their number decreases; after ``_PIVOT_PATIENCE`` iterations
    without a decrease, only the violation of largest index is (Judice and
    Pires' safeguard against cycling).

    Returns ``(u, converged, n_iter, sets)``; ``converged`` is ``False``
    when ``max_iter`` is reached, and ``u`` is ``None``
    when the free block would not fit in memory or is not positive definite.
    """
    low, high = sum_range
    n = len(c)
    at_low, at_up = sets
    primal_tol = 1e-10 * upper
    dual_tol = operator.rtol * max(float(np.max(np.abs(c))), 1e-300)
    fewest, patience = np.inf, _PIVOT_PATIENCE
    for n_iter in range(1, max_iter + 1):
        free = np.flatnonzero(~(at_low | at_up))
        up = np.flatnonzero(at_up)
        if 8 * len(free) ** 2 > _KERNEL_MEMORY_BYTES or not len(free):
            # Too large a block, or every weight at a bound: leave it to FISTA.
            return None, False, n_iter, sets
        rhs = c[free]
        if len(up):
            rhs = rhs - operator.block(free, up) @ upper[up]
        H = operator.block(free, free)
        H[np.diag_indices_from(H)] += diag[free]
        try:
            # In place (H.T is Fortran-ordered and, H being symmetric, equal).
            factor = cho_factor(H.T, lower=True, overwrite_a=True, check_finite=False)
        except LinAlgError:
            return None, False, n_iter, sets
        x1 = cho_solve(factor, rhs, check_finite=False)
        x2 = cho_solve(factor, np.ones(len(free)), check_finite=False)
        del H, factor
        total = x1.sum() + upper[up].sum()
        lam = 0.0
        if total > high or total < low:
            lam = (total - (high if total > high else low)) / x2.sum()
        u = np.zeros(n)
        u[up] = upper[up]
        u[free] = x1 - lam * x2
        mu = operator.exact_matvec(u) + diag * u - c + lam
        is_free = ~at_low & ~at_up
        new_low = (at_low & (mu > -dual_tol)) | (is_free & (u < -primal_tol))
        new_up = (at_up & (mu < dual_tol)) | (is_free & (u > upper + primal_tol))
        new_up &= ~new_low
        changed = np.flatnonzero((new_low != at_low) | (new_up != at_up))
        if not changed.size:
            return _project(u, upper, low, high), True, n_iter, (at_low, at_up)
        # Block pivots while the number of violations decreases (or did so
        # within the last _PIVOT_PATIENCE iterations), else a single pivot on
        # the violation of largest index (Judice and Pires 1994: finite for
        # positive definite problems).
        if changed.size < fewest:
            fewest, patience = changed.size, _PIVOT_PATIENCE
        elif patience > 0:
            patience -= 1
        else:
            i = changed[-1]  # a fixed weight is freed, a free one fixed
            new_low, new_up = at_low.copy(), at_up.copy()
            was_free = is_free[i]
            new_low[i], new_up[i] = was_free and u[i] < 0, was_free and u[i] > upper[i]
        at_low, at_up = new_low, new_up
    return u, False, max_iter, sets


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
        quad = cp.quad_form(u, cp.psd_wrap(K + _JITTER * np.eye(n)))
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
        and time cubic in the number of rows). ``"fista"``: a short
        accelerated projected-gradient (FISTA) run guesses which weights sit
        at a bound, then an active-set method solves the QP's optimality
        conditions exactly (see Notes); the kernel matrix is kept in memory
        up to 512 MiB and otherwise recomputed in blocks, never stored.
        ``"auto"``: Clarabel when cvxpy is installed and a group has at most
        1000 rows (exact form), else FISTA (the faster of the two above a
        few hundred rows; both reach the same optimum).

    approximation : {"nystroem", "rff"}, default=None
        Replace the kernel by ``n_components`` Nystroem or random Fourier
        features: cost linear in the number of rows.

    n_components : int, default=300
        Number of features of ``approximation``.

    tol : float, default=1e-6
        FISTA stops when the objective decreased by less than ``tol`` per
        iteration (relative to the squared MMD) over the last 100
        iterations. Used with ``approximation`` and when the active-set
        method falls back to FISTA; the active-set method itself stops at
        an exact optimum.

    max_iter : int, default=5000
        Maximum number of FISTA iterations.

    random_state : int, RandomState instance or None, default=None
        Seed of the ``"median"`` subsample, of the approximation and of the
        power iteration.

    device : str, torch.device or None, default=None
        ``None`` computes the kernel with numpy. A torch device (``"cpu"``,
        ``"cuda"``, ``"auto"``...) computes the kernel means of the target
        rows, and the solver's kernel products whenever the kernel matrix is
        not cached (beyond 512 MiB), with
        :func:`skreweight.torch.kernel_matvec` in chunks, never storing the
        kernel: float64 on the CPU, float32 on accelerators. Needs PyTorch
        (``pip install "skreweight[torch]"``) and ``kernel`` in ``{"rbf",
        "laplacian", "linear"}``; ignored with ``approximation``.

    Attributes
    ----------
    weights_ : ndarray of shape (n_samples,)
        Weight of every training row (``sample_weight`` included).

    converged_ : bool
        Whether every solve converged.

    n_iter_ : int
        Largest number of FISTA plus active-set iterations (0 for
        Clarabel).

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

    Both exact solvers minimise the same strictly convex QP: the kernel
    matrix gets a diagonal jitter of 1e-8, as cvxpy's ``psd_wrap`` needs, so
    the optimal weights are unique. The objective is very flat near its
    optimum (the kernel matrix is ill-conditioned), so a first-order method
    stopped at a small objective gap can still leave weights, and the MMD
    after renormalisation, far from the optimum. ``solver="fista"``
    therefore runs 100 FISTA iterations only to guess the weights at 0 and
    at ``max_weight``, then a primal-dual active-set method (Hintermueller
    et al. 2002): it solves the optimality conditions on the free weights
    by a Cholesky factorisation of their kernel block (with the multiplier
    of the sum constraint when it is active), moves the weights that leave
    the box or whose bound multiplier has the wrong sign, and stops when
    the sets no longer change, i.e. at an exact optimum. Because the kernel
    block is so ill-conditioned, the jitter is lowered by continuation, from
    1e-2 to 1e-8 by factors of 10 (smaller factors when a step fails), each
    solution's sets starting the next; single pivots take over when the
    number of violations stops decreasing (Judice and Pires 1994). This
    takes about 25 factorisations of blocks of a few hundred to a few
    thousand rows. Should the sets not settle within 300 iterations, or the
    free block exceed 512 MiB, FISTA continues from the best point: its two
    phases first locate the total weight and then fix it and step with the
    much smaller curvature of the kernel on sum-zero directions, using a
    float32 copy of the kernel on the difference to a periodically
    refreshed float64 product.
    The exact QP is cubic in the number of rows; prefer ``solver="fista"``
    beyond a few thousand rows and ``approximation="nystroem"`` beyond a few
    tens of thousands.

    References
    ----------
    .. [1] J. Huang, A. Gretton, K. Borgwardt, B. Schoelkopf and A. Smola,
       "Correcting sample selection bias by unlabeled data", NIPS 2007.
    .. [2] A. Beck and M. Teboulle, "A fast iterative shrinkage-thresholding
       algorithm for linear inverse problems", SIAM J. Imaging Sciences, 2009.
    .. [3] M. Hintermueller, K. Ito and K. Kunisch, "The primal-dual active
       set strategy as a semismooth Newton method", SIAM J. Optimization,
       2002.
    .. [4] J. J. Judice and F. M. Pires, "A block principal pivoting
       algorithm for large-scale strictly monotone linear complementarity
       problems", Computers & Operations Research, 1994.

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
        "device": [None, str, object],  # object: a torch.device
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
        device=None,
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
        self.device = device

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
        matvec = None
        if self.approximation is None:
            matvec = device_matvec(
                self.kernel, self.gamma_, self.device, type(self).__name__
            )
        else:
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
            w = self._solve_group(Z, Phi, kfun, s, rows, target, solver, seed, matvec)
            weights[source] = 0.0
            weights[rows] = w
        self.solver_ = solvers.pop() if len(solvers) == 1 else "fista"
        for group in (0, 1):
            w = weights[t == group]
            self.effective_sample_size_[group] = float(w.sum() ** 2 / (w @ w))
        return weights

    def _solve_group(self, Z, Phi, kfun, s, rows, target, solver, seed, matvec):
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
            kappa = kernel_row_means(kfun, Zg, Z[target], st, matvec=matvec)
            operator = None
            target_term = _target_term(kfun, Z[target], st, seed, matvec)
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
                operator = _KernelOperator(kfun=kfun, Z=Zg, matvec=matvec)
            # The exact kernel QP is solved to solver precision (FISTA warm
            # start, then active sets); the low-rank one by FISTA alone.
            solve = _fista if Phi is not None else _fista_active_set
            u, converged, n_iter = solve(
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
            operator = _KernelOperator(kfun=kfun, Z=Zg, matvec=matvec)
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


def _target_term(kfun, Zt, st, seed, matvec=None):
    """``sum_jk s_j s_k k(z_j, z_k) / (sum s)^2`` (subsampled beyond 20k rows)."""
    if Zt.shape[0] > _MMD_TARGET_ROWS:
        rng = check_random_state(seed)
        pick = rng.choice(Zt.shape[0], _MMD_TARGET_ROWS, replace=False)
        Zt, st = Zt[pick], st[pick]
    return float(st @ kernel_row_means(kfun, Zt, Zt, st, matvec=matvec) / st.sum())


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
