"""
=====================================================
Rare-class probabilities: PRESTO vs its alternatives
=====================================================

A small-scale version of the sparse-differences simulation of Faletto & Bien
(ICML 2023). The labels have four ordered classes; the last one is rare (about
0.7 % of the rows). The true model is a cumulative logit whose slope vectors
differ between boundaries by a few sparse steps, so neither proportional odds
(one slope vector) nor a logistic regression of the rare class against the rest
(no borrowing from the common classes) is right.

We compare the error of the estimated rare-class probability of
:class:`~skreweight.ordinal.PRESTOCV`,
:class:`~skreweight.ordinal.ProportionalOdds` and
:class:`~sklearn.linear_model.LogisticRegression`.
"""

# %%
# The data-generating process
# ---------------------------
# In the paper's convention ``P(y <= k | x) = expit(a_k + x @ b_k)`` with
# intercepts ``(0, 3.5, 5.5)``; ``b_1`` has entries 0.5 with probability 1/2,
# and every next boundary adds steps of +-0.5 with probability 1/2. Draws whose
# boundaries cross on the sample are rejected, as in the paper.
import matplotlib.pyplot as plt
import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from skreweight.ordinal import PRESTOCV, ProportionalOdds


def make_sparse_differences(rng, n=2500, p=10, intercepts=(0.0, 3.5, 5.5), pi=0.5):
    intercepts = np.asarray(intercepts)
    K = intercepts.size + 1
    while True:
        beta = np.empty((K - 1, p))
        beta[0] = 0.5 * (rng.random(p) < pi)
        for k in range(1, K - 1):
            step = 0.5 * rng.choice([-1.0, 1.0], size=p) * (rng.random(p) < pi)
            beta[k] = beta[k - 1] + step
        X = rng.uniform(-1, 1, size=(n, p))
        cum = expit(intercepts + X @ beta.T)
        P = np.diff(np.hstack([np.zeros((n, 1)), cum, np.ones((n, 1))]), axis=1)
        if np.any(P < 0):
            continue
        y = (rng.random(n)[:, None] > np.cumsum(P, axis=1)[:, :-1]).sum(axis=1)
        if np.unique(y).size == K:
            return X, y, P[:, -1]


# %%
# A few replications
# ------------------
# Each replication draws a new model and sample, fits the three methods and
# records the mean squared error of the rare-class probability over the
# training rows. The paper used 700 replications; see
# ``benchmarks/bench_ordinal.py`` for a larger run.
rng = np.random.default_rng(0)
n_reps = 10
errors = {"PRESTO": [], "Proportional odds": [], "Logistic regression": []}
for _ in range(n_reps):
    X, y, p_rare = make_sparse_differences(rng)
    presto = PRESTOCV(alphas=10, cv=5).fit(X, y)
    po = ProportionalOdds().fit(X, y)
    logit = LogisticRegression(C=np.inf, max_iter=10_000).fit(X, y == 3)
    estimates = {
        "PRESTO": presto.predict_proba(X)[:, -1],
        "Proportional odds": po.predict_proba(X)[:, -1],
        "Logistic regression": logit.predict_proba(X)[:, 1],
    }
    for name, estimate in estimates.items():
        errors[name].append(np.mean((estimate - p_rare) ** 2))

for name, values in errors.items():
    print(f"{name:<20} median MSE {np.median(values):.2e}")

# %%
# Plot the errors and the paired ratios
# -------------------------------------
# Each replication is a line; ratios below one favour PRESTO.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
names = list(errors)
ax1.boxplot([errors[name] for name in names])
ax1.set_xticks(range(1, 4), ["PRESTO", "PO", "Logit"])
ax1.set_yscale("log")
ax1.set_ylabel("MSE of the rare-class probability")
ratios = [np.array(errors["PRESTO"]) / np.array(errors[other]) for other in names[1:]]
ax2.boxplot(ratios)
ax2.axhline(1.0, color="grey", linestyle="--")
ax2.set_xticks([1, 2], ["PRESTO / PO", "PRESTO / Logit"])
ax2.set_ylabel("paired MSE ratio")
fig.suptitle("Sparse differences, rare class about 0.7 %")
fig.tight_layout()
plt.show()
