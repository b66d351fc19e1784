"""
======================================================
Aggregating and calibrating quantile regression models
======================================================

Three quantile models are fitted on a heteroscedastic problem: deep and shallow
gradient boosting and a spline quantile regression. Fitted one
level at a time, they cross; :class:`~skreweight.quantile.QuantileAggregator`
combines them with per-level weights learned on out-of-fold predictions, and
:class:`~skreweight.quantile.ConformalQuantileRegressor` calibrates the 80% and
95% bands of the aggregate.
"""

# %%
# A heteroscedastic problem
# -------------------------
# The noise grows with ``x`` and is heavy-tailed.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import QuantileRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import SplineTransformer

from skreweight.quantile import (
    ConformalQuantileRegressor,
    MultiQuantileRegressor,
    QuantileAggregator,
    crossing_rate,
    interval_coverage,
    interval_width,
    weighted_interval_score,
)

rng = np.random.RandomState(0)


def make_data(n):
    x = rng.uniform(0, 10, n)
    noise = rng.standard_t(5, n) * (0.3 + 0.25 * x)
    return x[:, None], x * np.sin(x) / 2 + noise


X_train, y_train = make_data(800)
X_cal, y_cal = make_data(400)
X_test, y_test = make_data(2000)
levels = [0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975]

# %%
# Three base models, one level at a time
# --------------------------------------
# :class:`~skreweight.quantile.MultiQuantileRegressor` finds the level
# parameter itself (``quantile`` or ``alpha``); for a pipeline we name it.
bases = {
    "gb_deep": GradientBoostingRegressor(
        loss="quantile", n_estimators=30, max_depth=4, random_state=0
    ),
    "gb_stumps": GradientBoostingRegressor(
        loss="quantile", n_estimators=60, max_depth=1, random_state=0
    ),
    "spline_qr": MultiQuantileRegressor(
        make_pipeline(
            SplineTransformer(n_knots=6), QuantileRegressor(alpha=0, solver="highs")
        ),
        level_param="quantileregressor__quantile",
        monotonic=None,
    ),
}

print(f"{'model':<12} {'pairs crossing':>15} {'rows crossing':>14} {'test WIS':>9}")
for name, est in bases.items():
    model = MultiQuantileRegressor(est, levels, monotonic=None)
    if name == "spline_qr":
        model = est.set_params(quantiles=levels)
    pred = model.fit(X_train, y_train).predict(X_test)
    pairs, rows = crossing_rate(pred)
    wis = weighted_interval_score(y_test, np.sort(pred, axis=1), levels).mean()
    print(f"{name:<12} {pairs:15.3f} {rows:14.3f} {wis:9.3f}")

# %%
# Aggregation
# -----------
# ``weighting="quantile"`` learns one simplex of weights per level on 5-fold
# out-of-fold predictions, then sorts the aggregate's quantiles.
agg = QuantileAggregator(
    list(bases.items()), levels, weighting="quantile", random_state=0
).fit(X_train, y_train)
avg = QuantileAggregator(list(bases.items()), levels, weighting="average")
avg.fit(X_train, y_train)
print(f"average of the bases: test WIS {-avg.score(X_test, y_test):.3f}")
print(f"quantile aggregate:   test WIS {-agg.score(X_test, y_test):.3f}")
print("weights (rows: models, columns: levels):")
print(np.round(agg.weights_, 2))

# %%
# Local (feature-dependent) weights
# ---------------------------------
# ``weighting="local"`` lets the weights depend on ``x``: a small neural
# network, trained with Adam on the same out-of-fold predictions, outputs a
# softmax over the models at each level (deep quantile aggregation). It needs
# PyTorch (``pip install "skreweight[torch]"``), so this cell is skipped
# without it. ``weights_`` holds the weights averaged over the training rows;
# ``weight_gate_.predict_weights`` gives them at any ``x``.
import importlib.util

if importlib.util.find_spec("torch") is not None:
    local = QuantileAggregator(
        list(bases.items()),
        levels,
        weighting="local",
        local_params={"num_threads": 1},
        random_state=0,
    ).fit(X_train, y_train)
    print(f"local aggregate:      test WIS {-local.score(X_test, y_test):.3f}")
    w_median = local.weight_gate_.predict_weights([[1.0], [5.0], [9.0]])[:, :, 4]
    print("median-level weights at x = 1, 5, 9 (columns: models):")
    print(np.round(w_median, 2))

# %%
# Conformal calibration of the 80% and 95% bands
# ----------------------------------------------
# The aggregate is frozen, so all rows of the separate calibration set
# calibrate; the two bands are kept nested.
cqr = ConformalQuantileRegressor(FrozenEstimator(agg), coverage=[0.8, 0.95])
cqr.fit(X_cal, y_cal)
raw = agg.predict_interval(X_test, coverage=[0.8, 0.95])
calibrated = cqr.predict_interval(X_test, coverage=[0.8, 0.95])
for label, iv in (("aggregate", raw), ("calibrated", calibrated)):
    cov = interval_coverage(y_test, iv)
    width = interval_width(iv)
    print(f"{label:<11} coverage {np.round(cov, 3)}  width {np.round(width, 2)}")

# %%
# Plot
# ----
grid = np.linspace(0, 10, 300)[:, None]
bands = cqr.predict_interval(grid, coverage=[0.8, 0.95])
median = cqr.predict(grid)[:, cqr.quantiles_.tolist().index(0.5)]
fig, ax = plt.subplots(figsize=(8, 4.5))
ax.scatter(X_test[:400, 0], y_test[:400], s=6, color="0.6", label="test rows")
ax.fill_between(
    grid[:, 0],
    bands[:, 0, 1],
    bands[:, 1, 1],
    alpha=0.25,
    color="C0",
    label="calibrated 95%",
)
ax.fill_between(
    grid[:, 0],
    bands[:, 0, 0],
    bands[:, 1, 0],
    alpha=0.45,
    color="C0",
    label="calibrated 80%",
)
ax.plot(grid[:, 0], median, color="C3", label="aggregate median")
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.legend(loc="upper left")
ax.set_title("Quantile aggregate with conformal bands")
plt.show()
