"""The main job: `gdfast demo` on the packaged data."""
import subprocess
import sys

import numpy as np
import pytest

from gdfast import _demo, datasets


def test_packaged_data():
    X, y, names = datasets.load_breast_cancer()
    assert X.shape == (569, 30) and len(names) == 30
    assert int(y.sum()) == 212 and int((y == 0).sum()) == 357


def test_demo_fits_tell_the_learning_rate_story():
    obj, rows = _demo.run_fits(max_iter=500)
    small, good, large, newton = (r["result"] for r in rows)
    assert newton.converged
    assert large.status == "diverged" and np.all(np.isfinite(large.w))
    assert small.cost > good.cost >= newton.cost - 1e-12
    assert rows[3]["accuracy"] > 0.95


def test_the_good_learning_rate_converges_at_minimizes_defaults():
    obj, rows = _demo.run_fits()
    small, good, large, newton = (r["result"] for r in rows)
    assert good.status == "converged" and small.status == "max_iter"
    assert good.cost == pytest.approx(newton.cost, rel=1e-8)


def test_demo_command_prints_its_table_and_saves_its_picture(tmp_path):
    out = subprocess.run([sys.executable, "-m", "gdfast", "demo"], capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout
    for word in ("too small", "good", "too large", "Newton", "diverged", "faster"):
        assert word in out
    assert "nan" not in out.lower()
    picture = tmp_path / "gdfast-demo.png"
    assert f"The cost curves are in {picture}" in out
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
