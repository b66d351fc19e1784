"""Estimator-level comparison: paired cross-validation scores, tests, nested CV.

All functions draw the splits once in the calling process and fit a fresh
clone of every estimator on every training fold, so that scores are paired,
resamplers and reweighters only ever see training rows, and results do not
depend on ``n_jobs`` or the joblib backend.
"""

import numbers
from inspect import signature

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import clone, is_classifier
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.metrics import check_scoring
from sklearn.model_selection import (
    KFold,
    RepeatedKFold,
    RepeatedStratifiedKFold,
    StratifiedKFold,
    check_cv,
)
from sklearn.utils import Bunch, check_random_state, indexable
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.parallel import Parallel, delayed

from skreweight.model_selection._split import FiveByTwoSplit, RepeatedHoldout
from skreweight.model_selection._tests import (
    bayesian_correlated_ttest,
    combined_ftest_5x2cv,
    corrected_resampled_ttest,
    mcnemar,
    mcnemar_table,
    paired_ttest_5x2cv,
)
from skreweight.utils._sklearn_fixes import (
    HasMethods,
    Interval,
    MetadataRouter,
    MethodMapping,
    StrOptions,
    _check_method_params,
    _routing_enabled,
    _safe_indexing,
    process_routing,
    validate_params,
)

__all__ = ["compare_estimators", "nested_cross_validate", "paired_cross_val_scores"]

_TESTS = {
    "corrected_ttest": "repeated",
    "bayes": "repeated",
    "bayesian": "repeated",
    "5x2cv_t": "5x2",
    "5x2cv_f": "5x2",
    "mcnemar": "holdout",
}


def _is_class_target(y):
    return y is not None and type_of_target(y) in ("binary", "multiclass")


def _resolve_cv(cv, y, classifier, rng, design="repeated"):
    stratify = classifier and _is_class_target(y)
    if cv is None:
        if design == "5x2":
            return FiveByTwoSplit(random_state=rng)
        if design == "holdout":
            return RepeatedHoldout(n_splits=1, random_state=rng)
        cls = RepeatedStratifiedKFold if stratify else RepeatedKFold
        return cls(n_splits=10, n_repeats=10, random_state=rng)
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        cls = StratifiedKFold if stratify else KFold
        return cls(n_splits=cv, shuffle=True, random_state=rng)
    return check_cv(cv, y, classifier=classifier)


def _accepts_sample_weight(scorer):
    accept = getattr(scorer, "_accept_sample_weight", None)
    if callable(accept):
        return accept()
    try:
        return "sample_weight" in signature(scorer).parameters
    except (TypeError, ValueError):
        return False


def _route(owner, estimators, scorers, cv, params, groups):
    """Return split params and per-estimator fit and score params."""
    n = len(estimators)
    if _routing_enabled():
        if groups is not None:
            params = {**params, "groups": groups}
        router = MetadataRouter(owner=owner).add(
            splitter=cv,
            method_mapping=MethodMapping().add(caller="fit", callee="split"),
        )
        for i, (est, scorer) in enumerate(zip(estimators, scorers)):
            router.add(
                **{f"estimator{i}": est},
                method_mapping=MethodMapping().add(caller="fit", callee="fit"),
            )
            router.add(
                **{f"scorer{i}": scorer},
                method_mapping=MethodMapping().add(caller="fit", callee="score"),
            )
        try:
            routed = process_routing(router, "fit", **params)
        except UnsetMetadataPassedError as exc:
            raise UnsetMetadataPassedError(
                message=str(exc).replace(f"{owner}.fit", owner),
                unrequested_params=exc.unrequested_params,
                routed_params=exc.routed_params,
            ) from exc
        split_params = dict(routed["splitter"]["split"])
        fit_params = [dict(routed[f"estimator{i}"]["fit"]) for i in range(n)]
        score_params = [dict(routed[f"scorer{i}"]["score"]) for i in range(n)]
        return split_params, fit_params, score_params
    split_params = {} if groups is None else {"groups": groups}
    fit_params = [dict(params) for _ in range(n)]
    weights = params.get("sample_weight")
    score_params = [
        {"sample_weight": weights}
        if weights is not None and _accepts_sample_weight(scorer)
        else {}
        for scorer in scorers
    ]
    return split_params, fit_params, score_params


