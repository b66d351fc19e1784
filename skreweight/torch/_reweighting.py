"""Dynamic per-sample loss reweighting strategies for the torch estimators.

A strategy is called once per optimisation step on the detached per-sample
losses of the batch and returns one non-negative weight per sample; the
estimator multiplies them into the batch loss ``sum_B s_i d_i l_i / (|B| s_bar)``.

Protocol (what :class:`~skreweight.torch.TorchClassifier` calls):

- ``requires``: a tuple, subset of ``("logits", "targets", "indices",
  "groups", "inputs", "module")``, naming the batch tensors (and, for
  meta-learning strategies, the network) passed to ``__call__``;
- ``reset(*, n_samples, targets=None, groups=None, sample_weight=None,
  n_classes=None, n_epochs=None, device=None, task="classification")`` once
  before training;
- ``__call__(losses, *, step, epoch, **requested)`` each step, returning
  detached weights of shape ``(B,)``;
- ``on_epoch_end(epoch)`` after each epoch (records ``history_``).
"""

from numbers import Integral, Real

import numpy as np
import torch

from skreweight.torch._base import _TorchComponent
from skreweight.utils._sklearn_fixes import HasMethods, Interval, StrOptions

__all__ = [
    "STORMReweighting",
    "ClassBalancedReweighting",
    "FocalReweighting",
    "GHMReweighting",
    "GroupTemperatureReweighting",
    "LossBasedReweighting",
]


class _BaseReweighting(_TorchComponent):
    """Common machinery: validation, epoch statistics and ``history_``."""

    requires = ()
    _classification_only = False
    _needs_reset = False
    _needs_grad = False
    # Set by TorchClassifier after ``reset`` when the losses it passes are the
    # plain cross-entropy of ``logits``: the true-class probability is then
    # ``exp(-loss)``, two cheap operations instead of a log-softmax per step.
    _cross_entropy_losses = False

    def reset(
        self,
        *,
        n_samples,
        targets=None,
        groups=None,
        sample_weight=None,
        n_classes=None,
        n_epochs=None,
        device=None,
        task="classification",
    ):
        """Prepare the strategy for a new training run.

        Parameters
        ----------
        n_samples : int
            Number of training rows.

        targets : torch.Tensor of shape (n_samples,), default=None
            Integer-encoded class of every training row (classifiers only).

        groups : torch.Tensor of shape (n_samples,), default=None
            Integer-encoded group of every training row.

        sample_weight : torch.Tensor of shape (n_samples,), default=None
            Static weights of the training rows (``None``: ones).

        n_classes : int, default=None
            Number of classes (classifiers only).

        n_epochs : int, default=None
            Planned number of epochs.

        device : torch.device, default=None
            Device of the training tensors.

        task : {"classification", "regression"}, default="classification"
            Kind of estimator being trained.

        Returns
        -------
        self : object
            The reset strategy.
        """
        self._validate_params()
        if self._classification_only and task != "classification":
            raise ValueError(
                f"{type(self).__name__} needs class probabilities and only works "
                "with TorchClassifier; use LossBasedReweighting or GHMReweighting "
                "with TorchRegressor."
            )
        self.n_samples_ = n_samples
        self.n_epochs_ = n_epochs
        self.task_ = task
        self._cross_entropy_losses = False
        self.history_ = []
        self._stats = None
        self._reset(
            targets=targets,
            groups=groups,
            sample_weight=sample_weight,
            n_classes=n_classes,
            device=device,
        )
        self._is_reset = True
        return self

    def _reset(self, **kwargs):
        """Strategy-specific preparation (default: nothing)."""

    def __call__(self, losses, *, step=0, epoch=0, **requested):
        """Return the weights of one batch.

        Parameters
        ----------
        losses : torch.Tensor of shape (B,)
            Per-sample losses of the batch (detached inside).

        step : int, default=0
            Number of optimiser steps taken so far.

        epoch : int, default=0
            Current epoch (0-based).

        **requested : dict of torch.Tensor
            The batch tensors named in ``requires``.

        Returns
        -------
        weights : torch.Tensor of shape (B,)
            Detached non-negative weights.
        """
        if not getattr(self, "_is_reset", False):
            if self._needs_reset:
                raise RuntimeError(
                    f"{type(self).__name__} needs the training labels or groups: "
                    "call reset(...) first (TorchClassifier does this in fit)."
                )
            self._validate_params()
            self.history_ = []
            self._stats = None
            self._is_reset = True
        missing = [name for name in self.requires if requested.get(name) is None]
        if missing:
            raise ValueError(
                f"{type(self).__name__} needs {missing} for every batch; pass them "
                "as keyword arguments."
            )
        # Tensor operations are skipped when they would be no-ops: at a few
        # microseconds each they are a visible share of a small CPU step.
        if losses.requires_grad:
            losses = losses.detach()
        if losses.dtype != torch.float32:
            losses = losses.float()
        if losses.ndim != 1:
            losses = losses.reshape(-1)
        grad_mode = torch.enable_grad() if self._needs_grad else torch.no_grad()
        with grad_mode:
            weights = self._weights(losses, step=step, epoch=epoch, **requested)
        if weights.requires_grad:
            weights = weights.detach()
        self._accumulate(weights)
        return weights

    def _accumulate(self, weights):
        # No device work per step: the batch weights are kept (one float per
        # row and epoch) and summarised once in ``on_epoch_end``.
        if self._stats is None:
            self._stats = []
        self._stats.append(weights)

    def on_epoch_end(self, epoch):
        """Record the weight statistics of the finished epoch in ``history_``.

        The statistics are read from the device once per epoch, not per step.

        Parameters
        ----------
        epoch : int
            The epoch that just finished (0-based).

        Returns
        -------
        record : dict or None
            ``{"epoch", "mean", "min", "max", "ess"}`` where ``ess`` is the
            effective sample size ``(sum d)^2 / sum d^2`` divided by the number
            of weights (1 for uniform weights); ``None`` if no step ran.
        """
        if not self._stats:
            return None
        weights = torch.cat([w.reshape(-1).float() for w in self._stats])
        low, high = torch.aminmax(weights)
        total, squares = torch.stack((weights.sum(), weights.square().sum())).tolist()
        count = weights.numel()
        record = {
            "epoch": epoch,
            "mean": total / count,
            "min": low.item(),
            "max": high.item(),
            "ess": (total * total / squares / count) if squares > 0 else 0.0,
        }
        self.history_.append(record)
        self._stats = None
        return record


