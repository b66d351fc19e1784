"""Working-set ("chunking") fit of a support-vector classifier on many rows.

An SVC fitted on a subset ``S`` of the rows is also the SVC of all rows when
every row outside ``S`` satisfies the optimality (KKT) condition of a zero dual
coefficient, ``y_i f(x_i) >= 1``: the dual solution of ``S`` padded with zeros
is then optimal for the full problem. :func:`_fit_svc_working_set` fits
libsvm on a small ``S``, evaluates the decision function of the rows outside
``S`` with BLAS, adds the rows with ``y_i f(x_i) < 1`` and refits until no
row is below ``1 - tol`` (libsvm's own stopping rule): the fit on ``S`` then
solves the full problem to the SVC's ``tol``.
Only the support vectors of the last fit and the new violators are kept from
one round to the next, so ``S`` stays close to the support vectors; a row that
violates again after having left ``S`` stays in it for good, so the rounds
cannot cycle.
"""

from time import perf_counter

import numpy as np
from scipy import sparse
from sklearn.base import clone
from sklearn.svm import SVC
from sklearn.utils.class_weight import compute_class_weight
from threadpoolctl import threadpool_limits

__all__ = []

# Fewest rows for which SVMSMOTE uses the working-set fit (below it, one
# libsvm fit on all rows is fast, and the small-data comparisons with
# imbalanced-learn stay identical).
_MIN_ROWS = 20_000
# Rows of each class in the first working set (all rows of smaller classes).
_INITIAL_PER_CLASS = 1_000
# Most violating rows added per round (the worst of those found first), or
# as many as the last fit has support vectors if that is more (the set can
# then double each round when most rows are support vectors).
_ADD_PER_ROUND = 3_000
# Share of all rows above which the working set gives way to one fit on all
# rows (with that many support vectors, rounds cost more than they save).
_MAX_SHARE = 0.3
# Rounds before giving up and fitting libsvm on all rows.
_MAX_ROUNDS = 50
# From this many features, the rounds fit libsvm on a kernel matrix computed
# with BLAS (libsvm's own kernel loop costs ~5x more at 200 features) ...
_PRECOMPUTED_MIN_FEATURES = 64
# ... while the working set has at most this many rows (128 MiB).
_PRECOMPUTED_MAX_ROWS = 4_096
# Kernel entries computed per block of the decision function (8 MiB).
_BLOCK_ENTRIES = 1 << 20
# Below this many features the decision function's thin products run on one
# BLAS thread: threads gain ~25 % on an idle machine and lose 3-10x when the
# cores are shared (measured at 200k x 20).
_THREADED_MIN_FEATURES = 64


def _uses_working_set(svc, X):
    """Whether ``svc`` can be fitted on ``X`` by :func:`_fit_svc_working_set`.

    Only a plain :class:`~sklearn.svm.SVC` with an ``'rbf'`` or ``'linear'``
    kernel, no probability calibration and no iteration cap, on dense data of
    at least ``_MIN_ROWS`` rows; anything else is fitted on all rows.
    """
    return (
        type(svc) is SVC
        and svc.kernel in ("rbf", "linear")
        and svc.probability in (False, "deprecated")  # scikit-learn >= 1.8
        and svc.max_iter == -1
        and not sparse.issparse(X)
        and X.shape[0] >= _MIN_ROWS
    )


def _explicit_params(svc, X, y):
    """``svc``'s parameters with data-dependent ones computed from all rows.

    ``gamma='scale'``/``'auto'`` and ``class_weight='balanced'`` would
    otherwise be computed from the working set only.
    """
    params = {}
    if svc.kernel == "rbf" and isinstance(svc.gamma, str):
        if svc.gamma == "scale":
            var = X.var()
            params["gamma"] = 1.0 / (X.shape[1] * var) if var != 0 else 1.0
        else:  # 'auto'
            params["gamma"] = 1.0 / X.shape[1]
    if isinstance(svc.class_weight, str):  # 'balanced'
        classes = np.unique(y)
        weights = compute_class_weight("balanced", classes=classes, y=y)
        params["class_weight"] = dict(zip(classes.tolist(), weights.tolist()))
    return params