def _fit_and_score(
    estimator, X, y, train, test, fit_params, scorer, score_params, extract
):
    fit_params = _check_method_params(X, params=fit_params, indices=train)
    score_params = _check_method_params(X, params=score_params, indices=test)
    X_train = _safe_indexing(X, train)
    y_train = None if y is None else _safe_indexing(y, train)
    estimator.fit(X_train, y_train, **fit_params)
    X_test = _safe_indexing(X, test)
    y_test = None if y is None else _safe_indexing(y, test)
    score = scorer(estimator, X_test, y_test, **score_params)
    extra = None
    if extract == "predict":
        extra = np.asarray(estimator.predict(X_test))
    elif extract == "search":
        extra = {
            "best_params": getattr(estimator, "best_params_", None),
            "best_score": getattr(estimator, "best_score_", None),
        }
    return float(score), extra


def _fit_and_score_chunk(
    estimators, X, y, jobs, fit_params, scorers, score_params, extract
):
    return [
        _fit_and_score(
            clone(estimators[i]),
            X,
            y,
            train,
            test,
            fit_params[i],
            scorers[i],
            score_params[i],
            extract,
        )
        for i, train, test in jobs
    ]


def _names(estimators):
    if isinstance(estimators, dict):
        return list(estimators.keys()), list(estimators.values())
    estimators = list(estimators)
    names, seen = [], {}
    for est in estimators:
        name = type(est).__name__
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return names, estimators


def _evaluate(owner, estimators, X, y, *, cv, scoring, groups, params, n_jobs, extract):
    X, y, groups = indexable(X, y, groups)
    params = dict(params or {})
    scorers = [check_scoring(est, scoring) for est in estimators]
    split_params, fit_params, score_params = _route(
        owner, estimators, scorers, cv, params, groups
    )
    splits = list(cv.split(X, y, **split_params))
    if not splits:
        raise ValueError("cv produced no splits.")
    n_est = len(estimators)
    jobs = [(i, train, test) for train, test in splits for i in range(len(estimators))]
    # A few chunks per worker rather than one task per fit: small models fit
    # faster than a task is dispatched.
    chunks = np.array_split(
        np.arange(len(jobs)), min(len(jobs), 4 * effective_n_jobs(n_jobs))
    )
    chunked = Parallel(n_jobs=n_jobs)(
        delayed(_fit_and_score_chunk)(
            estimators,
            X,
            y,
            [jobs[k] for k in chunk],
            fit_params,
            scorers,
            score_params,
            extract,
        )
        for chunk in chunks
    )
    results = [r for chunk in chunked for r in chunk]
    scores = np.array([r[0] for r in results]).reshape(len(splits), n_est)
    extras = [
        [results[s * n_est + i][1] for i in range(n_est)] for s in range(len(splits))
    ]
    return scores, splits, extras


