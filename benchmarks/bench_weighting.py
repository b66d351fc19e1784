"""Benchmark of skreweight.weighting: speed at scale and bias on simulations.

Sections (all in the same run, ours and the anchor side by side):

- ``kmm``: exact kernel mean matching at n=2,000 and n=5,000 (source and
  target rows each), our solver (``solver="fista"``: FISTA warm start, then
  active sets) against cvxpy + Clarabel (the anchor):
  wall time, ratio, squared MMD, ESS and peak memory (each fit in a fresh
  subprocess so that peak RSS is its own).
- ``eb``: entropy balancing on Nystroem features (rank 300, d=10) at
  n=200,000 and n=1,000,000 rows.
- ``ks``: Kang-Schafer simulation (n=1000), bias and RMSE of E[Y] (missing
  data reading) and of the ATE (causal reading, truth 0).
- ``mnar``: the MNAR ratings simulation (200 users x 150 items), bias and
  RMSE of the population mean rating.

Usage::

    python benchmarks/bench_weighting.py            # full sizes
    python benchmarks/bench_weighting.py --quick    # smaller, for a busy machine
    python benchmarks/bench_weighting.py --sections kmm,eb
"""

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings

import numpy as np


def _shifted_gaussians(n, d=10, seed=0):
    """Spec section 7.3 data: n target rows N(0, I), n source rows shifted."""
    rng = np.random.default_rng(seed)
    mu = np.zeros(d)
    mu[:3] = [0.6, -0.4, 0.3]
    sd = np.ones(d)
    sd[3] = 0.7
    X = np.vstack([rng.standard_normal((n, d)), rng.standard_normal((n, d)) * sd + mu])
    t = np.r_[np.zeros(n), np.ones(n)].astype(int)
    return X, t


