"""Benchmark of skreweight.quantile.

Times, in the same run:

1. ``MultiQuantileRegressor(HistGradientBoostingRegressor(loss="quantile"))``
   at 9 and 99 levels against fitting the same models in a plain loop
   (predictions must be identical);
2. ``QuantileAggregator`` (3 bases, 99 levels): the weight solve (global and
   per-quantile LPs) relative to one fit of the base models (goal <= 0.25x),
   and the whole cross-fitted ``fit``; the ``weighting="local"`` gate (torch,
   CPU, one thread, default ``local_params``) trained on the same predictions
   (skipped when torch is not installed);
3. ``ConformalQuantileRegressor`` (split): calibration overhead relative to
   fitting the model (goal <= 0.05x);
4. held-out WIS of the aggregate against the best base on 5 problems (with a
   ``"local"`` column when torch is installed).

With ``--quick`` the LP is timed on the in-sample predictions of the bases
fitted once (same shape and size as the out-of-fold predictions) instead of a
full cross-fitted ``fit``, and the boosting models use 30 iterations.

All fits run single-threaded (``threadpool_limits(1)``, ``n_jobs=1``) so the
ratios compare like with like on a shared machine.

Usage::

    .venv/bin/python benchmarks/bench_quantile.py           # issue sizes (slow)
    .venv/bin/python benchmarks/bench_quantile.py --quick   # small sizes
"""

import argparse
import copy
import importlib.util
import time

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.datasets import load_diabetes, make_friedman1, make_friedman2
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from skreweight.quantile import (
    ConformalQuantileRegressor,
    MultiQuantileRegressor,
    QuantileAggregator,
    crossing_rate,
    interval_coverage,
    weighted_interval_score,
)
from skreweight.quantile._local import (
    check_local_params,
    fit_local_gate,
    gate_features,
)

HAS_TORCH = importlib.util.find_spec("torch") is not None
LOCAL = {"num_threads": 1}


