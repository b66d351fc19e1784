"""
=======================================================
Estimating a recommender's risk from MNAR ratings
=======================================================

Users rate the items they like: observed ratings are missing not at random
(MNAR), and the average loss of a rating model on the observed pairs is a
biased estimate of its loss on all user-item pairs. Inverse propensity
scoring (IPS) reweights the observed pairs by ``1 / P(observed | x)``, but a
misspecified propensity model leaves most of the bias. Kernel-balanced
weights (Li et al., ICLR 2024) instead balance the kernel sections
``k(., z)`` between the observed pairs and all pairs, and the doubly robust
form adds an imputation model.

We simulate ratings whose observation probability depends on the rating
itself, fit a rating model on the observed pairs and compare the estimated
risks with the truth.
"""

# %%
# Simulate MNAR ratings
# ---------------------
# Rows are user-item pairs with user and item embeddings as features; ``o``
# says which ratings are observed (about 5%).
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import Ridge

from skreweight.datasets import make_mnar_ratings
from skreweight.weighting import KernelBalancing, PropensityWeights, dr_estimate

X, ratings, o, p_true, _ = make_mnar_ratings(
    n_users=150, n_items=100, obs_rate=0.05, random_state=0
)
observed = o == 1
print(f"{observed.sum()} observed ratings of {len(o)} pairs")
print(f"mean observed rating {ratings[observed].mean():.2f}")
print(f"mean rating of all pairs {ratings.mean():.2f}")

# %%
# The rating model and its true risk
# ----------------------------------
# A ridge regression trained on the observed pairs; its squared error on all
# pairs is the risk we want to estimate from the observed pairs only.
model = Ridge(alpha=1.0).fit(X[observed], ratings[observed])
loss = (ratings - model.predict(X)) ** 2
true_risk = loss.mean()
loss_obs = np.where(observed, loss, np.nan)  # unobserved losses are unknown

# %%
# Naive, IPS and kernel-balanced estimates
# ----------------------------------------
# ``estimand="ATE"`` reweights the observed rows (t=1) to all rows. The
# adaptive centres of :class:`~skreweight.weighting.KernelBalancing` follow
# the loss itself (AKBIPS); for AKBDR the residual is the loss minus an
# imputed loss, here from a ridge model of the observed losses.
ips_w = PropensityWeights(estimand="ATE").fit_reweight(X, o)
kb_w = KernelBalancing(estimand="ATE", centers="worst", random_state=0).fit_reweight(
    X, o
)
akb_w = KernelBalancing(
    estimand="ATE", centers="adaptive", random_state=0
).fit_reweight(X, o, residual=loss_obs)
imputed = Ridge(alpha=1.0).fit(X[observed], loss[observed]).predict(X)
akbdr_w = KernelBalancing(
    estimand="ATE", centers="adaptive", random_state=0
).fit_reweight(X, o, residual=loss_obs - imputed)

estimates = {
    "naive": loss[observed].mean(),
    "IPS (logistic)": dr_estimate(loss_obs, o, ips_w),
    "oracle IPS": dr_estimate(loss_obs, o, np.where(observed, 1 / p_true, 0)),
    "KBIPS (worst)": dr_estimate(loss_obs, o, kb_w),
    "AKBIPS": dr_estimate(loss_obs, o, akb_w),
    "AKBDR": dr_estimate(loss_obs, o, akbdr_w, y_pred=imputed),
}
for name, value in estimates.items():
    print(f"{name:15s} {value:.3f}  (error {value - true_risk:+.3f})")

# %%
# Plot
# ----
fig, ax = plt.subplots(figsize=(6, 3))
names = list(estimates)
ax.barh(names, [estimates[n] - true_risk for n in names], color="C0")
ax.axvline(0, color="k", linewidth=1)
ax.set_xlabel("estimated risk minus true risk")
ax.set_title(f"True risk {true_risk:.3f}")
fig.tight_layout()
plt.show()
