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

Edited Nearest Neighbours cleans every class, also the rows of classes that
were not over-sampled and have no provenance. :func:`enn_decided` bounds
their k-th same-class distance from a spatial partition of the class, and
bounds every row's distance to the other classes from below with the
segments of the provenance (see its docstring).
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
    # rows grown from the same seed towards different partners
    order = np.argsort(seed, kind="stable")
    for shift in (1, 2):
        same = seed[order][shift:] == seed[order][:-shift]
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


def enn_keep_pruned(
    X, y, bound, n_neighbors=3, n_jobs=None, n_original=None, provenance=None
):
    """Mask of the rows whose ``n_neighbors`` nearest rows all share its label.

    Equal to the full search (``NearestNeighbors(n_neighbors + 1)`` over all
    rows, first column dropped). Rows that :func:`enn_decided` proves to
    have only same-class rows among their nearest are kept without a
    search; ``bound`` (upper bounds on each row's distance to its
    ``n_neighbors``-th nearest same-class row, or ``None``) and the
    over-sampler's ``provenance`` tighten the proof. The other rows are
    searched exactly.
    """
    decided = enn_decided(X, y, n_neighbors, bound, n_original, provenance)
    if decided is None:
        suspect = np.arange(X.shape[0])
    else:
        suspect = np.flatnonzero(~decided)
    keep = np.ones(X.shape[0], dtype=bool)
    found, _ = _exact_neighbors(X, suspect, n_neighbors + 1, n_jobs)
    keep[suspect] = np.all(y[found[:, 1:]] == y[suspect, np.newaxis], axis=1)
    return keep


# ---------------------------------------------------------------------------
# Edited Nearest Neighbours decided by bounds, without a search
# ---------------------------------------------------------------------------
# Rows per leaf of the spatial partition that bounds the k-th same-class
# distance, and entries per block of a pairwise distance matrix.
_LEAF_ROWS = 768
_BLOCK_ENTRIES = 1 << 22
# Rows tried before the nearest-leaf bounds are computed for all.
_TRIAL_ROWS = 256
# Segment distances computed per undecided row, at most.
_MAX_PAIRS_PER_ROW = 512
# Above this many features, leaf bounds of the k-th same-class distance are
# too loose to decide rows (distances concentrate): they are not computed.
_MAX_LEAF_FEATURES = 32


