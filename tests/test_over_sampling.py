"""Tests of the imbalanced-learn over-samplers of skreweight.over_sampling."""

from collections import Counter

import imblearn.over_sampling as imb
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.cluster import KMeans
from sklearn.datasets import make_classification
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors
from sklearn.preprocessing import StandardScaler

import skreweight.over_sampling as ours


def _s4():
    return make_classification(
        n_samples=1000,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        n_clusters_per_class=1,
        weights=[0.9],
        flip_y=0.0,
        class_sep=1.0,
        random_state=0,
    )


def _s5():
    return make_classification(
        n_samples=1500,
        n_features=5,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=2,
        weights=[0.7, 0.2, 0.1],
        flip_y=0.0,
        random_state=1,
    )


def _e2():
    return make_classification(
        n_samples=1000,
        n_features=5,
        n_informative=3,
        n_redundant=0,
        weights=[0.9],
        flip_y=0.0,
        class_sep=1.0,
        random_state=0,
    )


def _rebuild(X, prov):
    return X[prov.seed] + prov.gap[:, None] * (X[prov.partner] - X[prov.seed])


SHARED = ["SMOTE", "BorderlineSMOTE", "ADASYN", "SVMSMOTE"]
STRATEGIES_BINARY = [
    "auto",
    "minority",
    "not majority",
    "all",
    0.5,
    {1: 500},
    lambda y: {1: int(np.sum(y == 0) * 0.8)},
]
STRATEGY_IDS = ["auto", "minority", "not-majority", "all", "float", "dict", "callable"]


# ---------------------------------------------------------------- counts ----


@pytest.mark.parametrize("strategy", STRATEGIES_BINARY, ids=STRATEGY_IDS)
@pytest.mark.parametrize("name", SHARED)
def test_counts_match_imblearn_binary(name, strategy):
    X, y = _s4()
    a = getattr(ours, name)(sampling_strategy=strategy, random_state=0)
    b = getattr(imb, name)(sampling_strategy=strategy, random_state=0)
    X_a, y_a = a.fit_resample(X, y)
    b.fit_resample(X, y)
    assert a.sampling_strategy_ == b.sampling_strategy_
    expected = Counter(y)
    for label, n_new in b.sampling_strategy_.items():
        expected[label] += n_new
    # exact counts: ADASYN and SVMSMOTE of imbalanced-learn may miss them
    assert Counter(y_a) == expected
    np.testing.assert_array_equal(X_a[: X.shape[0]], X)
    assert len(a.provenance_.seed) == X_a.shape[0] - X.shape[0]


