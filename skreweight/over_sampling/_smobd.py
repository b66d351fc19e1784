"""SMOBD: SMOTE guided by an OPTICS density estimate."""

import numbers
import warnings

import numpy as np
from scipy import sparse
from sklearn.cluster import OPTICS
from sklearn.neighbors import NearestNeighbors

from skreweight.over_sampling._base import (
    BaseSMOTE,
    _check_class_size,
    _fill_doc,
    _kneighbors,
    _label,
)
from skreweight.utils._sklearn_fixes import Interval

__all__ = ["SMOBD"]


def _finite_mean(values):
    finite = values[np.isfinite(values)]
    return finite.mean() if finite.size else np.inf


@_fill_doc
class SMOBD(BaseSMOTE):
    """Over-sample with SMOBD: seeds weighted by an OPTICS density, noise removed.

    OPTICS runs on the rows of class ``c``. A row is noise when both its
    core distance and its reachability exceed ``noise_factor`` times their
    (finite) means. The other rows get the score ``eta * core / max(core) +
    (1 - eta) * count / max(count)``, ``count`` being the number of class
    rows within ``max_eps``; seeds are drawn proportionally to the score,
    the partner is one of the seed's ``min_samples`` nearest class rows, and
    the synthetic row ``x_i + g * (x_j - x_i)`` uses an independent gap
    ``g ~ U[0, 1)`` per feature.

    Read more in the :ref:`User Guide <over_sampling>`.

    Parameters
    ----------
    {sampling_strategy}

    {random_state}

    eta : float, default=0.5
        Weight of the core-distance term in the score, in ``[0, 1]``.

    noise_factor : float, default=1.8
        Noise threshold, in multiples of the mean core distance and
        reachability.

    min_samples : int, default=5
        ``min_samples`` of OPTICS, and the number of partner candidates.

    max_eps : float, default=np.inf
        ``max_eps`` of OPTICS and radius of the density count.

    Attributes
    ----------
    {sampling_strategy_}

    density_ : dict
        For each over-sampled class, the normalised score of its rows (zero
        for noise).

    {provenance_}
        The gap is per feature here, so ``gap`` is NaN; ``gaps`` (shape
        ``(n_new, n_features)``) holds the per-feature gaps, and
        ``X[seed] + gaps * (X[partner] - X[seed])`` rebuilds the rows.

    {n_features_in_}

    See Also
    --------
    SMOTE : Uniform seeds.
    ADASYN : Seeds weighted by their share of other-class neighbours.

    Notes
    -----
    smote-variants defaults to ``max_eps=1.0``, which depends on the scale of
    the data (with all core distances infinite it returns the input
    unchanged); the default here is infinite. If every row is noise a
    ``ValueError`` is raised instead of returning the input silently.

    References
    ----------
    .. [1] Q. Cao, S. Wang, "Applying over-sampling technique based on data
       density and cost-sensitive SVM to imbalanced learning", International
       Conference on Information Management, Innovation Management and
       Industrial Engineering, 543-548, 2011.

    Examples
    --------
    >>> from collections import Counter
    >>> from sklearn.datasets import make_classification
    >>> from skreweight.over_sampling import SMOBD
    >>> X, y = make_classification(n_samples=500, weights=[0.9], random_state=0)
    >>> X_res, y_res = SMOBD(random_state=0).fit_resample(X, y)
    >>> sorted(Counter(y_res).items())
    [(np.int64(0), 450), (np.int64(1), 450)]
    """

    _parameter_constraints: dict = {
        **BaseSMOTE._parameter_constraints,
        "eta": [Interval(numbers.Real, 0, 1, closed="both")],
        "noise_factor": [Interval(numbers.Real, 0, None, closed="left")],
        "min_samples": [Interval(numbers.Integral, 2, None, closed="left")],
        "max_eps": [Interval(numbers.Real, 0, None, closed="right")],
    }

    def __init__(
        self,
        *,
        sampling_strategy="auto",
        random_state=None,
        eta=0.5,
        noise_factor=1.8,
        min_samples=5,
        max_eps=np.inf,
    ):
        super().__init__(sampling_strategy=sampling_strategy, random_state=random_state)
        self.eta = eta
        self.noise_factor = noise_factor
        self.min_samples = min_samples
        self.max_eps = max_eps

    def _prepare(self, X, y, random_state):
        self.density_ = {}

    def _sample_class(self, X, y, class_label, n_samples, random_state):
        class_idx = np.flatnonzero(y == class_label)
        k = self.min_samples
        _check_class_size(class_idx.size, k, class_label, "min_samples", "SMOBD")
        X_class = X[class_idx]
        if sparse.issparse(X_class):
            X_class = X_class.toarray()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            optics = OPTICS(min_samples=k, max_eps=self.max_eps).fit(X_class)
        core, reach = optics.core_distances_, optics.reachability_
        t = self.noise_factor
        noise = (core > t * _finite_mean(core)) & (reach > t * _finite_mean(reach))
        finite_core = np.where(np.isfinite(core), core, np.nan)
        if np.all(np.isnan(finite_core)):
            core_term = np.zeros_like(core)
        else:
            cmax = np.nanmax(finite_core)
            core_term = np.nan_to_num(finite_core, nan=1.1 * cmax) / max(cmax, 1e-300)
        nn = NearestNeighbors(n_neighbors=k + 1).fit(X_class)
        if np.isfinite(self.max_eps):
            counts = np.array(
                [len(r) for r in nn.radius_neighbors(X_class, self.max_eps, False)]
            )
        else:
            counts = np.full(class_idx.size, class_idx.size)
        score = (
            self.eta * core_term / max(core_term.max(), 1e-300)
            + (1 - self.eta) * counts / counts.max()
        )
        score[noise] = 0.0
        if not score.sum() > 0:
            raise ValueError(
                f"SMOBD found no usable seed in class {_label(class_label)}: all its "
                "rows are noise or have a zero density score. Raise `noise_factor` "
                "or `max_eps`."
            )
        score = score / score.sum()
        self.density_[class_label] = score
        nns = _kneighbors(nn, X_class, k + 1)[:, 1:]
        rows = random_state.choice(class_idx.size, size=n_samples, p=score)
        cols = random_state.randint(0, k, size=n_samples)
        gaps = random_state.uniform(size=(n_samples, X.shape[1]))
        seed, partner = class_idx[rows], class_idx[nns[rows, cols]]
        X_new = X_class[rows] + gaps * (X_class[nns[rows, cols]] - X_class[rows])
        return {
            "seed": seed,
            "partner": partner,
            "gap": np.full(n_samples, np.nan),
            "X_new": X_new,
            "extra": {"gaps": gaps},
        }
