"""TorchClassifier / TorchRegressor: weights, reproducibility, API and errors."""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.base import clone  # noqa: E402
from sklearn.datasets import (  # noqa: E402
    load_breast_cancer,
    make_classification,
    make_regression,
)
from sklearn.model_selection import GridSearchCV, cross_validate  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skreweight.torch import (  # noqa: E402
    ClassBalancedReweighting,
    FocalReweighting,
    GHMReweighting,
    GroupTemperatureReweighting,
    InfoBatchSampler,
    LossBasedReweighting,
    RS2Sampler,
    SeTaSampler,
    TemperatureSampler,
    TorchClassifier,
    TorchRegressor,
)

FAST = {
    "hidden_layer_sizes": (16,),
    "learning_rate": 1e-2,
    "max_epochs": 3,
    "batch_size": 64,
    "device": "cpu",
    "num_threads": 1,
    "random_state": 0,
}
needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU"
)


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(n_samples=400, n_features=10, random_state=0)
    return X, y


def _params(est):
    return [p.detach().clone() for p in est.module_.parameters()]


def _assert_bit_equal(a, b):
    assert all(torch.equal(p, q) for p, q in zip(_params(a), _params(b)))


def test_unit_weights_and_no_reweighting_are_bit_identical(data):
    X, y = data
    plain = TorchClassifier(**FAST).fit(X, y)
    ones = TorchClassifier(**FAST).fit(X, y, sample_weight=np.ones(len(y)))
    _assert_bit_equal(plain, ones)
    assert plain.loss_curve_ == ones.loss_curve_


def test_fit_is_bit_reproducible_and_leaves_global_rng_alone(data):
    X, y = data
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    det = torch.are_deterministic_algorithms_enabled()
    a = TorchClassifier(**FAST, deterministic=True).fit(X, y)
    b = TorchClassifier(**FAST).fit(X, y)
    _assert_bit_equal(a, b)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(s, t) for s, t in zip(np.random.get_state(), np_state))
    assert torch.are_deterministic_algorithms_enabled() == det
    c = TorchClassifier(**{**FAST, "random_state": 1}).fit(X, y)
    assert not torch.equal(_params(a)[0], _params(c)[0])


def test_integer_weights_equal_repeated_rows_full_batch():
    X, y = make_regression(n_samples=200, n_features=5, noise=1, random_state=0)
    y = y / y.std()  # float32 training: keep coefficients of order 1
    w = np.random.RandomState(0).randint(0, 3, 200)
    params = {
        "optimizer": "lbfgs",
        "learning_rate": 1.0,
        "batch_size": None,
        "max_epochs": 30,
        "tol": None,
        "device": "cpu",
        "random_state": 0,
    }
    weighted = TorchRegressor(torch.nn.Linear(5, 1), **params).fit(
        X, y, sample_weight=w
    )
    repeated = TorchRegressor(torch.nn.Linear(5, 1), **params).fit(
        np.repeat(X, w, axis=0), np.repeat(y, w)
    )
    np.testing.assert_allclose(
        weighted.module_.weight.detach().numpy(),
        repeated.module_.weight.detach().numpy(),
        atol=1e-4,
    )
    # both equal the weighted least-squares solution
    design = np.hstack([X, np.ones((200, 1))])
    sqrt_w = np.sqrt(w)[:, None]
    exact = np.linalg.lstsq(design * sqrt_w, y * sqrt_w[:, 0], rcond=None)[0]
    np.testing.assert_allclose(
        weighted.module_.weight.detach().numpy().ravel(), exact[:5], atol=1e-4
    )
    np.testing.assert_allclose(weighted.module_.bias.item(), exact[5], atol=1e-4)


