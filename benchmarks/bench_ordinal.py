"""Benchmark of skreweight.ordinal.

1. The sparse-differences simulation of Faletto & Bien (ICML 2023, Sec. 4.1):
   n=2500, p=10, K=4, intercepts (0, 3.5, 5.5), dev_prob=1/2; median
   rare-class probability MSE (on the training rows) of PRESTOCV, the
   proportional-odds MLE and logistic regression of the rare class, with the
   median paired ratios (paper: about 0.56 vs Logit and 0.77 vs PO).
2. Speed on n=100,000, p=50, K=5: ProportionalOdds vs mord LogisticAT(alpha=0)
   and statsmodels OrderedModel (lbfgs), one PRESTO fit at 0.1 * alpha_max,
   and PRESTOCV (20 alphas x 5 folds), timed in the same run.

Run ``python benchmarks/bench_ordinal.py`` (``--reps``, ``--quick`` for a short
run, ``--skip-speed`` / ``--skip-sim``). Wall-clock and CPU seconds are both
printed because the shared machine is noisy.
"""

import argparse
import time
import warnings

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from skreweight.ordinal import PRESTO, PRESTOCV, ProportionalOdds


def make_sparse_differences(rng, n=2500, p=10, intercepts=(0.0, 3.5, 5.5), pi=0.5):
    """The paper's DGP, in its own convention P(y <= k) = expit(a_k + x @ b_k).

    Returns X, y (0..K-1) and the true probability of the rare top class.
    """
    intercepts = np.asarray(intercepts)
    K = intercepts.size + 1
    for _ in range(100):
        beta = np.empty((K - 1, p))
        beta[0] = 0.5 * (rng.random(p) < pi)
        for k in range(1, K - 1):
            step = 0.5 * rng.choice([-1.0, 1.0], size=p) * (rng.random(p) < pi)
            beta[k] = beta[k - 1] + step
        for _ in range(10):
            X = rng.uniform(-1, 1, size=(n, p))
            cum = expit(intercepts + X @ beta.T)
            cum = np.hstack([np.zeros((n, 1)), cum, np.ones((n, 1))])
            P = np.diff(cum, axis=1)
            if np.any(P < 0) or np.any(P > 1):
                break
            u = rng.random(n)
            y = (u[:, None] > np.cumsum(P, axis=1)[:, :-1]).sum(axis=1)
            if np.unique(y).size == K:
                return X, y, P[:, -1]
    raise RuntimeError("no valid draw")


