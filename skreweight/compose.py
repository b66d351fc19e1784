"""Composition: use a reweighter with any estimator or inside any pipeline.

A scikit-learn ``Pipeline`` step cannot emit ``sample_weight`` and an
imbalanced-learn sampler must return exactly ``(X, y)``. Reweighters therefore
plug in through two adapters:

- :class:`ReweightedEstimator` wraps an estimator: it computes the weights on
  the training rows and fits the estimator with them ("upweight");
- :class:`ImportanceResampler` is an imbalanced-learn sampler that draws rows
  with probability proportional to the weights ("upsample").
"""

import copy
from numbers import Real

import numpy as np
from imblearn.base import BaseSampler
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils._tags import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from skreweight.utils._sklearn_fixes import (
    HasMethods,
    Interval,
    MetadataRouter,
    MethodMapping,
    _check_sample_weight,
    _fit_context,
    _raise_for_params,
    _routing_enabled,
    _safe_indexing,
    process_routing,
    validate_data,
)

__all__ = ["ImportanceResampler", "ReweightedEstimator"]


def _final_estimator_path(estimator):
    """Return the ``a__b__`` prefix and the final step of nested pipelines."""
    prefix = ""
    while hasattr(estimator, "steps"):
        name, estimator = estimator.steps[-1]
        if estimator is None or estimator == "passthrough":
            raise TypeError(
                "The final step of the Pipeline passed as `estimator` is "
                f"'passthrough' ({prefix}{name}); it cannot take sample_weight."
            )
        prefix += f"{name}__"
    return prefix, estimator


def _sample_weight_kwargs(estimator, weights):
    """Keyword arguments that hand ``weights`` to ``estimator.fit``.

    With metadata routing off, a Pipeline only forwards ``<step>__param``
    keys, so the weights are addressed to the last step of (nested) pipelines.
    """
    if _routing_enabled():
        return {"sample_weight": weights}
    prefix, final = _final_estimator_path(estimator)
    if not has_fit_parameter(final, "sample_weight"):
        raise TypeError(
            f"{type(final).__name__} (the estimator fitted by ReweightedEstimator) "
            "does not accept sample_weight in fit, so the reweighter's weights "
            "cannot reach it. Use an estimator whose fit takes sample_weight, or "
            "ImportanceResampler to resample the rows instead."
        )
    return {f"{prefix}sample_weight": weights}


def _estimator_has(attr):
    """Check ``attr`` on the fitted estimator if any, else on the unfitted one."""

    def check(self):
        if hasattr(self, "estimator_"):
            getattr(self.estimator_, attr)
        else:
            getattr(self.estimator, attr)
        return True

    return check


