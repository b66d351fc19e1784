"""Time skreweight's over-samplers against imbalanced-learn's, in one run.

Usage::

    .venv/bin/python benchmarks/bench_over_sampling.py            # quick sizes
    .venv/bin/python benchmarks/bench_over_sampling.py --full     # issue sizes
    .venv/bin/python benchmarks/bench_over_sampling.py --repeats 5 --only SMOTE

Data: ``make_classification(n_informative=5, n_redundant=0,
n_clusters_per_class=1, flip_y=0, class_sep=1, random_state=0)`` with the
given minority share. Each cell is the median wall time of ``--repeats`` runs
of ``fit_resample`` (``random_state=0``), each after a 0.3 s rest (so that no
run pays for the previous one's spinning threads); the ratio is ours /
imbalanced-learn's (< 1 means we are faster). ``rows`` gives the output size
of each library, which differs where imbalanced-learn misses the requested
counts.

``--quick`` (the default) runs the issue's three setups but with 3 repeats and
without the samplers that take minutes at that size on a 2-core machine
(SVMSMOTE at 200k x 20 with 10 % minority, whose imbalanced-learn SVC fit
takes ~45 s per run; ADASYN/Borderline at 200k x 20 with 10 %
minority, whose 20k x 200k neighbour query costs ~6 s per imbalanced-learn
run; SMOTEENN at 200k x 20 with 10 % minority, ~20 s per run).
``--setups 0,2`` runs only some of the three setups.

imbalanced-learn's SMOTETomek / SMOTEENN runs at 100k rows or more are made in
a child process and stopped after ``--anchor-timeout`` seconds (default 300):
they do not finish at 200k rows; the cell then reads ``>T`` and the ratio ``<ours/T``.
"""

import argparse
import multiprocessing
import time
from statistics import median

import numpy as np
from sklearn.datasets import make_classification

SAMPLERS = [
    "SMOTE",
    "ADASYN",
    "BorderlineSMOTE",
    "SVMSMOTE",
    "KMeansSMOTE",
    "SMOTETomek",
    "SMOTEENN",
]
# imbalanced-learn cells run in a child process stopped after --anchor-timeout
CAPPED = {"SMOTETomek", "SMOTEENN"}
PARAMS = {"KMeansSMOTE": {"cluster_balance_threshold": 0.0}}

# (label, n_samples, n_features, minority share, samplers in quick mode)
SETUPS = [
    (
        "200k x 20, 1%",
        200_000,
        20,
        0.01,
        SAMPLERS,
    ),
    (
        "200k x 20, 10%",
        200_000,
        20,
        0.10,
        ["SMOTE", "KMeansSMOTE", "SMOTETomek"],
    ),
    (
        "20k x 200, 1%",
        20_000,
        200,
        0.01,
        [
            "SMOTE",
            "ADASYN",
            "BorderlineSMOTE",
            "SVMSMOTE",
            "KMeansSMOTE",
            "SMOTETomek",
            "SMOTEENN",
        ],
    ),
]


def _data(n, d, share):
    return make_classification(
        n_samples=n,
        n_features=d,
        n_informative=5,
        n_redundant=0,
        n_clusters_per_class=1,
        weights=[1 - share],
        flip_y=0.0,
        class_sep=1.0,
        random_state=0,
    )


def _lib_class(lib, name):
    if lib == "ours":
        import skreweight.over_sampling as module

        return getattr(module, name, None)
    if name in ("SMOTETomek", "SMOTEENN"):
        import imblearn.combine as module
    else:
        import imblearn.over_sampling as module
    return getattr(module, name, None)


# Seconds of rest before each timed run (not timed): OpenBLAS / OpenMP threads
# spin for a while after parallel work and slow whatever threaded code follows.
_SETTLE = 0.3


def _time(cls, X, y, params, repeats, budget):
    times, rows = [], None
    for _ in range(repeats):
        time.sleep(_SETTLE)
        start = time.perf_counter()
        X_res, _ = cls(random_state=0, **params).fit_resample(X, y)
        times.append(time.perf_counter() - start)
        rows = X_res.shape[0]
        if sum(times) > budget:
            break
    return median(times), rows, len(times)


def _time_child(cls, X, y, params, repeats, budget, queue):
    queue.put(_time(cls, X, y, params, repeats, budget))


def _time_capped(cls, X, y, params, repeats, budget, timeout):
    """``_time`` in a forked child, stopped after ``timeout`` seconds (None)."""
    if timeout is None:
        return _time(cls, X, y, params, repeats, budget)
    # "spawn": OpenMP thread pools do not survive a fork
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(
        target=_time_child, args=(cls, X, y, params, repeats, budget, queue)
    )
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join()
        return None
    return queue.get()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="all samplers, sizes")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--only", default=None, help="comma-separated samplers")
    parser.add_argument(
        "--setups",
        default=None,
        help="comma-separated setup numbers to run (0: 200k x 20 1%%, "
        "1: 200k x 20 10%%, 2: 20k x 200 1%%); default all",
    )
    parser.add_argument(
        "--budget", type=float, default=120.0, help="seconds per cell before stopping"
    )
    parser.add_argument(
        "--anchor-timeout",
        type=float,
        default=300.0,
        help="seconds before an imbalanced-learn cell is stopped",
    )
    args = parser.parse_args()
    repeats = args.repeats or (5 if args.full else 3)
    only = set(args.only.split(",")) if args.only else None

    header = (
        f"{'setup':<16} {'sampler':<16} {'ours (s)':>9} {'imblearn (s)':>12} "
        f"{'ratio':>6} {'runs':>5} {'rows ours':>10} {'rows imblearn':>13}"
    )
    print(header)
    print("-" * len(header))
    setups = [SETUPS[int(i)] for i in args.setups.split(",")] if args.setups else SETUPS
    for label, n, d, share, quick in setups:
        X, y = _data(n, d, share)
        for name in SAMPLERS if args.full else quick:
            if only is not None and name not in only:
                continue
            params = PARAMS.get(name, {})
            ours = _lib_class("ours", name)
            if ours is None:
                print(f"{label:<16} {name:<16} skipped: not implemented in skreweight")
                continue
            t_o, r_o, k_o = _time(ours, X, y, params, repeats, args.budget)
            capped = name in CAPPED and n >= 100_000
            anchor = _time_capped(
                _lib_class("imblearn", name),
                X,
                y,
                params,
                repeats,
                args.budget,
                args.anchor_timeout if capped else None,
            )
            if anchor is None:
                cap = f">{args.anchor_timeout:.0f}"
                bound = f"<{t_o / args.anchor_timeout:.2f}"
                print(
                    f"{label:<16} {name:<16} {t_o:>9.2f} {cap:>12} "
                    f"{bound:>6} {k_o:>5} {r_o:>10} "
                    f"{'n/a':>13}",
                    flush=True,
                )
                continue
            t_i, r_i, k_i = anchor
            print(
                f"{label:<16} {name:<16} {t_o:>9.2f} {t_i:>12.2f} {t_o / t_i:>6.2f} "
                f"{min(k_o, k_i):>5} {r_o:>10} {r_i:>13}",
                flush=True,
            )
        del X, y
    print(
        "\nratio = ours / imbalanced-learn (median wall time); "
        f"numpy {np.__version__}; runs = repeats actually timed."
    )


if __name__ == "__main__":
    main()
