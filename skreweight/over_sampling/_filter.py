"""Border-focused SMOTE variants: Borderline-SMOTE and SVM-SMOTE."""

import numbers

import numpy as np
from sklearn.base import clone
from sklearn.neighbors import NearestNeighbors
from sklearn.svm import SVC

from skreweight.over_sampling._base import (
    _NEIGHBORS_CONSTRAINT,
    BaseSMOTE,
    _check_class_size,
    _class_neighbors,
    _fill_doc,
    _is_default_neighbors,
    _kneighbors,
    _KNeighborsMixin,
    _label,
    _make_neighbors,
    _smote_draws,
)
from skreweight.over_sampling._search import (
    bounded_search_applies,
    kneighbors_among_all,
)
from skreweight.over_sampling._svm_working_set import (
    _fit_svc_working_set,
    _uses_working_set,
)
from skreweight.utils._sklearn_fixes import HasMethods, Interval, StrOptions

__all__ = ["BorderlineSMOTE", "SVMSMOTE"]


@_fill_doc
class BorderlineSMOTE(_KNeighborsMixin, BaseSMOTE):
    """Over-sample with Borderline-SMOTE: interpolate from rows near the border.

    A row of class ``c`` is *in danger* when at least half, but not all, of
    its ``m_neighbors`` nearest rows of the whole data belong to other
    classes (all of them: it is noise). Only danger rows are seeds. With
    ``kind='borderline-1'`` the partner is one of the seed's ``k_neighbors``
    nearest rows of class ``c``; with ``kind='borderline-2'`` it is one of its
    nearest rows of any class, and a step towards an other-class partner is
    shortened by a further ``U[0, 0.5)`` factor.

    Read more in the :ref:`User Guide <over_sampling>`.

    Parameters
    ----------
    {sampling_strategy}

    {random_state}

    {k_neighbors}

    m_neighbors : int or object, default=10
        Number of nearest neighbours (in all the data) used to decide whether
        a row is in danger, or a ``NearestNeighbors``-like estimator.

    kind : {'borderline-1', 'borderline-2'}, default='borderline-1'
        Whether partners come from the class only, or from all the data.

    Attributes
    ----------
    {sampling_strategy_}

    nn_k_ : estimator object
        The ``k_neighbors`` estimator last fitted.

    nn_m_ : estimator object
        The ``m_neighbors`` estimator, fitted on all rows.

    danger_indices_ : dict
        For each over-sampled class, the positions in ``X`` of its danger rows
        (imbalanced-learn's ``in_danger_indices``).

    {provenance_}
        For ``'borderline-2'`` with an other-class partner, ``gap`` is the
        product of the two random factors.

    {n_features_in_}

    See Also
    --------
    SMOTE : All rows of the class are seeds.
    SVMSMOTE : Seeds among the support vectors of an SVM.
    ADASYN : Seeds weighted by their share of other-class neighbours.

    Notes
    -----
    When a class has no danger row, no row can be generated for it and a
    ``UserWarning`` says so (imbalanced-learn skips the class silently).
    With an integer ``random_state`` and ``kind='borderline-1'``, a binary
    problem gives the same rows as imbalanced-learn.

    References
    ----------
    .. [1] H. Han, W.-Y. Wang, B.-H. Mao, "Borderline-SMOTE: a new
       over-sampling method in imbalanced data sets learning", ICIC 2005,
       LNCS 3644, 878-887, 2005.

    Examples
    --------
    >>> from collections import Counter
    >>> from sklearn.datasets import make_classification
    >>> from skreweight.over_sampling import BorderlineSMOTE
    >>> X, y = make_classification(n_samples=1000, weights=[0.9], random_state=0)
    >>> sampler = BorderlineSMOTE(random_state=0)
    >>> X_res, y_res = sampler.fit_resample(X, y)
    >>> sorted(Counter(y_res).items())
    [(np.int64(0), 898), (np.int64(1), 898)]
    """

    _parameter_constraints: dict = {
        **BaseSMOTE._parameter_constraints,
        "k_neighbors": _NEIGHBORS_CONSTRAINT,
        "m_neighbors": _NEIGHBORS_CONSTRAINT,
        "kind": [StrOptions({"borderline-1", "borderline-2"})],
    }

    def __init__(
        self,
        *,
        sampling_strategy="auto",
        random_state=None,
        k_neighbors=5,
        m_neighbors=10,
        kind="borderline-1",
    ):
        super().__init__(sampling_strategy=sampling_strategy, random_state=random_state)
        self.k_neighbors = k_neighbors
        self.m_neighbors = m_neighbors
        self.kind = kind

    def _prepare(self, X, y, random_state):
        self.nn_m_, self._m = _make_neighbors("m_neighbors", self.m_neighbors)
        _check_class_size(
            X.shape[0], self._m, "(all rows)", "m_neighbors", type(self).__name__
        )
        self.nn_m_.fit(X)
        self.danger_indices_ = {}
        if self.kind == "borderline-2":
            self.nn_k_, k = _make_neighbors("k_neighbors", self.k_neighbors)
            _check_class_size(
                X.shape[0], k, "(all rows)", "k_neighbors", type(self).__name__
            )
            self.nn_k_.fit(X)

    def _sample_class(self, X, y, class_label, n_samples, random_state):
        class_idx = np.flatnonzero(y == class_label)
        X_class = X[class_idx]
        m = self._m
        own = None
        if bounded_search_applies(self.nn_m_, X, y, class_idx.size, class_label, m + 1):
            # the class's own m nearest rows bound the all-rows search and
            # hold the borderline-1 partners
            inner = _class_neighbors(
                NearestNeighbors(n_neighbors=m + 1), X_class, X_class, m
            )
            own = class_idx[np.column_stack([np.arange(class_idx.size), inner])]
        nns_m = kneighbors_among_all(
            self.nn_m_, X, y, class_idx, class_label, m + 1, own=own
        )[:, 1:]
        n_other = np.count_nonzero(y[nns_m] != class_label, axis=1)
        danger = (n_other >= m / 2) & (n_other < m)
        danger_idx = class_idx[danger]
        self.danger_indices_[class_label] = danger_idx
        if danger_idx.size == 0:
            empty = np.empty(0, dtype=np.int64)
            return {
                "seed": empty,
                "partner": empty,
                "gap": np.empty(0),
                "reason": "the class has no row in danger (no row has at least half "
                "of its m_neighbors in other classes without being noise); use "
                "SMOTE or raise `m_neighbors`",
            }
        X_danger = X[danger_idx]
        if self.kind == "borderline-1":
            self.nn_k_, k = self._nn_k(class_idx.size, class_label)
            if own is not None and k <= m and _is_default_neighbors(self.nn_k_):
                self.nn_k_.fit(X_class)
                nns = own[danger, 1 : k + 1]
            else:
                nns = class_idx[_class_neighbors(self.nn_k_, X_class, X_danger, k)]
            rows, cols, steps = _smote_draws(
                random_state, danger_idx.size, k, n_samples
            )
            return {"seed": danger_idx[rows], "partner": nns[rows, cols], "gap": steps}
        k = _make_neighbors("k_neighbors", self.k_neighbors)[1]
        if own is not None and k <= m and _is_default_neighbors(self.nn_k_):
            # the all-rows m-neighbourhood was exact: its first k are these
            nns = nns_m[danger, :k]
        else:
            nns = _kneighbors(self.nn_k_, X_danger, k + 1)[:, 1:]
        rows, cols, steps = _smote_draws(random_state, danger_idx.size, k, n_samples)
        partner = nns[rows, cols]
        other = y[partner] != class_label
        steps[other] *= random_state.uniform(0.0, 0.5, size=np.count_nonzero(other))
        return {"seed": danger_idx[rows], "partner": partner, "gap": steps}


