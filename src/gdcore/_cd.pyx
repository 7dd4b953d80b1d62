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


# -- naive (residual) updates for the squared error ------------------------------------------
#
#     minimise  sum_i s_i (y_i - x_i . w - b)^2 + sum_j lam_j |w_j| + l2/2 ||w||^2
#
# (gdfast's squared-error cost with s the normalised weights), one column of X per update: the
# residuals r = y - X w - b are kept, a coordinate's pull is 2 sum_i s_i x_ij r_i, and its update
# costs one pass over the column (O(n), or the column's stored entries for CSC). What glmnet
# calls the naive updates: no Gram matrix, so for many features relative to rows. The columns
# of a C-ordered X are read with a stride (no copy of X is made). Active sets as above.

ctypedef fused floating:
    float
    double


cdef inline double column_pull_dense(const floating[:, :] X, Py_ssize_t j, const double[::1] s,
                                     const double[::1] r) noexcept nogil:
    cdef Py_ssize_t i
    cdef double acc = 0.0
    for i in range(X.shape[0]):
        acc += s[i] * X[i, j] * r[i]
    return 2.0 * acc


cdef inline void column_update_dense(const floating[:, :] X, Py_ssize_t j, double delta,
                                     double[::1] r) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(X.shape[0]):
        r[i] -= delta * X[i, j]


cdef double naive_sweep_dense(const floating[:, :] X, const double[::1] s, double[::1] r,
                              double[::1] w, const double[::1] q0, const double[::1] lam,
                              double l2, bint positive, bint intercept, double s_sum,
                              const Py_ssize_t[::1] order, Py_ssize_t n_order,
                              Py_ssize_t* n_updates) noexcept nogil:
    cdef Py_ssize_t d = X.shape[1], k, j, i
    cdef double c, new, delta, q, biggest = 0.0
    for k in range(n_order):
        j = order[k]
        if j == d:                                   # the intercept
            c = 0.0
            for i in range(X.shape[0]):
                c += s[i] * r[i]
            delta = c / s_sum
            if delta != 0.0:
                w[d] += delta
                for i in range(X.shape[0]):
                    r[i] -= delta
                n_updates[0] += 1
                if fabs(delta) * 2.0 * s_sum > biggest:
                    biggest = fabs(delta) * 2.0 * s_sum
            continue
        q = q0[j] + l2
        if q <= 0.0:
            continue
        c = column_pull_dense(X, j, s, r)
        new = soft(q0[j] * w[j] + c, lam[j], positive) / q
        delta = new - w[j]
        if delta != 0.0:
            w[j] = new
            column_update_dense(X, j, delta, r)
            n_updates[0] += 1
            if fabs(delta) * q > biggest:
                biggest = fabs(delta) * q
    return biggest


cdef double naive_sweep_csc(const floating[::1] data, const Py_ssize_t[::1] indices,
                            const Py_ssize_t[::1] indptr, Py_ssize_t n, const double[::1] s,
                            double[::1] r, double[::1] w, const double[::1] q0,
                            const double[::1] lam, double l2, bint positive, bint intercept,
                            double s_sum, const Py_ssize_t[::1] order, Py_ssize_t n_order,
                            Py_ssize_t* n_updates) noexcept nogil:
    cdef Py_ssize_t d = indptr.shape[0] - 1, k, j, i, p
    cdef double c, new, delta, q, biggest = 0.0
    for k in range(n_order):
        j = order[k]
        if j == d:
            c = 0.0
            for i in range(n):
                c += s[i] * r[i]
            delta = c / s_sum
            if delta != 0.0:
                w[d] += delta
                for i in range(n):
                    r[i] -= delta
                n_updates[0] += 1
                if fabs(delta) * 2.0 * s_sum > biggest:
                    biggest = fabs(delta) * 2.0 * s_sum
            continue
        q = q0[j] + l2
        if q <= 0.0:
            continue
        c = 0.0
        for p in range(indptr[j], indptr[j + 1]):
            c += s[indices[p]] * data[p] * r[indices[p]]
        new = soft(q0[j] * w[j] + 2.0 * c, lam[j], positive) / q
        delta = new - w[j]
        if delta != 0.0:
            w[j] = new
            for p in range(indptr[j], indptr[j + 1]):
                r[indices[p]] -= delta * data[p]
            n_updates[0] += 1
            if fabs(delta) * q > biggest:
                biggest = fabs(delta) * q
    return biggest


