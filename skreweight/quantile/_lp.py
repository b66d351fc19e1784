"""Exact simplex-weight fits of quantile aggregates by linear programming."""

import numpy as np
from scipy.optimize import linprog

__all__ = []


def solve_simplex_pinball(A, y, tau, sample_weight=None):
    """Minimise the weighted pinball loss of ``A @ w`` over the simplex.

    Solves ``min_w sum_r s_r pinball_{tau_r}(y_r - a_r^T w)`` subject to
    ``w >= 0``, ``sum(w) = 1`` through its dual (``p + 1`` constraints),

    ``max_{lambda, mu} y^T lambda + mu`` s.t. ``A^T lambda + mu <= 0``,
    ``s_r (tau_r - 1) <= lambda_r <= s_r tau_r``,

    whose constraint multipliers are the weights.

    Parameters
    ----------
    A : ndarray of shape (n_rows, p)
        Base predictions of every row.
    y : ndarray of shape (n_rows,)
        Targets.
    tau : float or ndarray of shape (n_rows,)
        Level of every row.
    sample_weight : ndarray of shape (n_rows,), default=None
        Row weights.

    Returns
    -------
    w : ndarray of shape (p,)
        Optimal simplex weights.
    objective : float
        The optimal weighted summed pinball loss.
    """
    n_rows, p = A.shape
    if p == 1:
        w = np.ones(1)
        return w, pinball_objective(A, y, tau, w, sample_weight)
    s = np.ones(n_rows) if sample_weight is None else sample_weight
    tau = np.broadcast_to(np.asarray(tau, dtype=float), (n_rows,))
    lower, upper = s * (tau - 1), s * tau
    if n_rows > _WORKING_SET_MIN_ROWS:
        result = _solve_working_set(A, y, tau, s, lower, upper)
        if result is not None:
            return result
    w, fun = _solve_dual(A, y, lower, upper, np.zeros(p))
    return w, fun


def _solve_dual(A, y, lower, upper, shift):
    """Solve the dual LP; ``shift`` moves the right-hand side (fixed rows)."""
    n_rows, p = A.shape
    c = -np.append(y, 1.0)
    A_ub = np.hstack([A.T, np.ones((p, 1))])
    bounds = np.empty((n_rows + 1, 2))
    bounds[:-1, 0] = lower
    bounds[:-1, 1] = upper
    bounds[-1] = (-np.inf, np.inf)
    res = linprog(c, A_ub=A_ub, b_ub=-shift, bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(
            f"The weight linear program failed (HiGHS status {res.status}: "
            f"{res.message}). Check the base predictions for inf or huge values."
        )
    w = np.clip(-res.ineqlin.marginals, 0.0, None)
    w[w < 1e-12] = 0.0
    total = w.sum()
    w = np.full(p, 1.0 / p) if total <= 0 else w / total
    return w, -float(res.fun)


def _solve_working_set(A, y, tau, s, lower, upper, max_rounds=8):
    """Exact solve that keeps only the rows near the fit in the LP.

    Rows whose residual sign is settled have their dual variable at a bound
    (``s tau`` above the fit, ``s (tau - 1)`` below); they enter the LP as
    constants. The reduced LP is re-solved, freeing rows whose sign changed,
    until every fixed row is consistent with the new weights, at which point
    the KKT conditions of the full problem hold. Returns None to fall back to
    the full LP.
    """
    n_rows = A.shape[0]
    rng = np.random.RandomState(0)
    pilot = rng.choice(n_rows, size=_WORKING_SET_MIN_ROWS // 2, replace=False)
    w, _ = _solve_dual(
        A[pilot], y[pilot], lower[pilot], upper[pilot], np.zeros(A.shape[1])
    )
    residual = y - A @ w
    width = np.quantile(np.abs(residual), 0.05)
    free = np.abs(residual) <= width
    for _ in range(max_rounds):
        above = ~free & (residual > 0)
        below = ~free & (residual < 0)
        lam_fixed = np.where(above, upper, lower)
        lam_fixed[free] = 0.0
        shift = A.T @ lam_fixed
        const = float(y @ lam_fixed)
        w, fun = _solve_dual(A[free], y[free], lower[free], upper[free], shift)
        residual = y - A @ w
        wrong = (above & (residual < 0)) | (below & (residual > 0))
        if not wrong.any():
            return w, fun + const
        width *= 2
        free |= wrong | (np.abs(residual) <= width)
    return None


_WORKING_SET_MIN_ROWS = 100_000


def solve_linear_pinball(A, y, tau, sample_weight=None):
    """Linear quantile regression with intercept of ``y`` on ``A`` (QRA).

    Solves ``min_{w, b} sum_r s_r pinball_tau(y_r - b - a_r^T w)`` with ``w``
    and ``b`` unconstrained through its dual (Koenker's rank-score form),

    ``max_lambda y^T lambda`` s.t. ``A^T lambda = 0``, ``1^T lambda = 0``,
    ``s_r (tau - 1) <= lambda_r <= s_r tau``,

    which has ``p + 1`` equality constraints whose multipliers are ``-(w, b)``.
    The optimum equals that of ``QuantileRegressor(alpha=0)`` (the
    coefficients may differ when the optimum is not unique), at a small
    fraction of its cost.

    Parameters
    ----------
    A : ndarray of shape (n_rows, p)
        Base predictions of every row.
    y : ndarray of shape (n_rows,)
        Targets.
    tau : float
        Quantile level.
    sample_weight : ndarray of shape (n_rows,), default=None
        Row weights.

    Returns
    -------
    coef : ndarray of shape (p,)
        Regression coefficients.
    intercept : float
        Intercept.
    objective : float
        The optimal weighted pinball loss.
    """
    n_rows, p = A.shape
    s = np.ones(n_rows) if sample_weight is None else sample_weight
    A_eq = np.vstack([A.T, np.ones((1, n_rows))])
    bounds = np.column_stack([s * (tau - 1), s * tau])
    res = linprog(-y, A_eq=A_eq, b_eq=np.zeros(p + 1), bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(
            f"The quantile regression averaging LP failed (HiGHS status "
            f"{res.status}: {res.message}). Check the base predictions for inf "
            "or huge values."
        )
    theta = -res.eqlin.marginals
    return theta[:p], float(theta[p]), -float(res.fun)


def pinball_objective(A, y, tau, w, sample_weight=None):
    """Weighted summed pinball loss of ``A @ w``."""
    diff = y - A @ w
    loss = np.maximum(tau * diff, (tau - 1) * diff)
    if sample_weight is not None:
        loss = loss * sample_weight
    return float(loss.sum())
