"""The `gdfast` command line: fit, predict, demo, bench, and its one-line errors."""
import csv
import json
import re
import subprocess
import sys

import numpy as np
import pytest
import statsmodels.api as sm

from gdfast import cli

RTOL = 1e-8


@pytest.fixture
def spector_csv(tmp_path):
    data = sm.datasets.spector.load_pandas().data
    path = tmp_path / "spector.csv"
    data.to_csv(path, index=False)
    return path, data


def run(capsys, *argv):
    """Run the command line in-process: (exit status, stdout, stderr)."""
    try:
        status = cli.main([str(a) for a in argv])
    except SystemExit as e:              # argparse: --help, --version, usage errors
        status = e.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, *words):
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    for word in words:
        assert word in err


def test_fit_json_matches_statsmodels(capsys, spector_csv):
    path, data = spector_csv
    status, out, err = run(capsys, "fit", path, "--target", "GRADE", "--alpha", "0", "--json")
    assert status == 0 and err == ""
    doc = json.loads(out)
    theirs = sm.Logit(data["GRADE"], sm.add_constant(data[["GPA", "TUCE", "PSI"]])).fit(
        method="newton", tol=1e-14, disp=0)
    assert doc["loss"] == "log_loss" and doc["features"] == ["GPA", "TUCE", "PSI"]
    assert doc["classes"] == ["0.0", "1.0"] and doc["status"] == "converged"
    assert isinstance(doc["n_iter"], int) and doc["n_iter"] >= 1
    np.testing.assert_allclose(doc["coef"], theirs.params[doc["features"]], rtol=RTOL)
    np.testing.assert_allclose(doc["intercept"], theirs.params["const"], rtol=RTOL)
    np.testing.assert_allclose(doc["coef_stderr"], theirs.bse[doc["features"]], rtol=RTOL)
    np.testing.assert_allclose(doc["intercept_stderr"], theirs.bse["const"], rtol=RTOL)
    np.testing.assert_allclose(doc["cost"], -theirs.llf / len(data), rtol=1e-10)


def test_fit_prints_the_summary_table(capsys, spector_csv):
    path, _ = spector_csv
    status, out, err = run(capsys, "fit", path, "--target", "GRADE")
    assert status == 0
    assert "log-odds of GRADE = '1.0'" in out and "P>|z|" in out
    assert [line.split()[0] for line in out.splitlines()[4:8]] == ["intercept", "GPA", "TUCE", "PSI"]


def test_fit_least_squares_and_no_intercept(capsys, tmp_path):
    X = sm.datasets.stackloss.load_pandas()
    path = tmp_path / "stack.csv"
    X.data.to_csv(path, index=False)
    status, out, _ = run(capsys, "fit", path, "--target", "STACKLOSS", "--alpha", "0",
                         "--no-intercept", "--json")
    doc = json.loads(out)
    theirs = sm.OLS(X.endog, X.exog).fit()
    assert status == 0 and doc["loss"] == "squared_error" and doc["classes"] is None
    assert doc["intercept"] == 0.0 and doc["intercept_stderr"] is None
    np.testing.assert_allclose(doc["coef_stderr"], theirs.bse, rtol=RTOL)
    status, out, _ = run(capsys, "fit", path, "--target", "STACKLOSS")
    assert status == 0 and "P>|t|" in out and "least squares" in out


