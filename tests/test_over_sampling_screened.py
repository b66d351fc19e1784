"""The screened float32 neighbour search behind SMOTE's within-class search."""

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.neighbors import NearestNeighbors
from test_over_sampling_search import _counting, _reference

from skreweight.over_sampling import SMOTE, SMOTEENN, KMeansSMOTE, _base, _screened
from skreweight.over_sampling._screened import screened_kneighbors


@pytest.fixture
def small_tiles(monkeypatch):
    """Tiles and blocks small enough that every stage runs on a few rows."""
    monkeypatch.setattr(_screened, "_QUERY_BLOCK", 100)
    monkeypatch.setattr(_screened, "_TILE", 64)
    monkeypatch.setattr(_screened, "_FOLDS", 3)


def _data(n=2500, n_features=8, seed=0):
    X, _ = make_classification(
        n_samples=n,
        n_features=n_features,
        n_informative=min(5, n_features),
        n_redundant=0,
        n_clusters_per_class=1,
        random_state=seed,
    )
    return X


@pytest.mark.parametrize("n_neighbors", [1, 6, 16])
@pytest.mark.parametrize("n_features", [1, 8, 40])
def test_screened_search_is_exact(small_tiles, n_neighbors, n_features):
    X = _data(n_features=n_features)
    query_idx = np.arange(X.shape[0])
    got = screened_kneighbors(X, query_idx, n_neighbors)
    np.testing.assert_array_equal(got, _reference(X, query_idx, n_neighbors))


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_screened_search_few_queries_split_tiles(small_tiles, n_threads):
    # fewer queries than one block: the rows are split between the threads,
    # each with its own threshold
    X = _data(n=3000, seed=1)
    query_idx = np.array([5, 2999, 17, 0, 1024])
    got = screened_kneighbors(X, query_idx, 7, n_threads=n_threads)
    np.testing.assert_array_equal(got, _reference(X, query_idx, 7))


def test_screened_search_default_sizes_match_scikit_learn():
    # the real tile sizes: 20 blocks x 11 tiles, thresholds refreshed
    X = _data(n=4000, n_features=20, seed=2)
    got = screened_kneighbors(X, np.arange(4000), 6)
    expected = NearestNeighbors(n_neighbors=6).fit(X).kneighbors(X)[1]
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("n_samples", [7, 300, 700])
def test_screened_search_fewer_rows_than_group_minima_need(n_samples):
    # under one tile, or one tile and a part: the first threshold is the
    # k-th smallest product itself, not a group minimum
    X = _data(n=n_samples, n_features=12, seed=5)
    got = screened_kneighbors(X, np.arange(n_samples), 7)
    np.testing.assert_array_equal(got, _reference(X, np.arange(n_samples), 7))


def test_screened_search_sorted_rows_offset_float32(small_tiles):
    # rows sorted along a feature (the first tiles are then unrepresentative
    # without the shuffle) far from the origin, given as float32
    X = _data(n=2000, n_features=5, seed=3)
    X32 = (X[np.argsort(X[:, 0])] + 1e4).astype(np.float32)
    query_idx = np.arange(0, 2000, 3)
    got = screened_kneighbors(X32, query_idx, 6)
    np.testing.assert_array_equal(got, _reference(X32.astype(np.float64), query_idx, 6))


def test_screened_search_duplicate_rows_tie_to_self_then_lower_index(small_tiles):
    # integer rows: many exact ties, resolved like the reference
    rng = np.random.default_rng(4)
    X = rng.integers(0, 6, size=(1500, 3)).astype(float)
    query_idx = np.arange(0, 1500, 7)
    got = screened_kneighbors(X, query_idx, 4)
    np.testing.assert_array_equal(got, _reference(X, query_idx, 4))
    np.testing.assert_array_equal(got[:, 0], query_idx)


