"""Polynomial-fit SMOTE: synthetic rows on simple topologies of the class."""

import math
import numbers

import numpy as np
from scipy import sparse

from skreweight.over_sampling._base import BaseSMOTE, _check_class_size, _fill_doc
from skreweight.utils._sklearn_fixes import Interval, StrOptions

__all__ = ["PolynomFitSMOTE"]


@_fill_doc
class PolynomFitSMOTE(BaseSMOTE):
    """Over-sample with polynomial-fit SMOTE: rows on a star, bus, mesh or curve.

    With ``K = ceil(n / n_c)`` rows per class row (``n`` requested rows,
    ``n_c`` class rows), the topologies are

    - ``'star'``: ``x_i + j / (K + 1) * (m - x_i)`` for ``j = 1..K``, with
      ``m`` the class mean (deterministic apart from the final subsampling);
    - ``'bus'``: the same ``K`` points between consecutive class rows (in
      the order of ``X``);
    - ``'mesh'``: uniform points on segments between random pairs of class
      rows;
    - ``'poly'``: class rows sorted by their mean feature value, then per
      feature a polynomial of degree ``degree`` fitted to the values against
      the rank, and evaluated at independent uniform ranks.

    The surplus of ``'star'`` and ``'bus'`` is dropped at random, so the
    class gets exactly the requested count.

    Read more in the :ref:`User Guide <over_sampling>`.

    Parameters
    ----------
    {sampling_strategy}

    {random_state}

    topology : {'star', 'bus', 'mesh', 'poly'}, default='star'
        Where the synthetic rows go.

    degree : int, default=2
        Degree of the polynomials of ``topology='poly'``.

    Attributes
    ----------
    {sampling_strategy_}

    centroids_ : dict
        Mean of each over-sampled class (the centre of the star).

    {provenance_}
        For ``'star'`` the partner is -1 and the row is
        ``X[seed] + gap * (centroids_[label] - X[seed])``; for ``'poly'``
        seed and partner are -1 and the gap is NaN.

    {n_features_in_}

    See Also
    --------
    SMOTE : Interpolation towards nearest neighbours.
    ProWSyn : Interpolation within proximity layers.

    Notes
    -----
    Ranked first overall by Kovács (2019), under a protocol that scored each
    method by its best setting per dataset (the top ten differed by 0.0034
    AUC). It needs no neighbour search, so it is fast on any size.

    References
    ----------
    .. [1] S. Gazzah, N. E. B. Amara, "New oversampling approaches based on
       polynomial fitting for imbalanced data sets", The Eighth IAPR
       International Workshop on Document Analysis Systems, 677-684, 2008.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.over_sampling import PolynomFitSMOTE
    >>> X = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0], [5.0, 5.0], [6.0, 5.0],
    ...               [5.0, 6.0], [6.0, 6.0], [5.5, 5.5], [6.5, 6.5]])
    >>> y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0])
    >>> X_res, y_res = PolynomFitSMOTE(random_state=0).fit_resample(X, y)
    >>> sorted(map(tuple, X_res[9:].tolist()))
    [(0.5, 0.5), (0.5, 2.0), (2.0, 0.5)]
    """

    _parameter_constraints: dict = {
        **BaseSMOTE._parameter_constraints,
        "topology": [StrOptions({"star", "bus", "mesh", "poly"})],
        "degree": [Interval(numbers.Integral, 0, None, closed="left")],
    }

    def __init__(
        self, *, sampling_strategy="auto", random_state=None, topology="star", degree=2
    ):
        super().__init__(sampling_strategy=sampling_strategy, random_state=random_state)
        self.topology = topology
        self.degree = degree

    def _prepare(self, X, y, random_state):
        self.centroids_ = {}

    def _sample_class(self, X, y, class_label, n_samples, random_state):
        class_idx = np.flatnonzero(y == class_label)
        _check_class_size(class_idx.size, 1, class_label, "(class size)", "PolynomFit")
        X_class = X[class_idx]
        if sparse.issparse(X_class):
            X_class = X_class.toarray()
        n_c = class_idx.size
        centroid = X_class.mean(axis=0)
        self.centroids_[class_label] = centroid
        if self.topology in ("star", "bus"):
            n_base = n_c if self.topology == "star" else n_c - 1
            K = math.ceil(n_samples / n_base)
            base = np.repeat(np.arange(n_base), K)
            gap = np.tile(np.arange(1, K + 1) / (K + 1), n_base)
            keep = np.sort(random_state.choice(base.size, n_samples, replace=False))
            base, gap = base[keep], gap[keep]
            if self.topology == "star":
                X_new = X_class[base] + gap[:, None] * (centroid - X_class[base])
                partner = np.full(n_samples, -1)
            else:
                X_new = None
                partner = class_idx[base + 1]
            out = {"seed": class_idx[base], "partner": partner, "gap": gap}
            if X_new is not None:
                out["X_new"] = X_new
            return out
        if self.topology == "mesh":
            a = random_state.randint(0, n_c, size=n_samples)
            b = random_state.randint(0, n_c - 1, size=n_samples)
            b += b >= a
            gap = random_state.uniform(size=n_samples)
            return {"seed": class_idx[a], "partner": class_idx[b], "gap": gap}
        order = np.argsort(X_class.mean(axis=1), kind="stable")
        ranks = np.arange(n_c)
        degree = min(self.degree, n_c - 1)
        coefs = np.polynomial.polynomial.polyfit(ranks, X_class[order], degree)
        t = random_state.uniform(0, n_c, size=(n_samples, X_class.shape[1]))
        powers = t[:, :, None] ** np.arange(degree + 1)
        X_new = np.einsum("nfp,pf->nf", powers, coefs)
        return {
            "seed": np.full(n_samples, -1),
            "partner": np.full(n_samples, -1),
            "gap": np.full(n_samples, np.nan),
            "X_new": X_new,
        }
