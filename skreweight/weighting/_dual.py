"""The entropy-balancing dual, shared by EntropyBalancing and KernelBalancing.

For rows ``i`` of the reweighted group with base probabilities ``q`` and
centred, scaled balance features ``C`` (target mean subtracted), the primal

    min_p  KL(p || q) + sum_j (2 alpha_j)^-1 (C^T p)_j^2
    s.t.   |(C^T p)_j| <= l1_j  for the columns with alpha_j = 0

has the convex dual

    min_lam  log sum_i q_i exp(C_i lam) + 1/2 sum_j alpha_j lam_j^2
             + sum_j l1_j |lam_j|,

and ``p_i ∝ q_i exp(C_i lam)``. The gradient of the smooth part is
``C^T p + alpha * lam``: the imbalance.
"""

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import linprog, minimize
from threadpoolctl import threadpool_limits


def _softmax_weights(C, log_q, lam):
    eta = C @ lam + log_q
    top = eta.max()
    p = np.exp(eta - top)
    total = p.sum()
    return p / total, top + np.log(total)


class DualResult:
    """Solution of the entropy dual."""

    def __init__(self, lam, p, converged, n_iter, imbalance, log_norm):
        self.lam = lam
        self.p = p
        self.converged = converged
        self.n_iter = n_iter
        self.imbalance = imbalance
        self.log_norm = log_norm


def _optimality_gap(grad_smooth, lam, l1):
    """Largest violation of the dual optimality conditions."""
    gap = np.abs(grad_smooth)
    has_l1 = l1 > 0
    if has_l1.any():
        g = grad_smooth[has_l1]
        lj = lam[has_l1]
        bound = l1[has_l1]
        at_zero = np.maximum(np.abs(g) - bound, 0.0)
        active = np.abs(g + np.sign(lj) * bound)
        gap[has_l1] = np.where(lj == 0, at_zero, active)
    return float(gap.max(initial=0.0))


def solve_entropy_dual(
    C, q, *, alpha=None, l1=None, lam0=None, tol=1e-6, max_iter=1000, fallback=True
):
    """Minimise the entropy dual; see the module docstring.

    Parameters
    ----------
    C : ndarray of shape (n, r)
        Centred, scaled balance features of the reweighted rows.
    q : ndarray of shape (n,)
        Positive base weights (normalised inside).
    alpha, l1 : ndarray of shape (r,) or None
        L2 and L1 dual penalties (``None``: zeros).
    lam0 : ndarray of shape (r,) or None
        Warm start.
    tol : float
        Stop when every optimality condition holds to ``tol``.
    max_iter : int
        Iteration cap of the solver.
    fallback : bool
        Whether a failed active-set Newton solve is retried with L-BFGS-B.
    """
    n, r = C.shape
    alpha = np.zeros(r) if alpha is None else np.asarray(alpha, dtype=float)
    l1 = np.zeros(r) if l1 is None else np.asarray(l1, dtype=float)
    lam = np.zeros(r) if lam0 is None else np.asarray(lam0, dtype=float).copy()
    log_q = np.log(q / q.sum())
    limit = 1 if n * max(r, 1) < 2_000_000 else None
    with threadpool_limits(limit, user_api="blas"):
        if r == 0:
            p = np.exp(log_q)
            return DualResult(lam, p, True, 0, np.zeros(0), 0.0)
        if r <= 50 and not np.any(l1 > 0):
            result = _newton(C, log_q, alpha, lam, tol, max_iter)
        elif not np.any(l1 > 0):
            result = _newton_large(C, log_q, alpha, lam, tol, max_iter)
            if fallback and not result.converged:
                result = _lbfgs(C, log_q, alpha, l1, result.lam, tol, max_iter)
        elif r <= 200 and not np.any(alpha > 0):
            result = _active_set(C, log_q, l1, lam, tol, max_iter)
            if fallback and not result.converged:
                result = _lbfgs(C, log_q, alpha, l1, result.lam, tol, max_iter)
        else:
            result = _lbfgs(C, log_q, alpha, l1, lam, tol, max_iter)
    return result


