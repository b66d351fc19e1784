"""FISTA solver of the PRESTO problem in the lasso (difference) parameterisation.

The parameters are packed in one vector ``theta = [a, psi.ravel()]`` with
``a`` the ``K - 1`` intercepts and ``psi`` of shape ``(K - 1, p)`` the first
slope vector followed by the differences of consecutive slope vectors, so
that ``W = cumsum(psi, axis=0)`` and the fused penalty is a weighted lasso.
All quantities are on the standardised scale of a ``_StandardisedProblem``.
"""

import warnings

import numpy as np
from scipy.optimize import minimize
from sklearn.exceptions import ConvergenceWarning

__all__ = []

# Iterations between KKT checks (and support-stability tests for polishing).
_CHECK_EVERY = 2


class _PrestoObjective:
    """Smooth part, penalty weights and KKT residual of one PRESTO problem."""

    def __init__(self, problem, penalize_first, l1_ratio):
        self.problem = problem
        K, p = problem.K, problem.n_features
        self.K, self.p = K, p
        block = np.ones((K - 1, p))
        if not penalize_first:
            block[0] = 0.0
        self.pen = np.concatenate([np.zeros(K - 1), block.ravel()])
        self.l1_ratio = l1_ratio

    def split(self, theta):
        K = self.K
        return theta[: K - 1], theta[K - 1 :].reshape(K - 1, self.p)

    def eta(self, theta):
        a, psi = self.split(theta)
        W = np.cumsum(psi, axis=0)
        return a + (W @ self.problem.XT).T

    def grad_from_G(self, G):
        grad_W = (self.problem.XT @ G).T
        grad_psi = np.cumsum(grad_W[::-1], axis=0)[::-1]
        return np.concatenate([G.sum(axis=0), grad_psi.ravel()])

    def start(self):
        """Intercept-only point, always feasible."""
        return np.concatenate([self.problem.a0, np.zeros((self.K - 1) * self.p)])

    def alpha_max(self, theta):
        """Smallest alpha at which ``theta`` (all penalised psi zero) is optimal."""
        f, G = self.problem.loss.loss(self.eta(theta))
        g = self.grad_from_G(G)
        mask = self.pen > 0
        if not np.any(mask) or self.l1_ratio == 0:
            return np.inf
        return float(np.max(np.abs(g[mask]))) / self.l1_ratio


def _soft(x, thresh):
    return np.sign(x) * np.maximum(np.abs(x) - thresh, 0.0)


def _kkt(theta, grad, l1w):
    active = theta != 0
    r = np.where(
        active, np.abs(grad + l1w * np.sign(theta)), np.maximum(np.abs(grad) - l1w, 0)
    )
    return float(np.max(r)) if r.size else 0.0


def _restricted_lbfgs(objective, x, l1w, l2w, tol, max_iter):
    """Polish ``x`` on its support and signs with L-BFGS-B.

    On the orthant face fixed by the signs of ``x`` the penalty is linear, so
    the problem is smooth with bound constraints. Returns the new point and
    its objective value, or ``(None, inf)`` if the polish failed.
    """
    loss = objective.problem.loss
    free = (x != 0) | (objective.pen == 0)
    sign = np.sign(x[free])
    lin = l1w[free] * sign
    quad = l2w[free]
    bounds = [
        (None, None) if (pen == 0) else ((0, None) if sg > 0 else (None, 0))
        for pen, sg in zip(objective.pen[free], sign)
    ]
    full = x.copy()

    def fun(v):
        full[free] = v
        f, G = loss.loss(objective.eta(full))
        if G is None:
            return np.inf, np.zeros_like(v)
        g = objective.grad_from_G(G)[free]
        return (
            f + np.dot(lin, v) + 0.5 * np.dot(quad, v * v),
            g + lin + quad * v,
        )

    res = minimize(
        fun,
        x[free],
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": max_iter, "gtol": 0.25 * tol, "ftol": 0.0, "maxls": 50},
    )
    if not np.isfinite(res.fun):
        return None, np.inf, 0
    new = x.copy()
    new[free] = res.x
    return new, float(res.fun), int(res.nit)


