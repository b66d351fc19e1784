"""The torch k-NN plugged into skreweight's SMOTE family (issue #8, item 4)."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_classification
from sklearn.neighbors import NearestNeighbors

pytest.importorskip("torch")

from skreweight import over_sampling  # noqa: E402
from skreweight.torch import TorchNearestNeighbors  # noqa: E402


def _build(name, knn):
    if name == "ADASYN":
        return over_sampling.ADASYN(n_neighbors=knn, random_state=0)
    if name == "SMOTETomek":
        smote = over_sampling.SMOTE(k_neighbors=knn, random_state=0)
        return over_sampling.SMOTETomek(smote=smote, random_state=0)
    return getattr(over_sampling, name)(k_neighbors=knn, random_state=0)


@pytest.mark.parametrize(
    "name", ["SMOTE", "BorderlineSMOTE", "ADASYN", "SVMSMOTE", "SMOTETomek"]
)
def test_samplers_give_identical_rows_with_torch_knn(name):
    # Continuous random data: no distance ties, so both searches agree exactly.
    X, y = make_classification(
        n_samples=400, n_features=6, weights=[0.85], random_state=0
    )
    reference = _build(name, NearestNeighbors(n_neighbors=6))
    with_torch = _build(name, TorchNearestNeighbors(n_neighbors=6, device="cpu"))
    X_ref, y_ref = reference.fit_resample(X, y)
    X_torch, y_torch = with_torch.fit_resample(X, y)
    assert len(y_ref) > len(y) * 0.9
    assert_array_equal(y_torch, y_ref)
    assert_allclose(X_torch, X_ref, rtol=1e-6, atol=1e-9)
    provenance = getattr(reference, "provenance_", None)
    if provenance is not None and "partner" in provenance:
        assert_array_equal(with_torch.provenance_["partner"], provenance["partner"])


def test_torch_knn_matches_sklearn_on_minority_rows():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 8))
    ours = TorchNearestNeighbors(n_neighbors=6, device="cpu").fit(X)
    ref = NearestNeighbors(n_neighbors=6).fit(X)
    dist, ind = ours.kneighbors(X)
    dist_ref, ind_ref = ref.kneighbors(X)
    assert_array_equal(ind, ind_ref)
    assert_allclose(dist, dist_ref, rtol=1e-5, atol=1e-6)
