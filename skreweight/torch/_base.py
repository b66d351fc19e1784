"""Shared helpers of the torch backend: parameters, devices and seeding."""

import inspect

import numpy as np
import torch
from sklearn.base import BaseEstimator

from skreweight.utils._sklearn_fixes import validate_parameter_constraints

__all__ = []


class _TorchComponent:
    """Parameter handling of strategies, samplers and schedules.

    These objects are configured like scikit-learn estimators (``get_params``,
    ``set_params``, :func:`~sklearn.base.clone`, nested ``GridSearchCV``
    parameters such as ``reweighting__r``) but have no ``fit``, so they are not
    :class:`~sklearn.base.BaseEstimator` subclasses: the conformance harness
    would otherwise try to fit them.
    """

    _parameter_constraints: dict = {}

    _get_param_names = BaseEstimator.__dict__["_get_param_names"]
    get_params = BaseEstimator.get_params
    set_params = BaseEstimator.set_params

    def _validate_params(self):
        validate_parameter_constraints(
            self._parameter_constraints,
            self.get_params(deep=False),
            caller_name=type(self).__name__,
        )

    def __repr__(self):
        defaults = {
            name: param.default
            for name, param in inspect.signature(type(self).__init__).parameters.items()
        }
        changed = []
        for name, value in self.get_params(deep=False).items():
            default = defaults.get(name)
            if value is default or (
                type(value) is type(default) and _safe_equal(value, default)
            ):
                continue
            changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"


def _safe_equal(a, b):
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - arrays and tensors compare element-wise
        return False


def _resolve_device(device):
    """Return the :class:`torch.device` for ``device``, or raise a clear error.

    ``"auto"`` picks the current accelerator (CUDA, MPS, XPU...) when one is
    available and the CPU otherwise.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        accelerator = getattr(torch, "accelerator", None)
        if accelerator is not None and accelerator.is_available():
            return torch.device(accelerator.current_accelerator())
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'auto', 'cpu', "
            "'cuda' or 'cuda:<index>'."
        ) from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but no CUDA GPU is available "
                "(torch.cuda.is_available() is False, torch "
                f"{torch.__version__}); use device='cpu' or device='auto'."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but only "
                f"{torch.cuda.device_count()} CUDA device(s) exist."
            )
    elif resolved.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(
                f"device={device!r} was requested but MPS is not available; use "
                "device='cpu' or device='auto'."
            )
    return resolved


def _seed_from(random_state):
    """Draw a torch seed (a Python int) from a NumPy ``RandomState``."""
    return int(random_state.randint(np.iinfo(np.int32).max))


def _fork_devices(device):
    """The CUDA devices whose RNG state :func:`torch.random.fork_rng` saves."""
    if device.type == "cuda":
        return [device.index if device.index is not None else 0]
    return []