@pytest.mark.parametrize(
    "strategy", ["auto", "not minority", "all", {1: 400, 2: 500}], ids=str
)
@pytest.mark.parametrize("name", SHARED)
def test_counts_multiclass_and_block_order(name, strategy):
    X, y = _s5()
    sampler = getattr(ours, name)(sampling_strategy=strategy, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    expected = Counter(y)
    for label, n_new in sampler.sampling_strategy_.items():
        expected[label] += n_new
    assert Counter(y_res) == expected
    synthetic = y_res[X.shape[0] :]
    assert np.all(np.diff(synthetic) >= 0), "blocks must come in sorted-label order"
    np.testing.assert_array_equal(y_res[synthetic.size * 0 : X.shape[0]], y)


def test_kmeans_smote_exact_counts():
    X, y = _s4()
    a = ours.KMeansSMOTE(cluster_balance_threshold=0.0, random_state=0)
    b = imb.KMeansSMOTE(cluster_balance_threshold=0.0, random_state=0)
    _, y_a = a.fit_resample(X, y)
    _, y_b = b.fit_resample(X, y)
    assert Counter(y_a)[1] == Counter(y_a)[0] == 901
    assert a.sampling_strategy_ == b.sampling_strategy_


def test_kmeans_smote_shares_survive_unscaled_features():
    # sparsity = mean_distance ** exponent / n overflows for large distances;
    # with one exponent for all clusters the shares do not depend on the
    # scale of X, so scaling X keeps every cluster's count
    X, y = _s4()

    def seeds_per_cluster(scale):
        sampler = ours.KMeansSMOTE(
            kmeans_estimator=KMeans(n_clusters=4, n_init=1, random_state=0),
            cluster_balance_threshold=0.0,
            density_exponent=10.0,
            random_state=0,
        )
        sampler.fit_resample(X * scale, y)
        return np.bincount(sampler.labels_[sampler.provenance_.seed], minlength=4)

    expected = seeds_per_cluster(1.0)
    assert np.count_nonzero(expected) >= 2
    np.testing.assert_array_equal(seeds_per_cluster(1e40), expected)


def test_adasyn_per_seed_counts_close_to_imblearn():
    X, y = _s4()
    sampler = ours.ADASYN(random_state=0).fit(X, y)
    sampler.fit_resample(X, y)
    counts = sampler.n_samples_per_seed_[1]
    n_new = sampler.sampling_strategy_[1]
    assert counts.sum() == n_new
    # imbalanced-learn's rounding of the same shares
    nn = NearestNeighbors(n_neighbors=6).fit(X)
    nns = nn.kneighbors(X[y == 1], return_distance=False)[:, 1:]
    ratio = np.sum(y[nns] != 1, axis=1) / 5
    rint = np.rint(ratio / ratio.sum() * n_new)
    assert np.max(np.abs(counts - rint)) <= 1


# ------------------------------------------------------------ bit-exact ----


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
@pytest.mark.parametrize("name", ["SMOTE", "BorderlineSMOTE"])
def test_bit_exact_with_imblearn(name, dtype):
    # float32 / int rows: float64 arithmetic rounded once, as imbalanced-learn
    X, y = _e2()
    X = (X * 100).astype(dtype) if dtype is np.int64 else X.astype(dtype)
    X_a, y_a = getattr(ours, name)(random_state=7).fit_resample(X, y)
    X_b, y_b = getattr(imb, name)(random_state=7).fit_resample(X, y)
    np.testing.assert_array_equal(X_a, X_b)
    np.testing.assert_array_equal(y_a, y_b)


def test_danger_indices_match_imblearn():
    X, y = _s4()
    a = ours.BorderlineSMOTE(random_state=0)
    b = imb.BorderlineSMOTE(random_state=0)
    a.fit_resample(X, y)
    b.fit_resample(X, y)
    np.testing.assert_array_equal(a.danger_indices_[1], b.in_danger_indices[1])


# ------------------------------------------------------------ provenance ----

PROVENANCE_CASES = [
    ("SMOTE", {}),
    ("BorderlineSMOTE", {}),
    ("BorderlineSMOTE", {"kind": "borderline-2"}),
    ("ADASYN", {}),
    ("SVMSMOTE", {}),
    ("KMeansSMOTE", {"cluster_balance_threshold": 0.0}),
]


@pytest.mark.parametrize("name, params", PROVENANCE_CASES)
@pytest.mark.parametrize("load", [_s4, _s5], ids=["binary", "multiclass"])
def test_provenance_rebuilds_every_row(name, params, load):
    X, y = load()
    sampler = getattr(ours, name)(random_state=0, **params)
    X_res, y_res = sampler.fit_resample(X, y)
    prov = sampler.provenance_
    n = X.shape[0]
    assert set(prov) >= {"seed", "partner", "gap"}
    assert prov.seed.dtype == np.int64 and prov.gap.dtype == np.float64
    rebuilt = _rebuild(X, prov)
    scale = 1 + np.abs(X_res[n:]).max(axis=1, keepdims=True)
    assert np.all(np.abs(rebuilt - X_res[n:]) <= 1e-12 * scale)
    # seeds carry the label of their synthetic row
    np.testing.assert_array_equal(y[prov.seed], y_res[n:])
    if name == "SVMSMOTE":
        assert np.all((prov.gap > -0.5 - 1e-12) & (prov.gap < 1))
    else:
        assert np.all((prov.gap >= 0) & (prov.gap < 1))
    if params.get("kind") != "borderline-2":
        np.testing.assert_array_equal(y[prov.partner], y_res[n:])


@pytest.mark.parametrize("name", ["SMOTE", "ADASYN", "BorderlineSMOTE"])
def test_partner_is_a_same_class_neighbour_of_its_seed(name):
    X, y = _s5()
    sampler = getattr(ours, name)(random_state=0)
    sampler.fit_resample(X, y)
    prov = sampler.provenance_
    for label in np.unique(y_res_labels := y[prov.seed]):
        idx = np.flatnonzero(y == label)
        nn = NearestNeighbors(n_neighbors=6).fit(X[idx])
        nns = idx[nn.kneighbors(X[idx], return_distance=False)[:, 1:]]
        pos = np.searchsorted(idx, prov.seed[y_res_labels == label])
        partners = prov.partner[y_res_labels == label]
        assert np.all((nns[pos] == partners[:, None]).any(axis=1))


def test_geometry_without_provenance():
    """Each synthetic row lies on a segment to a same-class neighbour."""
    X, y = _s4()
    X_res, _ = ours.SMOTE(random_state=3).fit_resample(X, y)
    idx = np.flatnonzero(y == 1)
    nns = NearestNeighbors(n_neighbors=6).fit(X[idx])
    nns = nns.kneighbors(X[idx], return_distance=False)[:, 1:]
    for z in X_res[X.shape[0] :][:50]:
        ok = False
        for i in range(idx.size):
            xi = X[idx[i]]
            for j in nns[i]:
                d = X[idx[j]] - xi
                g = (z - xi) @ d / (d @ d)
                if 0 <= g <= 1 and np.max(np.abs(z - xi - g * d)) <= 1e-9 * (
                    1 + np.abs(z).max()
                ):
                    ok = True
                    break
            if ok:
                break
        assert ok


def test_seed_and_gap_distributions():
    from scipy import stats

    X, y = _s4()
    sampler = ours.SMOTE(sampling_strategy={1: 99 + 20000}, random_state=0)
    sampler.fit_resample(X, y)
    prov = sampler.provenance_
    counts = np.bincount(np.searchsorted(np.flatnonzero(y == 1), prov.seed))
    assert stats.chisquare(counts).pvalue > 1e-3
    assert stats.kstest(prov.gap, "uniform").pvalue > 1e-3


@pytest.mark.parametrize("n_new", [37, 3 * 99, 3 * 99 + 50])
def test_smote_even_seed_selection_uses_every_seed_evenly(n_new):
    # fewer new rows than seeds, an exact multiple, and a remainder
    X, y = _s4()
    idx = np.flatnonzero(y == 1)
    sampler = ours.SMOTE(
        sampling_strategy={1: idx.size + n_new},
        seed_selection="even",
        random_state=0,
    )
    X_res, y_res = sampler.fit_resample(X, y)
    prov = sampler.provenance_
    assert prov.seed.size == n_new and np.all(y_res[X.shape[0] :] == 1)
    counts = np.bincount(np.searchsorted(idx, prov.seed), minlength=idx.size)
    rounds, extra = divmod(n_new, idx.size)
    assert counts.min() == rounds and counts.max() == rounds + (extra > 0)
    assert np.count_nonzero(counts == rounds + 1) == extra
    # partners are neighbours of their seed; the rows are rebuilt exactly
    nns = NearestNeighbors(n_neighbors=6).fit(X[idx])
    nns = idx[nns.kneighbors(X[idx], return_distance=False)[:, 1:]]
    pos = np.searchsorted(idx, prov.seed)
    assert np.all((nns[pos] == prov.partner[:, None]).any(axis=1))
    np.testing.assert_array_equal(_rebuild(X, prov), X_res[X.shape[0] :])
    assert np.all((prov.gap >= 0) & (prov.gap < 1))


def test_smote_even_seed_selection_multiclass_sparse_deterministic():
    X, y = _s5()
    X_csr = sparse.csr_matrix(X)
    runs = [
        ours.SMOTE(seed_selection="even", random_state=4).fit_resample(data, y)
        for data in (X, X, X_csr)
    ]
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_allclose(runs[2][0].toarray(), runs[0][0], rtol=0, atol=1e-12)
    assert Counter(runs[0][1]) == Counter(
        ours.SMOTE(random_state=4).fit_resample(X, y)[1]
    )
    # the default draws are imbalanced-learn's, "even" ones are not
    X_random, _ = ours.SMOTE(random_state=4).fit_resample(X, y)
    assert not np.array_equal(X_random, runs[0][0])
    with pytest.raises(ValueError, match="seed_selection"):
        ours.SMOTE(seed_selection="uniform").fit_resample(X, y)


# -------------------------------------------------------------- SMOTE-NC ----


def test_smotenc_categories_come_from_neighbours():
    rng = np.random.RandomState(0)
    n = 300
    X = np.column_stack(
        [rng.normal(size=n), rng.randint(0, 4, size=n), rng.normal(size=n)]
    ).astype(float)
    X[:, 1] += 10  # categories 10..13
    y = np.array([0] * 250 + [1] * 50)
    sampler = ours.SMOTENC(categorical_features=[1], random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert Counter(y_res) == {0: 250, 1: 250}
    prov = sampler.provenance_
    new = X_res[n:]
    cont = [0, 2]
    np.testing.assert_allclose(
        new[:, cont], _rebuild(X[:, cont], prov), rtol=0, atol=1e-12
    )
    # the categorical value occurs among the seed's 5 neighbours (VDM space)
    idx = np.flatnonzero(y == 1)
    std = np.median(np.std(X[idx][:, cont], axis=0))
    onehot = (X[idx, 1][:, None] == np.arange(10, 14)).astype(float) * std / np.sqrt(2)
    Z = np.column_stack([X[idx][:, cont], onehot])
    nns = NearestNeighbors(n_neighbors=6).fit(Z).kneighbors(Z, return_distance=False)
    pos = np.searchsorted(idx, prov.seed)
    neigh_values = X[idx[nns[pos, 1:]], 1]
    assert np.all((neigh_values == new[:, 1][:, None]).any(axis=1))


def test_smotenc_pandas_strings_and_counts_match_imblearn():
    rng = np.random.RandomState(1)
    n = 200
    df = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "c": pd.Categorical(rng.choice(["x", "y", "z"], size=n)),
            "b": rng.normal(size=n),
        }
    )
    y = pd.Series(np.array([0] * 160 + [1] * 40), name="target")
    sampler = ours.SMOTENC(categorical_features="auto", random_state=0)
    X_res, y_res = sampler.fit_resample(df, y)
    assert isinstance(X_res, pd.DataFrame) and list(X_res.columns) == ["a", "c", "b"]
    assert isinstance(y_res, pd.Series) and y_res.name == "target"
    assert set(X_res["c"]) <= {"x", "y", "z"}
    pd.testing.assert_frame_equal(X_res.iloc[:n], df, check_dtype=False)
    _, y_b = imb.SMOTENC(categorical_features="auto", random_state=0).fit_resample(
        df, y
    )
    assert Counter(y_res) == Counter(y_b)


