"""TorchNearestNeighbors and kernel_matvec against scikit-learn."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.metrics.pairwise import (  # noqa: E402
    laplacian_kernel,
    linear_kernel,
    rbf_kernel,
)
from sklearn.neighbors import NearestNeighbors  # noqa: E402

from skreweight.torch import TorchNearestNeighbors, kernel_matvec  # noqa: E402


@pytest.fixture(scope="module")
def X32():
    return np.random.default_rng(0).standard_normal((3000, 32)).astype(np.float32)


def test_self_join_matches_sklearn_brute(X32):
    nn = TorchNearestNeighbors(
        n_neighbors=5, algorithm="torch", device="cpu", chunk_size=700
    ).fit(X32)
    assert nn.effective_algorithm_ == "torch"
    dist, ind = nn.kneighbors()
    ref_dist, ref_ind = (
        NearestNeighbors(n_neighbors=5, algorithm="brute").fit(X32).kneighbors()
    )
    same_sets = np.mean(
        [set(a) == set(b) for a, b in zip(ind.tolist(), ref_ind.tolist())]
    )
    assert same_sets == 1.0
    assert np.max(np.abs(dist - ref_dist)) <= 1e-5
    assert not np.any(ind == np.arange(len(X32))[:, None])


def test_queries_float64_and_graph(X32):
    X = X32.astype(np.float64)
    Q = np.random.default_rng(1).standard_normal((50, 32))
    nn = TorchNearestNeighbors(n_neighbors=4, algorithm="torch", device="cpu").fit(X)
    dist, ind = nn.kneighbors(Q)
    ref_dist, ref_ind = NearestNeighbors(n_neighbors=4).fit(X).kneighbors(Q)
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-10)
    only_ind = nn.kneighbors(Q, n_neighbors=2, return_distance=False)
    np.testing.assert_array_equal(only_ind, ref_ind[:, :2])
    graph = nn.kneighbors_graph(Q, mode="distance")
    ref_graph = (
        NearestNeighbors(n_neighbors=4).fit(X).kneighbors_graph(Q, mode="distance")
    )
    np.testing.assert_allclose(graph.toarray(), ref_graph.toarray(), rtol=1e-10)


def test_duplicates_never_return_self():
    X = np.repeat(np.random.default_rng(2).standard_normal((20, 3)), 2, axis=0)
    nn = TorchNearestNeighbors(n_neighbors=1, algorithm="torch", device="cpu").fit(X)
    dist, ind = nn.kneighbors()
    twins = np.arange(40) ^ 1  # rows 2i and 2i+1 are equal
    np.testing.assert_array_equal(ind[:, 0], twins)
    np.testing.assert_allclose(dist, 0.0, atol=1e-6)


def test_auto_uses_sklearn_on_cpu_and_errors(X32):
    nn = TorchNearestNeighbors(device="cpu").fit(X32[:100])
    assert nn.effective_algorithm_ == "brute"
    with pytest.raises(ValueError, match="n_neighbors <= 99"):
        nn.kneighbors(n_neighbors=100)
    with pytest.raises(ValueError, match="features"):
        nn.kneighbors(X32[:5, :3])
    X_nan = X32[:10].copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        TorchNearestNeighbors(algorithm="torch", device="cpu").fit(X_nan)
    with pytest.raises(ValueError, match="mode"):
        nn.kneighbors_graph(mode="weights")


def test_smote_accepts_torch_neighbors_and_gives_identical_samples():
    imblearn = pytest.importorskip("imblearn")
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=300, weights=[0.9, 0.1], n_features=6, random_state=0
    )
    reference = imblearn.over_sampling.SMOTE(k_neighbors=5, random_state=0)
    ours = imblearn.over_sampling.SMOTE(
        k_neighbors=TorchNearestNeighbors(
            n_neighbors=6, algorithm="torch", device="cpu"
        ),
        random_state=0,
    )
    X_ref, y_ref = reference.fit_resample(X, y)
    X_our, y_our = ours.fit_resample(X, y)
    np.testing.assert_allclose(X_our, X_ref, rtol=1e-12)
    np.testing.assert_array_equal(y_our, y_ref)


@pytest.mark.parametrize(
    "kernel, reference",
    [("rbf", rbf_kernel), ("laplacian", laplacian_kernel), ("linear", linear_kernel)],
)
def test_kernel_matvec_matches_dense_kernel(kernel, reference):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(300, 4)), rng.normal(size=(200, 4))
    V = rng.normal(size=(200, 3))
    kwargs = {} if kernel == "linear" else {"gamma": 0.3}
    got = kernel_matvec(X, Y, V, kernel=kernel, device="cpu", chunk_size=64, **kwargs)
    np.testing.assert_allclose(got, reference(X, Y, **kwargs) @ V, rtol=1e-10)
    got1 = kernel_matvec(X, Y, V[:, 0], kernel=kernel, device="cpu", **kwargs)
    assert got1.shape == (300,)
    np.testing.assert_allclose(got1, got[:, 0], rtol=1e-12)


def test_kernel_matvec_default_gamma_and_errors():
    rng = np.random.default_rng(0)
    X, v = rng.normal(size=(30, 5)), rng.normal(size=30)
    np.testing.assert_allclose(
        kernel_matvec(X, X, v, device="cpu"), rbf_kernel(X) @ v, rtol=1e-10
    )
    with pytest.raises(ValueError, match="v has 29 rows"):
        kernel_matvec(X, X, v[:-1], device="cpu")
    with pytest.raises(ValueError, match="features"):
        kernel_matvec(X, X[:, :2], v, device="cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_knn_matches_cpu(X32):
    gpu = TorchNearestNeighbors(algorithm="torch", device="cuda").fit(X32)
    dist, ind = gpu.kneighbors()
    ref_dist, _ = NearestNeighbors(n_neighbors=5).fit(X32).kneighbors()
    assert np.max(np.abs(dist - ref_dist)) <= 1e-4
