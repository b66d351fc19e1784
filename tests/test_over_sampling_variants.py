"""Tests of the SMOTE variants and combinations of skreweight.over_sampling."""

from collections import Counter

import numpy as np
import pytest
from scipy import sparse
from sklearn.datasets import make_classification
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors

import skreweight.over_sampling as ours
from skreweight.over_sampling import _cluster


def _s3(flip_y=0.01):
    return make_classification(
        n_samples=2000,
        n_features=10,
        n_informative=4,
        n_redundant=2,
        n_clusters_per_class=2,
        weights=[0.95],
        flip_y=flip_y,
        class_sep=0.8,
        random_state=42,
    )


def _small():
    return make_classification(
        n_samples=400,
        n_features=5,
        n_informative=3,
        n_redundant=0,
        weights=[0.85],
        random_state=3,
    )


def _multi():
    return make_classification(
        n_samples=600,
        n_features=5,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        weights=[0.6, 0.25, 0.15],
        random_state=1,
    )


INTERPOLATING = [
    ("ProWSyn", {}),
    ("LeeSMOTE", {}),
    ("AssembledSMOTE", {}),
    ("PolynomFitSMOTE", {"topology": "bus"}),
    ("PolynomFitSMOTE", {"topology": "mesh"}),
]
ALL_VARIANTS = INTERPOLATING + [
    ("PolynomFitSMOTE", {}),
    ("PolynomFitSMOTE", {"topology": "poly"}),
    ("SMOBD", {}),
    ("GSMOTE", {}),
    ("GSMOTE", {"method": "rbf"}),
    ("CCR", {}),
    ("LVQSMOTE", {}),
]


@pytest.mark.parametrize("name, params", ALL_VARIANTS)
@pytest.mark.parametrize("load", [_small, _multi], ids=["binary", "multiclass"])
def test_exact_counts_determinism_and_input_untouched(name, params, load):
    X, y = load()
    X0 = X.copy()
    a = getattr(ours, name)(random_state=0, **params)
    X_a, y_a = a.fit_resample(X, y)
    X_b, _ = getattr(ours, name)(random_state=0, **params).fit_resample(X, y)
    expected = Counter(y)
    for label, n_new in a.sampling_strategy_.items():
        expected[label] += n_new
    assert Counter(y_a) == expected
    np.testing.assert_array_equal(X_a[: X.shape[0]], X)
    np.testing.assert_array_equal(X_a, X_b)
    np.testing.assert_array_equal(X, X0)
    assert np.all(np.isfinite(X_a))
    assert len(a.provenance_.seed) == X_a.shape[0] - X.shape[0]


@pytest.mark.parametrize("name, params", INTERPOLATING)
def test_interpolating_variants_rebuild_from_provenance(name, params):
    X, y = _multi()
    sampler = getattr(ours, name)(random_state=0, **params)
    X_res, y_res = sampler.fit_resample(X, y)
    p = sampler.provenance_
    new = X_res[X.shape[0] :]
    rebuilt = X[p.seed] + p.gap[:, None] * (X[p.partner] - X[p.seed])
    np.testing.assert_allclose(rebuilt, new, rtol=1e-12, atol=1e-12)
    assert np.all((p.gap >= 0) & (p.gap < 1))
    np.testing.assert_array_equal(y[p.seed], y_res[X.shape[0] :])
    np.testing.assert_array_equal(y[p.partner], y_res[X.shape[0] :])


@pytest.mark.parametrize("name", ["SMOBD", "GSMOTE"])
def test_per_feature_gap_variants_rebuild(name):
    X, y = _small()
    sampler = getattr(ours, name)(random_state=0)
    X_res, _ = sampler.fit_resample(X, y)
    p = sampler.provenance_
    rebuilt = X[p.seed] + p.gaps * (X[p.partner] - X[p.seed])
    np.testing.assert_allclose(rebuilt, X_res[X.shape[0] :], rtol=1e-12, atol=1e-12)
    assert np.all(np.isnan(p.gap))


def test_star_lands_at_fractions_of_the_centroid():
    X = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]] + [[9.0, 9.0]] * 9)
    X[3:] += np.arange(9)[:, None] * 0.1
    y = np.array([1, 1, 1] + [0] * 9)
    sampler = ours.PolynomFitSMOTE(random_state=0)
    X_res, _ = sampler.fit_resample(X, y)  # 6 rows: K = 2 per class row
    p = sampler.provenance_
    assert sorted(p.gap.tolist()) == [1 / 3] * 3 + [2 / 3] * 3
    centroid = sampler.centroids_[1]
    rebuilt = X[p.seed] + p.gap[:, None] * (centroid - X[p.seed])
    np.testing.assert_allclose(X_res[12:], rebuilt)