def test_smoten_counts_and_values():
    rng = np.random.RandomState(0)
    X = rng.choice(np.array(["a", "b", "c"], dtype=object), size=(120, 3))
    y = np.array([0] * 90 + [1] * 30)
    a = ours.SMOTEN(random_state=0)
    X_res, y_res = a.fit_resample(X, y)
    _, y_b = imb.SMOTEN(random_state=0).fit_resample(X, y)
    assert Counter(y_res) == Counter(y_b)
    assert X_res.dtype == object
    assert set(np.unique(X_res[120:])) <= {"a", "b", "c"}
    assert np.all(a.provenance_.partner == -1)
    assert np.all(y[a.provenance_.seed] == 1)


# -------------------------------------------------------------- I/O ----


@pytest.mark.parametrize("name", SHARED + ["KMeansSMOTE"])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_matches_dense(name, fmt):
    X, y = _s4()
    params = {"cluster_balance_threshold": 0.0} if name == "KMeansSMOTE" else {}
    X_d, y_d = getattr(ours, name)(random_state=0, **params).fit_resample(X, y)
    X_s, y_s = getattr(ours, name)(random_state=0, **params).fit_resample(
        sparse.csr_matrix(X).asformat(fmt), y
    )
    assert X_s.format == fmt
    np.testing.assert_allclose(X_s.toarray(), X_d, atol=1e-12)
    np.testing.assert_array_equal(y_s, y_d)


