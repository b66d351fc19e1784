"""Pruned exact nearest-neighbour cleaning for SMOTE-Tomek and SMOTE-ENN.

Tomek links and Edited Nearest Neighbours need the nearest rows of every row
of the over-sampled data. A full all-rows search costs ``O(n^2 d)``. After a
SMOTE step most rows already know close rows of their own class: a synthetic
row lies on the segment between its seed and its partner, next to its
siblings on the same segment. Any such known row gives an upper bound ``u`` on
the distance to the ``k``-th nearest row of the same class; a row whose ball
of radius ``u`` holds no row of another class keeps only same-class rows among
its ``k`` nearest, and needs no exact search. Only the other rows (usually a
small share) are searched exactly, with the same
:class:`~sklearn.neighbors.NearestNeighbors` call as the full search, so the
result is the full search's.
"""

import numpy as np
from sklearn.neighbors import KDTree, NearestNeighbors
from sklearn.utils.parallel import Parallel, delayed

__all__ = []

# Rows per ball-count task.
_COUNT_CHUNK = 1 << 13


def _row_distances(X, a, b):
    """Euclidean distances between the rows ``X[a]`` and ``X[b]``, pairwise."""
    out = np.empty(a.size, dtype=np.float64)
    for start in range(0, a.size, 1 << 15):
        sl = slice(start, start + (1 << 15))
        diff = np.asarray(X[a[sl]], dtype=np.float64) - X[b[sl]]
        out[sl] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def _known_pairs(y, n_original, provenance):
    """Same-class row pairs that a SMOTE-style ``provenance`` makes known.

    Synthetic row ``n_original + t`` was built from ``seed[t]`` and
    ``partner[t]``; siblings sharing the same two end rows are consecutive
    along their segment. Only pairs of distinct rows with equal labels are
    returned, each once.
    """
    seed = np.asarray(provenance["seed"], dtype=np.int64)
    partner = np.asarray(provenance["partner"], dtype=np.int64)
    gap = np.asarray(provenance["gap"], dtype=np.float64)
    new = n_original + np.arange(seed.size, dtype=np.int64)
    has_partner = partner >= 0
    partner_safe = np.where(has_partner, partner, seed)
    a = [new, new[has_partner], seed[has_partner]]
    b = [seed, partner[has_partner], partner[has_partner]]
    lo = np.minimum(seed, partner_safe)
    hi = np.maximum(seed, partner_safe)
    pos = np.where(seed <= partner_safe, gap, -gap)
    order = np.lexsort((pos, hi, lo))
    for shift in (1, 2):
        same = (lo[order][shift:] == lo[order][:-shift]) & (
            hi[order][shift:] == hi[order][:-shift]
        )
        a.append(new[order][:-shift][same])
        b.append(new[order][shift:][same])
    a = np.concatenate(a)
    b = np.concatenate(b)
    valid = (a != b) & (y[a] == y[b])
    a, b = a[valid], b[valid]
    pairs = np.unique(np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _same_class_bounds(X, y, n_original, provenance, k):
    """Upper bounds on every row's distance to its ``k``-th nearest same-class row.

    The bound is the ``k``-th smallest distance to a row known to share the
    label (see :func:`_known_pairs`), ``inf`` where fewer than ``k`` such rows
    are known. Returns ``None`` when ``provenance`` does not describe the
    rows after ``n_original``.
    """
    n = X.shape[0]
    if (
        provenance is None
        or not all(key in provenance for key in ("seed", "partner", "gap"))
        or len(provenance["seed"]) != n - n_original
    ):
        return None
    seed = np.asarray(provenance["seed"])
    partner = np.asarray(provenance["partner"])
    if seed.size and (
        seed.min() < 0 or seed.max() >= n_original or partner.max() >= n_original
    ):
        return None
    a, b = _known_pairs(y, n_original, provenance)
    dist = _row_distances(X, a, b)
    rows = np.concatenate([a, b])
    dist = np.concatenate([dist, dist])
    order = np.lexsort((dist, rows))
    rows, dist = rows[order], dist[order]
    first = np.searchsorted(rows, np.arange(n), side="left")
    count = np.searchsorted(rows, np.arange(n), side="right") - first
    bound = np.full(n, np.inf)
    enough = count >= k
    bound[enough] = dist[first[enough] + k - 1]
    return bound


def _count_within(tree, X, radius):
    return tree.query_radius(X, radius, count_only=True)


def _other_class_within(X, y, rows, radius, n_jobs=None):
    """Whether each of ``rows`` has a row of another class within ``radius``."""
    found = np.zeros(rows.size, dtype=bool)
    for label in np.unique(y[rows]):
        mine = np.flatnonzero(y[rows] == label)
        other = np.flatnonzero(y != label)
        if mine.size == 0 or other.size == 0:
            continue
        tree = KDTree(X[other])
        chunks = [
            mine[start : start + _COUNT_CHUNK]
            for start in range(0, mine.size, _COUNT_CHUNK)
        ]
        counts = Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(_count_within)(tree, X[rows[c]], radius[c]) for c in chunks
        )
        found[mine] = np.concatenate(counts) > 0
    return found


