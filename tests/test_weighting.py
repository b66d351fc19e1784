"""Tests of the balancing reweighters, diagnostics and DR estimator."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics.pairwise import rbf_kernel

from skreweight.weighting import (
    EntropyBalancing,
    KernelBalancing,
    KernelMeanMatching,
    PropensityWeights,
    _kmm,
    balance_table,
    dr_estimate,
    effective_sample_size,
    love_plot,
    standardized_mean_difference,
    weighted_mmd,
)
from skreweight.weighting._utils import (
    cap_and_normalize,
    median_gamma,
    weighted_standardizer,
)

ESTIMANDS = ["ATT", "ATC", "ATE"]


def _data(n=200, d=3, shift=0.7, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    t = (X[:, 0] * shift + rng.normal(size=n) > 0).astype(int)
    return X, t


def _reweighters():
    return [
        PropensityWeights(),
        EntropyBalancing(),
        KernelMeanMatching(solver="fista", random_state=0),
        KernelBalancing(n_rounds=2, n_candidates=100, random_state=0),
    ]


def _ids(est):
    return type(est).__name__


# --------------------------------------------------------------------------
# Contract: non-negative, group sums, untouched reference group.


@pytest.mark.parametrize("estimand", ESTIMANDS)
@pytest.mark.parametrize("reweighter", _reweighters(), ids=_ids)
def test_weight_contract(reweighter, estimand):
    X, t = _data()
    s = np.random.default_rng(1).uniform(0.5, 2, size=len(t))
    X0, s0 = X.copy(), s.copy()
    w = reweighter.set_params(estimand=estimand).fit_reweight(X, t, sample_weight=s)
    assert w.shape == (len(t),) and np.all(np.isfinite(w)) and np.all(w >= 0)
    for g in (0, 1):
        assert_allclose(w[t == g].sum(), s[t == g].sum(), rtol=1e-9)
    if estimand == "ATT":
        assert np.array_equal(w[t == 1], s[t == 1])
    if estimand == "ATC":
        assert np.array_equal(w[t == 0], s[t == 0])
    # inputs unmodified
    assert np.array_equal(X, X0) and np.array_equal(s, s0)
    # deterministic under random_state
    w2 = reweighter.fit_reweight(X, t, sample_weight=s)
    assert_allclose(w, w2)


@pytest.mark.parametrize(
    "reweighter",
    [
        PropensityWeights(LogisticRegression(tol=1e-12, max_iter=10_000), "ATE"),
        EntropyBalancing(estimand="ATE"),
        # Centres are drawn by row index, so only the linear stage is
        # invariant to repeating rows.
        KernelBalancing(estimand="ATE", n_rounds=0, random_state=0),
        # Fixed gamma: the "median" subsample depends on the row count.
        KernelMeanMatching(estimand="ATE", ridge=1e-2, gamma=0.1, random_state=0),
    ],
    ids=_ids,
)
def test_integer_weights_equal_repeated_rows(reweighter):
    X, t = _data(n=60)
    s = np.random.default_rng(2).integers(1, 4, size=len(t))
    w = reweighter.fit_reweight(X, t, sample_weight=s.astype(float))
    w_rep = reweighter.fit_reweight(np.repeat(X, s, axis=0), np.repeat(t, s))
    per_row = np.add.reduceat(w_rep, np.r_[0, np.cumsum(s)[:-1]])
    if isinstance(reweighter, KernelMeanMatching):
        # The QP solution is unique with a ridge; compare to solver accuracy.
        assert_allclose(w, per_row, rtol=2e-3, atol=2e-3)
    else:
        assert_allclose(w, per_row, rtol=1e-6)


# --------------------------------------------------------------------------
# EntropyBalancing


@pytest.mark.parametrize("estimand", ESTIMANDS)
@pytest.mark.parametrize("moments", [1, 2])
def test_entropy_balancing_exact_means(estimand, moments):
    X, t = _data(n=300)
    s = np.random.default_rng(3).uniform(0.5, 2, size=len(t))
    eb = EntropyBalancing(estimand=estimand, moments=moments).fit(X, t, s)
    w = eb.weights_
    feats = np.hstack([X, X**2]) if moments == 2 else X
    groups = {"ATT": [(0, t == 1)], "ATC": [(1, t == 0)]}.get(
        estimand, [(1, t >= 0), (0, t >= 0)]
    )
    for g, target in groups:
        target_mean = np.average(feats[target], axis=0, weights=s[target])
        got = np.average(feats[t == g], axis=0, weights=w[t == g])
        assert_allclose(got, target_mean, atol=1e-8, rtol=0)
    assert eb.converged_ and eb.imbalance_ <= 1e-6
    # The weights are a log-linear function that extends to new rows.
    assert_allclose(s * eb.compute_weights(X, t), w, rtol=1e-10)


def test_entropy_balancing_dr_equals_weighted_mean():
    X, t = _data(n=300)
    rng = np.random.default_rng(4)
    y = X @ [1.0, -2.0, 0.5] + X[:, 0] ** 2 + rng.normal(size=len(t))
    w = EntropyBalancing(estimand="ATE").fit_reweight(X, t)
    y_obs = np.where(t == 1, y, np.nan)
    ols = LinearRegression().fit(X[t == 1], y[t == 1])
    hajek = dr_estimate(y_obs, t, w)
    dr = dr_estimate(y_obs, t, w, y_pred=ols.predict(X))
    assert abs(hajek - dr) <= 1e-5


def test_entropy_balancing_infeasible_raises():
    X, t = _data(n=100)
    X = X.copy()
    X[t == 0, 0] = -np.abs(X[t == 0, 0]) - 5  # controls far below the treated
    with pytest.raises(ValueError, match="infeasible"):
        EntropyBalancing().fit(X, t)
    # approximate balance is always feasible
    assert EntropyBalancing(alpha=1e-2).fit(X, t).converged_


def test_entropy_balancing_not_converged_warns():
    X, t = _data(n=300)
    eb = EntropyBalancing(moments=2, max_iter=1)
    with pytest.warns(ConvergenceWarning, match="did not reach"):
        eb.fit(X, t)
    assert not eb.converged_


def test_entropy_balancing_max_weight():
    X, t = _data(n=300, shift=1.5)
    free = EntropyBalancing().fit_reweight(X, t)
    assert free[t == 0].max() > 4
    eb = EntropyBalancing(max_weight=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        w = eb.fit_reweight(X, t)
    assert w[t == 0].max() <= 4 * (1 + 1e-12)
    assert_allclose(w[t == 0].sum(), (t == 0).sum())


def test_entropy_balancing_nystroem_and_collinear():
    X, t = _data(n=300)
    Xc = np.column_stack([X, 2 * X[:, 0] - X[:, 1]])
    eb = EntropyBalancing(features="nystroem", n_components=50, random_state=0)
    eb.fit(Xc, t)
    assert eb.converged_ and eb.gamma_ > 0
    assert eb.dropped_features_.tolist() == ["x3"] or len(eb.dropped_features_) == 1
    target = Xc[t == 1].mean(axis=0)
    got = np.average(Xc[t == 0], axis=0, weights=eb.weights_[t == 0])
    assert_allclose(got, target, atol=1e-6)


def test_entropy_balancing_large_n_smoke():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 5))
    t = (X[:, 0] + rng.normal(size=20_000) > 0).astype(int)
    eb = EntropyBalancing(features="nystroem", n_components=30, random_state=0)
    eb.fit(X, t)
    assert eb.converged_


def _dual_problem(n=3000, r=80, seed=0):
    rng = np.random.default_rng(seed)
    C = rng.normal(size=(n, r)) + 0.3 * rng.normal(size=(n, 1))
    C -= 0.1 * rng.normal(size=r)  # target means inside the hull
    q = rng.uniform(0.5, 2.0, size=n)
    alpha = np.where(np.arange(r) < 10, 0.0, 1e-3)
    return C, q, alpha


def test_entropy_dual_newton_large_matches_dense_newton(monkeypatch):
    """The many-feature Newton path (warm start, sub-sampled Hessian) reaches
    the same optimum as plain dense Newton, to the optimality tolerance."""
    from skreweight.weighting import _dual

    C, q, alpha = _dual_problem()
    log_q = np.log(q / q.sum())
    ref = _dual._newton(C, log_q, alpha, np.zeros(C.shape[1]), 1e-6, 200)
    assert ref.converged
    # Force both the subsample warm start and the sub-sampled Hessian.
    monkeypatch.setattr(_dual, "_WARM_START_ROWS", 1000)
    monkeypatch.setattr(_dual, "_HESSIAN_ROWS", 1500)
    monkeypatch.setattr(_dual, "_HESSIAN_BLOCK", 257)
    res = _dual.solve_entropy_dual(C, q, alpha=alpha, tol=1e-6, fallback=False)
    assert res.converged and res.n_iter < 50
    grad = C.T @ res.p + alpha * res.lam
    assert np.max(np.abs(grad)) <= 1e-6
    assert_allclose(res.lam, ref.lam, atol=1e-5)
    assert_allclose(res.p, ref.p, rtol=1e-5)
    # Deterministic: the subsamples are seeded.
    again = _dual.solve_entropy_dual(C, q, alpha=alpha, tol=1e-6, fallback=False)
    assert_allclose(again.lam, res.lam, rtol=0, atol=0)


def test_entropy_dual_blocked_hessian():
    from skreweight.weighting import _dual

    C, q, alpha = _dual_problem(n=500, r=60)
    p = q / q.sum()
    mean = C.T @ p
    dense = (C * p[:, None]).T @ C - np.outer(mean, mean) + np.diag(alpha)
    blocked = _dual._hessian(C, p, mean, alpha)
    assert_allclose(blocked, dense, rtol=0, atol=1e-5 * np.abs(dense).max())


def test_entropy_balancing_blocked_features_equal(monkeypatch):
    """Building the balance features in row blocks changes nothing."""
    from skreweight.weighting import _entropy

    X, t = _data(n=400)
    params = {"features": "nystroem", "n_components": 60, "random_state": 0}
    w_one = EntropyBalancing(**params).fit_reweight(X, t)
    monkeypatch.setattr(_entropy, "_FEATURE_BLOCK", 37)
    eb = EntropyBalancing(**params).fit(X, t)
    assert_allclose(eb.weights_, w_one, rtol=1e-8)
    target = X[t == 1].mean(axis=0)
    got = np.average(X[t == 0], axis=0, weights=eb.weights_[t == 0])
    assert_allclose(got, target, atol=1e-8)
    assert_allclose(eb.compute_weights(X, t) * 1.0, eb.weights_, rtol=1e-8)


# --------------------------------------------------------------------------
# KernelMeanMatching


def _shifted(n, seed=0, d=5):
    rng = np.random.default_rng(seed)
    mu = np.zeros(d)
    mu[:3] = [0.6, -0.4, 0.3]
    X = np.vstack([rng.normal(size=(n, d)), rng.normal(size=(n, d)) + mu])
    return X, np.repeat([0, 1], n)


def test_kmm_fista_matches_clarabel():
    pytest.importorskip("cvxpy")
    X, t = _shifted(300)
    common = {"estimand": "ATC", "max_weight": 10, "eps": 0.01, "random_state": 0}
    exact = KernelMeanMatching(solver="clarabel", **common).fit(X, t)
    fista = KernelMeanMatching(solver="fista", max_iter=20000, tol=1e-9, **common)
    fista.fit(X, t)
    assert exact.solver_ == "clarabel" and fista.solver_ == "fista"
    assert abs(fista.imbalance_ - exact.imbalance_) <= 1e-3 * exact.imbalance_
    for kmm in (exact, fista):
        w = kmm.weights_[t == 1]
        assert w.min() >= 0 and w.max() <= 10 + 1e-9
        assert_allclose(w.mean(), 1.0)


def test_kmm_qp_objectives_agree():
    """FISTA and Clarabel reach the same QP objective (before renormalising)."""
    pytest.importorskip("cvxpy")
    from skreweight.weighting._utils import kernel_fn, kernel_row_means

    X, t = _shifted(300)
    mean, scale = weighted_standardizer(X, np.ones(len(t)))
    Z = (X - mean) / scale
    kfun = kernel_fn("rbf", median_gamma(Z, 0))
    Zs, Zt = Z[t == 1], Z[t == 0]
    kappa = kernel_row_means(kfun, Zs, Zt, np.ones(300))
    target = _kmm._target_term(kfun, Zt, np.ones(300), 0)
    base = np.full(300, 1 / 300)
    K = kfun(Zs, Zs)
    u_qp, _, _ = _kmm._solve_cvxpy(K, kappa, base, 0.0, 10 * base, 0.01, "CLARABEL")
    operator = _kmm._KernelOperator(kfun=kfun, Z=Zs)
    u_fista, converged, _ = _kmm._fista(
        operator, kappa, base, 0.0, 10 * base, 0.01, 1e-8, 20000, 0, offset=target
    )
    assert converged

    def mmd2(u):
        return u @ K @ u - 2 * kappa @ u + target

    assert abs(mmd2(u_fista) - mmd2(u_qp)) <= 1e-3 * mmd2(u_qp)
    assert u_fista.min() >= 0 and u_fista.max() <= 10 / 300 + 1e-15
    assert abs(u_fista.sum() - 1) <= 0.01 + 1e-12


def _kmm_qp(n=300, seed=0):
    """The exact KMM QP of ``_shifted(n)`` (ATC) in the solvers' scaling."""
    from skreweight.weighting._utils import kernel_fn, kernel_row_means

    X, t = _shifted(n, seed)
    mean, scale = weighted_standardizer(X, np.ones(len(t)))
    Z = (X - mean) / scale
    kfun = kernel_fn("rbf", median_gamma(Z, 0))
    Zs, Zt = Z[t == 1], Z[t == 0]
    kappa = kernel_row_means(kfun, Zs, Zt, np.ones(n))
    target = _kmm._target_term(kfun, Zt, np.ones(n), 0)
    return kfun, Zs, kappa, target, np.full(n, 1 / n)


