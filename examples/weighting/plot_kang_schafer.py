"""
=====================================================
Balancing weights on the Kang-Schafer simulation
=====================================================

Kang and Schafer (2007) built a simulation in which the analyst sees only
non-linear transformations ``X`` of the true covariates: a logistic
propensity model on ``X`` is misspecified, and inverse propensity weights
give erratic estimates of the average treatment effect (the truth is 0).
Entropy balancing matches the means of ``X`` exactly, and kernel balancing
also balances kernel sections of ``X``, which removes most of the remaining
bias.
"""

# %%
# Estimate the ATE on a few replications
# --------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skreweight.datasets import make_kang_schafer
from skreweight.weighting import (
    EntropyBalancing,
    KernelBalancing,
    PropensityWeights,
    balance_table,
    dr_estimate,
    love_plot,
)


def make_methods(seed):
    logit = make_pipeline(StandardScaler(), LogisticRegression(C=1e12, max_iter=1000))
    return {
        "IPW logit(X)": PropensityWeights(logit, estimand="ATE", clip=1e-6),
        "EB means": EntropyBalancing(estimand="ATE"),
        "kernel EB": EntropyBalancing(
            estimand="ATE", features="nystroem", n_components=100, random_state=seed
        ),
        "KernelBalancing": KernelBalancing(estimand="ATE", random_state=seed),
    }


errors = {"naive": []}
for seed in range(5):
    X, _, t, y, _ = make_kang_schafer(1000, random_state=seed)
    errors["naive"].append(y[t == 1].mean() - y[t == 0].mean())
    for name, reweighter in make_methods(seed).items():
        w = reweighter.fit_reweight(X, t)
        effect = dr_estimate(y, t, w, estimand="ATE", quantity="effect")
        errors.setdefault(name, []).append(effect)

for name, e in errors.items():
    e = np.asarray(e)
    print(f"{name:16s} bias {e.mean():+6.2f}  RMSE {np.sqrt(np.mean(e**2)):6.2f}")

# %%
# Errors of the ATE estimates
# ---------------------------
fig, ax = plt.subplots(figsize=(6, 3))
ax.boxplot(list(errors.values()), orientation="horizontal")
ax.set_yticks(range(1, len(errors) + 1), list(errors))
ax.axvline(0, color="k", linewidth=1)
ax.set_xlabel("estimated ATE (truth 0)")
fig.tight_layout()

# %%
# Balance of one replication
# --------------------------
# ``balance_table`` reports the standardised mean differences of the treated
# rows against all rows before and after weighting, and the love plot draws
# them.
X, _, t, y, _ = make_kang_schafer(1000, random_state=0)
w = KernelBalancing(estimand="ATE", random_state=0).fit_reweight(X, t)
names = ["exp(z1/2)", "z2/(1+exp z1)+10", "(z1 z3/25+.6)^3", "(z2+z4+20)^2"]
table = balance_table(X, t, w, estimand="ATE", feature_names=names, random_state=0)
print(table[["smd_before", "smd_after", "variance_ratio_after"]].round(3))
print(table.attrs["summary"])
love_plot(X, t, w, estimand="ATE", feature_names=names)
plt.tight_layout()
plt.show()