class _Decision:
    """One-vs-one decision values of a fitted SVC, computed with BLAS.

    For the pair of classes ``(a, b)``, ``a < b``, the value is positive
    towards ``a`` (libsvm's convention, that of ``decision_function_shape=
    'ovo'`` up to the sign flip scikit-learn applies in the binary case).
    """

    def __init__(self, svc, sv, kernel, gamma):
        sv = np.asarray(sv, dtype=np.float64)
        self.kernel = kernel
        if kernel == "rbf":
            # exp(-g|x - s|^2) = exp([x, |x|^2, 1] @ [2g s, -g, -g|s|^2]^T)
            self.weights = np.vstack(
                [
                    2.0 * gamma * sv.T,
                    np.full((1, sv.shape[0]), -gamma),
                    -gamma * np.einsum("ij,ij->i", sv, sv)[None, :],
                ]
            )
        else:
            self.weights = np.ascontiguousarray(sv.T)
        self.pairs = []
        if svc is None:  # kernel values only
            return
        n_classes = len(svc.classes_)
        dual = np.asarray(svc.dual_coef_, dtype=np.float64)
        intercept = np.asarray(svc.intercept_, dtype=np.float64)
        if n_classes == 2:  # scikit-learn flips libsvm's signs
            dual, intercept = -dual, -intercept
        bounds = np.concatenate([[0], np.cumsum(svc.n_support_)])
        p = 0
        for a in range(n_classes):
            for b in range(a + 1, n_classes):
                cols = np.r_[bounds[a] : bounds[a + 1], bounds[b] : bounds[b + 1]]
                coef = np.concatenate(
                    [
                        dual[b - 1, bounds[a] : bounds[a + 1]],
                        dual[a, bounds[b] : bounds[b + 1]],
                    ]
                )
                self.pairs.append((a, b, cols, coef, intercept[p]))
                p += 1

    def kernel_block(self, X_block):
        """Kernel values between the rows of ``X_block`` and the SVs."""
        if self.kernel == "rbf":
            d = X_block.shape[1]
            Xa = np.empty((X_block.shape[0], d + 2))
            Xa[:, :d] = X_block
            Xa[:, d] = np.einsum("ij,ij->i", X_block, X_block)
            Xa[:, d + 1] = 1.0
            K = Xa @ self.weights
            np.exp(K, out=K)
            return K
        return X_block @ self.weights

    def margins(self, X_block, codes):
        """Smallest ``y f(x)`` over the pairwise problems of each row."""
        K = self.kernel_block(X_block)
        margin = np.full(X_block.shape[0], np.inf)
        if len(self.pairs) == 1:
            a, b, cols, coef, b0 = self.pairs[0]
            f = K @ coef + b0
            return np.where(codes == a, f, -f)
        for a, b, cols, coef, b0 in self.pairs:
            rows = np.flatnonzero((codes == a) | (codes == b))
            if rows.size == 0:
                continue
            f = K[np.ix_(rows, cols)] @ coef + b0
            margin[rows] = np.minimum(margin[rows], np.where(codes[rows] == a, f, -f))
        return margin


