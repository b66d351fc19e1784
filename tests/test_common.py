"""Run scikit-learn's (and imbalanced-learn's, for samplers) estimator checks on
every public estimator of skreweight."""

import pytest
from imblearn.utils.estimator_checks import (
    parametrize_with_checks as imblearn_parametrize_with_checks,
)
from sklearn.utils.estimator_checks import parametrize_with_checks

from skreweight.utils._test_common.instance_generator import (
    expected_failed_checks,
    instances_to_check,
)
from skreweight.utils.discovery import all_estimators

ESTIMATORS = list(instances_to_check())
SAMPLERS = list(instances_to_check(type_filter="sampler"))


def test_all_estimators_found():
    names = {name for name, _ in all_estimators()}
    assert {"ClassWeights", "ImportanceResampler", "ReweightedEstimator"} <= names


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@imblearn_parametrize_with_checks(
    SAMPLERS, expected_failed_checks=expected_failed_checks
)
def test_imblearn_compatible_sampler(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_declared_expected_failures_have_reasons(estimator):
    for check_name, reason in expected_failed_checks(estimator).items():
        assert isinstance(reason, str) and len(reason) > 10, check_name
