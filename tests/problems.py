"""Random test problems shared by the test modules."""
import numpy as np

from gdfast import losses

#: Tweedie losses the shared loss lists run: normal with the log link (a Hessian with negative
#: weights on rows with y > 2 mu), compound Poisson-Gamma (exact zeros), and p > 2.
TWEEDIES = [losses.Tweedie(0.0), losses.Tweedie(1.5), losses.Tweedie(3.0)]


def tweedie_targets(rng, mu, power):
    """Targets of mean mu for the Tweedie loss of that power (dispersion about 1/2)."""
    if power == 0.0:
        return mu + 0.5 * rng.standard_normal(mu.shape)
    if 1.0 < power < 2.0:          # compound Poisson-Gamma: a Poisson number of Gamma claims
        phi = 0.5
        counts = rng.poisson(mu ** (2 - power) / (phi * (2 - power)))
        shape, scale = (2 - power) / (power - 1), phi * (power - 1) * mu ** (power - 1)
        return np.array([rng.gamma(shape, s, k).sum() for k, s in zip(counts, scale)])
    if power == 1.0:
        return rng.poisson(mu).astype(np.float64)
    return rng.gamma(2.0, mu / 2.0)


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
    elif loss == "binomial":                             # proportions of 1 to 9 trials
        trials = rng.integers(1, 10, n)
        y = rng.binomial(trials, 1.0 / (1.0 + np.exp(-z))) / trials
    elif loss == "tweedie":
        y = tweedie_targets(rng, np.exp(z), losses.get_loss(loss).param)
    else:
        y = z + rng.standard_normal(n)
    return X, y, w
