"""Class weights: inverse class frequency and class-balanced effective number."""

from numbers import Real

import numpy as np
from sklearn.utils.validation import check_is_fitted

from skreweight.base import BaseReweighter
from skreweight.utils._sklearn_fixes import Interval, StrOptions

__all__ = ["ClassWeights"]


class ClassWeights(BaseReweighter):
    """Weights that rebalance the classes.

    Every row of class ``c`` gets the weight ``s_i * r_c``, where ``s`` is the
    incoming ``sample_weight`` and the class factor ``r_c`` is

    - ``method="inverse"``: ``r_c ∝ (1 / m_c) ** power``, with ``m_c`` the
      (weighted) number of rows of class ``c``. ``power=1`` gives every class
      the same total weight; ``power=0.5`` is the square-root rule;
      ``power=0`` leaves the weights unchanged;
    - ``method="effective_number"``: ``r_c ∝ ((1 - beta) / (1 - beta ** m_c))
      ** power``, the class-balanced weights of Cui et al. (2019), which
      discount the diminishing information of extra rows in large classes.
      ``beta -> 0`` leaves the weights unchanged, ``beta -> 1`` approaches
      ``"inverse"``.

    The factors are normalised so that ``sum_i s_i r_{y_i} = sum_i s_i``: with no
    ``sample_weight`` the weights average to 1, and an integer ``sample_weight``
    equals repeated rows.

    Read more in the :ref:`User Guide <class_weights>`.

    Parameters
    ----------
    method : {"inverse", "effective_number"}, default="inverse"
        How the class factor depends on the class size.

    power : float, default=1.0
        Exponent applied to the class factor, ``>= 0``.

    beta : float, default=0.999
        Hyper-parameter of ``"effective_number"``, in ``[0, 1)``. Ignored by
        ``"inverse"``.

    Attributes
    ----------
    weights_ : ndarray of shape (n_samples,)
        Weight of every training row (``sample_weight`` included).

    classes_ : ndarray of shape (n_classes,)
        Class labels seen during ``fit``.

    class_weight_ : dict
        Class factor ``r_c`` of each class label; usable as ``class_weight``
        of scikit-learn classifiers.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    skreweight.ReweightedEstimator : Fit any estimator with these weights.
    skreweight.ImportanceResampler : Resample rows in proportion to weights.
    sklearn.utils.class_weight.compute_sample_weight : Unnormalised inverse
        frequency weights.

    Notes
    -----
    Only ``y`` and ``sample_weight`` are used: ``X`` may hold any values
    (NaN, strings, sparse), it only fixes the number of rows.

    A class whose rows all have zero ``sample_weight`` keeps weight 0.

    The effective number depends on absolute class sizes, so scaling
    ``sample_weight`` by a constant changes ``"effective_number"`` weights;
    it does not change ``"inverse"`` weights beyond the same scaling.

    References
    ----------
    .. [1] Y. Cui, M. Jia, T.-Y. Lin, Y. Song and S. Belongie, "Class-Balanced
       Loss Based on Effective Number of Samples", CVPR 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.weighting import ClassWeights
    >>> X = np.zeros((4, 1))
    >>> ClassWeights().fit_reweight(X, [0, 0, 0, 1])
    array([0.666..., 0.666..., 0.666..., 2.   ])
    >>> ClassWeights(power=0.5).fit(X, [0, 0, 0, 1]).class_weight_
    {np.int64(0): 0.845..., np.int64(1): 1.464...}
    """

    _parameter_constraints: dict = {
        "method": [StrOptions({"inverse", "effective_number"})],
        "power": [Interval(Real, 0, None, closed="left")],
        "beta": [Interval(Real, 0, 1, closed="left")],
    }
    _validation_params = {
        "accept_sparse": True,
        "dtype": None,
        "ensure_all_finite": False,
    }

    def __init__(self, method="inverse", power=1.0, beta=0.999):
        self.method = method
        self.power = power
        self.beta = beta

    def _fit_reweight(self, X, y, sample_weight):
        # unique + searchsorted avoids the full argsort of return_inverse.
        classes = np.unique(y)
        codes = np.searchsorted(classes, y)
        if classes.size < 2:
            raise ValueError(
                "ClassWeights needs at least 2 classes in y to balance; got 1 "
                f"class: {classes.tolist()}."
            )
        class_mass = np.bincount(codes, weights=sample_weight, minlength=classes.size)
        present = class_mass > 0
        factors = np.zeros(classes.size)
        if self.method == "inverse":
            factors[present] = 1.0 / class_mass[present]
        else:
            # (1 - beta) / (1 - beta**m), with expm1/log1p for accuracy near 1.
            log_beta = np.log(self.beta) if self.beta > 0 else -np.inf
            factors[present] = -np.expm1(log_beta) / -np.expm1(
                class_mass[present] * log_beta
            )
        factors[present] = factors[present] ** self.power
        # Normalise so that the total weight is unchanged.
        factors *= class_mass.sum() / np.dot(class_mass, factors)
        self.classes_ = classes
        self.class_weight_ = dict(zip(classes, factors.tolist()))
        return sample_weight * factors[codes]

    def compute_weights(self, X, y):
        """Compute the weights of new rows from their labels.

        The fitted class factors ``class_weight_`` extend to any row whose
        label was seen during ``fit``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to weight; only their number is used.

        y : array-like of shape (n_samples,)
            Class labels, each seen during ``fit``.

        Returns
        -------
        weights : ndarray of shape (n_samples,)
            ``class_weight_[y_i]`` for every row.
        """
        check_is_fitted(self, "class_weight_")
        y = np.asarray(y)
        if len(y) != _num_rows(X):
            raise ValueError(
                f"X has {_num_rows(X)} rows but y has {len(y)}; they must match."
            )
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(
                f"y contains labels not seen during fit: {unseen[:5].tolist()}."
            )
        factors = np.array([self.class_weight_[c] for c in self.classes_])
        return factors[np.searchsorted(self.classes_, y)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        return tags


def _num_rows(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)
