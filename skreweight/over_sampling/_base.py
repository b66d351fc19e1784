"""Shared machinery of the SMOTE family: neighbours, counts, output assembly."""

import numbers
import warnings
from abc import abstractmethod

import numpy as np
from imblearn.over_sampling.base import BaseOverSampler
from scipy import sparse
from sklearn.base import clone
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import Bunch, check_random_state

from skreweight.over_sampling._screened import screened_kneighbors
from skreweight.utils._sklearn_fixes import HasMethods, Interval

__all__ = ["BaseSMOTE"]

# Bytes of synthetic rows written per chunk when they are assembled.
_CHUNK_BYTES = 1 << 20
# Largest n * n distance matrix searched with plain numpy (single-threaded).
# Above ~250 rows scikit-learn's threaded search is faster on an idle machine
# (2,000 rows x 20: 18 ms vs 72 ms on 2 cores).
_SMALL_SEARCH_ENTRIES = 1 << 16
# From this many n * n entries on, the screened float32 search beats
# scikit-learn's brute-force one (10,000 x 20: 0.12 s vs 0.14 s; 20,000 x 20:
# 0.32 s vs 0.57 s, 2 cores).
_SCREENED_SEARCH_ENTRIES = 1 << 26

_NEIGHBORS_CONSTRAINT = [
    Interval(numbers.Integral, 1, None, closed="left"),
    HasMethods(["kneighbors", "fit"]),
]


def _make_neighbors(param_name, value, additional_neighbor=1):
    """Return ``(estimator, k)`` for a neighbour parameter.

    An int ``k`` gives ``NearestNeighbors(n_neighbors=k + additional)``; an
    object is cloned and ``k`` is its ``n_neighbors - additional`` (the object
    counts the query row itself, as in imbalanced-learn).
    """
    if isinstance(value, numbers.Integral):
        return NearestNeighbors(n_neighbors=int(value) + additional_neighbor), int(
            value
        )
    try:
        nn = clone(value)
    except TypeError:  # not a scikit-learn estimator: use it as given
        nn = value
    n_neighbors = getattr(nn, "n_neighbors", None)
    if not isinstance(n_neighbors, numbers.Integral) or n_neighbors <= 1:
        raise ValueError(
            f"`{param_name}` given as an object must have an integer attribute "
            f"`n_neighbors` >= 2 (the query row counts as its own first neighbour); "
            f"got n_neighbors={n_neighbors!r}. Pass an int instead."
        )
    return nn, int(n_neighbors) - additional_neighbor


def _is_default_neighbors(nn):
    """Whether ``nn`` is a plain Euclidean ``NearestNeighbors``."""
    return (
        type(nn) is NearestNeighbors
        and nn.get_params() == NearestNeighbors(n_neighbors=nn.n_neighbors).get_params()
    )


def _kneighbors(nn, X, n_neighbors):
    """Indices of the ``n_neighbors`` nearest fitted rows of every row of ``X``.

    Only ``kneighbors(X, n_neighbors=...)`` is called, so any object following
    scikit-learn's ``NearestNeighbors`` API (a GPU one included) works.
    """
    result = nn.kneighbors(X, n_neighbors=n_neighbors)
    if isinstance(result, tuple):
        result = result[1]
    return np.asarray(result, dtype=np.intp)


def _label(class_label):
    """A class label as users wrote it: ``'a'`` for strings, ``1`` for numbers."""
    return repr(class_label) if isinstance(class_label, str) else str(class_label)


def _check_class_size(n_class, k, class_label, param_name, sampler_name):
    """Raise a clear error when a class is too small for its neighbourhoods."""
    if n_class <= k:
        raise ValueError(
            f"{sampler_name} needs more than `{param_name}`={k} rows in every class "
            f"it over-samples, but class {_label(class_label)} has {n_class} row(s). "
            f"Lower `{param_name}` to at most {max(n_class - 1, 0)}, or remove the "
            f"class from `sampling_strategy`."
        )


def _class_neighbors(nn, X_fit, X_query, k):
    """Fit ``nn`` on ``X_fit`` and return the ``k`` neighbours of ``X_query``.

    The rows of ``X_query`` are assumed to be rows of ``X_fit``: the first
    neighbour returned by the estimator (the row itself) is dropped. When
    ``nn`` is the default ``NearestNeighbors`` of an int parameter and the
    class is dense, the search runs in plain numpy when the class is small,
    and as a screened float32 search (:mod:`._screened`, exact) when it is
    large and scikit-learn would search by brute force. Either way the row
    itself is left out, ties go to the lower index.
    """
    nn.fit(X_fit)
    if (
        X_query is X_fit
        and not sparse.issparse(X_fit)
        and k < X_fit.shape[0]
        and _is_default_neighbors(nn)
    ):
        n_rows = X_fit.shape[0]
        if n_rows**2 <= _SMALL_SEARCH_ENTRIES:
            return _self_kneighbors(X_fit, k)
        # only where scikit-learn would search by brute force (not its trees)
        if (
            n_rows**2 >= _SCREENED_SEARCH_ENTRIES
            and getattr(nn, "_fit_method", None) == "brute"
        ):
            found = screened_kneighbors(X_fit, np.arange(n_rows), k + 1)
            if found is not None:
                return found[:, 1:]
    return _kneighbors(nn, X_query, k + 1)[:, 1:]


