"""The bounded all-rows neighbour search of ADASYN / Borderline-SMOTE."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.neighbors import NearestNeighbors

from skreweight.over_sampling import ADASYN, SVMSMOTE, BorderlineSMOTE, _search
from skreweight.over_sampling._search import kneighbors_among_all


@pytest.fixture
def forced(monkeypatch):
    """Bounded search at any size, with small tiles to cross tile edges."""
    monkeypatch.setattr(_search, "_MIN_PAIRS", 0)
    monkeypatch.setattr(_search, "_QUERY_TILE", 37)
    monkeypatch.setattr(_search, "_OTHER_TILE", 64)


def _data(n=1500, n_features=6, weights=(0.9,), seed=0, n_classes=2):
    return make_classification(
        n_samples=n,
        n_features=n_features,
        n_informative=min(4, n_features),
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        weights=list(weights),
        flip_y=0.05,
        random_state=seed,
    )


def _reference(X, query_idx, n_neighbors):
    """Brute-force exact ranks: distance, then the query row, then the index."""
    diff = X[query_idx, None, :] - X[None, :, :]
    d2 = np.einsum("ijk,ijk->ij", diff, diff)
    rank = np.lexsort(
        (
            np.broadcast_to(np.arange(X.shape[0]), d2.shape),
            np.arange(X.shape[0])[None, :] != query_idx[:, None],
            d2,
        ),
        axis=1,
    )
    return rank[:, :n_neighbors]


def _search_all(X, y, query_idx, label, n_neighbors, own=None):
    nn = NearestNeighbors(n_neighbors=n_neighbors).fit(X)
    return kneighbors_among_all(nn, X, y, query_idx, label, n_neighbors, own=own)


@pytest.mark.parametrize("n_neighbors", [1, 6, 11])
@pytest.mark.parametrize("n_features", [1, 6, 21])
def test_bounded_search_is_exact(forced, n_neighbors, n_features):
    X, y = _data(n_features=n_features)
    query_idx = np.flatnonzero(y == 1)
    got = _search_all(X, y, query_idx, 1, n_neighbors)
    np.testing.assert_array_equal(got, _reference(X, query_idx, n_neighbors))
    # the query row itself comes first
    np.testing.assert_array_equal(got[:, 0], query_idx)


def test_bounded_search_subset_of_class_offset_float32_multiclass(forced):
    X, y = _data(n=1200, n_features=5, weights=(0.6, 0.3), n_classes=3, seed=3)
    # a far offset: the centring keeps the float32 screen tight and exact
    X32 = (X + 1e4).astype(np.float32)
    X64 = X32.astype(np.float64)
    query_idx = np.flatnonzero(y == 2)[::3]
    got = _search_all(X32, y, query_idx, 2, 7)
    np.testing.assert_array_equal(got, _reference(X64, query_idx, 7))


def test_bounded_search_with_given_own_neighbours(forced):
    X, y = _data()
    class_idx = np.flatnonzero(y == 1)
    own = class_idx[
        NearestNeighbors(n_neighbors=6)
        .fit(X[class_idx])
        .kneighbors(X[class_idx], return_distance=False)
    ]
    got = _search_all(X, y, class_idx, 1, 6, own=own)
    np.testing.assert_array_equal(got, _reference(X, class_idx, 6))


def test_bounded_search_gives_up_to_scikit_learn(forced, monkeypatch):
    # a screen that keeps more candidates than its budget falls back
    monkeypatch.setattr(_search, "_MAX_CANDIDATES_PER_NEIGHBOR", 0)
    monkeypatch.setattr(_search, "_MIN_CANDIDATES", 0)
    monkeypatch.setattr(_search, "_bounded_search", _counting(_search._bounded_search))
    X, y = _data(n=600)
    query_idx = np.flatnonzero(y == 1)
    nn = NearestNeighbors(n_neighbors=5).fit(X)
    nn.kneighbors = _counting(nn.kneighbors)
    got = kneighbors_among_all(nn, X, y, query_idx, 1, 5)
    assert _search._bounded_search.calls == 1
    assert nn.kneighbors.calls == 1
    np.testing.assert_array_equal(got, _reference(X, query_idx, 5))


def _counting(func):
    def wrapper(*args, **kwargs):
        wrapper.calls += 1
        return func(*args, **kwargs)

    wrapper.calls = 0
    return wrapper


def test_bounded_search_only_for_default_euclidean(forced, monkeypatch):
    monkeypatch.setattr(_search, "_bounded_search", _counting(_search._bounded_search))
    X, y = _data(n=600)
    query_idx = np.flatnonzero(y == 1)
    nn = NearestNeighbors(n_neighbors=5, metric="manhattan").fit(X)
    got = kneighbors_among_all(nn, X, y, query_idx, 1, 5)
    assert _search._bounded_search.calls == 0
    np.testing.assert_array_equal(
        got, nn.kneighbors(X[query_idx], return_distance=False)
    )


def test_bounded_search_duplicate_rows_across_classes(forced):
    X, y = _data(n=800, n_features=4)
    minority = np.flatnonzero(y == 1)
    # copies of minority rows in the majority class: distance-0 ties
    X = np.vstack([X, X[minority[:20]]])
    y = np.concatenate([y, np.zeros(20, dtype=y.dtype)])
    query_idx = np.flatnonzero(y == 1)
    got = _search_all(X, y, query_idx, 1, 6)
    np.testing.assert_array_equal(got, _reference(X, query_idx, 6))


@pytest.mark.parametrize(
    "sampler",
    [
        ADASYN(random_state=0),
        BorderlineSMOTE(random_state=0),
        BorderlineSMOTE(kind="borderline-2", random_state=0),
        SVMSMOTE(random_state=0),
    ],
    ids=["ADASYN", "Borderline-1", "Borderline-2", "SVMSMOTE"],
)
def test_samplers_same_rows_with_bounded_search(monkeypatch, sampler):
    X, y = _data(n=2000, n_features=8, weights=(0.85,), seed=4)
    X_plain, y_plain = sampler.fit_resample(X, y)
    monkeypatch.setattr(_search, "_bounded_search", _counting(_search._bounded_search))
    monkeypatch.setattr(_search, "_MIN_PAIRS", 0)
    X_fast, y_fast = sampler.fit_resample(X, y)
    assert _search._bounded_search.calls >= 1
    np.testing.assert_array_equal(y_fast, y_plain)
    np.testing.assert_allclose(X_fast, X_plain, rtol=0, atol=1e-12)


def test_bounded_search_rounding_margin_keeps_near_threshold_rows(forced):
    # One query; its 5 same-class neighbours at distance exactly 1 set the
    # threshold; 60 other-class rows sit just inside it (1 - 1e-9 and up),
    # far below float32 resolution: all must survive the float32 screen.
    rng = np.random.default_rng(0)
    directions = rng.standard_normal((60, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radii = 1 - 1e-9 * (1 + np.arange(60) / 60)
    X = np.vstack(
        [np.zeros((1, 3)), np.eye(3), -np.eye(3)[:2], radii[:, None] * directions]
    )
    # far rows pull the mean away: large norms in the centred float32 screen
    far = 100.0 + rng.standard_normal((300, 3))
    X = np.vstack([X, far])
    y = np.r_[np.ones(6, dtype=int), np.zeros(360, dtype=int)]
    got = _search_all(X, y, np.array([0]), 1, 6)
    np.testing.assert_array_equal(got, _reference(X, np.array([0]), 6))
    assert np.all(y[got[0, 1:]] == 0)


def test_bounded_search_not_for_many_features(monkeypatch):
    monkeypatch.setattr(_search, "_MIN_PAIRS", 0)
    monkeypatch.setattr(_search, "_bounded_search", _counting(_search._bounded_search))
    X, y = _data(n=400, n_features=_search._MAX_FEATURES + 1)
    query_idx = np.flatnonzero(y == 1)
    _search_all(X, y, query_idx, 1, 5)
    assert _search._bounded_search.calls == 0
    _search_all(X[:, : _search._MAX_FEATURES], y, query_idx, 1, 5)
    assert _search._bounded_search.calls == 1
