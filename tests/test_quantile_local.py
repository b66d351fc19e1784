"""Tests of QuantileAggregator(weighting="local"): the torch softmax gate (DQA)."""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import norm
from sklearn.base import BaseEstimator, RegressorMixin

from skreweight.quantile import (
    QuantileAggregator,
    crossing_rate,
    weighted_interval_score,
)

torch = pytest.importorskip("torch")

Q5 = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
Q19 = np.round(np.arange(1, 20) / 20, 10)
FAST = {"hidden_layer_sizes": (16,), "max_epochs": 30, "num_threads": 1}


class RegionModel(RegressorMixin, BaseEstimator):
    """Fixed multi-level 'model': the true quantiles of ``y | x`` where
    ``(x0 < 0) == good_left``, badly shifted and too wide elsewhere. Training
    is a no-op, so the out-of-fold predictions do not depend on the folds."""

    def __init__(self, good_left=True, quantiles=None):
        self.good_left = good_left
        self.quantiles = quantiles

    def fit(self, X, y, sample_weight=None):
        self.quantiles_ = np.asarray(self.quantiles)
        return self

    def predict(self, X):
        X = np.asarray(X, dtype=float)
        z = norm.ppf(self.quantiles_)
        oracle = X[:, :1] + z
        bad = X[:, :1] + 2.0 + 3.0 * z
        good = (X[:, 0] < 0) == self.good_left
        return np.where(good[:, None], oracle, bad)


class ShiftModel(RegressorMixin, BaseEstimator):
    """Fixed 'model' predicting ``x0 + shift`` at every level (no spread)."""

    def __init__(self, shift=0.0, quantiles=None):
        self.shift = shift
        self.quantiles = quantiles

    def fit(self, X, y, sample_weight=None):
        self.quantiles_ = np.asarray(self.quantiles)
        return self

    def predict(self, X):
        X = np.asarray(X, dtype=float)
        return np.repeat(X[:, :1] + self.shift, len(self.quantiles_), axis=1)


def _regions(n, seed):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(n, 2))
    return X, X[:, 0] + rng.randn(n)


REGION_BASES = [("left", RegionModel(True)), ("right", RegionModel(False))]


def _local(**local_params):
    return QuantileAggregator(
        REGION_BASES,
        Q5,
        weighting="local",
        local_params={**FAST, **local_params},
        random_state=0,
    )


def test_local_deterministic_and_leaves_global_rng_alone():
    X, y = _regions(300, 0)
    state = torch.random.get_rng_state()
    a = _local().fit(X, y)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = _local().fit(X, y)
    assert_array_equal(a.predict(X), b.predict(X))
    assert_array_equal(a.weights_, b.weights_)
    assert a.weight_gate_.loss_curve_ == b.weight_gate_.loss_curve_
    c = _local().set_params(random_state=1).fit(X, y)
    assert not np.array_equal(a.weights_, c.weights_)


@pytest.mark.parametrize("resolution", ["quantile", "fine"])
def test_local_weights_are_softmax(resolution):
    X, y = _regions(200, 1)
    agg = _local(resolution=resolution).fit(X, y)
    p, m = 2, Q5.size
    n_inputs = p if resolution == "quantile" else p * m
    W = agg.weight_gate_.predict_weights(X[:50])
    assert W.shape == (50, n_inputs, m)
    assert np.all(W >= 0)
    assert_allclose(W.sum(axis=1), 1, atol=1e-12)
    assert agg.weights_.shape == (n_inputs, m)
    assert_allclose(agg.weights_, agg.weight_gate_.predict_weights(X).mean(axis=0))
    # predict is the per-row convex combination, then sorted.
    stacked = agg.predict_bases(X[:50])
    if resolution == "quantile":
        combined = (stacked * W).sum(axis=1)
    else:
        combined = np.einsum("ni,nik->nk", stacked.reshape(50, -1), W)
    expected = np.sort(combined, axis=1)
    assert_allclose(agg.predict(X[:50]), expected, rtol=1e-6, atol=1e-6)


def test_local_beats_global_when_best_base_depends_on_x():
    X, y = _regions(400, 2)
    X_test, y_test = _regions(2000, 3)
    wis = {}
    for weighting in ("global", "quantile", "local"):
        agg = QuantileAggregator(
            REGION_BASES,
            Q5,
            weighting=weighting,
            local_params={**FAST, "max_epochs": 60},
            random_state=0,
        ).fit(X, y)
        wis[weighting] = weighted_interval_score(y_test, agg.predict(X_test), Q5).mean()
    # Oracle WIS is ~2.7 here; the global aggregates stay near the mixture.
    assert wis["local"] < 0.8 * min(wis["global"], wis["quantile"]), wis
    # The gate picks the right base on each side of x0 = 0.
    agg = _local(max_epochs=60).fit(X, y)
    W = agg.weight_gate_.predict_weights(np.array([[-1.5, 0.0], [1.5, 0.0]]))
    assert np.all(W[0, 0] > 0.8) and np.all(W[1, 1] > 0.8)


