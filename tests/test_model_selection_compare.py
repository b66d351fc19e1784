"""Paired cross-validation, estimator comparison, nested CV, parallelism, plots."""

import numpy as np
import pytest
from imblearn import FunctionSampler
from imblearn.pipeline import make_pipeline as make_imb_pipeline
from joblib import parallel_config
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context, get_config
from sklearn.base import BaseEstimator, clone
from sklearn.datasets import load_iris, make_classification
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, make_scorer
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils._param_validation import InvalidParameterError

from skreweight import ReweightedEstimator
from skreweight.base import ReweighterMixin
from skreweight.model_selection import (
    CriticalDifferenceDisplay,
    FiveByTwoSplit,
    RepeatedHoldout,
    bayesian_correlated_ttest,
    bootstrap_632_score,
    combined_ftest_5x2cv,
    compare_estimators,
    corrected_resampled_ttest,
    mcnemar,
    mcnemar_table,
    nested_cross_validate,
    paired_cross_val_scores,
    paired_ttest_5x2cv,
    plot_critical_difference,
    plot_paired_differences,
)
from skreweight.model_selection._plot import _levels


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=120, n_features=5, weights=[0.7], random_state=0
    )
    return np.column_stack([np.arange(len(y)), X]), y


# --------------------------------------------------------------------------
# paired_cross_val_scores
# --------------------------------------------------------------------------


def test_paired_scores_equal_cross_val_score(data):
    X, y = data
    cv = KFold(4, shuffle=True, random_state=0)
    ests = {"tree": DecisionTreeClassifier(random_state=0), "nb": GaussianNB()}
    res = paired_cross_val_scores(ests, X, y, cv=cv)
    assert res.names == ["tree", "nb"] and res.scores.shape == (4, 2)
    for j, est in enumerate(ests.values()):
        assert_allclose(res.scores[:, j], cross_val_score(est, X, y, cv=cv))
    assert_allclose(res.test_train_ratio, 30 / 90)
    assert_array_equal(res.n_test, [30] * 4)


def test_paired_scores_defaults_and_int_cv_are_shuffled(data):
    X, y = data
    ests = [GaussianNB(), GaussianNB()]
    res = paired_cross_val_scores(ests, X, y, random_state=0)
    assert res.scores.shape == (100, 2)  # 10 x 10 repeated stratified CV
    assert res.names == ["GaussianNB", "GaussianNB_2"]
    assert_allclose(res.test_train_ratio, 1 / 9, rtol=0.02)
    a = paired_cross_val_scores(
        ests, X, y, cv=3, random_state=0, return_predictions=True
    )
    b = paired_cross_val_scores(ests, X, y, cv=3, random_state=1)
    assert not np.array_equal(a.test_indices[0], np.arange(40))  # shuffled
    assert not np.array_equal(a.scores, b.scores) or not np.array_equal(
        a.test_indices[0], b.test_indices[0]
    )
    assert len(a.predictions) == 3 and a.predictions[0][0].shape == (40,)


class SpyReweighter(ReweighterMixin, BaseEstimator):
    """Reweighter that records the row ids (column 0) it is fitted on."""

    seen = []

    def fit(self, X, y=None, sample_weight=None):
        SpyReweighter.seen.append(np.asarray(X)[:, 0].astype(int))
        self.weights_ = np.ones(len(X))
        return self


def _spy_sampler(seen):
    def record(X, y):
        seen.append(np.asarray(X)[:, 0].astype(int))
        return X, y

    return FunctionSampler(func=record, validate=False)


def test_samplers_and_reweighters_see_training_rows_only(data):
    X, y = data
    cv = KFold(4, shuffle=True, random_state=0)
    splits = list(cv.split(X, y))
    seen = []
    SpyReweighter.seen = []
    pipe = make_imb_pipeline(_spy_sampler(seen), GaussianNB())
    rew = ReweightedEstimator(GaussianNB(), SpyReweighter())
    paired_cross_val_scores([pipe, rew], X, y, cv=cv)
    for rows in (seen, SpyReweighter.seen):
        assert len(rows) == 4
        for ids, (train, test) in zip(rows, splits):
            assert_array_equal(np.sort(ids), np.sort(train))
            assert not set(ids) & set(test)


class WeightSpy(DecisionTreeClassifier):
    seen = []

    def fit(self, X, y, sample_weight=None):
        WeightSpy.seen.append((X[:, 0].astype(int), sample_weight))
        return super().fit(X, y, sample_weight=sample_weight)


def test_sample_weight_reaches_fit_and_scorer_routing_off(data):
    X, y = data
    w = np.where(np.arange(len(y)) % 3 == 0, 3.0, 1.0)
    w_copy = w.copy()
    cv = KFold(3, shuffle=True, random_state=0)
    WeightSpy.seen = []
    res = paired_cross_val_scores(
        [WeightSpy(random_state=0)],
        X,
        y,
        cv=cv,
        scoring="accuracy",
        params={"sample_weight": w},
    )
    for (ids, sw), (train, test), score in zip(
        WeightSpy.seen, cv.split(X, y), res.scores[:, 0]
    ):
        assert_array_equal(sw, w[train])
        assert_array_equal(ids, train)
        model = DecisionTreeClassifier(random_state=0).fit(
            X[train], y[train], sample_weight=w[train]
        )
        expected = accuracy_score(
            y[test], model.predict(X[test]), sample_weight=w[test]
        )
        assert_allclose(score, expected)
    assert_array_equal(w, w_copy)