def test_weighted_loss_normalisation_matches_definition(data):
    """One full-batch SGD step: the gradient is that of sum s l / sum s."""
    X, y = data
    s = np.random.RandomState(1).uniform(0, 3, len(y))
    est = TorchClassifier(
        torch.nn.Linear(10, 2),
        optimizer="sgd",
        learning_rate=0.1,
        batch_size=None,
        max_epochs=1,
        tol=None,
        device="cpu",
        random_state=0,
    ).fit(X, y, sample_weight=s)
    ref = torch.nn.Linear(10, 2)
    ref.load_state_dict(TorchClassifier(torch.nn.Linear(10, 2)).module.state_dict())
    init = torch.nn.Linear(10, 2)
    with torch.no_grad():
        for p, q in zip(init.parameters(), est.module.parameters()):
            p.copy_(q)
    Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    st = torch.tensor(s, dtype=torch.float32)
    losses = torch.nn.functional.cross_entropy(init(Xt), yt, reduction="none")
    ((st * losses).sum() / st.sum()).backward()
    expected = [p.detach() - 0.1 * p.grad for p in init.parameters()]
    for got, want in zip(est.module_.parameters(), expected):
        torch.testing.assert_close(got.detach(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "reweighting",
    [
        LossBasedReweighting(r=0.5),
        LossBasedReweighting(strategy="extremes", warmup_steps=3),
        FocalReweighting(),
        GHMReweighting(momentum=0.5),
        ClassBalancedReweighting(beta=0.99),
        GroupTemperatureReweighting(tau=2.0),
    ],
    ids=lambda r: type(r).__name__,
)
def test_strategies_train_and_record_history(data, reweighting):
    X, y = data
    before = repr(reweighting)
    clf = TorchClassifier(**FAST, reweighting=reweighting).fit(X, y)
    assert clf.score(X, y) > 0.8
    assert repr(reweighting) == before and not hasattr(reweighting, "history_")
    assert len(clf.reweighting_.history_) == clf.n_iter_ == 3
    assert {"weight_min", "weight_max", "weight_ess"} <= set(clf.history_[-1])


@pytest.mark.parametrize(
    "sampler, rows",
    [
        (TemperatureSampler(tau=2.0), 400),
        (RS2Sampler(fraction=0.25), 100),
        (SeTaSampler(), None),
        (InfoBatchSampler(), None),
    ],
    ids=lambda s: type(s).__name__,
)
def test_samplers_drive_the_epochs(data, sampler, rows):
    X, y = data
    clf = TorchClassifier(**FAST, sampler=sampler).fit(X, y)
    n_rows = [record["n_rows"] for record in clf.history_]
    assert n_rows[0] == (rows or 400)
    if rows is None:  # loss-aware samplers prune after epoch 0
        assert min(n_rows[1:]) < 400
    assert clf.score(X, y) > 0.6  # RS2: only 6 steps here


def test_early_stopping_and_partial_fit(data):
    X, y = data
    clf = TorchClassifier(
        **{**FAST, "max_epochs": 200}, early_stopping=True, n_iter_no_change=3
    ).fit(X, y)
    assert clf.n_iter_ < 200
    assert len(clf.validation_loss_curve_) == clf.n_iter_
    assert clf.best_loss_ == min(clf.validation_loss_curve_)

    inc = TorchClassifier(**FAST)
    with pytest.raises(ValueError, match="classes must be passed"):
        inc.partial_fit(X, y)
    for _ in range(5):
        inc.partial_fit(X, y, classes=[0, 1])
    assert inc.n_iter_ == 5 and inc.loss_curve_[-1] < inc.loss_curve_[0]
    with pytest.raises(ValueError, match="features"):
        inc.partial_fit(X[:, :3], y)


def test_regressor_multioutput_and_pandas():
    pd = pytest.importorskip("pandas")
    X, Y = make_regression(n_samples=120, n_features=4, n_targets=2, random_state=0)
    Y = Y / Y.std(axis=0)
    frame = pd.DataFrame(X, columns=list("abcd"))
    reg = TorchRegressor(**{**FAST, "max_epochs": 30}).fit(frame, Y)
    assert reg.predict(frame).shape == (120, 2)
    assert list(reg.feature_names_in_) == list("abcd")
    reg1 = TorchRegressor(**FAST, reweighting=GHMReweighting()).fit(X, Y[:, 0])
    assert reg1.predict(X).shape == (120,)


def test_predict_proba_rows_sum_to_one_in_float64(data):
    X, y = data
    proba = TorchClassifier(**FAST).fit(X, y).predict_proba(X)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_clone_grid_search_and_cross_validate(data):
    X, y = data
    rw = LossBasedReweighting()
    clf = TorchClassifier(**FAST, reweighting=rw)
    grid = GridSearchCV(clf, {"reweighting__r": [0.4, 1.0]}, cv=2).fit(X, y)
    assert grid.best_params_["reweighting__r"] in (0.4, 1.0)
    assert rw.r == 1.0 and not hasattr(rw, "history_")
    w = np.random.RandomState(0).uniform(0.5, 2, len(y))
    scores = cross_validate(
        make_pipeline(StandardScaler(), clone(clf)),
        X,
        y,
        cv=2,
        params={"torchclassifier__sample_weight": w},
    )
    assert np.all(scores["test_score"] > 0.7)
    cross_validate(clf, X, y, cv=2, params={"sample_weight": w})


def test_pickle_round_trip(data):
    X, y = data
    clf = TorchClassifier(**FAST).fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    loaded.partial_fit(X, y)  # the optimiser survives
    assert loaded.n_iter_ == clf.n_iter_ + 1


def test_breast_cancer_sanity_floor():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rng = np.random.RandomState(0)
    test = rng.rand(len(y)) < 0.3
    clf = TorchClassifier(
        hidden_layer_sizes=(32,),
        learning_rate=1e-2,
        max_epochs=30,
        batch_size=64,
        device="cpu",
        num_threads=1,
        random_state=0,
        reweighting=LossBasedReweighting(warmup_steps=20),
    ).fit(X[~test], y[~test])
    assert clf.score(X[test], y[test]) >= 0.95


def test_mixed_precision_on_cpu(data):
    X, y = data
    clf = TorchClassifier(**FAST, precision="bf16-mixed").fit(X, y)
    assert clf.score(X, y) > 0.8
    with pytest.raises(ValueError, match="16-mixed"):
        TorchClassifier(**FAST, precision="16-mixed").fit(X, y)


def test_verbose_prints_progress(data, capsys):
    X, y = data
    TorchClassifier(**FAST, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert out.count("epoch") == 3 and "loss" in out


# ---------------------------------------------------------------- bad input
@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_gpu_is_a_clear_error(data):
    X, y = data
    with pytest.raises(ValueError, match="no CUDA GPU is available"):
        TorchClassifier(device="cuda").fit(X, y)
    with pytest.raises(ValueError, match="not a valid torch device"):
        TorchClassifier(device="gpu0").fit(X, y)


def test_module_output_shape_mismatch(data):
    X, y3 = make_classification(
        n_samples=60, n_features=10, n_informative=4, n_classes=3, random_state=0
    )
    with pytest.raises(ValueError, match=r"needs logits.*shape \(2, 3\)"):
        TorchClassifier(torch.nn.Linear(10, 2), **{**FAST}).fit(X, y3)
    with pytest.raises(TypeError, match="module must be a torch.nn.Module"):
        TorchClassifier(lambda n_in, n_out: "nope", device="cpu").fit(X, y3)


def test_bad_inputs_raise_and_leave_inputs_unchanged(data):
    X, y = data
    X0, y0 = X.copy(), y.copy()
    s = np.ones(len(y))
    s[0] = -1
    s0 = s.copy()
    with pytest.raises(ValueError, match="[Nn]egative"):
        TorchClassifier(**FAST).fit(X, y, sample_weight=s)
    with pytest.raises(ValueError, match="non-zero|zero for every row"):
        TorchClassifier(**FAST).fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="groups has 399 entries"):
        TorchClassifier(**FAST, sampler=TemperatureSampler()).fit(X, y, groups=y[:-1])
    X_nan = X.copy()
    X_nan[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        TorchClassifier(**FAST).fit(X_nan, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        TorchClassifier(**FAST).fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="only works with TorchClassifier"):
        TorchRegressor(**FAST, reweighting=FocalReweighting()).fit(X, y.astype(float))
    with pytest.raises(ValueError, match="needs groups"):
        TorchRegressor(**FAST, sampler=TemperatureSampler()).fit(X, y.astype(float))
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(s, s0)


def test_non_finite_loss_raises_floating_point_error(data):
    X, y = data

    def nan_loss(outputs, targets, reduction="none"):
        return outputs.sum(dim=1) * float("nan")

    with pytest.raises(FloatingPointError, match="epoch 0"):
        TorchClassifier(**FAST, criterion=nan_loss).fit(X, y)


# ---------------------------------------------------------------- packaging
def _run(code):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_import_skreweight_does_not_import_torch_and_missing_torch_is_clear():
    result = _run(
        """
        import importlib.util
        import sys

        class BlockTorch:  # simulate an environment without torch
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "torch":
                    raise ModuleNotFoundError(f"No module named {name!r}")

        sys.meta_path.insert(0, BlockTorch())
        real_find_spec = importlib.util.find_spec
        importlib.util.find_spec = lambda name, package=None: (
            None if name.split(".")[0] == "torch" else real_find_spec(name, package)
        )
        import skreweight
        from skreweight.utils.discovery import all_estimators
        names = {name for name, _ in all_estimators()}
        assert "TorchClassifier" not in names, names
        try:
            import skreweight.torch
        except ImportError as exc:
            assert "skreweight[torch]" in str(exc), exc
            print("ok")
        """
    )
    assert result.stdout.strip() == "ok", result.stderr
    result = _run("import sys, skreweight; print('torch' in sys.modules)")
    assert result.stdout.strip() == "False", result.stderr


# ---------------------------------------------------------------- GPU
@needs_cuda
def test_cuda_fit_and_pickle_to_cpu(data):
    X, y = data
    clf = TorchClassifier(**{**FAST, "device": "cuda"}).fit(X, y)
    assert clf.device_.type == "cuda"
    cpu = TorchClassifier(**FAST).fit(X, y)
    assert abs(clf.score(X, y) - cpu.score(X, y)) <= 0.05
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-5)


# ------------------------------------------------- docstrings of components
def _component_paths():
    import inspect

    import skreweight.torch as module

    for name in module.__all__:
        obj = getattr(module, name)
        if not inspect.isclass(obj) or hasattr(obj, "fit"):
            continue  # estimators and functions: tests/test_docstrings.py
        yield f"{obj.__module__}.{name}", True
        for method in ("reset", "set_epoch", "indices", "update", "batch_weights"):
            if method in dir(obj) and callable(getattr(obj, method)):
                yield f"{obj.__module__}.{name}.{method}", False
        if name == "Cooldown" or "__call__" in vars(obj):
            yield f"{obj.__module__}.{name}.__call__", False


@pytest.mark.parametrize("import_path, strict", list(_component_paths()))
def test_component_docstrings(import_path, strict):
    """Strategies, samplers and schedules are not estimators: check them here."""
    validate = pytest.importorskip("numpydoc.validate").validate
    ignored = {"GL01", "GL02", "SA04", "RT02", "PR02", "GL08"}
    if not strict:
        ignored |= {"ES01", "SA01", "EX01"}
    errors = [(c, m) for c, m in validate(import_path)["errors"] if c not in ignored]
    assert not errors, errors


def test_partial_fit_with_sampler_on_chunks_of_different_sizes(data):
    X, y = data
    clf = TorchClassifier(**FAST, sampler=RS2Sampler(fraction=0.5))
    clf.partial_fit(X[:300], y[:300], classes=[0, 1])
    clf.partial_fit(X[300:], y[300:])
    assert [record["n_rows"] for record in clf.history_] == [150, 50]
