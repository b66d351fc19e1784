"""Over-samplers of the SMOTE family, with provenance of every synthetic row."""

from skreweight.over_sampling._adasyn import ADASYN
from skreweight.over_sampling._assembled import AssembledSMOTE
from skreweight.over_sampling._ccr import CCR
from skreweight.over_sampling._cluster import KMeansSMOTE
from skreweight.over_sampling._combine import SMOTEENN, SMOTETomek
from skreweight.over_sampling._filter import SVMSMOTE, BorderlineSMOTE
from skreweight.over_sampling._gsmote import GSMOTE
from skreweight.over_sampling._ipf import SMOTEIPF
from skreweight.over_sampling._lee import LeeSMOTE
from skreweight.over_sampling._lvq import LVQSMOTE
from skreweight.over_sampling._nominal import SMOTEN, SMOTENC
from skreweight.over_sampling._polynom_fit import PolynomFitSMOTE
from skreweight.over_sampling._prowsyn import ProWSyn
from skreweight.over_sampling._smobd import SMOBD
from skreweight.over_sampling._smote import SMOTE

__all__ = [
    "AssembledSMOTE",
    "GSMOTE",
    "LVQSMOTE",
    "SMOTEIPF",
    "CCR",
    "LeeSMOTE",
    "PolynomFitSMOTE",
    "ProWSyn",
    "SMOBD",
    "ADASYN",
    "SMOTE",
    "SMOTEENN",
    "SMOTEN",
    "SMOTENC",
    "SMOTETomek",
    "SVMSMOTE",
    "BorderlineSMOTE",
    "KMeansSMOTE",
]
