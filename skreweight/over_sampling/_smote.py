"""SMOTE: Synthetic Minority Over-sampling TEchnique."""

import numpy as np

from skreweight.over_sampling._base import (
    _NEIGHBORS_CONSTRAINT,
    BaseSMOTE,
    _class_neighbors,
    _even_smote_draws,
    _fill_doc,
    _KNeighborsMixin,
    _smote_draws,
)
from skreweight.utils._sklearn_fixes import StrOptions

__all__ = ["SMOTE"]


@_fill_doc
class SMOTE(_KNeighborsMixin, BaseSMOTE):
    """Over-sample with SMOTE: interpolate between a row and a class neighbour.

    Every synthetic row of class ``c`` is ``x_i + u * (x_j - x_i)`` where
    ``x_i`` is a row of class ``c``, ``x_j`` one of its ``k_neighbors`` nearest
    rows of the same class and ``u ~ U[0, 1)``. By default pairs ``(i, j)``
    are drawn uniformly with replacement, exactly as in imbalanced-learn, so
    that with an integer ``random_state`` a binary problem gives the same
    rows as :class:`imblearn.over_sampling.SMOTE`; ``seed_selection="even"``
    uses every row as a seed equally often, as in the paper.

    Read more in the :ref:`User Guide <over_sampling>`.

    Parameters
    ----------
    {sampling_strategy}

    {random_state}

    {k_neighbors}

    seed_selection : {"random", "even"}, default="random"
        How seeds are chosen among the rows of a class.

        - ``"random"``: (seed, neighbour) pairs uniformly with replacement,
          as imbalanced-learn does. Some rows are never used as a seed (with
          as many new rows as rows, about 37% of them), others several times.
        - ``"even"``: every row is the seed of ``n_new // n_c`` synthetic rows,
          and the ``n_new % n_c`` remaining ones go to distinct rows drawn
          without replacement, so seed counts differ by at most one (the
          original algorithm of Chawla et al., which uses each minority row
          ``N / 100`` times). The partner is one of the seed's neighbours,
          uniformly, and the gap is ``U[0, 1)``.

    Attributes
    ----------
    {sampling_strategy_}

    nn_k_ : estimator object
        The nearest-neighbours estimator last fitted.

    {provenance_}

    {n_features_in_}

    See Also
    --------
    BorderlineSMOTE : Interpolate from the rows near the class border only.
    ADASYN : Generate more rows where the class is hard to learn.
    SMOTENC : SMOTE for mixed continuous and categorical features.

    Notes
    -----
    The neighbours of each class are found with one ``kneighbors`` call on
    that class only; a class with ``k_neighbors`` rows or fewer raises a
    ``ValueError``. Sparse (CSR/CSC) input is supported and kept.

    References
    ----------
    .. [1] N. V. Chawla, K. W. Bowyer, L. O. Hall, W. P. Kegelmeyer, "SMOTE:
       synthetic minority over-sampling technique", Journal of Artificial
       Intelligence Research 16, 321-357, 2002.

    Examples
    --------
    >>> from collections import Counter
    >>> from sklearn.datasets import make_classification
    >>> from skreweight.over_sampling import SMOTE
    >>> X, y = make_classification(n_samples=1000, weights=[0.9], random_state=0)
    >>> X_res, y_res = SMOTE(random_state=0).fit_resample(X, y)
    >>> sorted(Counter(y_res).items())
    [(np.int64(0), 898), (np.int64(1), 898)]
    >>> sampler = SMOTE(random_state=0)
    >>> X_res, y_res = sampler.fit_resample(X, y)
    >>> p = sampler.provenance_
    >>> rebuilt = X[p.seed] + p.gap[:, None] * (X[p.partner] - X[p.seed])
    >>> bool((rebuilt == X_res[len(X):]).all())
    True
    """

    _parameter_constraints: dict = {
        **BaseSMOTE._parameter_constraints,
        "k_neighbors": _NEIGHBORS_CONSTRAINT,
        "seed_selection": [StrOptions({"random", "even"})],
    }

    def __init__(
        self,
        *,
        sampling_strategy="auto",
        random_state=None,
        k_neighbors=5,
        seed_selection="random",
    ):
        super().__init__(sampling_strategy=sampling_strategy, random_state=random_state)
        self.k_neighbors = k_neighbors
        self.seed_selection = seed_selection

    def _sample_class(self, X, y, class_label, n_samples, random_state):
        class_idx = np.flatnonzero(y == class_label)
        self.nn_k_, k = self._nn_k(class_idx.size, class_label)
        X_class = X[class_idx]
        nns = _class_neighbors(self.nn_k_, X_class, X_class, k)
        draws = _even_smote_draws if self.seed_selection == "even" else _smote_draws
        rows, cols, steps = draws(random_state, class_idx.size, k, n_samples)
        return {
            "seed": class_idx[rows],
            "partner": class_idx[nns[rows, cols]],
            "gap": steps,
        }