def test_screened_search_rounding_margin_keeps_near_ties(small_tiles, monkeypatch):
    # Each query's rows at 1 - 1e-9 ... 1 (below float32 resolution) all lie
    # within its 6th neighbour's distance of 1: without the margin, the float32
    # screen drops some of them.
    rng = np.random.default_rng(5)
    centres = 50.0 * rng.standard_normal((40, 3))
    blocks = []
    for centre in centres:
        directions = rng.standard_normal((30, 3))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        radii = 1 - 1e-9 * rng.random(30)
        blocks.append(np.vstack([centre, centre + radii[:, None] * directions]))
    X = np.vstack(blocks)
    query_idx = np.arange(0, X.shape[0], 31)
    expected = _reference(X, query_idx, 6)
    np.testing.assert_array_equal(screened_kneighbors(X, query_idx, 6), expected)
    monkeypatch.setattr(_screened, "_UNIT_ROUNDOFF", 0.0)
    got = screened_kneighbors(X, query_idx, 6)
    assert got is None or not np.array_equal(got, expected)


def test_screened_search_gives_up(small_tiles, monkeypatch):
    X = _data(n=1000)
    monkeypatch.setattr(_screened, "_MAX_CANDIDATES_PER_NEIGHBOR", 1)
    assert screened_kneighbors(X, np.arange(1000), 6) is None
    # more neighbours than the screen is worth
    monkeypatch.setattr(_screened, "_MAX_CANDIDATES_PER_NEIGHBOR", 64)
    assert screened_kneighbors(X, np.arange(1000), 16) is not None
    assert screened_kneighbors(X, np.arange(1000), 17) is None


def test_class_neighbors_takes_screened_search_and_gives_up(monkeypatch):
    monkeypatch.setattr(_base, "_SCREENED_SEARCH_ENTRIES", 0)
    monkeypatch.setattr(
        _base, "screened_kneighbors", _counting(_base.screened_kneighbors)
    )
    X = _data(n=600, n_features=20)
    nn = NearestNeighbors(n_neighbors=6)
    got = _base._class_neighbors(nn, X, X, 5)
    assert _base.screened_kneighbors.calls == 1
    np.testing.assert_array_equal(got, _reference(X, np.arange(600), 6)[:, 1:])
    # a screen over its budget: scikit-learn's search answers
    monkeypatch.setattr(_screened, "_MAX_CANDIDATES_PER_NEIGHBOR", 0)
    nn.kneighbors = _counting(nn.kneighbors)
    got = _base._class_neighbors(nn, X, X, 5)
    assert _base.screened_kneighbors.calls == 2
    assert nn.kneighbors.calls == 1
    np.testing.assert_array_equal(got, _reference(X, np.arange(600), 6)[:, 1:])


@pytest.mark.parametrize(
    "nn, n_features",
    [
        (NearestNeighbors(n_neighbors=6), 10),  # scikit-learn's k-d tree
        (NearestNeighbors(n_neighbors=6, metric="manhattan"), 20),
        (NearestNeighbors(n_neighbors=6, algorithm="ball_tree"), 20),
    ],
    ids=["tree", "manhattan", "ball_tree"],
)
def test_class_neighbors_screened_only_where_brute_force(monkeypatch, nn, n_features):
    monkeypatch.setattr(_base, "_SCREENED_SEARCH_ENTRIES", 0)
    monkeypatch.setattr(
        _base, "screened_kneighbors", _counting(_base.screened_kneighbors)
    )
    X = _data(n=600, n_features=n_features)
    _base._class_neighbors(nn, X, X, 5)
    assert _base.screened_kneighbors.calls == 0


@pytest.mark.parametrize(
    "sampler",
    [
        SMOTE(random_state=0),
        SMOTEENN(random_state=0),
        KMeansSMOTE(kmeans_estimator=2, cluster_balance_threshold=0.0, random_state=0),
    ],
    ids=["SMOTE", "SMOTEENN", "KMeansSMOTE"],
)
def test_samplers_same_rows_with_screened_search(monkeypatch, sampler):
    X, y = make_classification(
        n_samples=3000,
        n_features=20,
        n_informative=5,
        n_redundant=0,
        weights=[0.6],
        n_clusters_per_class=1,
        random_state=6,
    )
    X_plain, y_plain = sampler.fit_resample(X, y)
    monkeypatch.setattr(_base, "_SCREENED_SEARCH_ENTRIES", 0)
    monkeypatch.setattr(
        _base, "screened_kneighbors", _counting(_base.screened_kneighbors)
    )
    X_fast, y_fast = sampler.fit_resample(X, y)
    assert _base.screened_kneighbors.calls >= 1
    np.testing.assert_array_equal(y_fast, y_plain)
    np.testing.assert_array_equal(X_fast, X_plain)