def _exact_neighbors(X, rows, n_neighbors, n_jobs=None, nn=None):
    """``NearestNeighbors(n_neighbors).fit(X).kneighbors(X[rows])`` indices."""
    if nn is None:
        nn = NearestNeighbors(n_neighbors=n_neighbors, n_jobs=n_jobs).fit(X)
    out = np.empty((rows.size, n_neighbors), dtype=np.intp)
    if rows.size:
        out[:] = nn.kneighbors(X[rows], n_neighbors=n_neighbors, return_distance=False)
    return out, nn


def _radius(X, bound):
    """``bound`` widened by the rounding error of a squared-distance search."""
    scale = np.sqrt(np.max(np.einsum("ij,ij->i", X, X))) if X.shape[0] else 0.0
    return bound * (1 + 1e-6) + 1e-6 * (1.0 + scale)


def _suspects(X, y, bound, free_label, n_jobs):
    """Rows that may have a row of another class within their ``bound``.

    Rows with an infinite bound are suspects, except those of ``free_label``
    (``None``: no free class).
    """
    finite = np.isfinite(bound)
    suspect = ~finite
    if free_label is not None:
        suspect &= y != free_label
    rows = np.flatnonzero(finite)
    if rows.size:
        suspect[rows] = _other_class_within(X, y, rows, _radius(X, bound[rows]), n_jobs)
    return suspect


def tomek_keep_pruned(X, y, bound, n_jobs=None):
    """Mask of the rows that are not an end of a Tomek link.

    Equal to the full search (``NearestNeighbors(n_neighbors=2)`` over all
    rows, second column, both ends of every mutual different-class pair
    removed) given valid upper bounds ``bound`` on each row's distance to its
    nearest same-class row. A Tomek link has both ends nearer to each other
    than to any row of their own class, so one of its ends with a finite
    bound is a suspect; the other end is its nearest row. Rows with an
    infinite bound in the class holding most of them need no search: a link
    never joins two rows of one class.
    """
    infinite = ~np.isfinite(bound)
    free_label = None
    if infinite.any():
        labels, counts = np.unique(y[infinite], return_counts=True)
        free_label = labels[np.argmax(counts)]
    suspect = np.flatnonzero(_suspects(X, y, bound, free_label, n_jobs))
    nearest = np.full(X.shape[0], -1, dtype=np.intp)
    found, nn = _exact_neighbors(X, suspect, 2, n_jobs)
    nearest[suspect] = found[:, 1]
    ends = np.unique(nearest[suspect])
    ends = ends[nearest[ends] < 0]
    found, _ = _exact_neighbors(X, ends, 2, n_jobs, nn)
    nearest[ends] = found[:, 1]
    keep = np.ones(X.shape[0], dtype=bool)
    j = nearest[suspect]
    link = (y[j] != y[suspect]) & (nearest[j] == suspect)
    keep[suspect[link]] = False
    keep[j[link]] = False
    return keep


def enn_keep_pruned(X, y, bound, n_neighbors=3, n_jobs=None):
    """Mask of the rows whose ``n_neighbors`` nearest rows all share its label.

    Equal to the full search (``NearestNeighbors(n_neighbors + 1)`` over all
    rows, first column dropped) given valid upper bounds ``bound`` on each
    row's distance to its ``n_neighbors``-th nearest same-class row: a row
    with no other-class row within its bound is kept without a search.
    """
    suspect = np.flatnonzero(_suspects(X, y, bound, None, n_jobs))
    keep = np.ones(X.shape[0], dtype=bool)
    found, _ = _exact_neighbors(X, suspect, n_neighbors + 1, n_jobs)
    keep[suspect] = np.all(y[found[:, 1:]] == y[suspect, np.newaxis], axis=1)
    return keep
