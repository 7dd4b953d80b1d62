"""gdfast.plot: cost curves and learning-rate sweeps (matplotlib without a display)."""
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

import gdfast
from gdfast import plot

from problems import make_problem


@pytest.fixture
def objective():
    X, y, _ = make_problem(n=200, d=4, seed=4)
    return gdfast.Objective(X, y, loss="log_loss", alpha=1e-2)


def new_axes():
    return Figure().add_subplot()


def test_cost_history_draws_one_curve_per_result(objective):
    gd = gdfast.minimize(objective, method="gd", max_iter=300)
    newton = gdfast.minimize(objective, method="newton")
    ax = plot.cost_history([gd, newton], ax=new_axes(), title="two fits")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == [f"gd ({gd.status})", f"newton ({newton.status})"]
    np.testing.assert_array_equal(lines[0].get_ydata(), gd.history["cost"])
    np.testing.assert_array_equal(lines[1].get_xdata(), np.arange(len(newton.history["cost"])))
    assert ax.get_yscale() == "log" and ax.get_xscale() == "symlog"
    assert ax.get_title() == "two fits" and ax.get_xlim() == (0, len(gd.history["cost"]) - 1)


def test_cost_history_takes_one_result_or_an_estimators_history(objective):
    res = gdfast.minimize(objective, method="newton")
    assert len(plot.cost_history(res, ax=new_axes()).get_lines()) == 1
    clf = gdfast.LogisticRegression().fit(objective.X, objective.y)
    ax = plot.cost_history(clf.history_, labels=["logistic"], ax=new_axes())
    assert ax.get_lines()[0].get_label() == "logistic"
    with pytest.raises(TypeError, match="OptimizeResults or history dicts"):
        plot.cost_history([1.0], ax=new_axes())
    with pytest.raises(ValueError, match="results is empty"):
        plot.cost_history([], ax=new_axes())
    with pytest.raises(ValueError, match="labels has 2 entries for 1 results"):
        plot.cost_history(res, labels=["a", "b"], ax=new_axes())


def test_learning_rate_sweep_shows_slow_good_and_diverging_rates(objective):
    good = 1.0 / objective.curvature_bound()
    ax = plot.learning_rate_sweep(objective, [good / 100, good, good * 100], max_iter=200,
                                  ax=new_axes())
    labels = [line.get_label() for line in ax.get_lines()]
    assert len(labels) == 3
    assert labels[0].endswith("(max_iter)") and labels[2].endswith("(diverged)")
    finals = [line.get_ydata()[-1] for line in ax.get_lines()[:2]]
    assert finals[1] < finals[0]
    with pytest.raises(ValueError, match="rates is empty"):
        plot.learning_rate_sweep(objective, [], ax=new_axes())


def test_new_figure_when_no_axes_given(objective):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ax = plot.cost_history(gdfast.minimize(objective))
    assert ax.figure in [plt.figure(n) for n in plt.get_fignums()]
    plt.close(ax.figure)


def test_without_matplotlib_the_error_names_the_demo_extra(objective, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'gdfast\[demo\]'"):
        plot.cost_history(gdfast.minimize(objective))
    with pytest.raises(ImportError, match="needs matplotlib"):
        plot.learning_rate_sweep(objective, [0.1])


def test_path_draws_one_line_per_coefficient():
    X, y, _ = make_problem(n=200, d=4, loss="squared_error", seed=4)
    result = gdfast.path(gdfast.Objective(X, y, loss="squared_error", l1_ratio=1.0), n_alphas=10)
    ax = plot.path(result, ["a", "b", "c", "d"], ax=new_axes(), title="lasso")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(lines[2].get_ydata(), result.coef[:, 2])
    assert ax.get_xscale() == "log" and ax.get_title() == "lasso"
    with pytest.raises(ValueError, match="feature_names"):
        plot.path(result, ["a"], ax=new_axes())
    with pytest.raises(TypeError, match="PathResult"):
        plot.path(result.w, ax=new_axes())