def _active_set(C, log_q, l1, lam, tol, max_iter, max_rounds=30):
    """Active-set Newton for the L1 (box-constrained) dual.

    With the signs ``sigma`` of the non-zero dual variables fixed, the
    optimality conditions are exact balance of the shifted columns
    ``C_j + sigma_j l1_j`` (so that the imbalance sits on the box edge
    ``-sigma_j l1_j``) with the other L1 variables at 0: a smooth problem
    that Newton solves quadratically. Variables whose sign flips leave the
    active set, L1 columns whose imbalance exceeds the box enter it.
    """
    r = C.shape[1]
    has_l1 = l1 > 0
    p = np.exp(log_q - log_q.max())
    p /= p.sum()
    sigma = np.sign(lam)
    sigma[~has_l1] = 0
    active = ~has_l1 | (lam != 0)
    imbalance = C.T @ p
    enter = has_l1 & ~active & (np.abs(imbalance) > l1)
    sigma[enter] = -np.sign(imbalance[enter])
    active |= enter
    total_iter = 0
    result = None
    for _ in range(max_rounds):
        cols = np.flatnonzero(active)
        shifted = C[:, cols] + sigma[cols] * l1[cols]
        start = lam[cols]
        result = _newton(shifted, log_q, np.zeros(cols.size), start, tol, max_iter)
        total_iter += result.n_iter
        lam = np.zeros(r)
        lam[cols] = result.lam
        p = result.p
        imbalance = C.T @ p
        wrong = has_l1 & active & (lam * sigma < 0)
        outside = has_l1 & ~active & (np.abs(imbalance) > l1 * (1 + 1e-6) + tol)
        if not result.converged:
            break
        if not wrong.any() and not outside.any():
            gap = _optimality_gap(imbalance, lam, l1)
            return DualResult(
                lam,
                p,
                gap <= tol,
                total_iter,
                imbalance,
                _softmax_weights(C, log_q, lam)[1],
            )
        # Drop the worst sign violation first (one at a time keeps it stable).
        if wrong.any():
            j = np.flatnonzero(wrong)[np.argmax(np.abs(lam[wrong]))]
            active[j], sigma[j], lam[j] = False, 0, 0.0
        sigma[outside] = -np.sign(imbalance[outside])
        active |= outside
    imbalance = C.T @ p
    return DualResult(
        lam, p, False, total_iter, imbalance, _softmax_weights(C, log_q, lam)[1]
    )


def _armijo_step(C, log_q, alpha, lam, step, f, slope):
    """Backtrack along ``step`` until the Armijo condition holds.

    Returns ``(size, lam, p, f)`` at the accepted point, or None when 60
    halvings give no sufficient decrease (the numerical floor).
    """
    size = 1.0
    for _ in range(60):
        new_lam = lam + size * step
        new_p, new_log = _softmax_weights(C, log_q, new_lam)
        new_f = new_log + 0.5 * alpha @ new_lam**2
        if new_f <= f + 1e-4 * size * slope:
            return size, new_lam, new_p, new_f
        size *= 0.5
    return None


def _newton_result(C, log_q, alpha, lam, p, converged, n_iter, tol):
    """The result of a Newton solve, with the final optimality check."""
    mean = C.T @ p
    converged = converged or np.max(np.abs(mean + alpha * lam)) <= tol
    return DualResult(lam, p, converged, n_iter, mean, f_log_of(C, log_q, lam))


def _newton(C, log_q, alpha, lam, tol, max_iter):
    """Damped Newton with backtracking; quadratic convergence for r <= 50."""
    p, f_log = _softmax_weights(C, log_q, lam)
    f = f_log + 0.5 * alpha @ lam**2
    converged = False
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        mean = C.T @ p
        grad = mean + alpha * lam
        if np.max(np.abs(grad)) <= 1e-3 * tol:
            # Newton converges quadratically: go well below tol.
            converged = True
            break
        Cp = C * np.sqrt(p)[:, None]
        hess = Cp.T @ Cp - np.outer(mean, mean) + np.diag(alpha)
        hess += 1e-12 * np.trace(hess) / len(lam) * np.eye(len(lam))
        try:
            step = -np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            step = -np.linalg.lstsq(hess, grad, rcond=None)[0]
        slope = grad @ step
        if not slope < 0:
            step, slope = -grad, -(grad @ grad)
        accepted = _armijo_step(C, log_q, alpha, lam, step, f, slope)
        if accepted is None:
            break  # no decrease possible: numerical floor
        _, new_lam, new_p, new_f = accepted
        lam, p, f = new_lam, new_p, new_f
        if np.max(np.abs(lam)) > 1e8 or p.max() > 1 - 1e-12:
            break  # diverging dual: balance infeasible
    return _newton_result(C, log_q, alpha, lam, p, converged, n_iter, tol)


