"""``skreweight benchmark``: compare imbalance treatments under repeated CV."""

import csv
import json
import math
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    roc_auc_score,
)
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.preprocessing import label_binarize
from sklearn.utils.parallel import Parallel, delayed

from skreweight.cli._strategies import STRATEGIES, make_strategy_estimator

__all__ = ["METRICS", "load_csv", "run_benchmark", "summarize"]

METRICS = ("roc_auc", "average_precision", "balanced_accuracy", "g_mean")
METRIC_TITLES = {
    "roc_auc": "ROC AUC",
    "average_precision": "AP",
    "balanced_accuracy": "Bal. acc.",
    "g_mean": "G-mean",
}


def _classifier(name, seed):
    """Base classifier and the preprocessing steps that go before it."""
    from sklearn.preprocessing import StandardScaler

    if name == "logistic":
        from sklearn.linear_model import LogisticRegression

        return [("scale", StandardScaler())], LogisticRegression(max_iter=1000)
    if name == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        return [], RandomForestClassifier(n_estimators=200, random_state=seed)
    if name == "hist_gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return [], HistGradientBoostingClassifier(random_state=seed)
    raise ValueError(f"unknown classifier {name!r}")


CLASSIFIERS = ("logistic", "random_forest", "hist_gradient_boosting")


