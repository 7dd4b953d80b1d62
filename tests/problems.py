"""Random test problems shared by the test modules."""
import numpy as np


def make_problem(n=200, d=7, loss="log_loss", dtype=np.float64, order="C", seed=0, scale=1.0):
    """Random X, y and realistic weights w (z roughly N(0, scale^2), never w = 0)."""
    rng = np.random.default_rng(seed)
    X = np.asarray(rng.standard_normal((n, d)), dtype=dtype, order=order)
    w = rng.standard_normal(d + 1) * scale / np.sqrt(d)
    z = X.astype(np.float64) @ w[:-1] + w[-1]
    if loss == "log_loss":
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
    elif loss == "poisson":
        y = rng.poisson(np.exp(z)).astype(np.float64)
    elif loss == "gamma":
        y = rng.gamma(2.0, np.exp(z) / 2.0)              # shape 2: dispersion 1/2
    else:
        y = z + rng.standard_normal(n)
    return X, y, w