def simulation(reps, seed):
    rng = np.random.default_rng(seed)
    mse = {"PRESTO": [], "PO": [], "Logit": []}
    rare, alphas, times = [], [], []
    for r in range(reps):
        X, y, p_true = make_sparse_differences(rng)
        t0 = time.perf_counter()
        presto = PRESTOCV(alphas=20, eps=1e-2, cv=5).fit(X, y)
        times.append(time.perf_counter() - t0)
        po = ProportionalOdds().fit(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logit = LogisticRegression(C=np.inf, max_iter=10_000).fit(X, y == 3)
        preds = {
            "PRESTO": presto.predict_proba(X)[:, -1],
            "PO": po.predict_proba(X)[:, -1],
            "Logit": logit.predict_proba(X)[:, 1],
        }
        for name, pred in preds.items():
            mse[name].append(np.mean((pred - p_true) ** 2))
        rare.append(np.mean(y == 3))
        alphas.append(presto.alpha_)
        print(
            f"  rep {r + 1:3d}/{reps}: MSE PRESTO {mse['PRESTO'][-1]:.2e}  "
            f"PO {mse['PO'][-1]:.2e}  Logit {mse['Logit'][-1]:.2e}  "
            f"PRESTOCV {times[-1]:.1f}s",
            flush=True,
        )
    mse = {k: np.array(v) for k, v in mse.items()}
    print()
    print(f"Sparse differences (pi=1/2, intercepts (0, 3.5, 5.5)), {reps} replications")
    print(
        f"mean rare-class share {np.mean(rare):.4%}; median alpha_ "
        f"{np.median(alphas):.2e}; PRESTOCV median fit {np.median(times):.2f} s"
    )
    print(f"{'method':<8} {'median MSE':>12} {'mean MSE':>12}  paper median")
    paper = {"PRESTO": 3.67e-5, "Logit": 6.88e-5, "PO": 5.06e-5}
    for name in ["PRESTO", "PO", "Logit"]:
        print(
            f"{name:<8} {np.median(mse[name]):12.3e} {np.mean(mse[name]):12.3e}"
            f"  {paper[name]:.2e}"
        )
    print(f"{'ratio':<16} {'median':>8} {'PRESTO wins':>12}  paper")
    for other, ref in [("Logit", 0.556), ("PO", 0.766)]:
        ratio = mse["PRESTO"] / mse[other]
        print(
            f"PRESTO / {other:<7} {np.median(ratio):8.3f} "
            f"{np.mean(ratio < 1):12.0%}  {ref}"
        )


def _timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def speed(n, with_cv):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 50))
    beta = rng.normal(0, 0.3, 50) * (rng.random(50) < 0.5)
    theta = np.array([-1, 1, 2.5, 5])
    y = (rng.random(n)[:, None] > expit(theta[None, :] - (X @ beta)[:, None])).sum(1)
    rows = []

    po, wall, cpu = _timed(lambda: ProportionalOdds().fit(X, y))
    ref = wall, cpu
    rows.append(("ProportionalOdds", wall, cpu, np.abs(po.coef_[0] - beta).max()))
    try:
        import mord

        m, wall, cpu = _timed(lambda: mord.LogisticAT(alpha=0).fit(X, y))
        rows.append(
            ("mord LogisticAT(alpha=0)", wall, cpu, np.abs(m.coef_ - beta).max())
        )
    except ImportError:
        rows.append(("mord LogisticAT: skipped: not installed", np.nan, np.nan, np.nan))
    try:
        from statsmodels.miscmodels.ordinal_model import OrderedModel

        def sm_fit():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return OrderedModel(y, X, distr="logit").fit(
                    method="lbfgs", disp=False, skip_hessian=True, maxiter=1000
                )

        res, wall, cpu = _timed(sm_fit)
        rows.append(
            (
                "statsmodels OrderedModel lbfgs",
                wall,
                cpu,
                np.abs(res.params[:50] - beta).max(),
            )
        )
    except ImportError:
        rows.append(("statsmodels: skipped: not installed", np.nan, np.nan, np.nan))

    cv0 = PRESTOCV(alphas=2)
    cv0.fit(X[:2000], y[:2000])  # warm up imports
    from skreweight.ordinal._presto_cv import _alpha_max

    amax, _ = _alpha_max(X, y, np.ones(n), 5, True, True, 1e-8, 1000)
    pr, wall, cpu = _timed(lambda: PRESTO(alpha=0.1 * amax).fit(X, y))
    rows.append(
        (
            f"PRESTO alpha=0.1*alpha_max ({pr.n_iter_} it)",
            wall,
            cpu,
            np.abs(pr.coef_ - beta).max(),
        )
    )
    if with_cv:
        # n_jobs=1 shows the total CPU work (all in this process); n_jobs=2 is
        # the goal's setting (< 60 s wall on 2 cores).
        for n_jobs in (1, 2):
            cv, wall, cpu = _timed(
                lambda: PRESTOCV(alphas=20, cv=5, n_jobs=n_jobs).fit(X, y)
            )
            rows.append(
                (
                    f"PRESTOCV 20 alphas x 5 folds, n_jobs={n_jobs}",
                    wall,
                    cpu,
                    np.abs(cv.coef_ - beta).max(),
                )
            )

    print()
    print(f"Speed: n={n}, p=50, K=5 (alpha_max = {amax:.4f})")
    print(
        f"{'fit':<44} {'wall s':>8} {'CPU s':>8} {'wall/PO':>8} {'CPU/PO':>8}"
        f" {'max|coef-beta|':>15}"
    )
    for name, wall, cpu, err in rows:
        print(
            f"{name:<44} {wall:8.2f} {cpu:8.2f} {wall / ref[0]:8.2f}"
            f" {cpu / ref[1]:8.2f} {err:15.4f}"
        )
    print(
        "(CPU s counts this process only: with n_jobs=2 the joblib workers of "
        "PRESTOCV are not included)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=2390812)
    parser.add_argument("--n-speed", type=int, default=100_000)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="10 replications, n=20,000 for the speed part",
    )
    parser.add_argument("--skip-sim", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument(
        "--skip-cv-speed",
        action="store_true",
        help="do not time PRESTOCV on the large data",
    )
    args = parser.parse_args()
    if args.quick:
        args.reps, args.n_speed = 10, 20_000
    if not args.skip_speed:
        speed(args.n_speed, not args.skip_cv_speed)
    if not args.skip_sim:
        simulation(args.reps, args.seed)


if __name__ == "__main__":
    main()
