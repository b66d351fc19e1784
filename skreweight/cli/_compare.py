"""Paired significance tests and plots for ``skreweight benchmark``.

Every strategy is compared with the baseline on the same folds, so the
per-fold scores are paired. The tests account for the overlap of training
sets (Nadeau-Bengio correction, 5x2cv design, Bayesian correlated t-test),
and the p-values of the family of comparisons are Holm-adjusted.
"""

import numpy as np

from skreweight.model_selection import (
    adjust_pvalues,
    bayesian_correlated_ttest,
    combined_ftest_5x2cv,
    corrected_resampled_ttest,
)

__all__ = ["TESTS", "compare_to_baseline", "score_matrix", "write_plots"]

TESTS = ("corrected-t", "5x2cv-f", "bayes", "none")


def score_matrix(rows, strategies, metric):
    """Scores as an array of shape (n_splits, n_strategies), splits in order."""
    n_splits = 1 + max(row["split"] for row in rows)
    matrix = np.full((n_splits, len(strategies)), np.nan)
    column = {name: j for j, name in enumerate(strategies)}
    for row in rows:
        matrix[row["split"], column[row["strategy"]]] = row[metric]
    return matrix


def compare_to_baseline(rows, strategies, *, metric, baseline, test, cv, rope=0.01):
    """Test every strategy against ``baseline`` on ``metric``.

    Returns a dict ``strategy -> comparison`` (the baseline has none). Each
    comparison holds the mean paired difference, and for the frequentist
    tests its p-value (raw and Holm-adjusted) and, for the corrected t-test,
    a 95 % confidence interval; for ``"bayes"`` the posterior probabilities
    that the strategy is better, practically equivalent (within ``rope``) or
    worse.
    """
    if test == "none" or len(strategies) < 2:
        return {}
    scores = score_matrix(rows, strategies, metric)
    b = strategies.index(baseline)
    ratio = 1.0 / (cv - 1)
    comparisons = {}
    for j, name in enumerate(strategies):
        if j == b:
            continue
        diff = scores[:, j] - scores[:, b]
        entry = {"mean_difference": float(diff.mean())}
        if test == "corrected-t":
            result = corrected_resampled_ttest(
                scores[:, j], scores[:, b], test_train_ratio=ratio
            )
            entry["pvalue"] = float(result.pvalue)
            ci = result.details.get("ci")
            if ci is not None:
                entry["ci_low"], entry["ci_high"] = (float(v) for v in ci)
            entry["method"] = result.method
        elif test == "5x2cv-f":
            result = combined_ftest_5x2cv(
                scores[:, j].reshape(5, 2), scores[:, b].reshape(5, 2)
            )
            entry["pvalue"] = float(result.pvalue)
            entry["method"] = result.method
        else:
            result = bayesian_correlated_ttest(
                scores[:, j], scores[:, b], test_train_ratio=ratio, rope=rope
            )
            entry.update(
                p_better=float(result.p_better),
                p_rope=float(result.p_rope),
                p_worse=float(result.p_worse),
                method="Bayesian correlated t",
            )
        comparisons[name] = entry
    if test != "bayes" and comparisons:
        names = list(comparisons)
        adjusted = adjust_pvalues([comparisons[n]["pvalue"] for n in names])
        for name, p in zip(names, np.atleast_1d(adjusted)):
            comparisons[name]["pvalue_holm"] = float(p)
    return comparisons


def comparison_columns(comparisons, test):
    """Header and per-strategy cells that extend the ranked table."""
    if not comparisons:
        return [], {}
    if test == "bayes":
        header = ["Δ", "P(better)", "P(rope)", "P(worse)"]
        cells = {
            name: [
                f"{c['mean_difference']:+.3f}",
                f"{c['p_better']:.2f}",
                f"{c['p_rope']:.2f}",
                f"{c['p_worse']:.2f}",
            ]
            for name, c in comparisons.items()
        }
    else:
        header = ["Δ", "95% CI"] if test == "corrected-t" else ["Δ"]
        header += ["p (Holm)"]
        cells = {}
        for name, c in comparisons.items():
            row = [f"{c['mean_difference']:+.3f}"]
            if test == "corrected-t":
                row.append(
                    f"[{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]"
                    if "ci_low" in c
                    else "-"
                )
            row.append(_format_p(c["pvalue_holm"]))
            cells[name] = row
    return header, cells


def _format_p(p):
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def write_plots(directory, rows, strategies, *, metric, baseline, cv):
    """Write the critical-difference and paired-difference plots as PNG.

    Returns the written file names, or a message saying why none were made.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return 'plots skipped: matplotlib is missing (pip install "skreweight[plot]")'
    from skreweight.model_selection import (
        plot_critical_difference,
        plot_paired_differences,
    )

    scores = score_matrix(rows, strategies, metric)
    written = []
    if len(strategies) >= 3:
        fig, ax = plt.subplots(figsize=(7, 2.5 + 0.2 * len(strategies)))
        plot_critical_difference(scores, names=strategies, ax=ax)
        ax.set_title(f"Critical difference ({metric}, folds as blocks)")
        fig.savefig(directory / "critical_difference.png", dpi=120, bbox_inches="tight")
        plt.close(fig)
        written.append("critical_difference.png")
    if len(strategies) >= 2:
        fig, ax = plt.subplots(figsize=(7, 1.5 + 0.5 * len(strategies)))
        plot_paired_differences(
            scores,
            baseline=strategies.index(baseline),
            names=strategies,
            test_train_ratio=1.0 / (cv - 1),
            ax=ax,
        )
        ax.set_title(f"{metric}: difference to {baseline} per fold (corrected 95% CI)")
        fig.savefig(directory / "paired_differences.png", dpi=120, bbox_inches="tight")
        plt.close(fig)
        written.append("paired_differences.png")
    return written