def _probability_of_target(strategy, losses, logits, targets):
    if strategy._cross_entropy_losses:
        return torch.exp(-losses)
    return _true_class_probability(logits, targets)


def _true_class_probability(logits, targets):
    # log_softmax + exp of the gathered column: half the cost of a softmax
    # over all classes on the CPU for small batches (runs every step).
    log_p = torch.log_softmax(logits.float(), dim=1)
    return log_p.gather(1, targets.long().reshape(-1, 1)).reshape(-1).exp()


class LossBasedReweighting(_BaseReweighting):
    """Sample-level loss reweighting of Sow et al. (ICLR 2025).

    Each batch's per-sample losses ``l`` are mapped to ``[-delta, delta]``,
    scored by ``f`` and turned into weights ``d = B * softmax(f(h(l)) / r)``,
    the maximiser of ``sum_i w_i f_i - r KL(w || uniform)`` on the simplex.
    The weights average exactly 1, and ``max d / min d <= exp(1 / r)`` for
    ``delta=1``.

    - ``"linupper"``: ``f = min(h + delta, delta)`` down-weights the low-loss
      half linearly and caps the rest (the paper's best strategy for
      pretraining);
    - ``"quadratic"``: ``f = 1 - h^2 / delta^2`` favours mid-range losses;
    - ``"extremes"``: ``f = |h|`` favours the easiest and hardest samples.

    Here ``h = delta (2 l - l_max - l_min) / max(l_max - l_min, 1e-6)``, the
    authors' normalisation rearranged so that a constant batch gives ``h = 0``
    and uniform weights.

    Read more in the :ref:`User Guide <torch>`.

    Parameters
    ----------
    strategy : {"linupper", "quadratic", "extremes"}, default="linupper"
        Score function ``f``.

    r : float, default=1.0
        Temperature (the KL regulariser). Large ``r`` gives uniform weights,
        small ``r`` concentrates the weight.

    warmup_steps : int, default=0
        Number of optimiser steps before reweighting starts.

    warmup_r : float, default=None
        Temperature used during warm-up; ``None`` gives unit weights during
        warm-up.

    delta : float, default=1.0
        Half-width of the normalised loss range.

    Attributes
    ----------
    history_ : list of dict
        Per-epoch weight statistics (``mean``, ``min``, ``max``, ``ess``).

    See Also
    --------
    FocalReweighting : Up-weight poorly classified samples.
    GHMReweighting : Down-weight dense regions of the gradient norm.

    Notes
    -----
    The names ``"upper"``/``"mid"`` of the authors' code are not accepted:
    ``"upper"`` means LinUpper in one upstream branch and ``0.5 h + 0.5 delta``
    in another. No clipping is applied: the temperature bounds the weight ratio.

    References
    ----------
    .. [1] D. Sow et al., "Dynamic Loss-Based Sample Reweighting for Improved Large
       Language Model Pretraining", ICLR 2025.

    Examples
    --------
    >>> import torch
    >>> from skreweight.torch import LossBasedReweighting
    >>> losses = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    >>> LossBasedReweighting(r=1.0)(losses, step=0, epoch=0)
    tensor([0.4628, 0.7630, 1.2580, 1.2580, 1.2580])
    """

    _parameter_constraints: dict = {
        "strategy": [StrOptions({"linupper", "quadratic", "extremes"})],
        "r": [Interval(Real, 0, None, closed="neither")],
        "warmup_steps": [Interval(Integral, 0, None, closed="left")],
        "warmup_r": [Interval(Real, 0, None, closed="neither"), None],
        "delta": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self, strategy="linupper", r=1.0, warmup_steps=0, warmup_r=None, delta=1.0
    ):
        self.strategy = strategy
        self.r = r
        self.warmup_steps = warmup_steps
        self.warmup_r = warmup_r
        self.delta = delta

    def _weights(self, losses, *, step, **_):
        r = self.r
        if step < self.warmup_steps:
            if self.warmup_r is None:
                return torch.ones_like(losses)
            r = self.warmup_r
        delta = float(self.delta)
        low, high = torch.aminmax(losses)
        if losses.device.type == "cpu":
            # Host scalars cost no device sync on the CPU and save four tensor
            # operations per step.
            low, high = low.item(), high.item()
            scale = delta / max(high - low, 1e-6)
        else:
            scale = delta / (high - low).clamp_min(1e-6)
        h = (2 * losses - (high + low)) * scale
        if self.strategy == "linupper":
            score = torch.clamp(h + delta, max=delta)
        elif self.strategy == "quadratic":
            score = 1.0 - h.square() / delta**2
        else:
            score = h.abs()
        # B * softmax(f / r), computed as exp((f - max f) / r) / sum.
        return torch.softmax(score * (1.0 / r), dim=0).mul_(losses.numel())


