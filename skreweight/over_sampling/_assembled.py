"""Assembled-SMOTE: SMOTE within clusters of border rows merged by direction."""

import numbers

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import minimum_spanning_tree
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors

from skreweight.over_sampling._base import (
    BaseSMOTE,
    _check_class_size,
    _fill_doc,
    _kneighbors,
    _label,
    _self_kneighbors,
    _smote_draws,
)
from skreweight.utils._sklearn_fixes import Interval

__all__ = ["AssembledSMOTE"]


def _first_axis(count, total, outer):
    """First principal axis of a cluster from its running sums."""
    mean = total / count
    scatter = outer - count * np.outer(mean, mean)
    return np.linalg.eigh(scatter)[1][:, -1]


def _merge_border_clusters(X_border, min_cluster_size, angle_threshold):
    """Cluster labels of the border rows (single linkage with a direction test).

    Single linkage merges along the minimum spanning tree, shortest edge
    first; each cluster keeps its count, sum and sum of outer products, so
    the principal axis of a merged cluster costs one ``d x d`` eigensolve.
    """
    n = X_border.shape[0]
    labels = np.arange(n)
    if n < 2:
        return labels
    dist = pairwise_distances(X_border)
    mst = minimum_spanning_tree(sparse.csr_matrix(dist + 1e-300 * (dist == 0)))
    mst = mst.tocoo()
    members = {i: [i] for i in range(n)}
    stats = {
        i: (1, X_border[i].copy(), np.outer(X_border[i], X_border[i])) for i in range(n)
    }
    blocked = set()
    for e in np.argsort(mst.data, kind="stable"):
        a, b = labels[mst.row[e]], labels[mst.col[e]]
        if a == b or (min(a, b), max(a, b)) in blocked:
            continue
        small = min(len(members[a]), len(members[b])) < min_cluster_size
        if not small:
            cos = abs(_first_axis(*stats[a]) @ _first_axis(*stats[b]))
            if cos <= angle_threshold:
                blocked.add((min(a, b), max(a, b)))
                continue
        members[a].extend(members.pop(b))
        sa, sb = stats[a], stats.pop(b)
        stats[a] = (sa[0] + sb[0], sa[1] + sb[1], sa[2] + sb[2])
        labels[members[a]] = a
    return labels


@_fill_doc
class AssembledSMOTE(BaseSMOTE):
    """Over-sample with Assembled-SMOTE: SMOTE inside direction-coherent clusters.

    Border rows of class ``c`` (rows with another-class row among their
    ``k_neighbors`` nearest rows) are clustered by single linkage: two
    clusters merge when either is smaller than ``min_cluster_size``, or when
    the ``|cos|`` of the angle between their first principal axes exceeds
    ``angle_threshold`` (otherwise the pair is never merged). The other rows
    of the class form one more cluster. A cluster is picked with probability
    proportional to its size and SMOTE runs inside it: seed uniform in the
    cluster, partner among its ``k_neighbors`` nearest cluster rows, gap
    ``U[0, 1)``.

    Read more in the :ref:`User Guide <over_sampling>`.

    Parameters
    ----------
    {sampling_strategy}

    {random_state}

    k_neighbors : int, default=5
        Neighbours used for the border test and for the partners.

    min_cluster_size : int, default=2
        Clusters smaller than this always merge.

    angle_threshold : float, default=0.3
        Smallest ``|cos|`` between first principal axes for two clusters to
        merge.

    Attributes
    ----------
    {sampling_strategy_}

    cluster_labels_ : dict
        For each over-sampled class, the cluster of each of its rows (-1 for
        the non-border cluster), in the order of the class's rows in ``X``.

    {provenance_}
        Seed and partner always lie in the same cluster.

    {n_features_in_}

    See Also
    --------
    KMeansSMOTE : SMOTE inside k-means clusters.
    BorderlineSMOTE : Seeds only among the border rows.

    Notes
    -----
    The merging follows the minimum spanning tree of the border rows (the
    order of single linkage), so it costs ``O(n_border ** 2)`` memory for the
    distances and one small SVD per candidate merge.

    References
    ----------
    .. [1] B. Zhou, C. Yang, H. Guo, J. Hu, "A quasi-linear SVM combined with
       assembled SMOTE for imbalanced data classification", International
       Joint Conference on Neural Networks (IJCNN), 1-7, 2013.

    Examples
    --------
    >>> from collections import Counter
    >>> from sklearn.datasets import make_classification
    >>> from skreweight.over_sampling import AssembledSMOTE
    >>> X, y = make_classification(n_samples=500, weights=[0.9], random_state=0)
    >>> X_res, y_res = AssembledSMOTE(random_state=0).fit_resample(X, y)
    >>> sorted(Counter(y_res).items())
    [(np.int64(0), 450), (np.int64(1), 450)]
    """

    _parameter_constraints: dict = {
        **BaseSMOTE._parameter_constraints,
        "k_neighbors": [Interval(numbers.Integral, 1, None, closed="left")],
        "min_cluster_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "angle_threshold": [Interval(numbers.Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        *,
        sampling_strategy="auto",
        random_state=None,
        k_neighbors=5,
        min_cluster_size=2,
        angle_threshold=0.3,
    ):
        super().__init__(sampling_strategy=sampling_strategy, random_state=random_state)
        self.k_neighbors = k_neighbors
        self.min_cluster_size = min_cluster_size
        self.angle_threshold = angle_threshold

    def _prepare(self, X, y, random_state):
        k = self.k_neighbors
        _check_class_size(X.shape[0], k, "(all rows)", "k_neighbors", "AssembledSMOTE")
        self._nn_all = NearestNeighbors(n_neighbors=k + 1).fit(X)
        self.cluster_labels_ = {}

    def _sample_class(self, X, y, class_label, n_samples, random_state):
        class_idx = np.flatnonzero(y == class_label)
        k = self.k_neighbors
        _check_class_size(class_idx.size, 1, class_label, "(class size)", "Assembled")
        X_class = X[class_idx]
        if sparse.issparse(X_class):
            X_class = X_class.toarray()
        nns = _kneighbors(self._nn_all, X[class_idx], k + 1)[:, 1:]
        border = np.any(y[nns] != class_label, axis=1)
        labels = np.full(class_idx.size, -1)
        labels[border] = _merge_border_clusters(
            X_class[border], self.min_cluster_size, self.angle_threshold
        )
        self.cluster_labels_[class_label] = labels
        clusters = [np.flatnonzero(labels == c) for c in np.unique(labels)]
        clusters = [c for c in clusters if c.size >= 2]
        if not clusters:
            raise ValueError(
                f"AssembledSMOTE cannot over-sample class {_label(class_label)}: no "
                "cluster has two rows. Raise `min_cluster_size` or lower "
                "`angle_threshold`."
            )
        sizes = np.array([c.size for c in clusters], dtype=float)
        chosen = random_state.choice(
            len(clusters), size=n_samples, p=sizes / sizes.sum()
        )
        seeds, partners, gaps = [], [], []
        for c, members in enumerate(clusters):
            n_c = int(np.count_nonzero(chosen == c))
            if n_c == 0:
                continue
            kc = min(k, members.size - 1)
            local = _self_kneighbors(X_class[members], kc)
            rows, cols, steps = _smote_draws(random_state, members.size, kc, n_c)
            seeds.append(class_idx[members[rows]])
            partners.append(class_idx[members[local[rows, cols]]])
            gaps.append(steps)
        return {
            "seed": np.concatenate(seeds),
            "partner": np.concatenate(partners),
            "gap": np.concatenate(gaps),
        }
