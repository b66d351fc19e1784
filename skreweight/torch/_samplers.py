"""Samplers that choose the rows of each epoch, and temperature schedules.

Protocol (what :class:`~skreweight.torch.TorchClassifier` calls):

- ``reset(*, n_samples, groups=None, generator=None, n_epochs=None)`` once
  before training, with a seeded CPU :class:`torch.Generator`;
- ``set_epoch(epoch)`` at the start of every epoch;
- ``indices()`` (or ``__iter__``) for the rows of the epoch, in order;
- optional ``update(indices, losses)`` after every step and
  ``batch_weights(indices)`` for per-row loss factors.

None of them replaces or patches anything in :mod:`torch`.
"""

import math
from numbers import Integral, Real

import numpy as np
import torch

from skreweight.torch._base import _TorchComponent
from skreweight.torch._reweighting import _current_tau, _temperature_probabilities
from skreweight.utils._sklearn_fixes import HasMethods, Interval, StrOptions

__all__ = [
    "Cooldown",
    "InfoBatchSampler",
    "RS2Sampler",
    "SeTaSampler",
    "TemperatureSampler",
]


class Cooldown(_TorchComponent):
    """Temperature schedule that starts hot and cools down over training.

    Called as ``schedule(epoch, n_epochs)`` it returns the temperature of the
    epoch (0-based):

    - ``"linear"``: ``tau_start + (tau_end - tau_start) e / max(E - 1, 1)``;
    - ``"cosine"``: ``tau_end + (tau_start - tau_end)(1 + cos(pi e / (E - 1))) / 2``;
    - ``"step"``: ``tau_start`` before epoch ``switch_fraction * E``, then
      ``tau_end``.

    Read more in the :ref:`User Guide <torch>`.

    Parameters
    ----------
    tau_start : float, default=5.0
        Temperature of the first epoch.

    tau_end : float, default=1.0
        Temperature of the last epoch.

    kind : {"linear", "cosine", "step"}, default="linear"
        Shape of the schedule.

    switch_fraction : float, default=0.5
        Fraction of the epochs after which ``"step"`` switches.

    See Also
    --------
    TemperatureSampler : Sample groups with ``p_g ∝ n_g^{1/tau}``.
    GroupTemperatureReweighting : Weight groups with the same probabilities.

    Notes
    -----
    Li et al. (NAACL 2025) propose cooling the temperature to get the fast
    start of up-sampling without its overfitting. Their exact schedule
    (values, shape, switch point) could not be confirmed: these defaults are
    skreweight's, not the paper's.

    References
    ----------
    .. [1] Li, Xu, Tan, Murray and Khashabi, "Upsample or
       Upweight? Balanced Training on Heavily Imbalanced Datasets",
       NAACL 2025.

    Examples
    --------
    >>> from skreweight.torch import Cooldown
    >>> schedule = Cooldown(tau_start=5.0, tau_end=1.0)
    >>> [schedule(epoch, 11) for epoch in (0, 5, 10)]
    [5.0, 3.0, 1.0]
    """

    _parameter_constraints: dict = {
        "tau_start": [Interval(Real, 0, None, closed="neither")],
        "tau_end": [Interval(Real, 0, None, closed="neither")],
        "kind": [StrOptions({"linear", "cosine", "step"})],
        "switch_fraction": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, tau_start=5.0, tau_end=1.0, kind="linear", switch_fraction=0.5):
        self.tau_start = tau_start
        self.tau_end = tau_end
        self.kind = kind
        self.switch_fraction = switch_fraction

    def __call__(self, epoch, n_epochs):
        """Return the temperature of ``epoch`` out of ``n_epochs``.

        Parameters
        ----------
        epoch : int
            Current epoch (0-based).

        n_epochs : int
            Total number of epochs.

        Returns
        -------
        tau : float
            Temperature of the epoch.
        """
        self._validate_params()
        start, end = float(self.tau_start), float(self.tau_end)
        span = max(n_epochs - 1, 1)
        progress = min(max(epoch / span, 0.0), 1.0)
        if self.kind == "linear":
            return start + (end - start) * progress
        if self.kind == "cosine":
            return end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * progress))
        return start if epoch < self.switch_fraction * n_epochs else end


