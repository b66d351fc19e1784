"""Efron's .632 and .632+ bootstrap estimates of prediction performance."""

import warnings
from numbers import Integral

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.utils import check_random_state, indexable
from sklearn.utils.parallel import Parallel, delayed

from skreweight.model_selection._results import Bootstrap632Result
from skreweight.model_selection._split import (
    BootstrapOutOfBag,
    StratifiedBootstrapOutOfBag,
)
from skreweight.utils._sklearn_fixes import (
    HasMethods,
    Interval,
    StrOptions,
    _check_method_params,
    _safe_indexing,
    validate_params,
)

__all__ = ["bootstrap_632_score"]

_EPS = np.finfo(np.float64).eps


# Per-example scores (greater is better) of the decomposable scorers, and their
# no-information score in O(n) (O(n log n) for the absolute error).
def _per_example(kind, y, out, classes):
    if kind == "accuracy":
        return (y == out).astype(np.float64)
    if kind == "squared":
        return -((y - out) ** 2)
    if kind == "absolute":
        return -np.abs(y - out)
    codes = np.searchsorted(classes, y)
    if kind == "log":
        return np.log(np.clip(out[np.arange(y.size), codes], _EPS, 1.0))
    onehot = np.zeros_like(out)
    onehot[np.arange(y.size), codes] = 1.0
    scale = 0.5 if classes.size == 2 else 1.0
    return -scale * np.sum((out - onehot) ** 2, axis=1)


def _no_information(kind, y, out, classes, w):
    """Mean score over all (y_i, prediction_j) pairs, weights w_i w_j."""
    w = w / w.sum()
    if kind == "accuracy":
        return _no_information_accuracy(y, out, classes, w)
    if kind == "squared":
        m_y, m_o = np.sum(w * y), np.sum(w * out)
        return -float(np.sum(w * y**2) - 2 * m_y * m_o + np.sum(w * out**2))
    if kind == "absolute":
        order = np.argsort(out, kind="mergesort")
        o, wo = out[order], w[order]
        cum_w = np.concatenate([[0.0], np.cumsum(wo)])
        cum_wo = np.concatenate([[0.0], np.cumsum(wo * o)])
        k = np.searchsorted(o, y, side="right")
        below = y * cum_w[k] - cum_wo[k]
        above = (cum_wo[-1] - cum_wo[k]) - y * (cum_w[-1] - cum_w[k])
        return -float(np.sum(w * (below + above)))
    codes = np.searchsorted(classes, y)
    p = np.bincount(codes, weights=w, minlength=classes.size)
    mean_out = w @ out
    if kind == "log":
        mean_log = w @ np.log(np.clip(out, _EPS, 1.0))
        return float(p @ mean_log)
    scale = 0.5 if classes.size == 2 else 1.0
    return -scale * float(1 - 2 * p @ mean_out + w @ np.sum(out**2, axis=1))


def _is_range_coded(labels, values):
    """Whether ``values`` are integers in ``0..len(labels)-1`` = their codes."""
    return (
        values.dtype.kind in "iu"
        and np.array_equal(labels, np.arange(labels.size))
        and values.min() >= 0
        and values.max() < labels.size
    )


def _no_information_accuracy(y, out, classes, w):
    """sum_k p_k q_k with p, q the (weighted) observed and predicted shares."""
    labels = classes
    if _is_range_coded(labels, out):
        codes = out
    else:
        codes = np.minimum(np.searchsorted(labels, out), labels.size - 1)
        if not np.array_equal(labels[codes], out):  # predictions outside classes
            labels = np.union1d(classes, np.unique(out))
            codes = np.searchsorted(labels, out)
    y_codes = y if _is_range_coded(labels, y) else np.searchsorted(labels, y)
    p = np.bincount(y_codes, weights=w, minlength=labels.size)
    q = np.bincount(codes, weights=w, minlength=labels.size)
    return float(np.sum(p * q))


_DECOMPOSABLE = {
    "accuracy": ("accuracy", "predict"),
    "neg_mean_squared_error": ("squared", "predict"),
    "neg_mean_absolute_error": ("absolute", "predict"),
    "neg_log_loss": ("log", "predict_proba"),
    "neg_brier_score": ("brier", "predict_proba"),
}