@pytest.fixture
def no_fista_fallback(monkeypatch):
    """Fail if the active-set solver falls back to FISTA."""

    def fallback(*args, **kwargs):
        raise AssertionError("the active-set solver fell back to FISTA")

    monkeypatch.setattr(_kmm, "_fista", fallback)


def _assert_kkt(u, K, kappa, base, ridge, eps, upper_factor=10):
    """The KKT conditions of the jittered KMM QP hold at ``u``."""
    upper = upper_factor * base
    diag = _kmm._JITTER + ridge / base
    c = kappa + ridge
    # Constraints.
    assert u.min() >= 0 and np.all(u <= upper)
    assert 1 - eps - 1e-12 <= u.sum() <= 1 + eps + 1e-12
    # KKT: a common gradient on the free weights, bound multipliers of the
    # right sign, and a sum multiplier only when the sum is at a bound.
    g = K @ u + diag * u - c
    free = (u > 1e-9 * upper) & (u < (1 - 1e-9) * upper)
    assert free.sum() >= 20
    tol = 1e-9 * np.abs(kappa).max()
    lam = -g[free].mean()
    assert np.ptp(g[free]) <= tol
    assert np.all(g[u == 0] + lam >= -tol)
    assert np.all(g[u == upper] + lam <= tol)
    if lam > tol:
        assert_allclose(u.sum(), 1 + eps, rtol=1e-12)
    if lam < -tol:
        assert_allclose(u.sum(), 1 - eps, rtol=1e-12)
    if eps == 0:
        assert_allclose(u.sum(), 1, rtol=1e-12)


