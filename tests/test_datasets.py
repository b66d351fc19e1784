import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import load_breast_cancer
from sklearn.utils._param_validation import InvalidParameterError

from skreweight.datasets import load_wdbc_imbalanced, make_imbalanced_classification


def test_embedded_dataset_matches_its_description():
    bunch = load_wdbc_imbalanced()
    assert bunch.data.shape == (393, 30)
    assert_array_equal(np.bincount(bunch.target), [357, 36])
    assert "393" in bunch.DESCR and "RandomState(0)" in bunch.DESCR
    # Every row is a row of scikit-learn's bundled data (to 6 significant digits).
    original = load_breast_cancer()
    scale = np.abs(original.data).max(axis=0)
    for row, label in zip(bunch.data[:50], bunch.target[:50]):
        distance = np.abs((original.data - row) / scale).max(axis=1)
        match = np.argmin(distance)
        assert distance[match] < 1e-5
        assert original.target[match] == 1 - label
    assert list(bunch.feature_names[:2]) == ["mean_radius", "mean_texture"]


def test_embedded_dataset_as_frame():
    pd = pytest.importorskip("pandas")
    X, y = load_wdbc_imbalanced(return_X_y=True, as_frame=True)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    assert y.name == "malignant" and X.shape == (393, 30)


@pytest.mark.parametrize("n_classes, ratio", [(2, 10), (3, 4), (4, 20)])
def test_generator_class_sizes_and_determinism(n_classes, ratio):
    X, y = make_imbalanced_classification(
        n_samples=2000, n_classes=n_classes, imbalance_ratio=ratio, random_state=0
    )
    counts = np.bincount(y)
    assert counts.argmax() == 0 and counts.argmin() == n_classes - 1
    assert counts[0] / counts[-1] == pytest.approx(ratio, rel=0.1)
    X2, y2 = make_imbalanced_classification(
        n_samples=2000, n_classes=n_classes, imbalance_ratio=ratio, random_state=0
    )
    assert_array_equal(X, X2) and assert_array_equal(y, y2)


def test_generator_overlap_and_noise_make_it_harder():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    def auc(**kwargs):
        X, y = make_imbalanced_classification(n_samples=1000, random_state=0, **kwargs)
        return cross_val_score(LogisticRegression(), X, y, scoring="roc_auc").mean()

    assert auc(class_sep=1.0) > auc(class_sep=0.1) + 0.1
    assert auc(noise=0.0) > auc(noise=0.3) + 0.05


def test_generator_bad_input():
    with pytest.raises(InvalidParameterError, match="imbalance_ratio"):
        make_imbalanced_classification(imbalance_ratio=0.5)
    with pytest.raises(ValueError, match="n_informative"):
        make_imbalanced_classification(n_features=3, n_informative=5)