def _outputs(estimator, X, response, classes):
    out = getattr(estimator, response)(X)
    if response == "predict_proba":
        out = np.asarray(out, dtype=np.float64)
        model_classes = estimator.classes_
        if not np.array_equal(model_classes, classes):
            full = np.zeros((out.shape[0], classes.size))
            full[:, np.searchsorted(classes, model_classes)] = out
            out = full
        return out
    out = np.asarray(out)
    return out.astype(np.float64) if classes is None else out


def _fit_round(estimator, X, y, train, test, fit_params, plan):
    """Fit one bootstrap round and return what the estimator needs from it."""
    if fit_params:
        fit_params = _check_method_params(X, params=fit_params, indices=train)
    estimator.fit(_take(X, train), y[train], **fit_params)
    X_test = _take(X, test)
    y_arr = np.asarray(y)
    result = {}
    if plan["kind"] is not None:
        out = _outputs(estimator, X_test, plan["response"], plan["classes"])
        result["oob"] = _per_example(plan["kind"], y_arr[test], out, plan["classes"])
        if plan["need_all"]:
            out_all = _outputs(estimator, X, plan["response"], plan["classes"])
            result["all"] = out_all
    else:
        scorer, w = plan["scorer"], plan["weights"]
        kw = {} if w is None else {"sample_weight": w[test]}
        result["oob_score"] = scorer(estimator, X_test, y_arr[test], **kw)
        if plan["need_all"]:
            kw = {} if w is None else {"sample_weight": w}
            result["all_score"] = scorer(estimator, X, y_arr, **kw)
            result["model"] = estimator
    return result


def _take(X, indices):
    """Rows of X; plain indexing for ndarrays (``_safe_indexing`` is slower)."""
    return X[indices] if isinstance(X, np.ndarray) else _safe_indexing(X, indices)


def _fit_rounds(estimator, X, y, splits, fit_params, plan):
    """Fit the rounds of one chunk with one clone (``fit`` resets its state)."""
    estimator = clone(estimator)
    results = []
    for train, test in splits:
        result = _fit_round(estimator, X, y, train, test, fit_params, plan)
        if "model" in result:  # kept by the caller: the next round needs its own
            estimator = clone(estimator)
        results.append(result)
    return results


def _permutation_score(scorer, estimator, X, y, w, n_permutations, rng):
    """No-information score of a general scorer: targets paired at random."""
    values = []
    for _ in range(n_permutations):
        perm = rng.permutation(len(y))
        kw = {} if w is None else {"sample_weight": w[perm]}
        values.append(scorer(estimator, X, y[perm], **kw))
    return float(np.mean(values))


