"""The imbalance treatments that ``skreweight benchmark`` can compare.

Each strategy turns a base classifier into the estimator evaluated in every
fold. Samplers go into an imbalanced-learn ``Pipeline`` and reweighters into a
:class:`~skreweight.ReweightedEstimator`, so that both are fit on the training
fold only.
"""

from dataclasses import dataclass

from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.base import clone
from sklearn.pipeline import Pipeline

__all__ = ["STRATEGIES", "Strategy", "make_strategy_estimator"]


@dataclass(frozen=True)
class Strategy:
    """A named imbalance treatment.

    ``kind`` is ``"none"``, ``"sampler"`` or ``"reweighter"``; ``factory``
    builds the sampler or reweighter from a random seed.
    """

    kind: str
    description: str
    factory: object = None


def _random_over_sampler(seed):
    from imblearn.over_sampling import RandomOverSampler

    return RandomOverSampler(random_state=seed)


def _class_weights(seed):
    from skreweight.weighting import ClassWeights

    return ClassWeights()


def _effective_number(seed):
    from skreweight.weighting import ClassWeights

    return ClassWeights(method="effective_number", beta=0.99)


def _importance_resampler(seed):
    from skreweight import ImportanceResampler
    from skreweight.weighting import ClassWeights

    return ImportanceResampler(ClassWeights(), random_state=seed)


class _OverSampler:
    """Factory of a ``skreweight.over_sampling`` sampler, seeded per run."""

    def __init__(self, class_name, **params):
        self.class_name = class_name
        self.params = params

    def __call__(self, seed):
        from skreweight import over_sampling

        sampler_class = getattr(over_sampling, self.class_name)
        return sampler_class(random_state=seed, **self.params)


# CLI name -> (class name in skreweight.over_sampling, extra parameters).
# SMOTENC and SMOTEN need categorical features, which the CSV reader does not
# produce, so they are not offered here.
_OVER_SAMPLERS = {
    "smote": ("SMOTE", {}),
    "smote_even": ("SMOTE", {"seed_selection": "even"}),
    "adasyn": ("ADASYN", {}),
    "borderline": ("BorderlineSMOTE", {"kind": "borderline-1"}),
    "borderline2": ("BorderlineSMOTE", {"kind": "borderline-2"}),
    "svmsmote": ("SVMSMOTE", {}),
    # The default balance threshold often finds no cluster on small data.
    "kmeans_smote": ("KMeansSMOTE", {"cluster_balance_threshold": 0.0}),
    "polynom_fit": ("PolynomFitSMOTE", {}),
    "prowsyn": ("ProWSyn", {}),
    "smote_ipf": ("SMOTEIPF", {}),
    "lee": ("LeeSMOTE", {}),
    "smobd": ("SMOBD", {}),
    "gsmote": ("GSMOTE", {}),
    "ccr": ("CCR", {}),
    "lvq_smote": ("LVQSMOTE", {}),
    "assembled_smote": ("AssembledSMOTE", {}),
    "smote_tomek": ("SMOTETomek", {}),
    "smote_enn": ("SMOTEENN", {}),
}

STRATEGIES = {
    "none": Strategy("none", "the classifier alone"),
    "class_weights": Strategy(
        "reweighter", "ClassWeights(): inverse class frequency", _class_weights
    ),
    "effective_number": Strategy(
        "reweighter",
        "ClassWeights(method='effective_number', beta=0.99)",
        _effective_number,
    ),
    "random_oversampler": Strategy(
        "sampler", "imbalanced-learn RandomOverSampler", _random_over_sampler
    ),
    "importance_resampler": Strategy(
        "sampler", "ImportanceResampler(ClassWeights())", _importance_resampler
    ),
}
STRATEGIES.update(
    (
        name,
        Strategy(
            "sampler",
            f"skreweight {cls}" + "".join(f" {k}={v!r}" for k, v in params.items()),
            _OverSampler(cls, **params),
        ),
    )
    for name, (cls, params) in _OVER_SAMPLERS.items()
)

DEFAULT_STRATEGIES = [
    "none",
    "class_weights",
    "random_oversampler",
    "importance_resampler",
]


def make_strategy_estimator(name, preprocessing, classifier, seed):
    """Build the estimator that a strategy evaluates.

    Parameters
    ----------
    name : str
        A key of ``STRATEGIES``.
    preprocessing : list of (str, transformer)
        Steps applied before the treatment (fit on the training fold).
    classifier : estimator
        The base classifier.
    seed : int
        Seed of the strategy's randomness.

    Returns
    -------
    estimator : estimator
        An unfitted estimator.
    """
    from skreweight import ReweightedEstimator

    strategy = STRATEGIES[name]
    steps = [(step, clone(est)) for step, est in preprocessing]
    classifier = clone(classifier)
    if strategy.kind == "none":
        return Pipeline([*steps, ("classifier", classifier)])
    if strategy.kind == "reweighter":
        # Last in the pipeline, so the reweighter sees the preprocessed features.
        reweighted = ReweightedEstimator(classifier, strategy.factory(seed))
        return Pipeline([*steps, ("classifier", reweighted)])
    sampler = strategy.factory(seed)
    return ImbPipeline([*steps, ("sampler", sampler), ("classifier", classifier)])
