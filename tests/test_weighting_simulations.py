"""Small versions of the weighting spec's reference simulations.

The 100-seed (Kang-Schafer) and 20-seed (MNAR) numbers are in
``benchmarks/bench_weighting.py``; here a few seeds check the ordering.
"""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreweight.datasets import make_kang_schafer, make_mnar_ratings
from skreweight.weighting import (
    EntropyBalancing,
    KernelBalancing,
    PropensityWeights,
    dr_estimate,
)


def _rmse(errors):
    return float(np.sqrt(np.mean(np.square(errors))))


def test_kang_schafer_balancing_beats_misspecified_ipw():
    errors = {"ipw": [], "eb": [], "kb": []}
    for seed in range(8):
        X, _, t, y, _ = make_kang_schafer(1000, random_state=seed)
        logit = make_pipeline(
            StandardScaler(), LogisticRegression(C=1e12, max_iter=1000)
        )
        reweighters = {
            "ipw": PropensityWeights(logit, estimand="ATE", clip=1e-6),
            "eb": EntropyBalancing(estimand="ATE"),
            "kb": KernelBalancing(estimand="ATE", random_state=seed),
        }
        for name, reweighter in reweighters.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                w = reweighter.fit_reweight(X, t)
            # Missing-data reading: E[Y] = 210 from the t=1 rows.
            y_obs = np.where(t == 1, y, np.nan)
            errors[name].append(dr_estimate(y_obs, t, w) - 210)
    rmse = {name: _rmse(e) for name, e in errors.items()}
    assert rmse["eb"] < rmse["ipw"], rmse
    assert rmse["kb"] < rmse["ipw"], rmse


@pytest.mark.parametrize("seed", [0, 1])
def test_mnar_kernel_balancing_reduces_risk_error(seed):
    X, r, o, p, _ = make_mnar_ratings(
        n_users=100, n_items=60, obs_rate=0.08, random_state=seed
    )
    observed = o == 1
    model = Ridge(alpha=1.0).fit(X[observed], r[observed])
    loss = (r - model.predict(X)) ** 2
    truth = loss.mean()
    loss_obs = np.where(observed, loss, np.nan)
    naive = loss[observed].mean()
    ips = dr_estimate(loss_obs, o, PropensityWeights(estimand="ATE").fit_reweight(X, o))
    kb = KernelBalancing(estimand="ATE", random_state=seed)
    kbips = dr_estimate(loss_obs, o, kb.fit_reweight(X, o))
    assert abs(kbips - truth) < abs(naive - truth)
    assert abs(kbips - truth) < abs(ips - truth)
