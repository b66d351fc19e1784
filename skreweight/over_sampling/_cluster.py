"""KMeans-SMOTE: SMOTE inside the sparse, class-rich clusters."""

import math
import numbers
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from joblib import effective_n_jobs
from scipy import sparse
from sklearn.base import clone
from sklearn.cluster import MiniBatchKMeans
from sklearn.metrics import pairwise_distances_chunked
from threadpoolctl import threadpool_limits

from skreweight.over_sampling._base import (
    _NEIGHBORS_CONSTRAINT,
    BaseSMOTE,
    _class_neighbors,
    _fill_doc,
    _KNeighborsMixin,
    _label,
    _largest_remainder,
    _make_neighbors,
    _smote_draws,
)
from skreweight.utils._sklearn_fixes import (
    HasMethods,
    Interval,
    StrOptions,
    _openmp_effective_n_threads,
)

__all__ = ["KMeansSMOTE"]


# Rows per block of the dense mean-distance computation (32 MiB per block).
_MEAN_BLOCK = 2048


def _mean_pairwise_distance(X, n_jobs):
    """Mean Euclidean distance over the distinct ordered pairs of rows.

    Dense input: blocks of the upper triangle only (each off-diagonal block
    counts twice), squared distances from one augmented product
    ``[x, |x|^2, 1] . [-2 y, 1, |y|^2]``, the blocks spread over ``n_jobs``
    threads (numpy releases the GIL; BLAS single-threaded in each; ``None``:
    as many as scikit-learn's OpenMP code uses). Sparse
    input: scikit-learn's chunked pairwise distances.
    """
    n = X.shape[0]
    if sparse.issparse(X):
        total = 0.0
        for chunk in pairwise_distances_chunked(X, metric="euclidean", n_jobs=n_jobs):
            total += float(chunk.sum())
        return total / (n * n - n)
    X = np.asarray(X, dtype=np.float64)
    sq = np.einsum("ij,ij->i", X, X)
    left = np.hstack([X, sq[:, np.newaxis], np.ones((n, 1))])
    right = np.hstack([-2.0 * X, np.ones((n, 1)), sq[:, np.newaxis]])
    starts = range(0, n, _MEAN_BLOCK)
    blocks = [(a, b) for a in starts for b in starts if b >= a]

    def block_sum(block):
        a, b = block
        d2 = left[a : a + _MEAN_BLOCK] @ right[b : b + _MEAN_BLOCK].T
        np.maximum(d2, 0.0, out=d2)
        np.sqrt(d2, out=d2)
        if a == b:
            np.fill_diagonal(d2, 0.0)
            return float(d2.sum())
        return 2.0 * float(d2.sum())

    # None: as many threads as scikit-learn's OpenMP code uses
    wanted = (
        _openmp_effective_n_threads() if n_jobs is None else effective_n_jobs(n_jobs)
    )
    n_threads = max(1, min(wanted, len(blocks)))
    if n_threads == 1:
        # no BLAS limit: threadpoolctl's look-up costs ~5 ms, more than a
        # small cluster's whole product
        sums = [block_sum(block) for block in blocks]
    else:
        with threadpool_limits(limits=1, user_api="blas"):
            with ThreadPoolExecutor(max_workers=n_threads) as pool:
                sums = list(pool.map(block_sum, blocks))
    return math.fsum(sums) / (n * n - n)


