"""Discover the public estimators, functions and modules of skreweight."""

import importlib
import inspect
import pkgutil
from importlib.util import find_spec
from operator import itemgetter
from pathlib import Path

from sklearn.base import BaseEstimator

__all__ = ["all_estimators", "all_functions"]

_ROOT = Path(__file__).parent.parent
# Sub-packages that need an optional dependency, and the module it provides.
_OPTIONAL_PACKAGES = {"torch": "torch"}


def _public_modules():
    """Yield the importable public modules of skreweight."""
    for _, module_name, _ in pkgutil.walk_packages([str(_ROOT)], prefix="skreweight."):
        parts = module_name.split(".")
        if any(part.startswith("_") or part == "tests" for part in parts[1:]):
            continue
        optional = _OPTIONAL_PACKAGES.get(parts[1]) if len(parts) > 1 else None
        if optional is not None and find_spec(optional) is None:
            continue
        yield importlib.import_module(module_name)


def all_estimators(type_filter=None):
    """List every public estimator of skreweight.

    Walks the public modules of the package and collects every concrete
    scikit-learn estimator class they define.

    Parameters
    ----------
    type_filter : {"classifier", "regressor", "reweighter", "sampler", \
            "transformer"} or list of those, default=None
        Keep only estimators of these kinds; ``None`` keeps all.

    Returns
    -------
    estimators : list of tuple
        ``(name, class)`` pairs sorted by name. Estimators of optional
        sub-packages (``skreweight.torch``) appear only when their dependency
        is installed.

    See Also
    --------
    all_functions : List every public function.
    sklearn.utils.discovery.all_estimators : The same for scikit-learn.

    Examples
    --------
    >>> from skreweight.utils.discovery import all_estimators
    >>> names = [name for name, _ in all_estimators(type_filter="reweighter")]
    >>> "ClassWeights" in names
    True
    """
    from imblearn.base import SamplerMixin
    from sklearn.base import ClassifierMixin, RegressorMixin, TransformerMixin

    from skreweight.base import ReweighterMixin

    found = {}
    for module in _public_modules():
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (
                name.startswith("_")
                or not issubclass(cls, BaseEstimator)
                or not cls.__module__.startswith("skreweight.")
                or inspect.isabstract(cls)
                or name.startswith("Base")
            ):
                continue
            found[name] = cls
    estimators = sorted(found.items(), key=itemgetter(0))
    if type_filter is None:
        return estimators

    kinds = {
        "classifier": ClassifierMixin,
        "regressor": RegressorMixin,
        "reweighter": ReweighterMixin,
        "sampler": SamplerMixin,
        "transformer": TransformerMixin,
    }
    wanted = [type_filter] if isinstance(type_filter, str) else list(type_filter)
    unknown = set(wanted) - set(kinds)
    if unknown:
        raise ValueError(
            f"type_filter must be one or more of {sorted(kinds)}; "
            f"got {sorted(unknown)}."
        )
    return [
        (name, cls)
        for name, cls in estimators
        if any(issubclass(cls, kinds[kind]) for kind in wanted)
        or (
            "classifier" in wanted
            and getattr(cls, "_estimator_type", None) == "classifier"
        )
    ]


def all_functions():
    """List every public function of skreweight.

    Only functions exported by a public module (its ``__all__`` if it has
    one) are listed, each once.

    Returns
    -------
    functions : list of tuple
        ``(qualified_name, function)`` pairs sorted by name, where the name is
        ``module.function`` of the module that defines it.

    See Also
    --------
    all_estimators : List every public estimator.

    Examples
    --------
    >>> from skreweight.utils.discovery import all_functions
    >>> any(name.endswith("show_versions") for name, _ in all_functions())
    True
    """
    found = {}
    for module in [importlib.import_module("skreweight"), *_public_modules()]:
        exported = getattr(module, "__all__", None)
        for name, func in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or not func.__module__.startswith("skreweight"):
                continue
            if exported is not None and name not in exported:
                continue
            found.setdefault(f"{func.__module__}.{name}", (module.__name__, func))
    return sorted(
        ((f"{mod}.{func.__name__}", func) for mod, func in found.values()),
        key=itemgetter(0),
    )
