"""Samplers and schedules of the torch backend."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skreweight.torch import (  # noqa: E402
    Cooldown,
    InfoBatchSampler,
    RS2Sampler,
    SeTaSampler,
    TemperatureSampler,
)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


GROUPS = torch.tensor([0] * 900 + [1] * 100)


@pytest.mark.parametrize(
    "tau, p1", [(1.0, 0.1), (2.0, 0.25), (5.0, 0.39187), (float("inf"), 0.5)]
)
def test_temperature_probabilities(tau, p1):
    sampler = TemperatureSampler(tau=tau).reset(
        n_samples=1000, groups=GROUPS, generator=_gen()
    )
    np.testing.assert_allclose(
        sampler.set_epoch(0).group_probabilities_, [1 - p1, p1], atol=1e-5
    )


def test_temperature_empirical_frequencies_within_three_standard_errors():
    sampler = TemperatureSampler(tau=5.0, num_samples=20000).reset(
        n_samples=1000, groups=GROUPS, generator=_gen()
    )
    idx = sampler.set_epoch(0).indices()
    assert idx.numel() == 20000 and len(sampler) == 20000
    p1 = 0.39187
    freq = (GROUPS[idx] == 1).double().mean().item()
    assert abs(freq - p1) < 3 * np.sqrt(p1 * (1 - p1) / 20000)
    # rows are uniform within a group: every row of the small group is drawn
    assert torch.unique(idx[GROUPS[idx] == 1]).numel() == 100


def test_temperature_sampler_is_reproducible_and_checks_groups():
    a = TemperatureSampler().reset(n_samples=1000, groups=GROUPS, generator=_gen(3))
    b = TemperatureSampler().reset(n_samples=1000, groups=GROUPS, generator=_gen(3))
    assert torch.equal(a.set_epoch(0).indices(), b.set_epoch(0).indices())
    assert list(a) == a.indices().tolist()
    with pytest.raises(ValueError, match="groups has 999 entries"):
        TemperatureSampler().reset(n_samples=1000, groups=GROUPS[:999])
    with pytest.raises(ValueError, match="needs groups"):
        TemperatureSampler().reset(n_samples=1000, groups=None)


def test_cooldown_schedules():
    assert [Cooldown(5.0, 1.0)(e, 11) for e in (0, 5, 10)] == [5.0, 3.0, 1.0]
    cosine = Cooldown(5.0, 1.0, kind="cosine")
    assert cosine(0, 11) == pytest.approx(5.0) and cosine(10, 11) == pytest.approx(1.0)
    assert cosine(5, 11) == pytest.approx(3.0)
    step = Cooldown(5.0, 1.0, kind="step", switch_fraction=0.5)
    assert [step(e, 10) for e in (0, 4, 5, 9)] == [5.0, 5.0, 1.0, 1.0]
    sampler = TemperatureSampler(tau=Cooldown(5.0, 1.0)).reset(
        n_samples=1000, groups=GROUPS, generator=_gen(), n_epochs=11
    )
    np.testing.assert_allclose(sampler.set_epoch(10).group_probabilities_, [0.9, 0.1])


def test_rs2_without_replacement_visits_every_row_once():
    sampler = RS2Sampler(fraction=0.1).reset(n_samples=1000, generator=_gen())
    rounds = [sampler.set_epoch(e).indices() for e in range(10)]
    assert all(r.numel() == 100 for r in rounds)
    seen = torch.sort(torch.cat(rounds)).values
    assert torch.equal(seen, torch.arange(1000))
    # rounds crossing the end of a permutation stay full size
    odd = RS2Sampler(fraction=0.3).reset(n_samples=10, generator=_gen())
    rounds = [odd.set_epoch(e).indices() for e in range(10)]
    assert [r.numel() for r in rounds] == [3] * 10
    # 30 stream positions = 3 whole permutations: every row exactly 3 times
    assert torch.equal(torch.bincount(torch.cat(rounds)), torch.full((10,), 3))


def test_rs2_with_replacement_draws_independent_subsets():
    sampler = RS2Sampler(fraction=0.1, replacement=True).reset(
        n_samples=1000, generator=_gen()
    )
    a, b = sampler.set_epoch(0).indices(), sampler.set_epoch(1).indices()
    assert a.numel() == b.numel() == 100
    assert torch.unique(a).numel() == 100
    assert not torch.equal(torch.sort(a).values, torch.sort(b).values)


@pytest.mark.parametrize(
    "n_groups, scale, window, starts",
    [(5, 0.9, 4, [1, 0, 1, 0]), (10, 0.5, 5, [1, 2, 3, 4, 5, 0, 1])],
)
def test_seta_window(n_groups, scale, window, starts):
    sampler = SeTaSampler(n_groups=n_groups, window_scale=scale).reset(n_samples=100)
    assert sampler.window_ == window
    assert [sampler._window_start(t) for t in range(1, len(starts) + 1)] == starts


def test_seta_prunes_by_loss_clusters_then_anneals():
    n = 1000
    sampler = SeTaSampler(prune_ratio=0.1).reset(
        n_samples=n, generator=_gen(), n_epochs=8
    )
    assert sampler.set_epoch(0).indices().numel() == n  # epoch 0: every row
    scores = torch.arange(n, dtype=torch.float32)  # row i has loss i
    sampler.update(torch.arange(n), scores)
    hard = sampler.set_epoch(1).indices()  # window start 1: hardest 4 of 5
    easy = sampler.set_epoch(2).indices()  # window start 0: easiest 4 of 5
    assert 0 < hard.numel() < 900 and 0 < easy.numel() < 900
    assert scores[hard].min() > scores[easy].min()
    assert scores[hard].max() > scores[easy].max()
    annealed = sampler.set_epoch(7).indices()  # epoch 8 > 0.875 * 8
    assert annealed.numel() == 900


def test_seta_warns_on_noop_window():
    with pytest.warns(UserWarning, match="no-op"):
        SeTaSampler(n_groups=5, window_scale=1.0).reset(n_samples=100)


def test_infobatch_prunes_well_learned_rows_and_rescales():
    n = 10000
    sampler = InfoBatchSampler(prune_ratio=0.5).reset(
        n_samples=n, generator=_gen(), n_epochs=10
    )
    assert sampler.set_epoch(0).indices().numel() == n
    scores = torch.rand(n, generator=_gen(1))
    sampler.update(torch.arange(n), scores)
    idx = sampler.set_epoch(1).indices()
    low = scores < scores.mean()
    kept_low = low[idx].sum().item()
    assert abs(kept_low - 0.5 * low.sum().item()) < 4 * np.sqrt(0.25 * low.sum().item())
    assert (~low[idx]).sum().item() == (~low).sum().item()  # hard rows all kept
    weights = sampler.batch_weights(idx)
    torch.testing.assert_close(weights[low[idx]], torch.full((kept_low,), 2.0))
    torch.testing.assert_close(weights[~low[idx]], torch.ones(idx.numel() - kept_low))
    final = sampler.set_epoch(9)
    assert final.indices().numel() == n
    assert torch.all(final.batch_weights(torch.arange(n)) == 1)


def test_sampler_needs_reset():
    with pytest.raises(RuntimeError, match="reset"):
        RS2Sampler().set_epoch(0)
