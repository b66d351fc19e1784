"""SMOTE for categorical features: SMOTE-NC (mixed) and SMOTE-N (nominal)."""

import math
import warnings

import numpy as np
from imblearn.utils import check_target_type
from imblearn.utils._validation import _check_X
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import DataConversionWarning
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder
from sklearn.utils import check_array
from sklearn_compat.utils._dataframe import is_pandas_df
from sklearn_compat.utils._indexing import _get_column_indices

from skreweight.over_sampling._base import (
    _NEIGHBORS_CONSTRAINT,
    BaseSMOTE,
    _check_class_size,
    _class_neighbors,
    _fill_doc,
    _make_neighbors,
    _smote_draws,
)
from skreweight.utils._sklearn_fixes import HasMethods, StrOptions, validate_data

__all__ = ["SMOTEN", "SMOTENC"]

# Rows of the pairwise VDM matrix computed at once by SMOTEN.
_VDM_CHUNK = 2048


def _vote(codes, neighbors, n_categories, random_state):
    """Most frequent code among the ``neighbors`` rows, ties broken at random.

    ``codes`` (n,) are the ordinal codes of one feature, ``neighbors`` (m, k)
    row positions; the vote uses bincounts, never an (m, k, n_categories)
    array.
    """
    m = neighbors.shape[0]
    votes = codes[neighbors]
    offsets = (np.arange(m, dtype=np.int64) * n_categories)[:, np.newaxis]
    counts = np.bincount((votes + offsets).ravel(), minlength=m * n_categories)
    counts = counts.reshape(m, n_categories).astype(np.float64)
    # A uniform jitter < 1 only reorders equal counts: a random tie-break.
    counts += 0.5 * random_state.uniform(size=counts.shape)
    return counts.argmax(axis=1)


def _check_finite(X):
    """Reject NaN and infinite values, categorical columns included."""
    values = X.to_numpy(dtype=object) if is_pandas_df(X) else np.asarray(X)
    if values.dtype.kind in "fc":
        bad = not np.isfinite(values).all()
    else:
        bad = any(
            isinstance(v, (float, np.floating)) and not math.isfinite(v)
            for v in values.ravel()
        )
    if bad:
        raise ValueError(
            "Input X contains NaN or inf. SMOTENC needs finite continuous features "
            "and non-missing categories: impute them, or encode missing categories "
            "as a value of their own (e.g. the string 'missing')."
        )


def _encode_columns(X_cat):
    """Ordinal codes and category values of every column of ``X_cat``."""
    codes, values = [], []
    for f in range(X_cat.shape[1]):
        uniques, inverse = np.unique(X_cat[:, f], return_inverse=True)
        codes.append(inverse.astype(np.int64))
        values.append(uniques)
    return codes, values


def _non_numeric_column(X, X_arr, columns):
    """Name (or position) of the first of ``columns`` that is not numeric."""
    names = getattr(X, "columns", None)
    for column in columns:
        try:
            np.asarray(X_arr[:, column], dtype=np.float64)
        except (TypeError, ValueError):
            return repr(names[column]) if names is not None else str(column)
    return None


