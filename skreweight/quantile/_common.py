"""Validation helpers shared by the quantile estimators and metrics."""

import numbers

import numpy as np

__all__ = []

#: The default 19-level grid 0.05, 0.10, ..., 0.95.
DEFAULT_QUANTILES = tuple(np.round(np.arange(1, 20) / 20, 10).tolist())

# Two levels form a central pair when tau + tau' = 1 up to this tolerance:
# ``np.arange(0.05, 1, 0.05)`` holds 0.15000000000000002.
PAIR_TOL = 1e-9


def check_quantiles(quantiles, name="quantiles"):
    """Validate quantile levels and return them sorted as a float array.

    Levels must be finite, lie strictly inside (0, 1) and be distinct.
    Unsorted levels are sorted (no warning: column order follows the sorted
    levels and is documented).
    """
    if quantiles is None:
        return np.asarray(DEFAULT_QUANTILES, dtype=float)
    if isinstance(quantiles, numbers.Real):
        quantiles = [quantiles]
    try:
        levels = np.asarray(quantiles, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a float or a 1-D sequence of floats in (0, 1); "
            f"got {quantiles!r}."
        ) from exc
    if levels.ndim != 1 or levels.size == 0:
        raise ValueError(
            f"{name} must be a float or a non-empty 1-D sequence of floats in "
            f"(0, 1); got shape {levels.shape}."
        )
    if not np.all(np.isfinite(levels)) or np.any(levels <= 0) or np.any(levels >= 1):
        raise ValueError(
            f"{name} must lie strictly between 0 and 1; got {levels.tolist()}."
        )
    levels = np.sort(levels)
    if np.any(np.diff(levels) <= PAIR_TOL):
        raise ValueError(
            f"{name} must be distinct; got duplicated levels in {levels.tolist()}. "
            "Remove the duplicates."
        )
    return levels


def central_pairs(quantiles):
    """Index pairs ``(lo, hi)`` with ``tau_lo + tau_hi = 1`` and ``tau_lo < .5``.

    Returned from the widest (smallest ``tau_lo``) to the narrowest.
    """
    quantiles = np.asarray(quantiles)
    pairs = []
    for i, tau in enumerate(quantiles):
        if tau >= 0.5 - PAIR_TOL:
            break
        match = np.flatnonzero(np.abs(quantiles + tau - 1) <= PAIR_TOL)
        if match.size:
            pairs.append((i, int(match[0])))
    return pairs


def median_index(quantiles):
    """Index of the level 0.5 in ``quantiles``, or None."""
    match = np.flatnonzero(np.abs(np.asarray(quantiles) - 0.5) <= PAIR_TOL)
    return int(match[0]) if match.size else None


def check_coverage(coverage, name="coverage"):
    """Validate one or several coverages in (0, 1); return a 1-D array."""
    scalar = isinstance(coverage, numbers.Real)
    values = np.atleast_1d(np.asarray(coverage, dtype=float))
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"{name} must be a float or a 1-D sequence of floats.")
    if not np.all(np.isfinite(values)) or np.any(values <= 0) or np.any(values >= 1):
        raise ValueError(
            f"{name} must lie strictly between 0 and 1 (e.g. 0.9 for a 90% "
            f"interval); got {values.tolist()}."
        )
    return values, scalar


def coverage_to_levels(coverage):
    """Levels ``((1 - c) / 2, (1 + c) / 2)`` of each coverage ``c``."""
    coverage = np.asarray(coverage, dtype=float)
    return np.round((1 - coverage) / 2, 12), np.round((1 + coverage) / 2, 12)


def find_pair(quantiles, coverage):
    """Column indices of the central pair of ``coverage`` in ``quantiles``."""
    lo_level, hi_level = coverage_to_levels(coverage)
    quantiles = np.asarray(quantiles)
    lo = np.flatnonzero(np.abs(quantiles - lo_level) <= PAIR_TOL)
    hi = np.flatnonzero(np.abs(quantiles - hi_level) <= PAIR_TOL)
    if lo.size == 0 or hi.size == 0:
        available = [
            f"{round(1 - 2 * quantiles[i], 10)} ({quantiles[i]}, {quantiles[j]})"
            for i, j in central_pairs(quantiles)
        ]
        raise ValueError(
            f"coverage={coverage} needs the levels ({lo_level}, {hi_level}), "
            f"which the model does not predict. Available coverages (pairs): "
            f"{available or 'none'}."
        )
    return int(lo[0]), int(hi[0])