@pytest.mark.parametrize("name", sorted(set(ours.__all__) - {"SMOTENC", "SMOTEN"}))
def test_integer_rows_accepted_and_kept(name):
    # imbalanced-learn accepts integer X and returns it truncated to int
    X, y = _s4()
    params = {"cluster_balance_threshold": 0.0} if name == "KMeansSMOTE" else {}
    X_int = np.round(X * 100).astype(np.int64)
    sampler = getattr(ours, name)(random_state=0, **params)
    X_res, y_res = sampler.fit_resample(X_int, y)
    assert X_res.dtype == np.int64
    # the originals come first (the surviving ones, for cleaning samplers)
    kept = getattr(sampler, "sample_indices_", np.arange(len(X)))
    np.testing.assert_array_equal(X_res[: kept.size], X_int[kept])
    if not hasattr(sampler, "sample_indices_"):
        _, y_float = getattr(ours, name)(random_state=0, **params).fit_resample(
            X_int.astype(float), y
        )
        assert Counter(y_res) == Counter(y_float)


def test_float32_and_pandas_kept():
    X, y = _s4()
    X_res, _ = ours.SMOTE(random_state=0).fit_resample(X.astype(np.float32), y)
    assert X_res.dtype == np.float32
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    X_res, y_res = ours.SMOTE(random_state=0).fit_resample(df, pd.Series(y))
    assert list(X_res.columns) == list(df.columns)
    assert (X_res.index == pd.RangeIndex(len(X_res))).all()


