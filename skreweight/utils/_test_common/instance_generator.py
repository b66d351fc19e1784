"""Instances of every public estimator for the conformance harness.

``INIT_PARAMS`` gives the constructor arguments of estimators that cannot be
built with defaults (meta-estimators), as a list of parameter dicts: each dict
yields one tested instance. Estimators with a ``random_state`` parameter are
seeded so that the checks are deterministic.
"""

from sklearn.linear_model import LogisticRegression

from skreweight.utils.discovery import all_estimators


def _init_params():
    from skreweight.weighting import ClassWeights

    params = {
        # --- foundation ---
        "ReweightedEstimator": [
            {"estimator": LogisticRegression(), "reweighter": ClassWeights()},
        ],
        "ImportanceResampler": [
            {"reweighter": None},
            {"reweighter": ClassWeights(method="effective_number", beta=0.9)},
        ],
    }
    # Each module adds its own entries below, in its own block.
    # --- over_sampling ---
    # --- weighting ---
    # --- ordinal ---
    # --- quantile ---
    # --- model_selection ---
    # --- torch ---
    return params


# Estimators whose checks are too slow for the default suite, with the reason.
SLOW_ESTIMATORS = {}


def _with_seed(estimator):
    if "random_state" in estimator.get_params(deep=False):
        estimator.set_params(random_state=0)
    return estimator


def instances_to_check(type_filter=None):
    """Yield one or more configured instances of every public estimator."""
    init_params = _init_params()
    for name, cls in all_estimators(type_filter=type_filter):
        for params in init_params.get(name, [{}]):
            yield _with_seed(cls(**params))


def expected_failed_checks(estimator):
    """The estimator's declared expected failures, ``{check_name: reason}``."""
    declared = getattr(estimator, "_expected_failed_checks", None)
    return dict(declared()) if callable(declared) else {}
