"""gdfast.reference: the same Objective and solvers in plain numpy.

Simple and obviously right: the oracle the tests compare the compiled core against, and the
baseline the benchmarks beat. Nothing in the fast path imports this module.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import check_offset, check_sample_weight, check_X, check_y
from .losses import Loss, get_loss

__all__ = ["Objective", "MultinomialObjective", "gradient_descent", "newton"]


def _softplus(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.logaddexp(0.0, z)      # log(1 + exp(z)) without overflow
    return out


def _sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))
    out: np.ndarray = np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return out


class Objective:
    """Plain numpy twin of :class:`gdfast.Objective` (same arguments, same methods).

    Every quantity is computed the textbook way (the Hessian from an explicit ``Xa``), in
    float64, so that it is easy to check by reading.

    Parameters
    ----------
    X, y, loss, sample_weight, offset
        As for :class:`gdfast.Objective`, and validated the same way.
    alpha : float, default 0.0
        Strength of the L2 penalty ``alpha / 2 * ||coef||^2`` (not validated).
    fit_intercept : bool, default True
    n_threads : int, optional
        Accepted so that the signature is gdfast.Objective's; ignored (numpy's BLAS decides).

    Attributes
    ----------
    X, y, loss, alpha, fit_intercept, n_samples, n_features, n_params
        As for :class:`gdfast.Objective`.
    s : ndarray of shape (n_samples,)
        The normalised sample weights ``sample_weight / sum(sample_weight)``.

    Raises
    ------
    ValueError, TypeError
        For bad X, y, loss or sample_weight, as :class:`gdfast.Objective` does.
    """

    def __init__(self, X: Any, y: Any, loss: str | Loss = "log_loss", alpha: float = 0.0,
                 fit_intercept: bool = True, sample_weight: Any = None,
                 n_threads: int | None = None, offset: Any = None) -> None:
        self.loss = get_loss(loss)
        self.alpha = float(alpha)
        self.fit_intercept = bool(fit_intercept)
        self.X = check_X(X)
        self.n_samples, self.n_features = self.X.shape
        self.y = check_y(y, self.n_samples, self.loss)
        sw = check_sample_weight(sample_weight, self.n_samples)
        sw = np.ones(self.n_samples) if sw is None else sw
        self.s = sw / sw.sum()
        offset = check_offset(offset, self.n_samples)
        self.offset = np.zeros(self.n_samples) if offset is None else offset
        self.n_params = self.n_features + int(self.fit_intercept)

    def _split(self, w: Any) -> tuple[np.ndarray, float]:
        w = np.asarray(w, dtype=np.float64)
        return (w[:-1], float(w[-1])) if self.fit_intercept else (w, 0.0)

    def _z(self, w: Any) -> np.ndarray:
        """The predictions at w: Xa w plus the offset."""
        z: np.ndarray = self._z_of(*self._split(w)) + self.offset
        return z

    def _terms(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-sample loss, first and second derivative with respect to z."""
        return self.loss.reference_terms(z, self.y)

    def _Xa(self) -> np.ndarray:
        X = self.X.astype(np.float64, copy=False)
        return np.hstack([X, np.ones((self.n_samples, 1))]) if self.fit_intercept else X

    def _penalty_diag(self) -> np.ndarray:
        p = np.full(self.n_params, self.alpha)
        if self.fit_intercept:
            p[-1] = 0.0
        return p

    def _Xa_T(self, r: np.ndarray) -> np.ndarray:
        """Xa^T r without building Xa: X^T r, then sum(r) for the intercept column."""
        g = self.X.T.astype(np.float64, copy=False) @ r
        return np.append(g, r.sum()) if self.fit_intercept else g

    def cost(self, w: Any) -> float:
        """The cost at ``w``.

        Parameters
        ----------
        w : array-like of shape (n_params,)
            The parameters ``[coef..., intercept]``.

        Returns
        -------
        float
        """
        return self.cost_gradient(w)[0]

    def gradient(self, w: Any) -> np.ndarray:
        """The gradient of the cost at ``w``.

        Parameters
        ----------
        w : array-like of shape (n_params,)
            The parameters ``[coef..., intercept]``.

        Returns
        -------
        ndarray of shape (n_params,)
        """
        return self.cost_gradient(w)[1]

    def cost_gradient(self, w: Any) -> tuple[float, np.ndarray]:
        """The cost and its gradient at ``w``.

        Parameters
        ----------
        w : array-like of shape (n_params,)
            The parameters ``[coef..., intercept]``.

        Returns
        -------
        cost : float
        gradient : ndarray of shape (n_params,)
        """
        w = np.asarray(w, dtype=np.float64)
        loss, r, _ = self._terms(self._z(w))
        coef, _ = self._split(w)
        cost = float(self.s @ loss + 0.5 * self.alpha * coef @ coef)
        return cost, self._Xa_T(self.s * r) + self._penalty_diag() * w

    def hessian(self, w: Any) -> np.ndarray:
        """The Hessian of the cost at ``w``, ``Xa^T diag(s h) Xa + alpha P`` with Xa formed.

        Parameters
        ----------
        w : array-like of shape (n_params,)
            The parameters ``[coef..., intercept]``.

        Returns
        -------
        ndarray of shape (n_params, n_params)
        """
        _, _, h = self._terms(self._z(w))
        Xa = self._Xa()
        H: np.ndarray = Xa.T @ (Xa * (self.s * h)[:, None]) + np.diag(self._penalty_diag())
        return H

    def cost_gradient_hessian(self, w: Any) -> tuple[float, np.ndarray, np.ndarray]:
        """Cost, gradient and Hessian at ``w``.

        Parameters
        ----------
        w : array-like of shape (n_params,)
            The parameters ``[coef..., intercept]``.

        Returns
        -------
        cost : float
        gradient : ndarray of shape (n_params,)
        hessian : ndarray of shape (n_params, n_params)
        """
        return (*self.cost_gradient(w), self.hessian(w))

    def hessp(self, w: Any, v: Any) -> np.ndarray:
        """The Hessian at ``w`` times the vector ``v``.

        Parameters
        ----------
        w : array-like of shape (n_params,)
            The parameters ``[coef..., intercept]``.
        v : array-like of shape (n_params,)
            The vector to multiply.

        Returns
        -------
        ndarray of shape (n_params,)
        """
        _, _, h = self._terms(self._z(w))
        v = np.asarray(v, dtype=np.float64)
        coef_v, b_v = self._split(v)
        Hv: np.ndarray = self._Xa_T(self.s * h * (self._z_of(coef_v, b_v))) + self._penalty_diag() * v
        return Hv

    def _z_of(self, coef: np.ndarray, b: float) -> np.ndarray:
        z: np.ndarray = self.X.astype(np.float64, copy=False) @ coef + b
        return z


