"""Kernel products of KernelMeanMatching / KernelBalancing on torch devices."""

import sys

import pytest
from numpy.testing import assert_allclose
from test_weighting import _shifted  # the shared shifted-Gaussian problem

from skreweight.weighting import KernelBalancing, KernelMeanMatching, _kmm


@pytest.fixture
def matvec_calls(monkeypatch):
    """Count the calls of skreweight.torch.kernel_matvec."""
    pytest.importorskip("torch")
    import skreweight.torch

    calls = []
    real = skreweight.torch.kernel_matvec

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(skreweight.torch, "kernel_matvec", counting)
    return calls


@pytest.mark.parametrize("cached", [True, False])
def test_kmm_torch_cpu_equals_numpy(monkeypatch, matvec_calls, cached):
    n = 120
    X, t = _shifted(n)
    if not cached:  # the matrix-free path: every kernel product on the device
        monkeypatch.setattr(_kmm, "_KERNEL_MEMORY_BYTES", 8 * n**2 - 1)
    common = {"estimand": "ATC", "solver": "fista", "eps": 0.01, "random_state": 0}
    ref = KernelMeanMatching(**common).fit(X, t)
    assert not matvec_calls
    dev = KernelMeanMatching(device="cpu", **common).fit(X, t)
    # The target means, the target term and (not cached) the solver's products.
    assert (len(matvec_calls) == 2) if cached else (len(matvec_calls) > 100)
    assert dev.converged_ and ref.converged_
    assert_allclose(dev.weights_, ref.weights_, rtol=0, atol=1e-8)
    assert_allclose(dev.imbalance_, ref.imbalance_, rtol=1e-8)


def test_kernel_balancing_torch_cpu_equals_numpy(matvec_calls):
    X, t = _shifted(150)
    common = {"estimand": "ATE", "n_rounds": 2, "n_candidates": 100}
    ref = KernelBalancing(random_state=0, **common).fit(X, t)
    dev = KernelBalancing(device="cpu", random_state=0, **common).fit(X, t)
    assert len(matvec_calls) == 2  # one per reweighted group
    assert_allclose(dev.weights_, ref.weights_, rtol=1e-8)
    assert_allclose(dev.compute_weights(X, t), ref.compute_weights(X, t), rtol=1e-8)


def test_device_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    X, t = _shifted(300)
    common = {"estimand": "ATC", "solver": "fista", "eps": 0.01, "random_state": 0}
    ref = KernelMeanMatching(**common).fit(X, t)
    dev = KernelMeanMatching(device="cuda", **common).fit(X, t)
    w = dev.weights_[t == 1]
    assert w.min() >= 0 and w.max() <= 10 + 1e-9
    assert_allclose(w.mean(), 1.0)
    # float32 kernel products: the same discrepancy to float32 precision.
    assert_allclose(dev.imbalance_, ref.imbalance_, rtol=1e-3)
    common = {"estimand": "ATE", "n_rounds": 2, "n_candidates": 100}
    ref = KernelBalancing(random_state=0, **common).fit(X, t)
    dev = KernelBalancing(device="cuda", random_state=0, **common).fit(X, t)
    assert_allclose(dev.weights_, ref.weights_, rtol=1e-3)


@pytest.mark.parametrize(
    "reweighter",
    [KernelMeanMatching(solver="fista", device="cpu"), KernelBalancing(device="cpu")],
    ids=["KernelMeanMatching", "KernelBalancing"],
)
def test_device_without_torch_names_the_extra(monkeypatch, reweighter):
    X, t = _shifted(30)
    monkeypatch.setitem(sys.modules, "skreweight.torch", None)  # import fails
    with pytest.raises(ImportError, match=r"skreweight\[torch\]"):
        reweighter.fit(X, t)


@pytest.mark.parametrize("Reweighter", [KernelMeanMatching, KernelBalancing])
def test_device_bad_kernel_or_device(Reweighter):
    X, t = _shifted(30)
    with pytest.raises(ValueError, match="device=None for other kernels"):
        Reweighter(kernel="poly", device="cpu").fit(X, t)
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="not a valid torch device"):
        Reweighter(device="abacus").fit(X, t)