class FocalReweighting(_BaseReweighting):
    """Focal-loss weights ``alpha_y (1 - p_t)^gamma`` as detached sample weights.

    With the cross-entropy criterion, the weighted loss
    ``-alpha_y (1 - p_t)^gamma log p_t`` has the value of the focal loss of
    Lin et al. (2017), where ``p_t`` is the predicted probability of the true
    class. Unlike :func:`focal_loss`, the factor is detached, so its gradient
    is not propagated: the two differ in gradients, not in loss values.
    ``gamma=0`` and ``alpha=None`` give unit weights (plain cross-entropy).

    Read more in the :ref:`User Guide <torch>`.

    Parameters
    ----------
    gamma : float, default=2.0
        Focusing parameter, ``>= 0``; the paper finds ``gamma`` in
        ``[0.5, 5]`` robust and uses 2.

    alpha : array-like of shape (n_classes,), default=None
        Per-class factor (in the order of ``classes_``); ``None`` means ones.

    Attributes
    ----------
    history_ : list of dict
        Per-epoch weight statistics (``mean``, ``min``, ``max``, ``ess``).

    See Also
    --------
    focal_loss : The focal loss as a criterion (gradient through the factor).
    GHMReweighting : Gradient harmonizing weights.

    Notes
    -----
    The weights do not average to 1: they shrink the loss of well-classified
    samples. Classification only.

    References
    ----------
    .. [1] T.-Y. Lin, P. Goyal, R. Girshick, K. He and P. Dollár, "Focal Loss
       for Dense Object Detection", ICCV 2017.

    Examples
    --------
    >>> import torch
    >>> from skreweight.torch import FocalReweighting
    >>> logits = torch.tensor([[4.0, 0.0], [0.0, 0.0]])
    >>> targets = torch.tensor([0, 0])
    >>> weights = FocalReweighting(gamma=2.0)(
    ...     torch.ones(2), step=0, epoch=0, logits=logits, targets=targets
    ... )
    >>> [f"{w:.3e}" for w in weights.tolist()]
    ['3.235e-04', '2.500e-01']
    """

    requires = ("logits", "targets")
    _classification_only = True
    _parameter_constraints: dict = {
        "gamma": [Interval(Real, 0, None, closed="left")],
        "alpha": ["array-like", None],
    }

    def __init__(self, gamma=2.0, alpha=None):
        self.gamma = gamma
        self.alpha = alpha

    def _reset(self, *, n_classes, device, **_):
        self._alpha = None
        if self.alpha is not None:
            alpha = np.asarray(self.alpha, dtype=np.float64).reshape(-1)
            if n_classes is not None and alpha.shape[0] != n_classes:
                raise ValueError(
                    f"alpha has {alpha.shape[0]} entries but there are {n_classes} "
                    "classes; give one factor per class, in the order of classes_."
                )
            if np.any(alpha < 0) or not np.all(np.isfinite(alpha)):
                raise ValueError("alpha must hold finite non-negative factors.")
            self._alpha = torch.as_tensor(alpha, dtype=torch.float32, device=device)

    def _weights(self, losses, *, logits, targets, **_):
        p_true = _probability_of_target(self, losses, logits, targets)
        weights = (1.0 - p_true).clamp_min(0.0).pow(self.gamma)
        alpha = getattr(self, "_alpha", None)
        if alpha is None and self.alpha is not None:
            alpha = torch.as_tensor(
                np.asarray(self.alpha, dtype=np.float64),
                dtype=torch.float32,
                device=weights.device,
            )
        if alpha is not None:
            weights = weights * alpha.to(weights.device)[targets.long()]
        return weights