class _BaseSampler(_TorchComponent):
    """Common machinery of the samplers."""

    def reset(self, *, n_samples, groups=None, generator=None, n_epochs=None):
        """Prepare the sampler for a new training run.

        Parameters
        ----------
        n_samples : int
            Number of training rows.

        groups : torch.Tensor of shape (n_samples,), default=None
            Integer-encoded group of every training row.

        generator : torch.Generator, default=None
            Seeded CPU generator used for every random draw; ``None`` creates
            an unseeded one.

        n_epochs : int, default=None
            Planned number of epochs.

        Returns
        -------
        self : object
            The reset sampler.
        """
        self._validate_params()
        if generator is None:
            generator = torch.Generator()
            generator.seed()
        self.n_samples_ = int(n_samples)
        self.n_epochs_ = n_epochs
        self._generator = generator
        self._epoch = None
        self._indices = None
        self._reset(groups=groups)
        return self

    def _reset(self, *, groups):
        """Sampler-specific preparation (default: nothing)."""

    def set_epoch(self, epoch):
        """Draw the rows of ``epoch``.

        Parameters
        ----------
        epoch : int
            The epoch about to start (0-based).

        Returns
        -------
        self : object
            The sampler.
        """
        if not hasattr(self, "n_samples_"):
            raise RuntimeError(
                f"{type(self).__name__} must be reset(n_samples=...) before use; "
                "TorchClassifier does this in fit."
            )
        self._epoch = int(epoch)
        self._indices = self._draw(self._epoch)
        return self

    def indices(self):
        """Return the row indices of the current epoch, in training order.

        Returns
        -------
        indices : torch.Tensor of shape (n_rows,)
            ``int64`` indices into the training rows.
        """
        if self._indices is None:
            self.set_epoch(0 if self._epoch is None else self._epoch)
        return self._indices

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return int(self.indices().numel())

    def _permutation(self, n):
        return torch.randperm(n, generator=self._generator)


class TemperatureSampler(_BaseSampler):
    """Sample groups with probability ``p_g ∝ n_g^{1/tau}``.

    Each epoch draws ``num_samples`` rows with replacement: a group with
    probability ``p_g = n_g^{1/tau} / sum_h n_h^{1/tau}``, then a row of it
    uniformly, so each row of group ``g`` has probability ``p_g / n_g``.
    ``tau=1`` samples the data as is, ``tau -> inf`` balances the groups.
    ``tau`` may be a schedule such as :class:`Cooldown`, evaluated per epoch.
    Groups default to the class labels for classifiers; pass
    ``fit(..., groups=...)`` otherwise.

    Read more in the :ref:`User Guide <torch>`.

    Parameters
    ----------
    tau : float or callable, default=5.0
        Temperature ``> 0`` (``float("inf")`` allowed), or a schedule object
        called as ``tau(epoch, n_epochs)``.

    num_samples : int, default=None
        Rows per epoch; ``None`` means the number of training rows.

    Attributes
    ----------
    group_probabilities_ : ndarray of shape (n_groups,)
        ``p_g`` of the current epoch.

    See Also
    --------
    Cooldown : Temperature schedule.
    GroupTemperatureReweighting : Weight groups instead of sampling them.

    Notes
    -----
    fairseq's ``temperature_sampling`` gives the same probabilities. Under
    SGD, sampling has lower gradient variance than the equivalent weights.

    References
    ----------
    .. [1] Li, Xu, Tan, Murray and Khashabi, "Upsample or
       Upweight? Balanced Training on Heavily Imbalanced Datasets",
       NAACL 2025.

    Examples
    --------
    >>> import torch
    >>> from skreweight.torch import TemperatureSampler
    >>> groups = torch.tensor([0] * 900 + [1] * 100)
    >>> sampler = TemperatureSampler(tau=2.0).reset(
    ...     n_samples=1000, groups=groups, generator=torch.Generator().manual_seed(0)
    ... )
    >>> sampler.set_epoch(0).group_probabilities_.round(3)
    array([0.75, 0.25])
    >>> len(sampler)
    1000
    """

    _parameter_constraints: dict = {
        "tau": [
            Interval(Real, 0, np.inf, closed="right"),
            HasMethods(["__call__"]),
        ],
        "num_samples": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, tau=5.0, num_samples=None):
        self.tau = tau
        self.num_samples = num_samples

    def _reset(self, *, groups):
        if groups is None:
            raise ValueError(
                "TemperatureSampler needs groups: pass fit(X, y, groups=...) "
                "(classifiers default to groups=y)."
            )
        groups = torch.as_tensor(groups).long().cpu().reshape(-1)
        if groups.numel() != self.n_samples_:
            raise ValueError(
                f"groups has {groups.numel()} entries but there are "
                f"{self.n_samples_} training rows; give one group per row."
            )
        self._counts = torch.bincount(groups)
        self._order = torch.argsort(groups, stable=True)
        self._starts = torch.cumsum(self._counts, 0) - self._counts

    def _draw(self, epoch):
        tau = _current_tau(self.tau, epoch, self.n_epochs_)
        probabilities = _temperature_probabilities(self._counts.numpy(), tau)
        self.group_probabilities_ = probabilities
        n_draws = self.num_samples or self.n_samples_
        drawn = torch.multinomial(
            torch.as_tensor(probabilities, dtype=torch.float64),
            n_draws,
            replacement=True,
            generator=self._generator,
        )
        within = torch.rand(n_draws, generator=self._generator, dtype=torch.float64)
        offset = (within * self._counts[drawn]).long()
        offset = torch.minimum(offset, self._counts[drawn] - 1)
        return self._order[self._starts[drawn] + offset]


