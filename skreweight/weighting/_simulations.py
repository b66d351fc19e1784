"""Reference simulations of the weighting spec (Kang-Schafer, MNAR ratings).

Private: the public generators belong in :mod:`skreweight.datasets`; these are
used by the weighting tests, benchmark and examples.
"""

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit


def make_kang_schafer(n_samples=1000, random_state=None):
    """Kang and Schafer (2007) simulation.

    Returns ``X`` (the misspecified, transformed covariates), ``Z`` (the true
    covariates), ``t`` (response / treatment indicator), ``y`` (outcome,
    E[y] = 210, independent of ``t`` given ``Z``) and ``propensity``.
    """
    rng = np.random.default_rng(random_state)
    Z = rng.standard_normal((n_samples, 4))
    propensity = expit(Z @ np.array([-1.0, 0.5, -0.25, -0.1]))
    t = rng.binomial(1, propensity)
    y = 210 + Z @ np.array([27.4, 13.7, 13.7, 13.7]) + rng.standard_normal(n_samples)
    X = np.column_stack(
        [
            np.exp(Z[:, 0] / 2),
            Z[:, 1] / (1 + np.exp(Z[:, 0])) + 10,
            (Z[:, 0] * Z[:, 2] / 25 + 0.6) ** 3,
            (Z[:, 1] + Z[:, 3] + 20) ** 2,
        ]
    )
    return X, Z, t, y, propensity


def make_mnar_ratings(
    n_users=200,
    n_items=150,
    n_features=4,
    obs_rate=0.05,
    mnar_strength=0.5,
    noise=0.5,
    mar_frac=0.05,
    random_state=0,
):
    """Missing-not-at-random ratings with user and item embeddings.

    Returns ``X`` (user-major rows ``[U_u, V_i]``), ``r`` (ratings 1..5 on
    every pair), ``o`` (observed indicator), ``p`` (true observation
    probability) and ``mar`` (a missing-at-random test mask).
    """
    rng = np.random.default_rng(random_state)
    d = n_features
    U = rng.standard_normal((n_users, d))
    V = rng.standard_normal((n_items, d))
    M = rng.standard_normal((d, d)) / np.sqrt(d)
    score = (
        U @ M @ V.T
        + 0.5 * (U[:, [0]] + V[:, 0][None, :])
        + noise * rng.standard_normal((n_users, n_items))
    )
    r = 1 + sum((score > c).astype(int) for c in (-1.5, -0.5, 0.5, 1.5))
    lin = 0.8 * (U[:, [1]] + V[:, 1][None, :]) + mnar_strength * (r - 3)
    a = brentq(lambda a: expit(a + lin).mean() - obs_rate, -30, 30)
    p = expit(a + lin)
    o = rng.random((n_users, n_items)) < p
    mar = rng.random((n_users, n_items)) < mar_frac
    X = np.hstack([np.repeat(U, n_items, axis=0), np.tile(V, (n_users, 1))])
    return X, r.ravel().astype(float), o.ravel().astype(int), p.ravel(), mar.ravel()
