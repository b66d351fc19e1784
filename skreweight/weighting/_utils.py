"""Private helpers shared by the balancing reweighters and the diagnostics."""

from numbers import Real

import numpy as np
from sklearn.kernel_approximation import Nystroem, RBFSampler
from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS, pairwise_kernels
from sklearn.utils import check_random_state

from skreweight.utils._sklearn_fixes import Interval, StrOptions

ESTIMANDS = ("ATT", "ATC", "ATE")

KERNEL_CONSTRAINT = [StrOptions(set(PAIRWISE_KERNEL_FUNCTIONS)), callable]
GAMMA_CONSTRAINT = [
    StrOptions({"median"}),
    Interval(Real, 0, None, closed="neither"),
    None,
]

# Rows of a kernel block computed at once: bounds the memory of kernel sums.
BLOCK_ROWS = 2048


def group_problems(t, estimand):
    """Return ``[(group, source_mask, target_mask), ...]`` for ``estimand``.

    ``group`` is the value of ``t`` of the reweighted rows; the target rows
    are those whose weighted mean the reweighted rows must match.
    """
    treated = t == 1
    control = ~treated
    everyone = np.ones_like(treated)
    if estimand == "ATT":
        return [(0, control, treated)]
    if estimand == "ATC":
        return [(1, treated, control)]
    return [(1, treated, everyone), (0, control, everyone)]


def check_groups_have_mass(t, sample_weight, owner):
    """Raise if a group has no rows or zero total ``sample_weight``."""
    for g in (0, 1):
        mass = sample_weight[t == g].sum()
        if not mass > 0:
            raise ValueError(
                f"{owner} needs rows with positive sample_weight in both groups; "
                f"group t={g} has total sample_weight {mass}. Check y and "
                "sample_weight."
            )


def weighted_standardizer(X, sample_weight):
    """Pooled ``sample_weight``-weighted mean and SD of every column.

    Constant columns get an SD of 1 so that they stay finite.
    """
    total = sample_weight.sum()
    mean = sample_weight @ X / total
    var = sample_weight @ (X - mean) ** 2 / total
    scale = np.sqrt(var)
    scale[~(scale > 1e-12 * (1.0 + np.abs(mean)))] = 1.0
    return mean, scale