class MultinomialObjective:
    """Plain numpy twin of :class:`gdfast.MultinomialObjective` (same arguments and methods).

    Textbook formulas with ``Xa`` and the one-hot targets formed: ``Z = Xa Theta``,
    ``loss_i = logsumexp(Z_i) - Z_i,y_i``, gradient ``Xa^T S (P - Y)``, Hessian
    ``sum_i s_i kron(xa_i xa_i^T, diag(p_i) - p_i p_i^T)`` by einsum. The parameters ``w`` are
    the free entries of ``Theta`` (C order): without class 0's column when ``reference``, else
    all but class 0's intercept.

    Parameters
    ----------
    X, y, n_classes, alpha, fit_intercept, sample_weight, n_threads, reference
        As for :class:`gdfast.MultinomialObjective` (n_threads is ignored).
    """

    def __init__(self, X: Any, y: Any, n_classes: int | None = None, alpha: float = 0.0,
                 fit_intercept: bool = True, sample_weight: Any = None,
                 n_threads: int | None = None, reference: bool | None = None) -> None:
        self.X = check_X(X)
        self.n_samples, self.n_features = self.X.shape
        self.y = np.asarray(y).astype(np.intp)
        self.n_classes = int(self.y.max()) + 1 if n_classes is None else int(n_classes)
        self.alpha = float(alpha)
        self.fit_intercept = bool(fit_intercept)
        self.reference = self.alpha == 0.0 if reference is None else bool(reference)
        sw = check_sample_weight(sample_weight, self.n_samples)
        sw = np.ones(self.n_samples) if sw is None else sw
        self.s = sw / sw.sum()
        d, K = self.n_features, self.n_classes
        self.Xa = self.X.astype(np.float64)
        if self.fit_intercept:
            self.Xa = np.hstack([self.Xa, np.ones((self.n_samples, 1))])
        free = np.ones((self.Xa.shape[1], K), dtype=bool)
        if self.reference:
            free[:, 0] = False
        elif self.fit_intercept:
            free[d, 0] = False
        self.free = free
        self.n_params = int(free.sum())
        penalised = np.zeros_like(free)
        penalised[:d] = True
        self.penalised = penalised[free]            # which entries of w the penalty covers
        self.Y = np.eye(K)[self.y]

    def theta(self, w: Any) -> np.ndarray:
        """The full (D, n_classes) matrix with w in its free entries.

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        ndarray of shape (D, n_classes)
        """
        theta = np.zeros(self.free.shape)
        theta[self.free] = np.asarray(w, dtype=np.float64)
        return theta

    def _probabilities(self, w: Any) -> tuple[np.ndarray, np.ndarray]:
        Z = self.Xa @ self.theta(w)
        zmax = Z.max(axis=1, keepdims=True)
        lse = zmax[:, 0] + np.log(np.exp(Z - zmax).sum(axis=1))
        loss = lse - Z[np.arange(self.n_samples), self.y]
        return loss, np.exp(Z - lse[:, None])

    def cost(self, w: Any) -> float:
        """The cost at ``w``.

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        float
        """
        return self.cost_gradient(w)[0]

    def gradient(self, w: Any) -> np.ndarray:
        """The gradient at ``w``.

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        ndarray of shape (n_params,)
        """
        return self.cost_gradient(w)[1]

    def cost_gradient(self, w: Any) -> tuple[float, np.ndarray]:
        """The cost and its gradient at ``w``.

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        cost : float
        gradient : ndarray of shape (n_params,)
        """
        w = np.asarray(w, dtype=np.float64)
        loss, P = self._probabilities(w)
        G = self.Xa.T @ (self.s[:, None] * (P - self.Y))
        pen = w * self.penalised
        return float(self.s @ loss + 0.5 * self.alpha * pen @ pen), G[self.free] + self.alpha * pen

    def hessian(self, w: Any) -> np.ndarray:
        """The Hessian at ``w`` over the free entries.

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        ndarray of shape (n_params, n_params)
        """
        _, P = self._probabilities(w)
        D, K = self.free.shape
        sX = self.s[:, None] * self.Xa
        diag_part = np.einsum("ij,il,ik->jkl", sX, self.Xa, P)      # (j, k, l): k == m terms
        H = -np.einsum("ij,ik,il,im->jklm", sX, P, self.Xa, P)
        for k in range(K):
            H[:, k, :, k] += diag_part[:, k, :]
        Hf = H.reshape(D * K, D * K)
        idx = np.flatnonzero(self.free.ravel())
        out: np.ndarray = Hf[np.ix_(idx, idx)] + np.diag(self.alpha * self.penalised)
        return out

    def cost_gradient_hessian(self, w: Any) -> tuple[float, np.ndarray, np.ndarray]:
        """Cost, gradient and Hessian at ``w``.

        Parameters
        ----------
        w : array-like of shape (n_params,)

        Returns
        -------
        cost : float
        gradient : ndarray of shape (n_params,)
        hessian : ndarray of shape (n_params, n_params)
        """
        return (*self.cost_gradient(w), self.hessian(w))

    def hessp(self, w: Any, v: Any) -> np.ndarray:
        """The Hessian at ``w`` times ``v``.

        Parameters
        ----------
        w : array-like of shape (n_params,)
        v : array-like of shape (n_params,)

        Returns
        -------
        ndarray of shape (n_params,)
        """
        Hv: np.ndarray = self.hessian(w) @ np.asarray(v, dtype=np.float64)
        return Hv


