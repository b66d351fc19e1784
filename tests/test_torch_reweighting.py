"""Known answers and invariants of the torch reweighting strategies."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sklearn.base import clone  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402

from skreweight.torch import (  # noqa: E402
    ClassBalancedReweighting,
    Cooldown,
    FocalReweighting,
    GHMReweighting,
    GroupTemperatureReweighting,
    LossBasedReweighting,
    focal_loss,
)

LOSSES = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])


@pytest.mark.parametrize(
    "strategy, r, expected",
    [
        ("linupper", 1.0, [0.4628, 0.7630, 1.2580, 1.2580, 1.2580]),
        ("quadratic", 1.0, [0.5585, 1.1824, 1.5182, 1.1824, 0.5585]),
        ("extremes", 1.0, [1.3963, 0.8469, 0.5137, 0.8469, 1.3963]),
        ("linupper", 0.4, [0.1218, 0.4253, 1.4843, 1.4843, 1.4843]),
        ("quadratic", 0.4, [0.1837, 1.1976, 2.2374, 1.1976, 0.1837]),
        ("extremes", 0.4, [1.8832, 0.5395, 0.1546, 0.5395, 1.8832]),
    ],
)
def test_loss_based_known_answers(strategy, r, expected):
    weights = LossBasedReweighting(strategy=strategy, r=r)(LOSSES, step=0, epoch=0)
    np.testing.assert_allclose(weights.numpy(), expected, atol=1e-4)


def _paper_reference(losses, strategy, r, delta=1.0):
    """Direct transcription of the definition: h, f, then B * softmax(f / r)."""
    lo, hi = min(losses), max(losses)
    h = [delta * (2 * v - hi - lo) / max(hi - lo, 1e-6) for v in losses]
    if strategy == "linupper":
        f = [min(v + delta, delta) for v in h]
    elif strategy == "quadratic":
        f = [1 - v * v / delta**2 for v in h]
    else:
        f = [abs(v) for v in h]
    e = [math.exp(v / r) for v in f]
    return [len(losses) * v / sum(e) for v in e]


@pytest.mark.parametrize("strategy", ["linupper", "quadratic", "extremes"])
@pytest.mark.parametrize("r", [0.4, 1.0, 3.0])
def test_loss_based_limits_and_reference(strategy, r):
    torch.manual_seed(0)
    losses = torch.rand(128) * 3 + 1
    weights = LossBasedReweighting(strategy=strategy, r=r)(losses, step=0, epoch=0)
    np.testing.assert_allclose(
        weights.numpy(), _paper_reference(losses.tolist(), strategy, r), rtol=1e-5
    )
    assert abs(weights.mean().item() - 1) < 1e-6
    assert (weights.max() / weights.min()).item() <= math.exp(1 / r) * (1 + 1e-5)


def test_loss_based_flat_limits_and_warmup():
    torch.manual_seed(0)
    losses = torch.rand(128) * 3 + 1
    hot = LossBasedReweighting(r=100.0)(losses, step=0, epoch=0)
    assert 0.99 <= hot.min().item() and hot.max().item() <= 1.01
    ones = torch.ones(7)
    for weights in (
        LossBasedReweighting(r=0.4)(torch.full((7,), 2.5), step=0, epoch=0),
        LossBasedReweighting(r=0.4)(torch.tensor([3.0]), step=0, epoch=0),
        LossBasedReweighting(r=0.4, warmup_steps=10)(losses[:7], step=9, epoch=0),
    ):
        torch.testing.assert_close(weights, ones[: weights.numel()], rtol=0, atol=1e-6)
    warm = LossBasedReweighting(r=0.4, warmup_steps=10, warmup_r=100.0)
    torch.testing.assert_close(
        warm(losses, step=3, epoch=0), LossBasedReweighting(r=100.0)(losses)
    )
    torch.testing.assert_close(
        warm(losses, step=10, epoch=0), LossBasedReweighting(r=0.4)(losses)
    )


def test_loss_based_rejects_bad_params():
    with pytest.raises(InvalidParameterError, match="strategy"):
        LossBasedReweighting(strategy="upper")(LOSSES)
    with pytest.raises(InvalidParameterError, match="'r'"):
        LossBasedReweighting(r=-1.0)(LOSSES)


def test_focal_known_answers():
    logits = torch.tensor([[4.0, 0.0], [0.0, 0.0]])
    targets = torch.tensor([0, 0])
    weights = FocalReweighting(gamma=2.0)(torch.ones(2), logits=logits, targets=targets)
    np.testing.assert_allclose(weights.numpy(), [3.235e-4, 0.25], rtol=1e-3)
    flat = FocalReweighting(gamma=0.0)(torch.ones(2), logits=logits, targets=targets)
    np.testing.assert_array_equal(flat.numpy(), [1.0, 1.0])
    alpha = FocalReweighting(gamma=0.0, alpha=[0.25, 0.75]).reset(
        n_samples=2, n_classes=2
    )
    weights = alpha(torch.ones(2), logits=logits, targets=torch.tensor([0, 1]))
    np.testing.assert_allclose(weights.numpy(), [0.25, 0.75])
    with pytest.raises(ValueError, match="alpha has 3 entries"):
        FocalReweighting(alpha=[1, 1, 1]).reset(n_samples=2, n_classes=2)


def test_focal_reweighting_matches_focal_loss_value():
    torch.manual_seed(0)
    logits = torch.randn(16, 4)
    targets = torch.randint(0, 4, (16,))
    ce = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    weights = FocalReweighting(gamma=2.0)(ce, logits=logits, targets=targets)
    torch.testing.assert_close(weights * ce, focal_loss(logits, targets, gamma=2.0))
    torch.testing.assert_close(focal_loss(logits, targets, gamma=0.0), ce)


def _mmdet_loop(g, bins):
    """mmdetection's GHM-C weight loop (momentum 0), in plain Python."""
    edges = [k / bins for k in range(bins + 1)]
    edges[-1] += 1e-6
    n = len(g)
    weights = [0.0] * n
    n_nonempty = 0
    members = []
    for i in range(bins):
        inds = [j for j, v in enumerate(g) if edges[i] <= v < edges[i + 1]]
        if inds:
            n_nonempty += 1
            members.append(inds)
    for inds in members:
        for j in inds:
            weights[j] = n / len(inds)
    return [w / n_nonempty for w in weights]