def focal_loss(logits, targets, gamma=2.0, alpha=None, reduction="none"):
    """Multi-class focal loss ``-alpha_y (1 - p_t)^gamma log p_t``.

    The factor ``(1 - p_t)^gamma`` stays in the autograd graph, as in Lin et
    al. (2017). Pass it as ``criterion=functools.partial(focal_loss,
    gamma=...)`` to :class:`TorchClassifier`; ``gamma=0`` is the cross-entropy.

    Parameters
    ----------
    logits : torch.Tensor of shape (B, n_classes)
        Unnormalised class scores.

    targets : torch.Tensor of shape (B,)
        Integer class indices.

    gamma : float, default=2.0
        Focusing parameter, ``>= 0``.

    alpha : torch.Tensor of shape (n_classes,), default=None
        Per-class factor; ``None`` means ones.

    reduction : {"none", "mean", "sum"}, default="none"
        Reduction over the batch.

    Returns
    -------
    loss : torch.Tensor
        Per-sample losses of shape (B,), or their mean or sum.

    See Also
    --------
    FocalReweighting : The same factor as a detached sample weight.

    References
    ----------
    .. [1] T.-Y. Lin, P. Goyal, R. Girshick, K. He and P. Dollár, "Focal Loss
       for Dense Object Detection", ICCV 2017.

    Examples
    --------
    >>> import torch
    >>> from skreweight.torch import focal_loss
    >>> logits = torch.tensor([[4.0, 0.0], [0.0, 0.0]])
    >>> focal_loss(logits, torch.tensor([0, 0]), gamma=0.0)
    tensor([0.0181, 0.6931])
    """
    log_p = torch.log_softmax(logits.float(), dim=1)
    log_p_true = log_p.gather(1, targets.long().reshape(-1, 1)).reshape(-1)
    loss = -((1.0 - log_p_true.exp()).clamp_min(0.0) ** gamma) * log_p_true
    if alpha is not None:
        loss = loss * torch.as_tensor(alpha, device=loss.device)[targets.long()]
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction != "none":
        raise ValueError(
            f"reduction must be 'none', 'mean' or 'sum'; got {reduction!r}."
        )
    return loss


