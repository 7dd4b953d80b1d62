# Epochs of mini-batch stochastic gradient descent and Adam, without the GIL.
#
# One call runs one epoch: it walks the rows of X in the order `perm` (the caller shuffles), in
# batches of `batch_size` rows, and after each batch updates the parameters w = [coef, intercept]
# with an estimate of the gradient of the cost
#
#     cost(w) = sum_i s_i loss(z_i, y_i) + alpha/2 ||coef||^2,   s_i = sample_weight_i / sum(weights).
#
# The batch estimate (1/m) sum_{i in batch} (n s_i) loss'(z_i) xa_i + alpha [coef, 0] is unbiased
# when rows are drawn uniformly: n s_i is 1 for unit weights. The per-sample losses come from
# gdfast/_loss.pxd, shared with the full-batch kernels, through its dispatch on the loss code
# (loss_terms).
#
# X is dense (run_epoch) or CSR (run_epoch_csr, scipy's data/indices/indptr). The update rules
# are written once (Stepper._update), except plain SGD on CSR, which has a lazy form of its own
# (_lazy_step) so that an epoch touches only the stored entries.
#
# The caller (gdfast._sgd) evaluates the full cost between epochs, keeps the best iterate and
# decides about convergence, divergence and the "adaptive" schedule; this module only steps.

from cpython.exc cimport PyErr_CheckSignals
from libc.math cimport sqrt, pow, isfinite, fabs
from libc.stdint cimport int32_t, int64_t

from gdfast._loss cimport loss_terms_param, n_losses, loss_name

import numpy as np

from gdfast._sparse import structure_error as _structure_error

ctypedef fused floating:
    float
    double

ctypedef fused index_t:
    int32_t
    int64_t

def loss_codes():
    """The compiled losses, {name: code}, from the one list in gdfast/_loss.pxd."""
    return {loss_name(c).decode(): c for c in range(n_losses())}
METHOD_SGD = 0
METHOD_ADAM = 1
SCHEDULE_CONSTANT = 0
SCHEDULE_INVSCALING = 1

cdef enum:
    C_SGD = 0
    C_ADAM = 1
    C_INVSCALING = 1

# Check for Ctrl-C after about this many element reads (a few milliseconds of work).
DEF SIGNAL_EVERY_ELEMENTS = 10000000
# The same for CSR, whose entries are read at random (a gather and a scatter each): tens of ms.
DEF SIGNAL_EVERY_CSR_ELEMENTS = 1000000
# Lazy SGD on CSR: the scale factor of the coefficients is folded into them below this. The
# running sum of the average, acc + csum v with v = coef / scale, loses about eps / scale of its
# relative accuracy to cancellation: 1e-4 keeps that near 1e-12 (1e-9 gave 3e-9 in tests).
DEF RESCALE_BELOW = 1e-4


cdef void _batch_gradient(const floating* X, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t d,
                          const double* y, const double* cw, const Py_ssize_t* rows,
                          Py_ssize_t m, int loss, double loss_param, const double* offset,
                          bint fit_intercept, const double* w, double* g) noexcept nogil:
    """g = (1/m) sum over the m rows of (n s_i) loss'(z_i) xa_i (no penalty); z_i includes
    offset_i unless offset is NULL."""
    cdef Py_ssize_t k, j, i
    cdef Py_ssize_t D = d + fit_intercept
    cdef const floating* x
    cdef double z, r, h, b = w[d] if fit_intercept else 0.0
    for j in range(D):
        g[j] = 0
    for k in range(m):
        i = rows[k]
        x = X + i * rs
        z = b if offset == NULL else b + offset[i]
        for j in range(d):
            z += x[j * cs] * w[j]
        loss_terms_param(loss, loss_param, z, y[i], &r, &h)
        if cw != NULL:
            r *= cw[i]
        for j in range(d):
            g[j] += r * x[j * cs]
        if fit_intercept:
            g[d] += r
    for j in range(D):
        g[j] /= m


# ---------------------------------------------------------------------------------------------
# CSR batches
# ---------------------------------------------------------------------------------------------

