"""Cross-validation splitters for bootstrap, 5x2 and repeated hold-out designs.

Every splitter follows scikit-learn's splitter protocol (``split`` and
``get_n_splits``) and can be passed as ``cv=`` to any scikit-learn function.
All randomness comes from one generator, ``check_random_state(random_state)``.
"""

import numbers
import warnings

import numpy as np
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.model_selection._split import BaseCrossValidator
from sklearn.utils import check_random_state, indexable
from sklearn.utils.multiclass import type_of_target

from skreweight.utils._sklearn_fixes import _num_samples

__all__ = [
    "BootstrapOutOfBag",
    "FiveByTwoSplit",
    "RepeatedHoldout",
    "StratifiedBootstrapOutOfBag",
]

_CLASS_TARGETS = ("binary", "multiclass")


def _check_int(value, name, minimum):
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or value < minimum
    ):
        raise ValueError(
            f"{name} must be an integer >= {minimum}; got {value!r}. Pass e.g. "
            f"{name}={max(minimum, 5)}."
        )


def _check_stratify(stratify, y):
    """Return whether to stratify on ``y`` for ``stratify`` in {auto, True, False}."""
    if stratify not in ("auto", True, False):
        raise ValueError(f"stratify must be 'auto', True or False; got {stratify!r}.")
    if stratify is False:
        return False
    is_class = y is not None and type_of_target(y) in _CLASS_TARGETS
    if stratify is True and not is_class:
        raise ValueError(
            "stratify=True needs class labels y (binary or multiclass); got "
            f"{'no y' if y is None else type_of_target(y) + ' y'}. Pass "
            "stratify=False or 'auto' for other targets."
        )
    return is_class