@pytest.mark.parametrize("eps, ridge", [(0.01, 0.0), (0.0, 0.0), (0.01, 1e-3)])
def test_kmm_active_set_solves_the_qp(no_fista_fallback, eps, ridge):
    """FISTA + active sets: Clarabel's solution to solver precision, KKT exact."""
    pytest.importorskip("cvxpy")
    kfun, Zs, kappa, target, base = _kmm_qp()
    K = kfun(Zs, Zs)
    upper = 10 * base
    u_qp, _, _ = _kmm._solve_cvxpy(K, kappa, base, ridge, upper, eps, "CLARABEL")
    operator = _kmm._KernelOperator(kfun=kfun, Z=Zs)
    u, converged, n_iter = _kmm._fista_active_set(
        operator, kappa, base, ridge, upper, eps, 1e-6, 5000, 0, target
    )
    assert converged and n_iter <= _kmm._WARM_ITER + _kmm._ACTIVE_SET_ITER

    diag = _kmm._JITTER + ridge / base
    c = kappa + ridge

    def objective(v):
        return v @ K @ v + v @ (diag * v) - 2 * c @ v + target + ridge

    # Same optimum: QP objectives within 1e-5 (Clarabel's own gap is ~1e-6),
    # weights within 0.5% of the bound.
    assert abs(objective(u) / objective(u_qp) - 1) <= 1e-5
    assert_allclose(u, u_qp, atol=5e-3 * upper[0])
    _assert_kkt(u, K, kappa, base, ridge, eps)


