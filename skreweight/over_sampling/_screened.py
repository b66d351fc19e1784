"""Exact k nearest rows by a float32 screen whose thresholds tighten as it runs.

scikit-learn's brute-force search keeps a heap per query and pushes every
float64 distance through it. Here each tile of distances is one float32
matrix product, and a row of the tile is kept only when it beats a per-query
threshold: the ``k``-th smallest of the *group minima* seen so far. The
columns of a tile are split into groups of distinct rows, so the ``k``
smallest group minima are distances to ``k`` distinct rows, which bounds the
``k``-th nearest distance from above. After a few tiles that bound is nearly
the final answer, and only a handful of rows per query (about five times
``k``) survive to be ranked by their exact float64 distances.

Rounding is accounted for: every float32 comparison gets a margin that keeps
each true neighbour (see :func:`screened_kneighbors`), so the answer is the
exact one, ranked by float64 distance with ties to the query row itself and
then to the lower index.
"""

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from skreweight.utils._sklearn_fixes import _openmp_effective_n_threads

# Query rows per block and rows per tile: a (2048, 384) float32 tile is 3 MiB
# (the fastest shape tried at 20,000 x 20 on 2 cores).
_QUERY_BLOCK = 2048
_TILE = 384
# Tiles in the first product, before any threshold is known.
_WARM_TILES = 4
# Columns of a tile are folded 5 times: 12 group minima of 32 rows each.
_FOLDS = 5
# Group minima are taken on this many tiles (thresholds are refreshed after
# 8, 16 and 32 tiles); later tiles only use the threshold.
_BOUND_TILES = 32
# Survivors kept per query and neighbour before giving up.
_MAX_CANDIDATES_PER_NEIGHBOR = 64
# Most neighbours searched: ~5 rows per neighbour survive the screen, and
# from ~20 neighbours on they cost more than scikit-learn's heaps save
# (20,000 x 20: 0.51x its time with 6 neighbours, 0.92x with 16, 1.08x with 26).
_MAX_NEIGHBORS = 16
_UNIT_ROUNDOFF = 2.0**-24


def _fold_min(product):
    """Minima of column groups (column ``j`` with ``j + w``, ``j + 2w``, ...).

    Each group holds distinct columns, so each minimum is the value of a
    different row.
    """
    folded = product
    width = product.shape[1]
    for _ in range(_FOLDS):
        width //= 2
        folded = np.minimum(folded[:, :width], folded[:, width : 2 * width])
    return folded


def _kth_smallest(values, k):
    """The ``k``-th smallest value of each row (``k`` >= 1)."""
    return np.partition(values, k - 1, axis=1)[:, k - 1]


def exact_sq_distances(X, rows, cols):
    """float64 squared distances between ``X[rows]`` and ``X[cols]``."""
    out = np.empty(rows.size)
    for start in range(0, rows.size, 1 << 16):
        sl = slice(start, start + (1 << 16))
        diff = X[rows[sl]].astype(np.float64) - X[cols[sl]]
        out[sl] = np.einsum("ij,ij->i", diff, diff)
    return out