def cd_squared_error(X, const double[::1] s, double[::1] r, double[::1] w,
                     const double[::1] q0, const double[::1] lam, double l2, bint positive,
                     bint intercept, double tol, Py_ssize_t max_sweeps):
    """Coordinate descent with residual updates for the squared error (see above), from w
    (updated in place; r = y - offset - Xa w on entry, kept up to date). X is a dense 2-D
    float32/float64 array (any strides) or a tuple (data, indices, indptr, n_rows) of CSC
    arrays (intp indices). q0 holds ``2 sum_i s_i x_ij^2``. Returns (sweeps, updates,
    converged)."""
    cdef bint sparse = isinstance(X, tuple)
    cdef Py_ssize_t d = len(q0), D = d + (1 if intercept else 0), n = r.shape[0]
    cdef Py_ssize_t j, n_active = 0, sweeps = 0, n_updates = 0
    cdef double change = 0.0, s_sum = 0.0
    cdef bint converged = False, full = True
    for j in range(n):
        s_sum += s[j]
    if w.shape[0] != D or lam.shape[0] != d or s.shape[0] != n:
        raise ValueError("cd_squared_error: w, lam, s and r must have matching sizes")
    everything_arr = np.arange(D, dtype=np.intp)
    cdef Py_ssize_t[::1] everything = everything_arr
    active_arr = np.empty(D, dtype=np.intp)
    cdef Py_ssize_t[::1] active = active_arr
    cdef const Py_ssize_t[::1] indices
    cdef const Py_ssize_t[::1] indptr
    cdef const double[:, :] X64
    cdef const float[:, :] X32
    cdef const double[::1] d64
    cdef const float[::1] d32
    cdef int kind                                    # 0 dense64, 1 dense32, 2 csc64, 3 csc32
    if sparse:
        data, indices, indptr = X[0], X[1], X[2]
        if data.dtype == np.float32:
            d32, kind = data, 3
        else:
            d64, kind = data, 2
    elif X.dtype == np.float32:
        X32, kind = X, 1
    else:
        X64, kind = X, 0
    while sweeps < max_sweeps:
        with nogil:
            if kind == 0:
                change = naive_sweep_dense(X64, s, r, w, q0, lam, l2, positive, intercept, s_sum,
                                           everything if full else active,
                                           D if full else n_active, &n_updates)
            elif kind == 1:
                change = naive_sweep_dense(X32, s, r, w, q0, lam, l2, positive, intercept, s_sum,
                                           everything if full else active,
                                           D if full else n_active, &n_updates)
            elif kind == 2:
                change = naive_sweep_csc(d64, indices, indptr, n, s, r, w, q0, lam, l2, positive,
                                         intercept, s_sum, everything if full else active,
                                         D if full else n_active, &n_updates)
            else:
                change = naive_sweep_csc(d32, indices, indptr, n, s, r, w, q0, lam, l2, positive,
                                         intercept, s_sum, everything if full else active,
                                         D if full else n_active, &n_updates)
        sweeps += 1
        if full:
            if change <= tol:
                converged = True
                break
            n_active = 0
            for j in range(D):
                if j >= d or w[j] != 0.0:
                    active[n_active] = j
                    n_active += 1
            full = False
        elif change <= tol:
            full = True
    return sweeps, n_updates, converged


# -- proximal Newton for the other losses: the quadratic model by residual updates ------------
#
# At w the model of the smooth data term is, with z = Xa w, r_i = s_i loss'(z_i) and
# h_i = s_i loss''(z_i) (the IRLS weights) and the step's predictions zd = Xa (v - w):
#
#     sum_i r_i zd_i + 1/2 sum_i h_i zd_i^2  +  sum_j l2_j/2 v_j^2 + lam_j |v_j|
#
# minimised over v by cyclic coordinate descent over a working set of coordinates (the others
# stay at w). zd is kept (length n), so a coordinate's pull is sum_i x_ij (r_i + h_i zd_i) and
# its update O(n) (a column's stored entries for CSC); its curvature a_j = sum_i h_i x_ij^2 is
# computed once per call for the working columns. The Hessian is never formed. Dense columns of
# a C-ordered X are first gathered into a contiguous (n_working, n) buffer when it fits
# (``gather``), otherwise read with a stride. Inner active sets as in cd_quadratic; the
# intercept (index n_coef) is an unpenalised coordinate with x_i = 1.