@pytest.mark.parametrize("name", SHARED + ["SMOTEN"])
def test_determinism_and_inputs_unchanged(name):
    X, y = _s4()
    if name == "SMOTEN":
        X = np.round(X).astype(int)
    X0, y0 = X.copy(), y.copy()
    a = getattr(ours, name)(random_state=11).fit_resample(X, y)
    b = getattr(ours, name)(random_state=11).fit_resample(X, y)
    c = getattr(ours, name)(random_state=12).fit_resample(X, y)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_neighbors_object_is_accepted():
    X, y = _s4()
    a = ours.SMOTE(k_neighbors=NearestNeighbors(n_neighbors=4), random_state=0)
    b = ours.SMOTE(k_neighbors=3, random_state=0)
    np.testing.assert_array_equal(a.fit_resample(X, y)[0], b.fit_resample(X, y)[0])


# ------------------------------------------------------------ bad input ----


@pytest.mark.parametrize("name", ["SMOTE", "BorderlineSMOTE", "SVMSMOTE"])
def test_too_small_class_names_the_parameter(name):
    X, y = _s4()
    keep = np.concatenate([np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:4]])
    with pytest.raises(ValueError, match="k_neighbors.*class 1 has 4 row"):
        getattr(ours, name)(random_state=0).fit_resample(X[keep], y[keep])


def test_one_row_class_raises():
    X, y = _s4()
    keep = np.concatenate([np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:1]])
    with pytest.raises(ValueError, match="has 1 row"):
        ours.SMOTE().fit_resample(X[keep], y[keep])
    with pytest.raises(ValueError, match="n_neighbors"):
        ours.ADASYN().fit_resample(X[keep], y[keep])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("name", SHARED + ["KMeansSMOTE"])