class ReweightedEstimator(MetaEstimatorMixin, BaseEstimator):
    """Fit an estimator with the weights computed by a reweighter.

    At ``fit``, a clone of ``reweighter`` computes one weight per training row
    (``weights_``, incoming ``sample_weight`` included) and a clone of
    ``estimator`` is fitted with those weights as ``sample_weight``. Prediction
    methods are those of the fitted estimator.

    This is how a reweighter enters a ``Pipeline``, a ``GridSearchCV``
    (tune ``reweighter__<param>``) or ``cross_validate``: the weights are
    recomputed on each training fold only.

    Read more in the :ref:`User Guide <composition>`.

    Parameters
    ----------
    estimator : estimator object
        The estimator to fit with the weights. Its ``fit`` must take
        ``sample_weight``; if it is a ``Pipeline``, its last step must take it
        (the weights are routed there).

    reweighter : reweighter object
        Any object with ``fit_reweight(X, y, sample_weight)``, such as
        :class:`~skreweight.weighting.ClassWeights`.

    Attributes
    ----------
    estimator_ : estimator object
        The fitted clone of ``estimator``.

    reweighter_ : reweighter object
        The fitted clone of ``reweighter``.

    weights_ : ndarray of shape (n_samples,)
        The weights the estimator was fitted with.

    classes_ : ndarray of shape (n_classes,)
        Class labels, when the estimator is a classifier.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    ImportanceResampler : Resample rows in proportion to a reweighter's weights.
    skreweight.weighting.ClassWeights : Weights that balance the classes.

    Notes
    -----
    With metadata routing off (scikit-learn's default), the weights reach the
    last step of a ``Pipeline`` estimator as ``<step>__sample_weight``. With
    routing on, call ``set_fit_request(sample_weight=True)`` on this object so
    that a ``GridSearchCV`` or ``cross_validate`` forwards incoming weights;
    other metadata go to whichever child requested them.

    Place the wrapper last in a ``Pipeline`` so that the reweighter sees the
    same features as the estimator.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skreweight import ReweightedEstimator
    >>> from skreweight.weighting import ClassWeights
    >>> X, y = make_classification(n_samples=200, weights=[0.9], random_state=0)
    >>> model = ReweightedEstimator(LogisticRegression(), ClassWeights())
    >>> model.fit(X, y).predict(X[:3])
    array([0, 0, 1])
    >>> model.weights_[y == 0].sum(), model.weights_[y == 1].sum()
    (np.float64(100.0...), np.float64(100.0...))
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"])],
        "reweighter": [HasMethods(["fit_reweight"])],
    }

    def __init__(self, estimator, reweighter):
        self.estimator = estimator
        self.reweighter = reweighter

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Compute the weights and fit the estimator with them.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data; passed to the children unconverted, so that a
            DataFrame keeps its column names.

        y : array-like of shape (n_samples,)
            Target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Incoming weights; the reweighter folds them into ``weights_``.

        **fit_params : dict
            Other metadata, routed to the reweighter and the estimator that
            requested them. Only with metadata routing enabled.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        _raise_for_params(fit_params, self, "fit")
        validate_data(self, X, y, skip_check_array=True)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )

        if _routing_enabled():
            routed = process_routing(self, "fit", **fit_params)
            reweighter_params = routed["reweighter"]["fit"]
            estimator_params = routed["estimator"]["fit"]
        else:
            reweighter_params, estimator_params = {}, {}

        self.reweighter_ = clone(self.reweighter)
        self.weights_ = np.asarray(
            self.reweighter_.fit_reweight(
                X, y, sample_weight=sample_weight, **reweighter_params
            ),
            dtype=np.float64,
        )
        self.estimator_ = clone(self.estimator)
        self.estimator_.fit(
            X,
            y,
            **_sample_weight_kwargs(self.estimator_, self.weights_),
            **estimator_params,
        )
        return self

    @property
    def classes_(self):
        """Class labels of the fitted classifier."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.classes_

    def _routed_call(self, method, X, params):
        check_is_fitted(self, "estimator_")
        _raise_for_params(params, self, method)
        if _routing_enabled():
            params = process_routing(self, method, **params)["estimator"][method]
        return getattr(self.estimator_, method)(X, **params)

    @available_if(_estimator_has("predict"))
    def predict(self, X, **params):
        """Predict with the fitted estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        **params : dict
            Metadata routed to the estimator's ``predict`` (routing on only).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predictions of the fitted estimator.
        """
        return self._routed_call("predict", X, params)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X, **params):
        """Class probabilities from the fitted estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        **params : dict
            Metadata routed to the estimator (routing on only).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Class probabilities, columns in ``classes_`` order.
        """
        return self._routed_call("predict_proba", X, params)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X, **params):
        """Log class probabilities from the fitted estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        **params : dict
            Metadata routed to the estimator (routing on only).

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log class probabilities, columns in ``classes_`` order.
        """
        return self._routed_call("predict_log_proba", X, params)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X, **params):
        """Decision function of the fitted estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        **params : dict
            Metadata routed to the estimator (routing on only).

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Decision scores.
        """
        return self._routed_call("decision_function", X, params)

    @available_if(_estimator_has("transform"))
    def transform(self, X, **params):
        """Transform with the fitted estimator.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        **params : dict
            Metadata routed to the estimator (routing on only).

        Returns
        -------
        X_out : array-like
            Transformed data.
        """
        return self._routed_call("transform", X, params)

    @available_if(_estimator_has("score"))
    def score(self, X, y, sample_weight=None, **params):
        """Score of the fitted estimator on ``(X, y)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Test data.

        y : array-like of shape (n_samples,)
            True targets.

        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the test rows (not reweighted).

        **params : dict
            Other metadata routed to the estimator (routing on only).

        Returns
        -------
        score : float
            The estimator's default score (accuracy or R²).
        """
        check_is_fitted(self, "estimator_")
        _raise_for_params(params, self, "score")
        if _routing_enabled():
            params = process_routing(self, "score", **params)["estimator"]["score"]
        if sample_weight is not None:
            params["sample_weight"] = sample_weight
        return self.estimator_.score(X, y, **params)

    def get_metadata_routing(self):
        """Get the metadata routing of this object.

        Returns
        -------
        routing : MetadataRouter
            Routing of ``fit`` to both children and of the prediction methods
            to the estimator; ``sample_weight`` is consumed by this object.
        """
        estimator_mapping = MethodMapping().add(caller="fit", callee="fit")
        for method in (
            "predict",
            "predict_proba",
            "predict_log_proba",
            "decision_function",
            "transform",
            "score",
        ):
            estimator_mapping.add(caller=method, callee=method)
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(estimator=self.estimator, method_mapping=estimator_mapping)
            .add(
                reweighter=self.reweighter,
                method_mapping=MethodMapping().add(caller="fit", callee="fit"),
            )
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        reweighter = get_tags(self.reweighter)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = copy.deepcopy(inner.classifier_tags)
        tags.regressor_tags = copy.deepcopy(inner.regressor_tags)
        tags.transformer_tags = copy.deepcopy(inner.transformer_tags)
        tags.target_tags.required = True
        for name in ("sparse", "allow_nan", "string"):
            supported = getattr(inner.input_tags, name) and getattr(
                reweighter.input_tags, name
            )
            setattr(tags.input_tags, name, supported)
        return tags