def make_data(n, d=20, seed=0):
    """Spec 11.3 problem: heteroscedastic, heavy-tailed noise."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    noise = rng.standard_t(5, n)
    y = X[:, 0] + np.sin(2 * X[:, 1]) + 0.5 * X[:, 2] * X[:, 3]
    return X, y + (0.5 + np.abs(X[:, 4])) * noise


class LinearResidualQuantiles(RegressorMixin, BaseEstimator):
    """Cheap multi-level base: least squares plus residual quantiles."""

    def __init__(self, quantiles=(0.1, 0.5, 0.9)):
        self.quantiles = quantiles

    def fit(self, X, y, sample_weight=None):
        X1 = np.column_stack([np.ones(len(X)), X])
        self.coef_ = np.linalg.lstsq(X1, y, rcond=None)[0]
        self.offsets_ = np.quantile(y - X1 @ self.coef_, self.quantiles)
        return self

    def predict(self, X):
        X1 = np.column_stack([np.ones(len(X)), X])
        return (X1 @ self.coef_)[:, None] + self.offsets_


WIDTHS = (50, 16, 28, 7, 11)


def emit(rows, *row):
    rows.append(row)
    print("  ".join(str(c).ljust(w) for c, w in zip(row, WIDTHS + (0,))), flush=True)


def timed(func):
    wall, cpu = time.perf_counter(), time.process_time()
    out = func()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def hgb(**kw):
    params = {"loss": "quantile", "max_iter": 100, "early_stopping": False}
    params.update(random_state=0, **kw)
    return HistGradientBoostingRegressor(**params)


def bench_multi(n, max_iter, rows):
    X, y = make_data(n)
    for m in (9, 99):
        levels = np.round(np.arange(1, m + 1) / (m + 1), 10)
        base = hgb(max_iter=max_iter)
        model = MultiQuantileRegressor(base, levels, monotonic=None, n_jobs=1)
        _, w_ours, c_ours = timed(lambda: model.fit(X, y))

        def loop():
            return [clone(base).set_params(quantile=t).fit(X, y) for t in levels]

        models, w_loop, c_loop = timed(loop)
        same = np.array_equal(
            model.predict(X[:500]),
            np.column_stack([mod.predict(X[:500]) for mod in models]),
        )
        emit(
            rows,
            f"MultiQuantileRegressor(HGBR {max_iter} it), {m} lv, n={n}",
            f"{w_ours:.2f} / {c_ours:.2f}",
            f"loop: {w_loop:.2f} / {c_loop:.2f}",
            f"{c_ours / c_loop:.3f}",
            "<= 1.05",
            f"identical={same}",
        )


def bench_aggregator(n, max_iter, full_fit, rows):
    m = 99
    levels = np.round(np.arange(1, m + 1) / (m + 1), 10)
    X, y = make_data(n)
    bases = [
        ("hgb_deep", hgb(max_iter=max_iter)),
        ("hgb_shallow", hgb(max_leaf_nodes=7, learning_rate=0.2, max_iter=max_iter)),
        ("linear", LinearResidualQuantiles()),
    ]
    fitted, w_base, c_base = timed(
        lambda: [_prepared(est, levels).fit(X, y) for _, est in bases]
    )
    agg = QuantileAggregator(bases, levels, weighting="quantile", random_state=0)
    if full_fit:
        _, w_fit, c_fit = timed(lambda: agg.fit(X, y))
        oof = agg.oof_predictions_
    else:
        # Stand-in for the out-of-fold predictions (same shape and cost for
        # the LP): the in-sample predictions of the bases fitted once.
        oof = np.stack([est.predict(X) for est in fitted], axis=1)
    for weighting in ("global", "quantile"):
        agg.set_params(weighting=weighting)
        (w, _), w_lp, c_lp = timed(lambda: agg._solve_weights(oof, y, levels, None))
        emit(
            rows,
            f"QuantileAggregator LP '{weighting}', 3 bases, {m} lv, n={n}",
            f"{w_lp:.2f} / {c_lp:.2f}",
            f"bases fit once: {w_base:.2f} / {c_base:.2f}",
            f"{c_lp / c_base:.3f}",
            "<= 0.25",
            f"weights at median: {_mid(w, m)}",
        )
    if HAS_TORCH:
        params = check_local_params(LOCAL)
        gate, w_gate, c_gate = timed(
            lambda: fit_local_gate(gate_features(X), oof, y, levels, None, params, 0)
        )
        emit(
            rows,
            f"QuantileAggregator 'local' gate (torch CPU), 3 bases, {m} lv, n={n}",
            f"{w_gate:.2f} / {c_gate:.2f}",
            f"bases fit once: {w_base:.2f} / {c_base:.2f}",
            f"{c_gate / c_base:.3f}",
            "(info)",
            f"{gate.n_iter_} epochs; mean weights at median: "
            f"{_mid(gate.predict_weights(X).mean(axis=0), m)}",
        )
    else:
        emit(rows, "QuantileAggregator 'local' gate", "skipped: torch not installed")
    if full_fit:
        emit(
            rows,
            f"QuantileAggregator full fit (5-fold OOF + refit), n={n}",
            f"{w_fit:.2f} / {c_fit:.2f}",
            f"bases fit once: {w_base:.2f} / {c_base:.2f}",
            f"{c_fit / c_base:.3f}",
            "(info: ~6x)",
            "",
        )


def _mid(w, m):
    w = w if w.ndim == 1 else w[:, m // 2]
    return np.round(w, 2).tolist()


def _prepared(est, levels):
    if "quantiles" in est.get_params(deep=False):
        return clone(est).set_params(quantiles=list(levels))
    return MultiQuantileRegressor(clone(est), levels, monotonic=None)


def bench_conformal(n, max_iter, rows):
    X, y = make_data(n + 10_000)
    X_te, y_te = X[n:], y[n:]
    X, y = X[:n], y[:n]
    levels = [0.025, 0.1, 0.5, 0.9, 0.975]
    model = MultiQuantileRegressor(hgb(max_iter=max_iter), levels)
    cqr = ConformalQuantileRegressor(model, coverage=[0.8, 0.95], random_state=0)
    _, w_cqr, c_cqr = timed(lambda: cqr.fit(X, y))
    # The same model on the same training rows.
    perm = np.random.RandomState(0).permutation(n)
    train = np.sort(perm[int(np.floor(0.25 * n)) :])
    _, w_base, c_base = timed(lambda: clone(model).fit(X[train], y[train]))
    cal = np.sort(perm[: int(np.floor(0.25 * n))])
    _, w_cal, c_cal = timed(lambda: cqr._pair_predictions(cqr.estimator_, X[cal]))
    cov = interval_coverage(y_te, cqr.predict_interval(X_te, coverage=[0.8, 0.95]))
    emit(
        rows,
        f"ConformalQuantileRegressor split, 2 cov., n={n}",
        f"{w_cal:.2f} / {c_cal:.2f}",
        f"model fit: {w_base:.2f} / {c_base:.2f}",
        f"{c_cal / c_base:.3f}",
        "<= 0.05",
        f"CQR fit {c_cqr:.2f} CPU-s; test coverage {np.round(cov, 3).tolist()}",
    )


def problems(n):
    rng = np.random.RandomState(10)
    X = rng.randn(n, 5)
    yield "hetero (synthetic)", X, X[:, 0] + (0.5 + np.abs(X[:, 1])) * rng.randn(n)
    X, y = make_friedman1(n_samples=n, noise=1.0, random_state=0)
    yield "friedman1 (synthetic)", X, y
    X, y = make_friedman2(n_samples=n, noise=50.0, random_state=0)
    yield "friedman2 (synthetic)", X, y / 100
    rng = np.random.RandomState(3)
    X = rng.uniform(-3, 3, (n, 3))
    noise = rng.standard_t(4, n) * (0.2 + 0.3 * np.abs(X[:, 2]))
    yield "sine, t4 noise (synthetic)", X, np.sin(2 * X[:, 0]) + 0.3 * X[:, 1] + noise
    X, y = load_diabetes(return_X_y=True)
    yield "diabetes (sklearn)", X, (y - y.mean()) / y.std()


def _variant(agg, weighting, y, X=None):
    """The aggregator refitted with another weighting on the same OOF/bases."""
    other = copy.copy(agg)
    other.weighting = weighting
    if weighting == "local":
        other.weight_gate_ = fit_local_gate(
            gate_features(X),
            agg.oof_predictions_,
            y,
            agg.quantiles_,
            None,
            check_local_params(LOCAL),
            0,
        )
    elif weighting in ("average", "median"):
        other.weights_ = np.full(3, 1 / 3) if weighting == "average" else None
        other.intercept_ = np.zeros(agg.quantiles_.size)
    else:
        other.weights_, other.intercept_ = other._solve_weights(
            agg.oof_predictions_, y, agg.quantiles_, None
        )
    return other


def bench_quality(n):
    levels = np.round(np.arange(1, 10) / 10, 10)
    lines = []
    wins = wins_local = 0
    for name, X, y in problems(n):
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=0)
        bases = [
            ("hgb", hgb(max_iter=100, learning_rate=0.1, min_samples_leaf=20)),
            ("hgb_shallow", hgb(max_leaf_nodes=4, max_iter=100)),
            ("linear", LinearResidualQuantiles()),
        ]
        agg = QuantileAggregator(bases, levels, random_state=0).fit(X_tr, y_tr)
        base_pred = agg.predict_bases(X_te)
        base_wis = [
            weighted_interval_score(y_te, np.sort(pred, axis=1), levels).mean()
            for pred in base_pred.transpose(1, 0, 2)
        ]
        res = {"quantile": -agg.score(X_te, y_te)}
        for weighting in ("global", "average", "median", "qra"):
            res[weighting] = -_variant(agg, weighting, y_tr).score(X_te, y_te)
        res["local"] = np.nan
        if HAS_TORCH:
            local = _variant(agg, "local", y_tr, X_tr)
            res["local"] = -local.score(X_te, y_te)
        best = min(base_wis)
        wins += res["quantile"] <= best
        wins_local += res["local"] <= best
        cross = crossing_rate(base_pred[:, 0])[0]
        lines.append(
            f"{name:<27}"
            + " ".join(f"{b / best:7.3f}" for b in base_wis)
            + " "
            + " ".join(
                f"{res[k] / best:7.3f}"
                for k in ("average", "median", "qra", "global", "quantile", "local")
            )
            + f"  {best:8.3f}  {cross:.3f}"
        )
    print(
        "\nHeld-out WIS / best sorted base's WIS (lower is better), 9 levels "
        f"0.1..0.9, n={n} (diabetes: 442), 25% test; aggregates sorted"
    )
    print(
        f"{'problem':<27}{'hgb':>7} {'hgb_sh':>7} {'linear':>7} {'average':>7} "
        f"{'median':>7} {'qra':>7} {'global':>7} {'quant.':>7} {'local':>7}"
        "  best WIS  hgb cross"
    )
    print("\n".join(lines))
    print(f"aggregate ('quantile') <= best base on {wins} of 5 problems (goal: >= 4)")
    if HAS_TORCH:
        print(f"aggregate ('local') <= best base on {wins_local} of 5 problems")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    args = parser.parse_args()
    if args.quick:
        n_multi, n_agg, n_conf, n_quality, max_iter = 2_000, 20_000, 20_000, 1_500, 30
    else:
        n_multi, n_agg, n_conf, n_quality, max_iter = 50_000, 50_000, 50_000, 5_000, 100
    rows = []
    print("times: wall s / CPU s, single-threaded, same run; ratio = CPU ratio")
    head = ("case", "ours", "reference", "ratio", "goal", "notes")
    print("  ".join(h.ljust(w) for h, w in zip(head, WIDTHS + (0,))), flush=True)
    with threadpool_limits(1):
        bench_multi(n_multi, max_iter, rows)
        bench_aggregator(n_agg, max_iter, not args.quick, rows)
        bench_conformal(n_conf, max_iter, rows)
        bench_quality(n_quality)


if __name__ == "__main__":
    main()
