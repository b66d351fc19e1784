"""
=====================================================
Is the gain real? Comparing imbalance strategies
=====================================================

Class weights and oversampling often raise the balanced accuracy of a
classifier on imbalanced data, but cross-validation scores are noisy and
correlated. This example compares four strategies on the same splits,
tests each one against the baseline with the Nadeau-Bengio corrected
t-test and the Bayesian correlated t-test, adjusts the p-values for
multiple testing, and draws a critical-difference diagram.
"""

# %%
# Data and strategies
# -------------------
# A synthetic binary problem with 10 % positives. The resampler lives inside
# an imbalanced-learn ``Pipeline`` and the reweighter inside a
# :class:`~skreweight.ReweightedEstimator`, so both are fitted on the
# training folds only.
import matplotlib.pyplot as plt
import numpy as np
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import make_pipeline
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.tree import DecisionTreeClassifier

from skreweight import ReweightedEstimator
from skreweight.model_selection import (
    adjust_pvalues,
    bayesian_correlated_ttest,
    bootstrap_632_score,
    corrected_resampled_ttest,
    friedman_test,
    paired_cross_val_scores,
    plot_critical_difference,
    plot_paired_differences,
)
from skreweight.weighting import ClassWeights

X, y = make_classification(
    n_samples=600, n_features=8, n_informative=4, weights=[0.9], random_state=0
)
strategies = {
    "none": LogisticRegression(),
    "class weights": ReweightedEstimator(LogisticRegression(), ClassWeights()),
    "oversampling": make_pipeline(
        RandomOverSampler(random_state=0), LogisticRegression()
    ),
    "tree": DecisionTreeClassifier(max_depth=4, random_state=0),
}

# %%
# Paired scores
# -------------
# One set of splits (5-fold CV repeated 4 times) for every strategy, so the
# scores of each row are paired.
cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=4, random_state=0)
res = paired_cross_val_scores(strategies, X, y, cv=cv, scoring="balanced_accuracy")
for name, mean in zip(res.names, res.scores.mean(axis=0)):
    print(f"{name:>14}: {mean:.3f}")

# %%
# Each strategy against the baseline
# ----------------------------------
# The corrected t-test inflates the variance by ``n_test / n_train`` because
# the training sets of the folds overlap; Holm's correction accounts for the
# three comparisons. The Bayesian test reports the probability that the
# strategy is better by more than one point of balanced accuracy.
pvalues, rows = [], []
for j, name in enumerate(res.names[1:], start=1):
    test = corrected_resampled_ttest(
        res.scores[:, j], res.scores[:, 0], test_train_ratio=res.test_train_ratio
    )
    bayes = bayesian_correlated_ttest(
        res.scores[:, j],
        res.scores[:, 0],
        test_train_ratio=res.test_train_ratio,
        rope=0.01,
    )
    pvalues.append(test.pvalue)
    rows.append((name, test.statistic, bayes.p_better, bayes.p_rope))
for (name, t, better, rope), p in zip(rows, adjust_pvalues(pvalues)):
    print(
        f"{name:>14}: t={t:6.2f}  Holm p={p:.4f}  P(better)={better:.2f}  "
        f"P(rope)={rope:.2f}"
    )

# %%
# Differences with their intervals
# --------------------------------
ax = plot_paired_differences(
    res.scores,
    baseline="none",
    names=res.names,
    test_train_ratio=res.test_train_ratio,
)
plt.tight_layout()

# %%
# Critical-difference diagram
# ---------------------------
# Rows are CV folds here, not independent datasets, so read the diagram as a
# description of the ranks rather than as a formal test.
print(friedman_test(res.scores))
disp = plot_critical_difference(res.scores, names=res.names)
plt.show()

# %%
# A bootstrap estimate of the best strategy
# -----------------------------------------
# The .632+ bootstrap uses all the data for a performance estimate;
# stratified bootstrap rounds keep the 10 % of positives in every round.
boot = bootstrap_632_score(
    strategies["class weights"],
    X,
    y,
    method=".632+",
    scoring="balanced_accuracy",
    n_splits=50,
    n_permutations=20,
    random_state=0,
)
print(
    f".632+ balanced accuracy of class weights: {boot.score:.3f} "
    f"(apparent {boot.apparent_score:.3f}, out-of-bag {boot.oob_score:.3f})"
)
print(
    "per-round spread (resampling only):",
    np.percentile(boot.round_scores, [2.5, 97.5]).round(3),
)