class GHMReweighting(_BaseReweighting):
    """Gradient harmonizing weights of Li, Liu and Wang (AAAI 2019).

    The gradient norm ``g`` of each sample is binned into ``bins`` equal
    intervals of ``[0, 1]``; a sample in a bin holding ``c`` of the ``B``
    batch samples, among ``n`` non-empty bins, gets ``d = B / (c n)``. Dense
    regions (typically the many easy samples, and outliers) are down-weighted.
    At ``momentum=0`` the weights average to 1.

    - classifiers: ``g = 1 - p_t``, the norm of the cross-entropy gradient with
      respect to the true-class logit (a multi-class adaptation of GHM-C);
    - regressors: ``g = |e| / sqrt(e^2 + mu^2)`` for the residual ``e`` (GHM-R;
      mean over outputs).

    Read more in the :ref:`User Guide <torch>`.

    Parameters
    ----------
    bins : int, default=10
        Number of gradient-norm bins.

    momentum : float, default=0.0
        Exponential moving average of the bin counts, in ``[0, 1)``.

    mu : float, default=0.02
        Smoothing of the regression gradient norm.

    Attributes
    ----------
    history_ : list of dict
        Per-epoch weight statistics (``mean``, ``min``, ``max``, ``ess``).

    See Also
    --------
    FocalReweighting : Focal-loss factor as weights.
    LossBasedReweighting : Loss-based reweighting of Sow et al.

    Notes
    -----
    With momentum, the moving counts start from the first batch's counts,
    unlike mmdetection which starts from zero and inflates the first weights
    by ``1 / (1 - momentum)``.

    References
    ----------
    .. [1] B. Li, Y. Liu and X. Wang, "Gradient Harmonized Single-stage
       Detector", AAAI 2019.

    Examples
    --------
    >>> import torch
    >>> from skreweight.torch import GHMReweighting
    >>> p_true = torch.tensor([0.95, 0.93, 0.5, 0.05])
    >>> logits = torch.stack([p_true.log(), (1 - p_true).log()], dim=1)
    >>> GHMReweighting(bins=10)(
    ...     torch.ones(4), step=0, epoch=0, logits=logits,
    ...     targets=torch.zeros(4, dtype=torch.long)
    ... )
    tensor([0.6667, 0.6667, 1.3333, 1.3333])
    """

    requires = ("logits", "targets")
    _parameter_constraints: dict = {
        "bins": [Interval(Integral, 1, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "mu": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, bins=10, momentum=0.0, mu=0.02):
        self.bins = bins
        self.momentum = momentum
        self.mu = mu

    def _reset(self, **_):
        self._acc = None
        self._inner_edges = None

    def _weights(self, losses, *, logits, targets, **_):
        task = getattr(self, "task_", "classification")
        if task == "classification" and self._cross_entropy_losses:
            # g = 1 - exp(-loss) increases with the loss: bin the losses
            # against the bin edges mapped to loss space, one operation per
            # step instead of four (the call runs every step).
            index = torch.bucketize(losses, self._edges(losses, "loss"), right=True)
        else:
            if task == "classification":
                g = 1.0 - _true_class_probability(logits, targets)
            else:
                residual = logits.float() - targets.float().reshape(logits.shape)
                g = residual.abs() / torch.sqrt(residual.square() + self.mu**2)
                g = g.reshape(g.shape[0], -1).mean(dim=1)
            index = torch.bucketize(g, self._edges(g, "g"), right=True)
        counts = torch.bincount(index, minlength=self.bins)
        n_nonempty = torch.count_nonzero(counts)
        if self.momentum > 0:
            counts = counts.to(losses.dtype)
            acc = getattr(self, "_acc", None)
            if acc is not None:
                counts = torch.where(
                    counts > 0, self.momentum * acc + (1 - self.momentum) * counts, acc
                )
            self._acc = counts
        # Empty bins divide by zero but are never gathered.
        per_bin = losses.numel() / (counts * n_nonempty)
        if per_bin.dtype != losses.dtype:
            per_bin = per_bin.to(losses.dtype)
        return per_bin[index]

    def _edges(self, values, space):
        """Inner bin edges ``k / bins`` of g, or of the loss when ``space="loss"``."""
        cache = getattr(self, "_inner_edges", None)
        if cache is None:
            cache = self._inner_edges = {}
        edges = cache.get(space)
        if (
            edges is None
            or edges.device != values.device
            or edges.numel() != self.bins - 1
        ):
            edges = torch.arange(1, self.bins, dtype=torch.float64) / self.bins
            if space == "loss":
                edges = -torch.log1p(-edges)  # g = 1 - exp(-loss) = k / bins
            edges = cache[space] = edges.to(device=values.device, dtype=values.dtype)
        return edges


def _class_balanced_factors(counts, beta):
    """``(1 - beta) / (1 - beta ** n_c)`` rescaled to sum to the class count."""
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    factors = np.zeros_like(counts)
    if beta == 0:
        factors[present] = 1.0
    else:
        log_beta = np.log(beta)
        factors[present] = np.expm1(log_beta) / np.expm1(counts[present] * log_beta)
    factors[present] *= present.sum() / factors[present].sum()
    return factors


class ClassBalancedReweighting(_BaseReweighting):
    """Class-balanced weights from the effective number of samples.

    Class ``c`` with ``n_c`` training rows gets the factor
    ``w_c = (1 - beta) / (1 - beta^{n_c})``, the inverse of its effective
    number of samples (Cui et al., CVPR 2019), rescaled so that the factors
    of the present classes sum to their number. ``beta=0`` gives ones,
    ``beta -> 1`` approaches inverse class frequency. The weights are static:
    they depend only on the label of each row.

    Read more in the :ref:`User Guide <torch>`.

    Parameters
    ----------
    beta : float, default=0.9999
        Hyper-parameter in ``[0, 1)``.

    Attributes
    ----------
    class_weight_ : torch.Tensor of shape (n_classes,)
        Factor of each class, set by ``reset``.

    history_ : list of dict
        Per-epoch weight statistics (``mean``, ``min``, ``max``, ``ess``).

    See Also
    --------
    skreweight.weighting.ClassWeights : The same weights for any estimator,
        normalised to average 1 over the rows.
    GroupTemperatureReweighting : Temperature-based group weights.

    Notes
    -----
    Class sizes are weighted by ``sample_weight``, so an integer
    ``sample_weight`` equals repeated rows. Classification only; uses
    cross-entropy, not the sigmoid/softmax mix of a popular port.

    References
    ----------
    .. [1] Y. Cui, M. Jia, T.-Y. Lin, Y. Song and S. Belongie, "Class-Balanced
       Loss Based on Effective Number of Samples", CVPR 2019.

    Examples
    --------
    >>> import torch
    >>> from skreweight.torch import ClassBalancedReweighting
    >>> targets = torch.tensor([0] * 1000 + [1] * 10)
    >>> cb = ClassBalancedReweighting(beta=0.999).reset(
    ...     n_samples=1010, targets=targets, n_classes=2
    ... )
    >>> cb.class_weight_
    tensor([0.0310, 1.9690])
    """

    requires = ("targets",)
    _classification_only = True
    _needs_reset = True
    _parameter_constraints: dict = {"beta": [Interval(Real, 0, 1, closed="left")]}

    def __init__(self, beta=0.9999):
        self.beta = beta

    def _reset(self, *, targets, sample_weight, n_classes, device, **_):
        if targets is None:
            raise ValueError(
                "ClassBalancedReweighting needs the training labels (targets) in "
                "reset(); it is meant for TorchClassifier."
            )
        codes = torch.as_tensor(targets).long().cpu().numpy()
        weights = None
        if sample_weight is not None:
            weights = torch.as_tensor(sample_weight).double().cpu().numpy()
        minlength = n_classes if n_classes is not None else codes.max() + 1
        counts = np.bincount(codes, weights=weights, minlength=minlength)
        self.class_weight_ = torch.as_tensor(
            _class_balanced_factors(counts, self.beta),
            dtype=torch.float32,
            device=device,
        )

    def _weights(self, losses, *, targets, **_):
        return self.class_weight_.to(losses.device)[targets.long()]


def _temperature_probabilities(counts, tau):
    """Group probabilities ``n_g^{1/tau} / sum_h n_h^{1/tau}`` (empty groups: 0)."""
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    scaled = np.zeros_like(counts)
    exponent = 0.0 if np.isinf(tau) else 1.0 / tau
    # Work in logs to stay finite for huge groups and small tau.
    log_scaled = exponent * np.log(counts[present])
    scaled[present] = np.exp(log_scaled - log_scaled.max())
    return scaled / scaled.sum()


def _current_tau(tau, epoch, n_epochs):
    if callable(tau):
        return float(tau(epoch, n_epochs if n_epochs is not None else 1))
    return float(tau)


class GroupTemperatureReweighting(_BaseReweighting):
    """Temperature-scaled group weights, the reweighting twin of sampling.

    Group ``g`` holding ``n_g`` of the ``N`` training rows gets the factor
    ``w_g = p_g / (n_g / N)`` with ``p_g = n_g^{1/tau} / sum_h n_h^{1/tau}``:
    the expected loss equals that of :class:`TemperatureSampler` with the same
    ``tau`` (``tau=1`` leaves the data as is, ``tau -> inf`` balances the
    groups). Groups default to the class labels for classifiers; pass
    ``fit(..., groups=...)`` otherwise.

    Read more in the :ref:`User Guide <torch>`.

    Parameters
    ----------
    tau : float or callable, default=5.0
        Temperature ``> 0`` (``float("inf")`` allowed), or a schedule object
        called as ``tau(epoch, n_epochs)`` such as :class:`Cooldown`.

    Attributes
    ----------
    group_weight_ : torch.Tensor of shape (n_groups,)
        Factor of each group at the current epoch.

    history_ : list of dict
        Per-epoch weight statistics (``mean``, ``min``, ``max``, ``ess``).

    See Also
    --------
    TemperatureSampler : Sample groups with the same probabilities.
    ClassBalancedReweighting : Effective-number class weights.

    Notes
    -----
    Under full-batch gradient descent reweighting and sampling are
    equivalent; under SGD sampling has lower gradient variance but overfits
    small groups at large ``tau`` (Li et al., NAACL 2025).

    References
    ----------
    .. [1] Li, Xu, Tan, Murray and Khashabi, "Upsample or
       Upweight? Balanced Training on Heavily Imbalanced Datasets",
       NAACL 2025.

    Examples
    --------
    >>> import torch
    >>> from skreweight.torch import GroupTemperatureReweighting
    >>> groups = torch.tensor([0] * 900 + [1] * 100)
    >>> rw = GroupTemperatureReweighting(tau=2.0).reset(n_samples=1000, groups=groups)
    >>> rw.group_weight_
    tensor([0.8333, 2.5000])
    """

    requires = ("groups",)
    _needs_reset = True
    _parameter_constraints: dict = {
        "tau": [
            Interval(Real, 0, np.inf, closed="right"),
            HasMethods(["__call__"]),
        ],
    }

    def __init__(self, tau=5.0):
        self.tau = tau

    def _reset(self, *, groups, sample_weight, device, **_):
        if groups is None:
            raise ValueError(
                "GroupTemperatureReweighting needs groups: pass "
                "fit(X, y, groups=...) (classifiers default to groups=y)."
            )
        codes = torch.as_tensor(groups).long().cpu().numpy()
        weights = None
        if sample_weight is not None:
            weights = torch.as_tensor(sample_weight).double().cpu().numpy()
        self._counts = np.bincount(codes, weights=weights).astype(np.float64)
        self._device = device
        self._epoch = None
        self._update_epoch(0)

    def _update_epoch(self, epoch):
        if self._epoch == epoch:
            return
        tau = _current_tau(self.tau, epoch, self.n_epochs_)
        counts = self._counts
        probabilities = _temperature_probabilities(counts, tau)
        present = counts > 0
        factors = np.zeros_like(counts)
        factors[present] = probabilities[present] * counts.sum() / counts[present]
        self.group_weight_ = torch.as_tensor(
            factors, dtype=torch.float32, device=self._device
        )
        self._epoch = epoch

    def _weights(self, losses, *, epoch, groups, **_):
        self._update_epoch(epoch)
        return self.group_weight_.to(losses.device)[groups.long()]


def _storm_features(losses, logits, targets):
    """Standardised ``[loss, p_true, max p, entropy]`` of every sample."""
    log_p = torch.log_softmax(logits.float(), dim=1)
    p = log_p.exp()
    p_true = p.gather(1, targets.long().reshape(-1, 1)).reshape(-1)
    entropy = -(p * log_p).sum(dim=1)
    features = torch.stack((losses, p_true, p.max(dim=1).values, entropy), dim=1)
    mean = features.mean(dim=0, keepdim=True)
    std = features.std(dim=0, keepdim=True, unbiased=False).clamp_min(1e-6)
    return (features - mean) / std


class STORMReweighting(_BaseReweighting):
    """On-the-fly meta loss rescaling with a small rescaler network (experimental).

    A rescaler network ``Omega`` maps features of each sample computed from
    the model's own outputs (loss, true-class probability, largest
    probability, entropy) to a positive loss scale, normalised to mean 1 in
    the batch. Every ``meta_interval`` steps it is trained by a one-step
    look-ahead: the model takes a virtual step ``theta' = theta - inner_lr
    grad sum_i Omega(F_i) l_i``, and ``Omega`` is updated to lower the
    (itself rescaled) loss of a held-out part of the batch under ``theta'``.
    The idea follows STORM (Heck et al., AAAI 2025), meant for noisy labels.

    Read more in the :ref:`User Guide <torch>`.

    Parameters
    ----------
    hidden : int, default=32
        Width of the rescaler's hidden layer.

    meta_lr : float, default=1e-3
        Adam learning rate of the rescaler.

    inner_lr : float, default=1e-2
        Step size of the virtual look-ahead step of the model.

    val_fraction : float, default=0.1
        Fraction of each batch held out for the meta loss.

    meta_interval : int, default=1
        Update the rescaler every ``meta_interval`` steps.

    Attributes
    ----------
    rescaler_ : torch.nn.Module
        The rescaler network, built by ``reset``.

    history_ : list of dict
        Per-epoch weight statistics (``mean``, ``min``, ``max``, ``ess``).

    See Also
    --------
    LossBasedReweighting : Closed-form loss-based weights.
    GHMReweighting : Gradient harmonizing weights.

    Notes
    -----
    Experimental: the architecture, features and meta-batch construction of
    the authors' code could not be verified; this is skreweight's reading of
    the method. A meta step costs about three plain steps (second-order
    gradients through :func:`torch.func.functional_call`). Classification
    only. Besides ``logits`` and ``targets`` it requests the batch
    ``inputs`` and the ``module``.

    References
    ----------
    .. [1] M. Heck et al., "Learning from Noisy Labels via Self-Taught
       On-the-Fly Meta Loss Rescaling", AAAI 2025, arXiv:2412.12955.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skreweight.torch import STORMReweighting, TorchClassifier
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> clf = TorchClassifier(
    ...     hidden_layer_sizes=(16,), max_epochs=2, batch_size=64,
    ...     reweighting=STORMReweighting(), device="cpu", random_state=0,
    ... ).fit(X, y)
    >>> round(clf.reweighting_.history_[-1]["mean"], 6)
    1.0
    """

    requires = ("logits", "targets", "inputs", "module")
    _classification_only = True
    _needs_grad = True
    _parameter_constraints: dict = {
        "hidden": [Interval(Integral, 1, None, closed="left")],
        "meta_lr": [Interval(Real, 0, None, closed="neither")],
        "inner_lr": [Interval(Real, 0, None, closed="neither")],
        "val_fraction": [Interval(Real, 0, 1, closed="neither")],
        "meta_interval": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self, hidden=32, meta_lr=1e-3, inner_lr=1e-2, val_fraction=0.1, meta_interval=1
    ):
        self.hidden = hidden
        self.meta_lr = meta_lr
        self.inner_lr = inner_lr
        self.val_fraction = val_fraction
        self.meta_interval = meta_interval

    def _reset(self, *, device, **_):
        self.rescaler_ = torch.nn.Sequential(
            torch.nn.Linear(4, self.hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(self.hidden, 1),
            torch.nn.Softplus(),
        )
        if device is not None:
            self.rescaler_.to(device)
        self._meta_optimizer = torch.optim.Adam(
            self.rescaler_.parameters(), lr=self.meta_lr
        )

    def _scales(self, features):
        scales = self.rescaler_(features).reshape(-1)
        return scales / scales.mean().clamp_min(1e-12)

    def _meta_step(self, inputs, targets, module):
        from torch.func import functional_call

        n = targets.shape[0]
        n_val = max(1, int(round(self.val_fraction * n)))
        if n - n_val < 1:
            return
        order = torch.randperm(n, device=targets.device)
        train, val = order[n_val:], order[:n_val]
        params = {k: v for k, v in module.named_parameters() if v.requires_grad}
        out = functional_call(module, params, (inputs[train],)).float()
        losses = torch.nn.functional.cross_entropy(
            out, targets[train], reduction="none"
        )
        feats = _storm_features(losses.detach(), out.detach(), targets[train])
        inner = (self._scales(feats) * losses).mean()
        grads = torch.autograd.grad(
            inner, list(params.values()), create_graph=True, allow_unused=True
        )
        virtual = {
            k: p if g is None else p - self.inner_lr * g
            for (k, p), g in zip(params.items(), grads)
        }
        out_val = functional_call(module, virtual, (inputs[val],)).float()
        val_losses = torch.nn.functional.cross_entropy(
            out_val, targets[val], reduction="none"
        )
        feats_val = _storm_features(val_losses.detach(), out_val.detach(), targets[val])
        meta = (self._scales(feats_val) * val_losses).mean()
        self._meta_optimizer.zero_grad(set_to_none=True)
        meta.backward(inputs=list(self.rescaler_.parameters()))
        self._meta_optimizer.step()

    def _weights(self, losses, *, step, logits, targets, inputs, module, **_):
        if not hasattr(self, "rescaler_"):
            self._reset(device=losses.device)
        if losses.numel() > 1 and step % self.meta_interval == 0:
            self._meta_step(inputs.detach(), targets, module)
        with torch.no_grad():
            features = _storm_features(losses, logits, targets)
            return self._scales(features)
