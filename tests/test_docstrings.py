"""Validate the numpydoc docstring of every public estimator, method and function."""

import inspect

import pytest

numpydoc_validation = pytest.importorskip("numpydoc.validate")

from skreweight.utils.discovery import all_estimators, all_functions  # noqa: E402

# Codes not enforced, with the reason.
IGNORED = {
    "GL01",  # summary on the line after the opening quotes: style choice
    "GL02",  # closing quotes placement: style choice
    "SA04",  # a description for every See Also entry
    "EX01",  # examples on methods (the class docstring carries them)
    "ES01",  # extended summary on methods (enforced on classes and functions)
    "SA01",  # See Also on methods (enforced on classes and functions)
    "RT02",  # return name without type
    "PR02",  # reported for **kwargs-forwarding signatures wrapped by sklearn
    "GL08",  # inherited methods without their own docstring (checked on class)
}
# Enforced on classes and public functions only.
STRICT_ONLY = {"ES01", "SA01", "EX01"}

# Methods inherited from scikit-learn or imbalanced-learn: their docstrings are
# upstream's.
UPSTREAM_METHODS = {
    "get_params",
    "set_params",
    "get_metadata_routing",
    "set_output",
    "fit_transform",
    "get_feature_names_out",
}


def _public_methods(cls):
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") or name in UPSTREAM_METHODS:
            continue
        if name.startswith("set_") and name.endswith("_request"):
            continue
        if not callable(member) or isinstance(member, type):
            continue
        defining = next((klass for klass in cls.__mro__ if name in vars(klass)), None)
        if defining is None or not defining.__module__.startswith("skreweight"):
            continue
        yield f"{cls.__module__}.{cls.__name__}.{name}"


def _objects_to_check():
    for name, cls in all_estimators():
        yield f"{cls.__module__}.{name}", True
        for method in _public_methods(cls):
            yield method, False
    for name, _ in all_functions():
        yield name, True


def _errors(import_path, strict):
    result = numpydoc_validation.validate(import_path)
    ignored = IGNORED - STRICT_ONLY if strict else IGNORED
    return [(code, msg) for code, msg in result["errors"] if code not in ignored]


@pytest.mark.parametrize("import_path, strict", list(_objects_to_check()))
def test_docstring(import_path, strict):
    errors = _errors(import_path, strict)
    assert not errors, "\n".join(f"{code}: {msg}" for code, msg in errors)
