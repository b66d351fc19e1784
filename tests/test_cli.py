"""The ``skreweight benchmark`` command line."""

import json
import subprocess
import sys

import numpy as np
import pytest

from skreweight.cli import main
from skreweight.cli._benchmark import load_csv, run_benchmark, summarize
from skreweight.datasets import make_imbalanced_classification


@pytest.fixture
def csv_file(tmp_path):
    X, y = make_imbalanced_classification(
        n_samples=300, n_features=4, n_informative=2, imbalance_ratio=5, random_state=0
    )
    path = tmp_path / "data.csv"
    labels = np.where(y == 1, "yes", "no")
    lines = ["a,b,label,c,d"]
    lines += [f"{r[0]},{r[1]},{lab},{r[2]},{r[3]}" for r, lab in zip(X, labels)]
    path.write_text("\n".join(lines) + "\n")
    return path, X, labels


def test_default_run_prints_ranked_table_and_writes_report(tmp_path, capsys):
    status = main(
        [
            "benchmark",
            "--quiet",
            "--cv",
            "3",
            "--repeats",
            "1",
            "--output",
            str(tmp_path / "rep"),
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    for name in ("none", "class_weights", "random_oversampler", "importance_resampler"):
        assert name in out
    assert "393 rows" in out and "ROC AUC" in out and "G-mean" in out
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    ranks = [entry["rank"] for entry in summary["summary"]]
    assert ranks == [1, 2, 3, 4]
    means = [entry["balanced_accuracy_mean"] for entry in summary["summary"]]
    assert means == sorted(means, reverse=True)
    folds = (tmp_path / "rep" / "folds.csv").read_text().splitlines()
    assert len(folds) == 1 + 4 * 3


def test_csv_with_string_target(csv_file, tmp_path):
    path, X, labels = csv_file
    X_read, y_read, names = load_csv(path, "label")
    assert names == ["a", "b", "c", "d"]
    np.testing.assert_allclose(X_read, X)
    assert list(y_read) == list(labels)
    status = main(
        [
            "benchmark", str(path), "--target", "label", "--quiet", "--cv", "3",
            "--repeats", "1", "--strategies", "none,class_weights",
            "--output", str(tmp_path / "r2"),
        ]
    )  # fmt: skip
    assert status == 0


def test_resamplers_only_see_training_folds():
    """Samplers and reweighters are fit on training rows only: with a sampler
    that records its input, no test row of any split is ever seen."""
    from imblearn import FunctionSampler

    from skreweight.cli._strategies import STRATEGIES, Strategy

    seen = []

    def record(X, y):
        seen.append(X[:, -1].copy())
        return X, y

    X, y = make_imbalanced_classification(n_samples=120, random_state=0)
    X = np.column_stack([X, np.arange(len(y))])  # row id as a feature
    STRATEGIES["_recorder"] = Strategy(
        "sampler", "records", lambda seed: FunctionSampler(func=record, validate=False)
    )
    try:
        rows = run_benchmark(
            X,
            y,
            strategies=["_recorder"],
            cv=3,
            repeats=1,
            seed=0,
            classifier="random_forest",
        )
    finally:
        del STRATEGIES["_recorder"]
    assert len(rows) == 3 and len(seen) == 3
    from sklearn.model_selection import RepeatedStratifiedKFold

    splits = list(
        RepeatedStratifiedKFold(n_splits=3, n_repeats=1, random_state=0).split(X, y)
    )
    for ids, (train, test) in zip(seen, splits):
        assert set(ids.astype(int)) == set(train)
        assert not set(ids.astype(int)) & set(test)


def test_summary_ranks_by_requested_metric():
    rows = [
        {
            "strategy": "a",
            "split": i,
            "roc_auc": 0.9,
            "average_precision": 0.1,
            "balanced_accuracy": 0.5,
            "g_mean": 0.5,
            "fit_time": 0.1,
        }
        for i in range(3)
    ] + [
        {
            "strategy": "b",
            "split": i,
            "roc_auc": 0.8,
            "average_precision": 0.2,
            "balanced_accuracy": 0.6,
            "g_mean": 0.6,
            "fit_time": 0.1,
        }
        for i in range(3)
    ]
    assert summarize(rows, "roc_auc")[0]["strategy"] == "a"
    assert summarize(rows, "balanced_accuracy")[0]["strategy"] == "b"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["benchmark", "--bogus"], "unrecognized arguments: --bogus"),
        (["benchmark", "missing.csv", "--target", "y"], "data file not found"),
        (["benchmark", "--strategies", "nope"], "unknown strategy 'nope'"),
        (["benchmark", "--cv", "0"], "expected an integer >= 1"),
        (["benchmark", "--target", "y"], "--target needs a DATA.csv"),
    ],
)
def test_errors_are_one_line_on_stderr(argv, message, capsys):
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse usage errors
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1, err
    assert message in err and "Traceback" not in err


