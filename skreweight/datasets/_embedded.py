"""The embedded default dataset."""

import csv
import gzip
from importlib import resources

import numpy as np
from sklearn.utils import Bunch

__all__ = ["load_wdbc_imbalanced"]

_DATA_FILE = "wdbc_imbalanced.csv.gz"


def _read_csv_gz(name):
    with (
        resources.files("skreweight.datasets.data").joinpath(name).open("rb") as raw,
        gzip.open(raw, "rt", newline="") as text,
    ):
        reader = csv.reader(text)
        header = next(reader)
        values = np.array([[float(v) for v in row] for row in reader])
    return header, values


def load_wdbc_imbalanced(*, return_X_y=False, as_frame=False):
    """Load the embedded imbalanced breast cancer dataset (binary).

    The default dataset of ``skreweight benchmark``: 393 tumours described by
    30 numeric features, of which 36 (9.2 %) are malignant (class 1). It is
    derived deterministically from scikit-learn's bundled Breast Cancer
    Wisconsin (Diagnostic) data and ships inside the package.

    Read more in the :ref:`User Guide <wdbc_imbalanced_dataset>`.

    =================   ==============
    Classes                          2
    Samples per class    357 / 36
    Samples total                  393
    Dimensionality                  30
    Features            real, positive
    =================   ==============

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame, ``target`` a Series and the
        Bunch has a ``frame`` with both. Needs pandas.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes ``data`` (n_samples,
        n_features), ``target`` (n_samples,), ``feature_names``,
        ``target_names``, ``frame`` (or None) and ``DESCR``.

    (data, target) : tuple if ``return_X_y`` is True
        The features and the target.

    See Also
    --------
    make_imbalanced_classification : Synthetic imbalanced problems.
    sklearn.datasets.load_breast_cancer : The full, balanced-ish original.

    Examples
    --------
    >>> import numpy as np
    >>> from skreweight.datasets import load_wdbc_imbalanced
    >>> X, y = load_wdbc_imbalanced(return_X_y=True)
    >>> X.shape
    (393, 30)
    >>> np.bincount(y)
    array([357,  36])
    """
    header, values = _read_csv_gz(_DATA_FILE)
    feature_names = np.array(header[:-1], dtype=object)
    data, target = values[:, :-1], values[:, -1].astype(np.int64)
    descr = (
        resources.files("skreweight.datasets.descr")
        .joinpath("wdbc_imbalanced.rst")
        .read_text(encoding="utf-8")
    )
    frame = None
    if as_frame:
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas is a test extra
            raise ImportError("as_frame=True needs pandas: pip install pandas") from exc
        data = pd.DataFrame(data, columns=list(feature_names))
        target = pd.Series(target, name=header[-1])
        frame = pd.concat([data, target], axis=1)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        frame=frame,
        feature_names=feature_names,
        target_names=np.array(["benign", "malignant"], dtype=object),
        DESCR=descr,
    )