@_fill_doc
class SMOTENC(BaseSMOTE):
    """Over-sample mixed continuous and categorical data with SMOTE-NC.

    The continuous features are interpolated as in :class:`SMOTE`. The
    categorical features are one-hot encoded for the neighbour search, with
    the ones replaced by ``median_std / sqrt(2)`` (``median_std`` being the
    median standard deviation of the continuous features within the class),
    so that one differing category adds ``median_std`` to the distance. Each
    categorical feature of a synthetic row takes the most frequent value
    among the seed's ``k_neighbors`` neighbours, ties broken at random.

    The vote is computed with per-feature bincounts on ordinal codes, so the
    memory stays ``O(n_new * k)`` whatever the number of categories.

    Read more in the :ref:`User Guide <over_sampling>`.

    Parameters
    ----------
    categorical_features : "auto" or array-like of int, str or bool
        The categorical features: ``"auto"`` takes the pandas ``category``
        columns of a DataFrame; otherwise column indices, column names (with
        a DataFrame) or a boolean mask of length ``n_features``.

    categorical_encoder : estimator, default=None
        One-hot encoder used for the neighbour search; ``None`` means
        ``OneHotEncoder(handle_unknown='ignore')``. It must keep one column
        per category.

    {sampling_strategy}

    {random_state}

    {k_neighbors}

    Attributes
    ----------
    {sampling_strategy_}

    categorical_features_ : ndarray of shape (n_cat_features,)
        Indices of the categorical features.

    continuous_features_ : ndarray of shape (n_cont_features,)
        Indices of the continuous features.

    categorical_encoder_ : estimator
        The fitted one-hot encoder.

    median_std_ : dict
        Median standard deviation of the continuous features of each
        over-sampled class.

    nn_k_ : estimator object
        The nearest-neighbours estimator last fitted.

    {provenance_}
        The rule holds for the continuous features only.

    {n_features_in_}

    See Also
    --------
    SMOTE : Continuous features only.
    SMOTEN : Categorical features only.

    Notes
    -----
    SMOTE-NC needs at least one continuous and one categorical feature; with
    categorical features only use :class:`SMOTEN`. Sparse input is not
    supported. NaN and infinite values are rejected in the continuous
    features.

    References
    ----------
    .. [1] N. V. Chawla, K. W. Bowyer, L. O. Hall, W. P. Kegelmeyer, "SMOTE:
       synthetic minority over-sampling technique", Journal of Artificial
       Intelligence Research 16, 321-357, 2002.

    Examples
    --------
    >>> import numpy as np
    >>> from collections import Counter
    >>> from skreweight.over_sampling import SMOTENC
    >>> rng = np.random.RandomState(0)
    >>> X = np.column_stack([rng.normal(size=60), rng.randint(0, 3, size=60)])
    >>> y = np.array([0] * 50 + [1] * 10)
    >>> X_res, y_res = SMOTENC([1], random_state=0).fit_resample(X, y)
    >>> sorted(Counter(y_res).items())
    [(np.int64(0), 50), (np.int64(1), 50)]
    >>> bool(np.isin(X_res[60:, 1], [0, 1, 2]).all())
    True
    """

    _parameter_constraints: dict = {
        **BaseSMOTE._parameter_constraints,
        "k_neighbors": _NEIGHBORS_CONSTRAINT,
        "categorical_features": ["array-like", StrOptions({"auto"})],
        "categorical_encoder": [
            HasMethods(["fit_transform", "inverse_transform"]),
            None,
        ],
    }

    def __init__(
        self,
        categorical_features,
        *,
        categorical_encoder=None,
        sampling_strategy="auto",
        random_state=None,
        k_neighbors=5,
    ):
        super().__init__(sampling_strategy=sampling_strategy, random_state=random_state)
        self.categorical_features = categorical_features
        self.categorical_encoder = categorical_encoder
        self.k_neighbors = k_neighbors

    def _check_X_y(self, X, y):
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        if sparse.issparse(X):
            raise TypeError(
                "SMOTENC does not accept sparse input; pass a dense array or a "
                "DataFrame."
            )
        X = _check_X(X)
        _check_finite(X)
        validate_data(self, X=X, y=y, reset=True, skip_check_array=True)
        return X, y, binarize_y

    def _column_types(self, X):
        n_features = X.shape[1]
        if isinstance(self.categorical_features, str):
            if not is_pandas_df(X):
                raise ValueError(
                    "categorical_features='auto' needs X to be a pandas DataFrame "
                    f"with 'category' columns; got {type(X).__name__}. Pass the "
                    "indices of the categorical columns instead."
                )
            import pandas as pd

            is_cat = np.array(
                [isinstance(dtype, pd.CategoricalDtype) for dtype in X.dtypes]
            )
            categorical = np.flatnonzero(is_cat)
        else:
            features = np.asarray(self.categorical_features)
            if (
                features.dtype.kind in "iu"
                and features.size
                and (features.min() < -n_features or features.max() >= n_features)
            ):
                raise ValueError(
                    f"categorical_features has an index out of range for X with "
                    f"{n_features} features: {features.tolist()}. Use indices in "
                    f"[0, {n_features - 1}]."
                )
            if features.dtype.kind == "b" and features.size != n_features:
                raise ValueError(
                    f"categorical_features as a boolean mask must have one entry per "
                    f"feature ({n_features}); got {features.size}."
                )
            try:
                categorical = np.asarray(
                    _get_column_indices(X, self.categorical_features), dtype=np.intp
                )
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                raise ValueError(
                    f"categorical_features={self.categorical_features!r} does not "
                    f"select columns of X: {exc}"
                ) from exc
            categorical = np.unique(np.arange(n_features)[categorical])
        continuous = np.setdiff1d(np.arange(n_features), categorical)
        if categorical.size == n_features:
            raise ValueError(
                "SMOTENC needs at least one continuous feature, but "
                "categorical_features selects all of them. Use SMOTEN for "
                "categorical-only data."
            )
        if categorical.size == 0:
            raise ValueError(
                "SMOTENC needs at least one categorical feature, but "
                "categorical_features selects none. Use SMOTE for continuous-only "
                "data."
            )
        return categorical, continuous

    def _prepare(self, X, y, random_state):
        if sparse.issparse(X):
            raise TypeError(
                "SMOTENC does not accept sparse input; pass a dense array or a "
                "DataFrame."
            )
        self.categorical_features_, self.continuous_features_ = self._column_types(X)
        X_arr = X.to_numpy(dtype=object) if is_pandas_df(X) else np.asarray(X)
        try:
            self._X_cont = check_array(
                X_arr[:, self.continuous_features_], dtype=np.float64
            )
        except ValueError as exc:
            column = _non_numeric_column(X, X_arr, self.continuous_features_)
            if column is None:  # NaN, inf: scikit-learn's message says it
                raise
            raise ValueError(
                f"SMOTENC treats column {column} as continuous, but it holds values "
                "that are not numbers. List it in `categorical_features` (with "
                "categorical_features='auto', only pandas 'category' columns are "
                f"categorical). ({exc})"
            ) from exc
        X_cat = X_arr[:, self.categorical_features_]
        self._X_dtype = X_arr.dtype
        self.categorical_encoder_ = (
            OneHotEncoder(handle_unknown="ignore")
            if self.categorical_encoder is None
            else clone(self.categorical_encoder)
        )
        ohe = sparse.csr_matrix(self.categorical_encoder_.fit_transform(X_cat))
        n_categories = sum(c.size for c in self.categorical_encoder_.categories_)
        if ohe.shape[1] != n_categories:
            raise ValueError(
                "categorical_encoder must keep one column per category (no `drop`, "
                f"no infrequent grouping); it produced {ohe.shape[1]} columns for "
                f"{n_categories} categories."
            )
        self._ohe = ohe.astype(np.float64)
        self._codes, self._values = _encode_columns(X_cat)
        self.median_std_ = {}

    def _sample_class(self, X, y, class_label, n_samples, random_state):
        class_idx = np.flatnonzero(y == class_label)
        self.nn_k_, k = _make_neighbors("k_neighbors", self.k_neighbors)
        _check_class_size(class_idx.size, k, class_label, "k_neighbors", "SMOTENC")
        X_cont = self._X_cont[class_idx]
        median_std = float(np.median(np.std(X_cont, axis=0)))
        self.median_std_[class_label] = median_std
        scale = median_std / math.sqrt(2) if not math.isclose(median_std, 0) else 1.0
        X_search = sparse.hstack(
            [sparse.csr_matrix(X_cont), self._ohe[class_idx] * scale], format="csr"
        )
        nns = _class_neighbors(self.nn_k_, X_search, X_search, k)
        rows, cols, steps = _smote_draws(random_state, class_idx.size, k, n_samples)
        seed, partner = class_idx[rows], class_idx[nns[rows, cols]]
        X_new = np.empty((n_samples, self.n_features_in_), dtype=self._out_dtype())
        base = self._X_cont[seed]
        X_new[:, self.continuous_features_] = base + steps[:, np.newaxis] * (
            self._X_cont[partner] - base
        )
        seed_neighbors = class_idx[nns[rows]]
        for f, col in enumerate(self.categorical_features_):
            winner = _vote(
                self._codes[f], seed_neighbors, self._values[f].size, random_state
            )
            X_new[:, col] = self._values[f][winner]
        return {"seed": seed, "partner": partner, "gap": steps, "X_new": X_new}

    def _out_dtype(self):
        if self._X_dtype.kind == "f":
            return self._X_dtype
        if self._X_dtype.kind in "iub":
            return np.float64
        return object

    def _assemble(self, X, y, blocks):
        X_arr = X.to_numpy(dtype=object) if is_pandas_df(X) else np.asarray(X)
        X = X_arr.astype(self._out_dtype(), copy=False)
        return super()._assemble(X, y, blocks)

    def _expected_failed_checks(self):
        return {
            "check_samplers_string": "the check passes a single string column, "
            "but SMOTENC needs at least one continuous feature (use SMOTEN)",
        }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.string = True
        return tags