def _change_bound(previous, current, scratch, X, kernel, gamma):
    """Bound on how much the pairwise decision values moved between two fits.

    ``previous`` and ``current`` hold ``(rows, coef, intercept)`` per pair.
    The change of a pair's decision function is ``<w, phi(x)> + d_b`` with
    ``w = sum_j d_j phi(x_j)`` (``d_j`` the change of row ``j``'s
    coefficient), so by Cauchy-Schwarz it is at most
    ``|w| |phi(x)| + |d_b|``, with ``|w|^2 = d^T K d`` and ``|phi(x)| = 1``
    for the RBF kernel, ``|x|`` for the linear one. Returns ``(shift,
    scale)``: the bound is ``shift + scale * |phi(x)|`` for every pair.
    """
    shift = scale = 0.0
    for (rows0, coef0, b0), (rows1, coef1, b1) in zip(previous, current):
        scratch[rows0] -= coef0
        scratch[rows1] += coef1
        touched = np.union1d(rows0, rows1)
        change = scratch[touched]
        scratch[touched] = 0.0
        X_touched = X[touched]
        # a bound on the rounding error of |w|^2 (kernel values <= 1, or the
        # products of norms) keeps the bound a bound
        if kernel == "linear":
            w_norm2 = np.sum((change @ X_touched) ** 2)
            size = np.abs(change) @ np.sqrt(np.einsum("ij,ij->i", X_touched, X_touched))
        else:
            size = np.abs(change).sum()
            gram = _Decision(None, X_touched, kernel, gamma)
            block = max(1, _BLOCK_ENTRIES // max(1, touched.size))
            w_norm2 = sum(
                change[i : i + block]
                @ (gram.kernel_block(X_touched[i : i + block]) @ change)
                for i in range(0, touched.size, block)
            )
        rounding = 4.0 * (touched.size + X.shape[1]) * np.finfo(float).eps * size**2
        scale = max(scale, np.sqrt(max(w_norm2, 0.0) + rounding))
        shift = max(shift, abs(b1 - b0))
    return shift, scale


def _fit_svc_working_set(svc, X, y):
    """Fit ``svc`` (see :func:`_uses_working_set`) by working-set rounds.

    Parameters
    ----------
    svc : SVC
        The unfitted classifier; it is cloned.
    X : ndarray of shape (n_samples, n_features)
        All rows.
    y : ndarray of shape (n_samples,)
        Their classes.

    Returns
    -------
    fitted : SVC
        The clone fitted on the final working set, with ``gamma`` and
        ``class_weight`` made explicit (computed from all rows).
    support : ndarray of int
        Row indices into ``X`` of its support vectors (``rows[fitted.support_]``).
    rows : ndarray of int or None
        The final working set (sorted), or ``None`` when the rounds did not
        converge and ``fitted`` was fitted on all rows.
    info : dict
        Per-round sizes and timings (for benchmarks).
    """
    X = np.asarray(X, dtype=np.float64)
    params = _explicit_params(svc, X, y)
    fitted = clone(svc).set_params(**params)
    gamma = params.get("gamma", svc.gamma)
    classes, codes = np.unique(y, return_inverse=True)
    n = X.shape[0]
    # a fixed seed: the working set changes run times only, not the result
    # (up to libsvm's tolerance), and random_state's draws stay untouched
    rng = np.random.default_rng(0)
    rows = np.sort(
        np.concatenate(
            [
                rng.permutation(np.flatnonzero(codes == c))[:_INITIAL_PER_CLASS]
                for c in range(classes.size)
            ]
        )
    )
    # lower[i]: a lower bound on row i's margin under the current fit; rows
    # whose bound is at least 1 are not evaluated again
    lower = np.full(n, -np.inf)
    # |phi(x)|: 1 for the RBF kernel, |x| for the linear one
    norms = np.sqrt(np.einsum("ij,ij->i", X, X)) if svc.kernel == "linear" else 1.0
    scratch = np.zeros(n)
    previous = None
    was_in = np.zeros(n, dtype=bool)
    was_in[rows] = True
    sticky = np.empty(0, dtype=np.intp)
    # While some row is below libsvm's stopping rule 1 - tol, all rows with
    # y f(x) < 1 are added: then libsvm, not this loop, decides most rows on
    # the margin (it keeps some of them as free support vectors)
    threshold = 1.0
    info = {"rounds": []}
    kernel = fitted.kernel
    precomputed = X.shape[1] >= _PRECOMPUTED_MIN_FEATURES and clone(fitted).set_params(
        kernel="precomputed"
    )
    for _ in range(_MAX_ROUNDS):
        start = perf_counter()
        X_rows = X[rows]
        if precomputed and rows.size <= _PRECOMPUTED_MAX_ROWS:
            current = precomputed
            current.fit(
                _Decision(None, X_rows, kernel, gamma).kernel_block(X_rows), y[rows]
            )
            sv = X_rows[current.support_]
        else:
            current = fitted.fit(X_rows, y[rows])
            sv = current.support_vectors_
        fit_time = perf_counter() - start
        start = perf_counter()
        decision = _Decision(current, sv, kernel, gamma)
        sv_rows = rows[current.support_]
        pairs = [(sv_rows[cols], coef, b0) for _, _, cols, coef, b0 in decision.pairs]
        if previous is not None:
            shift, scale = _change_bound(previous, pairs, scratch, X, kernel, gamma)
            lower -= shift + scale * norms
        previous = pairs
        lower[rows] = -np.inf  # no bound once a row leaves the set
        unsure = lower < threshold
        unsure[rows] = False
        outside = np.flatnonzero(unsure)
        rng.shuffle(outside)
        block = max(256, _BLOCK_ENTRIES // max(1, current.support_.size))
        found, found_margin = [np.empty(0, np.intp)], [np.empty(0)]
        cap = max(_ADD_PER_ROUND, current.support_.size)
        checked = n_bad = 0
        complete = True
        limit = 1 if X.shape[1] < _THREADED_MIN_FEATURES else None
        with threadpool_limits(limits=limit, user_api="blas"):
            for begin in range(0, outside.size, block):
                idx = outside[begin : begin + block]
                margin = decision.margins(X[idx], codes[idx])
                lower[idx] = margin
                bad = margin < threshold
                found.append(idx[bad])
                found_margin.append(margin[bad])
                n_bad += found[-1].size
                checked += idx.size
                if n_bad >= cap:
                    complete = False
                    break
        candidates = np.concatenate(found)
        margin = np.concatenate(found_margin)
        n_real = np.count_nonzero(margin < 1.0 - fitted.tol)
        info["rounds"].append(
            {
                "rows": rows.size,
                "fit_s": fit_time,
                "n_support": current.support_.size,
                "checked": checked,
                "below_1": n_bad,
                "below_1_minus_tol": n_real,
                "decision_s": perf_counter() - start,
            }
        )
        # done when no row is below libsvm's own stopping rule 1 - tol
        if complete and n_real == 0:
            if current is not fitted:
                start = perf_counter()
                fitted.fit(X_rows, y[rows])
                info["final_fit_s"] = perf_counter() - start
            return fitted, rows[fitted.support_], rows, info
        if candidates.size > cap:  # the worst first
            keep = np.argpartition(margin, cap)[:cap]
            candidates, margin = candidates[keep], margin[keep]
        # every round adds a violator never in the set, or makes one sticky
        sticky = np.union1d(sticky, candidates[was_in[candidates]])
        was_in[candidates] = True
        rows = np.union1d(np.union1d(rows[current.support_], sticky), candidates)
        if rows.size > _MAX_SHARE * n:
            break
    fitted = clone(svc).set_params(**params).fit(X, y)
    return fitted, np.asarray(fitted.support_), None, info