def ranges(n, n_parts):
    """``n_parts`` slices splitting ``range(n)`` evenly."""
    bounds = np.linspace(0, n, max(1, n_parts) + 1).astype(int)
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def augmented_float32(X, rows, center, scale=None, out=None, norm2=None):
    """float32 rows of a screening product, built in cache-sized chunks.

    Other rows: ``[x - c, ||x - c||^2, 1]``; query rows (``scale=-2``):
    ``[-2 (q - c), 1, threshold]`` with the threshold column left to fill.
    Also returns the float64 squared centred norms. ``out`` and ``norm2``,
    when given, are filled in place.
    """
    n_features = X.shape[1]
    if out is None:
        out = np.empty((rows.size, n_features + 2), dtype=np.float32)
        norm2 = np.empty(rows.size)
    chunk = max(1, (1 << 17) // n_features)
    for start in range(0, rows.size, chunk):
        sl = slice(start, start + chunk)
        centred = X[rows[sl]] - center
        norm2[sl] = np.einsum("ij,ij->i", centred, centred)
        if scale is None:
            out[sl, :n_features] = centred
            out[sl, n_features] = norm2[sl]
            out[sl, n_features + 1] = 1.0
        else:
            centred *= scale
            out[sl, :n_features] = centred
            out[sl, n_features] = 1.0
    return out, norm2


def screened_kneighbors(X, query_idx, n_neighbors, n_threads=None):
    """The ``n_neighbors`` nearest rows of ``X`` of each row ``X[query_idx]``.

    Exact: same neighbours as a brute-force float64 search over all rows of
    ``X``, the query row itself first (it is at distance 0), then by
    distance, exact ties to the lower index.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Dense float64 rows, C-contiguous or not.
    query_idx : ndarray of shape (n_queries,)
        Rows of ``X`` to find the neighbours of.
    n_neighbors : int
        Neighbours per query, the query row included; at most ``n_samples``
        and 16 (else ``None`` is returned: with more, the survivors cost more
        than the screen saves).
    n_threads : int, default=None
        Threads; ``None`` uses scikit-learn's OpenMP thread count.

    Returns
    -------
    indices : ndarray of shape (n_queries, n_neighbors) or None
        Row indices into ``X``, nearest first; ``None`` when the screen would
        keep too many rows (many exact ties, or a few huge-norm rows that
        make the rounding margin wide): the caller then uses another search.

    Notes
    -----
    With ``c`` the mean row, a query ``q`` and a row ``x`` give the float32
    product ``p = ||x - c||^2 - 2 (q - c).(x - c) - t_q``, that is the squared
    distance minus ``||q - c||^2`` minus the query's current threshold
    ``t_q``. The product of length ``d + 2`` is within
    ``e = (3d + 12) u R^2`` of its exact value (``u`` = 2^-24, ``R`` = ``||q - c||``
    plus the largest centred norm), and each conversion between float32 and
    float64 adds at most ``u R^2``. A threshold is the ``k``-th smallest group
    minimum plus ``s = 2 (4d + 16) u R^2 >= 2e + 3 u R^2``: every row at most
    as far as the true ``k``-th neighbour then has ``p <= 0`` and is kept.
    """
    X = np.asarray(X, dtype=np.float64)
    query_idx = np.asarray(query_idx, dtype=np.intp)
    n_samples, n_features = X.shape
    n_queries = query_idx.size
    k = int(n_neighbors)
    if not 1 <= k <= min(n_samples, _MAX_NEIGHBORS) or n_queries == 0:
        return None
    if n_threads is None:
        n_threads = _openmp_effective_n_threads()

    # Rows enter the tiles in a fixed shuffled order, so that the first tiles
    # bound every query well even when the data are sorted. The answer does
    # not depend on it.
    order = np.random.RandomState(0).permutation(n_samples)
    center = X.mean(axis=0)
    Y32 = np.empty((n_samples, n_features + 2), dtype=np.float32)
    norm2 = np.empty(n_samples)
    Q32 = np.empty((n_queries, n_features + 2), dtype=np.float32)
    q_norm2 = np.empty(n_queries)
    # float32 rows, built by the threads in row ranges
    builds = [
        (order[sl], Y32[sl], norm2[sl], None) for sl in ranges(n_samples, n_threads)
    ] + [
        (query_idx[sl], Q32[sl], q_norm2[sl], -2.0)
        for sl in ranges(n_queries, n_threads)
    ]

    def build(task):
        rows, out, out_norm2, scale = task
        augmented_float32(X, rows, center, scale, out=out, norm2=out_norm2)

    with ThreadPoolExecutor(max_workers=max(1, n_threads)) as pool:
        list(pool.map(build, builds))
    reach2 = (np.sqrt(q_norm2) + math.sqrt(float(norm2.max()))) ** 2
    slack = 2 * (4 * n_features + 16) * _UNIT_ROUNDOFF * reach2

    # Work units: a block of queries against a range of tiles. Few queries
    # (one block) split the tiles between the threads instead; each range's
    # own threshold is an upper bound too.
    n_tiles = -(-n_samples // _TILE)
    blocks = list(range(0, n_queries, _QUERY_BLOCK))
    n_splits = 1
    if len(blocks) < n_threads:
        # at least 8 tiles per range: each range alone bounds k neighbours
        n_splits = max(1, min(n_threads, n_tiles // (2 * _WARM_TILES)))
    tile_bounds = np.linspace(0, n_tiles, n_splits + 1).astype(int)
    units = [(q0, s) for q0 in blocks for s in range(n_splits)]
    budget = _MAX_CANDIDATES_PER_NEIGHBOR * k

    def screen(unit):
        q0, split = unit
        t_start, t_stop = tile_bounds[split], tile_bounds[split + 1]
        r_start, r_stop = t_start * _TILE, min(n_samples, t_stop * _TILE)
        q_block = Q32[q0 : q0 + _QUERY_BLOCK].copy()
        n_block = q_block.shape[0]
        block_slack = slack[q0 : q0 + n_block]
        max_found = budget * n_block

        # 1. The first tiles in one product, without a threshold.
        q_block[:, n_features + 1] = 0.0
        warm_stop = min(r_stop, r_start + _WARM_TILES * _TILE)
        first = q_block @ Y32[r_start:warm_stop].T
        n_full = (warm_stop - r_start) // _TILE
        n_groups = _TILE >> _FOLDS
        minima = np.empty(
            (n_block, (n_full + _BOUND_TILES) * n_groups), dtype=np.float32
        )
        filled = 0
        for t in range(n_full):
            minima[:, filled : filled + n_groups] = _fold_min(
                first[:, t * _TILE : (t + 1) * _TILE]
            )
            filled += n_groups
        if filled >= 2 * k:
            kth = _kth_smallest(minima[:, :filled], k)
        else:
            # too few rows for group minima: the k-th smallest product itself
            kth = _kth_smallest(first, k)
        threshold = (kth + block_slack).astype(np.float32)
        hit = np.flatnonzero(first <= threshold[:, np.newaxis])
        if hit.size > max_found:
            return None
        rows, cols = np.divmod(hit, first.shape[1])
        found_q, found_x, found_v = [rows], [cols + r_start], [first.ravel()[hit]]
        n_found = hit.size
        del first

        # 2. The other tiles, with the threshold as the product's last column
        # (a survivor is <= 0), refreshed after 8, 16 and 32 tiles.
        q_block[:, n_features + 1] = -threshold
        threshold = threshold.astype(np.float64)
        tile = np.empty((n_block, _TILE), dtype=np.float32)
        refresh = 2 * _WARM_TILES
        # the first product may end in a part tile: go on after it
        for t in range(t_start + -(-(warm_stop - r_start) // _TILE), t_stop):
            x0 = t * _TILE
            x_tile = Y32[x0 : min(x0 + _TILE, r_stop)]
            product = tile[:, : x_tile.shape[0]]
            np.matmul(q_block, x_tile.T, out=product)
            done = t + 1 - t_start
            if x_tile.shape[0] == _TILE and done <= _BOUND_TILES:
                minima[:, filled : filled + n_groups] = (
                    _fold_min(product) + threshold[:, np.newaxis]
                )
                filled += n_groups
            hit = np.flatnonzero(product <= 0)
            if hit.size:
                rows, cols = np.divmod(hit, product.shape[1])
                found_q.append(rows)
                found_x.append(cols + x0)
                found_v.append(product.ravel()[hit] + threshold[rows])
                n_found += hit.size
                if n_found > max_found:
                    return None
            if done == refresh and done <= _BOUND_TILES and filled >= 2 * k:
                refresh *= 2
                fresh = _kth_smallest(minima[:, :filled], k) + block_slack
                np.minimum(threshold, fresh, out=threshold)
                q_block[:, n_features + 1] = -threshold
                # the float32 column is what the products compare against
                threshold = -q_block[:, n_features + 1].astype(np.float64)
        found_q = np.concatenate(found_q)
        found_x = np.concatenate(found_x)
        found_v = np.concatenate(found_v)
        return found_q, found_x, found_v, threshold

    with threadpool_limits(limits=1, user_api="blas"):
        with ThreadPoolExecutor(max_workers=max(1, n_threads)) as pool:
            results = list(pool.map(screen, units))
    if any(result is None for result in results):
        return None

    indices = np.empty((n_queries, k), dtype=np.intp)
    for b, q0 in enumerate(blocks):
        parts = results[b * n_splits : (b + 1) * n_splits]
        # the tightest threshold of the block's tile ranges holds for all
        threshold = np.min([part[3] for part in parts], axis=0)
        cand_q = np.concatenate([part[0] for part in parts])
        cand_x = np.concatenate([part[1] for part in parts])
        cand_v = np.concatenate([part[2] for part in parts])
        keep = cand_v <= threshold[cand_q]
        cand_q, cand_x = cand_q[keep], order[cand_x[keep]]
        query_rows = query_idx[q0 + cand_q]
        cand_d2 = exact_sq_distances(X, query_rows, cand_x)
        # by query, distance, the query row itself first, then lower index
        ranked = np.lexsort((cand_x, cand_x != query_rows, cand_d2, cand_q))
        cand_q, cand_x = cand_q[ranked], cand_x[ranked]
        n_block = min(_QUERY_BLOCK, n_queries - q0)
        starts = np.searchsorted(cand_q, np.arange(n_block))
        indices[q0 : q0 + n_block] = cand_x[starts[:, np.newaxis] + np.arange(k)]
    return indices