class RS2Sampler(_BaseSampler):
    """Repeated sampling of random subsets (RS2, Okanovic et al., ICLR 2024).

    Each epoch (a "round") trains on ``k = max(1, round(fraction * N))`` rows.
    With ``replacement=False`` the rounds walk through a chain of independent
    permutations, so every row is seen once before any is repeated; with
    ``replacement=True`` each round draws an independent subset.

    Read more in the :ref:`User Guide <torch>`.

    Parameters
    ----------
    fraction : float, default=0.1
        Fraction of the training rows per round, in ``(0, 1]``.

    replacement : bool, default=False
        Draw each round independently instead of walking permutations.

    See Also
    --------
    SeTaSampler : Loss-aware curriculum pruning.
    InfoBatchSampler : Loss-aware random pruning with rescaling.

    Notes
    -----
    Size learning-rate schedules on the real number of steps: each epoch has
    ``k / batch_size`` steps. Unlike the authors' code, a round that crosses
    the end of a permutation continues on the next one instead of being
    short, and no global NumPy seed is set.

    References
    ----------
    .. [1] P. Okanovic et al., "Repeated Random
       Sampling for Minimizing the Time-to-Accuracy of Learning", ICLR 2024.

    Examples
    --------
    >>> import torch
    >>> from skreweight.torch import RS2Sampler
    >>> sampler = RS2Sampler(fraction=0.1).reset(
    ...     n_samples=1000, generator=torch.Generator().manual_seed(0)
    ... )
    >>> seen = torch.cat([sampler.set_epoch(e).indices() for e in range(10)])
    >>> bool((torch.sort(seen).values == torch.arange(1000)).all())
    True
    """

    _parameter_constraints: dict = {
        "fraction": [Interval(Real, 0, 1, closed="right")],
        "replacement": ["boolean"],
    }

    def __init__(self, fraction=0.1, replacement=False):
        self.fraction = fraction
        self.replacement = replacement

    def _reset(self, **_):
        self.round_size_ = max(1, int(round(self.fraction * self.n_samples_)))
        self._stream = torch.empty(0, dtype=torch.long)
        self._rounds = {}

    def _draw(self, epoch):
        if epoch in self._rounds:
            return self._rounds[epoch]
        k = self.round_size_
        if self.replacement:
            chosen = self._permutation(self.n_samples_)[:k]
        else:
            while self._stream.numel() < k:
                self._stream = torch.cat(
                    (self._stream, self._permutation(self.n_samples_))
                )
            chosen, self._stream = self._stream[:k], self._stream[k:]
        # Keep only the current round: epochs are visited in order.
        self._rounds = {epoch: chosen}
        return chosen


class _LossTableSampler(_BaseSampler):
    """A sampler that keeps the latest loss of every row."""

    def _reset(self, **_):
        self._scores = None
        self._weights = None

    def update(self, indices, losses):
        """Record the latest per-sample losses of a batch.

        Parameters
        ----------
        indices : torch.Tensor of shape (B,)
            Training-row indices of the batch.

        losses : torch.Tensor of shape (B,)
            Their per-sample losses (detached inside).

        Returns
        -------
        self : object
            The sampler.
        """
        losses = losses.detach().float().reshape(-1)
        if self._scores is None:
            self._scores = torch.zeros(
                self.n_samples_, dtype=torch.float32, device=losses.device
            )
        self._scores.index_copy_(0, indices.to(losses.device), losses)
        return self

    def _annealing(self, epoch):
        n_epochs = self.n_epochs_ or 1
        return epoch + 1 > self.anneal_fraction * n_epochs

    def _keep_count(self):
        keep = min(max(1.0 - self.prune_ratio, 0.1), 1.0)
        return keep, max(1, int(math.floor(keep * self.n_samples_)))