def test_nan_inf_rejected(name, bad):
    X, y = _s4()
    X[3, 2] = bad
    X0 = X.copy()
    with pytest.raises(ValueError, match="NaN|infinity|inf"):
        getattr(ours, name)().fit_resample(X, y)
    np.testing.assert_array_equal(X, X0)


def test_smotenc_bad_categorical_features():
    X, y = _s4()
    with pytest.raises(ValueError, match="categorical_features.*out of range"):
        ours.SMOTENC(categorical_features=[7]).fit_resample(X, y)
    with pytest.raises(ValueError, match="at least one continuous"):
        ours.SMOTENC(categorical_features=list(range(6))).fit_resample(X, y)
    with pytest.raises(ValueError, match="categorical_features='auto'"):
        ours.SMOTENC(categorical_features="auto").fit_resample(X, y)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ours.SMOTENC(categorical_features=[0]).fit_resample(X_nan, y)
    # NaN in a continuous column: scikit-learn's message, not "not numbers"
    with pytest.raises(ValueError, match="NaN") as info:
        ours.SMOTENC(categorical_features=[5]).fit_resample(X_nan, y)
    assert "not numbers" not in str(info.value)


def test_smotenc_string_column_left_continuous_is_named():
    X, y = _s4()
    df = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    df["colour"] = np.where(X[:, 3] > 0, "red", "blue")
    df["size"] = pd.Categorical(np.where(X[:, 4] > 0, "S", "L"))
    # 'auto' takes only the pandas category column; a list may miss one too
    for categorical_features in ["auto", ["size"]]:
        with pytest.raises(ValueError, match="column 'colour' as continuous"):
            ours.SMOTENC(categorical_features=categorical_features).fit_resample(df, y)
    X_obj = df.to_numpy(dtype=object)
    with pytest.raises(ValueError, match="column 3 as continuous"):
        ours.SMOTENC(categorical_features=[4]).fit_resample(X_obj, y)
    X_res, _ = ours.SMOTENC(
        categorical_features=["colour", "size"], random_state=0
    ).fit_resample(df, y)
    assert set(X_res["colour"]) == {"red", "blue"}


def test_dict_strategy_with_unknown_or_shrinking_class():
    X, y = _s4()
    with pytest.raises(ValueError, match="not present"):
        ours.SMOTE(sampling_strategy={2: 500}).fit_resample(X, y)
    with pytest.raises(ValueError, match="(?i)originally"):
        ours.SMOTE(sampling_strategy={1: 10}).fit_resample(X, y)


def test_borderline_without_danger_rows_warns():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(20, 1, (20, 2))])
    y = np.array([0] * 200 + [1] * 20)
    with pytest.warns(UserWarning, match="no row in danger"):
        X_res, _ = ours.BorderlineSMOTE().fit_resample(X, y)
    assert X_res.shape[0] == X.shape[0]


def test_adasyn_without_hard_rows_raises():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(0, 1, (200, 2)), rng.normal(20, 1, (20, 2))])
    y = np.array([0] * 200 + [1] * 20)
    with pytest.raises(ValueError, match="Use SMOTE"):
        ours.ADASYN().fit_resample(X, y)


def test_kmeans_no_cluster_raises_with_hint():
    X, y = _s4()
    with pytest.raises(ValueError, match="cluster_balance_threshold"):
        ours.KMeansSMOTE(cluster_balance_threshold=1.5).fit_resample(X, y)


# ------------------------------------------------- downstream equivalence ----


def _knn_auc(sampler_cls, X, y, seed):
    from sklearn.metrics import roc_auc_score

    scores = []
    for train, test in StratifiedKFold(3, shuffle=True, random_state=0).split(X, y):
        scaler = StandardScaler().fit(X[train])
        X_tr, y_tr = sampler_cls(random_state=seed).fit_resample(
            scaler.transform(X[train]), y[train]
        )
        clf = KNeighborsClassifier(5).fit(X_tr, y_tr)
        proba = clf.predict_proba(scaler.transform(X[test]))[:, 1]
        scores.append(roc_auc_score(y[test], proba))
    return np.mean(scores)


