"""SMOTE-IPF: SMOTE followed by the iterative-partitioning noise filter."""

import numbers
import warnings

import numpy as np
from imblearn.over_sampling.base import BaseOverSampler
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils import check_random_state

from skreweight.over_sampling._base import _NEIGHBORS_CONSTRAINT, _fill_doc
from skreweight.over_sampling._combine import _BaseCombine
from skreweight.over_sampling._smote import SMOTE
from skreweight.utils._sklearn_fixes import HasMethods, Interval, StrOptions

__all__ = ["SMOTEIPF"]


@_fill_doc
class SMOTEIPF(_BaseCombine):
    """Over-sample with SMOTE, then remove noise with the iterative-partitioning filter.

    After :class:`SMOTE`, the data are split into ``n_folds`` parts and one
    (pruned) decision tree is fitted on *each part*; every tree predicts all
    rows and a row is flagged when a majority (``voting='majority'``) or all
    (``'consensus'``) of the trees misclassify it. Flagged rows of any class
    are removed and the filter repeats until ``n_stable_rounds`` consecutive
    rounds each remove fewer than ``min_removed_fraction`` of the rows.

    Read more in the :ref:`User Guide <over_sampling>`.

    Parameters
    ----------
    {sampling_strategy}

    {random_state}

    k_neighbors : int or object, default=5
        Neighbours of the SMOTE step.

    n_folds : int, default=9
        Number of parts, hence of trees, per round.

    n_stable_rounds : int, default=3
        Consecutive rounds with few removals that stop the filter.

    min_removed_fraction : float, default=0.01
        A round removing fewer than this fraction of the (current) rows
        counts as stable.

    voting : {'majority', 'consensus'}, default='majority'
        How many trees must misclassify a row to flag it.

    estimator : classifier, default=None
        The filter's classifier; ``None`` means
        ``DecisionTreeClassifier(min_samples_leaf=2, ccp_alpha=0.005)``, a
        pruned tree standing in for C4.5.

    Attributes
    ----------
    {sampling_strategy_}

    smote_ : sampler object
        The fitted SMOTE step.

    sample_indices_ : ndarray of shape (n_kept_originals,)
        Positions in ``X`` of the original rows that survive the filter.

    provenance_ : :class:`~sklearn.utils.Bunch`
        SMOTE's ``provenance_`` restricted to the surviving synthetic rows.

    n_rounds_ : int
        Number of filter rounds run.

    {n_features_in_}

    See Also
    --------
    SMOTEENN : Cleaning by a nearest-neighbour vote.
    SMOTETomek : Cleaning by Tomek links.

    Notes
    -----
    smote-variants fitted each unpruned tree on the *other* parts, so a row
    was wrong for at most one tree and nothing was ever removed; here each
    tree is fitted on its own part, as in the partitioning filter of the
    paper. Survivors keep their order, originals first.

    References
    ----------
    .. [1] J. A. Sáez, J. Luengo, J. Stefanowski, F. Herrera, "SMOTE-IPF:
       Addressing the noisy and borderline examples problem in imbalanced
       classification by a re-sampling method with filtering", Information
       Sciences 291, 184-203, 2015.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skreweight.over_sampling import SMOTEIPF
    >>> X, y = make_classification(n_samples=500, weights=[0.9], flip_y=0.05,
    ...                            random_state=0)
    >>> sampler = SMOTEIPF(random_state=0)
    >>> X_res, y_res = sampler.fit_resample(X, y)
    >>> X_res.shape[0] < 2 * 450
    True
    """

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "k_neighbors": _NEIGHBORS_CONSTRAINT,
        "n_folds": [Interval(numbers.Integral, 2, None, closed="left")],
        "n_stable_rounds": [Interval(numbers.Integral, 1, None, closed="left")],
        "min_removed_fraction": [Interval(numbers.Real, 0, 1, closed="both")],
        "voting": [StrOptions({"majority", "consensus"})],
        "estimator": [HasMethods(["fit", "predict"]), None],
    }

    def __init__(
        self,
        *,
        sampling_strategy="auto",
        random_state=None,
        k_neighbors=5,
        n_folds=9,
        n_stable_rounds=3,
        min_removed_fraction=0.01,
        voting="majority",
        estimator=None,
    ):
        super().__init__(sampling_strategy=sampling_strategy)
        self.random_state = random_state
        self.k_neighbors = k_neighbors
        self.n_folds = n_folds
        self.n_stable_rounds = n_stable_rounds
        self.min_removed_fraction = min_removed_fraction
        self.voting = voting
        self.estimator = estimator

    def _smote(self):
        return SMOTE(
            sampling_strategy=self.sampling_strategy,
            random_state=self.random_state,
            k_neighbors=self.k_neighbors,
        )

    def _clean(self, X, y):
        rs = check_random_state(self.random_state)
        base = (
            DecisionTreeClassifier(min_samples_leaf=2, ccp_alpha=0.005)
            if self.estimator is None
            else self.estimator
        )
        alive = np.arange(X.shape[0])
        stable, self.n_rounds_ = 0, 0
        while stable < self.n_stable_rounds and alive.size > self.n_folds:
            self.n_rounds_ += 1
            X_a, y_a = X[alive], y[alive]
            wrong = np.zeros(alive.size, dtype=np.int64)
            folds = StratifiedKFold(
                self.n_folds, shuffle=True, random_state=rs.randint(2**31 - 1)
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                parts = [part for _, part in folds.split(X_a, y_a)]
            for part in parts:
                tree = clone(base)
                if "random_state" in tree.get_params():
                    tree.set_params(random_state=rs.randint(2**31 - 1))
                tree.fit(X_a[part], y_a[part])
                wrong += tree.predict(X_a) != y_a
            need = len(parts) if self.voting == "consensus" else len(parts) // 2 + 1
            flagged = wrong >= need
            n_removed = int(flagged.sum())
            if n_removed < self.min_removed_fraction * alive.size:
                stable += 1
            else:
                stable = 0
            alive = alive[~flagged]
        keep = np.zeros(X.shape[0], dtype=bool)
        keep[alive] = True
        return keep