@validate_params(
    {
        "estimator": [HasMethods(["fit"])],
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like"],
        "method": [StrOptions({".632", ".632+", "oob"})],
        "mode": [StrOptions({"efron", "mlxtend"})],
        "scoring": [None, str, callable],
        "cv": [None, "cv_object"],
        "stratify": [StrOptions({"auto"}), "boolean"],
        "n_splits": [Interval(Integral, 1, None, closed="left")],
        "n_permutations": [Interval(Integral, 1, None, closed="left")],
        "params": [dict, None],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=False,
)
def bootstrap_632_score(
    estimator,
    X,
    y,
    *,
    method=".632",
    mode="efron",
    scoring=None,
    cv=None,
    stratify="auto",
    n_splits=200,
    n_permutations=100,
    params=None,
    n_jobs=None,
    random_state=None,
):
    """Estimate prediction performance with Efron's .632 or .632+ bootstrap.

    Models are fitted on bootstrap samples and scored on the rows each sample
    left out (out of bag). The out-of-bag score is pessimistic (a bootstrap
    sample holds only about 63.2 % of the distinct rows) and the apparent
    (training) score optimistic; the .632 rule mixes them with weights 0.632
    and 0.368, and .632+ raises the out-of-bag weight when the model
    overfits.

    Read more in the :ref:`User Guide <model_selection>`.

    Parameters
    ----------
    estimator : estimator object
        The model; cloned, never modified.

    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Data.

    y : array-like of shape (n_samples,)
        Targets.

    method : {".632", ".632+", "oob"}, default=".632"
        The estimator of Efron (1983), of Efron and Tibshirani (1997), or the
        plain out-of-bag score.

    mode : {"efron", "mlxtend"}, default="efron"
        ``"efron"``: the published estimators: the apparent score of the
        full-data fit, the leave-one-out bootstrap score, and for .632+ the
        clipped relative overfitting rate. ``"mlxtend"``: reproduces
        mlxtend's ``bootstrap_point632_score``: per round, the "training"
        score of the bootstrap model on all rows, an unclipped rate, and the
        mean over rounds.

    scoring : str, callable or None, default=None
        Greater-is-better scorer. ``None``: accuracy for classifiers,
        ``"neg_mean_squared_error"`` for regressors (mlxtend reports the
        positive MSE). ``"accuracy"``, ``"neg_mean_squared_error"``,
        ``"neg_mean_absolute_error"``, ``"neg_log_loss"`` and
        ``"neg_brier_score"`` are computed per example (exact leave-one-out
        bootstrap and an O(n) no-information score); other scorers use the
        per-round mean out-of-bag score and ``n_permutations`` shuffles for
        the no-information score (flagged in ``details``).

    cv : cross-validation generator or iterable, default=None
        Bootstrap splits. ``None``: :class:`StratifiedBootstrapOutOfBag` for
        classifiers and :class:`BootstrapOutOfBag` otherwise, with
        ``n_splits`` rounds; with ``mode="mlxtend"``, the unstratified
        :class:`BootstrapOutOfBag` (mlxtend's splits for an int seed).

    stratify : "auto" or bool, default="auto"
        Whether the default ``cv`` resamples within classes
        (:class:`StratifiedBootstrapOutOfBag`). ``"auto"``: for classifiers
        with ``mode="efron"``; never with ``mode="mlxtend"``. Ignored when
        ``cv`` is given.

    n_splits : int, default=200
        Number of rounds when ``cv`` is None.

    n_permutations : int, default=100
        Shuffles for the no-information score of non-decomposable scorers.

    params : dict, default=None
        Fit parameters, indexed with each bootstrap sample (``sample_weight``
        included, which also weights the scores).

    n_jobs : int, default=None
        Number of rounds fitted in parallel (``sklearn.utils.parallel``, so
        any joblib backend such as dask works). Results do not depend on it.

    random_state : int, RandomState instance or None, default=None
        Seeds the default ``cv`` and the permutations.

    Returns
    -------
    result : Bootstrap632Result
        ``score`` and its ingredients (apparent, out-of-bag and
        no-information scores, R', weight) and ``round_scores``.

    See Also
    --------
    BootstrapOutOfBag : The bootstrap splitter.
    StratifiedBootstrapOutOfBag : The class-preserving bootstrap splitter.
    bootstrap_score_ci : Bootstrap interval of a score on a test set.

    Notes
    -----
    In score space (``s = -loss``) with apparent score ``S``, leave-one-out
    bootstrap score ``S1`` and no-information score ``G``:
    ``.632 = 0.368 S + 0.632 S1``;
    ``R' = (S - max(S1, G)) / (S - G)`` if ``S1 < S`` and ``G < S``, else 0;
    ``w = 0.632 / (1 - 0.368 R')``;
    ``.632+ = (1 - w) S + w max(S1, G)``. The no-information score of
    accuracy is ``sum_k p_k q_k`` (observed and predicted class shares).

    mlxtend's mode takes the training score from each bootstrap model
    predicting all rows (mlxtend PR #844) and leaves R unclipped; when the
    no-information and training scores coincide, R is set to 0 with a
    warning instead of dividing by zero.

    References
    ----------
    .. [1] Efron, B. (1983). Estimating the error rate of a prediction rule:
       improvement on cross-validation. JASA, 78(382), 316-331.
    .. [2] Efron, B. and Tibshirani, R. (1997). Improvements on
       cross-validation: the .632+ bootstrap method. JASA, 92(438), 548-560.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skreweight.model_selection import bootstrap_632_score
    >>> X, y = load_iris(return_X_y=True)
    >>> tree = DecisionTreeClassifier(random_state=0)
    >>> res = bootstrap_632_score(tree, X, y, method=".632+", n_splits=50,
    ...                           random_state=0)
    >>> res.apparent_score, 0.632 <= res.weight <= 1
    (1.0, True)
    """
    X, y = indexable(X, y)
    y_arr = np.asarray(y)
    params = dict(params or {})
    classifier = is_classifier(estimator)
    rng = check_random_state(random_state)
    if scoring is None:
        scoring = "accuracy" if classifier else "neg_mean_squared_error"
    kind, response = (
        _DECOMPOSABLE.get(scoring, (None, None))
        if isinstance(scoring, str)
        else (None, None)
    )
    classes = np.unique(y_arr) if (classifier and kind is not None) else None
    if kind in ("accuracy", "log", "brier") and not classifier:
        raise ValueError(
            f"scoring={scoring!r} needs a classifier; got {type(estimator).__name__}."
        )
    if cv is None:
        if stratify == "auto":
            stratified = mode == "efron" and classifier
        else:
            stratified = bool(stratify)
        cls = StratifiedBootstrapOutOfBag if stratified else BootstrapOutOfBag
        cv = cls(n_splits, random_state=rng)
    splits = list(cv.split(X, y_arr)) if hasattr(cv, "split") else list(cv)
    if not splits:
        raise ValueError("cv produced no splits.")
    weights = params.get("sample_weight")
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    if w is not None and w.shape != (y_arr.size,):
        raise ValueError(
            f"params['sample_weight'] must have shape ({y_arr.size},); got {w.shape}."
        )
    need_all = mode == "mlxtend" and method != "oob"
    scorer = None if kind is not None else check_scoring(estimator, scoring)
    plan = {
        "kind": kind,
        "response": response,
        "classes": classes,
        "need_all": need_all,
        "scorer": scorer,
        "weights": w,
    }
    # Rounds are sent in a few chunks per worker: one task per round would
    # ship X once per round, which costs as much as fitting a small model.
    n_chunks = min(len(splits), 4 * effective_n_jobs(n_jobs))
    chunks = np.array_split(np.arange(len(splits)), n_chunks)
    parallel = Parallel(n_jobs=n_jobs)
    chunked = parallel(
        delayed(_fit_rounds)(
            estimator, X, y_arr, [splits[i] for i in chunk], params, plan
        )
        for chunk in chunks
    )
    rounds = [res for chunk in chunked for res in chunk]
    ww = np.ones(y_arr.size) if w is None else w
    details = {"n_splits": len(splits), "scoring": scoring}
    if mode == "mlxtend":
        return _mlxtend_mode(
            rounds, splits, method, plan, X, y_arr, ww, details, n_permutations, rng
        )
    return _efron_mode(
        rounds,
        splits,
        method,
        plan,
        estimator,
        X,
        y_arr,
        ww,
        params,
        details,
        n_permutations,
        rng,
    )


def _efron_mode(
    rounds,
    splits,
    method,
    plan,
    estimator,
    X,
    y,
    w,
    params,
    details,
    n_permutations,
    rng,
):
    kind = plan["kind"]
    if kind is not None:
        total = np.zeros(y.size)
        count = np.zeros(y.size)
        round_oob = np.empty(len(rounds))
        for b, ((_, test), res) in enumerate(zip(splits, rounds)):
            np.add.at(total, test, res["oob"])
            np.add.at(count, test, 1)
            round_oob[b] = np.sum(w[test] * res["oob"]) / np.sum(w[test])
        seen = count > 0
        per_row = total[seen] / count[seen]
        oob = float(np.sum(w[seen] * per_row) / np.sum(w[seen]))
        details["rows_never_out_of_bag"] = int(np.sum(~seen))
        details["oob_round_mean"] = float(np.mean(round_oob))
    else:
        round_oob = np.array([res["oob_score"] for res in rounds], dtype=np.float64)
        oob = float(np.mean(round_oob))
        details["oob_score"] = "per-round mean (scorer is not decomposable)"
    if method == "oob":
        return Bootstrap632Result(
            oob, None, oob, None, None, 1.0, round_oob, method, "efron", details
        )
    full = clone(estimator).fit(X, y, **params)
    if kind is not None:
        out = _outputs(full, X, plan["response"], plan["classes"])
        per_example = _per_example(kind, y, out, plan["classes"])
        apparent = float(np.sum(w * per_example) / np.sum(w))
        no_info = _no_information(kind, y, out, plan["classes"], w)
    else:
        scorer, sw = plan["scorer"], plan["weights"]
        kw = {} if sw is None else {"sample_weight": sw}
        apparent = float(scorer(full, X, y, **kw))
        no_info = _permutation_score(scorer, full, X, y, sw, n_permutations, rng)
        details["no_information_score"] = f"mean over {n_permutations} permutations"
    if method == ".632":
        weight, rate = 0.632, None
        score = 0.368 * apparent + 0.632 * oob
        rounds_score = 0.368 * apparent + 0.632 * round_oob
    else:
        capped = max(oob, no_info)
        if oob < apparent and no_info < apparent:
            rate = float(np.clip((apparent - capped) / (apparent - no_info), 0, 1))
        else:
            rate = 0.0
        weight = 0.632 / (1 - 0.368 * rate)
        score = (1 - weight) * apparent + weight * capped
        rounds_score = (1 - weight) * apparent + weight * np.maximum(round_oob, no_info)
        details["oob_capped"] = capped
    return Bootstrap632Result(
        float(score),
        apparent,
        oob,
        no_info,
        rate,
        float(weight),
        rounds_score,
        method,
        "efron",
        details,
    )


def _mlxtend_mode(rounds, splits, method, plan, X, y, w, details, n_perm, rng):
    kind = plan["kind"]
    n_rounds = len(rounds)
    s_oob = np.empty(n_rounds)
    s_tr = np.full(n_rounds, np.nan)
    s_gamma = np.full(n_rounds, np.nan)
    for b, ((_, test), res) in enumerate(zip(splits, rounds)):
        if kind is not None:
            s_oob[b] = np.sum(w[test] * res["oob"]) / np.sum(w[test])
            if plan["need_all"]:
                out = res["all"]
                per_example = _per_example(kind, y, out, plan["classes"])
                s_tr[b] = np.sum(w * per_example) / np.sum(w)
                if method == ".632+":
                    s_gamma[b] = _no_information(kind, y, out, plan["classes"], w)
        else:
            s_oob[b] = res["oob_score"]
            if plan["need_all"]:
                s_tr[b] = res["all_score"]
                if method == ".632+":
                    s_gamma[b] = _permutation_score(
                        plan["scorer"],
                        res["model"],
                        X,
                        y,
                        plan["weights"],
                        n_perm,
                        rng,
                    )
    if method == "oob":
        scores, weights, rates = s_oob, np.ones(n_rounds), None
    elif method == ".632":
        weights, rates = np.full(n_rounds, 0.632), None
        scores = 1 - (0.632 * (1 - s_oob) + 0.368 * (1 - s_tr))
    else:
        gap = s_tr - s_gamma
        zero = gap == 0
        if np.any(zero):
            warnings.warn(
                f"{int(zero.sum())} bootstrap round(s) have a no-information score "
                "equal to the training score; their relative overfitting rate is "
                "set to 0 (mlxtend divides by zero).",
                UserWarning,
                stacklevel=3,
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            rates = np.where(
                zero,
                0.0,
                ((1 - s_oob) - (1 - s_tr))
                / np.where(zero, 1.0, (1 - s_gamma) - (1 - s_tr)),
            )
        weights = 0.632 / (1 - 0.368 * rates)
        scores = 1 - (weights * (1 - s_oob) + (1.0 - weights) * (1 - s_tr))
    details["rates"] = rates
    return Bootstrap632Result(
        float(np.mean(scores)),
        float(np.mean(s_tr)) if plan["need_all"] else None,
        float(np.mean(s_oob)),
        float(np.mean(s_gamma)) if method == ".632+" else None,
        None if rates is None else float(np.mean(rates)),
        float(np.mean(weights)),
        scores,
        method,
        "mlxtend",
        details,
    )
