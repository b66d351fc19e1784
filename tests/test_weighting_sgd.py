"""KernelBalancing(solver="sgd"): the paper's stochastic mode."""

import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose
from test_weighting import _shifted  # the shared shifted-Gaussian problem

from skreweight.weighting import KernelBalancing, weighted_mmd

SGD = {"solver": "sgd", "max_iter": 100, "n_candidates": 100, "random_state": 0}


@pytest.mark.parametrize("centers", ["random", "worst", "adaptive"])
def test_sgd_reduces_mmd_and_extends_to_new_rows(centers):
    pytest.importorskip("torch")
    X, t = _shifted(150)
    residual = np.where(t == 1, X[:, 0] ** 2, np.nan)
    kb = KernelBalancing(estimand="ATE", centers=centers, **SGD)
    w = kb.fit_reweight(X, t, residual=residual)
    before = weighted_mmd(X, t, estimand="ATE", random_state=0)
    after = weighted_mmd(X, t, w, estimand="ATE", random_state=0)
    assert after < before / 5
    assert np.all(w > 0)
    assert_allclose([w[t == 0].sum(), w[t == 1].sum()], [150, 150])
    assert_allclose(kb.compute_weights(X, t), w, rtol=1e-9)
    assert kb.n_iter_ == 2 * SGD["max_iter"]  # two reweighted groups
    # Deterministic under random_state.
    again = KernelBalancing(estimand="ATE", centers=centers, **SGD)
    assert_allclose(again.fit_reweight(X, t, residual=residual), w, rtol=1e-12)


def test_sgd_hinge_per_centre_does_not_cancel():
    """Opposite imbalances add up (the official code's summed hinge gives 0)."""
    torch = pytest.importorskip("torch")
    from skreweight.weighting._kernel_balancing_sgd import hinge_per_centre

    delta = torch.tensor([0.1, -0.1], dtype=torch.float64)
    assert_allclose(float(hinge_per_centre(delta, 0.01)), 0.18)
    assert float(hinge_per_centre(delta, 0.2)) == 0.0


def test_sgd_balance_penalty_trades_balance_for_spread():
    pytest.importorskip("torch")
    X, t = _shifted(150)
    out = {}
    for penalty in (1e-3, 1.0):
        w = KernelBalancing(balance_penalty=penalty, **SGD).fit_reweight(X, t)
        mmd = weighted_mmd(X, t, w, random_state=0)
        w0 = w[t == 0]
        out[penalty] = (mmd, w0.sum() ** 2 / (w0 @ w0))
    assert out[1.0][0] < out[1e-3][0]  # better balance...
    assert out[1.0][1] < out[1e-3][1]  # ...for a smaller effective sample size


def test_sgd_without_torch_names_the_extra(monkeypatch):
    X, t = _shifted(30)
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch fails
    with pytest.raises(ImportError, match=r"skreweight\[torch\]"):
        KernelBalancing(**SGD).fit(X, t)
