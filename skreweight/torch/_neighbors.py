"""Chunked exact nearest neighbours and kernel products on torch devices."""

from numbers import Integral, Real

import numpy as np
import torch
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import check_array, check_is_fitted

from skreweight.torch._base import _resolve_device
from skreweight.utils._sklearn_fixes import (
    Interval,
    StrOptions,
    _fit_context,
    validate_data,
    validate_params,
)

__all__ = ["TorchNearestNeighbors", "kernel_matvec"]

# Extra candidates re-ranked with exact differences, against GEMM rounding.
_RERANK_EXTRA = 8


def _auto_chunk(n_reference, itemsize, device):
    """Query rows per chunk so that a chunk's distance block fits comfortably."""
    per_row = max(n_reference, 1) * (itemsize + 8)
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budget = 0.5 * free
    else:
        budget = 2**27  # 128 MiB of host memory per block
    return int(max(1, min(65536, budget // per_row)))


class TorchNearestNeighbors(BaseEstimator):
    """Exact k-nearest neighbours by chunked matrix products on a torch device.

    Follows :class:`sklearn.neighbors.NearestNeighbors` (``fit``,
    ``kneighbors``, ``kneighbors_graph``), so it can be given to the SMOTE
    family as ``k_neighbors=TorchNearestNeighbors(n_neighbors=6,
    device="cuda")`` (``k + 1``: imbalanced-learn drops the first neighbour).
    Each chunk of queries computes the squared distances to every reference
    row with one matrix product, ``|q|^2 - 2 q x^T + |x|^2`` on centred data,
    keeps the ``n_neighbors + 8`` smallest with ``topk`` and re-ranks them
    with exact differences.

    Read more in the :ref:`User Guide <torch>`.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours returned by default.

    algorithm : {"auto", "torch", "brute"}, default="auto"
        ``"torch"`` uses the chunked torch search, ``"brute"`` scikit-learn's
        brute force; ``"auto"`` uses torch on accelerators and scikit-learn
        on the CPU, where it is faster.

    device : str or torch.device, default="auto"
        Device of the torch search; ``"auto"`` picks the available
        accelerator, else the CPU.

    chunk_size : int or "auto", default="auto"
        Query rows per chunk; ``"auto"`` sizes chunks from the free device
        memory.

    Attributes
    ----------
    effective_algorithm_ : str
        ``"torch"`` or ``"brute"``.

    device_ : torch.device
        Device of the fitted reference rows.

    n_samples_fit_ : int
        Number of reference rows.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    sklearn.neighbors.NearestNeighbors : The CPU reference.
    kernel_matvec : Chunked kernel matrix-vector products.

    Notes
    -----
    ``kneighbors(X=None)`` excludes every row from its own neighbours by
    index, so duplicated rows still find their twins. Neighbours at exactly
    equal distances may come in a different order than scikit-learn's, and
    the tie order differs between CPU and GPU. Computations use the input's
    floating dtype (float32 or float64).

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.torch import TorchNearestNeighbors
    >>> X = np.array([[0.0], [1.0], [3.0], [7.0]])
    >>> nn = TorchNearestNeighbors(n_neighbors=2, algorithm="torch", device="cpu")
    >>> dist, ind = nn.fit(X).kneighbors()
    >>> ind
    array([[1, 2],
           [0, 2],
           [1, 0],
           [2, 1]])
    """

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "algorithm": [StrOptions({"auto", "torch", "brute"})],
        "device": [str, torch.device],
        "chunk_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
    }

    def __init__(
        self, n_neighbors=5, *, algorithm="auto", device="auto", chunk_size="auto"
    ):
        self.n_neighbors = n_neighbors
        self.algorithm = algorithm
        self.device = device
        self.chunk_size = chunk_size

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Store the reference rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Reference rows.

        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        self.device_ = _resolve_device(self.device)
        algorithm = self.algorithm
        if algorithm == "auto":
            algorithm = "brute" if self.device_.type == "cpu" else "torch"
        self.effective_algorithm_ = algorithm
        self.n_samples_fit_ = X.shape[0]
        if algorithm == "brute":
            self._brute = NearestNeighbors(
                n_neighbors=self.n_neighbors, algorithm="brute"
            ).fit(X)
            return self
        dtype = torch.float64 if X.dtype == np.float64 else torch.float32
        X_t = torch.tensor(X, dtype=dtype, device=self.device_)
        self._mean = X_t.mean(dim=0)
        self._X = X_t - self._mean
        self._sq_norms = self._X.square().sum(dim=1)
        return self

    def _check_n_neighbors(self, n_neighbors, query_is_train):
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        if (
            not isinstance(n_neighbors, Integral | np.integer)
            or isinstance(n_neighbors, bool)
            or n_neighbors < 1
        ):
            raise ValueError(
                f"n_neighbors must be a positive int; got {n_neighbors!r}."
            )
        available = self.n_samples_fit_ - int(query_is_train)
        if n_neighbors > available:
            raise ValueError(
                f"Expected n_neighbors <= {available} (n_samples_fit = "
                f"{self.n_samples_fit_}{', self excluded' if query_is_train else ''}"
                f"), but n_neighbors = {n_neighbors}."
            )
        return int(n_neighbors)

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Find the nearest reference rows of each query row.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query rows; ``None`` queries the reference rows themselves,
            each excluded from its own neighbours.

        n_neighbors : int, default=None
            Number of neighbours; ``None`` uses ``self.n_neighbors``.

        return_distance : bool, default=True
            Whether to return the distances.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors)
            Euclidean distances, nearest first (only if
            ``return_distance=True``).

        neigh_ind : ndarray of shape (n_queries, n_neighbors)
            Indices of the neighbours among the reference rows.
        """
        check_is_fitted(self, "n_samples_fit_")
        n_neighbors = self._check_n_neighbors(n_neighbors, X is None)
        if X is not None:
            X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        if self.effective_algorithm_ == "brute":
            return self._brute.kneighbors(X, n_neighbors, return_distance)
        dist, ind = self._torch_kneighbors(X, n_neighbors)
        return (dist, ind) if return_distance else ind

    def _torch_kneighbors(self, X, k):
        reference = self._X
        exclude_self = X is None
        if exclude_self:
            queries = reference
        else:
            queries = torch.as_tensor(
                np.ascontiguousarray(X), dtype=reference.dtype, device=self.device_
            )
            queries = queries - self._mean
        n_ref = reference.shape[0]
        n_candidates = min(k + _RERANK_EXTRA, n_ref - int(exclude_self))
        chunk = self.chunk_size
        if chunk == "auto":
            chunk = _auto_chunk(n_ref, reference.element_size(), self.device_)
        dists, inds = [], []
        for start in range(0, queries.shape[0], chunk):
            q = queries[start : start + chunk]
            sq = torch.addmm(self._sq_norms.unsqueeze(0), q, reference.T, alpha=-2.0)
            sq += q.square().sum(dim=1, keepdim=True)
            sq.clamp_(min=0)
            if exclude_self:
                rows = torch.arange(q.shape[0], device=q.device)
                sq[rows, rows + start] = float("inf")
            candidates = torch.topk(sq, n_candidates, dim=1, largest=False).indices
            exact = (reference[candidates] - q.unsqueeze(1)).square().sum(dim=2)
            best, order = torch.topk(exact, k, dim=1, largest=False, sorted=True)
            dists.append(best.sqrt().cpu())
            inds.append(torch.gather(candidates, 1, order).cpu())
        dist = torch.cat(dists).numpy()
        ind = torch.cat(inds).numpy().astype(np.intp)
        return dist, ind

    def kneighbors_graph(self, X=None, n_neighbors=None, mode="connectivity"):
        """Sparse graph of the k nearest neighbours of each query row.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query rows; ``None`` uses the reference rows (self excluded).

        n_neighbors : int, default=None
            Number of neighbours; ``None`` uses ``self.n_neighbors``.

        mode : {"connectivity", "distance"}, default="connectivity"
            Ones, or the distances, as the stored values.

        Returns
        -------
        graph : sparse matrix of shape (n_queries, `n_samples_fit_`)
            CSR matrix with ``n_neighbors`` entries per row.
        """
        if mode not in ("connectivity", "distance"):
            raise ValueError(
                f"mode must be 'connectivity' or 'distance'; got {mode!r}."
            )
        dist, ind = self.kneighbors(X, n_neighbors, return_distance=True)
        n_queries, k = ind.shape
        values = np.ones(n_queries * k) if mode == "connectivity" else dist.ravel()
        indptr = np.arange(0, n_queries * k + 1, k)
        return sparse.csr_matrix(
            (values, ind.ravel(), indptr), shape=(n_queries, self.n_samples_fit_)
        )


@validate_params(
    {
        "X": ["array-like"],
        "Y": ["array-like"],
        "v": ["array-like"],
        "kernel": [StrOptions({"rbf", "laplacian", "linear"})],
        "gamma": [Interval(Real, 0, None, closed="neither"), None],
        "device": [str, torch.device],
        "chunk_size": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
    },
    prefer_skip_nested_validation=True,
)
def kernel_matvec(X, Y, v, kernel="rbf", gamma=None, device="auto", chunk_size="auto"):
    """Kernel matrix-vector product ``K(X, Y) @ v`` without storing ``K``.

    Rows of ``X`` are processed in chunks, so memory is ``O(chunk * n_Y)``
    instead of ``O(n_X * n_Y)``; on a GPU this makes kernel balancing
    (kernel mean matching, kernel balancing) feasible at large ``n``. The
    kernels follow :mod:`sklearn.metrics.pairwise`.

    Parameters
    ----------
    X : array-like of shape (n_X, n_features)
        Rows of the kernel matrix.

    Y : array-like of shape (n_Y, n_features)
        Columns of the kernel matrix.

    v : array-like of shape (n_Y,) or (n_Y, n_vectors)
        Vector(s) to multiply.

    kernel : {"rbf", "laplacian", "linear"}, default="rbf"
        ``exp(-gamma |x - y|^2)``, ``exp(-gamma |x - y|_1)`` or ``x . y``.

    gamma : float, default=None
        Kernel coefficient; ``None`` means ``1 / n_features``.

    device : str or torch.device, default="auto"
        Device of the computation; float64 on the CPU, float32 on
        accelerators.

    chunk_size : int or "auto", default="auto"
        Rows of ``X`` per chunk.

    Returns
    -------
    Kv : ndarray of shape (n_X,) or (n_X, n_vectors)
        The product, as float64.

    See Also
    --------
    sklearn.metrics.pairwise.rbf_kernel : The dense kernel matrix.
    TorchNearestNeighbors : Chunked exact nearest neighbours.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.metrics.pairwise import rbf_kernel
    >>> from skreweight.torch import kernel_matvec
    >>> rng = np.random.default_rng(0)
    >>> X, Y, v = rng.normal(size=(5, 3)), rng.normal(size=(4, 3)), np.ones(4)
    >>> np.allclose(kernel_matvec(X, Y, v, gamma=0.5, device="cpu"),
    ...             rbf_kernel(X, Y, gamma=0.5) @ v)
    True
    """
    X = check_array(X, dtype=[np.float64, np.float32])
    Y = check_array(Y, dtype=[np.float64, np.float32])
    v = check_array(v, ensure_2d=False, dtype=np.float64)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features but Y has {Y.shape[1]}; they must match."
        )
    if v.shape[0] != Y.shape[0]:
        raise ValueError(
            f"v has {v.shape[0]} rows but Y has {Y.shape[0]}; give one entry per "
            "row of Y."
        )
    device = _resolve_device(device)
    dtype = torch.float64 if device.type == "cpu" else torch.float32
    if gamma is None:
        gamma = 1.0 / X.shape[1]
    one_d = v.ndim == 1
    X_t = torch.as_tensor(X, dtype=dtype, device=device)
    Y_t = torch.as_tensor(Y, dtype=dtype, device=device)
    v_t = torch.as_tensor(v.reshape(v.shape[0], -1), dtype=dtype, device=device)
    if chunk_size == "auto":
        chunk_size = _auto_chunk(Y_t.shape[0], Y_t.element_size(), device)
    if kernel == "rbf":
        center = Y_t.mean(dim=0)
        X_t, Y_t = X_t - center, Y_t - center
        y_sq = Y_t.square().sum(dim=1)
    out = []
    for start in range(0, X_t.shape[0], chunk_size):
        x = X_t[start : start + chunk_size]
        if kernel == "linear":
            block = x @ Y_t.T
        elif kernel == "rbf":
            sq = torch.addmm(y_sq.unsqueeze(0), x, Y_t.T, alpha=-2.0)
            sq += x.square().sum(dim=1, keepdim=True)
            block = torch.exp(-gamma * sq.clamp_(min=0))
        else:
            block = torch.exp(-gamma * torch.cdist(x, Y_t, p=1))
        out.append((block @ v_t).cpu())
    result = torch.cat(out).double().numpy() if out else np.zeros((0, v_t.shape[1]))
    return result[:, 0] if one_d else result