@pytest.mark.parametrize("name", ["SMOTE", "BorderlineSMOTE", "ADASYN"])
def test_downstream_auc_equivalent_to_imblearn(name):
    """On 10 problems, mean AUC differs by less than the seed-to-seed spread."""
    for problem in range(10):
        X, y = make_classification(
            n_samples=300,
            n_features=5 + problem % 3,
            n_informative=3,
            n_redundant=0,
            weights=[0.88],
            flip_y=0.02,
            class_sep=0.8 + 0.1 * (problem % 4),
            random_state=problem,
        )
        a = [_knn_auc(getattr(ours, name), X, y, s) for s in range(5)]
        b = [_knn_auc(getattr(imb, name), X, y, s) for s in range(5)]
        spread = max(np.ptp(a), np.ptp(b))
        assert abs(np.mean(a) - np.mean(b)) <= spread + 1e-12, (problem, a, b)


# --- SVMSMOTE: working-set SVC fit ------------------------------------------


def _working_set_small(monkeypatch, precomputed=False):
    """Make the working-set fit run, in several rounds, on a few thousand rows."""
    import skreweight.over_sampling._svm_working_set as ws

    monkeypatch.setattr(ws, "_MIN_ROWS", 1000)
    monkeypatch.setattr(ws, "_INITIAL_PER_CLASS", 100)
    monkeypatch.setattr(ws, "_ADD_PER_ROUND", 100)
    monkeypatch.setattr(ws, "_MAX_SHARE", 1.0)
    monkeypatch.setattr(ws, "_PRECOMPUTED_MIN_FEATURES", 0 if precomputed else 10**9)
    return ws


def _svm_data(n_classes=2):
    if n_classes == 2:
        weights = [0.9]
    else:
        weights = [0.7] + [0.3 / (n_classes - 1)] * (n_classes - 2)
    return make_classification(
        n_samples=3000,
        n_features=8,
        n_informative=4,
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        weights=weights,
        flip_y=0.02,
        class_sep=1.0,
        random_state=0,
    )


def _assert_same_svm(fitted, support, full, X):
    """Same decision values (to ~libsvm's tol) and the same support vectors.

    Support vectors may differ only where the full fit's dual coefficient is
    small (libsvm's tolerance decides those).
    """
    fitted.decision_function_shape = full.decision_function_shape = "ovo"
    f_full = full.decision_function(X)
    diff = np.abs(fitted.decision_function(X) - f_full).max()
    # libsvm itself (tol=1e-3) is ~1e-3 * max|f| away from the exact solution
    assert diff < 3e-3 * max(1.0, np.abs(f_full).max()), diff
    coef = dict(zip(full.support_, np.abs(full.dual_coef_).max(axis=0)))
    only_full = set(full.support_) - set(support)
    only_ours = set(support) - set(full.support_)
    assert all(coef[i] < 0.05 for i in only_full), only_full
    assert len(only_full) + len(only_ours) <= 0.01 * len(full.support_)


