"""Exact neighbours of one class's rows among all rows, by a bounded search.

ADASYN, Borderline-SMOTE and SVM-SMOTE ask, for rows of one class, which of
*all* rows are nearest. When the class is small, most of the other-class
rows are too far to matter, and which ones are is known before searching:
the ``n``-th nearest row of the class itself is an upper bound on the
``n``-th nearest row overall. So the other-class rows are screened with one
float32 matrix product per tile against that per-query threshold (with a
rounding margin that provably keeps every row within it), and only the few
survivors get exact float64 distances and a rank. Without a heap per query,
this is about twice as fast as scikit-learn's brute-force search on these
shapes, and it gives the same neighbours (exact ties: the query row itself
first, then the lower index).
"""

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import sparse
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from skreweight.over_sampling._base import _is_default_neighbors
from skreweight.over_sampling._screened import (
    augmented_float32,
    exact_sq_distances,
    ranges,
)
from skreweight.utils._sklearn_fixes import _openmp_effective_n_threads

# Below this many (query, other-row) pairs scikit-learn's search is used.
_MIN_PAIRS = 1 << 22
# Above this many features scikit-learn's search is used: its distance
# products dominate its heap work there, and many rows pass the screen
# (20,000 x 200: ~500 per query), so the exact re-rank costs more than it saves.
_MAX_FEATURES = 64
# Tile shape of the screening product: queries x other rows (a 3 MiB float32
# tile; the fastest of the shapes tried at 200,000 x 20 with 2,000 and
# 20,000 queries, 2 cores).
_QUERY_TILE = 2048
_OTHER_TILE = 384
# Candidates kept per query (on average) before giving up on the screen, and
# at least this many.
_MAX_CANDIDATES_PER_NEIGHBOR = 32
_MIN_CANDIDATES = 1 << 20
_EXACT_CHUNK = 1 << 16


def bounded_search_applies(nn_all, X, y, n_queries, class_label, n_neighbors):
    """Whether :func:`kneighbors_among_all` will try the bounded search."""
    if not _is_default_neighbors(nn_all) or sparse.issparse(X):
        return False
    n_class = int(np.count_nonzero(y == class_label))
    return (
        np.asarray(X).dtype.kind == "f"
        and X.shape[1] <= _MAX_FEATURES
        and n_class >= n_neighbors
        and n_queries * (X.shape[0] - n_class) >= _MIN_PAIRS
    )


def kneighbors_among_all(nn_all, X, y, query_idx, class_label, n_neighbors, own=None):
    """The ``n_neighbors`` nearest rows of ``X`` of the rows ``X[query_idx]``.

    Same answer as ``nn_all.kneighbors(X[query_idx], n_neighbors)`` with
    ``nn_all`` fitted on ``X`` (the query row itself first, at distance 0).
    All query rows belong to ``class_label``. Large dense problems with a
    default ``NearestNeighbors`` take the bounded search; anything else (a
    user-given neighbours object, sparse data, small sizes, a screen that
    would keep too many rows) calls ``nn_all``.

    Parameters
    ----------
    own : ndarray of shape (n_queries, n_neighbors), default=None
        When the caller already has them: the ``n_neighbors`` nearest rows of
        the class (indices into ``X``, the query row itself included). They
        give the screen its thresholds; ``None`` searches them here.

    Returns
    -------
    indices : ndarray of shape (n_queries, n_neighbors)
        Row indices into ``X``, nearest first.
    """
    query_idx = np.asarray(query_idx, dtype=np.intp)
    if bounded_search_applies(nn_all, X, y, query_idx.size, class_label, n_neighbors):
        class_idx = np.flatnonzero(y == class_label)
        found = _bounded_search(X, query_idx, class_idx, n_neighbors, own)
        if found is not None:
            return found
    result = nn_all.kneighbors(X[query_idx], n_neighbors=n_neighbors)
    if isinstance(result, tuple):
        result = result[1]
    return np.asarray(result, dtype=np.intp)


def _max_norm2(X, rows, center):
    """Largest squared norm of ``X[rows] - center``."""
    largest = 0.0
    for start in range(0, rows.size, _EXACT_CHUNK):
        centred = X[rows[start : start + _EXACT_CHUNK]] - center
        largest = max(largest, float(np.einsum("ij,ij->i", centred, centred).max()))
    return largest


def _rank(all_q, all_d2, all_x, query_idx):
    """Order of the entries by query, then distance.

    Exact ties put the query row itself first, then the lower row index.
    """
    # one float sort and one integer sort (half a four-key lexsort's time)
    by_distance = np.empty(all_d2.size, dtype=np.int64)
    by_distance[np.argsort(all_d2)] = np.arange(all_d2.size)
    order = np.argsort(all_q.astype(np.int64) * all_d2.size + by_distance)
    q_sorted, d2_sorted = all_q[order], all_d2[order]
    if np.any((q_sorted[1:] == q_sorted[:-1]) & (d2_sorted[1:] == d2_sorted[:-1])):
        # exact ties (duplicate rows): the full rule
        not_self = all_x != query_idx[all_q]
        order = np.lexsort((all_x, not_self, all_d2, all_q))
    return order


