"""Foundation benchmark: the cost of skreweight's composition layer.

Times, in the same run, each skreweight object against the plain scikit-learn /
imbalanced-learn way of doing the same thing, and prints the ratio
(ours / anchor; median of --repeats runs):

- ClassWeights().fit_reweight vs sklearn's compute_sample_weight("balanced");
- ReweightedEstimator(LogisticRegression(), ClassWeights()).fit vs computing the
  weights and calling LogisticRegression().fit(sample_weight=...) by hand;
- ImportanceResampler(ClassWeights()).fit_resample vs imbalanced-learn's
  RandomOverSampler.fit_resample (both give balanced classes);
- the default `skreweight benchmark` run (the `make demo` workload).

Run: python benchmarks/bench_foundation.py [--n 1000000] [--repeats 5]
"""

import argparse
import statistics
import time

from imblearn.over_sampling import RandomOverSampler
from sklearn.linear_model import LogisticRegression
from sklearn.utils.class_weight import compute_sample_weight

from skreweight import ImportanceResampler, ReweightedEstimator
from skreweight.datasets import make_imbalanced_classification
from skreweight.weighting import ClassWeights


def median_time(func, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    X, y = make_imbalanced_classification(
        n_samples=args.n, n_features=20, imbalance_ratio=20, random_state=0
    )
    X_small, y_small = X[:100_000], y[:100_000]
    rows = []

    ours = median_time(lambda: ClassWeights().fit_reweight(X, y), args.repeats)
    anchor = median_time(lambda: compute_sample_weight("balanced", y), args.repeats)
    rows.append(
        (
            f"ClassWeights.fit_reweight (n={args.n:,})",
            "compute_sample_weight",
            ours,
            anchor,
        )
    )

    def manual():
        w = ClassWeights().fit_reweight(X_small, y_small)
        LogisticRegression().fit(X_small, y_small, sample_weight=w)

    model = ReweightedEstimator(LogisticRegression(), ClassWeights())
    ours = median_time(lambda: model.fit(X_small, y_small), args.repeats)
    anchor = median_time(manual, args.repeats)
    rows.append(
        (
            "ReweightedEstimator.fit (n=100,000)",
            "weights + LR.fit by hand",
            ours,
            anchor,
        )
    )

    ours = median_time(
        lambda: ImportanceResampler(random_state=0).fit_resample(X, y), args.repeats
    )
    anchor = median_time(
        lambda: RandomOverSampler(random_state=0).fit_resample(X, y), args.repeats
    )
    rows.append(
        (f"ImportanceResampler (n={args.n:,})", "RandomOverSampler", ours, anchor)
    )

    from skreweight.cli import main as cli_main

    start = time.perf_counter()
    cli_main(["benchmark", "--quiet", "--output", "benchmarks/results/demo_report"])
    demo = time.perf_counter() - start

    print()
    header = f"{'ours':<40} {'anchor':<26} {'ours s':>9} {'anchor s':>9} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for name, anchor_name, ours, anchor in rows:
        print(
            f"{name:<40} {anchor_name:<26} {ours:9.4f} {anchor:9.4f} "
            f"{ours / anchor:6.2f}"
        )
    print(
        "\n`skreweight benchmark` default run (in-process, after imports): "
        f"{demo:.1f} s"
    )


if __name__ == "__main__":
    main()
