"""GPU checks and timings of skreweight.torch (one script, < 5 minutes on one GPU).

On a CUDA machine it

1. runs the GPU tests of ``tests/test_torch*.py`` (those skipped on CPU);
2. times the exact k-NN (``TorchNearestNeighbors``) against scikit-learn's brute
   ``NearestNeighbors`` on the same host at n=1,000,000, d=32, k=5 (goal >= 20x;
   scikit-learn is timed on a subset of the queries and extrapolated linearly,
   which is exact for brute force), and checks that both agree;
3. runs our ``SMOTE`` end-to-end on 10,000,000 rows with
   ``k_neighbors=TorchNearestNeighbors(device="cuda")``;
4. times one epoch of ``TorchClassifier`` with and without
   ``LossBasedReweighting`` (goal: overhead <= 5%);
5. checks ``kernel_matvec`` on the GPU against the CPU, two deterministic CUDA
   fits for bit-equality, and a CUDA-fitted model pickled and used on the CPU.

Without CUDA it prints a message and exits with status 0. ``--dry-run`` runs the
same code on the CPU at tiny sizes (to test the script itself).
Run: ``python benchmarks/gpu_check.py [--json out.json] [--dry-run]``.
"""

import argparse
import json
import pickle
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def _timed(func, *args, sync=None, **kwargs):
    tic = time.perf_counter()
    out = func(*args, **kwargs)
    if sync is not None:
        sync()
    return out, time.perf_counter() - tic


def check_tests(results):
    root = Path(__file__).resolve().parent.parent
    files = sorted(str(p) for p in (root / "tests").glob("test_torch*.py"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *files,
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "cuda",
        ],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=240,
    )
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    results["gpu_tests"] = {"returncode": proc.returncode, "summary": last}
    print(f"[tests] GPU tests: {last} (exit {proc.returncode})")
    if proc.returncode not in (0, 5):
        print(proc.stdout[-3000:], proc.stderr[-2000:])


def check_knn(results, device, n, d, k, n_sklearn_queries, sync):
    from sklearn.neighbors import NearestNeighbors

    from skreweight.torch import TorchNearestNeighbors

    X = np.random.default_rng(0).standard_normal((n, d)).astype(np.float32)
    ours = TorchNearestNeighbors(n_neighbors=k, algorithm="torch", device=device)
    ours.fit(X)
    ours.kneighbors(X[:1000])  # warm-up (CUDA context, kernels)
    (dist, ind), t_ours = _timed(ours.kneighbors, sync=sync)
    queries = X[:n_sklearn_queries]
    ref = NearestNeighbors(n_neighbors=k + 1, algorithm="brute", n_jobs=-1).fit(X)
    (ref_dist, ref_ind), t_sub = _timed(ref.kneighbors, queries)
    t_sklearn = t_sub * n / n_sklearn_queries
    # sklearn with queries = training rows includes self first: drop it
    ref_dist, ref_ind = ref_dist[:, 1:], ref_ind[:, 1:]
    same = np.mean([set(a) == set(b) for a, b in zip(ind[: len(queries)], ref_ind)])
    max_diff = float(np.max(np.abs(dist[: len(queries)] - ref_dist)))
    speedup = t_sklearn / t_ours
    results["knn"] = {
        "n": n,
        "d": d,
        "k": k,
        "torch_s": t_ours,
        "sklearn_brute_s_extrapolated": t_sklearn,
        "sklearn_queries_timed": n_sklearn_queries,
        "speedup": speedup,
        "index_set_agreement": same,
        "max_abs_dist_diff": max_diff,
    }
    print(
        f"[knn] n={n} d={d} k={k}: torch {t_ours:.2f}s, sklearn brute "
        f"{t_sklearn:.1f}s (extrapolated from {n_sklearn_queries} queries) -> "
        f"{speedup:.1f}x (goal >= 20x); agreement {same:.4f}, "
        f"max |d dist| {max_diff:.2e}"
    )


def check_smote(results, device, n, d, sync):
    from skreweight.over_sampling import SMOTE
    from skreweight.torch import TorchNearestNeighbors

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = (rng.random(n) < 0.1).astype(np.int64)
    smote = SMOTE(
        k_neighbors=TorchNearestNeighbors(
            n_neighbors=6, algorithm="torch", device=device
        ),
        random_state=0,
    )
    (X_res, y_res), seconds = _timed(smote.fit_resample, X, y, sync=sync)
    results["smote"] = {"n": n, "d": d, "seconds": seconds, "n_out": len(y_res)}
    print(
        f"[smote] n={n} d={d} (10% minority): {seconds:.1f}s end-to-end, "
        f"{len(y_res)} rows out"
    )