def fista(objective, alpha, theta, *, lipschitz=1.0, tol=1e-8, max_iter=10_000):
    """Minimise ``f(theta) + alpha * penalty(theta)`` by FISTA with restarts.

    Parameters
    ----------
    objective : _PrestoObjective
        The problem.
    alpha : float
        Penalty strength.
    theta : ndarray
        Feasible starting point.
    lipschitz : float
        Initial estimate of the Lipschitz constant (warm start).
    tol : float
        Tolerance on the KKT residual.
    max_iter : int
        Maximum number of iterations.

    Returns
    -------
    theta : ndarray
        Solution.
    lipschitz : float
        Last Lipschitz estimate.
    n_iter : int
        Number of iterations run.
    kkt : float
        KKT residual at the solution.
    """
    loss = objective.problem.loss
    l1w = alpha * objective.l1_ratio * objective.pen
    l2w = alpha * (1.0 - objective.l1_ratio) * objective.pen

    def smooth(eta, th):
        f, G = loss.loss(eta)
        if G is None:
            return np.inf, None
        return f + 0.5 * np.dot(l2w, th * th), G

    def gradient(G, th):
        return objective.grad_from_G(G) + l2w * th

    x = np.array(theta, dtype=float)
    eta_x = objective.eta(x)
    f_x, G_x = smooth(eta_x, x)
    if G_x is None:
        raise ValueError("The starting point of the PRESTO solver is infeasible.")
    g_x = gradient(G_x, x)
    kkt = _kkt(x, g_x, l1w)
    if kkt <= tol:
        return x, lipschitz, 0, kkt
    F_x = f_x + np.dot(l1w, np.abs(x))
    z, eta_z, f_z, g_z = x, eta_x, f_x, g_x
    t = 1.0
    L = lipschitz
    n_iter = 0
    last_signs = None
    tried = set()
    polish_iter = 0
    for n_iter in range(1, max_iter + 1):
        while True:
            x_new = _soft(z - g_z / L, l1w / L)
            eta_new = objective.eta(x_new)
            f_new, G_new = smooth(eta_new, x_new)
            d = x_new - z
            if G_new is not None and f_new <= f_z + np.dot(g_z, d) + 0.5 * L * np.dot(
                d, d
            ) + 1e-13 * abs(f_z):
                break
            L *= 2.0
            if L > 1e16:
                warnings.warn(
                    "PRESTO's line search failed (Lipschitz estimate above 1e16); "
                    "the result may be inaccurate.",
                    ConvergenceWarning,
                )
                return x, lipschitz, n_iter, kkt
        F_new = f_new + np.dot(l1w, np.abs(x_new))
        if F_new > F_x:
            t = 1.0
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        beta = (t - 1.0) / t_new
        x_old, eta_old = x, eta_x
        x, eta_x, f_x, G_x, F_x = x_new, eta_new, f_new, G_new, F_new
        t = t_new
        L /= 1.5
        converged_check = n_iter % _CHECK_EVERY == 0 or n_iter == max_iter
        if converged_check or beta == 0.0:
            g_x = gradient(G_x, x)
            kkt = _kkt(x, g_x, l1w)
            if kkt <= tol:
                return x, L, n_iter + polish_iter, kkt
            signs = np.sign(x).astype(np.int8).tobytes()
            if converged_check and signs == last_signs and signs not in tried:
                # Support and signs are stable: polish on them (second phase).
                tried.add(signs)
                polished, F_pol, extra = _restricted_lbfgs(
                    objective, x, l1w, l2w, tol, max_iter
                )
                polish_iter += extra
                if polished is not None and F_pol <= F_x:
                    eta_p = objective.eta(polished)
                    f_p, G_p = smooth(eta_p, polished)
                    if G_p is not None:
                        x, eta_x, f_x, G_x = polished, eta_p, f_p, G_p
                        F_x = f_x + np.dot(l1w, np.abs(x))
                        g_x = gradient(G_x, x)
                        kkt = _kkt(x, g_x, l1w)
                        if kkt <= tol:
                            return x, L, n_iter + polish_iter, kkt
                        t, beta = 1.0, 0.0
            if converged_check:
                last_signs = signs
        if beta == 0.0:
            z, eta_z, f_z, g_z = x, eta_x, f_x, g_x
            continue
        z = x + beta * (x - x_old)
        eta_z = eta_x + beta * (eta_x - eta_old)
        f_z, G_z = smooth(eta_z, z)
        if G_z is None:
            t = 1.0
            g_x = gradient(G_x, x)
            z, eta_z, f_z, g_z = x, eta_x, f_x, g_x
        else:
            g_z = gradient(G_z, z)
    g_x = gradient(G_x, x)
    kkt = _kkt(x, g_x, l1w)
    if kkt > tol:
        warnings.warn(
            f"PRESTO did not converge in {max_iter} iterations (KKT residual "
            f"{kkt:.2e} > tol={tol:g}); increase max_iter or tol.",
            ConvergenceWarning,
        )
    return x, L, n_iter + polish_iter, kkt