def test_save_then_predict(capsys, tmp_path):
    rows = [["x1", "x2", "label"]] + [[f"{a:.3f}", f"{b:.3f}", "yes" if a + b + e > 0 else "no"]
                                      for a, b, e in np.random.default_rng(0).normal(size=(80, 3))]
    data = tmp_path / "data.csv"
    with open(data, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    model = tmp_path / "model.json"
    status, out, _ = run(capsys, "fit", data, "--target", "label", "--save", model)
    assert status == 0 and f"Model saved to {model}" in out
    doc = json.loads(model.read_text())
    assert doc["classes"] == ["no", "yes"]

    output = tmp_path / "out.csv"
    status, out, err = run(capsys, "predict", model, data, "--output", output)
    assert status == 0 and out == "" and err == ""
    with open(output, newline="") as f:
        written = list(csv.reader(f))
    assert written[0] == ["x1", "x2", "label", "prediction", "probability"]
    assert [r[:3] for r in written[1:]] == rows[1:]
    X = np.array([[float(r[0]), float(r[1])] for r in rows[1:]])
    z = X @ np.array(doc["coef"]) + doc["intercept"]
    np.testing.assert_allclose([float(r[4]) for r in written[1:]], 1 / (1 + np.exp(-z)), rtol=1e-12)
    assert [r[3] for r in written[1:]] == ["yes" if v > 0 else "no" for v in z]
    accuracy = np.mean([r[2] == r[3] for r in written[1:]])
    assert accuracy > 0.8

    status, out, _ = run(capsys, "predict", model, data)           # to stdout
    assert status == 0 and out.splitlines()[0] == "x1,x2,label,prediction,probability"
    assert len(out.splitlines()) == 81


def test_predict_least_squares_writes_one_column(capsys, tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("a,y\n1,2.0\n2,4.1\n3,5.9\n4,8.2\n")
    model = tmp_path / "m.json"
    assert run(capsys, "fit", data, "--target", "y", "--save", model)[0] == 0
    status, out, _ = run(capsys, "predict", model, data)
    lines = out.splitlines()
    assert status == 0 and lines[0] == "a,y,prediction" and len(lines) == 5
    assert abs(float(lines[1].split(",")[2]) - 2.0) < 0.2


@pytest.mark.parametrize("make_args, words", [
    (lambda p: ["fit", p.parent / "missing.csv", "--target", "GRADE"], ["missing.csv", "No such file"]),
    (lambda p: ["fit", p, "--target", "NOPE"], ["no column 'NOPE'", "'GPA'"]),
    (lambda p: ["fit", p, "--target", "GRADE", "--alpha", "abc"], ["--alpha", "invalid float"]),
    (lambda p: ["fit", p, "--target", "GRADE", "--alpha", "-1"], ["alpha must be >= 0"]),
    (lambda p: ["fit", p, "--target", "GRADE", "--solver", "magic"], ["solver='magic'"]),
    (lambda p: ["fit", p, "--target", "TUCE", "--loss", "log_loss"], ["two distinct values", "'TUCE'"]),
    (lambda p: ["fit", p], ["--target"]),
    (lambda p: ["predict", p.parent / "none.json", p], ["none.json", "No such file"]),
    (lambda p: ["predict", p, p], ["is not JSON"]),
    (lambda p: ["frobnicate"], ["invalid choice"]),
])
def test_errors_are_one_line_and_exit_2(capsys, spector_csv, make_args, words):
    path, _ = spector_csv
    status, out, err = run(capsys, *make_args(path))
    assert_one_line_error(status, err, *words)


def test_bad_csv_content_is_named_by_column_and_line(capsys, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,y\n1,2,0\n1,x,1\n")
    assert_one_line_error(*run(capsys, "fit", bad, "--target", "y")[::2],
                          "bad.csv, column 'b', line 3: 'x' is not a number")
    bad.write_text("a,b,y\n1,2,0\n1,,1\n")
    assert_one_line_error(*run(capsys, "fit", bad, "--target", "y")[::2], "line 3: empty value")
    bad.write_text("a,b,y\n1,2,0\n1,2\n")
    assert_one_line_error(*run(capsys, "fit", bad, "--target", "y")[::2], "line 3: 2 fields")
    bad.write_text("")
    assert_one_line_error(*run(capsys, "fit", bad, "--target", "y")[::2], "is empty")
    bad.write_text("a,y\n")
    assert_one_line_error(*run(capsys, "fit", bad, "--target", "y")[::2], "no data lines")


def test_predict_needs_the_model_features(capsys, tmp_path, spector_csv):
    path, _ = spector_csv
    model = tmp_path / "m.json"
    assert run(capsys, "fit", path, "--target", "GRADE", "--save", model)[0] == 0
    other = tmp_path / "other.csv"
    other.write_text("GPA,PSI\n3.0,1\n")
    assert_one_line_error(*run(capsys, "predict", model, other)[::2], "no column 'TUCE'")
    not_model = tmp_path / "x.json"
    not_model.write_text('{"a": 1}')
    assert_one_line_error(*run(capsys, "predict", not_model, path)[::2], "is not a gdfast model")


def test_errors_from_the_installed_command_have_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gdfast", "fit", str(tmp_path / "nope.csv"),
                           "--target", "y"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == \
        f"gdfast fit: error: {tmp_path / 'nope.csv'}: No such file or directory"
    assert "Traceback" not in proc.stderr


def test_version(capsys):
    import gdfast
    status, out, _ = run(capsys, "--version")
    assert status == 0 and out.strip() == f"gdfast {gdfast.__version__}"


def test_bench_prints_the_speedups_of_results_that_agree(capsys):
    status, out, err = run(capsys, "bench", "--quick", "--repeats", "1")
    assert status == 0 and err == ""
    rows = [line for line in out.splitlines() if line.startswith(("cost_gradient", "Newton fit"))]
    assert [r.split(",")[0] for r in rows] == ["cost_gradient", "cost_gradient", "Newton fit to tol 1e-8"]
    for row in rows:
        speedup, agreement = re.search(r" (\d+\.\d\d)x  .* rel\. diff (\S+)$", row).groups()
        assert float(speedup) > 0
        assert float(agreement) < 1e-9, row          # gdfast and the reference computed the same
    assert "python benchmarks/report.py" in out   # where the full report is


def test_bench_errors_are_one_line(capsys):
    assert_one_line_error(*run(capsys, "bench", "--threads", "0")[::2], "--threads must be at least 1")
    assert_one_line_error(*run(capsys, "bench", "--repeats", "0")[::2], "--repeats must be at least 1")
    assert_one_line_error(*run(capsys, "bench", "--output", "x.md")[::2], "unrecognized arguments")


@pytest.fixture
def quick_demo(monkeypatch):
    """The demo without its timing runs (they are what takes time, and not what is tested here)."""
    from gdfast import _demo
    monkeypatch.setattr(_demo, "speedup", lambda obj: (1.0, 4.0))


def test_demo_without_matplotlib_still_prints_its_table(capsys, monkeypatch, tmp_path, quick_demo):
    monkeypatch.setitem(sys.modules, "matplotlib", None)         # import matplotlib now fails
    picture = tmp_path / "demo.png"
    status, out, err = run(capsys, "demo", "--plot", picture)
    assert status == 0 and err == ""
    assert "Newton" in out and "too large" in out
    assert "No picture of the cost curves" in out and "pip install 'gdfast[demo]'" in out
    assert not picture.exists()


def test_demo_no_plot(capsys, monkeypatch, tmp_path, quick_demo):
    monkeypatch.chdir(tmp_path)
    status, out, _ = run(capsys, "demo", "--no-plot")
    assert status == 0 and "Newton" in out and "cost curves" not in out
    assert list(tmp_path.iterdir()) == []
    status, _, err = run(capsys, "demo", "--no-plot", "--plot", "x.png")
    assert_one_line_error(status, err, "not allowed with argument")


def test_demo_plot_path(capsys, tmp_path, quick_demo):
    picture = tmp_path / "curves.png"
    status, out, _ = run(capsys, "demo", "--plot", picture)
    assert status == 0 and f"The cost curves are in {picture}" in out
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fit_defaults_to_the_unpenalised_model_and_reports_separation(capsys, tmp_path):
    path = tmp_path / "separable.csv"
    path.write_text("x,y\n1,0\n2,0\n3,1\n4,1\n")
    status, out, err = run(capsys, "fit", str(path), "--target", "y")
    assert status == 0
    assert "alpha=0," in out and "separated" in out
    assert "separable" in err and "undefined" in err
    rows = [line for line in out.splitlines() if line.startswith(("intercept", "x "))]
    assert rows and all("nan" in line for line in rows)


@pytest.fixture
def anes96_csv(tmp_path):
    """statsmodels' anes96 with the 7 classes as words (so that "auto" takes multinomial)."""
    data = sm.datasets.anes96.load_pandas()
    frame = data.exog.copy()
    frame["vote"] = [f"party{int(v)}" for v in data.endog]
    path = tmp_path / "anes96.csv"
    frame.to_csv(path, index=False)
    return path, data


def test_fit_multiclass_matches_statsmodels_mnlogit(capsys, anes96_csv, tmp_path):
    path, data = anes96_csv
    model = tmp_path / "model.json"
    status, out, err = run(capsys, "fit", path, "--target", "vote", "--json", "--save", model,
                           "--tol", "1e-12")
    assert status == 0 and err == ""
    doc = json.loads(out)
    assert doc == json.loads(model.read_text())
    mn = sm.MNLogit(data.endog.astype(int), sm.add_constant(data.exog, prepend=False)).fit(
        method="newton", tol=1e-14, maxiter=100, disp=0)
    params, bse = mn.params.to_numpy(), mn.bse.to_numpy()      # (5 + 1, 6): const last
    assert doc["loss"] == "multinomial" and doc["reference"] is True
    assert doc["classes"] == [f"party{k}" for k in range(7)]
    assert doc["features"] == list(data.exog.columns) and doc["status"] == "converged"
    coef, se = np.array(doc["coef"]), doc["coef_stderr"]
    assert coef.shape == (7, 5) and np.all(coef[0] == 0) and doc["intercept"][0] == 0
    assert se[0] == [None] * 5 and doc["intercept_stderr"][0] is None
    np.testing.assert_allclose(coef[1:].T, params[:-1], rtol=1e-8)
    np.testing.assert_allclose(doc["intercept"][1:], params[-1], rtol=1e-8)
    np.testing.assert_allclose(np.array(se[1:], dtype=float).T, bse[:-1], rtol=1e-8)
    np.testing.assert_allclose(doc["intercept_stderr"][1:], bse[-1], rtol=1e-8)
    assert doc["cost"] * len(data.endog) == pytest.approx(-mn.llf, rel=1e-12)

    status, out, err = run(capsys, "fit", path, "--target", "vote")          # the table
    assert status == 0 and err == ""
    assert "multinomial" in out and "reference class 'party0'" in out
    assert "class 'party3' vs 'party0'" in out and "class 'party0' vs" not in out

    output = tmp_path / "out.csv"
    status, out, err = run(capsys, "predict", model, path, "--output", output)
    assert status == 0 and err == ""
    with open(output, newline="") as f:
        written = list(csv.reader(f))
    assert written[0][-2:] == ["prediction", "probability"]
    p = mn.predict(sm.add_constant(data.exog, prepend=False)).to_numpy()
    assert [r[-2] for r in written[1:]] == [f"party{k}" for k in p.argmax(axis=1)]
    np.testing.assert_allclose([float(r[-1]) for r in written[1:]], p.max(axis=1), rtol=1e-7)


def test_fit_multiclass_penalised_is_the_estimators_model(capsys, tmp_path):
    from gdfast import LogisticRegression
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 3))
    y = np.array(["a", "b", "c", "d"])[np.argmax(X @ rng.standard_normal((3, 4))
                                                  + rng.gumbel(size=(300, 4)), axis=1)]
    data = tmp_path / "d.csv"
    with open(data, "w", newline="") as f:
        csv.writer(f).writerows([["x1", "x2", "x3", "y"]] + [[*(repr(float(t)) for t in x), v] for x, v in zip(X, y)])
    status, out, err = run(capsys, "fit", data, "--target", "y", "--loss", "multinomial",
                           "--alpha", "0.01", "--tol", "1e-12", "--json")
    assert status == 0 and err == ""
    doc = json.loads(out)
    clf = LogisticRegression(alpha=0.01, tol=1e-12).fit(X, y)
    assert doc["reference"] is False and doc["classes"] == list(clf.classes_)
    np.testing.assert_allclose(doc["coef"], clf.coef_, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(doc["intercept"], clf.intercept_, rtol=1e-7, atol=1e-10)
    assert sum(doc["intercept"]) == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(doc["coef_stderr"], clf.coef_stderr_, rtol=1e-6)
    np.testing.assert_allclose(doc["intercept_stderr"], clf.intercept_stderr_, rtol=1e-6)


def test_multiclass_errors_are_one_line(capsys, tmp_path, anes96_csv):
    path, _ = anes96_csv
    status, _, err = run(capsys, "fit", path, "--target", "vote", "--loss", "log_loss")
    assert_one_line_error(status, err, "two distinct values", "--loss multinomial")
    status, _, err = run(capsys, "fit", path, "--target", "vote", "--power", "1.5")
    assert_one_line_error(status, err, "--power", "multinomial")
    model = tmp_path / "m.json"
    assert run(capsys, "fit", path, "--target", "vote", "--save", model)[0] == 0
    doc = json.loads(model.read_text())
    doc["coef"] = doc["coef"][:-1]                        # a class's row lost
    model.write_text(json.dumps(doc))
    status, _, err = run(capsys, "predict", model, path)
    assert_one_line_error(status, err, "damaged", "coef of shape (7, 5)")