def check_epoch_overhead(results, device, n, d, sync, repeats=3):
    from sklearn.datasets import make_classification

    from skreweight.torch import LossBasedReweighting, TorchClassifier

    X, y = make_classification(n_samples=n, n_features=d, random_state=0)
    X = X.astype(np.float32)
    times = {"none": [], "LossBasedReweighting": []}
    for _ in range(repeats + 1):  # the first round warms up
        for name, rw in (
            ("none", None),
            ("LossBasedReweighting", LossBasedReweighting()),
        ):
            clf = TorchClassifier(
                hidden_layer_sizes=(512, 512),
                batch_size=4096,
                max_epochs=1,
                tol=None,
                device=device,
                random_state=0,
                reweighting=rw,
            )
            _, seconds = _timed(clf.fit, X, y, sync=sync)
            times[name].append(seconds)
    base = float(np.median(times["none"][1:]))
    rew = float(np.median(times["LossBasedReweighting"][1:]))
    overhead = rew / base - 1
    results["epoch"] = {
        "n": n,
        "d": d,
        "none_s": base,
        "reweighted_s": rew,
        "overhead": overhead,
    }
    print(
        f"[epoch] n={n} d={d} MLP 512-512 batch 4096: {base:.2f}s unweighted, "
        f"{rew:.2f}s LossBased -> overhead {100 * overhead:.1f}% (goal <= 5%)"
    )


def check_parity(results, device):
    import torch
    from sklearn.datasets import make_classification

    from skreweight.torch import TorchClassifier, kernel_matvec

    rng = np.random.default_rng(0)
    A, B, v = (
        rng.normal(size=(20000, 16)),
        rng.normal(size=(20000, 16)),
        rng.normal(size=20000),
    )
    gpu = kernel_matvec(A, B, v, gamma=0.1, device=device)
    cpu = kernel_matvec(A, B, v, gamma=0.1, device="cpu")
    rel = float(np.max(np.abs(gpu - cpu)) / np.max(np.abs(cpu)))
    X, y = make_classification(n_samples=4000, n_features=20, random_state=0)
    params = {
        "hidden_layer_sizes": (64,),
        "max_epochs": 5,
        "random_state": 0,
        "deterministic": True,
    }
    a = TorchClassifier(device=device, **params).fit(X, y)
    b = TorchClassifier(device=device, **params).fit(X, y)
    bit_equal = all(
        torch.equal(p, q)
        for p, q in zip(a.module_.parameters(), b.module_.parameters())
    )
    c = TorchClassifier(device="cpu", **params).fit(X, y)
    acc_gap = abs(a.score(X, y) - c.score(X, y))
    loaded = pickle.loads(pickle.dumps(a))
    loaded.module_.to("cpu")
    loaded.device_ = torch.device("cpu")
    pickle_diff = float(np.max(np.abs(loaded.predict_proba(X) - a.predict_proba(X))))
    results["parity"] = {
        "rbf_matvec_rel_err": rel,
        "deterministic_bit_equal": bit_equal,
        "cpu_gpu_accuracy_gap": acc_gap,
        "pickle_to_cpu_max_diff": pickle_diff,
    }
    print(
        f"[parity] rbf matvec rel err {rel:.1e}; deterministic fits bit-equal: "
        f"{bit_equal}; |acc CPU - GPU| {acc_gap:.4f} (goal <= .01); "
        f"pickle to CPU max diff {pickle_diff:.1e} (goal <= 1e-5)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="run on the CPU at tiny sizes (tests the script)",
    )
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("gpu_check: torch is not installed; nothing to check.")
        return 0
    if not args.dry_run and not torch.cuda.is_available():
        print(
            f"gpu_check: no CUDA device (torch {torch.__version__}); GPU checks "
            "skipped. Use --dry-run to exercise the script on the CPU."
        )
        return 0
    device = "cpu" if args.dry_run else "cuda"
    sync = None if args.dry_run else torch.cuda.synchronize
    if not args.dry_run:
        print(
            f"gpu_check on {torch.cuda.get_device_name(0)}, torch {torch.__version__}"
        )
    results = {"device": device, "torch": torch.__version__}
    start = time.perf_counter()
    small = args.dry_run
    if not small:
        check_tests(results)
    check_knn(
        results,
        device,
        n=5000 if small else 1_000_000,
        d=32,
        k=5,
        n_sklearn_queries=500 if small else 20_000,
        sync=sync,
    )
    check_smote(results, device, n=20_000 if small else 10_000_000, d=16, sync=sync)
    check_epoch_overhead(
        results,
        device,
        n=5000 if small else 1_000_000,
        d=32 if small else 64,
        sync=sync,
    )
    check_parity(results, device)
    results["total_s"] = time.perf_counter() - start
    print(f"gpu_check finished in {results['total_s']:.0f}s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