cdef inline double column_pull(const floating* x, Py_ssize_t stride, const double* r,
                               const double* h, const double* zd, Py_ssize_t n
                               ) noexcept nogil:
    """sum_i x_i (r_i + h_i zd_i), x read with a stride (in elements); four partial sums for
    the pipelining that a strict floating-point reduction otherwise forbids."""
    cdef Py_ssize_t i = 0
    cdef double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0
    while i + 4 <= n:
        a0 += x[i * stride] * (r[i] + h[i] * zd[i])
        a1 += x[(i + 1) * stride] * (r[i + 1] + h[i + 1] * zd[i + 1])
        a2 += x[(i + 2) * stride] * (r[i + 2] + h[i + 2] * zd[i + 2])
        a3 += x[(i + 3) * stride] * (r[i + 3] + h[i + 3] * zd[i + 3])
        i += 4
    while i < n:
        a0 += x[i * stride] * (r[i] + h[i] * zd[i])
        i += 1
    return (a0 + a1) + (a2 + a3)


cdef inline double column_curvature(const floating* x, Py_ssize_t stride, const double* h,
                                    Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef double acc = 0.0, v
    for i in range(n):
        v = x[i * stride]
        acc += h[i] * v * v
    return acc


cdef double model_sweep_dense(const floating* X0, Py_ssize_t row_stride, Py_ssize_t col_stride,
                              const double[::1] r, const double[::1] h,
                              double[::1] zd, double[::1] w, const double[::1] a,
                              const double[::1] l2, const double[::1] lam,
                              const Py_ssize_t[::1] working, const Py_ssize_t[::1] order,
                              Py_ssize_t n_order, Py_ssize_t n_coef, bint positive,
                              bint gathered, Py_ssize_t* n_updates) noexcept nogil:
    """One sweep over working[order[:n_order]]; X0 is X (column j at X0 + j col_stride) or the
    gathered columns (position p at X0 + p col_stride), rows row_stride apart. Returns the
    largest (a_j + l2_j) |change|."""
    cdef Py_ssize_t n = r.shape[0], k, p, j, i
    cdef double acc, q, new, delta, biggest = 0.0
    cdef const floating* x
    for k in range(n_order):
        p = order[k]
        j = working[p]
        q = a[p] + (l2[j] if j < n_coef else 0.0)
        if q <= 0.0:
            continue
        if j == n_coef:                              # the intercept
            acc = 0.0
            for i in range(n):
                acc += r[i] + h[i] * zd[i]
            new = w[j] - acc / q
        else:
            x = X0 + (p if gathered else j) * col_stride
            acc = column_pull(x, row_stride, &r[0], &h[0], &zd[0], n)
            new = soft(a[p] * w[j] - acc, lam[j], positive) / q
        delta = new - w[j]
        if delta == 0.0:
            continue
        w[j] = new
        if j == n_coef:
            for i in range(n):
                zd[i] += delta
        else:
            for i in range(n):
                zd[i] += delta * x[i * row_stride]
        n_updates[0] += 1
        if fabs(delta) * q > biggest:
            biggest = fabs(delta) * q
    return biggest


cdef double model_sweep_csc(const floating[::1] data, const Py_ssize_t[::1] indices,
                            const Py_ssize_t[::1] indptr, const double[::1] r,
                            const double[::1] h, double[::1] zd, double[::1] w,
                            const double[::1] a, const double[::1] l2, const double[::1] lam,
                            const Py_ssize_t[::1] working, const Py_ssize_t[::1] order,
                            Py_ssize_t n_order, Py_ssize_t n_coef, bint positive,
                            Py_ssize_t* n_updates) noexcept nogil:
    cdef Py_ssize_t n = r.shape[0], k, p, j, i, t
    cdef double acc, q, new, delta, biggest = 0.0
    for k in range(n_order):
        p = order[k]
        j = working[p]
        q = a[p] + (l2[j] if j < n_coef else 0.0)
        if q <= 0.0:
            continue
        acc = 0.0
        if j == n_coef:
            for i in range(n):
                acc += r[i] + h[i] * zd[i]
            new = w[j] - acc / q
        else:
            for t in range(indptr[j], indptr[j + 1]):
                i = indices[t]
                acc += data[t] * (r[i] + h[i] * zd[i])
            new = soft(a[p] * w[j] - acc, lam[j], positive) / q
        delta = new - w[j]
        if delta == 0.0:
            continue
        w[j] = new
        if j == n_coef:
            for i in range(n):
                zd[i] += delta
        else:
            for t in range(indptr[j], indptr[j + 1]):
                zd[indices[t]] += delta * data[t]
        n_updates[0] += 1
        if fabs(delta) * q > biggest:
            biggest = fabs(delta) * q
    return biggest


cdef void curvatures_dense(const floating* X0, Py_ssize_t row_stride, Py_ssize_t col_stride,
                           const double[::1] h, const Py_ssize_t[::1] working,
                           Py_ssize_t n_coef, bint gathered, double[::1] a) noexcept nogil:
    cdef Py_ssize_t n = h.shape[0], p, j, i
    cdef double acc
    for p in range(working.shape[0]):
        j = working[p]
        if j == n_coef:
            acc = 0.0
            for i in range(n):
                acc += h[i]
            a[p] = acc
        else:
            a[p] = column_curvature(X0 + (p if gathered else j) * col_stride, row_stride,
                                    &h[0], n)


cdef void curvatures_csc(const floating[::1] data, const Py_ssize_t[::1] indices,
                         const Py_ssize_t[::1] indptr, const double[::1] h,
                         const Py_ssize_t[::1] working, Py_ssize_t n_coef,
                         double[::1] a) noexcept nogil:
    cdef Py_ssize_t n = h.shape[0], p, j, i, t
    cdef double acc
    for p in range(working.shape[0]):
        j = working[p]
        acc = 0.0
        if j == n_coef:
            for i in range(n):
                acc += h[i]
        else:
            for t in range(indptr[j], indptr[j + 1]):
                acc += h[indices[t]] * data[t] * data[t]
        a[p] = acc


cdef void gather_columns(const floating[:, :] X, const Py_ssize_t[::1] working,
                         Py_ssize_t n_coef, floating[:, ::1] out) noexcept nogil:
    """out[p] = X[:, working[p]] (the intercept's row left unset), row by row of X."""
    cdef Py_ssize_t n = X.shape[0], p, i
    for i in range(n):
        for p in range(working.shape[0]):
            if working[p] != n_coef:
                out[p, i] = X[i, working[p]]


#: Gather the working columns of a dense X when they hold at most this many entries.
GATHER_MAX_ENTRIES = 1 << 24


def cd_newton_model(X, const double[::1] r, const double[::1] h, double[::1] w,
                    double[::1] zd, const double[::1] l2, const double[::1] lam,
                    const Py_ssize_t[::1] working, bint positive, double tol,
                    Py_ssize_t max_sweeps):
    """Coordinate descent on the proximal-Newton model above over the coordinates ``working``
    (ascending; the intercept, if any, is index ``len(lam)``), from w (updated in place).
    zd must be zeros on entry and holds ``Xa (w_new - w_old)`` on return. X is a dense 2-D
    float32/float64 array (any strides) or a tuple (data, indices, indptr, n_rows) of CSC
    arrays (intp indices). Returns (sweeps, coordinate updates, converged)."""
    cdef Py_ssize_t n_coef = lam.shape[0], n = r.shape[0], W = working.shape[0]
    cdef Py_ssize_t p, n_active = 0, sweeps = 0, n_updates = 0
    cdef double change = 0.0
    cdef bint converged = False, full = True, gathered = False
    cdef bint sparse = isinstance(X, tuple)
    if h.shape[0] != n or zd.shape[0] != n or l2.shape[0] != w.shape[0]:
        raise ValueError("cd_newton_model: r, h, zd and w, l2 must have matching sizes")
    for p in range(W):
        if working[p] < 0 or working[p] >= w.shape[0]:
            raise ValueError("cd_newton_model: working holds an index out of range")
    a_arr = np.empty(W)
    cdef double[::1] a = a_arr
    everything_arr = np.arange(W, dtype=np.intp)
    cdef Py_ssize_t[::1] everything = everything_arr
    active_arr = np.empty(W, dtype=np.intp)
    cdef Py_ssize_t[::1] active = active_arr
    cdef const Py_ssize_t[::1] indices
    cdef const Py_ssize_t[::1] indptr
    cdef const double[:, :] X64
    cdef const float[:, :] X32
    cdef double[:, ::1] G64
    cdef float[:, ::1] G32
    cdef const double[::1] d64
    cdef const float[::1] d32
    cdef const double* P64 = NULL
    cdef const float* P32 = NULL
    cdef Py_ssize_t row_stride = 1, col_stride = 1
    cdef int kind                                    # 0 dense64, 1 dense32, 2 csc64, 3 csc32
    if W == 0 or n == 0:
        return 0, 0, True
    if sparse:
        data, indices, indptr = X[0], X[1], X[2]
        if data.dtype == np.float32:
            d32, kind = data, 3
        else:
            d64, kind = data, 2
    else:
        if X.ndim != 2 or X.shape[0] != n or X.shape[1] != n_coef or n_coef == 0:
            raise ValueError("cd_newton_model: X must be 2-D with a column per entry of lam "
                             "and as many rows as r")
        # the columns of a C-ordered X are gathered (contiguous) when they fit
        gathered = X.strides[0] != X.itemsize and W * n <= GATHER_MAX_ENTRIES
        if X.dtype == np.float32:
            X32, kind = X, 1
            if gathered:
                G32 = np.empty((W, n), dtype=np.float32)
                with nogil:
                    gather_columns(X32, working, n_coef, G32)
                P32, col_stride = &G32[0, 0], n
            else:
                P32 = &X32[0, 0]
                row_stride, col_stride = X32.strides[0] // 4, X32.strides[1] // 4
        else:
            X64, kind = X, 0
            if gathered:
                G64 = np.empty((W, n))
                with nogil:
                    gather_columns(X64, working, n_coef, G64)
                P64, col_stride = &G64[0, 0], n
            else:
                P64 = &X64[0, 0]
                row_stride, col_stride = X64.strides[0] // 8, X64.strides[1] // 8
    with nogil:
        if kind == 0:
            curvatures_dense(P64, row_stride, col_stride, h, working, n_coef, gathered, a)
        elif kind == 1:
            curvatures_dense(P32, row_stride, col_stride, h, working, n_coef, gathered, a)
        elif kind == 2:
            curvatures_csc(d64, indices, indptr, h, working, n_coef, a)
        else:
            curvatures_csc(d32, indices, indptr, h, working, n_coef, a)
    while sweeps < max_sweeps:
        with nogil:
            if kind == 0:
                change = model_sweep_dense(P64, row_stride, col_stride, r, h, zd, w, a, l2, lam,
                                           working,
                                           everything if full else active,
                                           W if full else n_active, n_coef, positive, gathered,
                                           &n_updates)
            elif kind == 1:
                change = model_sweep_dense(P32, row_stride, col_stride, r, h, zd, w, a, l2, lam,
                                           working,
                                           everything if full else active,
                                           W if full else n_active, n_coef, positive, gathered,
                                           &n_updates)
            elif kind == 2:
                change = model_sweep_csc(d64, indices, indptr, r, h, zd, w, a, l2, lam, working,
                                         everything if full else active,
                                         W if full else n_active, n_coef, positive, &n_updates)
            else:
                change = model_sweep_csc(d32, indices, indptr, r, h, zd, w, a, l2, lam, working,
                                         everything if full else active,
                                         W if full else n_active, n_coef, positive, &n_updates)
        sweeps += 1
        if full:
            if change <= tol:
                converged = True
                break
            n_active = 0
            for p in range(W):
                if working[p] >= n_coef or w[working[p]] != 0.0:
                    active[n_active] = p
                    n_active += 1
            full = False
        elif change <= tol:
            full = True
    return sweeps, n_updates, converged
