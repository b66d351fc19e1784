"""The ``skreweight`` command line.

``skreweight benchmark [DATA.csv --target COLUMN]`` compares imbalance
treatments (none, class weights, resamplers, reweighters) around one
classifier under repeated stratified cross-validation, prints a ranked table
and writes ``report/``. Run ``skreweight benchmark --help`` for the options.
"""

import argparse
import sys

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """Argument parser whose errors are one line on stderr, exit status 2."""

    def error(self, message):
        self.exit(2, f"skreweight: error: {message} (see --help)\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _build_parser():
    from skreweight._version import __version__
    from skreweight.cli._benchmark import CLASSIFIERS, METRICS
    from skreweight.cli._compare import TESTS
    from skreweight.cli._strategies import DEFAULT_STRATEGIES, STRATEGIES

    parser = _Parser(
        prog="skreweight",
        description="skreweight: resamplers and reweighters for scikit-learn.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser
    )
    bench = commands.add_parser(
        "benchmark",
        help="compare imbalance treatments on a dataset",
        description=(
            "Compare imbalance treatments around one classifier under repeated "
            "stratified k-fold cross-validation. Samplers and reweighters are fit "
            "inside each training fold only. Without DATA, runs on the embedded "
            "imbalanced breast cancer dataset (393 rows, 36 malignant)."
        ),
        epilog="strategies: "
        + "; ".join(f"{name} = {s.description}" for name, s in STRATEGIES.items()),
    )
    bench.add_argument(
        "data", nargs="?", metavar="DATA.csv", help="CSV with a header row"
    )
    bench.add_argument("--target", metavar="COLUMN", help="name of the label column")
    bench.add_argument(
        "--strategies",
        default=",".join(DEFAULT_STRATEGIES),
        help="comma-separated strategy names (default: %(default)s)",
    )
    bench.add_argument(
        "--classifier",
        choices=CLASSIFIERS,
        default="logistic",
        help="base classifier (default: %(default)s)",
    )
    bench.add_argument("--cv", type=_positive_int, default=5, help="folds (default: 5)")
    bench.add_argument(
        "--repeats", type=_positive_int, default=2, help="CV repetitions (default: 2)"
    )
    bench.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    bench.add_argument(
        "--rank-by",
        choices=METRICS,
        default="balanced_accuracy",
        help="metric that orders the table (default: %(default)s)",
    )
    bench.add_argument(
        "--test",
        choices=TESTS,
        default="corrected-t",
        help=(
            "paired test of each strategy against the baseline on the --rank-by "
            "metric: corrected-t (Nadeau-Bengio), 5x2cv-f (Alpaydin; runs 5 x "
            "2-fold CV), bayes (Bayesian correlated t) or none "
            "(default: %(default)s)"
        ),
    )
    bench.add_argument(
        "--baseline",
        default=None,
        help="strategy the others are tested against (default: none, else the first)",
    )
    bench.add_argument(
        "--rope",
        type=float,
        default=0.01,
        help="region of practical equivalence for --test bayes (default: 0.01)",
    )
    bench.add_argument(
        "--n-jobs", type=int, default=None, help="parallel fits (-1: all cores)"
    )
    bench.add_argument(
        "--backend",
        choices=("loky", "threading", "dask", "ray"),
        default="loky",
        help="joblib backend for the parallel fits (default: %(default)s)",
    )
    bench.add_argument(
        "--output", default="report", help="report directory (default: %(default)s)"
    )
    bench.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _benchmark_command(args):
    from skreweight.cli._benchmark import (
        backend_context,
        format_table,
        load_csv,
        run_benchmark,
        summarize,
        write_report,
    )
    from skreweight.cli._compare import (
        compare_to_baseline,
        comparison_columns,
        write_plots,
    )

    if args.cv < 2:
        raise ValueError("--cv must be at least 2")
    if args.data is None:
        if args.target is not None:
            raise ValueError("--target needs a DATA.csv argument")
        from skreweight.datasets import load_wdbc_imbalanced

        X, y = load_wdbc_imbalanced(return_X_y=True)
        source = "embedded: imbalanced breast cancer (WDBC)"
    else:
        X, y, _ = load_csv(args.data, args.target)
        source = args.data
    strategies = [name.strip() for name in args.strategies.split(",") if name.strip()]
    if not strategies:
        raise ValueError("--strategies is empty")
    strategies = list(dict.fromkeys(strategies))
    baseline = args.baseline
    if baseline is None:
        baseline = "none" if "none" in strategies else strategies[0]
    elif baseline not in strategies:
        raise ValueError(f"--baseline {baseline!r} is not one of --strategies")
    if args.test == "5x2cv-f":
        # The combined F test is defined on 5 repetitions of 2-fold CV.
        args.cv, args.repeats = 2, 5
    with backend_context(args.backend, args.n_jobs):
        rows = run_benchmark(
            X,
            y,
            strategies=strategies,
            classifier=args.classifier,
            cv=args.cv,
            repeats=args.repeats,
            seed=args.seed,
            n_jobs=args.n_jobs,
            progress=not args.quiet,
        )
    table = summarize(rows, rank_by=args.rank_by)
    comparisons = compare_to_baseline(
        rows,
        strategies,
        metric=args.rank_by,
        baseline=baseline,
        test=args.test,
        cv=args.cv,
        rope=args.rope,
    )
    extra_header, extra_cells = comparison_columns(comparisons, args.test)
    classes, counts = _class_counts(y)
    print(
        f"data: {source} | {X.shape[0]} rows, {X.shape[1]} features | classes "
        + ", ".join(f"{c}: {n}" for c, n in zip(classes, counts))
    )
    print(
        f"classifier: {args.classifier} | {args.repeats} x {args.cv}-fold stratified "
        f"CV | seed {args.seed} | mean ± std over {args.repeats * args.cv} folds"
    )
    print()
    print(format_table(table, args.rank_by, extra_header, extra_cells))
    if comparisons:
        test_name = next(iter(comparisons.values()))["method"]
        print(
            f"\nΔ: mean paired difference in {args.rank_by} to {baseline!r}; "
            f"test: {test_name}"
            + (", p-values Holm-adjusted" if args.test != "bayes" else "")
        )
    config = {
        "data": source,
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "classifier": args.classifier,
        "cv": args.cv,
        "repeats": args.repeats,
        "seed": args.seed,
        "strategies": strategies,
        "rank_by": args.rank_by,
        "test": args.test,
        "baseline": baseline,
    }
    directory = write_report(args.output, rows, table, config, comparisons)
    plots = write_plots(
        directory,
        rows,
        strategies,
        metric=args.rank_by,
        baseline=baseline,
        cv=args.cv,
    )
    if isinstance(plots, str):
        print(f"\n{plots}")
        plots = []
    files = ["folds.csv", "summary.csv", "summary.json", *plots]
    print(f"\nreport written to {directory}/: " + ", ".join(files))
    return 0


def _class_counts(y):
    import numpy as np

    return np.unique(y, return_counts=True)


def main(argv=None):
    """Run the ``skreweight`` command line.

    The console script ``skreweight`` and ``python -m skreweight`` call this
    function. Usage and data errors print one line on stderr, never a
    traceback.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; ``None`` reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 2 on a usage or data error (one line on stderr).

    See Also
    --------
    skreweight.cli._benchmark.run_benchmark : The evaluation loop behind
        ``skreweight benchmark``.

    Examples
    --------
    >>> from skreweight.cli import main
    >>> main(["benchmark", "--quiet", "--output", "report"])  # doctest: +SKIP
    0
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return _benchmark_command(args)
    except (ValueError, TypeError, OSError, ImportError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"skreweight: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("skreweight: interrupted", file=sys.stderr)
        return 130
