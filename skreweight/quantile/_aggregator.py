"""QuantileAggregator: convex combinations of multi-quantile models."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import KFold, check_cv
from sklearn.utils import check_random_state
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted

from skreweight.quantile._base import (
    QuantileRegressorMixin,
    clone_with_quantiles,
    expected_failed_checks,
    fit_estimator,
    is_multi_quantile,
)
from skreweight.quantile._common import check_quantiles
from skreweight.quantile._local import (
    check_device,
    check_local_params,
    fit_local_gate,
    gate_features,
    import_torch,
)
from skreweight.quantile._lp import solve_linear_pinball, solve_simplex_pinball
from skreweight.quantile._metrics import pinball_loss
from skreweight.quantile._monotonize import _monotonize
from skreweight.quantile._multi import MultiQuantileRegressor
from skreweight.utils._sklearn_fixes import (
    Interval,
    StrOptions,
    _check_sample_weight,
    _fit_context,
    _safe_indexing,
)

__all__ = ["QuantileAggregator"]

_TRAINED = ("auto", "global", "quantile", "fine", "qra", "local")
# Candidates of weighting="auto", simplest first (ties go to the first).
_AUTO_CANDIDATES = ("global", "quantile", "qra")
# Largest number of rows of the inner cross-validation of weighting="auto".
_AUTO_MAX_ROWS = 10_000
_AUTO_FOLDS = 5


def _prepare_base(estimator, quantiles):
    """A multi-level clone predicting ``quantiles``."""
    if is_multi_quantile(estimator):
        return clone_with_quantiles(estimator, quantiles)
    return MultiQuantileRegressor(clone(estimator), quantiles, monotonic=None)


def _predict_base(estimator, X, n_quantiles):
    y_pred = np.asarray(estimator.predict(X), dtype=float)
    return y_pred.reshape(y_pred.shape[0], n_quantiles)


def _fit_predict_fold(estimator, X, y, sample_weight, train, test, n_quantiles):
    X_train = _safe_indexing(X, train)
    sw = None if sample_weight is None else sample_weight[train]
    estimator = fit_estimator(estimator, X_train, y[train], sw)
    return estimator, _predict_base(estimator, _safe_indexing(X, test), n_quantiles)


def _fit_full(estimator, X, y, sample_weight):
    return fit_estimator(estimator, X, y, sample_weight)


def _fit_qra(features, y, tau, sample_weight):
    coef, intercept, _ = solve_linear_pinball(features, y, float(tau), sample_weight)
    return coef, intercept


class _CrossFitAverage:
    """A base model predicting the mean of its cross-fitted fold models.

    Used by ``QuantileAggregator(refit=False)``: ``estimators_`` holds the
    ``K`` models fitted on the training folds.
    """

    def __init__(self, estimators):
        self.estimators_ = estimators

    def predict(self, X):
        total = 0.0
        for est in self.estimators_:
            pred = np.asarray(est.predict(X), dtype=float)
            total = total + pred.reshape(pred.shape[0], -1)
        return total / len(self.estimators_)

    def __repr__(self):
        return f"_CrossFitAverage(<{len(self.estimators_)} fold models>)"


def _combine_static(stacked, weighting, weights, intercept):
    """Aggregate base predictions (n, p, m) with fixed weights into (n, m)."""
    if weighting == "median":
        return np.median(stacked, axis=1)
    if weighting in ("global", "average"):
        return np.einsum("npm,p->nm", stacked, weights)
    if weighting in ("quantile", "qra"):
        return np.einsum("npm,pm->nm", stacked, weights) + intercept
    n = stacked.shape[0]
    return stacked.reshape(n, -1) @ weights


class QuantileAggregator(QuantileRegressorMixin, BaseEstimator):
    """Weighted ensemble of quantile models fitted on out-of-fold predictions.

    The aggregate of ``p`` base models ``g_j(x) in R^m`` is, at each level
    ``tau``, a weighted combination of base quantiles. Its weights minimise the
    (weighted) pinball loss summed over levels, which is half the weighted
    interval score, on cross-fitted (out-of-fold) base predictions; the bases
    are then refitted on all rows (or, with ``refit=False``, the fold models
    are averaged). The simplex weightings are convex combinations, cannot
    widen the spread of the bases and are scale-equivariant; all weights are
    solved exactly as linear programs (HiGHS). The default ``"auto"`` picks
    the weighting by an inner cross-validation of the out-of-fold
    predictions.

    Read more in the :ref:`User Guide <quantile>`.

    Parameters
    ----------
    estimators : list of estimators or of (str, estimator) tuples
        Base models. Multi-level models (with a ``quantiles`` parameter, such
        as :class:`MultiQuantileRegressor`) get ``quantiles`` set; any other
        quantile regressor is wrapped in
        ``MultiQuantileRegressor(est, quantiles, monotonic=None)``.

    quantiles : float or array-like of shape (n_quantiles,), default=None
        Quantile levels in (0, 1), distinct; they are sorted. ``None`` means
        the 19 levels 0.05, 0.10, ..., 0.95.

    weighting : {"auto", "global", "quantile", "fine", "local", "average", \
            "median", "qra"}, default="auto"
        How base predictions are combined:

        - ``"auto"``: the one of ``"global"``, ``"quantile"`` and ``"qra"``
          with the lowest pinball loss in a 5-fold cross-validation of the
          weight fit on the out-of-fold predictions (at most 10,000 seeded
          rows; no base model is refitted; ties go to the simpler, in that
          order). The choice is ``weighting_``, the scores
          ``weighting_scores_``. Convex weights cannot undo a bias shared
          by the bases (e.g. shrunk boosting predictions) and QRA can;
          QRA overfits with few rows, where convex weights win;
        - ``"global"``: one simplex weight per base, shared by all levels
          (``p`` weights, one LP over all rows and levels);
        - ``"quantile"``: one simplex of base weights per level (``p * m``
          weights, one LP per level);
        - ``"fine"``: every level is a convex combination of all base
          predictions at all levels (``p * m * m`` weights, one LP per
          level); flexible but prone to overfit, validate it against
          ``"quantile"``;
        - ``"local"``: feature-dependent weights (deep quantile aggregation,
          DQA): at each level a softmax over the bases of the output of a
          small neural network of ``x``, trained with Adam on the
          out-of-fold predictions to minimise the pinball loss plus a
          crossing penalty (see ``local_params``). Needs PyTorch
          (``pip install "skreweight[torch]"``), imported only here;
        - ``"average"``: level-wise mean of the bases (Vincentization), no
          training;
        - ``"median"``: level-wise median of the bases, no training;
        - ``"qra"``: quantile regression averaging, a per-level linear
          quantile regression with intercept of ``y`` on the out-of-fold
          base predictions (unconstrained weights).

    cv : int, cross-validation generator or iterable, default=5
        Splitting used to produce the out-of-fold base predictions. An int
        means ``KFold(cv, shuffle=True, random_state=random_state)``.
        Unused by ``"average"`` and ``"median"``.

    monotonic : {"sort", "isotonic"} or None, default="sort"
        Crossing repair applied to the aggregate (see :func:`monotonize`).

    refit : bool, default=True
        Whether to refit the bases on all rows after the weights are fitted
        (stacking). With ``False`` each base predicts the mean of its ``cv``
        fold models, the very models whose out-of-fold predictions the
        weights were fitted on (cross-fit, "bagged" prediction): one fit per
        base is saved, prediction costs ``cv`` times more. It removes the
        mismatch between weights learned on models fitted on ``(K - 1) / K``
        of the rows and applied to models fitted on all rows; on small
        problems (about 1,000 rows) it gave a lower held-out WIS (see the
        User Guide).

    local_params : dict, default=None
        Settings of ``weighting="local"`` (ignored otherwise); missing keys
        take their defaults:

        - ``"resolution"`` (``"quantile"``): ``"quantile"`` weighs the ``p``
          bases at the same level (a softmax over ``p`` per level);
          ``"fine"`` weighs all ``p * m`` base predictions (a softmax over
          ``p * m`` per level, initialised near the same level), the DQA of
          Fakoor et al.;
        - ``"hidden_layer_sizes"`` (``(64, 64)``), ``"dropout"`` (``0.0``):
          the ELU network on standardised features;
        - ``"learning_rate"`` (``3e-3``), ``"weight_decay"`` (``1e-7``),
          ``"max_epochs"`` (``100``), ``"batch_size"`` (``None``:
          ``2 ** (3 + floor(log10(n)))``): Adam (amsgrad) settings;
        - ``"early_stopping"`` (``True``), ``"validation_fraction"``
          (``0.1``), ``"n_iter_no_change"`` (``10``): stop when the loss on
          held-out rows has not improved for that many epochs and keep the
          best epoch's network (with 50 rows or more);
        - ``"crossing_penalty"`` (``1.0``), ``"crossing_margin"``
          (``1e-3``): weight ``c`` and margin ``delta`` (standardised ``y``)
          of the penalty ``c * mean((q_k - q_l + delta * (l - k))_+)`` over
          the pairs of level indices ``k < l``; ``0`` disables it;
        - ``"device"`` (``"cpu"``): ``"cpu"``, ``"cuda"``, ``"auto"`` or a
          torch device; ``"num_threads"`` (``None``): CPU threads.

    max_lp_rows : int, default=2_000_000
        Largest number of (row, level) pairs in one linear program. Above it
        ``"global"`` (``n * m`` pairs) and the per-level programs
        (``n`` rows) are fitted on a seeded random subsample of rows, with
        a warning.

    n_jobs : int, default=None
        Number of fits (folds times bases) and per-level programs run in
        parallel. ``None`` means 1 unless in a :obj:`joblib.parallel_config`
        context.

    random_state : int, RandomState instance or None, default=None
        Seeds the folds (int ``cv``), the LP row subsample and, for
        ``"local"``, the network's initialisation, validation split and
        batches (a CPU fit is then reproducible; torch's global random state
        is left untouched).

    Attributes
    ----------
    estimators_ : list of estimators
        The bases refitted on all rows; with ``refit=False``, per base an
        object whose ``predict`` averages its fold models (listed in its
        ``estimators_``).

    named_estimators_ : dict
        The refitted bases by name.

    oof_predictions_ : ndarray of shape (n_samples, n_estimators, n_quantiles)
        Out-of-fold base predictions the weights were fitted on; ``None``
        for ``"average"`` and ``"median"`` with ``refit=True``.

    weighting_ : str
        The weighting used: ``weighting``, or the one ``"auto"`` picked.

    weighting_scores_ : dict or None
        For ``"auto"``, the inner cross-validated loss of each candidate
        (mean over rows of the summed pinball loss of the monotonised
        aggregate, weighted by ``sample_weight``); ``None`` otherwise.

    weights_ : ndarray or None
        Those of ``weighting_``: ``(n_estimators,)`` for ``"global"`` and
        ``"average"``;
        ``(n_estimators, n_quantiles)`` for ``"quantile"`` and ``"qra"``
        (regression coefficients there); ``(n_estimators * n_quantiles,
        n_quantiles)`` for ``"fine"``, where row ``j * n_quantiles + k`` is
        base ``j`` at level ``quantiles_[k]``; ``None`` for ``"median"``.
        For ``"local"`` the weights depend on ``x``: ``weights_`` holds their
        mean over the (positively weighted) training rows, shaped like
        ``"quantile"`` (``resolution="quantile"``) or ``"fine"``; the
        per-row weights come from ``weight_gate_``.

    weight_gate_ : object or None
        For ``"local"``, the fitted gate: ``weight_gate_.predict_weights(X)``
        returns the per-row weights, of shape ``(n_samples, n_estimators,
        n_quantiles)`` (``resolution="quantile"``) or ``(n_samples,
        n_estimators * n_quantiles, n_quantiles)`` (``"fine"``), each column
        a probability vector; it also records ``n_iter_``, ``loss_curve_``
        and ``validation_scores_``. ``None`` for the other weightings.

    intercept_ : ndarray of shape (n_quantiles,)
        Intercepts of ``"qra"``; zeros otherwise.

    quantiles_ : ndarray of shape (n_quantiles,)
        The sorted levels; the columns of :meth:`predict`.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    MultiQuantileRegressor : Many levels from a single-level regressor.
    ConformalQuantileRegressor : Calibrate the aggregate's intervals.
    sklearn.ensemble.StackingRegressor : Stacking of point predictions.

    Notes
    -----
    As in stacking, with ``refit=True`` the weights are learned on models
    fitted on ``(K - 1) / K`` of the rows and applied to models fitted on all
    rows; ``refit=False`` applies them to the fold models themselves.
    ``"auto"`` and ``"qra"`` may give weights outside the simplex (QRA is an
    unconstrained linear quantile regression with intercept); the LP of QRA is
    solved through its dual, much faster than
    :class:`~sklearn.linear_model.QuantileRegressor` and with the same
    optimum. Tune the bases inside the folds or on separate data; bases tuned on the
    same rows make the out-of-fold predictions optimistic.

    ``sample_weight`` enters the weight objective and is passed to every base
    fit (a base that does not accept it raises). Because the folds split rows,
    integer weights are not exactly equivalent to repeated rows. For
    ``"local"`` the weights scale each row's loss in the mini-batch objective;
    rows with zero weight are dropped before training.

    ``"local"`` is fitted by stochastic optimisation of a non-convex
    objective: its weights are reproducible under ``random_state`` on a CPU
    but not a global optimum. It needs more rows than the linear programs
    (a few hundred at least) and pays off when the best base changes across
    the feature space.

    The LP for ``"global"`` has ``n * m`` rows; its dual has ``p + 1``
    constraints, so HiGHS solves it in a fraction of a base model's fit.
    Programs with more than 100,000 rows are solved with a working set: rows
    far from a pilot fit have their dual variable fixed at its bound, the
    reduced program is re-solved until every fixed row keeps its residual sign,
    at which point the optimality conditions of the full program hold (the
    result is exact, not an approximation). Optimal weights need not be
    unique (e.g. duplicated bases).

    References
    ----------
    .. [1] R. Fakoor, T. Kim, J. Mueller, A. J. Smola and R. J. Tibshirani,
       "Flexible Model Aggregation for Quantile Regression", JMLR 24(162), 2023.
    .. [2] J. Nowotarski and R. Weron, "Computing electricity spot price
       prediction intervals using quantile regression and forecast
       averaging", Comput. Stat. 30(3), 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import GradientBoostingRegressor
    >>> from sklearn.linear_model import QuantileRegressor
    >>> from skreweight.quantile import QuantileAggregator
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-2, 2, size=(300, 2))
    >>> y = X[:, 0] + (0.5 + np.abs(X[:, 1])) * rng.normal(size=300)
    >>> gb = GradientBoostingRegressor(loss="quantile", n_estimators=30, random_state=0)
    >>> agg = QuantileAggregator(
    ...     [("linear", QuantileRegressor(alpha=0, solver="highs")), ("gb", gb)],
    ...     quantiles=[0.1, 0.5, 0.9],
    ...     weighting="global",
    ...     random_state=0,
    ... ).fit(X, y)
    >>> agg.weights_.round(2)
    array([0.56, 0.44])
    >>> agg.predict(X[:2]).shape
    (2, 3)

    The default ``weighting="auto"`` picks the weighting by inner
    cross-validation:

    >>> auto = agg.set_params(weighting="auto").fit(X, y)
    >>> auto.weighting_
    'quantile'
    >>> {name: round(score, 3) for name, score in auto.weighting_scores_.items()}
    {'global': 1.295, 'quantile': 1.27, 'qra': 1.303}
    """

    _parameter_constraints: dict = {
        "estimators": [list],
        "quantiles": ["array-like", Real, None],
        "weighting": [
            StrOptions(
                {
                    "auto",
                    "global",
                    "quantile",
                    "fine",
                    "local",
                    "average",
                    "median",
                    "qra",
                }
            )
        ],
        "cv": ["cv_object"],
        "refit": ["boolean"],
        "monotonic": [StrOptions({"sort", "isotonic"}), None],
        "local_params": [dict, None],
        "max_lp_rows": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [None, Integral],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimators,
        quantiles=None,
        weighting="auto",
        cv=5,
        monotonic="sort",
        *,
        refit=True,
        local_params=None,
        max_lp_rows=2_000_000,
        n_jobs=None,
        random_state=None,
    ):
        self.estimators = estimators
        self.quantiles = quantiles
        self.weighting = weighting
        self.cv = cv
        self.monotonic = monotonic
        self.refit = refit
        self.local_params = local_params
        self.max_lp_rows = max_lp_rows
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _named_bases(self):
        if len(self.estimators) == 0:
            raise ValueError(
                "estimators must hold at least one base model; got an empty list."
            )
        named = []
        for i, item in enumerate(self.estimators):
            if isinstance(item, tuple):
                if len(item) != 2 or not isinstance(item[0], str):
                    raise ValueError(
                        "estimators must hold estimators or (name, estimator) "
                        f"pairs; item {i} is {item!r}."
                    )
                name, est = item
            else:
                name, est = f"{type(item).__name__.lower()}{i}", item
            if not hasattr(est, "fit") or not hasattr(est, "predict"):
                raise TypeError(
                    f"estimators[{i}] must be an estimator with fit and predict; "
                    f"got {est!r}."
                )
            named.append((name, est))
        names = [name for name, _ in named]
        if len(set(names)) != len(names):
            raise ValueError(f"Names in estimators must be unique; got {names}.")
        return named

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit the bases out of fold, solve the weights, refit the bases.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows, passed unchanged to the bases.

        y : array-like of shape (n_samples,)
            Target.

        sample_weight : array-like of shape (n_samples,), default=None
            Row weights of the weight objective, also passed to every base fit.

        Returns
        -------
        self : object
            The fitted aggregator.
        """
        local_params = None
        if self.weighting == "local":
            local_params = check_local_params(self.local_params)
            import_torch()  # fail before any base is fitted
            check_device(local_params["device"])
        quantiles = check_quantiles(self.quantiles)
        X, y = self._validate_X_y(X, y)
        if local_params is not None:
            X_gate = gate_features(X)  # numeric and finite, before any base fit
        n_samples, n_quantiles = y.shape[0], quantiles.size
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, y)
        named = self._named_bases()
        bases = [_prepare_base(est, quantiles) for _, est in named]

        trained = self.weighting in _TRAINED
        cross_fit = trained or not self.refit
        tasks = []
        if self.refit:
            tasks = [delayed(_fit_full)(clone(b), X, y, sample_weight) for b in bases]
        splits = []
        if cross_fit:
            cv = self.cv
            if isinstance(cv, Integral):
                cv = KFold(cv, shuffle=True, random_state=self.random_state)
            cv = check_cv(cv)
            splits = list(cv.split(X, y))
            tasks += [
                delayed(_fit_predict_fold)(
                    clone(b), X, y, sample_weight, train, test, n_quantiles
                )
                for train, test in splits
                for b in bases
            ]
        results = Parallel(n_jobs=self.n_jobs)(tasks)
        n_full = len(bases) if self.refit else 0
        oof = None
        if cross_fit:
            oof = np.full((n_samples, len(bases), n_quantiles), np.nan)
            fold_models = [[] for _ in bases]
            fold_results = iter(results[n_full:])
            for _, test in splits:
                for j in range(len(bases)):
                    model, oof[test, j] = next(fold_results)
                    fold_models[j].append(model)
            if np.isnan(oof).any():
                raise ValueError(
                    "cv must put every row in exactly one test fold to give "
                    "out-of-fold predictions for all rows; use a KFold-like "
                    "splitter."
                )
        if self.refit:
            self.estimators_ = results[:n_full]
        else:
            self.estimators_ = [_CrossFitAverage(models) for models in fold_models]
        self.named_estimators_ = dict(
            zip([name for name, _ in named], self.estimators_)
        )
        self.quantiles_ = quantiles
        self.intercept_ = np.zeros(n_quantiles)
        self.weight_gate_ = None
        self.weighting_ = self.weighting
        self.weighting_scores_ = None
        self.oof_predictions_ = oof

        if not trained:
            self.weights_ = (
                np.full(len(bases), 1.0 / len(bases))
                if self.weighting == "average"
                else None
            )
            return self
        if local_params is not None:
            self.weight_gate_ = fit_local_gate(
                X_gate,
                oof,
                y,
                quantiles,
                sample_weight,
                local_params,
                self.random_state,
            )
            rows = slice(None) if sample_weight is None else sample_weight > 0
            self.weights_ = self.weight_gate_.predict_weights(X_gate[rows]).mean(axis=0)
            return self
        if self.weighting == "auto":
            self.weighting_scores_ = self._score_candidates(
                oof, y, quantiles, sample_weight
            )
            self.weighting_ = min(
                _AUTO_CANDIDATES, key=lambda name: self.weighting_scores_[name]
            )
        self.weights_, self.intercept_ = self._solve_weights(
            oof, y, quantiles, sample_weight, self.weighting_
        )
        return self

    def _score_candidates(self, oof, y, quantiles, sample_weight):
        """Inner cross-validated pinball loss of each ``"auto"`` candidate.

        The weights of every candidate are fitted on ``_AUTO_FOLDS - 1``
        inner folds of the out-of-fold predictions and scored (monotonised
        like ``predict``) on the remaining fold; no base model is refitted.
        """
        n_samples = oof.shape[0]
        rng = check_random_state(self.random_state)
        rows = np.arange(n_samples)
        if n_samples > _AUTO_MAX_ROWS:
            rows = np.sort(rng.choice(n_samples, size=_AUTO_MAX_ROWS, replace=False))
        n_folds = min(_AUTO_FOLDS, rows.size)
        seed = rng.randint(np.iinfo(np.int32).max)
        folds = KFold(n_folds, shuffle=True, random_state=seed).split(rows)
        totals = dict.fromkeys(_AUTO_CANDIDATES, 0.0)
        for train, test in folds:
            train, test = rows[train], rows[test]
            sw_train = None if sample_weight is None else sample_weight[train]
            sw_test = None if sample_weight is None else sample_weight[test]
            if sw_test is not None and not sw_test.sum() > 0:
                continue  # a fold of zero-weight rows scores nothing
            for name in _AUTO_CANDIDATES:
                weights, intercept = self._solve_weights(
                    oof[train], y[train], quantiles, sw_train, name
                )
                pred = _monotonize(
                    _combine_static(oof[test], name, weights, intercept),
                    self.monotonic,
                )
                loss = pinball_loss(y[test], pred, quantiles, sample_weight=sw_test)
                weight = test.size if sw_test is None else sw_test.sum()
                totals[name] += float(loss.sum()) * weight
        total_weight = (
            rows.size if sample_weight is None else float(sample_weight[rows].sum())
        )
        return {name: float(value / total_weight) for name, value in totals.items()}

    def _row_subsample(self, n_samples, n_per_row, sample_weight):
        """Rows used by the LPs (all, or a seeded subsample)."""
        max_rows = max(self.max_lp_rows // n_per_row, 1)
        if n_samples <= max_rows:
            return np.arange(n_samples)
        warnings.warn(
            f"The weight LP would have {n_samples * n_per_row} rows, more than "
            f"max_lp_rows={self.max_lp_rows}; fitting the weights on a random "
            f"subsample of {max_rows} of the {n_samples} rows. Raise max_lp_rows "
            "to use all rows (memory grows with it).",
            UserWarning,
        )
        rng = check_random_state(self.random_state)
        return np.sort(rng.choice(n_samples, size=max_rows, replace=False))

    def _solve_weights(self, oof, y, quantiles, sample_weight, weighting):
        n_samples, p, m = oof.shape
        intercept = np.zeros(m)
        if weighting == "qra":
            rows = self._row_subsample(n_samples, 1, sample_weight)
            sw = None if sample_weight is None else sample_weight[rows]
            fits = Parallel(n_jobs=self.n_jobs)(
                delayed(_fit_qra)(oof[rows, :, k], y[rows], tau, sw)
                for k, tau in enumerate(quantiles)
            )
            coef = np.column_stack([c for c, _ in fits])
            return coef, np.array([b for _, b in fits])
        if weighting == "global":
            rows = self._row_subsample(n_samples, m, sample_weight)
            A = oof[rows].transpose(0, 2, 1).reshape(-1, p)
            target = np.repeat(y[rows], m)
            tau = np.tile(quantiles, rows.size)
            sw = None if sample_weight is None else np.repeat(sample_weight[rows], m)
            w, _ = solve_simplex_pinball(A, target, tau, sw)
            return w, intercept
        rows = self._row_subsample(n_samples, 1, sample_weight)
        sw = None if sample_weight is None else sample_weight[rows]
        if weighting == "quantile":
            designs = (oof[rows, :, k] for k in range(m))
        else:  # fine
            flat = oof[rows].reshape(rows.size, p * m)
            designs = (flat for _ in range(m))
        fits = Parallel(n_jobs=self.n_jobs)(
            delayed(solve_simplex_pinball)(A, y[rows], tau, sw)
            for A, tau in zip(designs, quantiles)
        )
        return np.column_stack([w for w, _ in fits]), intercept

    def _combine(self, stacked, X=None):
        """Aggregate base predictions of shape (n, p, m) into (n, m)."""
        if self.weighting_ == "local":
            return self.weight_gate_.combine(X, stacked)
        return _combine_static(stacked, self.weighting_, self.weights_, self.intercept_)

    def predict_bases(self, X):
        """Predict every level with every refitted base model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_estimators, n_quantiles)
            Base predictions, in the order of ``estimators``.
        """
        X = self._check_predict_X(X)
        m = self.quantiles_.size
        return np.stack([_predict_base(est, X, m) for est in self.estimators_], axis=1)

    def predict(self, X):
        """Predict every quantile level with the aggregate.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input rows.

        Returns
        -------
        y_pred : ndarray of shape (n_samples, n_quantiles)
            Aggregated quantiles, columns in ``quantiles_`` order; rows are
            non-decreasing unless ``monotonic=None``.
        """
        check_is_fitted(self)
        if self.weighting_ != "local":
            return _monotonize(self._combine(self.predict_bases(X)), self.monotonic)
        X = self._check_predict_X(X)
        return _monotonize(self._combine(self.predict_bases(X), X), self.monotonic)

    def _inner_estimators(self):
        return [est for _, est in self._named_bases()]

    def _expected_failed_checks(self):
        failed = expected_failed_checks(cross_fitted=True)
        if self.weighting == "local":
            reason = (
                "cross-fitting splits repeated rows across folds, and the local "
                "gate is trained by SGD on shuffled mini-batches, so integer "
                "weights differ from repeated rows."
            )
            for check in failed:
                if check.startswith("check_sample_weight_equivalence"):
                    failed[check] = reason
        return failed
