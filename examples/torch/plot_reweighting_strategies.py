"""
=========================================================
Reweighting strategies for an imbalanced tabular problem
=========================================================

A small neural network is trained on an imbalanced binary problem (5% minority)
with :class:`~skreweight.torch.TorchClassifier`, once without reweighting and
once with each strategy of :mod:`skreweight.torch`: loss-based reweighting
(Sow et al.), focal, GHM, class-balanced and group-temperature weights, and
temperature *sampling* of the classes instead of weighting.

We compare the training loss curves and, on a held-out split, the recall of the
minority class and the balanced accuracy.
"""

# %%
# Data and models
# ---------------
# The losses of different strategies are on different scales (focal weights do
# not average to 1, class weights shift the mass to the minority), so the loss
# curves are compared by shape, not by level.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skreweight.torch import (
    ClassBalancedReweighting,
    FocalReweighting,
    GHMReweighting,
    GroupTemperatureReweighting,
    LossBasedReweighting,
    TemperatureSampler,
    TorchClassifier,
)

X, y = make_classification(
    n_samples=4000,
    n_features=20,
    n_informative=5,
    weights=[0.95, 0.05],
    flip_y=0,
    random_state=0,
)
X = StandardScaler().fit_transform(X)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)

configs = {
    "none": {},
    "loss-based (linupper)": {"reweighting": LossBasedReweighting(r=1.0)},
    "focal (gamma=2)": {"reweighting": FocalReweighting(gamma=2.0)},
    "GHM": {"reweighting": GHMReweighting()},
    "class-balanced": {"reweighting": ClassBalancedReweighting(beta=0.999)},
    "group temperature (tau=3)": {"reweighting": GroupTemperatureReweighting(tau=3.0)},
    "temperature sampler (tau=3)": {"sampler": TemperatureSampler(tau=3.0)},
}

results = {}
for name, params in configs.items():
    clf = TorchClassifier(
        hidden_layer_sizes=(32,),
        learning_rate=1e-2,
        max_epochs=20,
        batch_size=128,
        tol=None,
        device="cpu",
        num_threads=1,
        random_state=0,
        **params,
    ).fit(X_train, y_train)
    pred = clf.predict(X_test)
    results[name] = {
        "loss": clf.loss_curve_,
        "recall": recall_score(y_test, pred),
        "balanced accuracy": balanced_accuracy_score(y_test, pred),
    }
    print(
        f"{name:<28} minority recall {results[name]['recall']:.3f}   "
        f"balanced accuracy {results[name]['balanced accuracy']:.3f}"
    )

# %%
# Loss curves and minority-class recall
# -------------------------------------
fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(12, 4.5))
for name, res in results.items():
    curve = np.asarray(res["loss"])
    ax_loss.plot(np.arange(1, len(curve) + 1), curve / curve[0], label=name)
ax_loss.set_xlabel("epoch")
ax_loss.set_ylabel("training loss / first-epoch loss")
ax_loss.set_yscale("log")
ax_loss.set_title("Training loss (relative)")
ax_loss.legend(fontsize=8)

names = list(results)
positions = np.arange(len(names))
ax_score.barh(
    positions - 0.2, [results[n]["recall"] for n in names], 0.4, label="recall"
)
ax_score.barh(
    positions + 0.2,
    [results[n]["balanced accuracy"] for n in names],
    0.4,
    label="balanced accuracy",
)
ax_score.set_yticks(positions, names)
ax_score.set_xlim(0, 1)
ax_score.set_title("Held-out minority recall and balanced accuracy")
ax_score.legend(loc="lower right", fontsize=8)
fig.tight_layout()
plt.show()

# %%
# Reading the results
# -------------------
# Class-balanced weights, group-temperature weights and temperature sampling
# move weight to the minority class and raise its recall. Focal and GHM weights
# act on the hardness of each sample rather than its class, and loss-based
# reweighting (designed for large-scale pretraining) down-weights the easiest
# samples of every batch. Each strategy records its weight statistics per
# epoch, e.g. the effective sample size of the dynamic weights:
clf = TorchClassifier(
    hidden_layer_sizes=(32,),
    learning_rate=1e-2,
    max_epochs=3,
    batch_size=128,
    device="cpu",
    num_threads=1,
    random_state=0,
    reweighting=LossBasedReweighting(r=1.0),
).fit(X_train, y_train)
for record in clf.history_:
    print({k: round(v, 3) for k, v in record.items()})