class BootstrapOutOfBag(BaseCrossValidator):
    """Bootstrap splitter: train on a bootstrap sample, test on the rows it left out.

    Each round draws ``n_samples`` training indices with replacement; the test
    set is the sorted out-of-bag (OOB) complement. A round whose OOB set is
    empty is redrawn, so every test set has at least one row. With an integer
    ``random_state`` the training sets are those of mlxtend's
    ``BootstrapOutOfBag(random_seed=random_state)``.

    Read more in the :ref:`User Guide <model_selection>`.

    Parameters
    ----------
    n_splits : int, default=200
        Number of bootstrap rounds. Efron and Tibshirani advise 50 to 200.

    random_state : int, RandomState instance or None, default=None
        Controls the draws. Pass an int for reproducible splits.

    See Also
    --------
    StratifiedBootstrapOutOfBag : Keep the class counts in every round.
    bootstrap_632_score : The .632 and .632+ bootstrap estimators.

    Notes
    -----
    Training indices contain repeats; index rows with them (as scikit-learn
    does) rather than building a boolean mask.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.model_selection import BootstrapOutOfBag
    >>> cv = BootstrapOutOfBag(n_splits=2, random_state=0)
    >>> for train, test in cv.split(np.zeros((6, 1))):
    ...     print(train, test)
    [4 5 0 3 3 3] [1 2]
    [0 4 2 1 0 1] [3 5]
    """

    def __init__(self, n_splits=200, *, random_state=None):
        self.n_splits = n_splits
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splitting iterations.

        Parameters
        ----------
        X, y, groups : object
            Ignored, present for API compatibility.

        Returns
        -------
        n_splits : int
            The number of bootstrap rounds.
        """
        return self.n_splits

    def _draw(self, rng, strata, n_samples):
        return rng.randint(0, n_samples, size=n_samples)

    def split(self, X, y=None, groups=None):
        """Generate indices of the bootstrap training set and its OOB test set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; only its number of rows is used.

        y : array-like of shape (n_samples,), default=None
            Targets; used by the stratified variant only.

        groups : object
            Ignored, present for API compatibility.

        Yields
        ------
        train : ndarray
            Training indices, drawn with replacement.

        test : ndarray
            Sorted indices of the rows not drawn.
        """
        _check_int(self.n_splits, "n_splits", 1)
        X, y = indexable(X, y)
        n_samples = _num_samples(X)
        if n_samples < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 samples to leave some "
                f"out of bag; got n_samples={n_samples}."
            )
        strata = self._strata(y)
        rng = check_random_state(self.random_state)
        for _ in range(self.n_splits):
            while True:
                train = self._draw(rng, strata, n_samples)
                in_bag = np.zeros(n_samples, dtype=bool)
                in_bag[train] = True
                test = np.flatnonzero(~in_bag)
                if test.size:
                    break
            yield train, test

    def _strata(self, y):
        return None


class StratifiedBootstrapOutOfBag(BootstrapOutOfBag):
    """Stratified bootstrap splitter: every round keeps the class counts.

    Within each class (in sorted label order) the round draws as many rows,
    with replacement, as the class has; the test set is the sorted out-of-bag
    complement, redrawn when empty. Every bootstrap model therefore sees every
    class in its original proportion.

    Read more in the :ref:`User Guide <model_selection>`.

    Parameters
    ----------
    n_splits : int, default=200
        Number of bootstrap rounds.

    random_state : int, RandomState instance or None, default=None
        Controls the draws. Pass an int for reproducible splits.

    See Also
    --------
    BootstrapOutOfBag : The unstratified bootstrap.
    bootstrap_632_score : The .632 and .632+ bootstrap estimators.

    Notes
    -----
    A class with a single row is always in the bootstrap sample and never out
    of bag; a warning says so. ``y`` must hold class labels.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.model_selection import StratifiedBootstrapOutOfBag
    >>> y = np.array([0, 0, 0, 1, 1, 1])
    >>> cv = StratifiedBootstrapOutOfBag(n_splits=3, random_state=0)
    >>> [np.bincount(y[train]).tolist() for train, _ in cv.split(y[:, None], y)]
    [[3, 3], [3, 3], [3, 3]]
    """

    def _strata(self, y):
        if y is None:
            raise ValueError(
                "StratifiedBootstrapOutOfBag needs the class labels y; pass y to "
                "split(), or use BootstrapOutOfBag."
            )
        y = np.asarray(y)
        kind = type_of_target(y)
        if kind not in _CLASS_TARGETS:
            raise ValueError(
                "StratifiedBootstrapOutOfBag needs binary or multiclass y; got "
                f"{kind!r} y. Use BootstrapOutOfBag for other targets."
            )
        _, y_encoded, counts = np.unique(y, return_inverse=True, return_counts=True)
        if np.all(counts == 1):
            raise ValueError(
                "Every class has a single row, so no row can be out of bag; "
                "StratifiedBootstrapOutOfBag needs a class with 2 or more rows."
            )
        if np.any(counts == 1):
            warnings.warn(
                "Some classes have a single row; such rows are always in the "
                "bootstrap sample and never in an out-of-bag test set.",
                UserWarning,
                stacklevel=3,
            )
        return [np.flatnonzero(y_encoded == k) for k in range(counts.size)]

    def _draw(self, rng, strata, n_samples):
        parts = [
            members[rng.randint(0, members.size, size=members.size)]
            for members in strata
        ]
        return np.concatenate(parts)


class FiveByTwoSplit(BaseCrossValidator):
    """Dietterich's 5x2 cross-validation: five repeats of 2-fold CV.

    Each repeat cuts the rows into two halves A and B (stratified by default
    for class labels) and yields ``(A, B)`` then ``(B, A)``. The folds are in
    the order that :func:`paired_ttest_5x2cv` and
    :func:`combined_ftest_5x2cv` expect once the scores are reshaped to
    ``(n_repeats, 2)``.

    Read more in the :ref:`User Guide <model_selection>`.

    Parameters
    ----------
    n_repeats : int, default=5
        Number of 2-fold repeats; the number of splits is ``2 * n_repeats``.

    stratify : {"auto", True, False}, default="auto"
        Stratify the halves on ``y``: ``"auto"`` does so for binary and
        multiclass targets.

    random_state : int, RandomState instance or None, default=None
        Controls the shuffles. Pass an int for reproducible splits.

    See Also
    --------
    combined_ftest_5x2cv : Alpaydin's combined 5x2cv F test.
    paired_ttest_5x2cv : Dietterich's 5x2cv paired t test.

    Notes
    -----
    Half A has ``n_samples // 2`` rows and half B the rest. All repeats are
    drawn from one random generator, so no two repeats share a seed.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.model_selection import FiveByTwoSplit
    >>> X, y = np.zeros((8, 1)), np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> cv = FiveByTwoSplit(n_repeats=1, random_state=0)
    >>> [sorted(train.tolist()) for train, _ in cv.split(X, y)]
    [[2, 3, 4, 6], [0, 1, 5, 7]]
    """

    def __init__(self, n_repeats=5, *, stratify="auto", random_state=None):
        self.n_repeats = n_repeats
        self.stratify = stratify
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splitting iterations, ``2 * n_repeats``.

        Parameters
        ----------
        X, y, groups : object
            Ignored, present for API compatibility.

        Returns
        -------
        n_splits : int
            Twice the number of repeats.
        """
        return 2 * self.n_repeats

    def split(self, X, y=None, groups=None):
        """Generate the two folds of every repeat.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; only its number of rows is used.

        y : array-like of shape (n_samples,), default=None
            Targets, used for stratification.

        groups : object
            Ignored, present for API compatibility.

        Yields
        ------
        train : ndarray
            Training indices (one half).

        test : ndarray
            Test indices (the other half).
        """
        _check_int(self.n_repeats, "n_repeats", 1)
        X, y = indexable(X, y)
        if _num_samples(X) < 2:
            raise ValueError("FiveByTwoSplit needs at least 2 samples.")
        stratify = _check_stratify(self.stratify, y)
        rng = check_random_state(self.random_state)
        cls = StratifiedShuffleSplit if stratify else ShuffleSplit
        halves = cls(n_splits=self.n_repeats, test_size=0.5, random_state=rng)
        for first, second in halves.split(X, y):
            yield first, second
            yield second, first