@_fill_doc
class KMeansSMOTE(_KNeighborsMixin, BaseSMOTE):
    """Over-sample with KMeans-SMOTE: SMOTE within selected clusters.

    All rows are clustered once with k-means. For class ``c``, a cluster is
    kept when the share of class ``c`` in it is at least
    ``cluster_balance_threshold`` and it holds more than ``k_neighbors`` rows
    of class ``c``. Each kept cluster gets a share of the requested rows
    proportional to its sparsity ``mean_distance ** density_exponent /
    n_rows`` of its class-``c`` rows, and SMOTE runs inside it.

    Unlike imbalanced-learn, the shares are split with the largest-remainder
    rule (imbalanced-learn rounds each up and over-generates), equal
    sparsities of zero give equal shares instead of NaN, the shares are
    computed from log-sparsities (the power overflows to ``inf`` on unscaled
    features: a mean distance of 1e7 to the 'auto' exponent ~50 of a
    100,000-row cluster), and k-means is fitted once instead of once per
    class.

    Read more in the :ref:`User Guide <over_sampling>`.

    Parameters
    ----------
    {sampling_strategy}

    {random_state}

    k_neighbors : int or object, default=2
        Number of same-class nearest neighbours, within the cluster, to
        interpolate towards; or a ``NearestNeighbors``-like estimator.

    n_jobs : int, default=None
        Number of threads of the pairwise distances used for the sparsities
        (``None``: as many as scikit-learn's OpenMP code uses, -1: all cores).

    kmeans_estimator : int or object, default=None
        ``None`` means ``MiniBatchKMeans(random_state=random_state)`` (8
        clusters); an int sets its number of clusters; an object with
        ``fit_predict`` (and ``n_clusters``) is cloned and used instead.

    cluster_balance_threshold : 'auto' or float, default='auto'
        Smallest share of the class in a cluster for the cluster to be used.
        ``'auto'`` is ``n_c / sum(n) / 2`` with ``n`` the requested counts
        (0.5 for a binary problem), as in imbalanced-learn.

    density_exponent : 'auto' or float, default='auto'
        Exponent of the mean distance in the sparsity. ``'auto'`` is
        ``0.16 * log_1.6(n_rows) ** 1.8`` of the cluster's class rows.

    Attributes
    ----------
    {sampling_strategy_}

    kmeans_estimator_ : estimator object
        The fitted clustering estimator.

    labels_ : ndarray of shape (n_samples,)
        Cluster of every input row.

    cluster_balance_threshold_ : float or 'auto'
        The threshold used (``-inf`` with a single cluster).

    nn_k_ : estimator object
        The nearest-neighbours estimator last fitted.

    {provenance_}
        Seed and partner always lie in the same cluster.

    {n_features_in_}

    See Also
    --------
    SMOTE : No clustering.
    AssembledSMOTE : Clusters of border rows.

    Notes
    -----
    When no cluster qualifies a ``ValueError`` asks to lower
    ``cluster_balance_threshold`` or to change the number of clusters. A
    threshold of 0 uses every cluster with enough class rows.

    References
    ----------
    .. [1] G. Douzas, F. Bacao, F. Last, "Improving imbalanced learning
       through a heuristic oversampling method based on k-means and SMOTE",
       Information Sciences 465, 1-20, 2018 (arXiv:1711.00837).

    Examples
    --------
    >>> from collections import Counter
    >>> from sklearn.datasets import make_blobs
    >>> from skreweight.over_sampling import KMeansSMOTE
    >>> X, y = make_blobs(n_samples=[100, 800], centers=[[0, 0], [5, 5]],
    ...                   random_state=0)
    >>> sampler = KMeansSMOTE(kmeans_estimator=4, random_state=0)
    >>> X_res, y_res = sampler.fit_resample(X, y)
    >>> sorted(Counter(y_res).items())
    [(np.int64(0), 800), (np.int64(1), 800)]
    """

    _parameter_constraints: dict = {
        **BaseSMOTE._parameter_constraints,
        "k_neighbors": _NEIGHBORS_CONSTRAINT,
        "kmeans_estimator": [
            HasMethods(["fit", "predict"]),
            Interval(numbers.Integral, 1, None, closed="left"),
            None,
        ],
        "cluster_balance_threshold": [StrOptions({"auto"}), numbers.Real],
        "density_exponent": [StrOptions({"auto"}), numbers.Real],
        "n_jobs": [numbers.Integral, None],
    }

    def __init__(
        self,
        *,
        sampling_strategy="auto",
        random_state=None,
        k_neighbors=2,
        n_jobs=None,
        kmeans_estimator=None,
        cluster_balance_threshold="auto",
        density_exponent="auto",
    ):
        super().__init__(sampling_strategy=sampling_strategy, random_state=random_state)
        self.k_neighbors = k_neighbors
        self.n_jobs = n_jobs
        self.kmeans_estimator = kmeans_estimator
        self.cluster_balance_threshold = cluster_balance_threshold
        self.density_exponent = density_exponent

    def _expected_failed_checks(self):
        return {
            "check_samplers_sampling_strategy_fit_resample": "with the default "
            "'auto' threshold no cluster of the over-sampled class qualifies on the "
            "check's data; imbalanced-learn's KMeansSMOTE fails there too",
        }

    def _prepare(self, X, y, random_state):
        if self.kmeans_estimator is None:
            self.kmeans_estimator_ = MiniBatchKMeans(random_state=self.random_state)
        elif isinstance(self.kmeans_estimator, numbers.Integral):
            self.kmeans_estimator_ = MiniBatchKMeans(
                n_clusters=self.kmeans_estimator, random_state=self.random_state
            )
        else:
            self.kmeans_estimator_ = clone(self.kmeans_estimator)
        n_clusters = getattr(self.kmeans_estimator_, "n_clusters", None)
        self.cluster_balance_threshold_ = (
            -np.inf if n_clusters == 1 else self.cluster_balance_threshold
        )
        self.labels_ = np.asarray(self.kmeans_estimator_.fit_predict(X))
        self._total_new = sum(self.sampling_strategy_.values())

    def _log_sparsity(self, X_cluster_class):
        """``log(mean_distance ** exponent / n)``, which does not overflow."""
        n = X_cluster_class.shape[0]
        exponent = (
            0.16 * math.log(n, 1.6) ** 1.8
            if self.density_exponent == "auto"
            else self.density_exponent
        )
        mean_distance = _mean_pairwise_distance(X_cluster_class, self.n_jobs)
        if mean_distance == 0:
            return -np.inf
        return exponent * math.log(mean_distance) - math.log(n)

    def _sample_class(self, X, y, class_label, n_samples, random_state):
        self.nn_k_, k = _make_neighbors("k_neighbors", self.k_neighbors)
        if self.cluster_balance_threshold_ == "auto":
            threshold = n_samples / self._total_new / 2
        else:
            threshold = self.cluster_balance_threshold_
        in_class = y == class_label
        clusters, log_sparsities = [], []
        for cluster in np.unique(self.labels_):
            members = self.labels_ == cluster
            class_rows = np.flatnonzero(members & in_class)
            if class_rows.size / np.count_nonzero(members) < threshold:
                continue
            if class_rows.size < k + 1:
                continue
            clusters.append(class_rows)
            log_sparsities.append(self._log_sparsity(X[class_rows]))
        if not clusters:
            raise ValueError(
                "KMeansSMOTE found no cluster with a share of class "
                f"{_label(class_label)} of at least "
                f"cluster_balance_threshold={threshold:.3g} and more than "
                f"k_neighbors={k} rows of the class. Lower "
                "`cluster_balance_threshold` (0 uses every cluster) or change the "
                "number of clusters in `kmeans_estimator`."
            )
        # shares of the sparsities relative to the largest; when none is
        # finite and positive, _largest_remainder gives equal shares
        log_sparsities = np.asarray(log_sparsities)
        top = log_sparsities.max()
        if np.isfinite(top):
            weights = np.exp(log_sparsities - top)
        else:
            weights = np.zeros(len(clusters))
        counts = _largest_remainder(weights, n_samples)
        seeds, partners, gaps = [], [], []
        for class_rows, n_cluster in zip(clusters, counts):
            if n_cluster == 0:
                continue
            X_cc = X[class_rows]
            nns = class_rows[_class_neighbors(self.nn_k_, X_cc, X_cc, k)]
            rows, cols, steps = _smote_draws(
                random_state, class_rows.size, k, n_cluster
            )
            seeds.append(class_rows[rows])
            partners.append(nns[rows, cols])
            gaps.append(steps)
        return {
            "seed": np.concatenate(seeds),
            "partner": np.concatenate(partners),
            "gap": np.concatenate(gaps),
        }