def _leaves(X, rows, leaf_rows=_LEAF_ROWS):
    """Split ``rows`` into leaves of at most ``leaf_rows`` nearby rows.

    Recursive median split along the top principal direction of each node
    (a few power iterations on a subsample); deterministic.
    """
    out, stack = [], [rows]
    while stack:
        idx = stack.pop()
        if idx.size <= leaf_rows:
            out.append(idx)
            continue
        Z = np.asarray(X[idx], dtype=np.float64)
        sub = Z[:: max(1, idx.size // 1024)]
        sub = sub - sub.mean(axis=0)
        cov = sub.T @ sub
        v = np.diag(cov).copy() + 1e-12
        for _ in range(8):
            v = cov @ v
            norm = np.linalg.norm(v)
            if not norm:
                break
            v /= norm
        proj = Z @ v
        half = idx.size // 2
        order = np.argpartition(proj, half)
        stack.append(idx[order[:half]])
        stack.append(idx[order[half:]])
    return out


def _leaf_bounds(X, y, n_neighbors, bound, leaf_rows=_LEAF_ROWS):
    """Upper bounds on every row's distance to its k-th nearest same-class row.

    The exact ``n_neighbors``-th smallest distance inside the row's leaf of a
    partition of its class (see :func:`_leaves`), for the leaves holding a
    row whose ``bound`` is infinite; any subset's k-th nearest distance
    bounds the full one above. Returns the smaller bounds and the leaves of
    each class.
    """
    bound = bound.copy()
    leaves = {}
    for label in np.unique(y):
        leaves[label] = _leaves(X, np.flatnonzero(y == label), leaf_rows)
        for leaf in leaves[label]:
            if leaf.size <= n_neighbors or np.isfinite(bound[leaf]).all():
                continue
            Z = np.asarray(X[leaf], dtype=np.float64)
            sq = np.einsum("ij,ij->i", Z, Z)
            d2 = Z @ Z.T
            d2 *= -2
            d2 += sq[:, np.newaxis]
            d2 += sq[np.newaxis, :]
            np.fill_diagonal(d2, np.inf)
            kth = np.partition(d2, n_neighbors - 1, axis=1)[:, n_neighbors - 1]
            bound[leaf] = np.minimum(bound[leaf], np.sqrt(np.maximum(kth, 0.0)))
    return bound, leaves


def _near_leaf_bounds(X, rows, leaves, n_neighbors, n_near=8):
    """Tighter upper bounds for ``rows`` from the ``n_near`` nearest leaves.

    ``leaves`` partition the class of ``rows``; the k-th smallest distance
    to the other rows of the union of the leaves whose centroids are nearest
    bounds the k-th nearest same-class distance above.
    """
    k = n_neighbors
    n_near = min(n_near, len(leaves))
    centroids = np.stack(
        [np.asarray(X[leaf], dtype=np.float64).mean(0) for leaf in leaves]
    )
    Q = np.asarray(X[rows], dtype=np.float64)
    d2c = -2 * Q @ centroids.T
    d2c += np.einsum("ij,ij->i", centroids, centroids)
    near = np.argpartition(d2c, n_near - 1, axis=1)[:, :n_near]
    best = np.full((rows.size, n_near, k), np.inf)
    pair_row, pair_slot = np.divmod(np.arange(near.size), n_near)
    pair_leaf = near.ravel()
    order = np.argsort(pair_leaf, kind="stable")
    cuts = np.searchsorted(pair_leaf[order], np.arange(len(leaves) + 1))
    sqQ = np.einsum("ij,ij->i", Q, Q)
    # leaf and position of every row of the class, to skip the row itself
    members = np.concatenate(leaves)
    sizes = [leaf.size for leaf in leaves]
    leaf_id = np.repeat(np.arange(len(leaves)), sizes)
    leaf_pos = np.arange(members.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    sorter = np.argsort(members)
    at = sorter[np.searchsorted(members, rows, sorter=sorter)]
    own = np.stack([leaf_id[at], leaf_pos[at]], axis=1)
    for j, leaf in enumerate(leaves):
        sel = order[cuts[j] : cuts[j + 1]]
        if not sel.size:
            continue
        r, slot = pair_row[sel], pair_slot[sel]
        Z = np.asarray(X[leaf], dtype=np.float64)
        d2 = Q[r] @ (-2 * Z.T)
        d2 += sqQ[r, np.newaxis]
        d2 += np.einsum("ij,ij->i", Z, Z)
        mine = np.flatnonzero(own[r, 0] == j)
        d2[mine, own[r[mine], 1]] = np.inf
        m = min(k, leaf.size)
        best[r, slot, :m] = np.partition(d2, m - 1, axis=1)[:, :m]
    flat = best.reshape(rows.size, -1)
    kth = np.partition(flat, k - 1, axis=1)[:, k - 1]
    return np.sqrt(np.maximum(kth, 0.0))


def _row_cover(X, n_original, provenance, scale):
    """Write every row as a point of a segment between two rows.

    Returns ``(a, b, t, eps)``: row ``i`` lies within ``eps[i]`` of
    ``X[a[i]] + t[i] * (X[b[i]] - X[a[i]])`` with ``t`` in ``[0, 1]``. Rows
    are their own point (``a = b = i``, ``t = 0``) unless a SMOTE-style
    ``provenance`` places a synthetic row on the segment between its seed and
    its partner (checked: the residual becomes ``eps``).
    """
    n = X.shape[0]
    a = np.arange(n, dtype=np.intp)
    b = a.copy()
    t = np.zeros(n)
    eps = np.zeros(n)
    if (
        provenance is None
        or not all(key in provenance for key in ("seed", "partner", "gap"))
        or len(provenance["seed"]) != n - n_original
    ):
        return a, b, t, eps
    seed = np.asarray(provenance["seed"], dtype=np.intp)
    partner = np.asarray(provenance["partner"], dtype=np.intp)
    gap = np.asarray(provenance["gap"], dtype=np.float64)
    new = n_original + np.arange(seed.size, dtype=np.intp)
    ok = (
        (seed >= 0)
        & (seed < n_original)
        & (partner >= 0)
        & (partner < n_original)
        & (gap >= 0)
        & (gap <= 1)
    )
    new, seed, partner, gap = new[ok], seed[ok], partner[ok], gap[ok]
    resid = np.empty(new.size)
    for start in range(0, new.size, 1 << 15):
        sl = slice(start, start + (1 << 15))
        base = np.asarray(X[seed[sl]], dtype=np.float64)
        diff = np.asarray(X[partner[sl]], dtype=np.float64) - base
        diff *= gap[sl, np.newaxis]
        diff += base
        diff -= X[new[sl]]
        resid[sl] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    on = resid <= 1e-6 * (1.0 + scale)
    a[new[on]] = seed[on]
    b[new[on]] = partner[on]
    t[new[on]] = gap[on]
    eps[new[on]] = resid[on]
    return a, b, t, eps


class _ClassCover:
    """The rows of one class as points of segments between a few rows.

    ``points``: the rows that are segment ends or stand for themselves;
    ``slack[j]``: for every row ``x = (1 - t) p + t q`` of the class with
    ``points[j]`` among ``p, q``, ``|z - x|^2 >= min(|z - p|^2, |z - q|^2) -
    slack``, so ``min_j |z - points[j]|^2 - slack[j]`` bounds the squared
    distance from any ``z`` to the class below. ``member[j]``: the point is
    itself a row of the class. The segments (``seg_a``, ``seg_b`` positions
    in ``points``, squared length, and the range of ``t`` used) give the
    exact distance when the bound is not enough.
    """

    def __init__(self, X, rows, a, b, t, lengths2, center):
        ends = np.concatenate([a[rows], b[rows]])
        self.points, inverse = np.unique(ends, return_inverse=True)
        pa, pb = inverse[: rows.size], inverse[rows.size :]
        tt = t[rows]
        need = tt * (1 - tt) * lengths2[rows]
        self.slack = np.zeros(self.points.size)
        np.maximum.at(self.slack, pa, need)
        np.maximum.at(self.slack, pb, need)
        self.member = np.zeros(self.points.size, dtype=bool)
        self.member[pa[a[rows] == rows]] = True
        seg = pa != pb
        lo = np.minimum(pa[seg], pb[seg])
        hi = np.maximum(pa[seg], pb[seg])
        # t measured from the lower end of each segment
        ts = np.where(pa[seg] == lo, tt[seg], 1 - tt[seg])
        key = lo.astype(np.int64) * self.points.size + hi
        uniq, seg_inv = np.unique(key, return_inverse=True)
        self.seg_a = (uniq // self.points.size).astype(np.intp)
        self.seg_b = (uniq % self.points.size).astype(np.intp)
        self.seg_t0 = np.full(uniq.size, np.inf)
        self.seg_t1 = np.full(uniq.size, -np.inf)
        np.minimum.at(self.seg_t0, seg_inv, ts)
        np.maximum.at(self.seg_t1, seg_inv, ts)
        P = np.asarray(X[self.points], dtype=np.float64) - center
        # the pairwise products run in float32 (rounding covered by tol2)
        self.X = P.astype(np.float32)
        self.sq = np.einsum("ij,ij->i", P, P)
        diff = P[self.seg_b] - P[self.seg_a]
        self.seg_l2 = np.einsum("ij,ij->i", diff, diff)
        # segments incident to each point (CSR)
        ends = np.concatenate([self.seg_a, self.seg_b])
        order = np.argsort(ends, kind="stable")
        self.inc_seg = np.concatenate([np.arange(uniq.size)] * 2)[order]
        self.inc_ptr = np.searchsorted(ends[order], np.arange(self.points.size + 1))


def _segment_min(d2a, d2b, l2, t0, t1):
    """Smallest squared distance to the points ``t`` in ``[t0, t1]`` of segments.

    From the squared distances to the ends only:
    ``|z - x_t|^2 = (1 - t) d2a + t d2b - t (1 - t) l2``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(l2 > 0, (d2a - d2b + l2) / (2 * l2), 0.0)
    t = np.clip(t, t0, t1)
    return (1 - t) * d2a + t * d2b - t * (1 - t) * l2


def _cover_distances(row_cover, col_cover, row_need, tol2):
    """Lower bounds on squared distances between two classes' covers.

    Returns ``(to_col, to_row)``: for every point of ``row_cover``, a lower
    bound on its squared distance to any row of ``col_cover``'s class, and
    the reverse. Points of ``row_cover`` whose bound is below ``row_need``
    (the squared radius that would decide them) get the exact distance to
    the segments that may be that close.
    """
    n_rows, n_cols = row_cover.points.size, col_cover.points.size
    to_col = np.empty(n_rows)
    to_row = np.full(n_cols, np.inf)
    chunk = max(1, _BLOCK_ENTRIES // max(n_cols, 1))
    C = col_cover
    neg2 = -2 * C.X
    # squared distance minus slack, up to a constant per row / per column
    w_row = row_cover.sq - row_cover.slack
    w_col = C.sq - C.slack
    for start in range(0, n_rows, chunk):
        sl = slice(start, start + chunk)
        g = row_cover.X[sl] @ neg2.T
        g += w_row[sl, np.newaxis]
        np.minimum(to_row, g.min(axis=0) + C.sq, out=to_row)
        g += w_col
        # now g + slack_row = |row - col|^2 - slack_col
        to_col[sl] = g.min(axis=1) + row_cover.slack[sl]
        # refine the rows that the slack leaves undecided
        need = row_need[sl] + tol2
        open_ = np.flatnonzero(to_col[sl] <= need)
        if not open_.size or not C.seg_a.size:
            continue
        bound = g[open_]
        bound += row_cover.slack[start + open_, np.newaxis]
        cand_r, cand_p = np.nonzero(bound <= need[open_, np.newaxis])
        cand_d2 = bound[cand_r, cand_p] + C.slack[cand_p]
        # other points and segments are beyond ``need``: a strict lower bound
        low = np.nextafter(need[open_], np.inf)
        member = C.member[cand_p]
        np.minimum.at(low, cand_r[member], cand_d2[member])
        starts, stops = C.inc_ptr[cand_p], C.inc_ptr[cand_p + 1]
        counts = stops - starts
        if counts.sum() > _MAX_PAIRS_PER_ROW * open_.size:
            # too many segments near these rows (high dimension): the exact
            # distances would cost more than the searches they may save
            continue
        pair_r = np.repeat(cand_r, counts)
        offsets = np.arange(counts.sum()) - np.repeat(
            np.cumsum(counts) - counts, counts
        )
        pair_s = C.inc_seg[np.repeat(starts, counts) + offsets]
        ends_a, ends_b = C.seg_a[pair_s], C.seg_b[pair_s]
        exact = _segment_min(
            bound[pair_r, ends_a] + C.slack[ends_a],
            bound[pair_r, ends_b] + C.slack[ends_b],
            C.seg_l2[pair_s],
            C.seg_t0[pair_s],
            C.seg_t1[pair_s],
        )
        np.minimum.at(low, pair_r, exact)
        to_col[start + open_] = low
    return to_col, to_row


def enn_decided(X, y, n_neighbors, bound=None, n_original=None, provenance=None):
    """Rows whose ``n_neighbors`` nearest rows provably all share their label.

    For each row, an upper bound ``U`` on the distance to its
    ``n_neighbors``-th nearest same-class row (the smaller of ``bound``, from
    provenance, and the exact value inside a leaf of a spatial partition of
    the class) and a lower bound ``L`` on its distance to any other-class row
    (every row is a point of a segment between two rows, from
    ``provenance``; the squared distance to a point of a segment is a convex
    combination of those to its ends, minus ``t (1 - t)`` times the squared
    length). ``L > U``, with a margin for rounding, proves that the nearest
    rows are same-class. Returns a boolean mask, or ``None`` when the
    bounds would cost more than the search they save.
    """
    n = X.shape[0]
    labels = np.unique(y)
    if labels.size < 2 or n <= n_neighbors:
        return None
    scale = np.sqrt(np.max(np.einsum("ij,ij->i", X, X))) if n else 0.0
    if n_original is None:
        n_original = n
    a, b, t, eps = _row_cover(X, n_original, provenance, scale)
    diff = np.asarray(X[b], dtype=np.float64) - X[a]
    lengths2 = np.einsum("ij,ij->i", diff, diff)
    del diff
    center = np.asarray(X.mean(axis=0), dtype=np.float64)
    covers = {
        c: _ClassCover(X, np.flatnonzero(y == c), a, b, t, lengths2, center)
        for c in labels
    }
    cost = sum(
        covers[p].points.size * covers[c].points.size
        for i, p in enumerate(labels)
        for c in labels[i + 1 :]
    )
    if cost > n * n / 8:
        return None
    if bound is None:
        bound = np.full(n, np.inf)
    if X.shape[1] <= _MAX_LEAF_FEATURES:
        upper, leaves = _leaf_bounds(X, y, n_neighbors, bound)
    else:
        # leaf bounds too loose to pay: only rows with provenance bounds
        upper, leaves = bound, None
    # distance that decides a row, widened for rounding
    radius = upper * (1 + 1e-6) + 1e-6 * (1.0 + scale)
    # rounding of squared distances from float32 products of centred rows
    centred = max(np.sqrt(cover.sq.max()) for cover in covers.values())
    tol2 = (4 * X.shape[1] + 16) * 2.0**-24 * (1.0 + centred) ** 2
    lower = np.full(n, np.inf)
    for i, p in enumerate(labels):
        for c in labels[i + 1 :]:
            big, small = (
                (p, c) if covers[p].points.size >= covers[c].points.size else (c, p)
            )
            need = np.zeros(covers[big].points.size)
            own = a[covers[big].points] == covers[big].points
            need[own] = radius[covers[big].points[own]] ** 2
            need[~np.isfinite(need)] = -np.inf
            to_small, to_big = _cover_distances(covers[big], covers[small], need, tol2)
            for label, cover, near in (
                (big, covers[big], to_small),
                (small, covers[small], to_big),
            ):
                rows = np.flatnonzero(y == label)
                pos_a = np.searchsorted(cover.points, a[rows])
                pos_b = np.searchsorted(cover.points, b[rows])
                tt = t[rows]
                sq = (
                    (1 - tt) * near[pos_a]
                    + tt * near[pos_b]
                    - tt * (1 - tt) * lengths2[rows]
                )
                dist = np.sqrt(np.maximum(sq - tol2, 0.0)) - eps[rows]
                lower[rows] = np.minimum(lower[rows], dist)
    decided = lower > radius
    # rows left undecided: tighter upper bounds from the nearest leaves (only
    # where the leaf bound may be loose enough to matter: it is rarely more
    # than 1.3 times the exact k-th distance)
    for label in labels:
        rows = np.flatnonzero(~decided & (y == label) & (lower * 1.3 > upper))
        if leaves is None or not rows.size or len(leaves[label]) < 2:
            continue
        # Worth it when it decides more than a few rows in n / (n_near *
        # leaf rows), the cost of a row's search against that of its bound;
        # in high dimensions it rarely does: try a sample first.
        if rows.size > 4 * _TRIAL_ROWS:
            trial = rows[:: rows.size // _TRIAL_ROWS]
            upper[trial] = np.minimum(
                upper[trial], _near_leaf_bounds(X, trial, leaves[label], n_neighbors)
            )
            radius = upper[trial] * (1 + 1e-6) + 1e-6 * (1.0 + scale)
            decided[trial] = lower[trial] > radius
            if decided[trial].mean() * n < 2 * 8 * _LEAF_ROWS:
                continue
            rows = np.setdiff1d(rows, trial)
        tight = _near_leaf_bounds(X, rows, leaves[label], n_neighbors)
        upper[rows] = np.minimum(upper[rows], tight)
        radius = upper[rows] * (1 + 1e-6) + 1e-6 * (1.0 + scale)
        decided[rows] = lower[rows] > radius
    return decided