class SeTaSampler(_LossTableSampler):
    """Scale Efficient Training: a sliding window over loss-sorted clusters.

    Every epoch after the first keeps a random fraction ``1 - prune_ratio`` of
    the rows, clusters their latest losses into ``n_groups`` groups with
    one-dimensional k-means, sorts the groups from easy to hard and trains on
    a window of ``w = round(n_groups * window_scale)`` consecutive groups,
    starting at group ``s = t mod (n_groups - w + 1)`` where ``t`` counts the
    pruning calls. Once the epoch (1-based) exceeds ``anneal_fraction *
    n_epochs`` it trains on a plain random subset.

    Read more in the :ref:`User Guide <torch>`.

    Parameters
    ----------
    prune_ratio : float, default=0.1
        Fraction of rows dropped at random each epoch (the kept fraction is
        clipped to ``[0.1, 1]``).

    n_groups : int, default=5
        Number of loss clusters.

    window_scale : float, default=0.9
        Fraction of the clusters in the window (rounded half to even, as
        upstream: ``(5, 0.9)`` gives 4 clusters).

    anneal_fraction : float, default=0.875
        Fraction of the epochs after which the window is dropped.

    See Also
    --------
    InfoBatchSampler : Random pruning of well-learned rows with rescaling.
    RS2Sampler : Random subsets without loss information.

    Notes
    -----
    Deviations from the authors' code: epoch 0 uses every row, so every loss
    is real before pruning starts (upstream starts scores at 3); randomness
    comes from the estimator's generator, not the global NumPy/torch RNGs;
    nothing in torch is patched. With the defaults the window alternates
    between the hardest and the easiest 4 of 5 clusters.

    References
    ----------
    .. [1] Zhou, Gao and Wang, "Scale Efficient Training for Large
       Datasets", CVPR 2025.

    Examples
    --------
    >>> import torch
    >>> from skreweight.torch import SeTaSampler
    >>> sampler = SeTaSampler().reset(
    ...     n_samples=100, generator=torch.Generator().manual_seed(0), n_epochs=10
    ... )
    >>> len(sampler.set_epoch(0))
    100
    >>> _ = sampler.update(torch.arange(100), torch.linspace(0, 1, 100))
    >>> len(sampler.set_epoch(1)) < 90
    True
    """

    _parameter_constraints: dict = {
        "prune_ratio": [Interval(Real, 0, 1, closed="left")],
        "n_groups": [Interval(Integral, 1, None, closed="left")],
        "window_scale": [Interval(Real, 0, 1, closed="right")],
        "anneal_fraction": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(
        self, prune_ratio=0.1, n_groups=5, window_scale=0.9, anneal_fraction=0.875
    ):
        self.prune_ratio = prune_ratio
        self.n_groups = n_groups
        self.window_scale = window_scale
        self.anneal_fraction = anneal_fraction

    def _reset(self, **kwargs):
        super()._reset(**kwargs)
        self.window_ = max(1, round(self.n_groups * self.window_scale))
        if self.window_ >= self.n_groups:
            import warnings

            warnings.warn(
                f"SeTaSampler window round({self.n_groups} * {self.window_scale})"
                f" = {self.window_} covers every group: the curriculum is a no-op. "
                "Lower window_scale or raise n_groups.",
                UserWarning,
                stacklevel=3,
            )
        self._calls = 0

    def _window_start(self, call):
        return call % (self.n_groups - self.window_ + 1)

    def _draw(self, epoch):
        if epoch == 0 or self._scores is None:
            return self._permutation(self.n_samples_)
        _, n_keep = self._keep_count()
        kept = self._permutation(self.n_samples_)[:n_keep]
        if self._annealing(epoch):
            return kept
        self._calls += 1
        if n_keep <= self.n_groups:
            raise ValueError(
                f"SeTaSampler keeps {n_keep} rows but needs more than n_groups="
                f"{self.n_groups}; lower n_groups or prune_ratio."
            )
        scores = self._scores[kept.to(self._scores.device)].double().cpu().numpy()
        labels = self._cluster(scores)
        start = self._window_start(self._calls)
        chosen = (labels >= start) & (labels < start + self.window_)
        return kept[torch.as_tensor(chosen)]

    def _cluster(self, scores):
        """Cluster ranks 0 (easiest) .. n_groups - 1 (hardest) of each score."""
        from sklearn.cluster import KMeans

        if np.ptp(scores) == 0:
            # Equal chunks: the kept rows are already in random order.
            return (np.arange(scores.size) * self.n_groups) // scores.size
        seed = int(torch.randint(2**31 - 1, (1,), generator=self._generator))
        kmeans = KMeans(n_clusters=self.n_groups, n_init=1, random_state=seed)
        labels = kmeans.fit_predict(scores.reshape(-1, 1))
        rank = np.empty(self.n_groups, dtype=np.int64)
        rank[np.argsort(kmeans.cluster_centers_.ravel())] = np.arange(self.n_groups)
        return rank[labels]


class InfoBatchSampler(_LossTableSampler):
    """InfoBatch: randomly prune well-learned rows and rescale the survivors.

    Each epoch after the first, every row whose latest loss is below the mean
    loss is dropped with probability ``prune_ratio``; the surviving
    well-learned rows get the loss factor ``1 / (1 - prune_ratio)`` through
    ``batch_weights`` so that the expected gradient is unchanged. Once the
    epoch (1-based) exceeds ``anneal_fraction * n_epochs`` it trains on all
    rows with unit factors.

    Read more in the :ref:`User Guide <torch>`.

    Parameters
    ----------
    prune_ratio : float, default=0.5
        Probability of dropping a well-learned row, in ``[0, 1)``.

    anneal_fraction : float, default=0.875
        Fraction of the epochs after which pruning stops.

    See Also
    --------
    SeTaSampler : Sliding-window curriculum over loss clusters.
    RS2Sampler : Random subsets without loss information.

    Notes
    -----
    Epoch 0 uses every row so that every loss is known; randomness comes
    from the estimator's generator; nothing in torch is patched.

    References
    ----------
    .. [1] Z. Qin et al., "InfoBatch: Lossless Training Speed Up by
       Unbiased Dynamic Data Pruning", ICLR 2024.

    Examples
    --------
    >>> import torch
    >>> from skreweight.torch import InfoBatchSampler
    >>> sampler = InfoBatchSampler(prune_ratio=0.5).reset(
    ...     n_samples=1000, generator=torch.Generator().manual_seed(0), n_epochs=10
    ... )
    >>> _ = sampler.set_epoch(0).update(torch.arange(1000), torch.rand(1000))
    >>> idx = sampler.set_epoch(1).indices()
    >>> sorted(set(sampler.batch_weights(idx).tolist()))
    [1.0, 2.0]
    """

    _parameter_constraints: dict = {
        "prune_ratio": [Interval(Real, 0, 1, closed="left")],
        "anneal_fraction": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, prune_ratio=0.5, anneal_fraction=0.875):
        self.prune_ratio = prune_ratio
        self.anneal_fraction = anneal_fraction

    def _draw(self, epoch):
        self._weights = None
        order = self._permutation(self.n_samples_)
        if epoch == 0 or self._scores is None or self._annealing(epoch):
            return order
        keep = 1.0 - self.prune_ratio
        scores = self._scores.cpu()
        well_learned = scores < scores.mean()
        dropped = well_learned & (
            torch.rand(self.n_samples_, generator=self._generator) < self.prune_ratio
        )
        weights = torch.ones(self.n_samples_)
        weights[well_learned] = 1.0 / keep
        self._weights = weights
        return order[~dropped[order]]

    def batch_weights(self, indices):
        """Loss factors of the given rows for the current epoch.

        Parameters
        ----------
        indices : torch.Tensor of shape (B,)
            Training-row indices of a batch.

        Returns
        -------
        weights : torch.Tensor of shape (B,)
            ``1 / (1 - prune_ratio)`` for surviving well-learned rows, 1 else.
        """
        if self._weights is None:
            return torch.ones(indices.shape[0], device=indices.device)
        if self._weights.device != indices.device:  # move once per epoch
            self._weights = self._weights.to(indices.device)
        return self._weights[indices]