def gradient_descent(obj: Objective, learning_rate: float, max_iter: int = 1000, tol: float = 0.0,
                     w0: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-step gradient descent ``w <- w - learning_rate * gradient``.

    Parameters
    ----------
    obj : gdfast.reference.Objective
    learning_rate : float
        The step.
    max_iter : int, default 1000
        The most steps.
    tol : float, default 0.0
        Stop when ``max|gradient| <= tol * max|gradient at the start|`` (0: run all steps).
    w0 : array-like of shape (n_params,), optional
        The starting point; zeros by default.

    Returns
    -------
    w : ndarray of shape (n_params,)
        The last iterate.
    costs : ndarray
        The cost at every iterate, the start included.
    """
    w = np.zeros(obj.n_params) if w0 is None else np.array(w0, dtype=np.float64)
    costs = []
    g0 = None
    for it in range(max_iter + 1):
        c, g = obj.cost_gradient(w)
        costs.append(c)
        gmax = np.max(np.abs(g))
        g0 = gmax if g0 is None else g0
        if gmax <= tol * g0 or it == max_iter:
            break
        w = w - learning_rate * g
    return w, np.array(costs)


def newton(obj: Objective, max_iter: int = 50, tol: float = 1e-10, w0: Any = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Newton's method ``w <- w - t H^-1 gradient`` with a backtracking (Armijo) line search.

    Parameters
    ----------
    obj : gdfast.reference.Objective
    max_iter : int, default 50
        The most Newton steps.
    tol : float, default 1e-10
        Stop when ``max|gradient| <= tol * max|gradient at the start|``.
    w0 : array-like of shape (n_params,), optional
        The starting point; zeros by default.

    Returns
    -------
    w : ndarray of shape (n_params,)
        The last iterate.
    costs : ndarray
        The cost at every iterate, the start included.

    Raises
    ------
    numpy.linalg.LinAlgError
        When the Hessian is singular (no safeguard: use gdfast.minimize for that).
    """
    w = np.zeros(obj.n_params) if w0 is None else np.array(w0, dtype=np.float64)
    costs = []
    g0 = None
    for it in range(max_iter + 1):
        c, g, H = obj.cost_gradient_hessian(w)
        costs.append(c)
        gmax = np.max(np.abs(g))
        g0 = gmax if g0 is None else g0
        if gmax <= tol * g0 or it == max_iter:
            break
        p = np.linalg.solve(H, -g)
        t = 1.0
        while obj.cost(w + t * p) > c + 1e-4 * t * (g @ p) and t > 1e-10:
            t /= 2
        w = w + t * p
    return w, np.array(costs)