def load_csv(path, target):
    """Read a CSV file with a header row into ``(X, y, feature_names)``.

    Every column but ``target`` must be numeric; empty cells become NaN.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = [name.strip() for name in next(reader)]
        except StopIteration:
            raise ValueError(f"{path} is empty") from None
        rows = [row for row in reader if row]
    if target is None:
        raise ValueError(
            "--target is required with a data file; columns are: "
            + ", ".join(header[:20])
        )
    if target not in header:
        raise ValueError(
            f"target column {target!r} not in {path.name}; columns are: "
            + ", ".join(header[:20])
        )
    if not rows:
        raise ValueError(f"{path} has a header but no data rows")
    bad = next((i for i, row in enumerate(rows) if len(row) != len(header)), None)
    if bad is not None:
        raise ValueError(
            f"{path.name} line {bad + 2} has {len(rows[bad])} fields; "
            f"the header has {len(header)}"
        )
    t = header.index(target)
    labels = [row[t].strip() for row in rows]
    if any(label == "" for label in labels):
        raise ValueError(f"target column {target!r} has empty cells")
    feature_names = [name for i, name in enumerate(header) if i != t]
    X = np.empty((len(rows), len(feature_names)))
    for j, column in enumerate(i for i in range(len(header)) if i != t):
        for i, row in enumerate(rows):
            cell = row[column].strip()
            try:
                X[i, j] = float(cell) if cell else np.nan
            except ValueError:
                raise ValueError(
                    f"column {header[column]!r} is not numeric (line {i + 2}: "
                    f"{cell!r}); encode it as numbers first"
                ) from None
    try:
        y = np.array([int(label) for label in labels])
    except ValueError:
        y = np.array(labels, dtype=object)
    return X, y, feature_names


def _check_target(y, n_splits):
    classes, counts = np.unique(y, return_counts=True)
    if classes.size < 2:
        raise ValueError(
            f"the target has a single class ({classes[0]!r}); need at least two"
        )
    if counts.min() < n_splits:
        raise ValueError(
            f"class {classes[np.argmin(counts)]!r} has {counts.min()} rows, fewer "
            f"than --cv {n_splits}; lower --cv or collect more rows"
        )
    return classes, counts


def _score(estimator, X, y, classes, positive):
    proba = estimator.predict_proba(X)
    y_pred = estimator.predict(X)
    from imblearn.metrics import geometric_mean_score

    if classes.size == 2:
        column = list(estimator.classes_).index(positive)
        y_true = y == positive
        roc_auc = roc_auc_score(y_true, proba[:, column])
        ap = average_precision_score(y_true, proba[:, column])
    else:
        order = [list(estimator.classes_).index(c) for c in classes]
        proba = proba[:, order]
        roc_auc = roc_auc_score(y, proba, multi_class="ovr", labels=classes)
        ap = average_precision_score(label_binarize(y, classes=classes), proba)
    return {
        "roc_auc": float(roc_auc),
        "average_precision": float(ap),
        "balanced_accuracy": float(balanced_accuracy_score(y, y_pred)),
        "g_mean": float(geometric_mean_score(y, y_pred)),
    }


def _fit_and_score(name, estimator, X, y, train, test, classes, positive, split):
    import time

    start = time.perf_counter()
    estimator = clone(estimator).fit(X[train], y[train])
    fit_time = time.perf_counter() - start
    scores = _score(estimator, X[test], y[test], classes, positive)
    return {"strategy": name, "split": split, **scores, "fit_time": fit_time}


@contextmanager
def backend_context(backend, n_jobs):
    """Run joblib-parallel code on ``backend`` ("loky", "threading", "dask", "ray")."""
    from joblib import parallel_config

    if backend in ("loky", "threading"):
        with parallel_config(backend=backend, n_jobs=n_jobs):
            yield
        return
    if backend == "dask":
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ImportError(
                '--backend dask needs dask.distributed: pip install "skreweight[dask]"'
            ) from None
        workers = n_jobs if n_jobs and n_jobs > 0 else None
        with (
            LocalCluster(
                processes=False, n_workers=workers, dashboard_address=None
            ) as cluster,
            Client(cluster),
            parallel_config(backend="dask"),
        ):
            yield
        return
    if backend == "ray":
        try:
            import ray
            from ray.util.joblib import register_ray
        except ImportError:
            raise ImportError(
                '--backend ray needs ray: pip install "skreweight[ray]"'
            ) from None
        started = not ray.is_initialized()
        if started:
            ray.init(num_cpus=n_jobs if n_jobs and n_jobs > 0 else None)
        register_ray()
        try:
            with parallel_config(backend="ray", n_jobs=n_jobs):
                yield
        finally:
            if started:
                ray.shutdown()
        return
    raise ValueError(f"unknown backend {backend!r}")


def run_benchmark(
    X,
    y,
    *,
    strategies=None,
    classifier="logistic",
    cv=5,
    repeats=2,
    seed=0,
    n_jobs=None,
    progress=False,
):
    """Evaluate every strategy on the same repeated stratified folds.

    Returns a list of one dict per (strategy, split) with the four metrics and
    the fit time. The minority class is the positive class of binary metrics.
    """
    from skreweight.cli._strategies import DEFAULT_STRATEGIES

    strategies = list(DEFAULT_STRATEGIES if strategies is None else strategies)
    unknown = [name for name in strategies if name not in STRATEGIES]
    if unknown:
        raise ValueError(
            f"unknown strategy {unknown[0]!r}; choose from: "
            + ", ".join(sorted(STRATEGIES))
        )
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X must be 2-D with one row per label; got X {X.shape}, y {y.shape}"
        )
    classes, counts = _check_target(y, cv)
    positive = classes[np.argmin(counts)]
    preprocessing, base = _classifier(classifier, seed)
    if np.isnan(X).any() and classifier != "hist_gradient_boosting":
        raise ValueError(
            f"the data has {int(np.isnan(X).sum())} missing values; impute them "
            "or use --classifier hist_gradient_boosting"
        )
    if not np.isfinite(X[~np.isnan(X)]).all():
        raise ValueError("the data has infinite values")
    splitter = RepeatedStratifiedKFold(
        n_splits=cv, n_repeats=repeats, random_state=seed
    )
    splits = list(splitter.split(X, y))
    estimators = {
        name: make_strategy_estimator(name, preprocessing, base, seed)
        for name in strategies
    }
    tasks = [
        delayed(_fit_and_score)(
            name, estimators[name], X, y, train, test, classes, positive, split
        )
        for split, (train, test) in enumerate(splits)
        for name in strategies
    ]
    results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(tasks)
    if progress:
        from tqdm.auto import tqdm

        results = tqdm(
            results, total=len(tasks), desc="benchmark", unit="fit", file=sys.stderr
        )
    rows = list(results)
    order = {name: i for i, name in enumerate(strategies)}
    rows.sort(key=lambda row: (order[row["strategy"]], row["split"]))
    for row in rows:
        row["repeat"], row["fold"] = divmod(row["split"], cv)
    return rows


def summarize(rows, rank_by="balanced_accuracy"):
    """Mean and standard deviation of every metric per strategy, ranked."""
    summary = {}
    for row in rows:
        summary.setdefault(row["strategy"], {m: [] for m in (*METRICS, "fit_time")})
        for metric in (*METRICS, "fit_time"):
            summary[row["strategy"]][metric].append(row[metric])
    table = []
    for name, values in summary.items():
        entry = {"strategy": name, "n_splits": len(values[METRICS[0]])}
        for metric, scores in values.items():
            scores = np.asarray(scores)
            entry[f"{metric}_mean"] = float(scores.mean())
            entry[f"{metric}_std"] = (
                float(scores.std(ddof=1)) if scores.size > 1 else 0.0
            )
        table.append(entry)
    table.sort(key=lambda entry: -entry[f"{rank_by}_mean"])
    for rank, entry in enumerate(table, start=1):
        entry["rank"] = rank
    return table


def format_table(table, rank_by, extra_header=(), extra_cells=None):
    """Render the ranked summary as a plain-text table.

    ``extra_header`` and ``extra_cells`` (strategy -> list of str) append
    columns, e.g. the paired tests against the baseline.
    """
    extra_cells = extra_cells or {}
    header = ["#", "strategy"] + [
        METRIC_TITLES[m] + ("*" if m == rank_by else "") for m in METRICS
    ]
    header += list(extra_header)
    lines = []
    for entry in table:
        cells = [str(entry["rank"]), entry["strategy"]]
        cells += [
            f"{entry[f'{m}_mean']:.3f} ± {entry[f'{m}_std']:.3f}" for m in METRICS
        ]
        if extra_header:
            cells += extra_cells.get(
                entry["strategy"], ["baseline"] + [""] * (len(extra_header) - 1)
            )
        lines.append(cells)
    widths = [
        max(len(str(row[i])) for row in [header, *lines]) for i in range(len(header))
    ]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in lines]
    return "\n".join(out)


def write_report(directory, rows, table, config, comparisons=None):
    """Write ``folds.csv``, ``summary.csv`` and ``summary.json`` to ``directory``.

    ``comparisons`` (strategy -> dict of test results against the baseline)
    are added to the summary rows with a ``vs_baseline_`` prefix.
    """
    comparisons = comparisons or {}
    table = [
        {
            **entry,
            **{
                f"vs_baseline_{key}": value
                for key, value in comparisons.get(entry["strategy"], {}).items()
            },
        }
        for entry in table
    ]
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fold_fields = ["strategy", "repeat", "fold", *METRICS, "fit_time"]
    with (directory / "folds.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fold_fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    summary_fields = list(dict.fromkeys(key for entry in table for key in entry))
    with (directory / "summary.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=summary_fields, restval="")
        writer.writeheader()
        writer.writerows(table)
    payload = {"config": config, "summary": table}
    (directory / "summary.json").write_text(
        json.dumps(payload, indent=2, allow_nan=False, default=_json_default) + "\n"
    )
    return directory


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
