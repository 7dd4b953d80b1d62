# Coordinate descent for an L1-penalised quadratic, in covariance (Gram) form:
#
#     minimise  1/2 w^T Q w - b^T w + sum_{j < n_coef} lam_j |w_j|
#               (subject to w_j >= 0 for j < n_coef when positive)
#
# Q is symmetric with a positive diagonal (a Hessian: the data term's plus the L2 part of the
# penalty), b the linear term. For the squared error this is the cost itself (glmnet's
# "covariance updates": Q = Xa^T S Xa formed once, each coordinate update then O(n_params) and
# no pass over X); for the other losses it is the quadratic model of a proximal-Newton step
# (gdfast._cd_solver). The entries from n_coef on (the intercept) are never penalised.
#
# u = Q w is kept up to date: updating w_j by delta costs u += delta Q[:, j]. Active sets: the
# sweeps cycle over the non-zero coordinates until their largest change is below tol, then one
# sweep over all of them decides: if no coordinate moves by more than tol there, the run ends;
# otherwise the active set is the new non-zeros. The change of a coordinate is measured in
# gradient units, Q_jj |delta_j|, so that tol compares with the stationarity of the model.
# The loop runs without the GIL.

from libc.math cimport fabs

import numpy as np


cdef inline double soft(double r, double lam, bint positive) noexcept nogil:
    if r > lam:
        return r - lam
    if positive:
        return 0.0
    if r < -lam:
        return r + lam
    return 0.0


cdef double sweep(const double[:, ::1] Q, const double[::1] b, double[::1] w, double[::1] u,
                  const double[::1] lam, Py_ssize_t n_coef, bint positive,
                  const Py_ssize_t[::1] order, Py_ssize_t n_order, Py_ssize_t* n_updates
                  ) noexcept nogil:
    """One pass over the coordinates order[:n_order]; returns the largest Q_jj |change|."""
    cdef Py_ssize_t D = Q.shape[0], k, i, j
    cdef double q, r, new, delta, biggest = 0.0
    for k in range(n_order):
        j = order[k]
        q = Q[j, j]
        if q <= 0.0:
            continue
        r = b[j] - u[j] + q * w[j]               # the model's pull on w_j with the others fixed
        if j < n_coef:
            new = soft(r, lam[j], positive) / q
        else:
            new = r / q
        delta = new - w[j]
        if delta != 0.0:
            w[j] = new
            for i in range(D):
                u[i] += delta * Q[i, j]           # Q symmetric: row j is column j
            n_updates[0] += 1
            if fabs(delta) * q > biggest:
                biggest = fabs(delta) * q
    return biggest


def cd_quadratic(const double[:, ::1] Q, const double[::1] b, double[::1] w, double[::1] u,
                 const double[::1] lam, Py_ssize_t n_coef, bint positive, double tol,
                 Py_ssize_t max_sweeps, bint random_order=False, object rng=None):
    """Coordinate descent on the model above, from w (updated in place; u = Q w on entry,
    kept equal to Q w). Returns (sweeps, coordinate updates, converged).

    ``random_order``: each sweep visits the coordinates in a random order drawn from ``rng``
    (a numpy Generator), scikit-learn's selection="random"; otherwise cyclically.
    """
    cdef Py_ssize_t D = Q.shape[0], j, n_active = 0, sweeps = 0, n_updates = 0
    cdef double change
    cdef bint converged = False, full
    if b.shape[0] != D or w.shape[0] != D or u.shape[0] != D or Q.shape[1] != D:
        raise ValueError("cd_quadratic: Q, b, w and u must have matching sizes")
    if lam.shape[0] < n_coef:
        raise ValueError("cd_quadratic: lam must have n_coef entries")
    all_order = np.arange(D, dtype=np.intp)
    cdef Py_ssize_t[::1] everything = all_order
    active_arr = np.empty(D, dtype=np.intp)
    cdef Py_ssize_t[::1] active = active_arr
    full = True                                  # the first sweep is over every coordinate
    while sweeps < max_sweeps:
        if random_order:
            rng.shuffle(all_order)
        if full:
            with nogil:
                change = sweep(Q, b, w, u, lam, n_coef, positive, everything, D, &n_updates)
            sweeps += 1
            if change <= tol:
                converged = True
                break
            n_active = 0
            for j in range(D):
                if w[j] != 0.0 or j >= n_coef:
                    active[n_active] = j
                    n_active += 1
            full = False
            continue
        if random_order:
            rng.shuffle(active_arr[:n_active])
        with nogil:
            change = sweep(Q, b, w, u, lam, n_coef, positive, active, n_active, &n_updates)
        sweeps += 1
        if change <= tol:
            full = True                          # the active set has converged: check all
    return sweeps, n_updates, converged