def test_ghm_known_answer_and_mmdet_loop():
    p_true = torch.tensor([0.95, 0.93, 0.5, 0.05], dtype=torch.float64)
    logits = torch.stack([p_true.log(), (1 - p_true).log()], dim=1)
    targets = torch.zeros(4, dtype=torch.long)
    weights = GHMReweighting(bins=10)(torch.ones(4), logits=logits, targets=targets)
    np.testing.assert_allclose(weights.numpy(), [2 / 3, 2 / 3, 4 / 3, 4 / 3], rtol=1e-6)

    torch.manual_seed(0)
    logits = torch.randn(256, 5) * 2
    targets = torch.randint(0, 5, (256,))
    weights = GHMReweighting(bins=10)(torch.ones(256), logits=logits, targets=targets)
    g = (1 - torch.softmax(logits, 1)[torch.arange(256), targets]).tolist()
    np.testing.assert_allclose(weights.numpy(), _mmdet_loop(g, 10), rtol=1e-5)
    assert abs(weights.mean().item() - 1) < 1e-5


@pytest.mark.parametrize("make", [GHMReweighting, FocalReweighting])
def test_true_class_probability_from_cross_entropy_losses(make):
    # TorchClassifier with its default loss tells the strategy that the losses
    # are the cross-entropy of the logits; the weights must not change.
    torch.manual_seed(0)
    logits = torch.randn(256, 4) * 3
    targets = torch.randint(0, 4, (256,))
    losses = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    from_logits = make()(losses, logits=logits, targets=targets)
    strategy = make().reset(n_samples=256, targets=targets, n_classes=4)
    strategy._cross_entropy_losses = True
    from_losses = strategy(losses, logits=torch.zeros_like(logits), targets=targets)
    torch.testing.assert_close(from_losses, from_logits, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("criterion", [None, "custom"])
def test_classifier_flags_cross_entropy_losses_only_for_its_own_loss(criterion):
    from skreweight.torch import TorchClassifier

    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    y = np.arange(40) % 2
    if criterion == "custom":

        def criterion(outputs, targets, reduction="none"):
            return torch.nn.functional.cross_entropy(
                outputs, targets, reduction=reduction, label_smoothing=0.1
            )

    clf = TorchClassifier(
        hidden_layer_sizes=(4,),
        max_epochs=1,
        batch_size=20,
        criterion=criterion,
        reweighting=GHMReweighting(),
        random_state=0,
    ).fit(X, y)
    assert clf.reweighting_._cross_entropy_losses is (criterion is None)
    assert not clf.reweighting._cross_entropy_losses


def test_ghm_momentum_starts_from_first_batch():
    torch.manual_seed(0)
    logits, targets = torch.randn(64, 3), torch.randint(0, 3, (64,))
    ghm = GHMReweighting(momentum=0.75)
    first = ghm(torch.ones(64), logits=logits, targets=targets)
    plain = GHMReweighting()(torch.ones(64), logits=logits, targets=targets)
    torch.testing.assert_close(first, plain)  # no 1 / (1 - momentum) inflation


def test_ghm_regression():
    outputs = torch.tensor([[0.0], [0.001], [1.0], [5.0]])
    targets = torch.zeros(4, 1)
    ghm = GHMReweighting(bins=10, mu=0.02).reset(n_samples=4, task="regression")
    weights = ghm(torch.ones(4), logits=outputs, targets=targets)
    # g = [0, .05, .9998, 1.0]: bins 0, 0, 9, 9 -> two bins of two.
    np.testing.assert_allclose(weights.numpy(), [1.0, 1.0, 1.0, 1.0], rtol=1e-6)


@pytest.mark.parametrize(
    "counts, beta, expected",
    [
        ([1000, 10], 0.999, [0.03100, 1.96900]),
        ([1000, 100, 10], 0.9999, [0.02836, 0.27126, 2.70038]),
        ([1000, 100, 10], 0.0, [1.0, 1.0, 1.0]),
    ],
)
def test_class_balanced_known_answers(counts, beta, expected):
    targets = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    cb = ClassBalancedReweighting(beta=beta).reset(
        n_samples=targets.numel(), targets=targets, n_classes=len(counts)
    )
    np.testing.assert_allclose(cb.class_weight_.numpy(), expected, atol=1e-5)
    batch = torch.tensor([0, len(counts) - 1])
    weights = cb(torch.ones(2), targets=batch)
    np.testing.assert_allclose(weights.numpy(), [expected[0], expected[-1]], atol=1e-5)


def test_class_balanced_integer_weights_equal_repeats():
    targets = torch.tensor([0, 0, 1, 1, 1, 2])
    weights = torch.tensor([3.0, 1.0, 1.0, 1.0, 1.0, 5.0])
    repeated = torch.repeat_interleave(targets, weights.long())
    a = ClassBalancedReweighting(beta=0.9).reset(
        n_samples=6, targets=targets, sample_weight=weights, n_classes=3
    )
    b = ClassBalancedReweighting(beta=0.9).reset(
        n_samples=repeated.numel(), targets=repeated, n_classes=3
    )
    torch.testing.assert_close(a.class_weight_, b.class_weight_)


def test_class_balanced_needs_reset():
    with pytest.raises(RuntimeError, match="reset"):
        ClassBalancedReweighting()(torch.ones(2), targets=torch.tensor([0, 1]))


def test_group_temperature_known_answer_and_cooldown():
    groups = torch.cat(
        [
            torch.zeros(10**6, dtype=torch.long),
            torch.ones(10**4, dtype=torch.long),
            torch.full((100,), 2),
        ]
    )
    rw = GroupTemperatureReweighting(tau=3.0).reset(
        n_samples=groups.numel(), groups=groups
    )
    np.testing.assert_allclose(
        rw.group_weight_.numpy(), [0.8005, 17.246, 371.55], rtol=1e-4
    )
    small = torch.tensor([0] * 900 + [1] * 100)
    cooled = GroupTemperatureReweighting(tau=Cooldown(5.0, 1.0)).reset(
        n_samples=1000, groups=small, n_epochs=11
    )
    first = cooled(torch.ones(2), epoch=0, groups=torch.tensor([0, 1]))
    last = cooled(torch.ones(2), epoch=10, groups=torch.tensor([0, 1]))
    np.testing.assert_allclose(last.numpy(), [1.0, 1.0], rtol=1e-6)  # tau = 1
    assert first[1] > first[0]


def test_history_records_epoch_statistics():
    rw = LossBasedReweighting(r=1.0)
    rw(LOSSES, step=0, epoch=0)
    rw(torch.tensor([2.0, 2.0]), step=1, epoch=0)
    record = rw.on_epoch_end(0)
    assert record["min"] == pytest.approx(0.4628, abs=1e-4)
    assert record["max"] == pytest.approx(1.2580, abs=1e-4)
    assert record["mean"] == pytest.approx(1.0, abs=1e-6)
    assert 0 < record["ess"] < 1
    assert rw.history_ == [record]
    assert rw.on_epoch_end(1) is None


def test_strategies_are_cloneable_and_unchanged_by_use():
    rw = LossBasedReweighting(strategy="quadratic", r=0.5)
    copy = clone(rw)
    assert copy.get_params() == rw.get_params()
    copy.set_params(r=2.0)
    assert rw.r == 0.5
    assert "quadratic" in repr(rw) and "0.5" in repr(rw)
    assert repr(LossBasedReweighting()) == "LossBasedReweighting()"


def test_storm_rescaler_learns_and_weights_average_one():
    from sklearn.datasets import make_classification

    from skreweight.torch import STORMReweighting, TorchClassifier

    X, y = make_classification(n_samples=300, random_state=0)
    y_noisy = y.copy()
    y_noisy[:30] = 1 - y_noisy[:30]  # 10% label noise
    params = {
        "hidden_layer_sizes": (16,),
        "max_epochs": 3,
        "batch_size": 64,
        "device": "cpu",
        "num_threads": 1,
        "random_state": 0,
    }
    storm = STORMReweighting(hidden=8, meta_lr=1e-2)
    clf = TorchClassifier(**params, reweighting=storm).fit(X, y_noisy)
    assert not hasattr(storm, "rescaler_")  # the user's object is untouched
    assert len(clf.reweighting_.history_) == 3
    assert all(abs(r["mean"] - 1) < 1e-5 for r in clf.reweighting_.history_)
    fresh = STORMReweighting(hidden=8).reset(n_samples=300, n_classes=2)
    torch.manual_seed(0)
    before = [p.detach().clone() for p in fresh.rescaler_.parameters()]
    after = list(clf.reweighting_.rescaler_.parameters())
    assert any(not torch.equal(a.detach(), b) for a, b in zip(after, before))
    again = TorchClassifier(**params, reweighting=storm).fit(X, y_noisy)
    assert all(
        torch.equal(p, q)
        for p, q in zip(clf.module_.parameters(), again.module_.parameters())
    )
    with pytest.raises(ValueError, match="only works with TorchClassifier"):
        STORMReweighting().reset(n_samples=3, task="regression")
