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
    params["SMOTENC"] = [{"categorical_features": [0]}]
    # --- weighting ---
    # The checks' random data separate the groups, so exact mean balance is
    # infeasible (EntropyBalancing raises by design): test approximate balance.
    params["EntropyBalancing"] = [{"alpha": 1e-2}, {"alpha": 1e-2, "moments": 2}]
    # --- ordinal ---
    # A short path keeps the many checks fast; every fit is still weighted.
    params["PRESTOCV"] = [{"alphas": 4, "cv": 3}]
    # --- quantile ---
    import importlib.util

    from sklearn.linear_model import QuantileRegressor

    from skreweight.quantile import MultiQuantileRegressor

    _linear_qr = QuantileRegressor(alpha=0.0, solver="highs")
    params["MultiQuantileRegressor"] = [
        {"estimator": _linear_qr, "quantiles": [0.1, 0.5, 0.9]},
    ]
    params["QuantileAggregator"] = [
        {
            "estimators": [
                ("linear", _linear_qr),
                ("ridge", QuantileRegressor(alpha=0.1, solver="highs")),
            ],
            "quantiles": [0.1, 0.5, 0.9],
            "weighting": "quantile",
            "cv": 3,
        },
        {
            "estimators": [
                ("linear", _linear_qr),
                ("ridge", QuantileRegressor(alpha=0.1, solver="highs")),
            ],
            "quantiles": [0.1, 0.5, 0.9],
            "weighting": "auto",
            "refit": False,
            "cv": 3,
        },
    ]
    params["ConformalQuantileRegressor"] = [
        {
            "estimator": MultiQuantileRegressor(_linear_qr, [0.25, 0.5, 0.75]),
            "coverage": 0.5,
        },
    ]
    if importlib.util.find_spec("torch") is not None:
        params["QuantileAggregator"].append(
            {
                "estimators": [
                    ("linear", _linear_qr),
                    ("ridge", QuantileRegressor(alpha=0.1, solver="highs")),
                ],
                "quantiles": [0.1, 0.5, 0.9],
                "weighting": "local",
                "cv": 3,
                "local_params": {
                    "hidden_layer_sizes": (8,),
                    "max_epochs": 5,
                    "num_threads": 1,
                },
            }
        )
    # --- model_selection ---
    # --- torch ---
    # Plain values only (no torch import here): small, fast, CPU networks.
    _torch_fast = {
        "hidden_layer_sizes": (16,),
        "learning_rate": 1e-2,
        "max_epochs": 20,
        "batch_size": 32,
        "device": "cpu",
        "num_threads": 1,
    }
    params["TorchClassifier"] = [dict(_torch_fast)]
    params["TorchRegressor"] = [dict(_torch_fast)]
    params["TorchNearestNeighbors"] = [{"algorithm": "torch", "device": "cpu"}]
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