def test_routing_on_equals_manual_loop_and_rejects_unrequested(data):
    X, y = data
    w = np.linspace(0.5, 2, len(y))
    cv = KFold(3, shuffle=True, random_state=0)
    with config_context(enable_metadata_routing=True):
        est = LogisticRegression().set_fit_request(sample_weight=True)
        scorer = make_scorer(accuracy_score).set_score_request(sample_weight=True)
        res = paired_cross_val_scores(
            [est], X, y, cv=cv, scoring=scorer, params={"sample_weight": w}
        )
        expected = []
        for train, test in cv.split(X, y):
            model = clone(est).fit(X[train], y[train], sample_weight=w[train])
            expected.append(
                accuracy_score(y[test], model.predict(X[test]), sample_weight=w[test])
            )
        assert_allclose(res.scores[:, 0], expected)
        with pytest.raises(UnsetMetadataPassedError, match="paired_cross_val_scores"):
            paired_cross_val_scores(
                [LogisticRegression()], X, y, cv=cv, params={"sample_weight": w}
            )


def test_paired_scores_bad_input(data):
    X, y = data
    with pytest.raises(ValueError, match="empty"):
        paired_cross_val_scores([], X, y)
    with pytest.raises(TypeError, match="fit"):
        paired_cross_val_scores([GaussianNB(), "tree"], X, y)
    with pytest.raises(InvalidParameterError):
        paired_cross_val_scores(GaussianNB(), X, y)


# --------------------------------------------------------------------------
# compare_estimators and nested CV
# --------------------------------------------------------------------------


def test_compare_5x2cv_equals_tests_on_paired_scores(data):
    X, y = data
    e1, e2 = DecisionTreeClassifier(random_state=0), GaussianNB()
    scores = paired_cross_val_scores(
        [e1, e2], X, y, cv=FiveByTwoSplit(random_state=0)
    ).scores
    d = (scores[:, 0] - scores[:, 1]).reshape(5, 2)
    f = compare_estimators(e1, e2, X, y, test="5x2cv_f", random_state=0)
    t = compare_estimators(e1, e2, X, y, test="5x2cv_t", random_state=0)
    assert tuple(f) == tuple(combined_ftest_5x2cv(d))
    assert tuple(t) == tuple(paired_ttest_5x2cv(d))
    assert_array_equal(f.details["scores"], scores)


def test_compare_corrected_and_bayes(data):
    X, y = data
    e1, e2 = DecisionTreeClassifier(random_state=0), GaussianNB()
    cv = RepeatedHoldout(10, random_state=0)
    res = compare_estimators(e1, e2, X, y, cv=cv)
    s = res.details["scores"]
    ref = corrected_resampled_ttest(s[:, 0], s[:, 1], test_train_ratio=36 / 84)
    assert tuple(res) == tuple(ref)
    bayes = compare_estimators(e1, e2, X, y, test="bayes", cv=cv, rope=0.01)
    bayesian = compare_estimators(e1, e2, X, y, test="bayesian", cv=cv, rope=0.01)
    ref = bayesian_correlated_ttest(
        s[:, 0], s[:, 1], test_train_ratio=36 / 84, rope=0.01
    )
    assert tuple(bayes) == tuple(bayesian) == tuple(ref)


def test_compare_mcnemar(data):
    X, y = data
    e1, e2 = LogisticRegression(), DummyClassifier()
    res = compare_estimators(e1, e2, X, y, test="mcnemar", random_state=0)
    ((train, test),) = RepeatedHoldout(1, random_state=0).split(X, y)
    p1 = clone(e1).fit(X[train], y[train]).predict(X[test])
    p2 = clone(e2).fit(X[train], y[train]).predict(X[test])
    table = mcnemar_table(y[test], p1, p2)
    assert_array_equal(res.details["table"], table)
    assert tuple(res) == tuple(mcnemar(table))
    with pytest.raises(ValueError, match="exactly one split"):
        compare_estimators(e1, e2, X, y, test="mcnemar", cv=3)


def test_compare_identical_models_degenerate(data):
    X, y = data
    with pytest.warns(UserWarning, match="identical"):
        res = compare_estimators(GaussianNB(), GaussianNB(), X, y, cv=3, random_state=0)
    assert (res.statistic, res.pvalue) == (0.0, 1.0)
    with pytest.raises(InvalidParameterError):
        compare_estimators(GaussianNB(), GaussianNB(), X, y, test="wilcoxon")


