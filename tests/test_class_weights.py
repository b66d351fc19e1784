"""ClassWeights: known answers, sample_weight semantics, errors."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.class_weight import compute_sample_weight

from skreweight.base import BaseReweighter, is_reweighter
from skreweight.weighting import ClassWeights

X4 = np.zeros((4, 1))
Y4 = np.array([0, 0, 0, 1])


def test_known_answer_inverse():
    assert_allclose(ClassWeights().fit_reweight(X4, Y4), [2 / 3, 2 / 3, 2 / 3, 2])


def test_inverse_matches_sklearn_balanced_up_to_scale():
    rng = np.random.RandomState(0)
    y = rng.choice(3, size=200, p=[0.7, 0.2, 0.1])
    ours = ClassWeights().fit_reweight(np.zeros((200, 2)), y)
    theirs = compute_sample_weight("balanced", y)
    assert_allclose(ours / ours.mean(), theirs / theirs.mean())


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0, 2.0])
def test_power_and_normalisation(power):
    rng = np.random.RandomState(0)
    y = rng.choice(3, size=300, p=[0.6, 0.3, 0.1])
    s = rng.uniform(0.1, 3, size=300)
    w = ClassWeights(power=power).fit_reweight(np.zeros((300, 1)), y, s)
    assert_allclose(w.sum(), s.sum())
    masses = np.array([s[y == c].sum() for c in range(3)])
    factors = masses ** (-power)
    factors *= s.sum() / np.dot(masses, factors)
    assert_allclose(w, s * factors[y])
    if power == 1.0:
        assert_allclose([w[y == c].sum() for c in range(3)], s.sum() / 3)
    if power == 0.0:
        assert_allclose(w, s)


def test_effective_number_formula():
    beta = 0.9
    cw = ClassWeights(method="effective_number", beta=beta).fit(X4, Y4)
    raw = np.array([(1 - beta) / (1 - beta**3), (1 - beta) / (1 - beta**1)])
    raw *= 4 / (3 * raw[0] + raw[1])
    assert_allclose(list(cw.class_weight_.values()), raw)
    # beta -> 0 leaves the weights unchanged; beta -> 1 approaches "inverse".
    assert_allclose(
        ClassWeights(method="effective_number", beta=0.0).fit_reweight(X4, Y4), 1.0
    )
    assert_allclose(
        ClassWeights(method="effective_number", beta=1 - 1e-9).fit_reweight(X4, Y4),
        ClassWeights().fit_reweight(X4, Y4),
        rtol=1e-6,
    )


@pytest.mark.parametrize("method", ["inverse", "effective_number"])
def test_integer_weights_equal_repeated_rows(method):
    rng = np.random.RandomState(1)
    y = rng.choice(2, size=40, p=[0.8, 0.2])
    s = rng.randint(0, 4, size=40)
    s[y == 1] = np.maximum(s[y == 1], 1)
    rw = ClassWeights(method=method, beta=0.9)
    w = rw.fit_reweight(np.zeros((40, 1)), y, s)
    repeated = np.repeat(np.arange(40), s)
    w_rep = rw.fit_reweight(np.zeros((len(repeated), 1)), y[repeated])
    first_copy = np.searchsorted(repeated, np.arange(40))
    has_copy = s > 0
    assert_allclose(w[has_copy], s[has_copy] * w_rep[first_copy[has_copy]])
    assert_array_equal(w[~has_copy], 0.0)


def test_inverse_is_scale_equivariant():
    s = np.array([1.0, 2.0, 3.0, 4.0])
    w = ClassWeights().fit_reweight(X4, Y4, s)
    assert_allclose(ClassWeights().fit_reweight(X4, Y4, 7 * s), 7 * w)


def test_empty_class_keeps_zero_weight():
    w = ClassWeights().fit_reweight(X4, [0, 0, 1, 1], [1.0, 1.0, 0.0, 0.0])
    assert_allclose(w, [1.0, 1.0, 0.0, 0.0])


def test_x_only_fixes_the_row_count():
    X = np.array([[np.nan, "a"], [1, "b"], [2, "c"], [np.inf, "d"]], dtype=object)
    assert_allclose(ClassWeights().fit_reweight(X, Y4), [2 / 3, 2 / 3, 2 / 3, 2])
    assert_allclose(
        ClassWeights().fit_reweight(sparse.csr_matrix(np.eye(4)), Y4),
        [2 / 3, 2 / 3, 2 / 3, 2],
    )


def test_string_labels_and_compute_weights():
    y = np.array(["b", "a", "a", "a"])
    cw = ClassWeights().fit(X4, y)
    assert_array_equal(cw.classes_, ["a", "b"])
    assert_allclose(
        cw.compute_weights(np.zeros((3, 1)), ["a", "b", "b"]), [2 / 3, 2, 2]
    )
    with pytest.raises(ValueError, match="not seen during fit"):
        cw.compute_weights(np.zeros((1, 1)), ["c"])
    with pytest.raises(ValueError, match="rows"):
        cw.compute_weights(np.zeros((2, 1)), ["a"])


@pytest.mark.parametrize(
    "y, sample_weight, match",
    [
        ([0, 0, 0, 0], None, "at least 2 classes"),
        ([0, 0, 1, 1], [1, 1, -1, 1], "[Nn]egative"),
        ([0, 0, 1, 1], [0, 0, 0, 0], "zero"),
        ([0, 0, 1, 1], [1, 1, 1], "shape|samples"),
        ([0.5, 0.1, 0.2, 0.3], None, "Unknown label type"),
        ([0, 0, 1], None, "inconsistent numbers of samples"),
    ],
)
def test_bad_input(y, sample_weight, match):
    y_copy = list(y)
    with pytest.raises(ValueError, match=match):
        ClassWeights().fit(X4, y, sample_weight=sample_weight)
    assert list(y) == y_copy


def test_bad_parameters():
    with pytest.raises(InvalidParameterError, match="beta"):
        ClassWeights(beta=1.0).fit(X4, Y4)
    with pytest.raises(InvalidParameterError, match="method"):
        ClassWeights(method="balanced").fit(X4, Y4)
    with pytest.raises(ValueError, match="requires y"):
        ClassWeights().fit(X4)


class _NegativeReweighter(BaseReweighter):
    def _fit_reweight(self, X, y, sample_weight):
        return -sample_weight


class _WrongShapeReweighter(BaseReweighter):
    def _fit_reweight(self, X, y, sample_weight):
        return sample_weight[:-1]


def test_base_class_checks_what_subclasses_return():
    with pytest.raises(ValueError, match="_NegativeReweighter produced negative"):
        _NegativeReweighter().fit(np.ones((4, 1)), Y4)
    with pytest.raises(ValueError, match="shape"):
        _WrongShapeReweighter().fit(np.ones((4, 1)), Y4)
    assert is_reweighter(ClassWeights()) and not is_reweighter(object())
