"""ReweightedEstimator and ImportanceResampler inside scikit-learn and
imbalanced-learn compositions, with metadata routing off and on."""

import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from imblearn.pipeline import Pipeline as ImbPipeline
from imblearn.under_sampling import RandomUnderSampler
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse, stats
from sklearn import config_context
from sklearn.base import BaseEstimator, ClassifierMixin, clone, is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import balanced_accuracy_score, make_scorer
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import SplineTransformer, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skreweight import ImportanceResampler, ReweightedEstimator
from skreweight.weighting import ClassWeights

ROUTING = [False, True]


@pytest.fixture
def data():
    X, y = make_classification(n_samples=300, weights=[0.85, 0.15], random_state=0)
    w0 = np.random.RandomState(0).uniform(0.5, 2, 300)
    return X, y, w0


class SpyClassifier(ClassifierMixin, BaseEstimator):
    """Records the sample_weight its fit received."""

    def fit(self, X, y, sample_weight=None):
        self.sample_weight_ = sample_weight
        self.classes_ = np.unique(y)
        self.n_fit_rows_ = len(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_weights_and_fit_equal_manual_composition(data):
    X, y, w0 = data
    model = ReweightedEstimator(LogisticRegression(), ClassWeights()).fit(
        X, y, sample_weight=w0
    )
    expected_weights = ClassWeights().fit_reweight(X, y, w0)
    assert_allclose(model.weights_, expected_weights)
    manual = LogisticRegression().fit(X, y, sample_weight=expected_weights)
    assert_allclose(model.estimator_.coef_, manual.coef_)
    assert_array_equal(model.classes_, [0, 1])
    assert_allclose(model.predict_proba(X), manual.predict_proba(X))
    assert_allclose(model.decision_function(X), manual.decision_function(X))
    assert model.score(X, y) == manual.score(X, y)


def test_tags_follow_inner_estimator():
    assert is_classifier(ReweightedEstimator(LogisticRegression(), ClassWeights()))
    regressor = ReweightedEstimator(Ridge(), ClassWeights())
    assert regressor.__sklearn_tags__().estimator_type == "regressor"
    assert not hasattr(ReweightedEstimator(Ridge(), ClassWeights()), "predict_proba")


@pytest.mark.parametrize("routing", ROUTING)
def test_pipeline_and_nested_pipeline_receive_weights(data, routing):
    X, y, _ = data
    inner = Pipeline([("scale", StandardScaler()), ("spy", SpyClassifier())])
    nested = Pipeline([("pre", "passthrough"), ("model", inner)])
    with config_context(enable_metadata_routing=routing):
        if routing:
            inner.steps[-1][1].set_fit_request(sample_weight=True)
            inner.steps[0][1].set_fit_request(sample_weight=False)
        model = ReweightedEstimator(nested, ClassWeights()).fit(X, y)
    spy = model.estimator_.steps[-1][1].steps[-1][1]
    assert_allclose(spy.sample_weight_, model.weights_)


def test_final_step_without_sample_weight_raises(data):
    X, y, _ = data
    model = ReweightedEstimator(
        make_pipeline(StandardScaler(), KNeighborsClassifier()), ClassWeights()
    )
    with pytest.raises(TypeError, match="KNeighborsClassifier.*sample_weight"):
        model.fit(X, y)


def test_bad_parameters_and_input(data):
    X, y, _ = data
    with pytest.raises(InvalidParameterError, match="reweighter"):
        ReweightedEstimator(LogisticRegression(), LogisticRegression()).fit(X, y)
    with pytest.raises(InvalidParameterError, match="power"):
        ReweightedEstimator(LogisticRegression(), ClassWeights(power=-1)).fit(X, y)
    with pytest.raises(ValueError, match="routing"):
        ReweightedEstimator(LogisticRegression(), ClassWeights()).fit(X, y, extra=1)
    with pytest.raises(ValueError, match="[Nn]egative"):
        ReweightedEstimator(LogisticRegression(), ClassWeights()).fit(
            X, y, sample_weight=-np.ones(len(y))
        )
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ReweightedEstimator(LogisticRegression(), ClassWeights()).fit(X_nan, y)
    with pytest.raises(ValueError, match="2 classes"):
        ReweightedEstimator(LogisticRegression(), ClassWeights()).fit(
            X, np.zeros(len(y))
        )


def test_inputs_not_modified(data):
    X, y, w0 = data
    copies = X.copy(), y.copy(), w0.copy()
    ReweightedEstimator(LogisticRegression(), ClassWeights()).fit(X, y, w0)
    ImportanceResampler(random_state=0).fit_resample(X, y)
    for original, copy in zip((X, y, w0), copies):
        assert_array_equal(original, copy)


def test_string_and_pandas_labels(data):
    pd = pytest.importorskip("pandas")
    X, y, _ = data
    labels = pd.Series(np.where(y == 1, "rare", "common"))
    model = ReweightedEstimator(LogisticRegression(), ClassWeights()).fit(X, labels)
    assert_array_equal(model.classes_, ["common", "rare"])
    assert set(model.predict(X)) <= {"common", "rare"}
    assert_allclose(
        model.weights_.sum() / 2, model.weights_[labels.to_numpy() == "rare"].sum()
    )


@pytest.mark.parametrize("routing", ROUTING)
def test_grid_search_over_nested_parameters(data, routing):
    X, y, w0 = data
    model = ReweightedEstimator(LogisticRegression(), ClassWeights())
    grid = {
        "reweighter__method": ["inverse", "effective_number"],
        "reweighter__power": [0.5, 1.0],
        "estimator__C": [0.1, 1.0],
    }
    with config_context(enable_metadata_routing=routing):
        scoring = "balanced_accuracy"
        if routing:
            model.set_fit_request(sample_weight=True)
            scoring = make_scorer(balanced_accuracy_score).set_score_request(
                sample_weight=True
            )
        search = GridSearchCV(model, grid, scoring=scoring, cv=3)
        search.fit(X, y, sample_weight=w0)
    assert set(search.best_params_) == set(grid)
    assert 0.7 < search.best_score_ <= 1.0
    assert_allclose(
        search.best_estimator_.weights_,
        ClassWeights(
            method=search.best_params_["reweighter__method"],
            power=search.best_params_["reweighter__power"],
        ).fit_reweight(X, y, w0),
    )


@pytest.mark.parametrize("routing", ROUTING)
def test_cross_validate_with_weights(data, routing):
    X, y, w0 = data
    model = ReweightedEstimator(LogisticRegression(), ClassWeights())
    with config_context(enable_metadata_routing=routing):
        if routing:
            model.set_fit_request(sample_weight=True)
            model.set_score_request(sample_weight=False)
        result = cross_validate(
            model, X, y, cv=3, params={"sample_weight": w0}, return_estimator=True
        )
    for fitted in result["estimator"]:
        assert fitted.weights_.shape[0] == 200


def test_routing_on_unrequested_metadata_raises(data):
    X, y, w0 = data
    with config_context(enable_metadata_routing=True):
        model = ReweightedEstimator(LogisticRegression(), ClassWeights())
        with pytest.raises(UnsetMetadataPassedError):
            cross_validate(model, X, y, cv=3, params={"sample_weight": w0})


def test_dataframe_column_names_reach_column_transformer():
    pd = pytest.importorskip("pandas")
    X, y = make_classification(
        n_samples=200, n_features=3, n_informative=2, n_redundant=0, random_state=0
    )
    X = pd.DataFrame(X, columns=["a", "b", "c"])
    for routing in ROUTING:
        with config_context(enable_metadata_routing=routing):
            scaler, spline, clf = (
                StandardScaler(),
                SplineTransformer(),
                LogisticRegression(),
            )
            if routing:
                scaler.set_fit_request(sample_weight=False)
                spline.set_fit_request(sample_weight=False)
                clf.set_fit_request(sample_weight=True)
            pre = ColumnTransformer(
                [("scale", scaler, ["a", "b"]), ("spline", spline, ["c"])]
            )
            inner = Pipeline([("pre", pre), ("clf", clf)])
            model = ReweightedEstimator(inner, ClassWeights()).fit(X, y)
        assert_array_equal(model.feature_names_in_, ["a", "b", "c"])
        assert model.score(X, y) > 0.9


def test_inside_imblearn_pipeline_after_sampler(data):
    X, y, _ = data
    pipe = ImbPipeline(
        [
            ("under", RandomUnderSampler(sampling_strategy=0.5, random_state=0)),
            ("scale", StandardScaler()),
            ("model", ReweightedEstimator(LogisticRegression(), ClassWeights())),
        ]
    ).fit(X, y)
    n_resampled = sum(Counter(y).values()) - (Counter(y)[0] - 2 * Counter(y)[1])
    assert pipe[-1].weights_.shape == (n_resampled,)
    search = GridSearchCV(pipe, {"model__reweighter__power": [0.5, 1]}, cv=3)
    search.fit(X, y)
    assert search.best_params_["model__reweighter__power"] in (0.5, 1)


def test_importance_resampler_draw_matches_weights():
    X, y = make_classification(n_samples=60, weights=[0.8], random_state=0)
    resampler = ImportanceResampler(ClassWeights(power=0.5), ratio=50, random_state=0)
    X_res, y_res = resampler.fit_resample(X, y)
    assert_array_equal(X_res, X[resampler.sample_indices_])
    assert_array_equal(y_res, y[resampler.sample_indices_])
    counts = np.bincount(resampler.sample_indices_, minlength=60)
    expected = resampler.weights_ / resampler.weights_.sum() * counts.sum()
    assert stats.chisquare(counts, expected).pvalue > 0.001
    # Deterministic under random_state.
    again = clone(resampler).fit_resample(X, y)[0]
    assert_array_equal(X_res, again)


def test_importance_resampler_balances_and_validates_child():
    X, y = make_classification(n_samples=2000, weights=[0.9], random_state=0)
    _, y_res = ImportanceResampler(random_state=0).fit_resample(X, y)
    counts = np.bincount(y_res)
    assert abs(counts[0] - counts[1]) < 150
    with pytest.raises(InvalidParameterError, match="method"):
        ImportanceResampler(ClassWeights(method="foo")).fit_resample(X, y)
    with pytest.raises(InvalidParameterError, match="ratio"):
        ImportanceResampler(ratio=0).fit_resample(X, y)


def test_importance_resampler_sparse_and_pandas():
    pd = pytest.importorskip("pandas")
    X, y = make_classification(n_samples=100, weights=[0.8], random_state=0)
    X_res, _ = ImportanceResampler(random_state=0).fit_resample(sparse.csr_matrix(X), y)
    assert sparse.issparse(X_res)
    X_df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    X_res_df, y_res = ImportanceResampler(random_state=0).fit_resample(
        X_df, pd.Series(y, name="label")
    )
    assert list(X_res_df.columns) == list(X_df.columns)
    assert y_res.name == "label"


def test_importance_resampler_in_pipeline_grid(data):
    X, y, _ = data
    pipe = ImbPipeline(
        [("imp", ImportanceResampler(random_state=0)), ("clf", LogisticRegression())]
    )
    grid = {
        "imp__ratio": [0.5, 1.0],
        "imp__reweighter": [None, ClassWeights(power=0.5)],
    }
    search = GridSearchCV(pipe, grid, scoring="balanced_accuracy", cv=3).fit(X, y)
    assert search.best_score_ > 0.7


def test_importing_does_not_touch_routing_methods_or_load_extras():
    code = (
        "import imblearn\n"
        "from sklearn.utils._metadata_requests import METHODS, SIMPLE_METHODS\n"
        "before = (list(METHODS), list(SIMPLE_METHODS))\n"
        "import sys, skreweight, skreweight.weighting, skreweight.compose\n"
        "assert (list(METHODS), list(SIMPLE_METHODS)) == before\n"
        "heavy = {'torch', 'dask', 'distributed', 'ray', 'matplotlib'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_dask_backend_equals_sequential(data):
    pytest.importorskip("distributed")
    from dask.distributed import Client, LocalCluster
    from joblib import parallel_config
    from sklearn.model_selection import cross_val_score

    X, y, _ = data
    model = ReweightedEstimator(LogisticRegression(), ClassWeights())
    sequential = cross_val_score(model, X, y, cv=5)
    with (
        LocalCluster(
            processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster),
        parallel_config(backend="dask"),
    ):
        distributed = cross_val_score(model, X, y, cv=5, n_jobs=-1)
    assert_allclose(distributed, sequential)