@_fill_doc
class SVMSMOTE(_KNeighborsMixin, BaseSMOTE):
    """Over-sample with SVM-SMOTE: seeds among the support vectors of an SVM.

    An SVM is fitted on all the data; the support vectors of class ``c`` that
    are not noise (all ``m_neighbors`` nearest rows in other classes) are the
    seeds. A ``Beta(10, 10)`` share of the rows interpolates from the danger
    seeds towards a same-class neighbour; the rest extrapolates from the
    safe seeds away from it, with a step in ``(-out_step, 0]``.

    Unlike imbalanced-learn, when one group of seeds is empty its share goes
    to the other group, so the class always gets the requested count.

    Read more in the :ref:`User Guide <over_sampling>`.

    Parameters
    ----------
    {sampling_strategy}

    {random_state}

    {k_neighbors}

    m_neighbors : int or object, default=10
        Number of nearest neighbours (in all the data) used to classify a
        support vector as noise, danger or safe.

    svm_estimator : estimator object, default=None
        A support-vector classifier exposing ``support_`` after ``fit``;
        ``None`` means ``SVC(gamma='scale', random_state=random_state)``.

    out_step : float, default=0.5
        Largest step of the extrapolation from safe seeds.

    Attributes
    ----------
    {sampling_strategy_}

    nn_k_ : estimator object
        The ``k_neighbors`` estimator last fitted.

    nn_m_ : estimator object
        The ``m_neighbors`` estimator, fitted on all rows.

    svm_estimator_ : estimator object
        The fitted support-vector classifier. With 20,000 rows or more and an
        ``SVC`` with an ``'rbf'`` or ``'linear'`` kernel, it is fitted on the
        working set ``svm_working_set_`` only (see Notes): its ``support_``
        then indexes that set, not ``X``, and its ``gamma`` and
        ``class_weight`` are the values computed from all rows.

    svm_support_ : ndarray of int
        Row indices into ``X`` of the support vectors (the seed candidates).

    svm_working_set_ : ndarray of int or None
        Row indices into ``X`` that ``svm_estimator_`` was fitted on, or
        ``None`` when it was fitted on all rows.

    {provenance_}
        Extrapolated rows have a negative ``gap``.

    {n_features_in_}

    See Also
    --------
    BorderlineSMOTE : Danger rows found with nearest neighbours only.
    SMOTE : All rows of the class are seeds.

    Notes
    -----
    The SVM is fitted once, whatever the number of classes (imbalanced-learn
    refits it for every class).

    From 20,000 rows up, a default ``svm_estimator`` (or any ``SVC`` with an
    ``'rbf'`` or ``'linear'`` kernel, no ``probability`` and no ``max_iter``
    cap, on dense data) is fitted by working-set rounds instead of once on
    all rows: libsvm is fitted on a small set of rows, the decision function
    of all other rows is computed with matrix products, the rows with
    ``y_i f(x_i) < 1`` (those whose zero dual coefficient may not be
    optimal) are added, and the fit is repeated until none is below
    ``1 - tol`` (libsvm's own stopping rule). The result is then a solution
    of the full problem to libsvm's tolerance ``tol`` (or, when the working
    set grows past 30 % of the rows, a fit on all rows): the decision
    function agrees with a fit on all rows to about ``tol`` times its scale,
    and the support vectors are the same except a few with small dual
    coefficients (which libsvm's tolerance decides either way).
    ``gamma='scale'`` and ``class_weight='balanced'`` are computed from all
    rows. At 200,000 x 20 this is 5 to 10 times faster than one fit on all
    rows. Other estimators are fitted on all rows.

    References
    ----------
    .. [1] H. M. Nguyen, E. W. Cooper, K. Kamei, "Borderline over-sampling for
       imbalanced data classification", International Journal of Knowledge
       Engineering and Soft Data Paradigms 3(1), 4-21, 2009.

    Examples
    --------
    >>> from collections import Counter
    >>> from sklearn.datasets import make_classification
    >>> from skreweight.over_sampling import SVMSMOTE
    >>> X, y = make_classification(n_samples=1000, weights=[0.9], random_state=0)
    >>> X_res, y_res = SVMSMOTE(random_state=0).fit_resample(X, y)
    >>> sorted(Counter(y_res).items())
    [(np.int64(0), 898), (np.int64(1), 898)]
    """

    _parameter_constraints: dict = {
        **BaseSMOTE._parameter_constraints,
        "k_neighbors": _NEIGHBORS_CONSTRAINT,
        "m_neighbors": _NEIGHBORS_CONSTRAINT,
        "svm_estimator": [HasMethods(["fit", "predict"]), None],
        "out_step": [Interval(numbers.Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        *,
        sampling_strategy="auto",
        random_state=None,
        k_neighbors=5,
        m_neighbors=10,
        svm_estimator=None,
        out_step=0.5,
    ):
        super().__init__(sampling_strategy=sampling_strategy, random_state=random_state)
        self.k_neighbors = k_neighbors
        self.m_neighbors = m_neighbors
        self.svm_estimator = svm_estimator
        self.out_step = out_step

    def _prepare(self, X, y, random_state):
        self.nn_m_, self._m = _make_neighbors("m_neighbors", self.m_neighbors)
        _check_class_size(
            X.shape[0], self._m, "(all rows)", "m_neighbors", type(self).__name__
        )
        self.nn_m_.fit(X)
        if self.svm_estimator is None:
            svm = SVC(gamma="scale", random_state=self.random_state)
        else:
            svm = clone(self.svm_estimator)
        self.svm_working_set_ = self._svm_fit_info = None
        if _uses_working_set(svm, X):
            svm, self.svm_support_, self.svm_working_set_, self._svm_fit_info = (
                _fit_svc_working_set(svm, X, y)
            )
            self.svm_estimator_ = svm
            return
        self.svm_estimator_ = svm.fit(X, y)
        if not hasattr(self.svm_estimator_, "support_"):
            raise ValueError(
                "`svm_estimator` must expose a fitted `support_` attribute (a "
                "support-vector classifier such as sklearn.svm.SVC); got "
                f"{type(self.svm_estimator_).__name__}."
            )
        self.svm_support_ = np.asarray(self.svm_estimator_.support_)

    def _sample_class(self, X, y, class_label, n_samples, random_state):
        class_idx = np.flatnonzero(y == class_label)
        self.nn_k_, k = self._nn_k(class_idx.size, class_label)
        support = self.svm_support_
        support = support[y[support] == class_label]
        m = self._m
        nns_m = kneighbors_among_all(self.nn_m_, X, y, support, class_label, m + 1)
        n_other = np.count_nonzero(y[nns_m[:, 1:]] != class_label, axis=1)
        keep = n_other < m
        support, n_other = support[keep], n_other[keep]
        if support.size == 0:
            raise ValueError(
                f"SVMSMOTE found no usable seed for class {_label(class_label)}: every "
                "support vector of the class is noise (all its m_neighbors nearest "
                "rows are of other classes). Use another SMOTE variant, or change "
                "`m_neighbors` or `svm_estimator`."
            )
        danger = n_other >= m / 2
        X_class = X[class_idx]
        self.nn_k_.fit(X_class)
        fraction = random_state.beta(10, 10)
        n_danger = int(fraction * (n_samples + 1))
        if not danger.any():
            n_danger = 0
        elif danger.all():
            n_danger = n_samples
        n_danger = min(n_danger, n_samples)
        seeds, partners, gaps = [], [], []
        for group, n_group, step in (
            (support[danger], n_danger, 1.0),
            (support[~danger], n_samples - n_danger, -self.out_step),
        ):
            if group.size == 0 or n_group == 0:
                continue
            nns = class_idx[_kneighbors(self.nn_k_, X[group], k + 1)[:, 1:]]
            rows, cols, steps = _smote_draws(random_state, group.size, k, n_group)
            seeds.append(group[rows])
            partners.append(nns[rows, cols])
            gaps.append(step * steps)
        return {
            "seed": np.concatenate(seeds),
            "partner": np.concatenate(partners),
            "gap": np.concatenate(gaps),
        }
