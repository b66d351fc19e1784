"""The one place where skreweight reaches scikit-learn's private helpers.

Everything that :mod:`sklearn_compat` backports is imported from there; what it
lacks is imported here from scikit-learn itself, so that a change in a private
scikit-learn API breaks one module, not the whole package.
"""

from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.validation import (
    _check_method_params,
    _check_sample_weight,
    _num_samples,
)
from sklearn_compat.base import _fit_context
from sklearn_compat.utils._indexing import _safe_indexing
from sklearn_compat.utils.validation import validate_data

__all__ = [
    "HasMethods",
    "Interval",
    "MetadataRouter",
    "MethodMapping",
    "StrOptions",
    "_check_method_params",
    "_check_sample_weight",
    "_fit_context",
    "_num_samples",
    "_openmp_effective_n_threads",
    "_raise_for_params",
    "_routing_enabled",
    "_safe_indexing",
    "process_routing",
    "validate_data",
    "validate_parameter_constraints",
    "validate_params",
]