def _largest_remainder(weights, total):
    """Split the integer ``total`` proportionally to ``weights``, exactly.

    Floors first, then one more for the largest fractional parts (ties to the
    lower index). The result sums to ``total``.
    """
    weights = np.asarray(weights, dtype=np.float64)
    s = weights.sum()
    if not np.isfinite(s) or s <= 0:
        weights = np.ones_like(weights)
        s = weights.sum()
    quota = weights / s * total
    counts = np.floor(quota).astype(np.int64)
    missing = int(total - counts.sum())
    if missing > 0:
        order = np.argsort(-(quota - counts), kind="stable")
        counts[order[:missing]] += 1
    return counts


def _smote_draws(random_state, n_seeds, k, n_samples):
    """imbalanced-learn's draw order: ``randint`` over pairs, then gaps."""
    idx = random_state.randint(low=0, high=n_seeds * k, size=n_samples)
    steps = random_state.uniform(size=n_samples)
    return idx // k, idx % k, steps


def _even_smote_draws(random_state, n_seeds, k, n_samples):
    """Every seed ``n_samples // n_seeds`` times, the remainder on distinct
    seeds drawn without replacement; partners and gaps uniform."""
    rounds, extra = divmod(n_samples, n_seeds)
    chosen = np.sort(random_state.choice(n_seeds, size=extra, replace=False))
    rows = np.concatenate([np.tile(np.arange(n_seeds), rounds), chosen])
    cols = random_state.randint(low=0, high=k, size=n_samples)
    steps = random_state.uniform(size=n_samples)
    return rows, cols, steps


def _interpolate(X, seed, partner, gap, out=None):
    """Rows ``X[seed] + gap * (X[partner] - X[seed])``.

    Dense input is written in chunks into ``out`` (rows of dtype ``X.dtype``);
    the arithmetic follows imbalanced-learn's so that results are identical:
    the difference in ``X.dtype``, then ``base + gap * diff`` in float64,
    rounded once to ``X.dtype``. Sparse input returns a sparse matrix of the
    same format.
    """
    if sparse.issparse(X):
        base = X[seed]
        diff = X[partner] - base
        new = base + diff.multiply(gap[:, np.newaxis])
        return sparse.csr_matrix(new, dtype=X.dtype).asformat(X.format)
    if out is None:
        out = np.empty((seed.size, X.shape[1]), dtype=X.dtype)
    # small chunks written in place: the temporaries stay in cache
    rows = max(1, _CHUNK_BYTES // max(1, X.shape[1] * X.itemsize))
    for start in range(0, seed.size, rows):
        sl = slice(start, start + rows)
        base = X[seed[sl]]
        if out.dtype == np.float64:
            chunk = out[sl]
            np.subtract(X[partner[sl]], base, out=chunk)
            chunk *= gap[sl, np.newaxis]
            chunk += base
        else:
            # float32 (and other) rows: float64 arithmetic, one rounding
            out[sl] = base + gap[sl, np.newaxis] * (X[partner[sl]] - base)
    return out


class BaseSMOTE(BaseOverSampler):
    """Base class of skreweight's SMOTE-family over-samplers.

    Subclasses implement ``_sample_class(X, y, class_label, n_samples,
    random_state)``, which returns a dict with the 1-D int arrays ``seed`` and
    ``partner`` (row positions in ``X``, partner -1 when none) and the float
    array ``gap``; and, for samplers that do not interpolate between the two
    rows, the synthetic rows themselves under ``X_new``. The base class checks
    the counts, assembles one preallocated output (originals first, then one
    block per class in sorted-label order) and stores ``provenance_``.
    """

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
    }

    def __init__(self, sampling_strategy="auto", random_state=None):
        super().__init__(sampling_strategy=sampling_strategy)
        self.random_state = random_state

    def _prepare(self, X, y, random_state):
        """Hook run once before the per-class loop (shared neighbourhoods)."""

    @abstractmethod
    def _sample_class(self, X, y, class_label, n_samples, random_state):
        """Return the synthetic rows of one class (see the class docstring)."""

    def _fit_resample(self, X, y):
        random_state = check_random_state(self.random_state)
        self._prepare(X, y, random_state)
        blocks = []
        for class_label, n_samples in self.sampling_strategy_.items():
            if n_samples == 0:
                continue
            block = self._sample_class(X, y, class_label, n_samples, random_state)
            n_made = len(block["seed"])
            if n_made != n_samples:
                warnings.warn(
                    f"{type(self).__name__} generated {n_made} rows for class "
                    f"{_label(class_label)} instead of the {n_samples} requested: "
                    f"{block.get('reason', 'see the sampler documentation')}.",
                    UserWarning,
                )
            block["label"] = class_label
            blocks.append(block)
        return self._assemble(X, y, blocks)

    def _assemble(self, X, y, blocks):
        n_new = sum(len(b["seed"]) for b in blocks)
        seed = np.concatenate(
            [np.asarray(b["seed"], dtype=np.int64) for b in blocks] + [np.empty(0)]
        ).astype(np.int64)
        partner = np.concatenate(
            [np.asarray(b["partner"], dtype=np.int64) for b in blocks] + [np.empty(0)]
        ).astype(np.int64)
        gap = np.concatenate(
            [np.asarray(b["gap"], dtype=np.float64) for b in blocks] + [np.empty(0)]
        )
        extra = {}
        for b in blocks:
            for key, value in b.get("extra", {}).items():
                extra.setdefault(key, []).append(np.asarray(value))
        self.provenance_ = Bunch(
            seed=seed,
            partner=partner,
            gap=gap,
            **{key: np.concatenate(v) for key, v in extra.items()},
        )
        y_new = np.concatenate(
            [y] + [np.full(len(b["seed"]), b["label"], dtype=y.dtype) for b in blocks]
        )
        if sparse.issparse(X):
            parts = [X]
            for b in blocks:
                if "X_new" in b:
                    parts.append(sparse.csr_matrix(b["X_new"], dtype=X.dtype))
                elif len(b["seed"]):
                    parts.append(_interpolate(X, b["seed"], b["partner"], b["gap"]))
            return sparse.vstack(parts, format=X.format).astype(X.dtype), y_new
        X_res = np.empty((X.shape[0] + n_new, X.shape[1]), dtype=X.dtype)
        X_res[: X.shape[0]] = X
        start = X.shape[0]
        for b in blocks:
            stop = start + len(b["seed"])
            if "X_new" in b:
                X_res[start:stop] = b["X_new"]
            else:
                _interpolate(
                    X,
                    np.asarray(b["seed"]),
                    np.asarray(b["partner"]),
                    np.asarray(b["gap"], dtype=np.float64),
                    out=X_res[start:stop],
                )
            start = stop
        return X_res, y_new

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class _KNeighborsMixin:
    """Validation of ``k_neighbors`` shared by the SMOTE-style samplers."""

    def _nn_k(self, n_class, class_label, param_name="k_neighbors", value=None):
        value = self.k_neighbors if value is None else value
        nn, k = _make_neighbors(param_name, value)
        _check_class_size(n_class, k, class_label, param_name, type(self).__name__)
        return nn, k


