"""Plots: critical-difference diagram and paired score differences.

matplotlib is imported only when a plot is drawn; it comes with the ``plot``
extra (``pip install "skreweight[plot]"``).
"""

from numbers import Real

import numpy as np

from skreweight.model_selection._tests import (
    _check_score_matrix,
    corrected_resampled_ttest,
    critical_difference,
    nemenyi_test,
    wilcoxon_holm_test,
)
from skreweight.utils._sklearn_fixes import Interval, StrOptions, validate_params

__all__ = [
    "CriticalDifferenceDisplay",
    "plot_critical_difference",
    "plot_paired_differences",
]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "Plotting needs matplotlib; install it with "
            '`pip install "skreweight[plot]"`.'
        ) from exc
    return plt


def _cliques(ranks, significant):
    """Maximal runs of rank-adjacent models with no significant pair.

    ``ranks`` are sorted ascending; ``significant[i, j]`` refers to that order.
    Returns ``(start, end)`` position pairs with ``end > start``.
    """
    k = len(ranks)
    runs = []
    for start in range(k):
        end = start
        while end + 1 < k and not significant[start : end + 2, start : end + 2].any():
            end += 1
        if end > start:
            runs.append((start, end))
    maximal = [
        (a, b)
        for a, b in runs
        if not any((c <= a and b <= d) and (c, d) != (a, b) for c, d in runs)
    ]
    return sorted(set(maximal))


def _levels(cliques):
    """Greedy interval colouring: bars on one level never overlap."""
    ends, levels = [], []
    for start, end in cliques:
        for level, last in enumerate(ends):
            if start > last:
                ends[level] = end
                levels.append(level)
                break
        else:
            ends.append(end)
            levels.append(len(ends) - 1)
    return levels


class CriticalDifferenceDisplay:
    """Critical-difference diagram of average ranks (Demsar, 2006).

    Models are placed on an axis of average rank (1 = best); a thick bar
    joins every maximal group of rank-adjacent models among which no pair
    differs significantly. Build it with :meth:`from_scores`.

    Parameters
    ----------
    average_ranks : ndarray of shape (n_models,)
        Average rank of each model (1 = best).

    names : list of str
        Model names.

    cliques : list of tuple
        Groups of models that do not differ, as ``(start, end)`` positions
        in rank order.

    critical_difference : float or None
        Nemenyi critical difference (``None`` for the Wilcoxon-Holm test).

    test : str
        Post-hoc test used.

    Attributes
    ----------
    ax_ : matplotlib Axes
        Axes with the diagram.

    figure_ : matplotlib Figure
        Figure containing the diagram.

    See Also
    --------
    plot_critical_difference : The function form.
    nemenyi_test : The pairwise test behind the bars.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.model_selection import CriticalDifferenceDisplay
    >>> rng = np.random.RandomState(0)
    >>> scores = rng.rand(20, 4) + [0.0, 0.1, 0.5, 1.0]
    >>> disp = CriticalDifferenceDisplay.from_scores(scores, names=list("abcd"))
    >>> disp.cliques
    [(0, 1), (2, 3)]
    """

    def __init__(self, average_ranks, names, cliques, critical_difference, test):
        self.average_ranks = average_ranks
        self.names = names
        self.cliques = cliques
        self.critical_difference = critical_difference
        self.test = test

    @classmethod
    def from_scores(cls, scores, *, names=None, alpha=0.05, test="nemenyi", ax=None):
        """Compute the post-hoc test on a score matrix and draw the diagram.

        Parameters
        ----------
        scores : array-like of shape (n_datasets, n_models)
            Greater-is-better scores: rows are datasets or folds, columns are
            models (e.g. ``paired_cross_val_scores(...).scores``).

        names : list of str, default=None
            Model names; defaults to ``model 0``, ``model 1``, ...

        alpha : float, default=0.05
            Significance level.

        test : {"nemenyi", "wilcoxon-holm"}, default="nemenyi"
            Post-hoc test that decides which models are joined.

        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created if None.

        Returns
        -------
        display : CriticalDifferenceDisplay
            The display, with the diagram drawn.
        """
        return _cd_display(scores, names, alpha, test, ax)

    def plot(self, ax=None):
        """Draw the diagram.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is created if None.

        Returns
        -------
        display : CriticalDifferenceDisplay
            The display, with ``ax_`` and ``figure_`` set.
        """
        plt = _pyplot()
        k = len(self.names)
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 1.2 + 0.3 * k))
        order = np.argsort(self.average_ranks, kind="stable")
        ranks = np.asarray(self.average_ranks)[order]
        levels = _levels(self.cliques)
        n_levels = max(levels, default=-1) + 1
        labels = [f"{self.names[i]} ({self.average_ranks[i]:.2f})" for i in order]
        longest = min(max(len(label) for label in labels), 30)
        # room for the labels beside the axis, in rank units (7-inch figure)
        margin = 0.3 + longest * (k - 1) / max(77 - 2.2 * longest, 10)
        ax.set_xlim(1 - margin, k + margin)
        ax.hlines(0, 1, k, color="black", lw=1)
        for r in range(1, k + 1):
            ax.vlines(r, 0, 0.1, color="black", lw=1)
            ax.text(r, 0.15, str(r), ha="center", va="bottom", fontsize=9)
        half = (k + 1) // 2
        for pos, (idx, rank) in enumerate(zip(order, ranks)):
            left = pos < half
            row = pos if left else k - 1 - pos
            y = -(0.4 + 0.3 * n_levels + 0.35 * row)
            x_end = 0.9 if left else k + 0.1
            ax.plot([rank, rank, x_end], [0, y, y], color="black", lw=0.8)
            ax.text(
                x_end + (-0.05 if left else 0.05),
                y,
                f"{self.names[idx]} ({rank:.2f})",
                ha="right" if left else "left",
                va="center",
                fontsize=9,
            )
        for (start, end), level in zip(self.cliques, levels):
            y = -(0.2 + 0.3 * level)
            ax.plot(
                [ranks[start] - 0.03, ranks[end] + 0.03],
                [y, y],
                color="black",
                lw=4,
                solid_capstyle="round",
            )
        if self.critical_difference is not None:
            ax.plot([1, 1 + self.critical_difference], [0.55, 0.55], color="black")
            ax.text(
                1 + self.critical_difference / 2,
                0.6,
                f"CD = {self.critical_difference:.2f}",
                ha="center",
                va="bottom",
                fontsize=9,
            )
        ax.set_ylim(-(0.6 + 0.3 * n_levels + 0.35 * half), 0.9)
        ax.axis("off")
        self.ax_, self.figure_ = ax, ax.figure
        return self


