"""Tests of skreweight.ordinal: ProportionalOdds, PRESTO, PRESTOCV."""

import warnings

import numpy as np
import pytest
from joblib import parallel_config
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skreweight.ordinal import PRESTO, PRESTOCV, ProportionalOdds
from skreweight.ordinal._base import _StandardisedProblem
from skreweight.ordinal._presto_cv import _alpha_max
from skreweight.ordinal._solver import _kkt, _PrestoObjective, _screened_fista, fista


def _make(n=400, p=3, K=4, seed=0, spread=(0.0, 0.5)):
    """Ordinal data from a (mildly non-parallel) cumulative-logit model."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    beta = rng.normal(size=p)
    cuts = np.linspace(-1.5, 1.5, K - 1)
    latent = X @ beta
    extra = spread[1] * X[:, 0]
    scores = cuts[None, :] - latent[:, None] - np.outer(extra, np.arange(K - 1) / K)
    y = (rng.random(n)[:, None] > expit(scores)).sum(axis=1)
    return X, y


def _theta_standardised(est, X, y, sample_weight=None):
    """The (a, psi) vector of a fitted PRESTO on the standardised scale."""
    w = np.ones(len(y)) if sample_weight is None else sample_weight
    codes = np.searchsorted(est.classes_, y)
    problem = _StandardisedProblem(X, codes, w, est.classes_.size, est.standardize)
    W = est.coef_ * problem.scale
    a = est.intercept_ + est.coef_ @ problem.mean
    psi = np.vstack([W[:1], np.diff(W, axis=0)])
    return problem, np.concatenate([a, psi.ravel()])


def _objective_value(est, X, y):
    problem, theta = _theta_standardised(est, X, y)
    obj = _PrestoObjective(problem, est.penalize_first, 1.0)
    f, _ = problem.loss.loss(obj.eta(theta))
    return f + est.alpha * np.dot(obj.pen, np.abs(theta)), problem, obj, theta


# ---------------------------------------------------------------- ProportionalOdds


def test_proportional_odds_matches_statsmodels():
    OrderedModel = pytest.importorskip(
        "statsmodels.miscmodels.ordinal_model"
    ).OrderedModel
    X, y = _make(n=500, p=3, K=4, spread=(0.0, 0.0))
    X = X * [1.0, 3.0, 0.2] + [0.0, 5.0, -1.0]
    po = ProportionalOdds().fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = OrderedModel(y, X, distr="logit").fit(
            method="bfgs", disp=False, maxiter=5000, gtol=1e-9
        )
    p = X.shape[1]
    assert_allclose(po.coef_, np.tile(res.params[:p], (3, 1)), atol=1e-4)
    thresholds = res.model.transform_threshold_params(res.params)[1:-1]
    assert_allclose(po.intercept_, -thresholds, atol=1e-4)
    assert np.all(np.diff(po.intercept_) < 0)


def test_proportional_odds_two_classes_is_logistic_regression():
    X, y = _make(n=300, K=2)
    lr = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(X, y)
    po = ProportionalOdds().fit(X, y)
    assert_allclose(po.coef_, lr.coef_, atol=1e-5)
    assert_allclose(po.intercept_, lr.intercept_, atol=1e-5)


def test_proportional_odds_ridge_shrinks():
    X, y = _make()
    free = ProportionalOdds().fit(X, y)
    ridge = ProportionalOdds(alpha=1.0).fit(X, y)
    assert np.linalg.norm(ridge.coef_[0]) < 0.8 * np.linalg.norm(free.coef_[0])


# ---------------------------------------------------------------- PRESTO special cases


@pytest.mark.parametrize("alpha", [0.002, 0.02])
def test_presto_two_classes_is_l1_logistic_regression(alpha):
    X, y = _make(n=300, p=4, K=2, seed=1)
    est = PRESTO(alpha=alpha).fit(X, y)
    mean, scale = X.mean(axis=0), X.std(axis=0)
    lr = LogisticRegression(
        l1_ratio=1.0,
        C=1.0 / (alpha * len(y)),
        solver="saga",
        tol=1e-12,
        max_iter=100_000,
    ).fit((X - mean) / scale, y)
    coef = lr.coef_ / scale
    assert_allclose(est.coef_, coef, atol=1e-5)
    assert_allclose(est.intercept_, lr.intercept_ - coef @ mean, atol=1e-5)


def test_presto_two_classes_alpha_zero_is_logistic_regression():
    X, y = _make(n=300, K=2, seed=2)
    est = PRESTO(alpha=0.0).fit(X, y)
    lr = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(X, y)
    assert_allclose(est.coef_, lr.coef_, atol=1e-6)
    assert_allclose(est.intercept_, lr.intercept_, atol=1e-6)
    assert_allclose(est.decision_function(X), lr.decision_function(X), atol=1e-5)


def test_presto_alpha_zero_is_non_parallel_mle():
    X, y = _make(n=400, p=2, K=3, seed=3)
    est = PRESTO(alpha=0.0).fit(X, y)
    n, p = X.shape

    def nll(theta):  # naive, independent likelihood
        a, W = theta[:2], theta[2:].reshape(2, p)
        S = expit(a + X @ W.T)
        S = np.hstack([np.ones((n, 1)), S, np.zeros((n, 1))])
        P = S[np.arange(n), y] - S[np.arange(n), y + 1]
        return -np.mean(np.log(np.clip(P, 1e-300, None)))

    start = np.concatenate([est.intercept_, est.coef_.ravel()]) * 0.5
    res = minimize(nll, start, method="BFGS", options={"gtol": 1e-10})
    assert_allclose(est.intercept_, res.x[:2], atol=1e-4)
    assert_allclose(est.coef_.ravel(), res.x[2:], atol=1e-4)


def test_presto_large_alpha_not_first_is_proportional_odds():
    OrderedModel = pytest.importorskip(
        "statsmodels.miscmodels.ordinal_model"
    ).OrderedModel
    X, y = _make(n=400, p=3, K=4, seed=4)
    w = np.ones(len(y))
    amax, _ = _alpha_max(X, y, w, 4, False, True, 1e-10, 1000)
    est = PRESTO(alpha=1.01 * amax, penalize_first=False).fit(X, y)
    assert_allclose(np.diff(est.coef_, axis=0), 0.0, atol=0)
    po = ProportionalOdds().fit(X, y)
    assert_allclose(est.coef_, po.coef_, atol=1e-6)
    assert_allclose(est.intercept_, po.intercept_, atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = OrderedModel(y, X, distr="logit").fit(
            method="bfgs", disp=False, maxiter=5000, gtol=1e-9
        )
    assert_allclose(est.coef_[0], res.params[:3], atol=1e-4)
    below = PRESTO(alpha=0.9 * amax, penalize_first=False).fit(X, y)
    assert np.any(np.diff(below.coef_, axis=0) != 0)


def test_presto_large_alpha_first_is_intercept_only():
    X, y = _make(seed=5)
    w = np.random.default_rng(0).integers(1, 4, len(y)).astype(float)
    amax, _ = _alpha_max(X, y, w, 4, True, True, 1e-10, 1000)
    est = PRESTO(alpha=amax * 1.001).fit(X, y, sample_weight=w)
    assert_array_equal(est.coef_, 0.0)
    totals = np.bincount(y, weights=w)
    below = np.cumsum(totals)[:-1]
    assert_allclose(est.intercept_, np.log((totals.sum() - below) / below))
    est = PRESTO(alpha=amax * 0.9).fit(X, y, sample_weight=w)
    assert np.any(est.coef_ != 0)


def test_presto_reversal_equivariance():
    X, y = _make(seed=6)
    est = PRESTO(alpha=0.01, penalize_first=False).fit(X, y)
    rev = PRESTO(alpha=0.01, penalize_first=False).fit(X, -y)
    assert_allclose(rev.coef_, -est.coef_[::-1], atol=1e-6)
    assert_allclose(rev.intercept_, -est.intercept_[::-1], atol=1e-6)
    first = PRESTO(alpha=0.01).fit(X, y)
    first_rev = PRESTO(alpha=0.01).fit(X, -y)
    assert not np.allclose(first_rev.coef_, -first.coef_[::-1], atol=1e-3)


# ---------------------------------------------------------------- optimality


@pytest.mark.parametrize("penalize_first", [True, False])
@pytest.mark.parametrize("alpha", [0.003, 0.03])
def test_presto_kkt(alpha, penalize_first):
    X, y = _make(n=500, p=5, K=4, seed=7)
    est = PRESTO(alpha=alpha, penalize_first=penalize_first).fit(X, y)
    problem, theta = _theta_standardised(est, X, y)
    obj = _PrestoObjective(problem, penalize_first, 1.0)
    _, G = problem.loss.loss(obj.eta(theta))
    grad = obj.grad_from_G(G)
    # zeros are exact: recompute the residual on the recovered theta
    theta[np.abs(theta) < 1e-12] = 0.0
    assert _kkt(theta, grad, alpha * obj.pen) <= 1e-6
    assert np.any(np.diff(est.coef_, axis=0) == 0)  # fused differences exist


def test_presto_objective_matches_cvxpy():
    cp = pytest.importorskip("cvxpy")
    X, y = _make(n=120, p=3, K=4, seed=8)
    alpha = 0.01
    est = PRESTO(alpha=alpha).fit(X, y)
    ours, problem, obj, _ = _objective_value(est, X, y)
    Xs = (X - problem.mean) / problem.scale
    n, K = len(y), 4
    a = cp.Variable(K - 1)
    W = cp.Variable((K - 1, X.shape[1]))
    eta = Xs @ W.T + np.ones((n, 1)) @ cp.reshape(a, (1, K - 1), order="C")
    terms = []
    constraints = []
    for c in range(K):
        rows = np.flatnonzero(y == c)
        if c >= 1:
            u = eta[rows, c - 1]
            terms.append(cp.sum(cp.logistic(-u)))
        if c <= K - 2:
            v = eta[rows, c]
            terms.append(cp.sum(cp.logistic(v)))
        if 1 <= c <= K - 2:
            s = cp.Variable(rows.size)
            constraints.append(cp.exp(s) + cp.exp(v - u) <= 1)
            terms.append(-cp.sum(s))
    penalty = cp.sum(cp.abs(W[0])) + sum(
        cp.sum(cp.abs(W[k] - W[k - 1])) for k in range(1, K - 1)
    )
    prob = cp.Problem(cp.Minimize(sum(terms) / n + alpha * penalty), constraints)
    prob.solve(solver=cp.CLARABEL)
    assert ours <= prob.value + 1e-6 * abs(prob.value)
    assert abs(ours - prob.value) <= 1e-6 * abs(prob.value)


def test_warm_start_and_cold_start_agree():
    X, y = _make(seed=9)
    warm = PRESTO(alpha=0.05, warm_start=True).fit(X, y)
    warm.set_params(alpha=0.01).fit(X, y)
    cold = PRESTO(alpha=0.01).fit(X, y)
    assert_allclose(warm.coef_, cold.coef_, atol=1e-6)


# ---------------------------------------------------------------- probabilities


@pytest.mark.parametrize("Est", [ProportionalOdds, PRESTO])
def test_probabilities_valid(Est):
    X, y = _make(seed=10)
    est = Est().fit(X, y)
    for Z in (X, 5 * X):
        proba = est.predict_proba(Z)
        assert proba.shape == (len(Z), 4)
        assert np.all(proba >= 0) and np.all(proba <= 1)
        assert_allclose(proba.sum(axis=1), 1.0)
        assert_array_equal(est.predict(Z), est.classes_[proba.argmax(axis=1)])
        cum = est.predict_cumulative_proba(Z)
        assert cum.shape == (len(Z), 3)
        assert_allclose(cum, np.cumsum(proba, axis=1)[:, :-1], atol=1e-12)
        assert_allclose(np.exp(est.predict_log_proba(Z)), proba)


def test_crossing_policies():
    X, y = _make(n=300, p=3, K=4, seed=11, spread=(0, 2.0))
    est = PRESTO(alpha=0.0).fit(X, y)
    Z = 5 * X
    eta = est.boundary_scores(Z)
    crossing = np.any(np.diff(eta, axis=1) > 0, axis=1)
    assert crossing.any() and not crossing.all()
    raw = expit(-eta)
    for policy in ["isotonic", "sort"]:
        cum = est.set_params(crossing=policy).predict_cumulative_proba(Z)
        assert np.all(np.diff(cum, axis=1) >= 0)
        assert_allclose(cum[~crossing], raw[~crossing])
        assert not np.allclose(cum[crossing], raw[crossing])
        target = (y[:, None] <= np.arange(3)).astype(float)
        assert np.all(
            ((cum - target) ** 2).sum(axis=1)
            <= ((raw - target) ** 2).sum(axis=1) + 1e-12
        )
    with pytest.raises(ValueError, match="crossing"):
        est.set_params(crossing="raise").predict_proba(Z)


def test_string_and_gapped_labels():
    X, y = _make(seed=12)
    names = np.array(["a_low", "b_mid", "c_high", "d_top"])[y]
    gapped = np.array([0, 2, 5, 9])[y]
    base = PRESTO().fit(X, y)
    for labels, expected in [
        (names, np.sort(np.unique(names))),
        (gapped, [0, 2, 5, 9]),
    ]:
        est = PRESTO().fit(X, labels)
        assert_array_equal(est.classes_, expected)
        assert_allclose(est.coef_, base.coef_)
        assert_array_equal(est.predict(X), est.classes_[base.predict(X)])


def test_ordered_categorical_with_other_order_raises():
    pd = pytest.importorskip("pandas")
    X, y = _make(n=100, K=3)
    cat = pd.Series(pd.Categorical.from_codes(y, ["low", "mid", "high"], ordered=True))
    with pytest.raises(ValueError, match="ordered Categorical"):
        PRESTO().fit(X, cat)


# ---------------------------------------------------------------- weights, invariance


@pytest.mark.parametrize(
    "est",
    [ProportionalOdds(), PRESTO(alpha=0.01), PRESTOCV(alphas=4, cv=3)],
    ids=["PO", "PRESTO", "PRESTOCV"],
)
def test_integer_weights_equal_repeated_rows(est):
    X, y = _make(n=150, seed=13)
    w = np.random.default_rng(1).integers(0, 3, len(y))
    w[:4] = 1  # keep every class
    weighted = clone(est).fit(X, y, sample_weight=w)
    if isinstance(est, PRESTOCV):
        # folds of the repeated data must hold the copies of the same rows
        from sklearn.model_selection import GroupKFold

        groups = np.arange(len(y))
        splits = list(GroupKFold(3).split(X, y, groups))
        rep = np.repeat(np.arange(len(y)), w)
        pos = {g: np.flatnonzero(rep == g) for g in groups}
        rep_splits = [
            (np.concatenate([pos[g] for g in tr]), np.concatenate([pos[g] for g in te]))
            for tr, te in splits
        ]
        weighted = clone(est).set_params(cv=splits).fit(X, y, sample_weight=w)
        repeated = clone(est).set_params(cv=rep_splits).fit(X[rep], y[rep])
        assert weighted.alpha_ == repeated.alpha_
    else:
        repeated = clone(est).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    assert_allclose(weighted.coef_, repeated.coef_, atol=1e-6)
    assert_allclose(weighted.intercept_, repeated.intercept_, atol=1e-6)


@pytest.mark.parametrize("Est", [ProportionalOdds, PRESTO])
def test_affine_invariance(Est):
    X, y = _make(seed=14)
    scaled = X * [10.0, -0.1, 3.0] + [100.0, 2.0, -7.0]
    a = Est().fit(X, y).predict_proba(X)
    b = Est().fit(scaled, y).predict_proba(scaled)
    assert_allclose(a, b, atol=1e-6)


def test_inputs_not_modified_and_deterministic():
    X, y = _make(seed=15)
    w = np.ones(len(y))
    X0, y0, w0 = X.copy(), y.copy(), w.copy()
    first = PRESTOCV(alphas=4, cv=3).fit(X, y, sample_weight=w)
    with parallel_config(backend="threading"):  # no process start-up cost
        second = PRESTOCV(alphas=4, cv=3, n_jobs=2).fit(X, y, sample_weight=w)
    assert_array_equal(X, X0)
    assert_array_equal(y, y0)
    assert_array_equal(w, w0)
    assert_array_equal(first.coef_, second.coef_)
    assert_array_equal(first.cv_loss_path_, second.cv_loss_path_)


# ---------------------------------------------------------------- PRESTOCV


def test_presto_cv_path_and_selection():
    X, y = _make(n=400, seed=16)
    cv = PRESTOCV(alphas=6, cv=4).fit(X, y)
    assert np.all(np.diff(cv.alphas_) < 0)
    assert cv.alphas_[0] == pytest.approx(cv.alpha_max_)
    assert cv.cv_loss_path_.shape == (6, 4)
    mean = cv.cv_loss_path_.mean(axis=1)
    assert cv.alpha_ == cv.alphas_[np.flatnonzero(mean == mean.min())[0]]
    ref = PRESTO(alpha=cv.alpha_).fit(X, y)
    assert_allclose(cv.coef_, ref.coef_, atol=1e-6)
    one_se = PRESTOCV(alphas=6, cv=4, rule="1se").fit(X, y)
    assert one_se.alpha_ >= cv.alpha_


def test_presto_cv_loose_fold_tolerance_matches_strict():
    # cv_tol only loosens the fold fits: same ranking, same alpha_, same refit.
    X, y = _make(n=400, p=5, seed=16)
    loose = PRESTOCV(alphas=8, cv=4, cv_tol=1e-5).fit(X, y)
    strict = PRESTOCV(alphas=8, cv=4, cv_tol=None).fit(X, y)
    assert loose.alpha_ == strict.alpha_
    assert_allclose(loose.cv_loss_path_, strict.cv_loss_path_, atol=1e-5)
    assert not np.array_equal(loose.cv_loss_path_, strict.cv_loss_path_)
    assert_allclose(loose.coef_, strict.coef_, atol=1e-7)
    assert_allclose(loose.intercept_, strict.intercept_, atol=1e-7)


@pytest.mark.parametrize("penalize_first", [True, False])
def test_screened_solver_matches_full_solver(penalize_first):
    # The working set starts from a strong-rule threshold of 1.5 * alpha, so
    # features that enter the solution are missing at first and must be added
    # back by the KKT check on all features.
    X, y = _make(n=500, p=8, K=4, seed=21)
    problem = _StandardisedProblem(X, y, np.ones(len(y)), 4, True)
    obj = _PrestoObjective(problem, penalize_first, 1.0)
    start = obj.start()
    if not penalize_first:
        start = fista(obj, 1e3, start)[0]  # the proportional-odds solution
    grad = obj.grad_from_G(problem.loss.loss(obj.eta(start))[1])
    alpha = 0.3 * float(np.max(np.abs(grad[obj.pen > 0])))
    screened, _, _ = _screened_fista(obj, alpha, alpha / 2, start, tol=1e-9)
    full, _, _, _ = fista(obj, alpha, start, tol=1e-9)
    _, G = problem.loss.loss(obj.eta(screened))
    assert _kkt(screened, obj.grad_from_G(G), alpha * obj.pen) <= 1e-9
    assert_allclose(screened, full, atol=1e-7)
    psi = screened[3:].reshape(3, 8)
    g = np.abs(grad[3:].reshape(3, 8))
    # some feature was outside the first working set yet is in the solution
    late = np.any(psi != 0, axis=0) & ~np.any(g >= 1.5 * alpha, axis=0)
    assert late.any() or not penalize_first


def test_presto_cv_ties_go_to_largest_alpha():
    X, y = _make(n=200, seed=17)
    w = np.ones(len(y))
    amax, _ = _alpha_max(X, y, w, 4, True, True, 1e-8, 1000)
    cv = PRESTOCV(alphas=[10 * amax, 5 * amax, 2 * amax], cv=3).fit(X, y)
    assert cv.alpha_ == 10 * amax
    assert_array_equal(cv.coef_, 0.0)


def test_presto_cv_log_loss_and_scorer():
    X, y = _make(n=300, seed=18)
    a = PRESTOCV(alphas=4, cv=3, scoring="log_loss").fit(X, y)
    b = PRESTOCV(alphas=4, cv=3, scoring="neg_log_loss").fit(X, y)
    assert_allclose(a.cv_loss_path_, b.cv_loss_path_, rtol=1e-6)


def test_presto_cv_diabetes_smoke():
    X, target = load_diabetes(return_X_y=True)
    y = np.digitize(target, np.quantile(target, [0.5, 0.8, 0.95]))
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    est = PRESTOCV(alphas=8).fit(X_tr, y_tr)
    proba = est.predict_proba(X_te)
    onehot = np.eye(4)[y_te]
    brier = ((proba - onehot) ** 2).sum(axis=1).mean()
    prior = np.bincount(y_tr, minlength=4) / len(y_tr)
    brier0 = ((prior - onehot) ** 2).sum(axis=1).mean()
    assert brier <= brier0


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("Est", [ProportionalOdds, PRESTO, PRESTOCV])
def test_bad_input(Est):
    X, y = _make(n=100, seed=19)
    with pytest.raises(ValueError, match="2 classes"):
        Est().fit(X, np.zeros(len(y)))
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Est().fit(X_nan, y)
    w = np.ones(len(y))
    w[y == 1] = 0
    with pytest.raises(ValueError, match="class"):
        Est().fit(X, y, sample_weight=w)
    if "alpha" in Est().get_params():
        with pytest.raises(ValueError, match="alpha"):
            Est(alpha=-1.0).fit(X, y)


def test_presto_cv_fold_without_a_class():
    X, y = _make(n=100, seed=20)
    top = np.flatnonzero(y == 3)
    rest = np.setdiff1d(np.arange(len(y)), top)
    splits = [(rest, top), (top.tolist() + rest[:50].tolist(), rest[50:])]
    with pytest.raises(ValueError, match="class \\[3\\]"):
        PRESTOCV(alphas=3, cv=splits).fit(X, y)
    with pytest.raises(ValueError, match="penalize_first"):
        PRESTOCV(penalize_first=False).fit(X, y > 1)


def test_presto_elastic_net_kkt():
    X, y = _make(n=300, p=4, K=4, seed=21)
    alpha, rho = 0.02, 0.5
    est = PRESTO(alpha=alpha, l1_ratio=rho).fit(X, y)
    problem, theta = _theta_standardised(est, X, y)
    obj = _PrestoObjective(problem, True, rho)
    _, G = problem.loss.loss(obj.eta(theta))
    grad = obj.grad_from_G(G) + alpha * (1 - rho) * obj.pen * theta
    theta[np.abs(theta) < 1e-12] = 0.0
    assert _kkt(theta, grad, alpha * rho * obj.pen) <= 1e-6
    lasso = PRESTO(alpha=alpha).fit(X, y)
    assert np.sum(est.coef_ == 0) <= np.sum(lasso.coef_ == 0)