class ImportanceResampler(BaseSampler):
    """Resample rows with probability proportional to a reweighter's weights.

    The "upsample instead of upweight" form of any reweighter: the weights
    ``w`` of the training rows are computed, then ``round(ratio * n)`` rows are
    drawn with replacement, row ``i`` with probability ``w_i / sum(w)``. As an
    imbalanced-learn sampler it acts at fit time only, inside an
    imbalanced-learn ``Pipeline``, so estimators without ``sample_weight``
    can still be trained on the reweighted distribution.

    Read more in the :ref:`User Guide <composition>`.

    Parameters
    ----------
    reweighter : reweighter object, default=None
        Any object with ``fit_reweight(X, y)``. ``None`` means
        :class:`~skreweight.weighting.ClassWeights` (balanced classes).

    ratio : float, default=1.0
        Size of the drawn sample relative to the input, ``> 0``.

    random_state : int, RandomState instance or None, default=None
        Controls the draw. Pass an int for reproducible output.

    Attributes
    ----------
    reweighter_ : reweighter object
        The fitted clone of ``reweighter``.

    weights_ : ndarray of shape (n_samples,)
        The weights of the input rows.

    sample_indices_ : ndarray of shape (n_resampled,)
        Indices of the drawn rows, so that ``X_res == X[sample_indices_]``.

    sampling_strategy_ : dict
        Empty: this sampler does not target class counts.

    n_features_in_ : int
        Number of features seen during ``fit_resample``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit_resample``, when ``X`` has string
        column names.

    See Also
    --------
    ReweightedEstimator : Pass the weights as ``sample_weight`` instead.
    imblearn.over_sampling.RandomOverSampler : Duplicate minority rows.

    Notes
    -----
    Unlike the over-samplers, the output is the draw itself: original rows are
    not kept first, and rows with weight 0 never appear. With
    ``ClassWeights()`` and ``ratio=1`` every class is expected to be equally
    frequent in the output.

    Examples
    --------
    >>> from collections import Counter
    >>> from sklearn.datasets import make_classification
    >>> from skreweight import ImportanceResampler
    >>> X, y = make_classification(n_samples=1000, weights=[0.9], random_state=0)
    >>> X_res, y_res = ImportanceResampler(random_state=0).fit_resample(X, y)
    >>> X_res.shape
    (1000, 20)
    >>> sorted(Counter(y_res).items())
    [(np.int64(0), 511), (np.int64(1), 489)]
    """

    _sampling_type = "bypass"
    # Not a parameter: imbalanced-learn's fit_resample reads it, and "bypass"
    # samplers ignore its value.
    sampling_strategy = "auto"

    _parameter_constraints: dict = {
        "reweighter": [HasMethods(["fit_reweight"]), None],
        "ratio": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(self, reweighter=None, ratio=1.0, random_state=None):
        self.reweighter = reweighter
        self.ratio = ratio
        self.random_state = random_state

    def _check_X_y(self, X, y, accept_sparse=None):
        # The draw only needs indices: the reweighter validates the features
        # it uses, so object or NaN columns pass through untouched.
        from imblearn.utils import check_target_type

        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        X, y = validate_data(
            self,
            X=X,
            y=y,
            reset=True,
            accept_sparse=["csr", "csc"],
            dtype=None,
            ensure_all_finite=False,
        )
        return X, y, binarize_y

    def _fit_resample(self, X, y):
        if self.reweighter is None:
            from skreweight.weighting import ClassWeights

            reweighter = ClassWeights()
        else:
            reweighter = clone(self.reweighter)
        # fit_resample skips nested validation; validate the child explicitly.
        if hasattr(reweighter, "_validate_params"):
            reweighter._validate_params()
        weights = np.asarray(reweighter.fit_reweight(X, y), dtype=np.float64)
        total = weights.sum()
        if not np.isfinite(total) or total <= 0:
            raise ValueError(
                f"{type(reweighter).__name__} returned weights that sum to {total}; "
                "ImportanceResampler needs a positive, finite total weight."
            )
        self.reweighter_ = reweighter
        self.weights_ = weights
        random_state = check_random_state(self.random_state)
        n_out = max(int(round(self.ratio * X.shape[0])), 1)
        # Inverse-CDF draw: row i is drawn when cdf[i-1] <= u < cdf[i], so rows
        # of weight 0 never are. Sorted queries make searchsorted cache-friendly
        # (much faster than RandomState.choice(p=...)); the shuffle restores a
        # random order.
        cdf = np.cumsum(weights)
        u = np.sort(random_state.uniform(0.0, cdf[-1], size=n_out))
        last_positive = np.flatnonzero(weights)[-1]
        indices = np.minimum(np.searchsorted(cdf, u, side="right"), last_positive)
        random_state.shuffle(indices)
        self.sample_indices_ = indices
        return (
            _safe_indexing(X, self.sample_indices_),
            _safe_indexing(y, self.sample_indices_),
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.sampler_tags.sample_indices = True
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.non_deterministic = self.random_state is None
        return tags