def _cd_display(scores, names, alpha, test, ax):
    scores = _check_score_matrix(scores, "plot_critical_difference")
    n, k = scores.shape
    names = [f"model {i}" for i in range(k)] if names is None else list(names)
    if len(names) != k:
        raise ValueError(
            f"names has {len(names)} entries but scores has {k} columns (models)."
        )
    if test == "nemenyi":
        result = nemenyi_test(scores, alpha=alpha)
        cd = critical_difference(k, n, alpha=alpha)
    elif test == "wilcoxon-holm":
        result = wilcoxon_holm_test(scores, alpha=alpha)
        cd = None
    else:
        raise ValueError(f"test must be 'nemenyi' or 'wilcoxon-holm'; got {test!r}.")
    avg = result.details["average_ranks"]
    order = np.argsort(avg, kind="stable")
    significant = result.details["significant"][np.ix_(order, order)]
    cliques = _cliques(avg[order], significant)
    display = CriticalDifferenceDisplay(avg, names, cliques, cd, test)
    return display.plot(ax=ax)


@validate_params(
    {
        "scores": ["array-like"],
        "names": [list, None],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "test": [StrOptions({"nemenyi", "wilcoxon-holm"})],
        "ax": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def plot_critical_difference(
    scores, *, names=None, alpha=0.05, test="nemenyi", ax=None
):
    """Draw a critical-difference diagram from a score matrix.

    Models are placed by average rank (1 = best); bars join the groups of
    models that the post-hoc test cannot tell apart.

    Parameters
    ----------
    scores : array-like of shape (n_datasets, n_models)
        Greater-is-better scores: rows are datasets or CV folds, columns are
        models or strategies.

    names : list of str, default=None
        Model names.

    alpha : float, default=0.05
        Significance level.

    test : {"nemenyi", "wilcoxon-holm"}, default="nemenyi"
        Post-hoc test deciding which models are joined by a bar.

    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure is created if None.

    Returns
    -------
    display : CriticalDifferenceDisplay
        The display; ``display.figure_.savefig(path)`` writes the image.

    See Also
    --------
    CriticalDifferenceDisplay : The display object.
    friedman_test : The omnibus test to report with the diagram.

    Notes
    -----
    With CV folds as rows the folds are not independent datasets; read the
    diagram as descriptive.

    References
    ----------
    .. [1] Demsar, J. (2006). Statistical comparisons of classifiers over
       multiple data sets. JMLR, 7, 1-30.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.model_selection import plot_critical_difference
    >>> rng = np.random.RandomState(0)
    >>> scores = rng.rand(20, 3) + [0.0, 0.05, 1.0]
    >>> disp = plot_critical_difference(scores, names=["a", "b", "c"])
    >>> disp.cliques
    [(1, 2)]
    """
    return _cd_display(scores, names, alpha, test, ax)


@validate_params(
    {
        "scores": ["array-like"],
        "baseline": [Interval(Real, 0, None, closed="left"), str],
        "names": [list, None],
        "test_train_ratio": [Interval(Real, 0, None, closed="left")],
        "confidence_level": [Interval(Real, 0, 1, closed="neither")],
        "ax": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def plot_paired_differences(
    scores,
    *,
    baseline=0,
    names=None,
    test_train_ratio=0.0,
    confidence_level=0.95,
    ax=None,
):
    """Plot per-split score differences to a baseline with confidence intervals.

    For every model other than the baseline, the per-split differences
    ``score(model) - score(baseline)`` are drawn as points, with their mean
    and the (corrected) t interval of :func:`corrected_resampled_ttest`.

    Parameters
    ----------
    scores : array-like of shape (n_splits, n_models)
        Paired per-split scores (e.g. ``paired_cross_val_scores(...).scores``).

    baseline : int or str, default=0
        Column (or name in ``names``) of the baseline model.

    names : list of str, default=None
        Model names.

    test_train_ratio : float, default=0.0
        ``n_test / n_train`` of the splits, for the Nadeau-Bengio correction
        (``paired_cross_val_scores(...).test_train_ratio``); 0 gives the
        uncorrected interval.

    confidence_level : float, default=0.95
        Level of the intervals.

    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure is created if None.

    Returns
    -------
    ax : matplotlib Axes
        The axes with the plot.

    See Also
    --------
    corrected_resampled_ttest : The interval drawn.
    plot_critical_difference : Rank-based comparison of many models.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.model_selection import plot_paired_differences
    >>> rng = np.random.RandomState(0)
    >>> scores = rng.normal(0.8, 0.02, size=(30, 3)) + [0.0, 0.01, 0.03]
    >>> ax = plot_paired_differences(scores, names=["base", "a", "b"],
    ...                              test_train_ratio=1 / 9)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['a', 'b']
    """
    plt = _pyplot()
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] < 2 or scores.shape[0] < 2:
        raise ValueError(
            "scores must have shape (n_splits, n_models) with at least 2 splits "
            f"and 2 models; got {scores.shape}."
        )
    k = scores.shape[1]
    names = [f"model {i}" for i in range(k)] if names is None else list(names)
    if len(names) != k:
        raise ValueError(f"names has {len(names)} entries for {k} models.")
    if isinstance(baseline, str):
        if baseline not in names:
            raise ValueError(f"baseline {baseline!r} is not one of names {names}.")
        baseline = names.index(baseline)
    if baseline >= k:
        raise ValueError(f"baseline={baseline} but scores has {k} columns.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.6 + 0.5 * (k - 1)))
    others = [j for j in range(k) if j != baseline]
    rng = np.random.RandomState(0)
    for row, j in enumerate(others):
        d = scores[:, j] - scores[:, baseline]
        jitter = rng.uniform(-0.15, 0.15, d.size)
        ax.scatter(d, row + jitter, s=8, alpha=0.4, color="C0")
        mean = d.mean()
        if np.var(d, ddof=1) > 0:
            ci = corrected_resampled_ttest(
                d, test_train_ratio=test_train_ratio, confidence_level=confidence_level
            ).details["ci"]
        else:
            ci = (mean, mean)
        ax.errorbar(
            mean,
            row,
            xerr=[[mean - ci[0]], [ci[1] - mean]],
            fmt="o",
            color="C3",
            capsize=4,
        )
    ax.axvline(0, color="grey", ls="--", lw=1)
    ax.set_yticks(range(len(others)))
    ax.set_yticklabels([names[j] for j in others])
    level = int(round(100 * confidence_level))
    ax.set_xlabel(
        f"score difference to {names[baseline]} (mean, {level}% "
        f"{'corrected ' if test_train_ratio else ''}t interval)"
    )
    return ax
