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
3. ``ConformalQuantileRegressor`` (split, 5 HGB levels, coverages 0.8 and
   0.95): calibration overhead, i.e. the model's predictions of the 25%
   calibration rows (plus the crossing repair), relative to fitting the model
   on the other 75% (goal <= 0.05x). Nearly all of it is walking the boosted
   trees (the level models bin the rows once, and walk them in an order where
   neighbours take the same branches; same numbers as HGB's own predict).
   The default ``monotonic="sort"`` needs every level (sorting mixes them);
   an info row times ``monotonic=None`` (model and wrapper), where only the 4
   levels of the pairs are predicted;
4. held-out WIS of the aggregate against the best base on 5 problems, the
   mean ratio over ``--repeats`` random train/test splits (seeds 10, 11, ...;
   the default ``weighting="auto"`` was designed on seeds 0-4), for every
   weighting, ``"auto"`` with ``refit=False``, and ``"local"`` when torch is
   installed.

With ``--quick`` the LP is timed on the in-sample predictions of the bases
fitted once (same shape and size as the out-of-fold predictions) instead of a
full cross-fitted ``fit``, and the boosting models use 30 iterations.

All fits run single-threaded (``threadpool_limits(1)``, ``n_jobs=1``) so the
ratios compare like with like on a shared machine.

Usage::

    .venv/bin/python benchmarks/bench_quantile.py           # issue sizes (slow)
    .venv/bin/python benchmarks/bench_quantile.py --quick   # small sizes
    # issue sizes, LPs timed on in-sample predictions (no full cross-fit):
    .venv/bin/python benchmarks/bench_quantile.py --only aggregator \\
        --only conformal --lp-only
    .venv/bin/python benchmarks/bench_quantile.py --quality-only --repeats 8
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


def bench_aggregator(n, max_iter, full_fit, rows, gate=True):
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
    for weighting in ("global", "quantile", "qra"):
        (w, _), w_lp, c_lp = timed(
            lambda: agg._solve_weights(oof, y, levels, None, weighting)
        )
        emit(
            rows,
            f"QuantileAggregator LP '{weighting}', 3 bases, {m} lv, n={n}",
            f"{w_lp:.2f} / {c_lp:.2f}",
            f"bases fit once: {w_base:.2f} / {c_base:.2f}",
            f"{c_lp / c_base:.3f}",
            "<= 0.25" if weighting != "qra" else "(info)",
            f"weights at median: {_mid(w, m)}",
        )
    agg.set_params(weighting="auto")
    scores, w_sel, c_sel = timed(lambda: agg._score_candidates(oof, y, levels, None))
    emit(
        rows,
        f"QuantileAggregator 'auto' inner CV (3 candidates), n={n}",
        f"{w_sel:.2f} / {c_sel:.2f}",
        f"bases fit once: {w_base:.2f} / {c_base:.2f}",
        f"{c_sel / c_base:.3f}",
        "(info)",
        f"picks {min(scores, key=scores.get)}; plus the chosen LP above",
    )
    if HAS_TORCH and gate:
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
    elif gate:
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
    # No crossing repair: the wrapper predicts only the levels of the pairs.
    raw = ConformalQuantileRegressor(
        clone(model).set_params(monotonic=None),
        coverage=[0.8, 0.95],
        monotonic=None,
        random_state=0,
    ).fit(X, y)
    _, w_raw, c_raw = timed(lambda: raw._pair_predictions(raw.estimator_, X[cal]))
    emit(
        rows,
        f"  same, monotonic=None (4 of 5 levels), n={n}",
        f"{w_raw:.2f} / {c_raw:.2f}",
        f"model fit: {w_base:.2f} / {c_base:.2f}",
        f"{c_raw / c_base:.3f}",
        "(info)",
        f"{raw.n_calibration_} calibration rows",
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


def _variant(agg, weighting, y, X=None, estimators=None):
    """The aggregator with another weighting (or bases) on the same OOF rows."""
    other = copy.copy(agg)
    other.weighting = other.weighting_ = weighting
    if estimators is not None:
        other.estimators_ = estimators
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
    elif weighting != agg.weighting_:
        other.weights_, other.intercept_ = other._solve_weights(
            agg.oof_predictions_, y, agg.quantiles_, None, weighting
        )
    return other


QUALITY_COLUMNS = (
    ("average", "average"),
    ("median", "median"),
    ("qra", "qra"),
    ("global", "global"),
    ("quant.", "quantile"),
    ("auto", "auto"),
    ("auto-cf", "auto, refit=False"),
    ("local", "local"),
)


def bench_quality(n, n_repeats):
    """Held-out WIS over ``n_repeats`` random splits per problem.

    Every method is decided without the test rows: the default
    ``weighting="auto"`` picks global, per-quantile or QRA weights by an inner
    cross-validation of the out-of-fold predictions. The split seeds (10, 11,
    ...) differ from the seeds 0-4 used while designing ``"auto"``.
    """
    levels = np.round(np.arange(1, 10) / 10, 10)
    lines, picks = [], []
    wins = dict.fromkeys([key for _, key in QUALITY_COLUMNS], 0)
    for name, X, y in problems(n):
        ratios, base_ratios, chosen = [], [], []
        for rep in range(n_repeats):
            seed = 10 + rep
            X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=seed)
            bases = [
                ("hgb", hgb(max_iter=100, learning_rate=0.1, min_samples_leaf=20)),
                ("hgb_shallow", hgb(max_leaf_nodes=4, max_iter=100)),
                ("linear", LinearResidualQuantiles()),
            ]
            # One cross-fit serves both predictions: refit=False keeps the
            # fold models, the refitted bases are fitted once here.
            cross = QuantileAggregator(bases, levels, refit=False, random_state=seed)
            cross.fit(X_tr, y_tr)
            refitted = [_prepared(est, levels).fit(X_tr, y_tr) for _, est in bases]
            agg = _variant(cross, cross.weighting_, y_tr, estimators=refitted)
            chosen.append(cross.weighting_)
            base_pred = agg.predict_bases(X_te)
            base_wis = [
                weighted_interval_score(y_te, np.sort(pred, axis=1), levels).mean()
                for pred in base_pred.transpose(1, 0, 2)
            ]
            best = min(base_wis)
            res = {"auto": -agg.score(X_te, y_te)}
            res["auto, refit=False"] = -cross.score(X_te, y_te)
            for weighting in ("average", "median", "qra", "global", "quantile"):
                res[weighting] = -_variant(agg, weighting, y_tr).score(X_te, y_te)
            res["local"] = np.nan
            if HAS_TORCH:
                res["local"] = -_variant(agg, "local", y_tr, X_tr).score(X_te, y_te)
            ratios.append({k: v / best for k, v in res.items()})
            base_ratios.append([b / best for b in base_wis])
        mean = {k: np.mean([r[k] for r in ratios]) for k in ratios[0]}
        won = {k: np.mean([r[k] <= 1 for r in ratios]) for k in ratios[0]}
        for key in wins:
            wins[key] += mean[key] <= 1
        lines.append(
            f"{name:<27}"
            + " ".join(f"{b:7.3f}" for b in np.mean(base_ratios, axis=0))
            + " "
            + " ".join(f"{mean[key]:7.3f}" for _, key in QUALITY_COLUMNS)
        )
        lines.append(
            f"{'  (share of splits <= 1)':<51}"
            + " ".join(f"{won[key]:7.2f}" for _, key in QUALITY_COLUMNS)
        )
        counts = {w: chosen.count(w) for w in dict.fromkeys(chosen)}
        picks.append(f"{name}: {counts}")
    print(
        f"\nHeld-out WIS / best sorted base's WIS, mean over {n_repeats} random "
        f"25% test splits (seeds 10..{9 + n_repeats}), 9 levels 0.1..0.9, n={n} "
        "(diabetes: 442); aggregates sorted; lower is better"
    )
    print(
        f"{'problem':<27}{'hgb':>7} {'hgb_sh':>7} {'linear':>7} "
        + " ".join(f"{label:>7}" for label, _ in QUALITY_COLUMNS)
    )
    print("\n".join(lines))
    print("weighting chosen by 'auto' (inner CV on out-of-fold predictions):")
    print("  " + "\n  ".join(picks))
    for label, key in QUALITY_COLUMNS:
        if key == "local" and not HAS_TORCH:
            continue
        goal = "  (goal: >= 4)" if key == "auto" else ""
        print(f"'{label}': mean WIS <= best base on {wins[key]} of 5 problems{goal}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument(
        "--quality-only", action="store_true", help="only the held-out WIS table"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=["multi", "aggregator", "conformal", "quality"],
        help="run only these sections (repeatable)",
    )
    parser.add_argument(
        "--lp-only",
        action="store_true",
        help="time the weight LPs on in-sample base predictions, without the "
        "full cross-fitted fit and the torch gate",
    )
    parser.add_argument(
        "--repeats", type=int, default=8, help="random splits per problem (WIS)"
    )
    parser.add_argument(
        "--n-quality", type=int, default=1_500, help="rows of the WIS problems"
    )
    args = parser.parse_args()
    if args.quick:
        n_multi, n_agg, n_conf, max_iter = 2_000, 20_000, 20_000, 30
    else:
        n_multi, n_agg, n_conf, max_iter = 50_000, 50_000, 50_000, 100
    rows = []
    print("times: wall s / CPU s, single-threaded, same run; ratio = CPU ratio")
    head = ("case", "ours", "reference", "ratio", "goal", "notes")
    print("  ".join(h.ljust(w) for h, w in zip(head, WIDTHS + (0,))), flush=True)
    with threadpool_limits(1):
        sections = set(args.only or ["multi", "aggregator", "conformal", "quality"])
        if args.quality_only:
            sections = {"quality"}
        if "multi" in sections:
            bench_multi(n_multi, max_iter, rows)
        if "aggregator" in sections:
            full_fit = not (args.quick or args.lp_only)
            bench_aggregator(n_agg, max_iter, full_fit, rows, gate=not args.lp_only)
        if "conformal" in sections:
            bench_conformal(n_conf, max_iter, rows)
        if "quality" in sections:
            bench_quality(args.n_quality, args.repeats)


if __name__ == "__main__":
    main()