def median_gamma(Z, random_state, max_rows=1000):
    """``1 / median ||z - z'||^2`` over a seeded subsample of the rows of ``Z``."""
    rng = check_random_state(random_state)
    if Z.shape[0] > max_rows:
        Z = Z[rng.choice(Z.shape[0], max_rows, replace=False)]
    sq = np.sum(Z**2, axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * Z @ Z.T
    d2 = d2[np.triu_indices(Z.shape[0], k=1)]
    d2 = d2[d2 > 1e-12]
    if d2.size == 0:
        return 1.0
    return 1.0 / float(np.median(d2))


def resolve_gamma(gamma, kernel, Z, random_state):
    """The kernel width actually used: ``"median"`` resolved on ``Z``."""
    if callable(kernel):
        return None
    if gamma == "median":
        return median_gamma(Z, random_state)
    return gamma


def kernel_fn(kernel, gamma):
    """A function ``(A, B) -> K(A, B)`` for the validated kernel parameters."""
    if callable(kernel):
        return lambda A, B: pairwise_kernels(A, B, metric=kernel)
    return lambda A, B: pairwise_kernels(
        A, B, metric=kernel, filter_params=True, gamma=gamma
    )


DEVICE_KERNELS = ("rbf", "laplacian", "linear")


def device_matvec(kernel, gamma, device, owner):
    """``(A, B, v) -> K(A, B) @ v`` on a torch ``device``, or ``None``.

    ``None`` when ``device`` is ``None`` (numpy). Otherwise a function backed
    by :func:`skreweight.torch.kernel_matvec` (chunked, never storing the
    kernel), with an attribute ``rtol``: the relative precision of its
    products (float64 on the CPU, float32 on accelerators). Torch is imported
    here, lazily; its absence raises an ``ImportError`` naming the extra.
    """
    if device is None:
        return None
    if callable(kernel) or kernel not in DEVICE_KERNELS:
        raise ValueError(
            f"{owner}(device={device!r}) computes kernels with torch, which "
            f"supports kernel in {DEVICE_KERNELS}; got kernel={kernel!r}. Use "
            "device=None for other kernels."
        )
    try:
        from skreweight.torch import kernel_matvec
        from skreweight.torch._base import _resolve_device
    except ImportError as exc:
        raise ImportError(
            f"{owner}(device={device!r}) needs PyTorch: pip install "
            "'skreweight[torch]', or use device=None (numpy)."
        ) from exc
    resolved = _resolve_device(device)

    def matvec(A, B, v):
        return kernel_matvec(A, B, v, kernel=kernel, gamma=gamma, device=resolved)

    matvec.rtol = 1e-10 if resolved.type == "cpu" else 1e-5
    return matvec


def kernel_row_means(kfun, A, B, weights, block=BLOCK_ROWS, matvec=None):
    """``sum_j weights_j k(a_i, b_j) / sum_j weights_j`` for every row ``a_i``.

    Computed in blocks of rows of ``B`` so that memory stays ``O(n_A * block)``,
    or by ``matvec`` (see :func:`device_matvec`) when given.
    """
    if matvec is not None:
        return matvec(A, B, weights) / weights.sum()
    out = np.zeros(A.shape[0])
    for start in range(0, B.shape[0], block):
        stop = start + block
        out += kfun(A, B[start:stop]) @ weights[start:stop]
    return out / weights.sum()


def kernel_features(approximation, kernel, gamma, n_components, Z, random_state):
    """Fit a low-rank kernel feature map on the rows ``Z`` and return it."""
    if approximation == "rff":
        if kernel != "rbf":
            raise ValueError(
                "approximation='rff' needs kernel='rbf' (random Fourier features "
                f"approximate the Gaussian kernel only); got kernel={kernel!r}. "
                "Use approximation='nystroem' for other kernels."
            )
        mapper = RBFSampler(
            gamma=gamma, n_components=n_components, random_state=random_state
        )
    else:
        params = {} if callable(kernel) else {"gamma": gamma}
        mapper = Nystroem(
            kernel=kernel,
            n_components=min(n_components, Z.shape[0]),
            random_state=random_state,
            **params,
        )
    return mapper.fit(Z)


def cap_and_normalize(w, cap, total, max_rounds=100):
    """Scale ``w`` to sum to ``total`` with every entry at most ``cap``.

    Entries above their cap are fixed at the cap and the others are scaled up;
    this repeats until no entry exceeds its cap. ``cap`` may be an array.
    """
    w = np.asarray(w, dtype=float).copy()
    cap = np.broadcast_to(np.asarray(cap, dtype=float), w.shape)
    if cap.sum() < total * (1 - 1e-12):
        raise ValueError(
            "max_weight is too small: the capped weights cannot sum to the "
            "group's total sample_weight. Increase max_weight."
        )
    fixed = np.zeros(w.shape, dtype=bool)
    for _ in range(max_rounds):
        free_sum = w[~fixed].sum()
        rest = total - cap[fixed].sum()
        if free_sum <= 0:
            # Nothing left to scale: spread the rest in proportion to the caps.
            w[~fixed] = cap[~fixed] * rest / cap[~fixed].sum()
            break
        w[~fixed] *= rest / free_sum
        over = (~fixed) & (w > cap)
        if not over.any():
            break
        fixed |= over
        w[fixed] = cap[fixed]
    return np.minimum(w, cap)


def groups_for_new_rows(reweighter, y, n_rows):
    """Map the ``y`` given to ``compute_weights`` to 0/1 groups."""
    if y is None:
        if reweighter.estimand == "ATE":
            raise ValueError(
                "compute_weights needs y (the group of every row) when "
                "estimand='ATE', because both groups are reweighted."
            )
        return np.full(n_rows, 0 if reweighter.estimand == "ATT" else 1)
    y = np.asarray(y)
    if y.shape != (n_rows,):
        raise ValueError(f"y must have shape ({n_rows},); got {y.shape}.")
    unseen = np.setdiff1d(np.unique(y), reweighter.groups_)
    if unseen.size:
        raise ValueError(
            f"y contains values not seen during fit: {unseen[:5].tolist()}; "
            f"expected values in {reweighter.groups_.tolist()}."
        )
    return (y == reweighter.groups_[1]).astype(np.int64)