def _peak_rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _worker(spec):
    """Run one timed fit in this (fresh) process and print a JSON line."""
    from skreweight.weighting import EntropyBalancing, KernelMeanMatching

    warnings.simplefilter("ignore")
    if spec["kind"] == "kmm":
        X, t = _shifted_gaussians(spec["n"])
        est = KernelMeanMatching(
            estimand="ATC",
            max_weight=10,
            eps=spec.get("eps", 0.01),
            solver=spec["solver"],
            random_state=0,
        )

        start = time.perf_counter()
        est.fit(X, t)
        elapsed = time.perf_counter() - start
        w = est.weights_[t == 1]
        out = {
            "time": elapsed,
            "mmd2": est.imbalance_,
            "qp": est._qp_imbalance,
            "ess": float(w.sum() ** 2 / (w @ w)),
            "iters": est.n_iter_,
            "max_w": float(w.max()),
        }
    else:
        n = spec["n"]
        X, t = _shifted_gaussians(n // 2)
        est = EntropyBalancing(
            estimand="ATC", features="nystroem", n_components=300, random_state=0
        )
        start = time.perf_counter()
        est.fit(X, t)
        elapsed = time.perf_counter() - start
        w = est.weights_[t == 1]
        out = {
            "time": elapsed,
            "iters": est.n_iter_,
            "converged": bool(est.converged_),
            "imbalance": est.imbalance_,
            "ess": float(w.sum() ** 2 / (w @ w)),
            "max_w": float(w.max()),
        }
    out["rss_gb"] = _peak_rss_gb()
    print(json.dumps(out))


def _run_worker(spec, timeout):
    cmd = [sys.executable, __file__, "--worker", json.dumps(spec)]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timeout>{timeout}s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": proc.stderr.strip().splitlines()[-1][:60]}
    return json.loads(lines[-1])


def bench_kmm(sizes, timeout):
    try:
        import cvxpy  # noqa: F401

        has_cvxpy = True
    except ImportError:
        has_cvxpy = False
    print(
        "\n== Exact KMM (B=10, eps=0.01, d=10): solver='fista' (ours: FISTA + "
        "active sets) vs cvxpy+Clarabel =="
    )
    print(
        "QP obj: the QP's objective (squared MMD of the weights before they are\n"
        "renormalised to sum to S), the quantity both solvers minimise; 'obj gap'\n"
        "is (ours - Clarabel) / Clarabel. MMD^2: after renormalising (reported)."
    )
    header = (
        f"{'n':>6} {'solver':>9} {'time s':>8} {'ratio':>6} {'iters':>6} "
        f"{'QP obj':>10} {'obj gap':>8} "
        f"{'MMD^2':>10} {'MMD^2 rel':>9} {'ESS':>7} {'peak RSS':>9}"
    )
    print(header)
    for n in sizes:
        fista = _run_worker({"kind": "kmm", "n": n, "solver": "fista"}, timeout)
        # The weights are renormalised to sum exactly to the group total, so
        # eps=0 solves for the reported weights directly.
        fista0 = _run_worker(
            {"kind": "kmm", "n": n, "solver": "fista", "eps": 0.0}, timeout
        )
        if has_cvxpy:
            clar = _run_worker({"kind": "kmm", "n": n, "solver": "clarabel"}, timeout)
        else:
            clar = {"error": "skipped: cvxpy not installed"}
        for name, res in (("clarabel", clar), ("fista", fista), ("fista e=0", fista0)):
            if "error" in res:
                print(f"{n:>6} {name:>9} {res['error']}")
                continue
            ratio = rel = gap = ""
            if name.startswith("fista") and "error" not in clar:
                ratio = f"{res['time'] / clar['time']:.2f}x"
                rel = f"{res['mmd2'] / clar['mmd2'] - 1:+.2%}"
                if name == "fista":  # same QP (eps) as Clarabel's
                    gap = f"{res['qp'] / clar['qp'] - 1:+.1e}"
            print(
                f"{n:>6} {name:>9} {res['time']:>8.1f} {ratio:>6} {res['iters']:>6} "
                f"{res['qp']:>10.4e} {gap:>8} "
                f"{res['mmd2']:>10.3e} {rel:>9} {res['ess']:>7.0f} "
                f"{res['rss_gb']:>7.2f}GB"
            )


def bench_eb(sizes, timeout):
    print("\n== Entropy balancing on Nystroem features (rank 300, d=10) ==")
    print(
        f"{'n rows':>9} {'time s':>8} {'iters':>6} {'converged':>9} "
        f"{'max|imb|':>9} {'ESS':>8} {'max w':>7} {'peak RSS':>9}"
    )
    for n in sizes:
        res = _run_worker({"kind": "eb", "n": n}, timeout)
        if "error" in res:
            print(f"{n:>9} {res['error']}")
            continue
        print(
            f"{n:>9} {res['time']:>8.1f} {res['iters']:>6} {res['converged']!s:>9} "
            f"{res['imbalance']:>9.1e} {res['ess']:>8.0f} {res['max_w']:>7.1f} "
            f"{res['rss_gb']:>7.2f}GB"
        )


def _summary(errors, ess=None):
    e = np.asarray(errors)
    out = f"{e.mean():+8.3f} {np.sqrt(np.mean(e**2)):8.3f}"
    if ess is not None:
        out += f" {np.mean(ess):7.0f}"
    return out


def bench_kang_schafer(n_seeds):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skreweight.datasets import make_kang_schafer
    from skreweight.weighting import (
        EntropyBalancing,
        KernelBalancing,
        KernelMeanMatching,
        PropensityWeights,
        dr_estimate,
    )

    print(f"\n== Kang-Schafer, n=1000, seeds 0-{n_seeds - 1} (misspecified X) ==")
    methods = {
        "naive (unweighted)": lambda s: None,
        "IPW logit(X), Hajek": lambda s: PropensityWeights(
            make_pipeline(StandardScaler(), LogisticRegression(C=1e12, max_iter=1000)),
            estimand="ATE",
            clip=1e-6,
        ),
        "IPW logit(X), clip .05": lambda s: PropensityWeights(
            make_pipeline(StandardScaler(), LogisticRegression(C=1e12, max_iter=1000)),
            estimand="ATE",
            clip=0.05,
        ),
        "EB means X": lambda s: EntropyBalancing(estimand="ATE"),
        "kernel EB (Nystroem 100)": lambda s: EntropyBalancing(
            estimand="ATE", features="nystroem", n_components=100, random_state=s
        ),
        "KMM B=10 eps=.01": lambda s: KernelMeanMatching(
            estimand="ATE", max_weight=10, eps=0.01, random_state=s
        ),
        "KernelBalancing worst 3x10": lambda s: KernelBalancing(
            estimand="ATE", random_state=s
        ),
    }
    mean_err = {k: [] for k in methods}
    ate_err = {k: [] for k in methods}
    ess = {k: [] for k in methods}
    times = dict.fromkeys(methods, 0.0)
    for seed in range(n_seeds):
        X, _, t, y, _ = make_kang_schafer(1000, random_state=seed)
        y_obs = np.where(t == 1, y, np.nan)
        for name, make in methods.items():
            est = make(seed)
            start = time.perf_counter()
            w = np.ones(len(t)) if est is None else est.fit_reweight(X, t)
            times[name] += time.perf_counter() - start
            mean_err[name].append(dr_estimate(y_obs, t, w) - 210)
            ate_err[name].append(dr_estimate(y, t, w, quantity="effect"))
            w1 = w[t == 1]
            ess[name].append(w1.sum() ** 2 / (w1 @ w1))
    print(
        f"{'method':28s} {'E[Y] bias':>8} {'RMSE':>8} {'ESS1':>7}   "
        f"{'ATE bias':>8} {'RMSE':>8}  {'s/fit':>6}"
    )
    for name in methods:
        print(
            f"{name:28s} {_summary(mean_err[name], ess[name])}   "
            f"{_summary(ate_err[name])}  {times[name] / n_seeds:6.2f}"
        )


def bench_mnar(n_seeds):
    from sklearn.linear_model import Ridge

    from skreweight.datasets import make_mnar_ratings
    from skreweight.weighting import (
        EntropyBalancing,
        KernelBalancing,
        PropensityWeights,
        dr_estimate,
    )

    print(
        f"\n== MNAR ratings 200x150, mnar_strength=0.5, seeds 0-{n_seeds - 1}: "
        "population mean rating =="
    )
    names = [
        "naive observed mean",
        "oracle IPW (true p)",
        "logistic IPW on X",
        "EB means",
        "kernel EB (Nystroem 200)",
        "KernelBalancing random",
        "KernelBalancing worst",
        "KernelBalancing adaptive",
        "AKB-DR (dr_estimate)",
    ]
    err = {k: [] for k in names}
    ess = {k: [] for k in names}
    times = dict.fromkeys(names, 0.0)
    for seed in range(n_seeds):
        X, r, o, p, _ = make_mnar_ratings(random_state=seed)
        truth = r.mean()
        obs = o == 1
        r_obs = np.where(obs, r, np.nan)
        ridge = Ridge(alpha=1.0).fit(X[obs], r[obs])
        r_hat = ridge.predict(X)
        resid = np.where(obs, r - r_hat, np.nan)
        fits = {
            "naive observed mean": lambda: np.where(obs, 1.0, 0.0),
            "oracle IPW (true p)": lambda: np.where(obs, 1 / p, 0.0),
            "logistic IPW on X": lambda: PropensityWeights(estimand="ATE").fit_reweight(
                X, o
            ),
            "EB means": lambda: EntropyBalancing(estimand="ATE").fit_reweight(X, o),
            "kernel EB (Nystroem 200)": lambda: EntropyBalancing(
                estimand="ATE", features="nystroem", n_components=200, random_state=seed
            ).fit_reweight(X, o),
            "KernelBalancing random": lambda: KernelBalancing(
                estimand="ATE", centers="random", random_state=seed
            ).fit_reweight(X, o),
            "KernelBalancing worst": lambda: KernelBalancing(
                estimand="ATE", centers="worst", random_state=seed
            ).fit_reweight(X, o),
            "KernelBalancing adaptive": lambda: KernelBalancing(
                estimand="ATE", centers="adaptive", random_state=seed
            ).fit_reweight(X, o, residual=r_obs),
            "AKB-DR (dr_estimate)": lambda: KernelBalancing(
                estimand="ATE", centers="adaptive", random_state=seed
            ).fit_reweight(X, o, residual=resid),
        }
        for name in names:
            start = time.perf_counter()
            w = fits[name]()
            times[name] += time.perf_counter() - start
            y_pred = r_hat if name.startswith("AKB-DR") else None
            err[name].append(dr_estimate(r_obs, o, w, y_pred=y_pred) - truth)
            w1 = w[obs]
            ess[name].append(w1.sum() ** 2 / (w1 @ w1))
    print(f"{'method':28s} {'bias':>8} {'RMSE':>8} {'ESS':>7}  {'s/fit':>6}")
    for name in names:
        print(
            f"{name:28s} {_summary(err[name], ess[name])}  {times[name] / n_seeds:6.2f}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--sections", default="kmm,eb,ks,mnar")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=int, default=1800)
    args = parser.parse_args()
    if args.worker:
        _worker(json.loads(args.worker))
        return
    sections = args.sections.split(",")
    warnings.simplefilter("ignore")
    print(f"skreweight.weighting benchmark ({'quick' if args.quick else 'full'})")
    if "kmm" in sections:
        bench_kmm([1000, 2000] if args.quick else [2000, 5000], args.timeout)
    if "eb" in sections:
        bench_eb([200_000] if args.quick else [200_000, 1_000_000], args.timeout)
    if "ks" in sections:
        bench_kang_schafer(20 if args.quick else 100)
    if "mnar" in sections:
        bench_mnar(3 if args.quick else 20)


if __name__ == "__main__":
    main()
