"""Synthetic imbalanced classification problems."""

from numbers import Integral, Real

import numpy as np
from sklearn.datasets import make_classification
from sklearn.utils import check_random_state

from skreweight.utils._sklearn_fixes import Interval, validate_params

__all__ = ["make_imbalanced_classification"]


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 2, None, closed="left")],
        "n_informative": [Interval(Integral, 1, None, closed="left")],
        "n_classes": [Interval(Integral, 2, None, closed="left")],
        "imbalance_ratio": [Interval(Real, 1, None, closed="left")],
        "class_sep": [Interval(Real, 0, None, closed="left")],
        "noise": [Interval(Real, 0, 1, closed="both")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_imbalanced_classification(
    n_samples=1000,
    n_features=10,
    *,
    n_informative=5,
    n_classes=2,
    imbalance_ratio=10.0,
    class_sep=1.0,
    noise=0.0,
    random_state=None,
):
    """Generate an imbalanced classification problem.

    Class sizes follow a geometric progression from the largest to the
    smallest class, whose ratio is ``imbalance_ratio``; the classes are
    Gaussian clusters (:func:`sklearn.datasets.make_classification`) whose
    overlap is set by ``class_sep``; label noise replaces the label of a
    fraction ``noise`` of the rows by a class drawn with the class
    proportions, so the imbalance is kept.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of rows.

    n_features : int, default=10
        Number of features: ``n_informative`` informative ones, the rest
        noise.

    n_informative : int, default=5
        Number of informative features, at most ``n_features``.

    n_classes : int, default=2
        Number of classes.

    imbalance_ratio : float, default=10.0
        Size of the largest class divided by the size of the smallest, >= 1.

    class_sep : float, default=1.0
        Distance between class clusters: smaller means more overlap.

    noise : float, default=0.0
        Fraction of rows whose label is redrawn at random, in [0, 1].

    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        Features.

    y : ndarray of shape (n_samples,)
        Integer labels; class 0 is the largest, ``n_classes - 1`` the
        smallest.

    See Also
    --------
    load_wdbc_imbalanced : The embedded real dataset.
    imblearn.datasets.make_imbalance : Turn a balanced dataset into an
        imbalanced one by under-sampling.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.datasets import make_imbalanced_classification
    >>> X, y = make_imbalanced_classification(
    ...     n_samples=1100, imbalance_ratio=10, random_state=0
    ... )
    >>> np.bincount(y)
    array([1000,  100])
    """
    if n_informative > n_features:
        raise ValueError(
            f"n_informative={n_informative} must be at most n_features={n_features}."
        )
    if n_samples < n_classes:
        raise ValueError(
            f"n_samples={n_samples} must be at least n_classes={n_classes}."
        )
    rng = check_random_state(random_state)
    # Geometric class sizes from 1 down to 1 / imbalance_ratio.
    shares = imbalance_ratio ** (-np.arange(n_classes) / (n_classes - 1))
    shares /= shares.sum()
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=n_informative,
        n_redundant=0,
        n_repeated=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        weights=shares,
        flip_y=0.0,
        class_sep=class_sep,
        shuffle=True,
        random_state=rng,
    )
    if noise > 0:
        flip = rng.uniform(size=n_samples) < noise
        y[flip] = rng.choice(n_classes, size=int(flip.sum()), p=shares)
    return X, y
