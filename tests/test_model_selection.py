"""Splitters, statistical tests, confidence intervals and the .632 bootstrap."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from joblib import parallel_config
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from sklearn.datasets import load_breast_cancer, load_iris, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils._param_validation import InvalidParameterError

from skreweight.model_selection import (
    BootstrapOutOfBag,
    FiveByTwoSplit,
    RepeatedHoldout,
    StratifiedBootstrapOutOfBag,
    TestResult,
    accuracy_ci,
    adjust_pvalues,
    bayesian_correlated_ttest,
    bootstrap_632_score,
    bootstrap_score_ci,
    cochrans_q,
    combined_ftest_5x2cv,
    corrected_resampled_ttest,
    critical_difference,
    delong_roc_test,
    friedman_test,
    looney_ftest,
    mcnemar,
    mcnemar_table,
    nemenyi_test,
    paired_ttest_5x2cv,
    proportion_difference_test,
    roc_auc_ci,
    wilcoxon_holm_test,
)
from skreweight.model_selection._bootstrap632 import _no_information, _per_example

R1 = np.array([[14, 11], [12, 8], [10, 6], [4, 20], [4, 3]]) / [285, 284]
R10 = np.array(
    [
        [0.81, 0.79, 0.84, 0.80],
        [0.72, 0.70, 0.75, 0.71],
        [0.90, 0.91, 0.93, 0.88],
        [0.66, 0.64, 0.69, 0.65],
        [0.77, 0.78, 0.80, 0.74],
        [0.85, 0.83, 0.86, 0.82],
        [0.59, 0.60, 0.63, 0.58],
        [0.94, 0.92, 0.95, 0.93],
    ]
)


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(return_X_y=True)


@pytest.fixture(scope="module")
def h30(cancer):
    """Spec setup H30: LR, DT, NB fitted on the stratified 70/30 split."""
    X, y = cancer
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.3, random_state=1, stratify=y
    )
    models = {
        "lr": LogisticRegression(max_iter=5000),
        "dt": DecisionTreeClassifier(random_state=0),
        "nb": GaussianNB(),
    }
    out = {"y": y_te}
    for name, model in models.items():
        model.fit(X_tr, y_tr)
        out[name] = model.predict(X_te)
        out[name + "_proba"] = model.predict_proba(X_te)[:, 1]
    return out


# --------------------------------------------------------------------------
# Splitters
# --------------------------------------------------------------------------


def test_bootstrap_oob_matches_mlxtend_index_sets():
    mlxtend = pytest.importorskip("mlxtend.evaluate")
    X = np.zeros((50, 1))
    ours = list(BootstrapOutOfBag(25, random_state=1).split(X))
    theirs = list(mlxtend.BootstrapOutOfBag(25, random_seed=1).split(X))
    for (tr1, te1), (tr2, te2) in zip(ours, theirs):
        assert_array_equal(tr1, tr2)
        assert_array_equal(te1, np.sort(te2))


def test_bootstrap_oob_never_empty_and_reproducible():
    X = np.zeros((2, 1))
    splits = list(BootstrapOutOfBag(200, random_state=0).split(X))
    assert all(test.size > 0 for _, test in splits)
    for train, test in splits:
        assert not set(train) & set(test)
        assert set(train) | set(test) == {0, 1}
    again = list(BootstrapOutOfBag(200, random_state=0).split(X))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(splits, again))


@pytest.mark.parametrize("bad", [0, -1, 2.5, "3"])
def test_bootstrap_bad_n_splits(bad):
    with pytest.raises(ValueError, match="n_splits"):
        list(BootstrapOutOfBag(bad).split(np.zeros((5, 1))))


def test_bootstrap_needs_two_samples():
    with pytest.raises(ValueError, match="at least 2 samples"):
        list(BootstrapOutOfBag(3).split(np.zeros((1, 1))))


def test_stratified_bootstrap_keeps_class_counts():
    y = np.array([0] * 7 + [1] * 3 + [2] * 5)
    X = np.arange(y.size)[:, None]
    cv = StratifiedBootstrapOutOfBag(50, random_state=0)
    for train, test in cv.split(X, y):
        assert_array_equal(np.bincount(y[train]), [7, 3, 5])
        assert test.size > 0
        assert_array_equal(test, np.setdiff1d(np.arange(y.size), train))


def test_stratified_bootstrap_bad_targets():
    X = np.zeros((6, 1))
    with pytest.raises(ValueError, match="binary or multiclass"):
        list(StratifiedBootstrapOutOfBag(2).split(X, np.linspace(0, 1, 6)))
    with pytest.raises(ValueError, match="needs the class labels"):
        list(StratifiedBootstrapOutOfBag(2).split(X))
    with pytest.raises(ValueError, match="single row"):
        list(StratifiedBootstrapOutOfBag(2).split(X[:3], [0, 1, 2]))
    with pytest.warns(UserWarning, match="single row"):
        list(StratifiedBootstrapOutOfBag(2).split(X, [0, 0, 0, 1, 1, 2]))


def test_five_by_two_halves_partition_and_stratify():
    y = np.array([0] * 31 + [1] * 20)
    X = np.zeros((y.size, 1))
    splits = list(FiveByTwoSplit(random_state=0).split(X, y))
    assert len(splits) == FiveByTwoSplit().get_n_splits() == 10
    for i in range(0, 10, 2):
        (a, b), (b2, a2) = splits[i], splits[i + 1]
        assert_array_equal(a, a2)
        assert_array_equal(b, b2)
        assert_array_equal(np.sort(np.r_[a, b]), np.arange(y.size))
        assert (a.size, b.size) == (25, 26)
        assert abs(np.sum(y[a]) - np.sum(y[b])) <= 1
    again = list(FiveByTwoSplit(random_state=0).split(X, y))
    assert all(np.array_equal(s[0], t[0]) for s, t in zip(splits, again))
    # the five repeats differ (one generator, no repeated seeds)
    assert len({tuple(np.sort(splits[i][0])) for i in range(0, 10, 2)}) == 5


def test_five_by_two_stratify_true_needs_classes():
    with pytest.raises(ValueError, match="stratify=True"):
        list(
            FiveByTwoSplit(stratify=True).split(np.zeros((6, 1)), np.linspace(0, 1, 6))
        )
    with pytest.raises(ValueError, match="stratify must be"):
        list(FiveByTwoSplit(stratify="yes").split(np.zeros((6, 1))))


def test_repeated_holdout_stratified():
    y = np.array([0] * 70 + [1] * 30)
    cv = RepeatedHoldout(n_splits=5, test_size=0.3, random_state=0)
    splits = list(cv.split(np.zeros((100, 1)), y))
    assert len(splits) == 5
    for train, test in splits:
        assert_array_equal(np.bincount(y[test]), [21, 9])
        assert train.size == 70


@pytest.mark.parametrize(
    "cv",
    [
        BootstrapOutOfBag(5, random_state=0),
        StratifiedBootstrapOutOfBag(5, random_state=0),
        FiveByTwoSplit(random_state=0),
        RepeatedHoldout(5, random_state=0),
    ],
    ids=lambda cv: type(cv).__name__,
)
def test_splitters_work_as_cv(cv):
    X, y = load_iris(return_X_y=True)
    scores = cross_val_score(DecisionTreeClassifier(random_state=0), X, y, cv=cv)
    assert scores.shape == (cv.get_n_splits(),)
    assert np.all((scores > 0.8) & (scores <= 1))
    assert type(cv).__name__ in repr(cv)


# --------------------------------------------------------------------------
# McNemar, Cochran's Q, Looney's F
# --------------------------------------------------------------------------

R2 = [
    ([[159, 4], [3, 5]], (0, 1), (0.1428571429, 0.7054569861), 1, 0.7265625),
    (
        [[260, 12], [7, 6]],
        (0.8421052632, 0.3587953579),
        (1.315789474, 0.2513491088),
        0.3592834473,
        None,
    ),
    (
        [[9959, 11], [1, 29]],
        (6.75, 0.009374768459),
        (8.333333333, 0.003892417123),
        0.00634765625,
        None,
    ),
    (
        [[9945, 25], [15, 15]],
        (2.025, 0.1547289235),
        (2.5, 0.113846298),
        0.1538599442,
        None,
    ),
]


@pytest.mark.parametrize("table, cc, chi2, exact, midp", R2)
def test_mcnemar_known_answers(table, cc, chi2, exact, midp):
    assert_allclose(tuple(mcnemar(table, method="chi2_cc")), cc, atol=1e-9)
    assert_allclose(tuple(mcnemar(table, method="chi2")), chi2, atol=1e-9)
    assert_allclose(mcnemar(table).pvalue, exact, atol=1e-9)
    b, c = table[0][1], table[1][0]
    assert_allclose(
        mcnemar(table).pvalue, stats.binomtest(b, b + c, 0.5).pvalue, rtol=1e-12
    )
    if midp is not None:
        assert_allclose(mcnemar(table, method="midp").pvalue, midp, atol=1e-12)


def test_mcnemar_agrees_with_statsmodels():
    sm = pytest.importorskip("statsmodels.stats.contingency_tables")
    for table in ([[10, 17], [5, 40]], [[1, 30], [12, 7]]):
        ours = mcnemar(table, method="chi2_cc")
        theirs = sm.mcnemar(table, exact=False, correction=True)
        assert_allclose(tuple(ours), (theirs.statistic, theirs.pvalue), rtol=1e-12)
        ours, theirs = mcnemar(table), sm.mcnemar(table, exact=True)
        assert_allclose(tuple(ours), (theirs.statistic, theirs.pvalue), rtol=1e-12)


def test_mcnemar_degenerate():
    with pytest.warns(UserWarning, match="no discordant"):
        res = mcnemar([[10, 0], [0, 5]], method="chi2")
    assert (res.statistic, res.pvalue) == (0.0, 1.0)
    # B == C: continuity-corrected statistic is 0 (mlxtend: 1/(B+C))
    assert mcnemar([[10, 3], [3, 5]], method="chi2_cc").statistic == 0.0


@pytest.mark.parametrize(
    "table, match",
    [([[1, 2, 3]], "2x2"), ([[1, -2], [3, 4]], "2x2"), ([[1, np.nan], [3, 4]], "2x2")],
)
def test_mcnemar_bad_table(table, match):
    with pytest.raises(ValueError, match=match):
        mcnemar(table)


def test_mcnemar_exact_needs_integer_counts():
    with pytest.raises(ValueError, match="integer"):
        mcnemar([[1, 2.5], [3, 4]])
    assert mcnemar([[1, 2.5], [3, 4]], method="chi2").df == 1
    with pytest.raises(InvalidParameterError):
        mcnemar([[1, 2], [3, 4]], method="fisher")


def test_mcnemar_table_and_spec_h30(h30):
    y = h30["y"]
    assert (h30["lr"] == y).sum() == 163 and (h30["dt"] == y).sum() == 162
    assert_array_equal(mcnemar_table(y, h30["lr"], h30["dt"]), [[159, 4], [3, 5]])
    with pytest.raises(ValueError, match="same length"):
        mcnemar_table(y, h30["lr"][:-1], h30["dt"])


def test_cochran_and_looney_spec_r4(h30):
    y = h30["y"]
    correct = np.column_stack([h30[m] == y for m in ("lr", "dt", "nb")])
    assert_allclose(tuple(cochrans_q(correct)), (1.272727273, 0.5292133415), atol=1e-9)
    res = looney_ftest(correct)
    assert_allclose(tuple(res), (0.6350053362, 0.5305599581), atol=1e-9)
    assert res.df == (2, 340)
    res = looney_ftest(correct, df2="kuncheva")
    assert_allclose(res.pvalue, 0.5305562966, atol=1e-9)
    assert res.df == (2, 342)


def test_cochrans_q_kuncheva_example():
    y = np.zeros(100)
    m1 = np.r_[np.ones(16), np.zeros(84)]
    m2 = np.r_[np.ones(6), np.zeros(14), np.ones(2), np.zeros(78)]
    m3 = np.r_[[1, 1, 1, 0, 0, 0, 1], np.zeros(13), [1, 1], np.zeros(76), [1, 1]]
    correct = np.column_stack([m == y for m in (m1, m2, m3)])
    res = cochrans_q(correct)
    assert_allclose(res.statistic, 7.529411764705882, rtol=1e-12)
    assert_allclose(res.pvalue, 0.023174427241061245, rtol=1e-12)


def test_cochrans_q_two_models_equals_mcnemar_and_statsmodels():
    sm = pytest.importorskip("statsmodels.stats.contingency_tables")
    rng = np.random.RandomState(0)
    correct = rng.rand(200, 2) < [0.8, 0.7]
    table = np.array(
        [
            [
                np.sum(correct[:, 0] & correct[:, 1]),
                np.sum(correct[:, 0] & ~correct[:, 1]),
            ],
            [
                np.sum(~correct[:, 0] & correct[:, 1]),
                np.sum(~correct[:, 0] & ~correct[:, 1]),
            ],
        ]
    )
    assert_allclose(
        cochrans_q(correct).statistic, mcnemar(table, method="chi2").statistic
    )
    correct = rng.rand(150, 5) < [0.8, 0.7, 0.75, 0.6, 0.9]
    theirs = sm.cochrans_q(correct.astype(int))
    assert_allclose(
        tuple(cochrans_q(correct)), (theirs.statistic, theirs.pvalue), rtol=1e-10
    )


def test_cochran_looney_degenerate_and_bad_input():
    everyone_right = np.ones((20, 3), dtype=bool)
    with pytest.warns(UserWarning, match="all models or for none"):
        assert tuple(cochrans_q(everyone_right)) == (0.0, 1.0)
    with pytest.warns(UserWarning, match="SSAB"):
        assert tuple(looney_ftest(everyone_right)) == (0.0, 1.0)
    with pytest.raises(ValueError, match="n_samples, n_models"):
        cochrans_q(np.ones(5))
    with pytest.raises(ValueError, match="booleans"):
        looney_ftest(np.full((5, 2), 0.5))


def test_proportion_difference_is_pooled_two_sided():
    res = proportion_difference_test(163, 162, 171)
    p = (163 + 162) / 342
    z = (1 / 171) / np.sqrt(2 * p * (1 - p) / 171)
    assert_allclose(tuple(res), (z, 2 * stats.norm.sf(z)), rtol=1e-12)
    with pytest.raises(ValueError, match="cannot exceed"):
        proportion_difference_test(172, 1, 171)


# --------------------------------------------------------------------------
# 5x2cv, corrected and Bayesian t-tests
# --------------------------------------------------------------------------


def test_5x2cv_known_answers_r1():
    t = paired_ttest_5x2cv(R1)
    f = combined_ftest_5x2cv(R1)
    assert_allclose(tuple(t), (2.5576869450, 0.0507891476), atol=1e-9)
    assert_allclose(tuple(f), (3.6929064768, 0.08107000913), atol=1e-9)
    assert t.df == 5 and f.df == (10, 5)
    s2 = np.full((5, 2), 0.9)
    s1 = s2 + R1
    assert_allclose(tuple(paired_ttest_5x2cv(s1, s2)), tuple(t), rtol=1e-9)
    assert_allclose(tuple(combined_ftest_5x2cv(s1, s2)), tuple(f), rtol=1e-9)
    # one-sided alternatives split the two-sided p-value
    greater = paired_ttest_5x2cv(R1, alternative="greater").pvalue
    assert_allclose(greater, t.pvalue / 2)


@pytest.mark.parametrize("func", [paired_ttest_5x2cv, combined_ftest_5x2cv])
def test_5x2cv_zero_variance(func):
    with pytest.warns(UserWarning, match="identical models"):
        assert tuple(func(np.zeros((5, 2)))) == (0.0, 1.0)
    with pytest.raises(ValueError, match="zero variance"):
        func(np.full((5, 2), 0.01))
    with pytest.raises(ValueError, match="n_repeats, 2"):
        func(np.zeros(10))


def test_tests_reject_estimators_and_bad_scores():
    with pytest.raises(TypeError, match="compare_estimators"):
        paired_ttest_5x2cv(LogisticRegression(), GaussianNB())
    with pytest.raises(TypeError, match="compare_estimators"):
        corrected_resampled_ttest(GaussianNB(), test_train_ratio=0.1)
    with pytest.raises(ValueError, match="same shape"):
        corrected_resampled_ttest([1, 2, 3], [1, 2], test_train_ratio=0.1)
    with pytest.raises(ValueError, match="NaN"):
        corrected_resampled_ttest([1, np.nan, 3], test_train_ratio=0.1)
    with pytest.raises(InvalidParameterError):
        corrected_resampled_ttest([1, 2, 3], test_train_ratio=-1)


def test_corrected_ttest_formula_and_scipy():
    rng = np.random.RandomState(0)
    a, b = rng.normal(0.8, 0.02, 30), rng.normal(0.79, 0.02, 30)
    a_copy = a.copy()
    plain = corrected_resampled_ttest(a, b, test_train_ratio=0)
    ref = stats.ttest_rel(a, b)
    assert_allclose(tuple(plain), (ref.statistic, ref.pvalue), rtol=1e-10)
    d = a - b
    res = corrected_resampled_ttest(a, b, test_train_ratio=1 / 9)
    t = d.mean() / np.sqrt((1 / 30 + 1 / 9) * d.var(ddof=1))
    assert_allclose(res.statistic, t, rtol=1e-12)
    assert_allclose(res.pvalue, 2 * stats.t.sf(abs(t), 29), rtol=1e-12)
    low, high = res.details["ci"]
    assert low < d.mean() < high
    assert_array_equal(a, a_copy)


def test_corrected_ttest_spec_r6_kfold_numbers():
    # R6, MRH: mean 0.027485, variance 0.00038243, 30 splits, rho = 171/398:
    # reconstruct differences with exactly these moments.
    z = np.linspace(-1, 1, 30)
    z = (z - z.mean()) / z.std(ddof=1)
    d = 0.027485 + np.sqrt(0.00038243) * z
    plain = corrected_resampled_ttest(d, test_train_ratio=0)
    corrected = corrected_resampled_ttest(d, test_train_ratio=171 / 398)
    # the spec's moments are rounded to 5 digits, hence rtol=1e-4
    assert_allclose(plain.statistic, 7.698108181, rtol=1e-4)
    assert_allclose(corrected.statistic, 2.065577664, rtol=1e-4)
    assert_allclose(corrected.pvalue, 0.04790686667, rtol=1e-4)


def test_corrected_ttest_zero_variance():
    with pytest.warns(UserWarning, match="identical"):
        assert tuple(corrected_resampled_ttest(np.zeros(10), test_train_ratio=0.1)) == (
            0.0,
            1.0,
        )
    with pytest.raises(ValueError, match="zero variance"):
        corrected_resampled_ttest(np.full(10, 0.02), test_train_ratio=0.1)


def test_bayesian_correlated_ttest_matches_frequentist():
    rng = np.random.RandomState(1)
    d = rng.normal(0.01, 0.02, 30)
    res = bayesian_correlated_ttest(d, test_train_ratio=1 / 9)
    freq = corrected_resampled_ttest(d, test_train_ratio=1 / 9, alternative="greater")
    assert_allclose(res.p_better, 1 - freq.pvalue, rtol=1e-10)
    assert_allclose(res.p_better + res.p_rope + res.p_worse, 1.0)
    roped = bayesian_correlated_ttest(d, test_train_ratio=1 / 9, rope=0.01)
    assert roped.p_rope > 0 and roped.p_better < res.p_better
    # swapping the models swaps better and worse
    swapped = bayesian_correlated_ttest(-d, test_train_ratio=1 / 9, rope=0.01)
    assert_allclose(
        (swapped.p_better, swapped.p_worse), (roped.p_worse, roped.p_better)
    )
    p_better, p_rope, p_worse = roped
    assert p_better == roped.p_better


def test_bayesian_zero_variance_indicators():
    res = bayesian_correlated_ttest(np.full(10, 0.02), test_train_ratio=0.1, rope=0.01)
    assert (res.p_better, res.p_rope, res.p_worse) == (1.0, 0.0, 0.0)
    res = bayesian_correlated_ttest(np.full(10, 0.005), test_train_ratio=0.1, rope=0.01)
    assert (res.p_better, res.p_rope, res.p_worse) == (0.0, 1.0, 0.0)


# --------------------------------------------------------------------------
# Many models: Friedman, Nemenyi, CD, multiplicity
# --------------------------------------------------------------------------


def test_friedman_known_answers_r10():
    res = friedman_test(R10)
    assert_allclose(res.details["average_ranks"], [2.375, 3.125, 1, 3.5])
    assert_allclose(res.details["chi2"], 17.55, rtol=1e-12)
    assert_allclose(res.details["chi2_pvalue"], 5.445733514610027e-4, rtol=1e-9)
    assert_allclose(res.statistic, 19.046512, rtol=1e-7)
    assert_allclose(res.pvalue, 3.35016e-06, rtol=1e-5)
    chi2 = friedman_test(R10, method="chi2")
    ref = stats.friedmanchisquare(*R10.T)
    assert_allclose(tuple(chi2), (ref.statistic, ref.pvalue), rtol=1e-10)


def test_friedman_ties_match_scipy():
    rng = np.random.RandomState(0)
    scores = rng.randint(0, 4, size=(12, 5)).astype(float)
    ref = stats.friedmanchisquare(*scores.T)
    res = friedman_test(scores, method="chi2")
    assert_allclose(tuple(res), (ref.statistic, ref.pvalue), rtol=1e-10)


def test_friedman_degenerate():
    with pytest.warns(UserWarning, match="ties all models"):
        assert tuple(friedman_test(np.ones((5, 3)))) == (0.0, 1.0)
    with pytest.warns(UserWarning, match="identically"):
        res = friedman_test(np.tile([0.9, 0.8, 0.7], (6, 1)))
    assert res.statistic == np.inf and res.pvalue == 0.0
    with pytest.raises(ValueError, match="n_datasets, n_models"):
        friedman_test(np.ones((1, 3)))


def test_nemenyi_and_critical_difference_r10():
    assert_allclose(critical_difference(4, 8), 1.658303, atol=1e-6)
    assert_allclose(
        critical_difference(4, 8, test="bonferroni-dunn"), 1.545307, atol=1e-6
    )
    res = nemenyi_test(R10)
    iu = np.triu_indices(4, 1)
    expected = [0.650954, 0.143534, 0.301449, 0.005493, 0.937842, 0.000622]
    assert_allclose(res.pvalue[iu], expected, atol=1e-6)
    assert_array_equal(res.pvalue, res.pvalue.T)
    assert_array_equal(np.diag(res.pvalue), 1)
    assert_array_equal(res.details["significant"][iu], [0, 0, 0, 1, 0, 1])


def test_wilcoxon_holm_matches_scipy():
    res = wilcoxon_holm_test(R10)
    raw = [
        stats.wilcoxon(R10[:, i], R10[:, j], zero_method="zsplit").pvalue
        for i in range(4)
        for j in range(i + 1, 4)
    ]
    assert_allclose(res.pvalue[np.triu_indices(4, 1)], adjust_pvalues(raw))


def test_adjust_pvalues_r9_and_statsmodels():
    p = [0.010, 0.040, 0.030, 0.005, 0.200]
    assert_allclose(adjust_pvalues(p, method="bonferroni"), [0.05, 0.2, 0.15, 0.025, 1])
    assert_allclose(adjust_pvalues(p), [0.04, 0.09, 0.09, 0.025, 0.2])
    assert_allclose(adjust_pvalues(p, method="fdr_bh"), [0.025, 0.05, 0.05, 0.025, 0.2])
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    rng = np.random.RandomState(0)
    p = rng.uniform(0, 0.2, 17) ** 2
    for ours, theirs in [
        ("holm", "holm"),
        ("bonferroni", "bonferroni"),
        ("fdr_bh", "fdr_bh"),
    ]:
        ref = multitest.multipletests(p, method=theirs)[1]
        assert_allclose(adjust_pvalues(p, method=ours), ref, rtol=1e-12)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        adjust_pvalues([0.1, np.nan])


# --------------------------------------------------------------------------
# Confidence intervals
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n_correct, wald, wilson, cp",
    [
        (163, (0.921565, 0.984868), (0.910411, 0.976106), (0.909901, 0.979589)),
        (162, (0.913900, 0.980837), (0.903012, 0.972066), (0.902442, 0.975654)),
    ],
)
def test_accuracy_ci_r3(n_correct, wald, wilson, cp):
    y_true = np.ones(171)
    y_pred = np.r_[np.ones(n_correct), np.zeros(171 - n_correct)]
    for method, expected in [
        ("wald", wald),
        ("wilson", wilson),
        ("clopper-pearson", cp),
    ]:
        ci = accuracy_ci(y_true, y_pred, method=method)
        assert_allclose((ci.low, ci.high), expected, atol=1e-6)
        assert ci.estimate == n_correct / 171


def test_accuracy_ci_integer_weights_equal_repeats():
    rng = np.random.RandomState(0)
    y, pred = rng.randint(0, 2, 40), rng.randint(0, 2, 40)
    w = rng.randint(0, 4, 40)
    for method in ("wald", "wilson", "clopper-pearson"):
        weighted = accuracy_ci(y, pred, sample_weight=w, method=method)
        repeated = accuracy_ci(np.repeat(y, w), np.repeat(pred, w), method=method)
        assert_allclose(tuple(weighted), tuple(repeated), rtol=1e-12)


def _delong_brute_force(y, scores):
    pos, neg = scores[y == 1], scores[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    var = v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size
    return psi.mean(), np.sqrt(var)


def test_roc_auc_ci_r8_and_brute_force(h30):
    y = h30["y"]
    ci = roc_auc_ci(y, h30["dt_proba"])
    assert_allclose(ci.estimate, 0.94538551, atol=1e-8)
    assert_allclose(ci.standard_error, 0.01837321, atol=1e-8)
    assert_allclose((ci.low, ci.high), (0.909375, 0.981396), atol=1e-6)
    logit = roc_auc_ci(y, h30["dt_proba"], transform="logit")
    assert_allclose((logit.low, logit.high), (0.896027, 0.972043), atol=1e-6)
    for key in ("lr_proba", "dt_proba", "nb_proba"):
        ci = roc_auc_ci(y, h30[key])
        auc, se = _delong_brute_force(y, h30[key])
        assert_allclose(ci.estimate, roc_auc_score(y, h30[key]), atol=1e-12)
        assert_allclose((ci.estimate, ci.standard_error), (auc, se), rtol=1e-10)


def test_delong_paired_test_brute_force(h30):
    y, s1, s2 = h30["y"], h30["lr_proba"], h30["dt_proba"]
    pos, neg = y == 1, y == 0
    comps = []
    for s in (s1, s2):
        psi = (s[pos][:, None] > s[neg][None, :]) + 0.5 * (
            s[pos][:, None] == s[neg][None, :]
        )
        comps.append((psi.mean(axis=1), psi.mean(axis=0)))
    v10 = np.column_stack([c[0] for c in comps])
    v01 = np.column_stack([c[1] for c in comps])
    cov = np.cov(v10.T) / pos.sum() + np.cov(v01.T) / neg.sum()
    z = (v10[:, 0].mean() - v10[:, 1].mean()) / np.sqrt(
        cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    )
    res = delong_roc_test(y, s1, s2)
    assert_allclose(res.statistic, z, rtol=1e-10)
    assert_allclose(res.pvalue, 2 * stats.norm.sf(abs(z)), rtol=1e-10)


def test_delong_integer_weights_equal_repeats():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, 60)
    s1 = np.round(y + rng.normal(0, 1, 60), 1)
    s2 = np.round(y + rng.normal(0, 2, 60), 1)
    w = rng.randint(1, 4, 60)
    rep = [np.repeat(a, w) for a in (y, s1, s2)]
    a, b = roc_auc_ci(y, s1, sample_weight=w), roc_auc_ci(rep[0], rep[1])
    assert_allclose((a.estimate, a.standard_error), (b.estimate, b.standard_error))
    assert_allclose(
        tuple(delong_roc_test(y, s1, s2, sample_weight=w)),
        tuple(delong_roc_test(*rep)),
        rtol=1e-10,
    )


def test_delong_degenerate():
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    with pytest.warns(UserWarning, match="equal"):
        assert tuple(delong_roc_test(y, s, s)) == (0.0, 1.0)
    perfect = roc_auc_ci([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert (perfect.estimate, perfect.low, perfect.high) == (1.0, 1.0, 1.0)
    with pytest.warns(UserWarning, match="no logit"):
        roc_auc_ci([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], transform="logit")
    with pytest.raises(ValueError, match="binary"):
        roc_auc_ci([1, 1, 1], [0.1, 0.2, 0.3])


def test_bootstrap_score_ci_bca_r3_and_scipy(h30):
    correct = (h30["lr"] == h30["y"]).astype(float)
    ci = bootstrap_score_ci(h30["y"], h30["lr"], random_state=0)
    assert ci.method == "bca"
    assert abs(ci.low - 156 / 171) <= 1 / 171 + 1e-12
    assert abs(ci.high - 167 / 171) <= 1 / 171 + 1e-12
    ref = stats.bootstrap((correct,), np.mean, n_resamples=9999, rng=0)
    assert abs(ci.low - ref.confidence_interval.low) <= 1 / 171 + 1e-12
    perc = bootstrap_score_ci(h30["y"], h30["lr"], method="percentile", random_state=0)
    assert perc.method == "percentile"


def test_bootstrap_score_ci_generic_metric_and_degenerate():
    y = np.array([0, 1] * 30)
    pred = y.copy()
    with pytest.warns(UserWarning, match="same score"):
        ci = bootstrap_score_ci(y, pred, n_resamples=200, random_state=0)
    assert (ci.low, ci.high) == (1.0, 1.0)
    pred[:8] = 1 - pred[:8]
    fast = bootstrap_score_ci(y, pred, n_resamples=300, random_state=0)
    slow = bootstrap_score_ci(
        y,
        pred,
        scoring=lambda a, b: np.mean(a == b),
        n_resamples=300,
        random_state=0,
    )
    assert_allclose((fast.low, fast.high), (slow.low, slow.high), rtol=1e-12)
    bal = bootstrap_score_ci(
        y, pred, scoring="balanced_accuracy", n_resamples=200, random_state=0
    )
    assert bal.low <= bal.estimate <= bal.high


def test_bootstrap_score_ci_weights_and_bad_input():
    y = np.array([0, 1] * 20)
    pred = np.array([0, 1] * 15 + [1, 0] * 5)
    w = np.arange(40) % 3 + 1.0
    w_copy = w.copy()
    ci = bootstrap_score_ci(y, pred, sample_weight=w, n_resamples=500, random_state=0)
    assert_allclose(ci.estimate, np.sum(w * (y == pred)) / w.sum())
    assert_array_equal(w, w_copy)
    with pytest.raises(ValueError, match="1-D"):
        bootstrap_score_ci(y, pred[:-1])


# --------------------------------------------------------------------------
# .632 bootstrap
# --------------------------------------------------------------------------


def test_bootstrap632_spec_r5(cancer):
    X, y = cancer
    dt = DecisionTreeClassifier(random_state=0)
    cv = BootstrapOutOfBag(200, random_state=1)
    plus = bootstrap_632_score(dt, X, y, method=".632+", mode="mlxtend", cv=cv)
    plain = bootstrap_632_score(dt, X, y, method=".632", mode="mlxtend", random_state=1)
    assert abs(plain.score - 0.9433169057) < 1e-10
    assert abs(plus.score - 0.9420506947) < 1e-10
    assert abs(plain.oob_score - 0.9261630424) < 1e-10
    efron = bootstrap_632_score(dt, X, y, method=".632+", cv=cv)
    assert efron.apparent_score == 1.0
    assert_allclose(1 - efron.no_information_score, 0.4675300608, atol=1e-10)
    assert_allclose(1 - efron.oob_score, 0.07443868711, atol=1e-10)
    assert_allclose(1 - efron.details["oob_round_mean"], 0.07383695762, atol=1e-10)
    assert_allclose(efron.relative_overfitting_rate, 0.1592169004, atol=1e-10)
    assert_allclose(efron.weight, 0.6713347228, atol=1e-10)
    assert abs(efron.score - 0.9500267246) < 1e-10
    point632 = 0.368 * efron.apparent_score + 0.632 * efron.oob_score
    assert abs(point632 - 0.9529547497) < 1e-10


def test_bootstrap632_equals_mlxtend_live():
    mlxtend = pytest.importorskip("mlxtend.evaluate")
    X, y = load_iris(return_X_y=True)
    X, y = X[::2], y[::2]
    est = GaussianNB()
    for method in (".632", ".632+", "oob"):
        ref = mlxtend.bootstrap_point632_score(
            est, X, y, n_splits=15, method=method, random_seed=3
        )
        ours = bootstrap_632_score(
            est, X, y, n_splits=15, method=method, mode="mlxtend", random_state=3
        )
        assert_allclose(ours.round_scores, ref, atol=1e-12)
        assert abs(ours.score - np.mean(ref)) < 1e-12


def test_bootstrap632_plus_bounds_and_no_information():
    X, y = load_iris(return_X_y=True)
    rng = np.random.RandomState(0)
    y_perm = rng.permutation(y)
    dt = DecisionTreeClassifier(random_state=0)
    res = bootstrap_632_score(
        dt, X, y_perm, method=".632+", n_splits=30, random_state=0
    )
    assert 0 <= res.relative_overfitting_rate <= 1
    assert 0.632 <= res.weight <= 1
    # permuted labels: the estimate is about the no-information score
    assert abs(res.score - max(res.oob_score, res.no_information_score)) < 0.01
    assert abs(res.score - 1 / 3) < 0.05
    res = bootstrap_632_score(dt, X, y, method=".632+", n_splits=30, random_state=0)
    assert 0 <= res.relative_overfitting_rate <= 1 and 0.632 <= res.weight <= 1


@pytest.mark.parametrize("kind", ["accuracy", "squared", "absolute", "log", "brier"])
def test_no_information_closed_form_equals_brute_force(kind):
    rng = np.random.RandomState(0)
    n = 300
    classes = np.arange(3) if kind != "brier" else np.arange(2)
    w = rng.randint(1, 4, n).astype(float)
    if kind in ("accuracy",):
        y, out = rng.randint(0, 3, n), rng.randint(0, 3, n)
    elif kind in ("squared", "absolute"):
        y, out = rng.normal(size=n), rng.normal(size=n)
        classes = None
    else:
        y = rng.randint(0, classes.size, n)
        out = rng.dirichlet(np.ones(classes.size), n)
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    pair = _per_example(kind, y[ii.ravel()], out[jj.ravel()], classes)
    brute = np.sum(w[ii.ravel()] * w[jj.ravel()] * pair) / w.sum() ** 2
    assert_allclose(_no_information(kind, y, out, classes, w), brute, rtol=1e-10)
    # integer weights equal repeated rows
    rep = _no_information(
        kind,
        np.repeat(y, w.astype(int)),
        np.repeat(out, w.astype(int), axis=0),
        classes,
        np.ones(int(w.sum())),
    )
    assert_allclose(rep, brute, rtol=1e-10)


def test_brier_and_log_per_example_match_sklearn():
    from sklearn.metrics import brier_score_loss, log_loss

    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, 50)
    proba = rng.dirichlet([1, 1], 50)
    classes = np.arange(2)
    assert_allclose(
        -_per_example("brier", y, proba, classes).mean(),
        brier_score_loss(y, proba[:, 1]),
    )
    assert_allclose(-_per_example("log", y, proba, classes).mean(), log_loss(y, proba))


class _WeightSpy(DecisionTreeClassifier):
    seen = []

    def fit(self, X, y, sample_weight=None):
        _WeightSpy.seen.append((X[:, 0].copy(), sample_weight))
        return super().fit(X, y, sample_weight=sample_weight)


def test_bootstrap632_indexes_sample_weight_per_round():
    X, y = load_iris(return_X_y=True)
    X = np.column_stack([np.arange(len(y)), X])
    w = np.where(np.arange(len(y)) % 2 == 0, 1.0, 1e-3)
    w_copy = w.copy()
    _WeightSpy.seen = []
    bootstrap_632_score(
        _WeightSpy(random_state=0),
        X,
        y,
        n_splits=5,
        params={"sample_weight": w},
        random_state=0,
    )
    assert len(_WeightSpy.seen) == 6  # 5 rounds + the full-data fit
    for ids, sw in _WeightSpy.seen:
        assert_array_equal(sw, w[ids.astype(int)])
    assert_array_equal(w, w_copy)


def test_bootstrap632_regression_and_generic_scorer():
    X, y = make_regression(n_samples=80, n_features=3, noise=5, random_state=0)
    res = bootstrap_632_score(LinearRegression(), X, y, n_splits=10, random_state=0)
    assert res.score < 0 and res.details["scoring"] == "neg_mean_squared_error"
    Xc, yc = load_iris(return_X_y=True)
    res = bootstrap_632_score(
        DecisionTreeClassifier(random_state=0),
        Xc,
        yc,
        method=".632+",
        scoring="balanced_accuracy",
        n_splits=10,
        n_permutations=10,
        random_state=0,
    )
    assert "per-round" in res.details["oob_score"]
    assert 0.8 < res.score <= 1


def test_bootstrap632_mlxtend_zero_gap_warns():
    X = np.r_[np.zeros((10, 1)), np.ones((10, 1))]
    y = np.r_[np.zeros(10), np.ones(10)]
    from sklearn.dummy import DummyClassifier

    with pytest.warns(UserWarning, match="relative overfitting rate"):
        res = bootstrap_632_score(
            DummyClassifier(strategy="constant", constant=0),
            X,
            y,
            method=".632+",
            mode="mlxtend",
            n_splits=5,
            random_state=0,
        )
    assert np.isfinite(res.score)


def test_bootstrap632_stratify_switch():
    X, y = load_iris(return_X_y=True)
    dt = DecisionTreeClassifier(random_state=0)
    strat = bootstrap_632_score(dt, X, y, n_splits=5, random_state=0)
    ref = bootstrap_632_score(
        dt, X, y, n_splits=5, cv=StratifiedBootstrapOutOfBag(5, random_state=0)
    )
    plain = bootstrap_632_score(dt, X, y, n_splits=5, stratify=False, random_state=0)
    ref_plain = bootstrap_632_score(
        dt, X, y, n_splits=5, cv=BootstrapOutOfBag(5, random_state=0)
    )
    assert strat.score == ref.score and plain.score == ref_plain.score


def test_bootstrap632_n_jobs_and_bad_input():
    X, y = load_iris(return_X_y=True)
    dt = DecisionTreeClassifier(random_state=0)
    serial = bootstrap_632_score(dt, X, y, n_splits=8, random_state=0)
    with parallel_config(backend="threading"):
        par = bootstrap_632_score(dt, X, y, n_splits=8, random_state=0, n_jobs=2)
    assert serial.score == par.score
    with pytest.raises(InvalidParameterError):
        bootstrap_632_score(dt, X, y, method=".7")
    with pytest.raises(ValueError, match="sample_weight"):
        bootstrap_632_score(dt, X, y, n_splits=2, params={"sample_weight": np.ones(3)})
    with pytest.raises(ValueError, match="needs a classifier"):
        bootstrap_632_score(LinearRegression(), X, y.astype(float), scoring="accuracy")


def test_test_result_unpacks():
    res = TestResult(1.5, 0.2, 3, "x", "two-sided", {"a": 1})
    t, p = res
    assert (t, p) == (1.5, 0.2)
    with pytest.raises(AttributeError):
        res.pvalue = 0.1


def test_import_does_not_load_matplotlib():
    code = "import sys, skreweight.model_selection; print('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_no_warning_on_regular_input():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        paired_ttest_5x2cv(R1)
        friedman_test(R10)
        mcnemar([[159, 4], [3, 5]])