cdef Py_ssize_t _csr_residuals(const floating* data, const index_t* ind, const index_t* ptr,
                               const double* y, const double* cw, const Py_ssize_t* rows,
                               Py_ssize_t m, int loss, double loss_param, const double* offset,
                               const double* v, double scale, double b,
                               double* r) noexcept nogil:
    """r[k] = (n s_i) loss'(z_i) for the rows i = rows[k], z_i = scale (x_i . v) + b (+ offset_i
    unless offset is NULL).

    Returns the number of stored entries read.
    """
    cdef Py_ssize_t k, i, p, read = 0
    cdef double z, h
    for k in range(m):
        i = rows[k]
        z = 0
        for p in range(ptr[i], ptr[i + 1]):
            z += data[p] * v[ind[p]]
        read += ptr[i + 1] - ptr[i]
        z = scale * z + b
        if offset != NULL:
            z += offset[i]
        loss_terms_param(loss, loss_param, z, y[i], &r[k], &h)
        if cw != NULL:
            r[k] *= cw[i]
    return read


cdef void _csr_batch_gradient(const floating* data, const index_t* ind, const index_t* ptr,
                              Py_ssize_t d, bint fit_intercept, const Py_ssize_t* rows,
                              Py_ssize_t m, const double* r, double* g) noexcept nogil:
    """g = (1/m) sum_k r[k] xa_{rows[k]} (no penalty), as a dense vector of d + fit_intercept."""
    cdef Py_ssize_t k, p, j
    cdef Py_ssize_t D = d + fit_intercept
    for j in range(D):
        g[j] = 0
    for k in range(m):
        for p in range(ptr[rows[k]], ptr[rows[k] + 1]):
            g[ind[p]] += r[k] * data[p]
        if fit_intercept:
            g[d] += r[k]
    for j in range(D):
        g[j] /= m


# Lazy plain SGD. With momentum 0 a step is
#     coef <- (1 - lr alpha) coef - lr gb,   gb = (1/m) sum_k r_k x_k  (the batch's stored entries),
# and with coef = scale * v it becomes scale <- (1 - lr alpha) scale, v <- v - lr/(m scale) sum_k r_k x_k:
# O(1) for the decay and O(entries of the batch) for the rest.
# The mean of the iterates: with csum = the sum of scale over the averaged updates since the last
# fold, acc_j + csum v_j is the sum of coef_j over them (between two changes of v_j, each update
# adds scale v_j). A change dv of v_j leaves the past terms alone if acc_j -= csum dv.
cdef struct Lazy:
    double scale
    double csum


cdef void _fold(Lazy* L, double* v, double* acc, Py_ssize_t d, bint averaging) noexcept nogil:
    """Bring acc up to date and move the scale into v: afterwards coef = v and, when averaging,
    acc is the sum of the averaged coefficients (O(d))."""
    cdef Py_ssize_t j
    if averaging and L.csum != 0:
        for j in range(d):
            acc[j] += L.csum * v[j]
    L.csum = 0
    if L.scale != 1:
        for j in range(d):
            v[j] *= L.scale
    L.scale = 1


