"""Optional PyTorch backend: neural estimators with dynamic sample reweighting.

Install with ``pip install "skreweight[torch]"`` (CPU-only:
``pip install torch==2.13.0``). ``import skreweight`` never imports torch;
importing this sub-package does, and raises an ``ImportError`` naming the
extra when torch is missing.
"""

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "skreweight.torch requires PyTorch: pip install 'skreweight[torch]' "
        "(CPU-only: pip install torch==2.13.0)."
    ) from exc

from skreweight.torch._estimators import TorchClassifier, TorchRegressor
from skreweight.torch._neighbors import TorchNearestNeighbors, kernel_matvec
from skreweight.torch._reweighting import (
    ClassBalancedReweighting,
    FocalReweighting,
    GHMReweighting,
    GroupTemperatureReweighting,
    LossBasedReweighting,
    STORMReweighting,
    focal_loss,
)
from skreweight.torch._samplers import (
    Cooldown,
    InfoBatchSampler,
    RS2Sampler,
    SeTaSampler,
    TemperatureSampler,
)

__all__ = [
    "ClassBalancedReweighting",
    "Cooldown",
    "FocalReweighting",
    "GHMReweighting",
    "GroupTemperatureReweighting",
    "InfoBatchSampler",
    "LossBasedReweighting",
    "RS2Sampler",
    "SeTaSampler",
    "STORMReweighting",
    "TemperatureSampler",
    "TorchClassifier",
    "TorchNearestNeighbors",
    "TorchRegressor",
    "focal_loss",
    "kernel_matvec",
]