def test_kmm_active_set_ill_conditioned(no_fista_fallback):
    """A problem on which plain primal-dual active sets do not settle (n=1000,
    d=5, 50 iterations from the same warm start):
    the jitter continuation reaches the exact optimum."""
    kfun, Zs, kappa, target, base = _kmm_qp(1000)
    operator = _kmm._KernelOperator(kfun=kfun, Z=Zs)
    u, converged, n_iter = _kmm._fista_active_set(
        operator, kappa, base, 0.0, 10 * base, 0.01, 1e-6, 5000, 0, target
    )
    assert converged and n_iter <= _kmm._WARM_ITER + _kmm._ACTIVE_SET_ITER
    _assert_kkt(u, kfun(Zs, Zs), kappa, base, 0.0, 0.01)


def test_kmm_active_set_without_stored_kernel(monkeypatch, no_fista_fallback):
    """Kernel blocks recomputed (kernel not stored): the same solution."""
    kfun, Zs, kappa, target, base = _kmm_qp()
    args = (kappa, base, 0.0, 10 * base, 0.01, 1e-6, 5000, 0, target)
    dense = _kmm._KernelOperator(kfun=kfun, Z=Zs)
    u_dense, converged, n_dense = _kmm._fista_active_set(dense, *args)
    # 8 * 300**2 bytes no longer fit, a free block of up to 295 rows does.
    monkeypatch.setattr(_kmm, "_KERNEL_MEMORY_BYTES", 700_000)
    chunked = _kmm._KernelOperator(kfun=kfun, Z=Zs)
    assert chunked.dense is None
    u_chunked, converged, n_iter = _kmm._fista_active_set(chunked, *args)
    assert converged and n_iter <= _kmm._WARM_ITER + _kmm._ACTIVE_SET_ITER
    assert_allclose(u_chunked, u_dense, rtol=0, atol=1e-9 * base[0])