_DOC_FRAGMENTS = {
    "{sampling_strategy}": """sampling_strategy : float, str, dict or callable, \
default='auto'
        How many rows each class should reach, as in imbalanced-learn: a
        float (binary only) is the minority-to-majority ratio after
        resampling; a str names the classes raised to the majority count
        (``'minority'``, ``'not minority'``, ``'not majority'``, ``'all'``,
        ``'auto'``); a dict maps a class to its target count; a callable
        takes ``y`` and returns such a dict.""",
    "{random_state}": """random_state : int, RandomState instance or None, default=None
        Seed of the single random stream shared by all classes.""",
    "{k_neighbors}": """k_neighbors : int or object, default=5
        Number of same-class nearest neighbours to interpolate towards, or an
        estimator with the :class:`~sklearn.neighbors.NearestNeighbors` API
        (only ``fit`` and ``kneighbors`` are called, so a GPU one works); its
        ``n_neighbors`` counts the row itself, so set it to ``k + 1``.""",
    "{sampling_strategy_}": """sampling_strategy_ : dict
        Number of synthetic rows requested for each class.""",
    "{provenance_}": """provenance_ : :class:`~sklearn.utils.Bunch`
        One entry per synthetic row, in output order: ``seed`` (int64 row
        position in the ``X`` given to ``fit_resample``), ``partner`` (int64
        row position, or -1) and ``gap`` (float64), so that
        ``X[seed] + gap * (X[partner] - X[seed])`` rebuilds the row.""",
    "{n_features_in_}": """n_features_in_ : int
        Number of features seen during ``fit_resample``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit_resample``. Defined only when
        ``X`` has feature names that are all strings.""",
}


def _fill_doc(cls):
    """Replace the shared ``{fragment}`` placeholders of a class docstring."""
    doc = cls.__doc__
    for key, value in _DOC_FRAGMENTS.items():
        doc = doc.replace(key, value)
    cls.__doc__ = doc
    return cls


def _self_kneighbors(X, k):
    """The ``k`` nearest other rows of every row of a small dense ``X``.

    Plain numpy (one distance matrix), for small neighbour searches where a
    ``NearestNeighbors`` call costs more in thread set-up than in work. The
    candidates are ranked by their exact distances, ties to the lower index.
    """
    X = np.asarray(X, dtype=np.float64)
    sq = np.einsum("ij,ij->i", X, X)
    dist = sq[:, None] + sq[None, :] - 2 * X @ X.T
    np.fill_diagonal(dist, np.inf)
    part = np.sort(np.argpartition(dist, k - 1, axis=1)[:, :k], axis=1)
    diff = X[part] - X[:, np.newaxis, :]
    exact = np.einsum("ijk,ijk->ij", diff, diff)
    order = np.argsort(exact, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)