def test_prowsyn_first_level_is_union_of_majority_neighbourhoods():
    X, y = _small()
    sampler = ours.ProWSyn(random_state=0, k_neighbors=3)
    sampler.fit_resample(X, y)
    idx = np.flatnonzero(y == 1)
    nn = NearestNeighbors(n_neighbors=3).fit(X[idx])
    first = np.unique(nn.kneighbors(X[y == 0], return_distance=False))
    np.testing.assert_array_equal(np.flatnonzero(sampler.levels_[1] == 1), first)


def test_lee_rejects_some_candidates_on_s3():
    X, y = _s3()
    sampler = ours.LeeSMOTE(random_state=0)
    _, y_res = sampler.fit_resample(X, y)
    assert sampler.acceptance_rate_[1] < 1
    assert Counter(y_res)[1] == Counter(y)[0]
    # accepted rows have fewer than half of their neighbours in the other class
    X_new = sampler.fit_resample(X, y)[0][X.shape[0] :]
    nn = NearestNeighbors(n_neighbors=5).fit(X)
    share = np.mean(y[nn.kneighbors(X_new, return_distance=False)] != 1, axis=1)
    assert np.all(share < sampler.final_rejection_level_[1])


def test_smote_ipf_removes_rows_and_keeps_order():
    X, y = _s3(flip_y=0.05)
    sampler = ours.SMOTEIPF(random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    n_smote = X.shape[0] + sampler.smote_.sampling_strategy_[1]
    assert X_res.shape[0] < n_smote
    kept = sampler.sample_indices_
    assert np.all(np.diff(kept) > 0)
    np.testing.assert_array_equal(X_res[: kept.size], X[kept])
    p = sampler.provenance_
    rebuilt = X[p.seed] + p.gap[:, None] * (X[p.partner] - X[p.seed])
    np.testing.assert_allclose(X_res[kept.size :], rebuilt, rtol=1e-12, atol=1e-12)


def test_smobd_yields_requested_rows_on_standardised_data():
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(
        n_samples=2000,
        n_features=10,
        n_informative=5,
        n_redundant=2,
        n_clusters_per_class=2,
        weights=[0.9],
        flip_y=0.01,
        random_state=0,
    )
    X = StandardScaler().fit_transform(X)
    sampler = ours.SMOBD(random_state=0)
    _, y_res = sampler.fit_resample(X, y)
    assert Counter(y_res)[1] == Counter(y)[0]


def test_ccr_sphere_and_translation():
    X, y = _small()
    sampler = ours.CCR(random_state=0, energy=0.5)
    X_res, _ = sampler.fit_resample(X, y)
    p = sampler.provenance_
    l1 = np.abs(X_res[X.shape[0] :] - X[p.seed]).sum(axis=1)
    assert np.all(l1 <= p.radius + 1e-12)
    moved = ours.CCR(random_state=0, energy=20.0, translate_majority=True)
    X_moved, _ = moved.fit_resample(X, y)
    assert np.any(moved.translations_[y == 0] != 0)
    assert np.all(moved.translations_[y == 1] == 0)
    np.testing.assert_allclose(X_moved[: X.shape[0]], X + moved.translations_)


def test_lvq_rebuilds_from_codebooks():
    X, y = _small()
    sampler = ours.LVQSMOTE(random_state=0)
    X_res, _ = sampler.fit_resample(X, y)
    p = sampler.provenance_
    cb = sampler.codebooks_[1]
    rebuilt = cb[p.codebook_a] + X[p.neighbour] - cb[p.codebook_m]
    np.testing.assert_allclose(X_res[X.shape[0] :], rebuilt)
    assert np.all(p.codebook_a != p.codebook_m)


@pytest.mark.parametrize("name", ["SMOTETomek", "SMOTEENN"])
def test_combinations_match_imblearn_rows(name):
    import imblearn.combine

    X, y = _s3()
    X_a, y_a = getattr(ours, name)(random_state=0).fit_resample(X, y)
    X_b, y_b = getattr(imblearn.combine, name)(random_state=0).fit_resample(X, y)
    assert Counter(y_a) == Counter(y_b)
    rows_a = {tuple(r) for r in np.round(X_a, 9)}
    rows_b = {tuple(r) for r in np.round(X_b, 9)}
    assert rows_a == rows_b


@pytest.mark.parametrize("name", ["ProWSyn", "CCR", "LVQSMOTE", "AssembledSMOTE"])
def test_bad_parameters_and_nan(name):
    X, y = _small()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        getattr(ours, name)().fit_resample(X, y)


def _cleaning_problems():
    """Binary and 3-class problems, one with rounded (tied, duplicated) rows."""
    for seed, n_classes, weights, rounded in [
        (0, 2, [0.9], False),
        (1, 3, [0.6, 0.25, 0.15], False),
        (2, 2, [0.8], True),
        (3, 3, None, True),
    ]:
        X, y = make_classification(
            n_samples=800,
            n_features=4,
            n_informative=3,
            n_redundant=0,
            n_classes=n_classes,
            n_clusters_per_class=1,
            weights=weights,
            flip_y=0.05,
            class_sep=0.5,
            random_state=seed,
        )
        yield seed, (np.round(X, 1) if rounded else X), y


@pytest.mark.parametrize("sampler", ["SMOTE", "BorderlineSMOTE", "SVMSMOTE"])
def test_pruned_cleaning_equals_full_search(sampler):
    # The pruned Tomek/ENN searches (bounds from provenance) must flag exactly
    # the rows that the all-rows NearestNeighbors search flags.
    from skreweight.over_sampling._combine import _enn_keep, _tomek_keep
    from skreweight.over_sampling._neighbors import (
        _same_class_bounds,
        enn_keep_pruned,
        tomek_keep_pruned,
    )

    n_removed = 0
    for seed, X, y in _cleaning_problems():
        smote = getattr(ours, sampler)(random_state=seed)
        X_res, y_res = smote.fit_resample(X, y)
        bound1 = _same_class_bounds(X_res, y_res, len(X), smote.provenance_, 1)
        bound3 = _same_class_bounds(X_res, y_res, len(X), smote.provenance_, 3)
        assert np.isfinite(bound1[len(X) :]).all()
        tomek = _tomek_keep(X_res, y_res)
        enn = _enn_keep(X_res, y_res, 3)
        np.testing.assert_array_equal(tomek_keep_pruned(X_res, y_res, bound1), tomek)
        np.testing.assert_array_equal(enn_keep_pruned(X_res, y_res, bound3, 3), enn)
        np.testing.assert_array_equal(
            enn_keep_pruned(X_res, y_res, bound3, 3, None, len(X), smote.provenance_),
            enn,
        )
        n_removed += np.count_nonzero(~tomek) + np.count_nonzero(~enn)
    assert n_removed > 0


@pytest.mark.parametrize("sampler", ["SMOTE", "BorderlineSMOTE", "ADASYN"])
def test_enn_bounds_decide_only_kept_rows(sampler):
    # Rows that the distance bounds keep without a search are kept by the
    # all-rows search; on these problems (binary and 3-class, float32 and
    # rounded rows) the bounds decide most rows of every class.
    from skreweight.over_sampling._combine import _enn_keep
    from skreweight.over_sampling._neighbors import _same_class_bounds, enn_decided

    for seed, X, y in _cleaning_problems():
        X = X.astype(np.float32) if seed == 1 else X
        smote = getattr(ours, sampler)(random_state=seed)
        X_res, y_res = smote.fit_resample(X, y)
        bound = _same_class_bounds(X_res, y_res, len(X), smote.provenance_, 3)
        decided = enn_decided(X_res, y_res, 3, bound, len(X), smote.provenance_)
        if seed == 3:  # balanced classes, nothing over-sampled: no bounds
            assert decided is None
            continue
        enn = _enn_keep(X_res, y_res, 3)
        assert enn[decided].all()
        for label in np.unique(y_res):
            assert decided[y_res == label].mean() > 0.2


def test_enn_bounds_high_dimension():
    # Above 32 features only the rows with provenance bounds are decided (no
    # leaf bounds); the result still equals the all-rows search.
    from skreweight.over_sampling._combine import _enn_keep
    from skreweight.over_sampling._neighbors import (
        _same_class_bounds,
        enn_decided,
        enn_keep_pruned,
    )

    X, y = make_classification(
        n_samples=600, n_features=40, n_informative=5, weights=[0.9], random_state=0
    )
    smote = ours.SMOTE(random_state=0)
    X_res, y_res = smote.fit_resample(X, y)
    bound = _same_class_bounds(X_res, y_res, len(X), smote.provenance_, 3)
    decided = enn_decided(X_res, y_res, 3, bound, len(X), smote.provenance_)
    enn = _enn_keep(X_res, y_res, 3)
    assert enn[decided].all() and decided[len(X) :].mean() > 0.5
    np.testing.assert_array_equal(
        enn_keep_pruned(X_res, y_res, bound, 3, None, len(X), smote.provenance_), enn
    )


def test_enn_bounds_fallback_runs_full_search():
    # Without provenance on balanced classes the bounds would cost as much as
    # the search: none are computed, every row is searched. With labels at
    # random the bounds decide almost no row; the exact search does the rest.
    from skreweight.over_sampling._combine import _enn_keep
    from skreweight.over_sampling._neighbors import enn_decided, enn_keep_pruned

    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 3))
    y = rng.randint(0, 2, size=400)
    assert enn_decided(X, y, 3) is None
    np.testing.assert_array_equal(enn_keep_pruned(X, y, None, 3), _enn_keep(X, y, 3))
    X = rng.normal(size=(2000, 3))
    y = (rng.rand(2000) < 0.05).astype(int)
    smote = ours.SMOTE(random_state=0)
    X_res, y_res = smote.fit_resample(X, y)
    y_res = rng.permutation(y_res)
    decided = enn_decided(X_res, y_res, 3, None, len(X), smote.provenance_)
    assert decided.mean() < 0.05
    np.testing.assert_array_equal(
        enn_keep_pruned(X_res, y_res, None, 3, None, len(X), smote.provenance_),
        _enn_keep(X_res, y_res, 3),
    )