class _SubProblem:
    """The features ``keep`` of a ``_StandardisedProblem`` (same rows and loss)."""

    def __init__(self, problem, keep):
        self.XT = problem.XT[keep]
        self.loss = problem.loss
        self.K = problem.K
        self.n_features = self.XT.shape[0]
        self.a0 = problem.a0


def _screened_fista(
    objective, alpha, previous_alpha, theta, *, lipschitz=1.0, tol=1e-8, max_iter=10_000
):
    """Run :func:`fista` on a working set of features, grown until KKT holds.

    The working set holds the features with a nonzero or unpenalised
    coordinate in ``theta`` and those that the sequential strong rule
    (Tibshirani et al., 2012) keeps: ``|grad| >= 2 * alpha - previous_alpha``
    at ``theta``; without a previous alpha, all features. The other features
    stay at zero; their KKT conditions are checked on the full problem after
    the restricted solve, and the violators are added before solving again.
    Products with the data only involve the working set, which is what makes
    a path cheap where few features are active. Returns the solution, the
    last Lipschitz estimate and the number of iterations.
    """
    if previous_alpha is None:
        # A single fit from a cold start: the working set would have to grow
        # over several solves, which costs more than it saves.
        theta, lipschitz, n_iter, _ = fista(
            objective, alpha, theta, lipschitz=lipschitz, tol=tol, max_iter=max_iter
        )
        return theta, lipschitz, n_iter
    K1, p = objective.K - 1, objective.p
    rho = objective.l1_ratio
    pen = objective.pen[K1:].reshape(K1, p)
    threshold = np.maximum(2 * alpha - previous_alpha, 0.0) * rho * pen
    _, psi = objective.split(theta)
    f, G = objective.problem.loss.loss(objective.eta(theta))
    grad = objective.grad_from_G(G)[K1:].reshape(K1, p)
    keep = np.any((psi != 0) | (pen == 0) | (np.abs(grad) >= threshold), axis=0)
    n_iter = 0
    while True:
        if keep.all():
            theta, lipschitz, it, _ = fista(
                objective, alpha, theta, lipschitz=lipschitz, tol=tol, max_iter=max_iter
            )
            return theta, lipschitz, n_iter + it
        sub = _PrestoObjective(_SubProblem(objective.problem, keep), True, rho)
        sub.pen = np.concatenate([np.zeros(K1), pen[:, keep].ravel()])
        a, psi = objective.split(theta)
        sub_theta = np.concatenate([a, psi[:, keep].ravel()])
        sub_theta, lipschitz, it, _ = fista(
            sub, alpha, sub_theta, lipschitz=lipschitz, tol=tol, max_iter=max_iter
        )
        n_iter += it
        a, sub_psi = sub.split(sub_theta)
        psi = np.zeros((K1, p))
        psi[:, keep] = sub_psi
        theta = np.concatenate([a, psi.ravel()])
        # KKT of the excluded features (the included ones hold by the solve).
        f, G = objective.problem.loss.loss(objective.eta(theta))
        grad = objective.grad_from_G(G)[K1:].reshape(K1, p)
        violation = np.abs(grad) - alpha * rho * pen > tol
        new = np.any(violation, axis=0) & ~keep
        if not new.any():
            return theta, lipschitz, n_iter
        keep = keep | new
