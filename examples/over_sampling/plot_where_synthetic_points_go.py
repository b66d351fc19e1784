"""
================================================
Where each SMOTE variant puts its synthetic rows
================================================

Every sampler of :mod:`skreweight.over_sampling` makes the minority class as
large as the majority, but they disagree on *where* the new rows go. On a
2-D toy problem with an overlapping border, this example plots the synthetic
rows of each sampler, then uses ``provenance_`` to draw, for a few of them,
the segment between the seed row and the partner row they came from, and to
count how often SMOTE uses each minority row as a seed.
"""

# %%
# A 2-D imbalanced problem
# ------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification

import skreweight.over_sampling as os_

X, y = make_classification(
    n_samples=400,
    n_features=2,
    n_informative=2,
    n_redundant=0,
    n_clusters_per_class=1,
    weights=[0.9],
    class_sep=0.8,
    flip_y=0.0,
    random_state=4,
)
print(f"majority: {np.sum(y == 0)} rows, minority: {np.sum(y == 1)} rows")

# %%
# Synthetic rows of each sampler
# ------------------------------
# Interpolating samplers (SMOTE, Borderline, ADASYN, ProWSyn, ...) put rows on
# segments between two minority rows; SVM-SMOTE also extrapolates away from
# safe rows; CCR draws inside spheres; polynomial fit (star) pulls rows toward
# the class mean; LVQ-SMOTE transplants neighbourhoods between codebook
# vectors.
samplers = {
    "SMOTE": os_.SMOTE(random_state=0),
    "BorderlineSMOTE": os_.BorderlineSMOTE(random_state=0),
    "ADASYN": os_.ADASYN(random_state=0),
    "SVMSMOTE": os_.SVMSMOTE(random_state=0),
    "KMeansSMOTE": os_.KMeansSMOTE(cluster_balance_threshold=0.0, random_state=0),
    "ProWSyn": os_.ProWSyn(random_state=0),
    "LeeSMOTE": os_.LeeSMOTE(random_state=0),
    "PolynomFitSMOTE": os_.PolynomFitSMOTE(random_state=0),
    "CCR": os_.CCR(energy=0.5, random_state=0),
    "LVQSMOTE": os_.LVQSMOTE(random_state=0),
    "AssembledSMOTE": os_.AssembledSMOTE(random_state=0),
    "SMOTEENN": os_.SMOTEENN(random_state=0),
}

fig, axes = plt.subplots(3, 4, figsize=(16, 12), sharex=True, sharey=True)
for ax, (name, sampler) in zip(axes.ravel(), samplers.items()):
    X_res, y_res = sampler.fit_resample(X, y)
    n_orig = getattr(sampler, "sample_indices_", np.arange(len(X))).size
    ax.scatter(*X[y == 0].T, s=6, c="lightgray", label="majority")
    ax.scatter(*X[y == 1].T, s=14, c="tab:blue", label="minority")
    new = X_res[n_orig:]
    ax.scatter(*new.T, s=4, c="tab:orange", alpha=0.5, label="synthetic")
    ax.set_title(f"{name} ({len(new)} new rows)")
axes[0, 0].legend(loc="lower left", markerscale=2)
fig.tight_layout()

# %%
# Auditing rows with ``provenance_``
# ----------------------------------
# For interpolating samplers, ``X[seed] + gap * (X[partner] - X[seed])``
# rebuilds every synthetic row. Here we draw the seed-partner segments of a
# few BorderlineSMOTE rows: all seeds are "danger" rows near the border.
sampler = os_.BorderlineSMOTE(random_state=0)
X_res, y_res = sampler.fit_resample(X, y)
prov = sampler.provenance_
rebuilt = X[prov.seed] + prov.gap[:, None] * (X[prov.partner] - X[prov.seed])
print("max rebuild error:", np.abs(rebuilt - X_res[len(X) :]).max())

fig, ax = plt.subplots(figsize=(6, 6))
ax.scatter(*X[y == 0].T, s=6, c="lightgray")
ax.scatter(*X[y == 1].T, s=14, c="tab:blue")
danger = sampler.danger_indices_[1]
ax.scatter(*X[danger].T, s=60, facecolors="none", edgecolors="red", label="danger")
for i in range(0, len(prov.seed), 40):
    s, p = X[prov.seed[i]], X[prov.partner[i]]
    ax.plot([s[0], p[0]], [s[1], p[1]], c="tab:orange", lw=0.8)
    ax.scatter(*X_res[len(X) + i], c="tab:orange", s=20)
ax.legend()
ax.set_title("BorderlineSMOTE: seed-partner segments")
plt.show()

# %%
# How often each row is a seed
# ----------------------------
# imbalanced-learn's SMOTE draws (seed, neighbour) pairs with replacement, so
# some minority rows seed far more synthetic rows than others (with fewer new
# rows than minority rows, some are never a seed).
# ``seed_selection="even"`` uses every row ``n_new // n_c`` or one more times,
# as in the original algorithm; ``provenance_.seed`` shows the difference.
minority = np.flatnonzero(y == 1)
fig, ax = plt.subplots(figsize=(7, 4))
for selection, color in [("random", "tab:gray"), ("even", "tab:green")]:
    sampler = os_.SMOTE(seed_selection=selection, random_state=0)
    sampler.fit_resample(X, y)
    uses = np.bincount(
        np.searchsorted(minority, sampler.provenance_.seed), minlength=minority.size
    )
    print(f"{selection}: each minority row seeds {uses.min()} to {uses.max()} rows")
    ax.hist(
        uses,
        bins=np.arange(uses.max() + 2) - 0.5,
        color=color,
        alpha=0.6,
        label=f'seed_selection="{selection}"',
    )
ax.set_xlabel("synthetic rows seeded by a minority row")
ax.set_ylabel("minority rows")
ax.legend()
plt.show()
