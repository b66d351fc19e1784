"""Lee's SMOTE: SMOTE candidates rejected when they fall among other classes."""

import numbers

import numpy as np

from skreweight.over_sampling._base import (
    _NEIGHBORS_CONSTRAINT,
    BaseSMOTE,
    _check_class_size,
    _class_neighbors,
    _fill_doc,
    _interpolate,
    _kneighbors,
    _KNeighborsMixin,
    _make_neighbors,
    _smote_draws,
)
from skreweight.utils._sklearn_fixes import Interval

__all__ = ["LeeSMOTE"]


@_fill_doc
class LeeSMOTE(_KNeighborsMixin, BaseSMOTE):
    """Over-sample with Lee's SMOTE: reject candidates that land among other classes.

    SMOTE candidates are generated in batches; a candidate is rejected when
    the share of other-class rows among its ``k_neighbors`` nearest original
    rows is at least ``rejection_level``. Batches of ``max(missing, 20)``
    candidates are drawn until the class has its count; after more than 5
    consecutive batches with no accepted candidate the level rises by 0.1
    (above 1 everything is accepted), so the method always ends.

    Read more in the :ref:`User Guide <over_sampling>`.

    Parameters
    ----------
    {sampling_strategy}

    {random_state}

    {k_neighbors}

    rejection_level : float, default=0.5
        Share of other-class neighbours from which a candidate is rejected.

    Attributes
    ----------
    {sampling_strategy_}

    acceptance_rate_ : dict
        For each over-sampled class, accepted candidates / drawn candidates.

    final_rejection_level_ : dict
        For each over-sampled class, the level in force at the end.

    {provenance_}

    {n_features_in_}

    See Also
    --------
    SMOTE : No rejection.
    SMOTEENN : Remove noisy rows after SMOTE instead.

    Notes
    -----
    The version ranked fourth by Kovács (2019) tested an empty slice and
    accepted every candidate, so its rank is that of plain SMOTE; this
    implementation applies the rejection as published.

    References
    ----------
    .. [1] J. Lee, N.-R. Kim, J.-H. Lee, "An over-sampling technique with
       rejection for imbalanced class learning", IMCOM 2015, article 102,
       2015.

    Examples
    --------
    >>> from collections import Counter
    >>> from sklearn.datasets import make_classification
    >>> from skreweight.over_sampling import LeeSMOTE
    >>> X, y = make_classification(n_samples=500, weights=[0.9], random_state=0)
    >>> sampler = LeeSMOTE(random_state=0)
    >>> X_res, y_res = sampler.fit_resample(X, y)
    >>> sorted(Counter(y_res).items())
    [(np.int64(0), 450), (np.int64(1), 450)]
    >>> bool(sampler.acceptance_rate_[1] <= 1.0)
    True
    """

    _parameter_constraints: dict = {
        **BaseSMOTE._parameter_constraints,
        "k_neighbors": _NEIGHBORS_CONSTRAINT,
        "rejection_level": [Interval(numbers.Real, 0, 1, closed="right")],
    }

    def __init__(
        self,
        *,
        sampling_strategy="auto",
        random_state=None,
        k_neighbors=5,
        rejection_level=0.5,
    ):
        super().__init__(sampling_strategy=sampling_strategy, random_state=random_state)
        self.k_neighbors = k_neighbors
        self.rejection_level = rejection_level

    def _prepare(self, X, y, random_state):
        self._nn_all, k = _make_neighbors("k_neighbors", self.k_neighbors)
        _check_class_size(X.shape[0], k, "(all rows)", "k_neighbors", "LeeSMOTE")
        self._nn_all.fit(X)
        self.acceptance_rate_ = {}
        self.final_rejection_level_ = {}

    def _sample_class(self, X, y, class_label, n_samples, random_state):
        class_idx = np.flatnonzero(y == class_label)
        self.nn_k_, k = self._nn_k(class_idx.size, class_label)
        X_class = X[class_idx]
        nns = _class_neighbors(self.nn_k_, X_class, X_class, k)
        level = float(self.rejection_level)
        seeds, partners, gaps = [], [], []
        n_accepted, n_acceptable, n_drawn, empty_batches = 0, 0, 0, 0
        while n_accepted < n_samples:
            batch = max(n_samples - n_accepted, 20)
            rows, cols, steps = _smote_draws(random_state, class_idx.size, k, batch)
            seed, partner = class_idx[rows], class_idx[nns[rows, cols]]
            candidates = _interpolate(X, seed, partner, steps)
            neighbours = _kneighbors(self._nn_all, candidates, k)
            other_share = np.mean(y[neighbours] != class_label, axis=1)
            accept = np.flatnonzero(other_share < level)
            n_drawn += batch
            n_acceptable += accept.size
            accept = accept[: n_samples - n_accepted]
            if accept.size == 0:
                empty_batches += 1
                if empty_batches > 5:
                    level += 0.1
                    empty_batches = 0
                continue
            empty_batches = 0
            seeds.append(seed[accept])
            partners.append(partner[accept])
            gaps.append(steps[accept])
            n_accepted += accept.size
        self.acceptance_rate_[class_label] = n_acceptable / n_drawn
        self.final_rejection_level_[class_label] = level
        return {
            "seed": np.concatenate(seeds),
            "partner": np.concatenate(partners),
            "gap": np.concatenate(gaps),
        }