def test_crossing_penalty_reduces_crossing_before_sort():
    # Two spread-less bases around the truth: every level is a learned
    # mixture, and nothing but the penalty keeps the levels in order.
    rng = np.random.RandomState(4)
    X = rng.uniform(-2, 2, size=(300, 2))
    y = X[:, 0] + rng.randn(300)
    bases = [("low", ShiftModel(-2.0)), ("high", ShiftModel(2.0))]
    rates = {}
    for penalty in (0.0, 10.0):
        agg = QuantileAggregator(
            bases,
            Q19,
            weighting="local",
            monotonic=None,
            local_params={
                **FAST,
                "crossing_penalty": penalty,
                "crossing_margin": 0.01,
            },
            random_state=0,
        ).fit(X, y)
        rates[penalty] = crossing_rate(agg.predict(X))[0]
    assert rates[0.0] > 0.01, rates
    assert rates[10.0] < 0.5 * rates[0.0], rates


def test_crossing_penalty_closed_form_matches_pairs():
    from skreweight.quantile._local import _crossing

    rng = np.random.RandomState(0)
    for m in (2, 5, 19):
        q = rng.randn(40, m)
        q[:5] = np.sort(q[:5], axis=1) + 10 * np.arange(m)  # well separated
        lo, hi = np.triu_indices(m, k=1)
        for margin in (0.0, 0.1):
            expected = np.maximum(q[:, lo] - q[:, hi] + margin * (hi - lo), 0)
            got = _crossing(torch, torch.as_tensor(q), margin).numpy()
            assert_allclose(got, expected.mean(axis=1), atol=1e-12)
            assert_array_equal(got[:5], 0)


def test_zero_sample_weight_excludes_rows():
    X, y = _regions(240, 5)
    sw = np.random.RandomState(0).randint(0, 3, size=240).astype(float)
    keep = sw > 0
    y_garbage = y.copy()
    y_garbage[~keep] = 1e3  # would dominate the loss if these rows were used
    full = _local().fit(X, y_garbage, sample_weight=sw)
    sub = _local().fit(X[keep], y[keep], sample_weight=sw[keep])
    assert_allclose(full.predict(X), sub.predict(X), rtol=1e-6, atol=1e-9)
    assert_allclose(full.weights_, sub.weights_, rtol=1e-6, atol=1e-9)
    assert full.weight_gate_.loss_curve_ == sub.weight_gate_.loss_curve_


def test_local_pandas_pickle_and_attributes():
    X, y = _regions(150, 6)
    df = pd.DataFrame(X, columns=["a", "b"])
    agg = _local(max_epochs=5).fit(df, y)
    assert_array_equal(agg.feature_names_in_, ["a", "b"])
    assert agg.oof_predictions_.shape == (150, 2, Q5.size)
    assert 1 <= agg.weight_gate_.n_iter_ <= 5
    assert len(agg.weight_gate_.loss_curve_) == agg.weight_gate_.n_iter_
    loaded = pickle.loads(pickle.dumps(agg))
    assert_array_equal(loaded.predict(df), agg.predict(df))
    assert np.all(np.diff(agg.predict(df), axis=1) >= 0)
    # The other weightings have no gate.
    plain = QuantileAggregator(REGION_BASES, Q5, weighting="quantile").fit(X, y)
    assert plain.weight_gate_ is None


def test_local_params_errors():
    X, y = _regions(60, 7)
    with pytest.raises(ValueError, match="unknown keys"):
        _local(epochs=3).fit(X, y)
    with pytest.raises(ValueError, match="crossing_penalty"):
        _local(crossing_penalty=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="resolution"):
        _local(resolution="coarse").fit(X, y)
    with pytest.raises(ValueError, match="device"):
        _local(device="nonsense").fit(X, y)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _local().fit(X_nan, y)
    with pytest.raises(ValueError, match="non-zero"):
        _local().fit(X, y, sample_weight=np.zeros(60))


def test_missing_torch_raises_clear_import_error():
    code = """
        import importlib.util
        import sys

        class BlockTorch:  # simulate an environment without torch
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "torch":
                    raise ModuleNotFoundError(f"No module named {name!r}")

        sys.meta_path.insert(0, BlockTorch())
        import numpy as np
        import skreweight
        from skreweight.quantile import MultiQuantileRegressor, QuantileAggregator
        from sklearn.linear_model import QuantileRegressor

        assert "torch" not in sys.modules
        base = MultiQuantileRegressor(QuantileRegressor(alpha=0.0), [0.1, 0.9])
        agg = QuantileAggregator([base], [0.1, 0.9], weighting="local")
        X = np.random.RandomState(0).randn(30, 2)
        try:
            agg.fit(X, X[:, 0])
        except ImportError as exc:
            assert 'pip install "skreweight[torch]"' in str(exc), exc
            assert not hasattr(agg, "estimators_")  # failed before base fits
            print("ok")
        """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.stdout.strip() == "ok", result.stderr