def test_module_entry_point_error_has_no_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "skreweight", "benchmark", "--cv", "1x"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert (
        result.stderr.startswith("skreweight: error:")
        and "Traceback" not in result.stderr
    )


def test_csv_errors(tmp_path, csv_file, capsys):
    path, _, _ = csv_file
    assert main(["benchmark", str(path), "--target", "nope", "--quiet"]) == 2
    assert "target column 'nope' not in" in capsys.readouterr().err
    assert main(["benchmark", str(path), "--quiet"]) == 2
    assert "--target is required" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("a,label\nx,1\n2,0\n")
    assert main(["benchmark", str(bad), "--target", "label", "--quiet"]) == 2
    assert "column 'a' is not numeric" in capsys.readouterr().err
    single = tmp_path / "single.csv"
    single.write_text("a,label\n" + "".join(f"{i},1\n" for i in range(10)))
    assert main(["benchmark", str(single), "--target", "label", "--quiet"]) == 2
    assert "single class" in capsys.readouterr().err
    missing = tmp_path / "missing.csv"
    missing.write_text(
        "a,label\n" + "".join(f"{'' if i == 3 else i},{i % 2}\n" for i in range(20))
    )
    assert (
        main(["benchmark", str(missing), "--target", "label", "--quiet", "--cv", "2"])
        == 2
    )
    assert "missing values" in capsys.readouterr().err


def test_progress_bar_on_stderr_unless_quiet(tmp_path):
    base = [
        sys.executable,
        "-m",
        "skreweight",
        "benchmark",
        "--cv",
        "2",
        "--repeats",
        "1",
        "--strategies",
        "none",
        "--output",
        str(tmp_path / "r"),
    ]
    loud = subprocess.run(base, capture_output=True, text=True, check=True)
    quiet = subprocess.run(
        [*base, "--quiet"], capture_output=True, text=True, check=True
    )
    assert "benchmark" in loud.stderr and "2/2" in loud.stderr
    assert quiet.stderr == ""
    assert "none" in quiet.stdout


def test_paired_tests_against_baseline(tmp_path, capsys):
    out_dir = tmp_path / "rep"
    base = ["benchmark", "--quiet", "--output", str(out_dir)]
    assert main([*base, "--cv", "3", "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    assert "p (Holm)" in out and "baseline" in out
    summary = json.loads((out_dir / "summary.json").read_text())
    assert summary["config"]["baseline"] == "none"
    compared = [e for e in summary["summary"] if e["strategy"] != "none"]
    assert len(compared) == 3
    for entry in compared:
        assert 0 <= entry["vs_baseline_pvalue"] <= entry["vs_baseline_pvalue_holm"] <= 1
        assert entry["vs_baseline_ci_low"] <= entry["vs_baseline_mean_difference"]
        assert entry["vs_baseline_mean_difference"] <= entry["vs_baseline_ci_high"]
    pytest.importorskip("matplotlib")
    assert (out_dir / "critical_difference.png").stat().st_size > 0
    assert (out_dir / "paired_differences.png").stat().st_size > 0


def test_5x2cv_and_bayes_tests(tmp_path, capsys):
    out_dir = tmp_path / "rep"
    common = ["benchmark", "--quiet", "--output", str(out_dir)]
    assert (
        main([*common, "--test", "5x2cv-f", "--strategies", "none,class_weights"]) == 0
    )
    assert "5 x 2-fold" in capsys.readouterr().out
    assert len((out_dir / "folds.csv").read_text().splitlines()) == 1 + 2 * 10
    bayes = ["--test", "bayes", "--strategies", "class_weights,none"]
    bayes += ["--baseline", "class_weights", "--cv", "3", "--repeats", "1"]
    assert main([*common, *bayes]) == 0
    entry = next(
        e
        for e in json.loads((out_dir / "summary.json").read_text())["summary"]
        if e["strategy"] == "none"
    )
    total = sum(entry[f"vs_baseline_p_{k}"] for k in ("better", "rope", "worse"))
    assert total == pytest.approx(1.0)
    assert main([*common, "--baseline", "nope"]) == 2
    assert "--baseline 'nope'" in capsys.readouterr().err


def test_every_registered_strategy_runs():
    from skreweight.cli._strategies import STRATEGIES

    X, y = make_imbalanced_classification(
        n_samples=240, n_features=5, n_informative=3, imbalance_ratio=5, random_state=0
    )
    names = sorted(STRATEGIES)
    rows = run_benchmark(X, y, strategies=names, cv=2, repeats=1, seed=0)
    assert sorted({row["strategy"] for row in rows}) == names
    for row in rows:
        assert 0.5 <= row["roc_auc"] <= 1.0, row