@validate_params(
    {
        "estimators": [list, tuple, dict],
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like", None],
        "cv": ["cv_object", None],
        "scoring": [str, callable, None],
        "groups": ["array-like", None],
        "params": [dict, None],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
        "return_predictions": ["boolean"],
    },
    prefer_skip_nested_validation=False,
)
def paired_cross_val_scores(
    estimators,
    X,
    y=None,
    *,
    cv=None,
    scoring=None,
    groups=None,
    params=None,
    n_jobs=None,
    random_state=None,
    return_predictions=False,
):
    """Score several estimators on the same cross-validation splits.

    The splits are drawn once and every estimator is cloned and fitted on
    every training fold, so row ``s`` of the result holds paired scores: the
    input of :func:`corrected_resampled_ttest`,
    :func:`bayesian_correlated_ttest`, :func:`friedman_test` or
    :func:`plot_critical_difference`. Resamplers (imbalanced-learn
    ``Pipeline``) and reweighters (:class:`~skreweight.ReweightedEstimator`)
    inside an estimator are fitted on training folds only.

    Read more in the :ref:`User Guide <model_selection>`.

    Parameters
    ----------
    estimators : list or dict of estimator objects
        The models to compare; a dict gives their names.

    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Data.

    y : array-like of shape (n_samples,), default=None
        Targets.

    cv : int, cross-validation generator, iterable or None, default=None
        ``None``: 10 times repeated (stratified for classifiers) 10-fold CV;
        an int ``k``: *shuffled* (stratified) k-fold, seeded by
        ``random_state``; otherwise any scikit-learn ``cv``.

    scoring : str, callable or None, default=None
        One greater-is-better scorer; ``None`` uses each estimator's
        ``score``.

    groups : array-like of shape (n_samples,), default=None
        Group labels for group splitters.

    params : dict, default=None
        Fit parameters (metadata), indexed per fold. With metadata routing
        off, they all go to every estimator's ``fit`` and ``sample_weight``
        also to scorers that accept it (as ``GridSearchCV`` does, unlike
        ``cross_validate``). With routing on, each goes where it was
        requested.

    n_jobs : int, default=None
        Number of fits run in parallel through ``sklearn.utils.parallel``.

    random_state : int, RandomState instance or None, default=None
        Seeds the default and int ``cv``.

    return_predictions : bool, default=False
        Also return each fitted model's ``predict`` on its test fold.

    Returns
    -------
    result : Bunch
        ``scores`` of shape (n_splits, n_estimators); ``names``;
        ``n_train`` and ``n_test`` per split; ``test_train_ratio``
        (``mean(n_test) / mean(n_train)``, for the corrected tests);
        ``test_indices``; and with ``return_predictions``, ``predictions``
        (a list over splits of lists over estimators).

    See Also
    --------
    compare_estimators : Compare two estimators with a test in one call.
    sklearn.model_selection.cross_validate : One estimator at a time (two
        calls with ``random_state=None`` splitters are not paired).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skreweight.model_selection import paired_cross_val_scores
    >>> X, y = load_iris(return_X_y=True)
    >>> res = paired_cross_val_scores(
    ...     {"lr": LogisticRegression(max_iter=1000),
    ...      "tree": DecisionTreeClassifier(random_state=0)},
    ...     X, y, cv=5, random_state=0)
    >>> res.scores.shape, res.names, round(res.test_train_ratio, 2)
    ((5, 2), ['lr', 'tree'], 0.25)
    """
    names, estimators = _names(estimators)
    if not estimators:
        raise ValueError("estimators is empty; pass at least one estimator.")
    for est in estimators:
        if not hasattr(est, "fit"):
            raise TypeError(
                f"estimators must be estimators with fit; got {type(est).__name__}."
            )
    rng = check_random_state(random_state)
    cv = _resolve_cv(cv, y, is_classifier(estimators[0]), rng)
    scores, splits, extras = _evaluate(
        "paired_cross_val_scores",
        estimators,
        X,
        y,
        cv=cv,
        scoring=scoring,
        groups=groups,
        params=params,
        n_jobs=n_jobs,
        extract="predict" if return_predictions else None,
    )
    n_train = np.array([len(train) for train, _ in splits])
    n_test = np.array([len(test) for _, test in splits])
    result = Bunch(
        scores=scores,
        names=names,
        n_train=n_train,
        n_test=n_test,
        test_train_ratio=float(n_test.mean() / n_train.mean()),
        test_indices=[test for _, test in splits],
    )
    if return_predictions:
        result["predictions"] = extras
    return result