@pytest.mark.parametrize("limit", ["iterations", "memory"])
def test_kmm_active_set_falls_back_to_fista(monkeypatch, limit):
    """When the active sets do not settle (or the free block does not fit),
    FISTA continues from the best point and still solves the QP."""
    kfun, Zs, kappa, target, base = _kmm_qp()
    K = kfun(Zs, Zs)
    upper = 10 * base
    args = (kappa, base, 0.0, upper, 0.01, 1e-8, 20000, 0, target)
    reference, _, _ = _kmm._fista_active_set(_kmm._KernelOperator(kfun, Zs), *args)
    if limit == "iterations":
        monkeypatch.setattr(_kmm, "_ACTIVE_SET_ITER", 1)
    else:
        monkeypatch.setattr(_kmm, "_KERNEL_MEMORY_BYTES", 100_000)
    calls = []
    real = _kmm._fista

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(_kmm, "_fista", spy)
    u, converged, n_iter = _kmm._fista_active_set(_kmm._KernelOperator(kfun, Zs), *args)
    assert calls and converged and n_iter > _kmm._WARM_ITER + 1

    def mmd2(v):
        return v @ K @ v - 2 * kappa @ v + target

    assert abs(mmd2(u) - mmd2(reference)) <= 1e-3 * mmd2(reference)
    assert u.min() >= 0 and np.all(u <= upper) and abs(u.sum() - 1) <= 0.01 + 1e-12


