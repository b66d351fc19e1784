"""Simulations with a known answer for balancing weights."""

from numbers import Integral, Real

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

from skreweight.utils._sklearn_fixes import Interval, validate_params

__all__ = ["make_kang_schafer", "make_mnar_ratings"]


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_kang_schafer(n_samples=1000, random_state=None):
    """Generate the Kang and Schafer (2007) missing-outcome simulation.

    The standard test bed for propensity and balancing weights: four latent
    covariates ``Z`` drive both who responds (``t = 1``) and the outcome, but
    the analyst only sees non-linear transformations ``X`` of them, so a
    logistic propensity model on ``X`` is misspecified. The target is
    ``E[y] = 210``; the mean of ``y`` among responders is biased (about 200).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows.

    random_state : int, numpy Generator, RandomState or None, default=None
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray of shape (n_samples, 4)
        Observed, misspecified covariates ``exp(z1/2)``,
        ``z2 / (1 + exp(z1)) + 10``, ``(z1 z3 / 25 + 0.6)^3`` and
        ``(z2 + z4 + 20)^2``.

    Z : ndarray of shape (n_samples, 4)
        The true standard normal covariates.

    t : ndarray of shape (n_samples,)
        Response (or treatment) indicator, ``P(t = 1 | Z) =
        expit(-z1 + 0.5 z2 - 0.25 z3 - 0.1 z4)``.

    y : ndarray of shape (n_samples,)
        Outcome ``210 + 27.4 z1 + 13.7 (z2 + z3 + z4) + noise``, independent
        of ``t`` given ``Z``.

    propensity : ndarray of shape (n_samples,)
        The true ``P(t = 1 | Z)``.

    See Also
    --------
    make_mnar_ratings : Missing-not-at-random ratings.
    skreweight.weighting.EntropyBalancing : Balancing weights for ``X``.

    References
    ----------
    .. [1] J. D. Y. Kang and J. L. Schafer, "Demystifying Double Robustness: A
       Comparison of Alternative Strategies for Estimating a Population Mean
       from Incomplete Data", Statistical Science 22(4), 2007.

    Examples
    --------
    >>> from skreweight.datasets import make_kang_schafer
    >>> X, Z, t, y, propensity = make_kang_schafer(n_samples=2000, random_state=0)
    >>> X.shape, round(float(t.mean()), 2)
    ((2000, 4), 0.5)
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


@validate_params(
    {
        "n_users": [Interval(Integral, 1, None, closed="left")],
        "n_items": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 2, None, closed="left")],
        "obs_rate": [Interval(Real, 0, 1, closed="neither")],
        "mnar_strength": [Real],
        "noise": [Interval(Real, 0, None, closed="left")],
        "mar_frac": [Interval(Real, 0, 1, closed="both")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
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
    """Generate missing-not-at-random ratings with user and item embeddings.

    Every (user, item) pair has a rating from 1 to 5 driven by latent user
    and item vectors; whether it is observed depends on the embeddings and,
    through ``mnar_strength``, on the rating itself (users rate what they
    like), so the observed ratings are a biased sample of all ratings. The
    features ``X`` of a pair are its user and item vectors.

    Parameters
    ----------
    n_users : int, default=200
        Number of users.

    n_items : int, default=150
        Number of items.

    n_features : int, default=4
        Dimension of the user and item vectors (``X`` has twice as many
        columns).

    obs_rate : float, default=0.05
        Mean observation probability, in (0, 1).

    mnar_strength : float, default=0.5
        Effect of the centred rating ``r - 3`` on the logit of being
        observed; 0 gives missing at random given ``X``.

    noise : float, default=0.5
        Standard deviation of the noise on the latent score.

    mar_frac : float, default=0.05
        Fraction of pairs in the missing-at-random test mask.

    random_state : int, numpy Generator, RandomState or None, default=0
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    X : ndarray of shape (n_users * n_items, 2 * n_features)
        User-major rows ``[U_u, V_i]``.

    r : ndarray of shape (n_users * n_items,)
        Ratings 1 to 5 of every pair (as floats).

    o : ndarray of shape (n_users * n_items,)
        Observed indicator (0 or 1).

    p : ndarray of shape (n_users * n_items,)
        True observation probability.

    mar : ndarray of shape (n_users * n_items,)
        Missing-at-random test mask.

    See Also
    --------
    make_kang_schafer : The classic missing-outcome simulation.
    skreweight.weighting.KernelBalancing : Kernel-balanced weights for MNAR
        data.

    References
    ----------
    .. [1] H. Li, C. Zheng, W. Wang, H. Wang, F. Feng and X.-H. Zhou,
       "Debiased Collaborative Filtering with Kernel-Based Causal Balancing",
       ICLR 2024.

    Examples
    --------
    >>> from skreweight.datasets import make_mnar_ratings
    >>> X, r, o, p, mar = make_mnar_ratings(n_users=50, n_items=40)
    >>> X.shape, round(float(o.mean()), 2)
    ((2000, 8), 0.04)
    >>> bool(r[o == 1].mean() > r.mean())  # observed ratings are optimistic
    True
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
    # Intercept so that the mean observation probability equals obs_rate.
    a = brentq(lambda a: expit(a + lin).mean() - obs_rate, -30, 30)
    p = expit(a + lin)
    o = rng.random((n_users, n_items)) < p
    mar = rng.random((n_users, n_items)) < mar_frac
    X = np.hstack([np.repeat(U, n_items, axis=0), np.tile(V, (n_users, 1))])
    return X, r.ravel().astype(float), o.ravel().astype(int), p.ravel(), mar.ravel()
