"""CCR: combined cleaning and resampling with energy-based spheres."""

import numbers

import numpy as np
from scipy import sparse

from skreweight.over_sampling._base import (
    BaseSMOTE,
    _check_class_size,
    _fill_doc,
    _largest_remainder,
)
from skreweight.utils._sklearn_fixes import Interval

__all__ = ["CCR"]

# Entries of the (rows x other rows) distance block sorted at once.
_CHUNK_ENTRIES = 1 << 22


def _radii(X_class, X_other, energy):
    """Radius of every class row's sphere for the given energy budget.

    Growing the L1 radius of a sphere from ``d_(j)`` to ``d_(j+1)`` (with
    ``j`` other-class rows inside) costs ``(j + 1)`` per unit; the radius is
    where the cumulative cost reaches ``energy``.
    """
    n, m = X_class.shape[0], X_other.shape[0]
    radii = np.empty(n)
    chunk = max(1, _CHUNK_ENTRIES // max(m, 1))
    for start in range(0, n, chunk):
        block = X_class[start : start + chunk]
        dist = np.abs(block[:, None, :] - X_other[None, :, :]).sum(-1)
        dist.sort(axis=1)
        steps = np.diff(dist, axis=1, prepend=0.0)
        cost = np.cumsum(steps * np.arange(1, m + 1), axis=1)
        # number of other rows that can be enclosed within the budget
        inside = (cost <= energy).sum(axis=1)
        reached = np.where(
            inside > 0, dist[np.arange(dist.shape[0]), np.maximum(inside - 1, 0)], 0.0
        )
        spent = np.where(
            inside > 0, cost[np.arange(dist.shape[0]), np.maximum(inside - 1, 0)], 0.0
        )
        radii[start : start + chunk] = reached + (energy - spent) / (inside + 1)
    return radii


@_fill_doc
class CCR(BaseSMOTE):
    """Over-sample with CCR: random rows in energy-limited spheres around each row.

    Each row ``x_i`` of class ``c`` grows an L1 sphere until it has spent the
    budget ``energy * n_features ** scaling``; enclosing another-class row
    makes further growth dearer (radius costs ``j + 1`` per unit with ``j``
    rows inside). Row ``i`` then gets a share of the synthetic rows
    proportional to ``1 / r_i`` (rows in crowded regions get more), each
    drawn uniformly in its L1 ball: ``x_i + r_i * U ** (1 / d) * s * e /
    sum(e)`` with random signs ``s`` and ``e ~ Exp(1) ** d``.

    With ``translate_majority=True`` the other-class rows inside a sphere
    are also pushed out to its surface, as in the paper (the cleaning part
    of CCR); the moved rows replace the originals in the output.

    Read more in the :ref:`User Guide <over_sampling>`.

    Parameters
    ----------
    {sampling_strategy}

    {random_state}

    energy : float, default=1.0
        Budget of every sphere.

    scaling : float, default=0.0
        The budget is ``energy * n_features ** scaling``.

    translate_majority : bool, default=False
        Whether to push other-class rows out of the spheres.

    Attributes
    ----------
    {sampling_strategy_}

    radii_ : dict
        For each over-sampled class, the sphere radius of each of its rows.

    translations_ : ndarray of shape (n_samples, n_features)
        Displacement applied to each input row (zero unless
        ``translate_majority=True``).

    {provenance_}
        The partner is -1 and the gap NaN; ``radius`` gives the sphere each
        row was drawn in, centred on its seed.

    {n_features_in_}

    See Also
    --------
    SMOTE : Interpolation instead of spheres.
    SMOTEENN : Cleaning by neighbour vote.

    Notes
    -----
    The spheres need every class row's sorted distances to all other rows:
    ``O(n_c * n_other)`` memory per chunk of rows and ``O(n_c * n log n)``
    time, fine up to tens of thousands of rows. smote-variants normalised
    the shares by ``1 / mean(r)`` and over-generated; the shares here sum to
    the requested count exactly.

    References
    ----------
    .. [1] M. Koziarski, M. Woźniak, "CCR: A combined cleaning and
       resampling algorithm for imbalanced data classification",
       International Journal of Applied Mathematics and Computer Science
       27(4), 727-736, 2017.

    Examples
    --------
    >>> from collections import Counter
    >>> from sklearn.datasets import make_classification
    >>> from skreweight.over_sampling import CCR
    >>> X, y = make_classification(n_samples=500, weights=[0.9], random_state=0)
    >>> sampler = CCR(random_state=0)
    >>> X_res, y_res = sampler.fit_resample(X, y)
    >>> sorted(Counter(y_res).items())
    [(np.int64(0), 450), (np.int64(1), 450)]
    """

    _parameter_constraints: dict = {
        **BaseSMOTE._parameter_constraints,
        "energy": [Interval(numbers.Real, 0, None, closed="neither")],
        "scaling": [numbers.Real],
        "translate_majority": ["boolean"],
    }

    def __init__(
        self,
        *,
        sampling_strategy="auto",
        random_state=None,
        energy=1.0,
        scaling=0.0,
        translate_majority=False,
    ):
        super().__init__(sampling_strategy=sampling_strategy, random_state=random_state)
        self.energy = energy
        self.scaling = scaling
        self.translate_majority = translate_majority

    def _prepare(self, X, y, random_state):
        self.radii_ = {}
        self.translations_ = np.zeros(X.shape, dtype=np.float64)

    def _sample_class(self, X, y, class_label, n_samples, random_state):
        class_idx = np.flatnonzero(y == class_label)
        _check_class_size(class_idx.size, 0, class_label, "(class size)", "CCR")
        dense = X.toarray() if sparse.issparse(X) else X
        other_idx = np.flatnonzero(y != class_label)
        X_class, X_other = dense[class_idx], dense[other_idx]
        d = X.shape[1]
        energy = self.energy * d**self.scaling
        radii = _radii(X_class, X_other, energy)
        self.radii_[class_label] = radii
        counts = _largest_remainder(1.0 / np.maximum(radii, 1e-300), n_samples)
        rows = np.repeat(np.arange(class_idx.size), counts)
        e = random_state.exponential(size=(n_samples, d))
        signs = random_state.choice([-1.0, 1.0], size=(n_samples, d))
        u = random_state.uniform(size=n_samples) ** (1.0 / d)
        direction = signs * e / e.sum(axis=1, keepdims=True)
        X_new = X_class[rows] + (radii[rows] * u)[:, None] * direction
        if self.translate_majority:
            for i in range(class_idx.size):
                diff = X_other - X_class[i]
                dist = np.abs(diff).sum(axis=1)
                inside = (dist < radii[i]) & (dist > 0)
                scale = (radii[i] - dist[inside]) / dist[inside]
                self.translations_[other_idx[inside]] += scale[:, None] * diff[inside]
        return {
            "seed": class_idx[rows],
            "partner": np.full(n_samples, -1),
            "gap": np.full(n_samples, np.nan),
            "X_new": X_new,
            "extra": {"radius": radii[rows]},
        }

    def _assemble(self, X, y, blocks):
        X_res, y_res = super()._assemble(X, y, blocks)
        if self.translate_majority and np.any(self.translations_):
            moved = self.translations_.astype(X_res.dtype)
            if sparse.issparse(X_res):
                X_res = X_res.tolil()
                X_res[: X.shape[0]] = X_res[: X.shape[0]].toarray() + moved
                X_res = X_res.asformat(X.format)
            else:
                X_res[: X.shape[0]] += moved
        return X_res, y_res
