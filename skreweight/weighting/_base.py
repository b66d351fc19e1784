"""Private base class of the balancing reweighters (binary group indicator)."""

import numpy as np
from sklearn.utils import ClassifierTags

from skreweight.base import BaseReweighter


class _BalancingReweighter(BaseReweighter):
    """A reweighter whose ``y`` is a binary group indicator ``t``.

    The ``classifier_tags`` with ``multi_class=False`` tell scikit-learn's
    estimator checks to pass a two-valued ``y``; the estimator type stays
    that of a reweighter.
    """

    _y_kind = "binary"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags = ClassifierTags(multi_class=False)
        return tags

    def _check_binary_groups(self, y):
        groups = np.unique(y)
        if groups.size != 2:
            raise ValueError(
                f"{type(self).__name__} needs y to be a binary group indicator "
                f"with exactly two groups; got {groups.size} class(es) (distinct "
                f"values): {groups[:5].tolist()}. A group with no rows cannot be "
                "balanced."
            )
        return super()._check_binary_groups(y)
