"""Model evaluation, selection and algorithm comparison.

Splitters usable as ``cv=`` anywhere in scikit-learn, the .632/.632+
bootstrap, statistical tests on scores or predictions that return
:class:`TestResult` objects, confidence intervals, estimator-level paired
comparisons and nested cross-validation, and plots (with the ``plot`` extra).
"""

from skreweight.model_selection._bootstrap632 import bootstrap_632_score
from skreweight.model_selection._ci import (
    accuracy_ci,
    bootstrap_score_ci,
    delong_roc_test,
    roc_auc_ci,
)
from skreweight.model_selection._compare import (
    compare_estimators,
    nested_cross_validate,
    paired_cross_val_scores,
)
from skreweight.model_selection._plot import (
    CriticalDifferenceDisplay,
    plot_critical_difference,
    plot_paired_differences,
)
from skreweight.model_selection._results import (
    BayesianComparisonResult,
    Bootstrap632Result,
    ConfidenceInterval,
    TestResult,
)
from skreweight.model_selection._split import (
    BootstrapOutOfBag,
    FiveByTwoSplit,
    RepeatedHoldout,
    StratifiedBootstrapOutOfBag,
)
from skreweight.model_selection._tests import (
    adjust_pvalues,
    bayesian_correlated_ttest,
    cochrans_q,
    combined_ftest_5x2cv,
    corrected_resampled_ttest,
    critical_difference,
    friedman_test,
    looney_ftest,
    mcnemar,
    mcnemar_table,
    nemenyi_test,
    paired_ttest_5x2cv,
    proportion_difference_test,
    wilcoxon_holm_test,
)

__all__ = [
    "BayesianComparisonResult",
    "Bootstrap632Result",
    "BootstrapOutOfBag",
    "ConfidenceInterval",
    "CriticalDifferenceDisplay",
    "FiveByTwoSplit",
    "RepeatedHoldout",
    "StratifiedBootstrapOutOfBag",
    "TestResult",
    "accuracy_ci",
    "adjust_pvalues",
    "bayesian_correlated_ttest",
    "bootstrap_632_score",
    "bootstrap_score_ci",
    "cochrans_q",
    "combined_ftest_5x2cv",
    "compare_estimators",
    "corrected_resampled_ttest",
    "critical_difference",
    "delong_roc_test",
    "friedman_test",
    "looney_ftest",
    "mcnemar",
    "mcnemar_table",
    "nemenyi_test",
    "nested_cross_validate",
    "paired_cross_val_scores",
    "paired_ttest_5x2cv",
    "plot_critical_difference",
    "plot_paired_differences",
    "proportion_difference_test",
    "roc_auc_ci",
    "wilcoxon_holm_test",
]
