"""
==================================================
Tuning class weights with ReweightedEstimator
==================================================

A reweighter computes ``sample_weight`` on the training rows; wrapping it with
the estimator in a :class:`~skreweight.ReweightedEstimator` makes the pair one
scikit-learn estimator, so the weighting scheme becomes a hyper-parameter that
``GridSearchCV`` tunes like any other — and the weights are recomputed on each
training fold only.
"""

# %%
# An imbalanced problem
# ---------------------
# 5 % of the rows are in the positive class, with some class overlap.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreweight import ReweightedEstimator
from skreweight.datasets import make_imbalanced_classification
from skreweight.weighting import ClassWeights

X, y = make_imbalanced_classification(
    n_samples=4000, n_features=10, imbalance_ratio=19, class_sep=0.5, random_state=0
)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, stratify=y, test_size=0.5, random_state=0
)
print("class counts:", np.bincount(y_train))

# %%
# The reweighter is a parameter
# -----------------------------
# ``power`` interpolates between no weighting (0) and fully balanced classes
# (1); ``method`` switches to the effective-number weights of Cui et al.
# Nested parameters use the usual double-underscore syntax.
model = make_pipeline(
    StandardScaler(), ReweightedEstimator(LogisticRegression(), ClassWeights())
)
powers = [0.0, 0.25, 0.5, 0.75, 1.0]
grid = {
    "reweightedestimator__reweighter__power": powers,
    "reweightedestimator__reweighter__method": ["inverse", "effective_number"],
}
search = GridSearchCV(model, grid, scoring="balanced_accuracy", cv=5)
search.fit(X_train, y_train)
print("best:", search.best_params_)
print(f"held-out balanced accuracy: {search.score(X_test, y_test):.3f}")

unweighted = make_pipeline(StandardScaler(), LogisticRegression()).fit(X_train, y_train)
print(
    "without weights:          "
    f"{balanced_accuracy_score(y_test, unweighted.predict(X_test)):.3f}"
)

# %%
# Cross-validated score against the weighting strength
# ----------------------------------------------------
results = search.cv_results_
fig, ax = plt.subplots(figsize=(6, 4))
for method in ["inverse", "effective_number"]:
    mask = results["param_reweightedestimator__reweighter__method"] == method
    ax.errorbar(
        powers,
        results["mean_test_score"][mask],
        yerr=results["std_test_score"][mask],
        marker="o",
        capsize=3,
        label=method,
    )
ax.set_xlabel("power")
ax.set_ylabel("balanced accuracy (5-fold CV)")
ax.set_title("ClassWeights inside GridSearchCV")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# The fitted weights
# ------------------
# The best estimator keeps the weights it was trained with; with ``power=1``
# each class carries the same total weight.
best = search.best_estimator_[-1]
for label in (0, 1):
    print(f"class {label}: total weight {best.weights_[y_train == label].sum():.1f}")