@pytest.mark.parametrize("sampler", ["SMOTE", "ADASYN"])
def test_smoteenn_multiclass_matches_imblearn_enn(sampler):
    # The bound path on a 3-class problem keeps exactly the rows that
    # imbalanced-learn's EditedNearestNeighbours(sampling_strategy="all")
    # keeps on the same over-sampled data.
    from imblearn.under_sampling import EditedNearestNeighbours

    X, y = _multi()
    smote = getattr(ours, sampler)(random_state=0)
    a = ours.SMOTEENN(smote=smote).fit_resample(X, y)
    enn = EditedNearestNeighbours(sampling_strategy="all")
    b = ours.SMOTEENN(smote=smote, enn=enn).fit_resample(X, y)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert len(np.unique(a[1])) == 3 and len(a[1]) < len(smote.fit_resample(X, y)[1])


def test_same_class_bounds_are_upper_bounds():
    from skreweight.over_sampling._neighbors import _same_class_bounds

    X, y = _multi()
    smote = ours.SMOTE(random_state=0)
    X_res, y_res = smote.fit_resample(X, y)
    for k in (1, 3):
        bound = _same_class_bounds(X_res, y_res, len(X), smote.provenance_, k)
        for label in np.unique(y_res):
            rows = np.flatnonzero(y_res == label)
            dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(X_res[rows]).kneighbors()
            assert np.all(dist[:, k - 1] <= bound[rows] * (1 + 1e-9) + 1e-12)
    # provenance that does not describe the output: no bounds, full search
    assert _same_class_bounds(X_res, y_res, len(X) - 1, smote.provenance_, 1) is None
    assert _same_class_bounds(X_res, y_res, len(X), None, 1) is None


@pytest.mark.parametrize("name", ["SMOTETomek", "SMOTEENN"])
def test_combination_without_provenance_matches_pruned(name):
    # An over-sampler without provenance_ takes the full search; same rows.
    import imblearn.over_sampling

    X, y = _s3()
    a = getattr(ours, name)(random_state=0).fit_resample(X, y)
    b = getattr(ours, name)(
        smote=imblearn.over_sampling.SMOTE(random_state=0)
    ).fit_resample(X, y)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("n_jobs", [None, 1, 2])
def test_kmeans_smote_mean_pairwise_distance_blocks(monkeypatch, n_jobs):
    # small blocks: diagonal and off-diagonal blocks, a ragged last block
    monkeypatch.setattr(_cluster, "_MEAN_BLOCK", 64)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 5)) * 3 + 10
    expected = pairwise_distances(X).sum() / (300 * 299)
    got = _cluster._mean_pairwise_distance(X, n_jobs)
    assert got == pytest.approx(expected, rel=1e-12)
    sparse_got = _cluster._mean_pairwise_distance(sparse.csr_matrix(X), n_jobs)
    assert sparse_got == pytest.approx(expected, rel=1e-12)
