"""The kernels' own exp and log1p against the C library, over the whole range they serve."""
import numpy as np
import pytest

from gdfast import _dispatch


def ulps(a, b):
    return np.abs(a - b) / np.spacing(np.maximum(np.abs(b), np.finfo(float).tiny))


@pytest.mark.parametrize("isa", _dispatch.available())
def test_exp_and_log1p_agree_with_libm_to_a_few_ulp(isa):
    rng = np.random.default_rng(0)
    x = np.concatenate([
        -np.logspace(-300, np.log10(708.3), 200_000),       # every scale down to the underflow edge
        -rng.uniform(0, 40, 200_000),                          # the range logistic regression lives in
        np.array([0.0, -0.0, -1e-320, -np.log(2) / 2, -np.log(2), -708.3]),
    ])
    e, l1p = np.empty_like(x), np.empty_like(x)
    _dispatch.load(isa).elementary_functions(x, e, l1p)
    assert ulps(e, np.exp(x)).max() <= 2
    assert ulps(l1p, np.log1p(np.exp(x))).max() <= 4


@pytest.mark.parametrize("isa", _dispatch.available())
def test_exp_underflows_to_zero_and_never_goes_negative(isa):
    x = -np.array([708.5, 745.0, 1e4, 1e300, np.finfo(float).max])
    e, l1p = np.empty_like(x), np.empty_like(x)
    _dispatch.load(isa).elementary_functions(x, e, l1p)
    assert np.all(e == 0.0) and np.all(l1p == 0.0)