@pytest.mark.parametrize("approximation", [None, "nystroem", "rff"])
def test_kmm_reduces_mmd(approximation):
    X, t = _shifted(200)
    kmm = KernelMeanMatching(
        estimand="ATC", solver="fista", approximation=approximation, random_state=0
    )
    w = kmm.fit_reweight(X, t)
    before = weighted_mmd(X, t, estimand="ATC", random_state=0)
    after = weighted_mmd(X, t, w, estimand="ATC", random_state=0)
    assert after < before / 10
    assert_allclose(kmm.imbalance_, after, rtol=1e-6) if approximation is None else None


def test_kmm_identical_groups_uniform():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    X2 = np.vstack([X, X])
    t = np.repeat([1, 0], 40)
    w = KernelMeanMatching(
        estimand="ATC", max_weight=40, eps=0.0, solver="fista", random_state=0
    ).fit_reweight(X2, t)
    # Uniform weights solve the QP exactly, but its condition number (about
    # 40 / 1e-8 with the 1e-8 jitter) times the rounding of kappa bounds how
    # precisely any solver recovers them: a few 1e-7.
    assert_allclose(w, 1.0, atol=2e-6)


def test_kmm_clip_and_renormalise_when_solver_overshoots(monkeypatch):
    X, t = _shifted(100)
    real = _kmm._fista_active_set

    def overshooting(*args, **kwargs):
        u, converged, n_iter = real(*args, **kwargs)
        upper = args[4]
        u = u.copy()
        u[np.argmax(u)] = 1.5 * upper[0]  # above the box
        u[np.argmin(u)] = -1e-3  # negative
        return u, converged, n_iter

    monkeypatch.setattr(_kmm, "_fista_active_set", overshooting)
    w = KernelMeanMatching(
        estimand="ATC", max_weight=3, solver="fista", random_state=0
    ).fit_reweight(X, t)
    assert w.min() >= 0 and w[t == 1].max() <= 3 + 1e-12
    assert_allclose(w[t == 1].sum(), 100)


def test_cap_and_normalize():
    w = cap_and_normalize([10.0, 1.0, 1.0, 0.0], 3.0, 4.0)
    assert_allclose(w, [3.0, 0.5, 0.5, 0.0])
    with pytest.raises(ValueError, match="max_weight"):
        cap_and_normalize([1.0, 1.0], 0.1, 2.0)


def test_kmm_non_psd_kernel_raises():
    pytest.importorskip("cvxpy")
    X, t = _shifted(30)
    with pytest.raises(ValueError, match="positive semi-definite"):
        KernelMeanMatching(kernel="sigmoid", solver="clarabel").fit(X, t)


# --------------------------------------------------------------------------
# KernelBalancing


@pytest.mark.parametrize("centers", ["random", "worst", "adaptive"])
def test_kernel_balancing_active_centres_balanced(centers):
    X, t = _data(n=300, shift=1.0)
    residual = X[:, 0] ** 2
    kb = KernelBalancing(
        centers=centers, n_rounds=3, imbalance_tol=1e-4, random_state=0
    ).fit(X, t, residual=residual)
    w = kb.weights_
    # recompute the witness at the centres independently
    mean, scale = weighted_standardizer(X, np.ones(len(t)))
    Z = (X - mean) / scale
    Zc = (kb.centers_[0] - mean) / scale
    K = rbf_kernel(Z, Zc, gamma=kb.gamma_)
    delta = w[t == 0] @ K[t == 0] / w[t == 0].sum() - K[t == 1].mean(axis=0)
    assert np.all(np.abs(delta) <= 1e-4 * (1 + 1e-3))
    assert len(kb.center_indices_[0]) + kb.n_rejected_centers_ == 9
    assert_allclose(kb.compute_weights(X, t), w, rtol=1e-9)
    # linear block balanced exactly
    got = np.average(X[t == 0], axis=0, weights=w[t == 0])
    assert_allclose(got, X[t == 1].mean(axis=0), atol=1e-6)