# Rows of C per block of the Hessian product; the rows of the Hessian
# subsample; and the row count beyond which the large-r Newton solver first
# solves a subsample to warm-start.
_HESSIAN_ROWS = 131072
_HESSIAN_BLOCK = 65536
_WARM_START_ROWS = 100_000


def _hessian(C, p, mean, alpha):
    """``C^T diag(p) C - mean mean^T + diag(alpha)``, in row blocks.

    Each block is scaled by ``sqrt(p)`` and multiplied in float32 (half the
    memory traffic and twice the BLAS speed of float64); the blocks are
    summed in float64. The Hessian only sets the Newton direction; the
    gradient and the objective stay in float64, so the solution's accuracy
    does not depend on this rounding.
    """
    n, r = C.shape
    hess = np.zeros((r, r))
    root = np.sqrt(p)
    buffer = np.empty((min(n, _HESSIAN_BLOCK), r), dtype=np.float32)
    for start in range(0, n, _HESSIAN_BLOCK):
        stop = min(start + _HESSIAN_BLOCK, n)
        block = buffer[: stop - start]
        np.multiply(
            C[start:stop], root[start:stop, None], out=block, casting="same_kind"
        )
        hess += block.T @ block
    hess -= np.outer(mean, mean)
    hess[np.diag_indices(r)] += alpha
    return hess


