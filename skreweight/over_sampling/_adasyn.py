"""ADASYN: adaptive synthetic sampling."""

import numpy as np

from skreweight.over_sampling._base import (
    _NEIGHBORS_CONSTRAINT,
    BaseSMOTE,
    _check_class_size,
    _class_neighbors,
    _fill_doc,
    _label,
    _largest_remainder,
    _make_neighbors,
)
from skreweight.over_sampling._search import (
    bounded_search_applies,
    kneighbors_among_all,
)

__all__ = ["ADASYN"]


@_fill_doc
class ADASYN(BaseSMOTE):
    """Over-sample with ADASYN: more synthetic rows where the class is harder.

    Each row ``x_i`` of class ``c`` gets the difficulty ``r_i``, the share of
    other-class rows among its ``n_neighbors`` nearest rows of the whole data.
    The ``n`` requested rows are split proportionally to ``r_i`` and each is
    ``x_i + u * (x_j - x_i)`` with ``x_j`` a random one of the
    ``n_neighbors`` nearest rows of the same class and ``u ~ U[0, 1)``.

    Unlike imbalanced-learn, which rounds every share and can miss the
    requested count, the split uses the largest-remainder rule so the class
    gets exactly the requested number of rows.

    Read more in the :ref:`User Guide <over_sampling>`.

    Parameters
    ----------
    {sampling_strategy}

    {random_state}

    n_neighbors : int or object, default=5
        Number of nearest neighbours used both to measure the difficulty and
        to interpolate, or a :class:`~sklearn.neighbors.NearestNeighbors`-like
        estimator whose ``n_neighbors`` counts the row itself.

    Attributes
    ----------
    {sampling_strategy_}

    nn_ : estimator object
        The nearest-neighbours estimator last fitted.

    n_samples_per_seed_ : dict
        For each over-sampled class, the number of rows generated from each
        of its rows (in the order of the class's rows in ``X``).

    {provenance_}

    {n_features_in_}

    See Also
    --------
    SMOTE : Uniform choice of the seed rows.
    BorderlineSMOTE : Seeds only among the rows near the border.

    Notes
    -----
    One neighbour query of each class against all rows, and one within the
    class. If no row of a class has an other-class neighbour, ADASYN has no
    difficulty to follow and raises a ``ValueError``; use :class:`SMOTE`.

    References
    ----------
    .. [1] H. He, Y. Bai, E. A. Garcia, S. Li, "ADASYN: Adaptive synthetic
       sampling approach for imbalanced learning", IEEE IJCNN, 1322-1328, 2008.

    Examples
    --------
    >>> from collections import Counter
    >>> from sklearn.datasets import make_classification
    >>> from skreweight.over_sampling import ADASYN
    >>> X, y = make_classification(n_samples=1000, weights=[0.9], random_state=0)
    >>> X_res, y_res = ADASYN(random_state=0).fit_resample(X, y)
    >>> sorted(Counter(y_res).items())
    [(np.int64(0), 898), (np.int64(1), 898)]
    """

    _parameter_constraints: dict = {
        **BaseSMOTE._parameter_constraints,
        "n_neighbors": _NEIGHBORS_CONSTRAINT,
    }

    def __init__(self, *, sampling_strategy="auto", random_state=None, n_neighbors=5):
        super().__init__(sampling_strategy=sampling_strategy, random_state=random_state)
        self.n_neighbors = n_neighbors

    def _prepare(self, X, y, random_state):
        self.nn_, self._k = _make_neighbors("n_neighbors", self.n_neighbors)
        _check_class_size(
            X.shape[0], self._k, "(all rows)", "n_neighbors", type(self).__name__
        )
        self._nn_all = _make_neighbors("n_neighbors", self.n_neighbors)[0]
        self._nn_all.fit(X)
        self.n_samples_per_seed_ = {}

    def _sample_class(self, X, y, class_label, n_samples, random_state):
        k = self._k
        class_idx = np.flatnonzero(y == class_label)
        _check_class_size(
            class_idx.size, k, class_label, "n_neighbors", type(self).__name__
        )
        X_class = X[class_idx]
        own = None
        bounded = bounded_search_applies(
            self._nn_all, X, y, class_idx.size, class_label, k + 1
        )
        if bounded:
            # the class's own neighbours bound the all-rows search
            nns = _class_neighbors(self.nn_, X_class, X_class, k)
            own = class_idx[np.column_stack([np.arange(class_idx.size), nns])]
        nns_all = kneighbors_among_all(
            self._nn_all, X, y, class_idx, class_label, k + 1, own=own
        )[:, 1:]
        if not bounded:
            # after scikit-learn's threaded search: a BLAS product just
            # before it leaves spinning threads that slow it ~5x
            nns = _class_neighbors(self.nn_, X_class, X_class, k)
        ratio = np.count_nonzero(y[nns_all] != class_label, axis=1) / k
        if not ratio.sum():
            raise ValueError(
                f"ADASYN cannot over-sample class {_label(class_label)}: none of "
                "its rows has a row of another class among its "
                f"n_neighbors={k} nearest neighbours, so the difficulty weights "
                "are all zero. Use SMOTE, or "
                "raise `n_neighbors`."
            )
        counts = _largest_remainder(ratio, n_samples)
        self.n_samples_per_seed_[class_label] = counts
        rows = np.repeat(np.arange(class_idx.size), counts)
        cols = random_state.choice(k, size=n_samples)
        steps = random_state.uniform(size=n_samples)
        return {
            "seed": class_idx[rows],
            "partner": class_idx[nns[rows, cols]],
            "gap": steps,
        }