@pytest.mark.parametrize(
    "svc_params, precomputed",
    [({}, False), ({}, True), ({"kernel": "linear", "C": 0.5}, False)],
)
def test_svmsmote_working_set_matches_full_fit(monkeypatch, svc_params, precomputed):
    from sklearn.svm import SVC

    ws = _working_set_small(monkeypatch, precomputed)
    X, y = _svm_data()
    est = SVC(**svc_params)
    sampler = ours.SVMSMOTE(svm_estimator=est, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    rounds = sampler._svm_fit_info["rounds"]
    assert len(rounds) > 2 and rounds[-1]["below_1_minus_tol"] == 0
    assert sampler.svm_working_set_.size < 0.5 * X.shape[0]
    full = SVC(**svc_params).fit(X, y)
    # the fitted SVC indexes the working set; svm_support_ indexes X
    support = sampler.svm_support_
    assert np.array_equal(
        support, sampler.svm_working_set_[sampler.svm_estimator_.support_]
    )
    _assert_same_svm(sampler.svm_estimator_, support, full, X)
    if est.kernel == "rbf":
        assert sampler.svm_estimator_.gamma == pytest.approx(1 / (8 * X.var()))
    assert Counter(y_res) == {0: Counter(y)[0], 1: Counter(y)[0]}
    # no violator left: every row outside the set has y f(x) >= 1 - tol
    f = sampler.svm_estimator_.decision_function(X)
    outside = np.setdiff1d(np.arange(X.shape[0]), sampler.svm_working_set_)
    margin = np.where(y == 1, f, -f)[outside]
    assert margin.min() >= 1 - est.tol - 1e-9
    assert ws._MIN_ROWS == 1000


@pytest.mark.parametrize("n_classes, precomputed", [(3, False), (4, True)])
def test_svmsmote_working_set_multiclass(monkeypatch, n_classes, precomputed):
    from sklearn.svm import SVC

    ws = _working_set_small(monkeypatch, precomputed)
    X, y = _svm_data(n_classes)
    est = SVC(class_weight="balanced")
    fitted, support, rows, info = ws._fit_svc_working_set(est, X, y)
    assert len(info["rounds"]) > 2 and rows.size < X.shape[0]
    # class weights and gamma come from all rows, not the working set
    counts = np.bincount(y)
    expected = {c: len(y) / (n_classes * counts[c]) for c in range(n_classes)}
    assert fitted.class_weight == pytest.approx(expected)
    full = SVC(class_weight="balanced").fit(X, y)
    _assert_same_svm(fitted, support, full, X)
    # the BLAS one-vs-one values are libsvm's (positive towards the first class)
    dec = ws._Decision(fitted, fitted.support_vectors_, "rbf", fitted.gamma)
    K = dec.kernel_block(X[:300])
    values = np.column_stack(
        [K[:, cols] @ coef + b0 for *_, cols, coef, b0 in dec.pairs]
    )
    fitted.decision_function_shape = "ovo"
    assert np.allclose(values, fitted.decision_function(X[:300]), atol=1e-9)
    X_res, y_res = ours.SVMSMOTE(random_state=0).fit_resample(X, y)
    assert set(Counter(y_res).values()) == {counts.max()}


def test_svmsmote_working_set_deterministic(monkeypatch):
    _working_set_small(monkeypatch)
    X, y = _svm_data()
    a = ours.SVMSMOTE(random_state=3).fit_resample(X, y)
    sampler = ours.SVMSMOTE(random_state=3)
    b = sampler.fit_resample(X, y)
    assert sampler.svm_working_set_ is not None
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    c = ours.SVMSMOTE(random_state=4).fit_resample(X, y)
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize(
    "kind", ["poly", "nusvc", "sparse", "small", "rounds", "share"]
)
def test_svmsmote_working_set_falls_back_to_full_fit(monkeypatch, kind):
    from sklearn.svm import SVC, NuSVC

    ws = _working_set_small(monkeypatch)
    X, y = _svm_data()
    est = {"poly": SVC(kernel="poly"), "nusvc": NuSVC(nu=0.1)}.get(kind)
    if kind == "sparse":
        X = sparse.csr_matrix(X)
    if kind == "small":
        X, y = X[:900], y[:900]
    if kind == "rounds":  # no convergence within the rounds allowed
        monkeypatch.setattr(ws, "_MAX_ROUNDS", 2)
    if kind == "share":  # the working set grows past its share of the rows
        monkeypatch.setattr(ws, "_MAX_SHARE", 0.1)
    sampler = ours.SVMSMOTE(svm_estimator=est, random_state=0)
    sampler.fit_resample(X, y)
    assert sampler.svm_working_set_ is None
    assert np.array_equal(sampler.svm_support_, sampler.svm_estimator_.support_)
    full = (SVC(gamma="scale") if est is None else est).fit(X, y)
    assert np.array_equal(sampler.svm_support_, full.support_)
