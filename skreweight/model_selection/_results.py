"""Result types returned by the tests and confidence intervals.

They are frozen dataclasses: printable, comparable and immutable. A
:class:`TestResult` unpacks as ``statistic, pvalue`` like the tuples returned
by scipy and mlxtend.
"""

from dataclasses import dataclass, field

__all__ = [
    "BayesianComparisonResult",
    "Bootstrap632Result",
    "ConfidenceInterval",
    "TestResult",
]


@dataclass(frozen=True)
class TestResult:
    """Outcome of a statistical test.

    Returned by every test of :mod:`skreweight.model_selection`; it unpacks
    as ``statistic, pvalue``.

    Parameters
    ----------
    statistic : float or ndarray
        The test statistic (an array for pairwise post-hoc tests).

    pvalue : float or ndarray
        The p-value, never NaN.

    df : float, tuple of float or None
        Degrees of freedom of the reference distribution; ``None`` for z and
        exact tests.

    method : str
        Name of the test that was run.

    alternative : str or None
        ``"two-sided"``, ``"greater"`` or ``"less"`` where it applies.

    details : dict
        Further quantities (means, standard errors, intervals, fold scores).

    See Also
    --------
    ConfidenceInterval : The result type of the intervals.

    Examples
    --------
    >>> from skreweight.model_selection import mcnemar
    >>> statistic, pvalue = mcnemar([[159, 4], [3, 5]], method="chi2")
    >>> round(statistic, 6), round(pvalue, 6)
    (0.142857, 0.705457)
    """

    __test__ = False  # not a pytest test class

    statistic: object
    pvalue: object
    df: object = None
    method: str = ""
    alternative: object = None
    details: dict = field(default_factory=dict, repr=False, compare=False)

    def __iter__(self):
        yield self.statistic
        yield self.pvalue


@dataclass(frozen=True)
class ConfidenceInterval:
    """A point estimate with its confidence interval.

    Returned by the interval functions; it unpacks as ``low, high``.

    Parameters
    ----------
    estimate : float
        The point estimate.

    low, high : float
        The interval's bounds.

    confidence_level : float
        Nominal coverage, e.g. 0.95.

    method : str
        The method actually used (it can differ from the one asked for, e.g.
        a BCa interval that fell back to the percentile interval).

    standard_error : float or None
        Standard error of the estimate, where the method has one.

    details : dict
        Further information (warnings raised, clipping, number of resamples).

    See Also
    --------
    TestResult : The result type of the tests.

    Examples
    --------
    >>> from skreweight.model_selection import accuracy_ci
    >>> ci = accuracy_ci([0, 1, 1, 0], [0, 1, 0, 0], method="wald")
    >>> ci.estimate
    0.75
    """

    estimate: float
    low: float
    high: float
    confidence_level: float = 0.95
    method: str = ""
    standard_error: object = None
    details: dict = field(default_factory=dict, repr=False, compare=False)

    def __iter__(self):
        yield self.low
        yield self.high


@dataclass(frozen=True)
class BayesianComparisonResult:
    """Posterior probabilities of a Bayesian comparison of two models.

    "Better" means that the *first* model passed scores higher by more than
    ``rope``; "worse" that it scores lower by more than ``rope``.

    Parameters
    ----------
    p_better, p_rope, p_worse : float
        Posterior probabilities; they sum to one.

    loc, scale, df : float
        The posterior Student distribution of the mean difference.

    rope : float
        Half-width of the region of practical equivalence.

    details : dict
        Further quantities (number of differences, test/train ratio).

    See Also
    --------
    bayesian_correlated_ttest : The test returning it.

    Examples
    --------
    >>> from skreweight.model_selection import bayesian_correlated_ttest
    >>> res = bayesian_correlated_ttest([0.02, 0.03, 0.01, 0.04],
    ...                                 test_train_ratio=0.25, rope=0.01)
    >>> res.p_better > res.p_worse
    True
    """

    p_better: float
    p_rope: float
    p_worse: float
    loc: float
    scale: float
    df: float
    rope: float = 0.0
    details: dict = field(default_factory=dict, repr=False, compare=False)

    def __iter__(self):
        yield self.p_better
        yield self.p_rope
        yield self.p_worse


@dataclass(frozen=True)
class Bootstrap632Result:
    """Outcome of :func:`~skreweight.model_selection.bootstrap_632_score`.

    All values are on the scale of the scorer (greater is better).

    Parameters
    ----------
    score : float
        The .632, .632+ or out-of-bag estimate.

    apparent_score : float or None
        Score of the model on its own training data (``mode="efron"``: the
        full-data fit; ``mode="mlxtend"``: mean over rounds of each bootstrap
        model scored on all rows).

    oob_score : float
        Leave-one-out bootstrap score (``mode="efron"``) or mean out-of-bag
        score over rounds (``mode="mlxtend"``).

    no_information_score : float or None
        Score of the no-information rule (predictions paired with targets at
        random).

    relative_overfitting_rate : float or None
        R' of the .632+ rule.

    weight : float
        Weight of the out-of-bag part (0.632 for .632, in [0.632, 1] for
        ``.632+`` with ``mode="efron"``).

    round_scores : ndarray of shape (n_splits,)
        One score per bootstrap round. A percentile interval over them shows
        resampling spread only, not the uncertainty of ``score``.

    method, mode : str
        The estimator and mode used.

    details : dict
        Further quantities.

    See Also
    --------
    bootstrap_632_score : The function returning it.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from skreweight.model_selection import bootstrap_632_score
    >>> X, y = load_iris(return_X_y=True)
    >>> res = bootstrap_632_score(DecisionTreeClassifier(random_state=0), X, y,
    ...                           n_splits=20, random_state=0)
    >>> 0.9 < res.score < 1.0
    True
    """

    score: float
    apparent_score: float
    oob_score: float
    no_information_score: object
    relative_overfitting_rate: object
    weight: float
    round_scores: object = field(repr=False, compare=False)
    method: str = ".632"
    mode: str = "efron"
    details: dict = field(default_factory=dict, repr=False, compare=False)
