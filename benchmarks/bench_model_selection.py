"""Benchmark skreweight.model_selection against mlxtend.evaluate.

Spec setup S0: breast cancer (569 x 30, unscaled), DecisionTreeClassifier
(random_state=0), BootstrapOutOfBag(200, random_state=1). Every row times ours
and the anchor in the same run; ratios < 1 mean skreweight is faster.

Run:  .venv/bin/python benchmarks/bench_model_selection.py [--quick]
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.naive_bayes import GaussianNB
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

from skreweight.model_selection import (
    BootstrapOutOfBag,
    bootstrap_632_score,
    cochrans_q,
    compare_estimators,
    roc_auc_ci,
)
from skreweight.model_selection._bootstrap632 import _no_information

try:
    import mlxtend.evaluate as mlx
except ImportError:  # pragma: no cover
    mlx = None


def timed(func, repeat=1):
    best, value = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        value = func()
        best = min(best, time.perf_counter() - start)
    return best, value


def interleaved(funcs, repeat):
    """Run the functions round-robin; best wall and CPU time of each.

    On a shared machine the load changes during a run; interleaving exposes
    every contender to the same load, and the minimum discards the slow runs.
    """
    wall = dict.fromkeys(funcs, np.inf)
    cpu = dict.fromkeys(funcs, np.inf)
    out = {}
    for _ in range(repeat):
        for name, func in funcs.items():
            t0, c0 = time.perf_counter(), time.process_time()
            out[name] = func()
            wall[name] = min(wall[name], time.perf_counter() - t0)
            cpu[name] = min(cpu[name], time.process_time() - c0)
    return wall, cpu, out


def row(rows, name, ours, anchor, note=""):
    rows.append((name, ours, anchor, note))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    n_rounds = 50 if args.quick else 200
    n_rounds_plus = 10 if args.quick else 20
    repeat = 2 if args.quick else 3
    X, y = load_breast_cancer(return_X_y=True)
    dt = DecisionTreeClassifier(random_state=0)
    rows = []
    missing = "skipped: mlxtend not installed"

    # Warm the loky pool so that n_jobs=2 timings exclude worker start-up.
    bootstrap_632_score(dt, X, y, n_splits=4, n_jobs=2, random_state=0)

    for method in (".632", "oob"):
        cv = BootstrapOutOfBag(n_rounds, random_state=1)
        funcs = {
            "efron": lambda: bootstrap_632_score(dt, X, y, method=method, cv=cv),
            "mlxtend-mode": lambda: bootstrap_632_score(
                dt, X, y, method=method, mode="mlxtend", cv=cv
            ),
            "n_jobs=2": lambda: bootstrap_632_score(
                dt, X, y, method=method, cv=cv, n_jobs=2
            ),
        }
        if mlx is not None:
            funcs["anchor"] = lambda: mlx.bootstrap_point632_score(
                dt, X, y, n_splits=n_rounds, method=method, random_seed=1
            )
        wall, cpu, out = interleaved(funcs, repeat)
        assert out["n_jobs=2"].score == out["efron"].score
        if mlx is None:
            row(rows, f"bootstrap {method} (anchor {missing})", wall["efron"], None)
            continue
        assert abs(np.mean(out["anchor"]) - out["mlxtend-mode"].score) < 1e-12
        for key in ("efron", "mlxtend-mode"):
            row(
                rows,
                f"bootstrap {method} B={n_rounds} {key}, serial",
                wall[key],
                wall["anchor"],
                f"CPU-time ratio {cpu[key] / cpu['anchor']:.2f}",
            )
        row(
            rows,
            f"bootstrap {method} B={n_rounds} efron, n_jobs=2",
            wall["n_jobs=2"],
            wall["anchor"],
            f"n_jobs=2 / serial = {wall['n_jobs=2'] / wall['efron']:.2f}",
        )

    cv = BootstrapOutOfBag(n_rounds_plus, random_state=1)
    t_ours, res = timed(
        lambda: bootstrap_632_score(dt, X, y, method=".632+", mode="mlxtend", cv=cv)
    )
    if mlx is not None:
        t_ref, ref = timed(
            lambda: mlx.bootstrap_point632_score(
                dt, X, y, n_splits=n_rounds_plus, method=".632+", random_seed=1
            )
        )
        assert abs(np.mean(ref) - res.score) < 1e-12
        row(
            rows,
            f"bootstrap .632+ B={n_rounds_plus} mlxtend-mode",
            t_ours,
            t_ref,
            "O(n) vs O(n^2) no-information rate",
        )

    # 5x2cv F test, DT vs NB: fits dominate; ours stratifies and clones.
    nb = GaussianNB()
    t_ours, _ = timed(
        lambda: compare_estimators(dt, nb, X, y, test="5x2cv_f", random_state=1), 3
    )
    t_par, _ = timed(
        lambda: compare_estimators(
            dt, nb, X, y, test="5x2cv_f", random_state=1, n_jobs=2
        ),
        3,
    )
    if mlx is not None:
        t_ref, _ = timed(
            lambda: mlx.combined_ftest_5x2cv(dt, nb, X, y, random_seed=1), 3
        )
        row(rows, "5x2cv F test DT vs NB, serial", t_ours, t_ref)
        row(
            rows,
            "5x2cv F test DT vs NB, n_jobs=2",
            t_par,
            t_ref,
            f"n_jobs=2 / serial = {t_par / t_ours:.2f}",
        )

    # S1: no-information rate of 0-1 loss.
    rng = np.random.RandomState(0)
    n_ref = 500 if args.quick else 1000
    yy, pp = rng.randint(0, 2, n_ref), rng.randint(0, 2, n_ref)
    classes, w = np.arange(2), np.ones(n_ref)
    t_ours, _ = timed(lambda: _no_information("accuracy", yy, pp, classes, w), 5)
    if mlx is not None:
        from mlxtend.evaluate.bootstrap_point632 import accuracy, no_information_rate

        t_ref, _ = timed(lambda: no_information_rate(yy, pp, accuracy))
        row(rows, f"S1 no-information rate n={n_ref}", t_ours, t_ref)
    big = rng.randint(0, 2, 10**6)
    t_big, _ = timed(
        lambda: _no_information("accuracy", big, big[::-1], classes, np.ones(10**6)), 3
    )
    row(rows, "S1 no-information rate n=1e6 (target < 50 ms)", t_big, None)

    # S2: Cochran's Q, n = 500, each model = y with 20 % flipped.
    y500 = rng.randint(0, 2, 500)
    for n_models in (8, 12) if not args.quick else (8,):
        preds = [np.where(rng.rand(500) < 0.2, 1 - y500, y500) for _ in range(n_models)]
        correct = np.column_stack([p == y500 for p in preds])
        t_ours, _ = timed(lambda: cochrans_q(correct), 5)
        if mlx is not None:
            t_ref, _ = timed(lambda: mlx.cochrans_q(y500, *preds))
            row(rows, f"S2 Cochran's Q L={n_models}", t_ours, t_ref)
    preds = [np.where(rng.rand(500) < 0.2, 1 - y500, y500) for _ in range(100)]
    correct = np.column_stack([p == y500 for p in preds])
    t_ours, _ = timed(lambda: cochrans_q(correct), 5)
    row(rows, "S2 Cochran's Q L=100 (target < 1 ms)", t_ours, None)

    # S3: DeLong at n = 1e5 (confidenceinterval: 0.337 s in the spec).
    y_big = rng.randint(0, 2, 10**5)
    score = 0.5 * y_big + rng.normal(size=10**5)
    t_ours, _ = timed(lambda: roc_auc_ci(y_big, score), 3)
    row(rows, "S3 DeLong CI n=1e5 (target <= 0.34 s)", t_ours, None)

    print(
        f"\nskreweight.model_selection vs mlxtend {getattr(mlx, '__name__', '-')}"
        f" ({'quick' if args.quick else 'full'} sizes)"
    )
    print(f"{'benchmark':<52} {'ours [s]':>10} {'mlxtend [s]':>12} {'ratio':>7}  note")
    for name, ours, anchor, note in rows:
        anchor_s = f"{anchor:12.4f}" if anchor is not None else f"{'-':>12}"
        ratio = f"{ours / anchor:7.3f}" if anchor else f"{'-':>7}"
        print(f"{name:<52} {ours:10.4f} {anchor_s} {ratio}  {note}")


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
