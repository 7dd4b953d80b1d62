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
# gdfast/_loss.pxd, shared with the full-batch kernels.
#
# The caller (gdfast._sgd) evaluates the full cost between epochs, keeps the best iterate and
# decides about convergence, divergence and the "adaptive" schedule; this module only steps.

from cpython.exc cimport PyErr_CheckSignals
from libc.math cimport sqrt, pow, isfinite

from gdfast._loss cimport loss_terms, n_losses, loss_name

import numpy as np

ctypedef fused floating:
    float
    double

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


cdef void _batch_gradient(const floating* X, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t d,
                          const double* y, const double* cw, const Py_ssize_t* rows,
                          Py_ssize_t m, int loss, bint fit_intercept, const double* w,
                          double* g) noexcept nogil:
    """g = (1/m) sum over the m rows of (n s_i) loss'(z_i) xa_i (no penalty)."""
    cdef Py_ssize_t k, j, i
    cdef Py_ssize_t D = d + fit_intercept
    cdef const floating* x
    cdef double z, r, h, b = w[d] if fit_intercept else 0.0
    for j in range(D):
        g[j] = 0
    for k in range(m):
        i = rows[k]
        x = X + i * rs
        z = b
        for j in range(d):
            z += x[j * cs] * w[j]
        loss_terms(loss, z, y[i], &r, &h)
        if cw != NULL:
            r *= cw[i]
        for j in range(d):
            g[j] += r * x[j * cs]
        if fit_intercept:
            g[d] += r
    for j in range(D):
        g[j] /= m


cdef class Stepper:
    """Parameters and state of a stochastic run (SGD with momentum, or Adam), kept across epochs.

    Attributes set by the caller between epochs: ``learning_rate`` (the base step; the
    "adaptive" schedule lowers it), ``averaging`` (add each new iterate to the running mean).
    ``steps`` counts updates since the start, ``n_averaged`` the iterates in the mean ``w_avg``.
    """
    cdef readonly int method, loss, schedule
    cdef readonly bint fit_intercept
    cdef readonly double alpha, power_t, momentum, beta1, beta2, eps
    cdef readonly Py_ssize_t batch_size
    cdef public double learning_rate
    cdef public bint averaging
    cdef public double steps, n_averaged
    cdef double[::1] buf1        # SGD: velocity; Adam: first moment
    cdef double[::1] buf2        # Adam: second moment
    cdef double[::1] grad
    cdef readonly object w_avg

    def __cinit__(self, int method, int loss, bint fit_intercept, double alpha, Py_ssize_t n_params,
                  Py_ssize_t batch_size, double learning_rate, int schedule, double power_t,
                  double momentum=0.0, double beta1=0.9, double beta2=0.999, double eps=1e-8):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        if not 0 <= loss < n_losses():
            raise ValueError(f"loss must be a compiled loss code (loss_codes()); got {loss}")
        self.method = method
        self.loss = loss
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
        self.w_avg = np.zeros(n_params)

    def run_epoch(self, X, const double[::1] y, cw, const Py_ssize_t[::1] perm, double[::1] w):
        """One pass over the rows in the order perm; updates w (and w_avg when averaging).

        X is float32 or float64 with contiguous rows or columns; cw is None (unit weights) or
        n * s_i per row. Returns False if w stopped being finite (the epoch is then cut short and
        w must be discarded by the caller), True otherwise.
        """
        cdef const float[:, :] Xf
        cdef const double[:, :] Xd
        cdef const void* Xp
        cdef const double[::1] cwv
        cdef const double* cwp = NULL
        cdef bint f32 = X.dtype == np.float32
        cdef Py_ssize_t n = X.shape[0], d = X.shape[1], itemsize
        cdef Py_ssize_t rs, cs, D = d + self.fit_intercept
        cdef Py_ssize_t start, m, j, batches_done = 0, check_every
        cdef double[::1] wavg = self.w_avg
        cdef double* g = &self.grad[0]
        cdef double* b1 = &self.buf1[0]
        cdef double* b2 = &self.buf2[0]
        cdef double* wp = &w[0]
        cdef double lr, steps_per_epoch, c1, c2, mhat, vhat
        cdef bint finite = True
        if w.shape[0] != D or perm.shape[0] != n or y.shape[0] != n:
            raise ValueError("w, y and perm must match X")
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
            cwp = &cwv[0]
        steps_per_epoch = <double>((n + self.batch_size - 1) // self.batch_size)
        check_every = max(1, SIGNAL_EVERY_ELEMENTS // max(1, self.batch_size * d))
        with nogil:
            start = 0
            while start < n:
                m = min(self.batch_size, n - start)
                if f32:
                    _batch_gradient(<const float*>Xp, rs, cs, d, &y[0], cwp, &perm[start], m,
                                    self.loss, self.fit_intercept, wp, g)
                else:
                    _batch_gradient(<const double*>Xp, rs, cs, d, &y[0], cwp, &perm[start], m,
                                    self.loss, self.fit_intercept, wp, g)
                for j in range(d):
                    g[j] += self.alpha * wp[j]
                lr = self.learning_rate
                if self.schedule == C_INVSCALING:
                    # lr / (1 + epochs done)^power_t, with fractional epochs: the decay per
                    # epoch is the same whatever the batch size
                    lr = lr / pow(1.0 + self.steps / steps_per_epoch, self.power_t)
                self.steps += 1
                if self.method == C_SGD:
                    # heavy-ball momentum: v <- momentum v - lr g; w <- w + v
                    for j in range(D):
                        b1[j] = self.momentum * b1[j] - lr * g[j]
                        wp[j] += b1[j]
                else:
                    # Adam: moving averages of g and g^2, corrected for their start at zero
                    c1 = 1.0 - pow(self.beta1, self.steps)
                    c2 = 1.0 - pow(self.beta2, self.steps)
                    for j in range(D):
                        b1[j] = self.beta1 * b1[j] + (1.0 - self.beta1) * g[j]
                        b2[j] = self.beta2 * b2[j] + (1.0 - self.beta2) * g[j] * g[j]
                        mhat = b1[j] / c1
                        vhat = b2[j] / c2
                        wp[j] -= lr * mhat / (sqrt(vhat) + self.eps)
                for j in range(D):
                    if not isfinite(wp[j]):
                        finite = False
                if not finite:
                    break
                if self.averaging:
                    self.n_averaged += 1
                    for j in range(D):
                        wavg[j] += (wp[j] - wavg[j]) / self.n_averaged
                start += m
                batches_done += 1
                if batches_done % check_every == 0:
                    with gil:
                        PyErr_CheckSignals()
        return finite