class RepeatedHoldout(BaseCrossValidator):
    """Repeated hold-out (Monte-Carlo cross-validation).

    Each split is an independent random train/test partition, stratified by
    default for class labels. Test sets of different splits overlap, which is
    why the plain paired t-test on such scores is anti-conservative; use
    :func:`corrected_resampled_ttest`.

    Read more in the :ref:`User Guide <model_selection>`.

    Parameters
    ----------
    n_splits : int, default=30
        Number of hold-out splits.

    test_size : float or int, default=0.3
        Test set share (float) or size (int).

    train_size : float, int or None, default=None
        Training set share or size; ``None`` uses the complement of the test
        set.

    stratify : {"auto", True, False}, default="auto"
        Stratify on ``y``: ``"auto"`` does so for binary and multiclass
        targets.

    random_state : int, RandomState instance or None, default=None
        Controls the shuffles. Pass an int for reproducible splits.

    See Also
    --------
    corrected_resampled_ttest : The Nadeau-Bengio corrected t test.
    sklearn.model_selection.ShuffleSplit : The unstratified splitter it uses.

    Notes
    -----
    mlxtend's ``paired_ttest_resampled`` draws one seed per split from
    ``randint(0, 32767)``, which can repeat a split; here every split comes
    from one generator.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.model_selection import RepeatedHoldout
    >>> X, y = np.zeros((10, 1)), np.array([0] * 5 + [1] * 5)
    >>> cv = RepeatedHoldout(n_splits=3, test_size=0.4, random_state=0)
    >>> [np.bincount(y[test]).tolist() for _, test in cv.split(X, y)]
    [[2, 2], [2, 2], [2, 2]]
    """

    def __init__(
        self,
        n_splits=30,
        *,
        test_size=0.3,
        train_size=None,
        stratify="auto",
        random_state=None,
    ):
        self.n_splits = n_splits
        self.test_size = test_size
        self.train_size = train_size
        self.stratify = stratify
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splitting iterations.

        Parameters
        ----------
        X, y, groups : object
            Ignored, present for API compatibility.

        Returns
        -------
        n_splits : int
            The number of hold-out splits.
        """
        return self.n_splits

    def split(self, X, y=None, groups=None):
        """Generate the indices of every hold-out split.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; only its number of rows is used.

        y : array-like of shape (n_samples,), default=None
            Targets, used for stratification.

        groups : object
            Ignored, present for API compatibility.

        Yields
        ------
        train : ndarray
            Training indices.

        test : ndarray
            Test indices.
        """
        _check_int(self.n_splits, "n_splits", 1)
        X, y = indexable(X, y)
        stratify = _check_stratify(self.stratify, y)
        rng = check_random_state(self.random_state)
        cls = StratifiedShuffleSplit if stratify else ShuffleSplit
        splitter = cls(
            n_splits=self.n_splits,
            test_size=self.test_size,
            train_size=self.train_size,
            random_state=rng,
        )
        yield from splitter.split(X, y)