@_fill_doc
class SMOTEN(BaseSMOTE):
    """Over-sample categorical data with SMOTE-N.

    Rows are compared with the Value Difference Metric fitted on all
    classes, ``d(a, b) = sum_f (sum_c |P(c | a_f) - P(c | b_f)|) ** 2``. A
    synthetic row of class ``c`` takes, feature by feature, the most frequent
    value in the neighbourhood (the ``k_neighbors + 1`` nearest rows of the
    class, the row itself included) of a seed drawn uniformly from the class.

    The VDM distance matrix of a class is computed in chunks of rows, so the
    memory stays ``O(chunk * n_c)``.

    Read more in the :ref:`User Guide <over_sampling>`.

    Parameters
    ----------
    categorical_encoder : estimator, default=None
        Ordinal encoder of the features; ``None`` means
        ``OrdinalEncoder(dtype=np.int32)``.

    {sampling_strategy}

    {random_state}

    k_neighbors : int or object, default=5
        Size of the neighbourhood (besides the row itself). For an object,
        only its ``n_neighbors - 1`` is used: the VDM neighbours are always
        searched by skreweight.

    Attributes
    ----------
    {sampling_strategy_}

    categorical_encoder_ : estimator
        The fitted ordinal encoder.

    {provenance_}
        ``partner`` is -1 and ``gap`` NaN: a row is the per-feature mode of
        its seed's neighbourhood.

    {n_features_in_}

    See Also
    --------
    SMOTENC : Mixed continuous and categorical features.
    SMOTE : Continuous features only.

    Notes
    -----
    Sparse input is densified, with a ``DataConversionWarning``. Ties of the
    per-feature mode go to the smallest ordinal code, as in imbalanced-learn.

    References
    ----------
    .. [1] N. V. Chawla, K. W. Bowyer, L. O. Hall, W. P. Kegelmeyer, "SMOTE:
       synthetic minority over-sampling technique", Journal of Artificial
       Intelligence Research 16, 321-357, 2002.

    Examples
    --------
    >>> import numpy as np
    >>> from collections import Counter
    >>> from skreweight.over_sampling import SMOTEN
    >>> X = np.array(["A"] * 10 + ["B"] * 20 + ["C"] * 30, dtype=object)
    >>> X = X.reshape(-1, 1)
    >>> y = np.array([0] * 20 + [1] * 40)
    >>> X_res, y_res = SMOTEN(random_state=0).fit_resample(X, y)
    >>> sorted(Counter(y_res).items())
    [(np.int64(0), 40), (np.int64(1), 40)]
    """

    _parameter_constraints: dict = {
        **BaseSMOTE._parameter_constraints,
        "k_neighbors": _NEIGHBORS_CONSTRAINT,
        "categorical_encoder": [
            HasMethods(["fit_transform", "inverse_transform"]),
            None,
        ],
    }

    def __init__(
        self,
        categorical_encoder=None,
        *,
        sampling_strategy="auto",
        random_state=None,
        k_neighbors=5,
    ):
        super().__init__(sampling_strategy=sampling_strategy, random_state=random_state)
        self.categorical_encoder = categorical_encoder
        self.k_neighbors = k_neighbors

    def _check_X_y(self, X, y):
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        X, y = validate_data(
            self, X=X, y=y, reset=True, dtype=None, accept_sparse=["csr", "csc"]
        )
        return X, y, binarize_y

    def _prepare(self, X, y, random_state):
        self.categorical_encoder_ = (
            OrdinalEncoder(dtype=np.int32)
            if self.categorical_encoder is None
            else clone(self.categorical_encoder)
        )
        self._X_enc = np.asarray(
            self.categorical_encoder_.fit_transform(X), dtype=np.int64
        )
        classes, y_codes = np.unique(y, return_inverse=True)
        self._proba = []
        for f in range(self._X_enc.shape[1]):
            n_cat = len(self.categorical_encoder_.categories_[f])
            counts = np.zeros((n_cat, classes.size))
            np.add.at(counts, (self._X_enc[:, f], y_codes), 1)
            totals = counts.sum(axis=1, keepdims=True)
            proba = np.divide(
                counts, totals, out=np.zeros_like(counts), where=totals > 0
            )
            diff = np.abs(proba[:, np.newaxis, :] - proba[np.newaxis, :, :]).sum(-1)
            self._proba.append(diff**2)

    def _neighborhoods(self, codes, k):
        n = codes.shape[0]
        out = np.empty((n, k + 1), dtype=np.intp)
        for start in range(0, n, _VDM_CHUNK):
            stop = min(start + _VDM_CHUNK, n)
            dist = np.zeros((stop - start, n))
            for f, table in enumerate(self._proba):
                dist += table[codes[start:stop, f][:, np.newaxis], codes[:, f]]
            # the row itself first, then its k nearest other rows
            dist[np.arange(stop - start), np.arange(start, stop)] = -1.0
            part = np.argpartition(dist, k, axis=1)[:, : k + 1]
            order = np.argsort(np.take_along_axis(dist, part, axis=1), axis=1)
            out[start:stop] = np.take_along_axis(part, order, axis=1)
        return out

    def _sample_class(self, X, y, class_label, n_samples, random_state):
        class_idx = np.flatnonzero(y == class_label)
        k = _make_neighbors("k_neighbors", self.k_neighbors)[1]
        _check_class_size(class_idx.size, k, class_label, "k_neighbors", "SMOTEN")
        codes = self._X_enc[class_idx]
        hood = self._neighborhoods(codes, k)
        rows = random_state.choice(class_idx.size, size=n_samples, replace=True)
        X_new_codes = np.empty((n_samples, codes.shape[1]), dtype=np.int64)
        for f in range(codes.shape[1]):
            votes = codes[:, f][hood[rows]]
            n_cat = self._proba[f].shape[0]
            offsets = (np.arange(n_samples, dtype=np.int64) * n_cat)[:, np.newaxis]
            counts = np.bincount(
                (votes + offsets).ravel(), minlength=n_samples * n_cat
            ).reshape(n_samples, n_cat)
            X_new_codes[:, f] = counts.argmax(axis=1)
        X_new = self.categorical_encoder_.inverse_transform(
            X_new_codes.astype(self._X_enc_dtype())
        )
        return {
            "seed": class_idx[rows],
            "partner": np.full(n_samples, -1),
            "gap": np.full(n_samples, np.nan),
            "X_new": X_new,
        }

    def _X_enc_dtype(self):
        return getattr(self.categorical_encoder_, "dtype", np.int32)

    def _fit_resample(self, X, y):
        sparse_format = None
        if sparse.issparse(X):
            sparse_format = X.format
            X = X.toarray()
            warnings.warn(
                "SMOTEN densifies sparse input: pass a dense array to avoid the "
                "conversion.",
                DataConversionWarning,
            )
        X_res, y_res = super()._fit_resample(X, y)
        if sparse_format is not None:
            X_res = sparse.csr_matrix(X_res).asformat(sparse_format)
        return X_res, y_res

    def _assemble(self, X, y, blocks):
        dtype = np.result_type(X.dtype, *[b["X_new"].dtype for b in blocks])
        for b in blocks:
            b["X_new"] = b["X_new"].astype(dtype, copy=False)
        return super()._assemble(X.astype(dtype, copy=False), y, blocks)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        return tags