def _screen(X, query_idx, other_idx, tau2, budget, extra_rows=None):
    """Rows ``other_idx`` within ``sqrt(tau2)`` of each row ``query_idx``.

    Returns ``(query position, row index, exact squared distance)`` of every
    such pair, or ``None`` when more than ``budget`` pairs survive the float32
    screen. ``extra_rows`` are the rows (besides ``other_idx``) whose
    distances set ``tau2``: their norms enter the rounding margin.
    """
    # ||q - x||^2 <= tau2 iff ||x||^2 - 2 q.x <= tau2 - ||q||^2: one
    # augmented float32 product per tile.
    n_queries = query_idx.size
    center = X.mean(axis=0, dtype=np.float64)
    n_features = X.shape[1]
    Q32, q_norm2 = augmented_float32(X, query_idx, center, scale=-2.0)
    Y32 = np.empty((other_idx.size, n_features + 2), dtype=np.float32)
    y_norm2 = np.empty(other_idx.size)
    tiles = [
        (q0, x0)
        for q0 in range(0, n_queries, _QUERY_TILE)
        for x0 in range(0, other_idx.size, _OTHER_TILE)
    ]
    n_threads = max(1, min(_openmp_effective_n_threads(), len(tiles)))
    # candidates each thread may keep before the screen gives up
    budget = max(_MIN_CANDIDATES, budget) // n_threads

    row_parts = ranges(other_idx.size, n_threads)

    def build(part):
        sl = row_parts[part]
        augmented_float32(X, other_idx[sl], center, out=Y32[sl], norm2=y_norm2[sl])

    def screen(part):
        product = np.empty((_QUERY_TILE, _OTHER_TILE), dtype=np.float32)
        lowest = np.empty(_QUERY_TILE, dtype=np.float32)
        rows, cols = [], []
        found = 0
        for q0, x0 in tiles[part::n_threads]:
            q_tile = Q32[q0 : q0 + _QUERY_TILE]
            x_tile = Y32[x0 : x0 + _OTHER_TILE]
            nq, nx = q_tile.shape[0], x_tile.shape[0]
            prod = product[:nq, :nx]
            np.matmul(q_tile, x_tile.T, out=prod)
            # one pass for the row minima; few rows have a survivor at all
            hit = np.flatnonzero(np.min(prod, axis=1, out=lowest[:nq]) <= 0)
            if hit.size:
                r, c = np.nonzero(prod[hit] <= 0)
                rows.append(hit[r] + q0)
                cols.append(c + x0)
                found += r.size
                if found > budget:
                    return None
        # exact distances of this thread's survivors
        cand_q = np.concatenate(rows) if rows else np.empty(0, dtype=np.intp)
        cand_x = other_idx[np.concatenate(cols)] if cols else cand_q
        cand_d2 = exact_sq_distances(X, query_idx[cand_q], cand_x)
        keep = cand_d2 <= tau2[cand_q]
        return cand_q[keep], cand_x[keep], cand_d2[keep]

    # numpy releases the GIL: the row blocks and tiles run in threads, with
    # BLAS single-threaded inside each
    with threadpool_limits(limits=1, user_api="blas"):
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            list(pool.map(build, range(n_threads)))
            # The threshold is a last column of the product: a row survives
            # when ||x||^2 - 2 q.x - (tau2 - ||q||^2 + margin) <= 0 in float32.
            # Rounding of the inputs and of the length-(d + 2) dot product
            # stays below (3d + 12) u R^2, with R = ||q|| + the largest centred
            # norm of any row (which bounds ||x||, ||q|| and tau2 alike); the
            # margin is (4d + 16) u R^2.
            largest = y_norm2.max()
            if extra_rows is not None:
                largest = max(largest, _max_norm2(X, extra_rows, center))
            reach = np.sqrt(q_norm2) + math.sqrt(float(largest))
            margin = (4 * n_features + 16) * 2.0**-24 * reach**2
            Q32[:, n_features + 1] = -(tau2 - q_norm2 + margin)
            parts = list(pool.map(screen, range(n_threads)))
    if any(part is None for part in parts):
        return None
    return tuple(np.concatenate(p) for p in zip(*parts))


def _bounded_search(X, query_idx, class_idx, n_neighbors, own=None):
    """Exact all-rows neighbours by a thresholded screen; ``None`` to give up."""
    n_queries = query_idx.size
    # 1. Within the class: the n-th nearest (self included) bounds the n-th
    # nearest of all rows from above.
    if own is None:
        inner = NearestNeighbors(n_neighbors=n_neighbors).fit(X[class_idx])
        own = class_idx[
            inner.kneighbors(
                X[query_idx], n_neighbors=n_neighbors, return_distance=False
            )
        ]
    own = np.asarray(own, dtype=np.intp)[:, :n_neighbors]
    own_rows = np.repeat(query_idx, n_neighbors)
    own_d2 = exact_sq_distances(X, own_rows, own.ravel()).reshape(
        n_queries, n_neighbors
    )
    tau2 = own_d2.max(axis=1)

    # 2. Screen the other rows against tau2.
    other_idx = np.setdiff1d(np.arange(X.shape[0]), class_idx, assume_unique=True)
    budget = _MAX_CANDIDATES_PER_NEIGHBOR * n_queries * n_neighbors
    found = _screen(X, query_idx, other_idx, tau2, budget, extra_rows=class_idx)
    if found is None:
        return None
    cand_q, cand_x, cand_d2 = found

    # 3. Rank the survivors (exact distances) with the class's own rows.
    all_q = np.concatenate([np.repeat(np.arange(n_queries), n_neighbors), cand_q])
    all_x = np.concatenate([own.ravel(), cand_x])
    all_d2 = np.concatenate([own_d2.ravel(), cand_d2])
    order = _rank(all_q, all_d2, all_x, query_idx)
    starts = np.searchsorted(all_q[order], np.arange(n_queries))
    take = starts[:, np.newaxis] + np.arange(n_neighbors)
    return all_x[order][take]