def test_kernel_balancing_reproducible_and_adaptive_needs_residual():
    X, t = _data(n=200)
    a = KernelBalancing(centers="random", n_rounds=2, random_state=3).fit(X, t)
    b = KernelBalancing(centers="random", n_rounds=2, random_state=3).fit(X, t)
    assert np.array_equal(a.center_indices_[0], b.center_indices_[0])
    with pytest.raises(ValueError, match="residual"):
        KernelBalancing(centers="adaptive").fit(X, t)


def test_kernel_balancing_base_weights():
    X, t = _data(n=200)
    kb = KernelBalancing(
        estimand="ATE", base_weights=PropensityWeights(estimand="ATE"), n_rounds=2
    ).fit(X, t)
    assert_allclose(kb.compute_weights(X, t), kb.weights_, rtol=1e-9)
    with pytest.raises(ValueError, match="needs y"):
        kb.compute_weights(X)


# --------------------------------------------------------------------------
# PropensityWeights


def test_propensity_weights_formulas():
    X, t = _data(n=300)
    pw = PropensityWeights(estimand="ATE", normalize=False, clip=0.0).fit(X, t)
    p = pw.propensity_
    assert_allclose(pw.weights_, np.where(t == 1, 1 / p, 1 / (1 - p)))
    lr = LogisticRegression().fit(X, t)
    hajek = PropensityWeights(lr, estimand="ATT").fit(X, t)
    raw = hajek.propensity_ / (1 - hajek.propensity_)
    expected = raw[t == 0] * (t == 0).sum() / raw[t == 0].sum()
    assert_allclose(hajek.weights_[t == 0], expected)
    assert_allclose(hajek.compute_weights(X, t), hajek.weights_)


def test_propensity_weights_clip_and_cv():
    X, t = _data(n=300, shift=4)
    pw = PropensityWeights(clip=0.1, cv=3).fit(X, t)
    assert pw.n_clipped_ > 0
    assert pw.propensity_.min() >= 0.1 and pw.propensity_.max() <= 0.9
    in_sample = PropensityWeights(clip=0.1).fit(X, t)
    assert not np.allclose(pw.propensity_, in_sample.propensity_)


def test_propensity_weights_sample_weight_needs_support():
    class NoWeights(LogisticRegression):
        def fit(self, X, y):
            return super().fit(X, y)

    X, t = _data()
    with pytest.raises(TypeError, match="sample_weight"):
        PropensityWeights(NoWeights()).fit(X, t, sample_weight=np.full(len(t), 2.0))


# --------------------------------------------------------------------------
# Diagnostics