def _newton_large(C, log_q, alpha, lam, tol, max_iter):
    """Damped Newton for many features (r > 50), with a subsample warm start.

    With ``n`` rows, the exact Hessian costs one blocked float32 GEMM of
    ``n r^2`` and Newton needs a handful of them, against ~100 gradient
    passes for L-BFGS. Beyond ``_HESSIAN_ROWS`` rows the Hessian is
    estimated on a fixed subsample of rows (a sub-sampled Newton method: the
    gradient stays exact, so the solution does not change); if the gradient
    then shrinks by less than 2x in a step, the exact Hessian takes over.
    Beyond ``_WARM_START_ROWS`` rows the dual is first solved on a seeded
    subsample of an eighth of the rows (recursively), so that the full
    problem starts in Newton's quadratic region. A Hessian is reused while
    the full step is accepted and the gradient shrinks by at least 4x per
    step.
    """
    n, r = C.shape
    if n > _WARM_START_ROWS and lam is not None and not np.any(lam):
        rng = np.random.default_rng(0)
        pick = np.sort(rng.choice(n, max(n // 8, _WARM_START_ROWS // 2), replace=False))
        sub_q = log_q[pick]
        sub_q = sub_q - np.logaddexp.reduce(sub_q)
        warm = _newton_large(C[pick], sub_q, alpha, lam, tol, max_iter)
        if warm.converged:  # else (e.g. infeasible balance) start from 0
            lam = warm.lam
    # The Hessian only preconditions the (exact, float64) gradient step: on
    # many rows it is estimated from a fixed seeded subsample of rows.
    hess_rows = None
    if n > _HESSIAN_ROWS:
        hess_rows = np.sort(
            np.random.default_rng(1).choice(n, _HESSIAN_ROWS, replace=False)
        )
        C_hess = C[hess_rows]
    p, f_log = _softmax_weights(C, log_q, lam)
    f = f_log + 0.5 * alpha @ lam**2
    converged = False
    hess_chol = None
    n_iter = 0
    grad_norm_old = np.inf
    for n_iter in range(1, max_iter + 1):
        mean = C.T @ p
        grad = mean + alpha * lam
        grad_norm = np.max(np.abs(grad))
        if grad_norm <= 1e-3 * tol:
            converged = True
            break
        if hess_rows is not None and grad_norm > 0.5 * grad_norm_old:
            hess_rows = None  # the subsample Hessian is too rough: go exact
        if hess_chol is None or grad_norm > 0.25 * grad_norm_old:
            if hess_rows is None:
                hess = _hessian(C, p, mean, alpha)
            else:
                p_sub = p[hess_rows] / p[hess_rows].sum()
                hess = _hessian(C_hess, p_sub, C_hess.T @ p_sub, alpha)
            hess += 1e-12 * np.trace(hess) / r * np.eye(r)
            try:
                hess_chol = cho_factor(hess)
            except np.linalg.LinAlgError:
                hess_chol = None
        if hess_chol is not None:
            step = -cho_solve(hess_chol, grad)
        else:
            step = -grad
        slope = grad @ step
        if not slope < 0:
            step, slope = -grad, -(grad @ grad)
            hess_chol = None
        accepted = _armijo_step(C, log_q, alpha, lam, step, f, slope)
        if accepted is None:
            break  # no decrease possible: numerical floor
        size, new_lam, new_p, new_f = accepted
        if size < 1.0:
            hess_chol = None  # damped step: refresh the Hessian next time
        grad_norm_old = grad_norm
        lam, p, f = new_lam, new_p, new_f
        if np.max(np.abs(lam)) > 1e8 or p.max() > 1 - 1e-12:
            break  # diverging dual: balance infeasible
    return _newton_result(C, log_q, alpha, lam, p, converged, n_iter, tol)


def f_log_of(C, log_q, lam):
    return _softmax_weights(C, log_q, lam)[1]


def _lbfgs(C, log_q, alpha, l1, lam, tol, max_iter):
    """L-BFGS-B on ``lam = lam_plus - lam_minus`` for the L1 columns."""
    r = len(lam)
    has_l1 = l1 > 0
    x0 = np.concatenate([np.maximum(lam, 0), np.maximum(-lam, 0)])
    x0[:r][~has_l1] = lam[~has_l1]
    x0[r:][~has_l1] = 0.0
    bounds = [(0, None) if b else (None, None) for b in has_l1]
    bounds += [(0, None) if b else (0, 0) for b in has_l1]

    def fun(x):
        lam_ = x[:r] - x[r:]
        p, f_log = _softmax_weights(C, log_q, lam_)
        grad = C.T @ p + alpha * lam_
        f = f_log + 0.5 * alpha @ lam_**2 + l1 @ (x[:r] + x[r:])
        return f, np.concatenate([grad + l1, -grad + l1])

    res = minimize(
        fun,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={
            "maxiter": max_iter,
            "maxfun": 2 * max_iter,
            "gtol": tol * 0.1,
            "ftol": 1e-15,
            "maxcor": 20,
        },
    )
    lam = res.x[:r] - res.x[r:]
    p, f_log = _softmax_weights(C, log_q, lam)
    mean = C.T @ p
    gap = _optimality_gap(mean + alpha * lam, lam, l1)
    return DualResult(lam, p, gap <= tol, int(res.nit), mean, f_log)


def balance_is_feasible(C, l1=None, soft=None):
    """Whether some probability vector ``p`` balances ``C`` (an LP check).

    Columns in ``soft`` are not constrained; columns with ``l1 > 0`` are
    balanced up to ``l1``.
    """
    n, r = C.shape
    l1 = np.zeros(r) if l1 is None else l1
    keep = np.ones(r, dtype=bool) if soft is None else ~soft
    A = C[:, keep].T
    bound = l1[keep]
    exact = bound == 0
    A_eq = np.vstack([A[exact], np.ones((1, n))])
    b_eq = np.concatenate([np.zeros(exact.sum()), [1.0]])
    A_ub = np.vstack([A[~exact], -A[~exact]])
    b_ub = np.concatenate([bound[~exact], bound[~exact]])
    res = linprog(
        np.zeros(n),
        A_ub=A_ub if A_ub.size else None,
        b_ub=b_ub if A_ub.size else None,
        A_eq=A_eq,
        b_eq=b_eq,
        bounds=(0, None),
        method="highs",
    )
    return res.status != 2