cdef class Stepper:
    """Parameters and state of a stochastic run (SGD with momentum, or Adam), kept across epochs.

    Attributes set by the caller between epochs: ``learning_rate`` (the base step; the
    "adaptive" schedule lowers it), ``averaging`` (add each new iterate to the running mean).
    ``steps`` counts updates since the start, ``n_averaged`` the iterates in the mean ``w_avg``.
    """
    cdef readonly int method, loss, schedule
    cdef readonly bint fit_intercept
    cdef readonly double alpha, power_t, momentum, beta1, beta2, eps, loss_param
    cdef readonly Py_ssize_t batch_size
    cdef public double learning_rate
    cdef public bint averaging
    cdef public double steps, n_averaged
    cdef double[::1] buf1        # SGD: velocity; Adam: first moment
    cdef double[::1] buf2        # Adam: second moment
    cdef double[::1] grad
    cdef double[::1] acc_buf     # lazy SGD on CSR: the running sum of the averaged coefficients
    cdef double[::1] resid_buf   # CSR: loss' of the rows of a batch
    cdef double* _b1
    cdef double* _b2
    cdef double* _grad
    cdef double* _acc
    cdef double* _wavg
    cdef double* _resid
    cdef const double* _offset   # the offset of the epoch being run (NULL: none)
    cdef readonly object w_avg
    cdef object _checked         # the CSR arrays whose structure was last checked

    def __cinit__(self, int method, int loss, bint fit_intercept, double alpha, Py_ssize_t n_params,
                  Py_ssize_t batch_size, double learning_rate, int schedule, double power_t,
                  double momentum=0.0, double beta1=0.9, double beta2=0.999, double eps=1e-8,
                  double loss_param=0.0):
        cdef double[::1] wavg
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if not 0 <= loss < n_losses():
            raise ValueError(f"loss must be a compiled loss code (loss_codes()); got {loss}")
        if n_params < 1:
            raise ValueError("n_params must be >= 1")
        self.method = method
        self.loss = loss
        self.loss_param = loss_param
        self.fit_intercept = fit_intercept
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.schedule = schedule
        self.power_t = power_t
        self.momentum = momentum
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.steps = 0
        self.n_averaged = 0
        self.averaging = False
        self.buf1 = np.zeros(n_params)
        self.buf2 = np.zeros(n_params)
        self.grad = np.zeros(n_params)
        self.acc_buf = np.zeros(n_params)
        self.w_avg = np.zeros(n_params)
        wavg = self.w_avg
        self._b1 = &self.buf1[0]
        self._b2 = &self.buf2[0]
        self._grad = &self.grad[0]
        self._acc = &self.acc_buf[0]
        self._wavg = &wavg[0]
        self.resid_buf = np.zeros(1)                 # grown to the batch by run_epoch_csr
        self._resid = &self.resid_buf[0]
        self._checked = None
        self._offset = NULL

    cdef inline double _rate(self, double steps_per_epoch) noexcept nogil:
        """The step of the next update under the schedule; counts the update."""
        cdef double lr = self.learning_rate
        if self.schedule == C_INVSCALING:
            # lr / (1 + epochs done)^power_t, with fractional epochs: the decay per
            # epoch is the same whatever the batch size
            lr = lr / pow(1.0 + self.steps / steps_per_epoch, self.power_t)
        self.steps += 1
        return lr

    cdef bint _update(self, double* g, double* w, Py_ssize_t d, double lr) noexcept nogil:
        """One momentum-SGD or Adam update of every coordinate from g, the batch gradient
        without the penalty (added here); then the running mean when averaging. False (and no
        averaging) when w stopped being finite."""
        cdef Py_ssize_t j, D = d + self.fit_intercept
        cdef double c1, c2, mhat, vhat
        cdef double* b1 = self._b1
        cdef double* b2 = self._b2
        for j in range(d):
            g[j] += self.alpha * w[j]
        if self.method == C_SGD:
            # heavy-ball momentum: v <- momentum v - lr g; w <- w + v
            for j in range(D):
                b1[j] = self.momentum * b1[j] - lr * g[j]
                w[j] += b1[j]
        else:
            # Adam: moving averages of g and g^2, corrected for their start at zero
            c1 = 1.0 - pow(self.beta1, self.steps)
            c2 = 1.0 - pow(self.beta2, self.steps)
            for j in range(D):
                b1[j] = self.beta1 * b1[j] + (1.0 - self.beta1) * g[j]
                b2[j] = self.beta2 * b2[j] + (1.0 - self.beta2) * g[j] * g[j]
                mhat = b1[j] / c1
                vhat = b2[j] / c2
                w[j] -= lr * mhat / (sqrt(vhat) + self.eps)
        for j in range(D):
            if not isfinite(w[j]):
                return False
        if self.averaging:
            self.n_averaged += 1
            for j in range(D):
                self._wavg[j] += (w[j] - self._wavg[j]) / self.n_averaged
        return True

    cdef Py_ssize_t _check_epoch(self, Py_ssize_t n, const Py_ssize_t[::1] perm,
                                 double[::1] w) except -1:
        """Refuse w and perm that do not fit n rows and this stepper (the loops index through
        them without checks); returns d, the number of features."""
        cdef Py_ssize_t i, lo = 0, hi = 0, D = self.grad.shape[0]
        if w.shape[0] != D:
            raise ValueError(f"w has {w.shape[0]} elements, expected n_params = {D}")
        if perm.shape[0] != n:
            raise ValueError(f"perm has {perm.shape[0]} elements, expected {n} (one per row)")
        if n < 1:
            raise ValueError("X has no rows")
        with nogil:
            lo = perm[0]
            hi = perm[0]
            for i in range(n):
                lo = perm[i] if perm[i] < lo else lo
                hi = perm[i] if perm[i] > hi else hi
        if lo < 0 or hi >= n:
            raise ValueError(f"perm holds the row {lo if lo < 0 else hi}, outside [0, {n})")
        return D - self.fit_intercept

    def run_epoch(self, X, const double[::1] y, cw, const Py_ssize_t[::1] perm, double[::1] w,
                  offset=None):
        """One pass over the rows in the order perm; updates w (and w_avg when averaging).

        X is float32 or float64 with contiguous rows or columns; cw is None (unit weights) or
        n * s_i per row; offset is None or n float64 added to the rows' predictions. Returns
        False if w stopped being finite (the epoch is then cut short and w must be discarded
        by the caller), True otherwise. Each batch costs O(batch_size * d).
        """
        cdef const float[:, :] Xf
        cdef const double[:, :] Xd
        cdef const void* Xp
        cdef const double[::1] cwv
        cdef const double* cwp = NULL
        cdef const double[::1] offv
        cdef const double* offp = NULL
        cdef bint f32 = X.dtype == np.float32
        cdef Py_ssize_t n = X.shape[0], d = X.shape[1], itemsize
        cdef Py_ssize_t rs, cs
        cdef Py_ssize_t start, m, batches_done = 0, check_every
        cdef double* g = self._grad
        cdef double* wp
        cdef double lr, steps_per_epoch
        cdef bint finite = True
        if y.shape[0] != n:
            raise ValueError(f"y has {y.shape[0]} elements, expected {n} (one per row of X)")
        if self._check_epoch(n, perm, w) != d:
            raise ValueError(f"w has {w.shape[0]} elements, expected {d + self.fit_intercept} "
                             "(one per column of X, plus the intercept)")
        wp = &w[0]
        if f32:
            Xf = X
            Xp = &Xf[0, 0]
            itemsize = 4
        else:
            Xd = X
            Xp = &Xd[0, 0]
            itemsize = 8
        rs = X.strides[0] // itemsize
        cs = X.strides[1] // itemsize
        if cw is not None:
            cwv = cw
            if cwv.shape[0] != n:
                raise ValueError(f"cw has {cwv.shape[0]} elements, expected {n}")
            cwp = &cwv[0]
        if offset is not None:
            offv = offset
            if offv.shape[0] != n:
                raise ValueError(f"offset has {offv.shape[0]} elements, expected {n}")
            offp = &offv[0]
        steps_per_epoch = <double>((n + self.batch_size - 1) // self.batch_size)
        check_every = max(1, SIGNAL_EVERY_ELEMENTS // max(1, self.batch_size * d))
        with nogil:
            start = 0
            while start < n:
                m = min(self.batch_size, n - start)
                if f32:
                    _batch_gradient(<const float*>Xp, rs, cs, d, &y[0], cwp, &perm[start], m,
                                    self.loss, self.loss_param, offp, self.fit_intercept, wp, g)
                else:
                    _batch_gradient(<const double*>Xp, rs, cs, d, &y[0], cwp, &perm[start], m,
                                    self.loss, self.loss_param, offp, self.fit_intercept, wp, g)
                lr = self._rate(steps_per_epoch)
                if not self._update(g, wp, d, lr):
                    finite = False
                    break
                start += m
                batches_done += 1
                if batches_done % check_every == 0:
                    with gil:
                        PyErr_CheckSignals()
        return finite

    def run_epoch_csr(self, data, indices, indptr, const double[::1] y, cw,
                      const Py_ssize_t[::1] perm, double[::1] w, offset=None):
        """One pass over the rows of a CSR X in the order perm; updates w (and w_avg when
        averaging). The same updates and return value as run_epoch on X densified.

        data, indices and indptr are the arrays of a scipy.sparse CSR matrix (X.data,
        X.indices, X.indptr): data float32 or float64, indices and indptr both int32 or both
        int64, 1-D and C-contiguous. Column indices may be unsorted and may repeat (repeats
        count as their sum). The structure is checked (one pass) when these arrays were not
        the ones of the previous call; they must not change during a run. y, cw, perm and w as
        in run_epoch; n is the length of y, the number of columns is len(w) - fit_intercept.

        Cost: plain SGD (momentum 0) is O(nnz + d) an epoch. The penalty's decay is kept as a
        scale factor on the coefficients and the mean of the iterates as a running sum plus a
        multiple of the coefficients, so an update touches only the stored entries of its
        batch; O(d) work is done once at the end of the epoch and whenever the scale factor
        falls below 1e-4 (about every 9 / (lr alpha) updates). Finiteness is checked on the
        entries an update touches and, for the whole w, at the end of the epoch. Momentum and
        Adam move every coordinate at every update (their state decays also where the batch
        has no entry): O(nnz + d) per batch, O(nnz + d * n / batch_size) an epoch.
        """
        cdef const float[::1] df
        cdef const double[::1] dd
        cdef const int32_t[::1] i32, p32
        cdef const int64_t[::1] i64, p64
        cdef const void* dp = NULL
        cdef const void* ip = NULL
        cdef const void* pp = NULL
        cdef const double[::1] cwv
        cdef const double* cwp = NULL
        cdef const double[::1] offv
        cdef Py_ssize_t n = y.shape[0], d, j, nnz
        cdef double* wp
        cdef bint lazy = self.method == C_SGD and self.momentum == 0
        cdef bint averaging = self.averaging
        cdef bint f32, i64b
        cdef int ok = 0
        cdef Lazy L
        d = self._check_epoch(n, perm, w)
        wp = &w[0]
        if data.dtype == np.float32:
            f32 = True
        elif data.dtype == np.float64:
            f32 = False
        else:
            raise TypeError(f"data must be float32 or float64; got {data.dtype}")
        if indices.dtype != indptr.dtype or indices.dtype not in (np.int32, np.int64):
            raise TypeError(f"indices and indptr must both be int32 or both int64; got "
                            f"{indices.dtype} and {indptr.dtype}")
        i64b = indices.dtype == np.int64
        checked = self._checked
        if not (checked is not None and checked[0] is data and checked[1] is indices
                and checked[2] is indptr and checked[3] == (n, d)):
            message = _structure_error(indptr, indices, n, d)
            if message is not None:
                raise ValueError(f"indptr and indices do not describe a CSR matrix of {n} rows "
                                 f"and {d} columns: {message}")
            nnz = int(indptr[n])
            if data.shape[0] < nnz:
                raise ValueError(f"data has {data.shape[0]} elements, indptr needs {nnz}")
            self._checked = (data, indices, indptr, (n, d))
        if f32:
            df = data
            dp = &df[0] if df.shape[0] > 0 else NULL
        else:
            dd = data
            dp = &dd[0] if dd.shape[0] > 0 else NULL
        if i64b:
            i64 = indices
            p64 = indptr
            ip = &i64[0] if i64.shape[0] > 0 else NULL
            pp = &p64[0]
        else:
            i32 = indices
            p32 = indptr
            ip = &i32[0] if i32.shape[0] > 0 else NULL
            pp = &p32[0]
        if cw is not None:
            cwv = cw
            if cwv.shape[0] != n:
                raise ValueError(f"cw has {cwv.shape[0]} elements, expected {n}")
            cwp = &cwv[0]
        self._offset = NULL
        if offset is not None:
            offv = offset
            if offv.shape[0] != n:
                raise ValueError(f"offset has {offv.shape[0]} elements, expected {n}")
            self._offset = &offv[0]
        if self.resid_buf.shape[0] < min(self.batch_size, n):
            self.resid_buf = np.zeros(min(self.batch_size, n))
            self._resid = &self.resid_buf[0]
        L.scale = 1.0
        L.csum = 0.0
        if lazy and averaging:
            for j in range(d):
                self._acc[j] = self._wavg[j] * self.n_averaged
        try:
            with nogil:
                if f32 and i64b:
                    ok = _csr_epoch(self, <const float*>dp, <const int64_t*>ip,
                                    <const int64_t*>pp, n, d, &y[0], cwp, &perm[0], wp, lazy, &L)
                elif f32:
                    ok = _csr_epoch(self, <const float*>dp, <const int32_t*>ip,
                                    <const int32_t*>pp, n, d, &y[0], cwp, &perm[0], wp, lazy, &L)
                elif i64b:
                    ok = _csr_epoch(self, <const double*>dp, <const int64_t*>ip,
                                    <const int64_t*>pp, n, d, &y[0], cwp, &perm[0], wp, lazy, &L)
                else:
                    ok = _csr_epoch(self, <const double*>dp, <const int32_t*>ip,
                                    <const int32_t*>pp, n, d, &y[0], cwp, &perm[0], wp, lazy, &L)
        finally:
            self._offset = NULL          # it points into offset, which this call kept alive
            if lazy:
                # also after an error (Ctrl-C): w always holds the true coefficients
                _fold(&L, wp, self._acc, d, averaging)
                if averaging and self.n_averaged > 0:
                    for j in range(d):
                        self._wavg[j] = self._acc[j] / self.n_averaged
        if ok and lazy:
            for j in range(d):
                if not isfinite(wp[j]):
                    return False
        return ok == 1


cdef bint _lazy_step(Stepper st, const floating* data, const index_t* ind, const index_t* ptr,
                     Py_ssize_t d, const Py_ssize_t* rows, Py_ssize_t m, const double* r,
                     double lr, double* v, Lazy* L) noexcept nogil:
    """One plain SGD update from the residuals r of a CSR batch, touching only its entries
    (coef = L.scale * v[:d], intercept v[d]). False when an updated value is not finite."""
    cdef double factor = 1.0 - lr * st.alpha
    cdef double c, rk, delta, rsum = 0, check
    cdef Py_ssize_t k, p, j
    cdef bint averaging = st.averaging
    cdef double* acc = st._acc
    if fabs(L.scale * factor) < RESCALE_BELOW:
        _fold(L, v, acc, d, averaging)
        if fabs(factor) < RESCALE_BELOW:
            # the decay wipes out (nearly) all of coef: apply it to v directly
            for j in range(d):
                v[j] *= factor
            factor = 1.0
    L.scale *= factor
    c = -lr / (m * L.scale)
    check = L.scale * 0.0                    # x * 0 is 0 for finite x, NaN otherwise
    for k in range(m):
        rk = c * r[k]
        rsum += r[k]
        for p in range(ptr[rows[k]], ptr[rows[k] + 1]):
            j = ind[p]
            delta = rk * data[p]
            v[j] += delta
            if averaging:
                acc[j] -= L.csum * delta
            check += v[j] * 0.0
    if st.fit_intercept:
        v[d] -= lr * (rsum / m)
        check += v[d] * 0.0
    if check != 0:
        return False
    if averaging:
        st.n_averaged += 1
        L.csum += L.scale
        if st.fit_intercept:
            st._wavg[d] += (v[d] - st._wavg[d]) / st.n_averaged
    return True


cdef int _csr_epoch(Stepper st, const floating* data, const index_t* ind, const index_t* ptr,
                    Py_ssize_t n, Py_ssize_t d, const double* y, const double* cw,
                    const Py_ssize_t* perm, double* w, bint lazy, Lazy* L) except -1 nogil:
    """One epoch over CSR rows in the order perm: 1, or 0 when w stopped being finite (the epoch
    is then cut short). With lazy, coef = L.scale * w[:d] on return (the caller folds)."""
    cdef Py_ssize_t start = 0, m, work = 0
    cdef double steps_per_epoch = <double>((n + st.batch_size - 1) // st.batch_size)
    cdef double lr, b
    cdef const Py_ssize_t* rows
    while start < n:
        m = min(st.batch_size, n - start)
        rows = perm + start
        b = w[d] if st.fit_intercept else 0.0
        work += m + _csr_residuals(data, ind, ptr, y, cw, rows, m, st.loss, st.loss_param,
                                   st._offset, w, L.scale, b, st._resid)
        lr = st._rate(steps_per_epoch)
        if lazy:
            if not _lazy_step(st, data, ind, ptr, d, rows, m, st._resid, lr, w, L):
                return 0
        else:
            _csr_batch_gradient(data, ind, ptr, d, st.fit_intercept, rows, m, st._resid, st._grad)
            if not st._update(st._grad, w, d, lr):
                return 0
            work += d
        start += m
        if work >= SIGNAL_EVERY_CSR_ELEMENTS:
            work = 0
            with gil:
                PyErr_CheckSignals()
    return 1