def test_weighted_mmd_matches_double_loop():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    t = np.r_[np.ones(20), np.zeros(30)].astype(int)
    w = rng.uniform(0.1, 3, size=50)
    mean, scale = weighted_standardizer(X, np.ones(50))
    Z = (X - mean) / scale
    gamma = median_gamma(Z, np.random.RandomState(0).randint(np.iinfo(np.int32).max))
    K = rbf_kernel(Z, gamma=gamma)
    a = np.where(t == 0, w, 0)
    a = a / a.sum()
    b = np.where(t == 1, w, 0)
    b = b / b.sum()
    loop = sum(
        (a[i] - b[i]) * (a[j] - b[j]) * K[i, j] for i in range(50) for j in range(50)
    )
    got = weighted_mmd(X, t, w, estimand="ATT", gamma=gamma)
    assert_allclose(got, loop, rtol=1e-10)
    # invariant to rescaling the weights
    assert_allclose(weighted_mmd(X, t, 7 * w, gamma=gamma), got, rtol=1e-10)
    # Nystroem with all rows as landmarks is exact
    approx = weighted_mmd(
        X, t, w, gamma=gamma, approximation="nystroem", n_components=50
    )
    assert_allclose(approx, got, atol=1e-6)
    # U-statistic: drop the i = i' terms within groups
    within = [
        sum(p[i] * p[j] * K[i, j] for i in range(50) for j in range(50) if i != j)
        / (1 - p @ p)
        for p in (a, b)
    ]
    cross = a @ K @ b
    assert_allclose(
        weighted_mmd(X, t, w, gamma=gamma, unbiased=True),
        within[0] + within[1] - 2 * cross,
        rtol=1e-10,
    )


def test_smd_and_ess():
    X = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0], [3.0, 1.0]])
    t = [0, 0, 1, 1]
    # pooled SD of the unweighted groups: sqrt((0.25 + 0.25) / 2) = 0.5
    assert_allclose(standardized_mean_difference(X, t), [-4.0, 0.0])
    # the denominator does not move with the weights
    assert_allclose(standardized_mean_difference(X, t, [0, 1, 1, 1]), [-3.0, 0.0])
    assert_allclose(standardized_mean_difference(X, t, estimand="ATC"), [4.0, 0.0])
    assert effective_sample_size([1, 1, 1, 1]) == 4.0
    assert_allclose(effective_sample_size([3, 1, 0, 0]), 1.6)
    with pytest.raises(ValueError, match="non-negative"):
        effective_sample_size([1, -1])


def test_balance_table_and_love_plot():
    pd = pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    X, t = _data()
    Xdf = pd.DataFrame(X, columns=["age", "income", "score"])
    w = EntropyBalancing().fit_reweight(Xdf, t)
    table = balance_table(Xdf, t, w, random_state=0)
    assert list(table.index) == ["age", "income", "score"]
    assert table["smd_after"].abs().max() < 1e-6
    assert table["smd_before"].abs().max() > 0.2
    summary = table.attrs["summary"]
    assert summary["mmd2_after"] < summary["mmd2_before"]
    assert summary["ess_after"] < summary["ess_before"] == (t == 0).sum()
    ax = love_plot(Xdf, t, w)
    assert len(ax.get_yticklabels()) == 3


def test_dr_estimate_effects():
    rng = np.random.default_rng(0)
    X, t = _data(n=400)
    y = X[:, 0] + 2.0 * t + rng.normal(size=400) * 0.1
    for estimand in ESTIMANDS:
        w = EntropyBalancing(estimand=estimand).fit_reweight(X, t)
        effect = dr_estimate(y, t, w, estimand=estimand, quantity="effect")
        assert abs(effect - 2.0) < 0.05
    with pytest.raises(ValueError, match="shape"):
        dr_estimate(y, t, w, y_pred=np.zeros(400), quantity="effect")


# --------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("reweighter", _reweighters(), ids=_ids)
def test_bad_input(reweighter):
    X, t = _data(n=60)
    with pytest.raises(ValueError, match="binary group indicator"):
        reweighter.fit(X, np.arange(60) % 3)
    with pytest.raises(ValueError, match="1 class"):
        reweighter.fit(X, np.ones(60))
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        reweighter.fit(X_nan, t)
    s = np.where(t == 1, 0.0, 1.0)
    with pytest.raises(ValueError, match="group t=1"):
        reweighter.fit(X, t, sample_weight=s)


def test_bad_diagnostic_input():
    X, t = _data(n=20)
    with pytest.raises(ValueError, match="binary"):
        standardized_mean_difference(X, np.arange(20) % 3)
    with pytest.raises(ValueError, match="shape"):
        weighted_mmd(X, t, np.ones(5))
    with pytest.raises(ValueError, match="non-negative"):
        balance_table(X, t, -np.ones(20))
