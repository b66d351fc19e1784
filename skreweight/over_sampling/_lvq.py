"""LVQ-SMOTE: synthetic rows from codebook vectors of the class."""

import numbers

import numpy as np
from scipy import sparse
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors

from skreweight.over_sampling._base import (
    BaseSMOTE,
    _check_class_size,
    _fill_doc,
    _kneighbors,
)
from skreweight.utils._sklearn_fixes import Interval

__all__ = ["LVQSMOTE"]


def _best_pairs(codebook):
    """For every ordered pair (a, b), the disjoint pair (i, j) closest to it.

    Closest means the smallest ``||(c_i - c_j) - (c_a - c_b)||`` over ordered
    pairs ``i != j`` with ``{i, j}`` disjoint from ``{a, b}``.
    """
    C = codebook.shape[0]
    diff = codebook[:, None, :] - codebook[None, :, :]  # (C, C, d): c_a - c_b
    flat = diff.reshape(C * C, -1)
    dist = ((flat[:, None, :] - flat[None, :, :]) ** 2).sum(-1)  # (C^2, C^2)
    a, b = np.divmod(np.arange(C * C), C)
    bad = (
        (a[None, :] == a[:, None])
        | (a[None, :] == b[:, None])
        | (b[None, :] == a[:, None])
        | (b[None, :] == b[:, None])
        | (a == b)[None, :]
    )
    dist[bad] = np.inf
    best = dist.argmin(axis=1)
    return a[best].reshape(C, C), b[best].reshape(C, C)


@_fill_doc
class LVQSMOTE(BaseSMOTE):
    """Over-sample with LVQ-SMOTE: transplant neighbourhoods between codebook vectors.

    The class is summarised by ``n_codebook`` codebook vectors (the k-means
    centroids of its rows). A synthetic row picks two codebook vectors
    ``c_a != c_b``, finds the pair ``(c_i, c_j)``, disjoint from them, whose
    difference is closest to ``c_a - c_b``, picks ``c_m`` at random among
    ``c_i, c_j`` and a class row ``x`` among the ``k_neighbors`` nearest to
    ``c_m``, and outputs ``c_a + x - c_m``: the local shape around ``c_m``
    moved to ``c_a``.

    Read more in the :ref:`User Guide <over_sampling>`.

    Parameters
    ----------
    {sampling_strategy}

    {random_state}

    k_neighbors : int, default=5
        Number of class rows near each codebook vector.

    n_codebook : int, default=10
        Number of codebook vectors (at least 4; capped by the class size).

    Attributes
    ----------
    {sampling_strategy_}

    codebooks_ : dict
        Codebook vectors of each over-sampled class.

    {provenance_}
        Seed and partner are -1 and the gap NaN; the extra fields
        ``codebook_a``, ``codebook_m`` and ``neighbour`` (a row position in
        ``X``) rebuild a row as
        ``codebooks_[label][codebook_a] + X[neighbour] -
        codebooks_[label][codebook_m]``.

    {n_features_in_}

    See Also
    --------
    KMeansSMOTE : SMOTE inside k-means clusters.
    SMOTE : Interpolation between neighbours.

    Notes
    -----
    As in the code ranked by Kovács (2019), the codebook is the k-means
    centroids of the class rather than a trained LVQ. The closest pairs are
    precomputed for all ``n_codebook ** 2`` ordered pairs.

    References
    ----------
    .. [1] M. Nakamura, Y. Kajiwara, A. Otsuka, H. Kimura, "LVQ-SMOTE -
       Learning Vector Quantization based Synthetic Minority Over-sampling
       Technique for biomedical data", BioData Mining 6, 16, 2013.

    Examples
    --------
    >>> from collections import Counter
    >>> from sklearn.datasets import make_classification
    >>> from skreweight.over_sampling import LVQSMOTE
    >>> X, y = make_classification(n_samples=500, weights=[0.9], random_state=0)
    >>> X_res, y_res = LVQSMOTE(random_state=0).fit_resample(X, y)
    >>> sorted(Counter(y_res).items())
    [(np.int64(0), 450), (np.int64(1), 450)]
    """

    _parameter_constraints: dict = {
        **BaseSMOTE._parameter_constraints,
        "k_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_codebook": [Interval(numbers.Integral, 4, None, closed="left")],
    }

    def __init__(
        self,
        *,
        sampling_strategy="auto",
        random_state=None,
        k_neighbors=5,
        n_codebook=10,
    ):
        super().__init__(sampling_strategy=sampling_strategy, random_state=random_state)
        self.k_neighbors = k_neighbors
        self.n_codebook = n_codebook

    def _prepare(self, X, y, random_state):
        self.codebooks_ = {}

    def _sample_class(self, X, y, class_label, n_samples, random_state):
        class_idx = np.flatnonzero(y == class_label)
        _check_class_size(class_idx.size, 3, class_label, "(class size)", "LVQSMOTE")
        X_class = X[class_idx]
        if sparse.issparse(X_class):
            X_class = X_class.toarray()
        C = min(self.n_codebook, class_idx.size)
        seed = random_state.randint(np.iinfo(np.int32).max)
        codebook = (
            KMeans(n_clusters=C, n_init=1, random_state=seed)
            .fit(X_class)
            .cluster_centers_
        )
        self.codebooks_[class_label] = codebook
        k = min(self.k_neighbors, class_idx.size)
        near = _kneighbors(NearestNeighbors(n_neighbors=k).fit(X_class), codebook, k)
        best_i, best_j = _best_pairs(codebook)
        a = random_state.randint(0, C, size=n_samples)
        b = random_state.randint(0, C - 1, size=n_samples)
        b += b >= a
        pick_i = random_state.randint(0, 2, size=n_samples).astype(bool)
        m = np.where(pick_i, best_i[a, b], best_j[a, b])
        col = random_state.randint(0, k, size=n_samples)
        neighbour = near[m, col]
        X_new = codebook[a] + X_class[neighbour] - codebook[m]
        return {
            "seed": np.full(n_samples, -1),
            "partner": np.full(n_samples, -1),
            "gap": np.full(n_samples, np.nan),
            "X_new": X_new,
            "extra": {
                "codebook_a": a,
                "codebook_m": m,
                "neighbour": class_idx[neighbour],
            },
        }