@validate_params(
    {
        "estimator1": [HasMethods(["fit"])],
        "estimator2": [HasMethods(["fit"])],
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like", None],
        "test": [StrOptions(set(_TESTS))],
        "cv": ["cv_object", None],
        "scoring": [str, callable, None],
        "groups": ["array-like", None],
        "params": [dict, None],
        "rope": [Interval(numbers.Real, 0, None, closed="left")],
        "alternative": [StrOptions({"two-sided", "greater", "less"})],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=False,
)
def compare_estimators(
    estimator1,
    estimator2,
    X,
    y=None,
    *,
    test="corrected_ttest",
    cv=None,
    scoring=None,
    groups=None,
    params=None,
    rope=0.0,
    alternative="two-sided",
    n_jobs=None,
    random_state=None,
):
    """Fit two estimators on the same splits and test whether they differ.

    Read more in the :ref:`User Guide <model_selection>`.

    Parameters
    ----------
    estimator1, estimator2 : estimator object
        The models; cloned per fold. Differences are ``estimator1`` minus
        ``estimator2`` scores.

    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Data.

    y : array-like of shape (n_samples,), default=None
        Targets.

    test : {"corrected_ttest", "bayes", "bayesian", "5x2cv_t", "5x2cv_f", \
            "mcnemar"}, default="corrected_ttest"
        ``"corrected_ttest"``: Nadeau-Bengio t on 10x10 CV;
        ``"bayes"`` (alias ``"bayesian"``): Bayesian correlated t-test on
        10x10 CV with ``rope``; ``"5x2cv_t"`` / ``"5x2cv_f"``: Dietterich's t
        or Alpaydin's F on :class:`FiveByTwoSplit`; ``"mcnemar"``: exact
        McNemar test on one stratified 70/30 hold-out split.

    cv : int, cross-validation generator, iterable or None, default=None
        Override the test's default splits. For the 5x2 tests it must yield
        the two folds of each repeat consecutively; for McNemar one split.

    scoring : str, callable or None, default=None
        Greater-is-better scorer (ignored by McNemar, which uses accuracy).

    groups : array-like of shape (n_samples,), default=None
        Group labels for group splitters.

    params : dict, default=None
        Fit parameters (metadata), as in :func:`paired_cross_val_scores`.

    rope : float, default=0.0
        Region of practical equivalence of the Bayesian test.

    alternative : {"two-sided", "greater", "less"}, default="two-sided"
        Alternative of the corrected and 5x2cv t-tests.

    n_jobs : int, default=None
        Number of fits run in parallel.

    random_state : int, RandomState instance or None, default=None
        Seeds the default splits.

    Returns
    -------
    result : TestResult or BayesianComparisonResult
        The test's result; ``details`` also holds ``scores`` (n_splits, 2),
        ``mean_scores`` and ``test_train_ratio``.

    See Also
    --------
    paired_cross_val_scores : The paired scores behind the tests.
    corrected_resampled_ttest : The default test on scores.

    Notes
    -----
    mlxtend equivalents: ``paired_ttest_5x2cv`` and ``combined_ftest_5x2cv``
    are ``test="5x2cv_t"`` and ``"5x2cv_f"``; ``paired_ttest_resampled`` is
    ``cv=RepeatedHoldout(30)``; ``paired_ttest_kfold_cv`` is
    ``cv=10`` with ``corrected_resampled_ttest(..., test_train_ratio=0)`` on
    the scores of :func:`paired_cross_val_scores`.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skreweight.model_selection import compare_estimators
    >>> X, y = load_iris(return_X_y=True)
    >>> res = compare_estimators(DecisionTreeClassifier(random_state=0),
    ...                          DummyClassifier(), X, y, test="5x2cv_f",
    ...                          random_state=0)
    >>> res.pvalue < 0.01
    True
    """
    design = _TESTS[test]
    rng = check_random_state(random_state)
    estimators = [estimator1, estimator2]
    cv = _resolve_cv(cv, y, is_classifier(estimator1), rng, design)
    if test == "mcnemar":
        scoring = "accuracy"
    scores, splits, extras = _evaluate(
        "compare_estimators",
        estimators,
        X,
        y,
        cv=cv,
        scoring=scoring,
        groups=groups,
        params=params,
        n_jobs=n_jobs,
        extract="predict" if test == "mcnemar" else None,
    )
    n_train = np.array([len(train) for train, _ in splits])
    n_test = np.array([len(test_) for _, test_ in splits])
    ratio = float(n_test.mean() / n_train.mean())
    s1, s2 = scores[:, 0], scores[:, 1]
    if test == "corrected_ttest":
        result = corrected_resampled_ttest(
            s1, s2, test_train_ratio=ratio, alternative=alternative
        )
    elif test in ("bayes", "bayesian"):
        result = bayesian_correlated_ttest(s1, s2, test_train_ratio=ratio, rope=rope)
    elif test in ("5x2cv_t", "5x2cv_f"):
        if len(splits) % 2:
            raise ValueError(
                f"test={test!r} needs an even number of splits (two folds per "
                f"repeat, consecutive); cv gave {len(splits)}. Use FiveByTwoSplit."
            )
        d = (s1 - s2).reshape(-1, 2)
        if test == "5x2cv_t":
            result = paired_ttest_5x2cv(d, alternative=alternative)
        else:
            result = combined_ftest_5x2cv(d)
    else:
        if len(splits) != 1:
            raise ValueError(
                "test='mcnemar' compares predictions on one test set; cv must "
                f"yield exactly one split, got {len(splits)}. Use "
                "RepeatedHoldout(n_splits=1)."
            )
        y_test = np.asarray(_safe_indexing(y, splits[0][1]))
        table = mcnemar_table(y_test, extras[0][0], extras[0][1])
        result = mcnemar(table, method="exact")
        result.details["table"] = table
    result.details.update(
        scores=scores,
        mean_scores=scores.mean(axis=0),
        test_train_ratio=ratio,
        n_splits=len(splits),
    )
    return result


@validate_params(
    {
        "estimator": [HasMethods(["fit"])],
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like", None],
        "cv": ["cv_object", None],
        "scoring": [str, callable, None],
        "groups": ["array-like", None],
        "params": [dict, None],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=False,
)
def nested_cross_validate(
    estimator,
    X,
    y=None,
    *,
    cv=5,
    scoring=None,
    groups=None,
    params=None,
    n_jobs=None,
    random_state=None,
):
    """Nested cross-validation of a model-selection procedure.

    The outer loop scores the whole procedure (typically a ``GridSearchCV``
    whose inner CV picks hyper-parameters) on folds the search never saw:
    an almost unbiased estimate of the performance of "tune, then fit". The
    inner choices are reported per outer fold, which shows how stable the
    selection is.

    Read more in the :ref:`User Guide <model_selection>`.

    Parameters
    ----------
    estimator : estimator object
        Usually a ``GridSearchCV`` or ``RandomizedSearchCV``; any estimator
        works (``best_params`` is then None).

    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Data.

    y : array-like of shape (n_samples,), default=None
        Targets.

    cv : int, cross-validation generator, iterable or None, default=5
        Outer splits; an int gives shuffled (stratified) k-fold seeded by
        ``random_state``.

    scoring : str, callable or None, default=None
        Outer scorer; ``None`` uses the estimator's ``score`` (for a search,
        its refit scorer).

    groups : array-like of shape (n_samples,), default=None
        Group labels for the outer splitter.

    params : dict, default=None
        Fit parameters, indexed per outer fold and passed to the search's
        ``fit`` (which routes them on); ``sample_weight`` also weights the
        outer scores when the scorer accepts it.

    n_jobs : int, default=None
        Number of outer folds run in parallel.

    random_state : int, RandomState instance or None, default=None
        Seeds an int ``cv``.

    Returns
    -------
    result : Bunch
        ``test_score`` (n_outer_splits,), ``mean_score``, ``std_score``,
        ``best_params`` and ``best_score`` (the inner CV score) per outer
        fold.

    See Also
    --------
    sklearn.model_selection.GridSearchCV : The usual inner procedure.
    paired_cross_val_scores : Compare several (nested) procedures.

    References
    ----------
    .. [1] Varma, S. and Simon, R. (2006). Bias in error estimation when
       using cross-validation for model selection. BMC Bioinformatics, 7, 91.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skreweight.model_selection import nested_cross_validate
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(DecisionTreeClassifier(random_state=0),
    ...                       {"max_depth": [1, 3]}, cv=3)
    >>> res = nested_cross_validate(search, X, y, cv=3, random_state=0)
    >>> res.best_params
    [{'max_depth': 3}, {'max_depth': 3}, {'max_depth': 3}]
    """
    rng = check_random_state(random_state)
    cv = _resolve_cv(cv, y, is_classifier(estimator), rng)
    scores, _, extras = _evaluate(
        "nested_cross_validate",
        [estimator],
        X,
        y,
        cv=cv,
        scoring=scoring,
        groups=groups,
        params=params,
        n_jobs=n_jobs,
        extract="search",
    )
    test_score = scores[:, 0]
    return Bunch(
        test_score=test_score,
        mean_score=float(test_score.mean()),
        std_score=float(test_score.std(ddof=1)) if test_score.size > 1 else 0.0,
        best_params=[e[0]["best_params"] for e in extras],
        best_score=[e[0]["best_score"] for e in extras],
    )