def test_nested_cross_validate(data):
    X, y = data
    search = GridSearchCV(
        DecisionTreeClassifier(random_state=0), {"max_depth": [1, 2, 4]}, cv=3
    )
    res = nested_cross_validate(search, X, y, cv=3, random_state=0)
    assert res.test_score.shape == (3,)
    assert all(p["max_depth"] in (1, 2, 4) for p in res.best_params)
    outer = KFold(3, shuffle=True, random_state=0)
    manual = []
    for train, test in outer.split(X, y):
        fitted = clone(search).fit(X[train], y[train])
        manual.append(fitted.score(X[test], y[test]))
    res = nested_cross_validate(search, X, y, cv=outer)
    assert_allclose(res.test_score, manual)
    assert_allclose(res.mean_score, np.mean(manual))


# --------------------------------------------------------------------------
# Distributed: dask gives the same numbers as serial
# --------------------------------------------------------------------------


def _routing_flag(estimator, X, y):
    return float(get_config()["enable_metadata_routing"])


def test_dask_backend_gives_serial_numbers():
    distributed = pytest.importorskip("distributed")
    X, y = load_iris(return_X_y=True)
    e1, e2 = DecisionTreeClassifier(random_state=0), GaussianNB()
    serial_f = compare_estimators(e1, e2, X, y, test="5x2cv_f", random_state=0)
    serial_b = bootstrap_632_score(
        e1, X, y, method=".632+", n_splits=10, random_state=0
    )
    with (
        distributed.LocalCluster(
            processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        parallel_config(backend="dask"),
    ):
        f = compare_estimators(e1, e2, X, y, test="5x2cv_f", random_state=0, n_jobs=2)
        b = bootstrap_632_score(
            e1, X, y, method=".632+", n_splits=10, random_state=0, n_jobs=2
        )
        with config_context(enable_metadata_routing=True):
            flags = paired_cross_val_scores(
                [e1], X, y, cv=4, scoring=_routing_flag, n_jobs=2, random_state=0
            ).scores
    assert tuple(f) == tuple(serial_f)
    assert_array_equal(f.details["scores"], serial_f.details["scores"])
    assert b.score == serial_b.score
    assert_array_equal(b.round_scores, serial_b.round_scores)
    assert_array_equal(flags, 1.0)


# --------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------


@pytest.fixture
def pyplot():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_cd_diagram_no_bars_when_all_differ(pyplot):
    scores = np.tile([0.9, 0.8, 0.7, 0.6], (30, 1))
    scores += np.random.RandomState(0).normal(0, 1e-3, scores.shape)
    disp = plot_critical_difference(scores, names=list("abcd"))
    assert disp.cliques == []
    assert_allclose(disp.average_ranks, [1, 2, 3, 4])
    assert disp.figure_ is disp.ax_.figure


def test_cd_diagram_one_bar_when_none_differ(pyplot):
    scores = np.full((6, 3), 0.8)
    disp = CriticalDifferenceDisplay.from_scores(scores, test="wilcoxon-holm")
    assert disp.cliques == [(0, 2)]
    disp = plot_critical_difference(scores)
    assert disp.cliques == [(0, 2)]


def test_cd_bars_never_overlap_on_a_level():
    cliques = [(0, 1), (1, 2), (2, 3), (4, 6), (5, 7)]
    levels = _levels(cliques)
    for a in range(len(cliques)):
        for b in range(a + 1, len(cliques)):
            if levels[a] == levels[b]:
                (s1, e1), (s2, e2) = cliques[a], cliques[b]
                assert e1 < s2 or e2 < s1
    assert levels[:3] == [0, 1, 0]


def test_cd_diagram_overlapping_cliques(pyplot):
    # average ranks 1..5 with a CD between 1 and 2: each model is joined with
    # its neighbours only, so the bars (0,1), (1,2), ... overlap pairwise
    rng = np.random.RandomState(0)
    base = np.arange(5)[::-1] * 0.01
    scores = base + rng.normal(0, 0.02, size=(20, 5))
    disp = plot_critical_difference(scores)
    cliques = disp.cliques
    assert cliques and all(end > start for start, end in cliques)
    levels = _levels(cliques)
    for a in range(len(cliques)):
        for b in range(a + 1, len(cliques)):
            if levels[a] == levels[b]:
                assert cliques[a][1] < cliques[b][0] or cliques[b][1] < cliques[a][0]
    for start, end in cliques:  # no bar contained in another
        assert not any(
            (s <= start and end <= e) and (s, e) != (start, end) for s, e in cliques
        )


def test_plot_paired_differences(pyplot):
    rng = np.random.RandomState(0)
    scores = rng.normal(0.8, 0.02, size=(30, 3)) + [0.0, 0.01, 0.03]
    ax = plot_paired_differences(
        scores, baseline="base", names=["base", "a", "b"], test_train_ratio=1 / 9
    )
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    with pytest.raises(ValueError, match="baseline"):
        plot_paired_differences(scores, baseline="zzz", names=["base", "a", "b"])
    with pytest.raises(ValueError, match="names"):
        plot_critical_difference(scores, names=["a"])
