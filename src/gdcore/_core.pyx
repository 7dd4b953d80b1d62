# The compiled core of gdfast: one pass over the rows of X computes the cost, the gradient and,
# when asked, the Hessian of a linear model's cost, without any n-by-d temporary.
#
# Notation (see ../shared/design.md): z = X @ coef + intercept, s_i = sample_weight_i / sum(weights),
#   cost     = sum_i s_i * loss(z_i, y_i) + alpha/2 * ||coef||^2
#   gradient = Xa^T (s * loss'(z, y)) + alpha * [coef, 0]
#   Hessian  = Xa^T diag(s * loss''(z, y)) Xa + alpha * P
# where Xa is X with a column of ones appended when the model has an intercept.
#
# X is read through a raw pointer with a row stride and a column stride (in elements); one of them
# is 1: rows contiguous ("C" path) or columns contiguous ("F" path). Rows are processed in blocks of
# BLOCK rows so that the block is still in cache when the gradient is accumulated.
# Threads: OpenMP over blocks with a static schedule and per-thread accumulators summed in thread
# order, so a given thread count always gives the same bits.

from cython.parallel cimport prange, parallel, threadid
from libc.math cimport fabs, sqrt, isfinite
from libc.string cimport memset, memcpy
from scipy.linalg.cython_blas cimport dsyrk

from gdfast._loss cimport log_loss_terms, squared_terms

import numpy as np

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int gd_max_threads(void) { return omp_get_max_threads(); }
    static int gd_has_openmp(void) { return 1; }
    #else
    static int gd_max_threads(void) { return 1; }
    static int gd_has_openmp(void) { return 0; }
    #endif
    """
    int gd_max_threads() noexcept nogil
    int gd_has_openmp() noexcept nogil

ctypedef fused floating:
    float
    double

DEF BLOCK = 256            # rows per block: 256 x 100 doubles = 200 KiB, well inside L2
DEF ACC_PAD = 8            # per-thread accumulators start on their own cache line

# Loss codes, shared with the Python layer.
LOSS_SQUARED = 0
LOSS_LOG = 1
cdef enum:
    C_SQUARED = 0
    C_LOG = 1


cdef struct Problem:
    const void* X
    bint f32
    Py_ssize_t n
    Py_ssize_t d
    Py_ssize_t rs          # row stride, in elements
    Py_ssize_t cs          # column stride, in elements
    const double* y
    const double* sw       # NULL means unit weights
    double scale           # 1 / sum(sample weights)
    int loss
    bint fit_intercept
    double alpha


def has_openmp():
    """True when the kernels were compiled with OpenMP."""
    return bool(gd_has_openmp())


def max_threads():
    """The thread count OpenMP would use now (follows OMP_NUM_THREADS and threadpoolctl)."""
    return gd_max_threads()


def loss_terms(int loss, double z, double y):
    """(loss, d loss/dz, d2 loss/dz2) of one sample: the per-sample math, for tests and users."""
    cdef double r, h, l
    if loss == C_LOG:
        l = log_loss_terms(z, y, &r, &h)
    else:
        l = squared_terms(z, y, &r, &h)
    return l, r, h


# ---------------------------------------------------------------------------------------------
# Block kernels
# ---------------------------------------------------------------------------------------------

cdef inline double _dot(const floating* x, Py_ssize_t stride, const double* c, Py_ssize_t d) noexcept nogil:
    # Eight independent partial sums: a single running sum is latency-bound, and the compiler may
    # not reorder floating-point additions itself. The partial sums are combined in a fixed order.
    cdef double a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0
    cdef Py_ssize_t j = 0
    if stride == 1:
        while j + 8 <= d:
            a0 += x[j] * c[j]
            a1 += x[j + 1] * c[j + 1]
            a2 += x[j + 2] * c[j + 2]
            a3 += x[j + 3] * c[j + 3]
            a4 += x[j + 4] * c[j + 4]
            a5 += x[j + 5] * c[j + 5]
            a6 += x[j + 6] * c[j + 6]
            a7 += x[j + 7] * c[j + 7]
            j += 8
    while j < d:
        a0 += x[j * stride] * c[j]
        j += 1
    return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))


cdef void _block_linear(const floating* X, const Problem* P, Py_ssize_t i0, Py_ssize_t m,
                        const double* coef, double b, double* z) noexcept nogil:
    """z[k] = X[i0 + k] . coef + b for the m rows of the block."""
    cdef Py_ssize_t k, j
    cdef const floating* col
    cdef double c
    if P.cs == 1:
        for k in range(m):
            z[k] = _dot(X + (i0 + k) * P.rs, 1, coef, P.d) + b
    else:
        for k in range(m):
            z[k] = b
        for j in range(P.d):
            col = X + j * P.cs + i0
            c = coef[j]
            for k in range(m):
                z[k] += col[k] * c


cdef void _block_transpose_add(const floating* X, const Problem* P, Py_ssize_t i0, Py_ssize_t m,
                               const double* r, double* g) noexcept nogil:
    """g[:d] += X[block]^T r and g[d] += sum(r) when the model has an intercept."""
    cdef Py_ssize_t k, j
    cdef const floating* row
    cdef double rk, sr = 0
    if P.cs == 1:
        for k in range(m):
            row = X + (i0 + k) * P.rs
            rk = r[k]
            for j in range(P.d):
                g[j] += row[j] * rk
    else:
        for j in range(P.d):
            g[j] += _dot(X + j * P.cs + i0, 1, r, m)
    if P.fit_intercept:
        for k in range(m):
            sr += r[k]
        g[P.d] += sr


cdef double _block_loss(const Problem* P, Py_ssize_t i0, Py_ssize_t m, const double* z,
                        double* r, double* h) noexcept nogil:
    """Weighted loss sum of the block; r = weighted loss', h = weighted loss''."""
    cdef Py_ssize_t k
    cdef double total = 0, l, w
    if P.loss == C_LOG:
        for k in range(m):
            l = log_loss_terms(z[k], P.y[i0 + k], &r[k], &h[k])
            if P.sw != NULL:
                w = P.sw[i0 + k]
                l *= w
                r[k] *= w
                h[k] *= w
            total += l
    else:
        for k in range(m):
            l = squared_terms(z[k], P.y[i0 + k], &r[k], &h[k])
            if P.sw != NULL:
                w = P.sw[i0 + k]
                l *= w
                r[k] *= w
                h[k] *= w
            total += l
    return total


cdef void _block_hessian(const floating* X, const Problem* P, Py_ssize_t i0, Py_ssize_t m,
                         const double* h, double* buf, double* H) noexcept nogil:
    """H += Xa[block]^T diag(h) Xa[block] (upper triangle, column-major) through BLAS syrk.

    buf (BLOCK x D doubles) receives the rows scaled by sqrt(h); h >= 0 for both losses.
    Seen from Fortran, buf is the D x m matrix A, and syrk adds A A^T.
    """
    cdef Py_ssize_t k, j
    cdef int D = <int>(P.d + P.fit_intercept)
    cdef int mm = <int>m
    cdef double sk, one = 1.0
    cdef double* dst
    cdef char uplo = b'U'
    cdef char trans = b'N'
    for k in range(m):
        sk = sqrt(h[k])
        dst = buf + k * D
        if P.cs == 1:
            for j in range(P.d):
                dst[j] = sk * X[(i0 + k) * P.rs + j]
        else:
            for j in range(P.d):
                dst[j] = sk * X[j * P.cs + i0 + k]
        if P.fit_intercept:
            dst[P.d] = sk
    dsyrk(&uplo, &trans, &D, &mm, &one, buf, &D, &one, H, &D)


# ---------------------------------------------------------------------------------------------
# Whole passes over X
# ---------------------------------------------------------------------------------------------

cdef inline Py_ssize_t _acc_stride(Py_ssize_t D) noexcept nogil:
    return ((D + 1 + ACC_PAD - 1) // ACC_PAD) * ACC_PAD


cdef Py_ssize_t _workspace_size(Py_ssize_t D, int nt) noexcept nogil:
    # per thread: accumulators (D gradient + 1 cost), z, r, h; plus one Hessian row buffer
    return nt * (_acc_stride(D) + 3 * BLOCK) + BLOCK * D


cdef double _pass(const floating* X, const Problem* P, const double* w, double* grad,
                  double* H, int nt, double* work) noexcept nogil:
    """Cost at w; the gradient into grad and the Hessian into H (D x D) unless they are NULL.

    One pass over X. work holds _workspace_size(D, nt) doubles.
    """
    cdef Py_ssize_t D = P.d + P.fit_intercept
    cdef Py_ssize_t stride = _acc_stride(D)
    cdef Py_ssize_t nblocks = (P.n + BLOCK - 1) // BLOCK
    cdef Py_ssize_t blk, i0, m, j, k, t
    cdef double b = w[P.d] if P.fit_intercept else 0.0
    cdef double* acc
    cdef double* z
    cdef double* r
    cdef double* h
    cdef double* hbuf = work + nt * (stride + 3 * BLOCK)
    cdef double cost = 0, pen = 0
    if H != NULL:
        nt = 1              # syrk is called from one thread; BLAS may thread inside it
    if nt > nblocks:
        nt = <int>nblocks
    if nt < 1:
        nt = 1
    memset(work, 0, nt * stride * sizeof(double))
    if H != NULL:
        memset(H, 0, D * D * sizeof(double))

    with parallel(num_threads=nt):
        t = threadid()
        acc = work + t * stride
        z = work + nt * stride + t * 3 * BLOCK
        r = z + BLOCK
        h = r + BLOCK
        for blk in prange(nblocks, schedule='static'):
            i0 = blk * BLOCK
            m = P.n - i0
            if m > BLOCK:
                m = BLOCK
            _block_linear(X, P, i0, m, w, b, z)
            acc[D] += _block_loss(P, i0, m, z, r, h)
            if grad != NULL:
                _block_transpose_add(X, P, i0, m, r, acc)
            if H != NULL:
                _block_hessian(X, P, i0, m, h, hbuf, H)

    # Reduce the per-thread accumulators in thread order (fixed for a given thread count).
    for t in range(nt):
        cost += work[t * stride + D]
    cost = cost * P.scale
    if P.alpha != 0:        # skipped, not multiplied by 0, so that huge weights cannot give 0 * inf
        for j in range(P.d):
            pen += w[j] * w[j]
        cost += 0.5 * P.alpha * pen
    if grad != NULL:
        for j in range(D):
            grad[j] = 0
        for t in range(nt):
            for j in range(D):
                grad[j] += work[t * stride + j]
        for j in range(D):
            grad[j] *= P.scale
        for j in range(P.d):
            grad[j] += P.alpha * w[j]
    if H != NULL:
        # syrk filled the upper triangle of the column-major H, i.e. H[j, k] for j >= k in C order
        for j in range(D):
            for k in range(j + 1):
                H[j * D + k] *= P.scale
                H[k * D + j] = H[j * D + k]
        for j in range(P.d):
            H[j * D + j] += P.alpha
    return cost


cdef void _hessp_pass(const floating* X, const Problem* P, const double* w, const double* hw,
                      const double* v, double* out, bint gram, int nt, double* work) noexcept nogil:
    """out = Xa^T diag(c) Xa v, without forming the matrix, for one of three weightings c:

    - hw given: c = hw (precomputed Hessian weights, already including s); no penalty, no scale;
    - gram: c = s (Xa^T S Xa, whose largest eigenvalue bounds the curvature of both losses);
    - otherwise c = s * loss''(z(w)), plus the penalty: the Hessian at w times v.
    """
    cdef Py_ssize_t D = P.d + P.fit_intercept
    cdef Py_ssize_t stride = _acc_stride(D)
    cdef Py_ssize_t nblocks = (P.n + BLOCK - 1) // BLOCK
    cdef Py_ssize_t blk, i0, m, j, k, t
    cdef double b = w[P.d] if (w != NULL and P.fit_intercept) else 0.0
    cdef double vb = v[P.d] if P.fit_intercept else 0.0
    cdef double* acc
    cdef double* z
    cdef double* r
    cdef double* h
    if nt > nblocks:
        nt = <int>nblocks
    if nt < 1:
        nt = 1
    memset(work, 0, nt * stride * sizeof(double))
    with parallel(num_threads=nt):
        t = threadid()
        acc = work + t * stride
        z = work + nt * stride + t * 3 * BLOCK
        r = z + BLOCK
        h = r + BLOCK
        for blk in prange(nblocks, schedule='static'):
            i0 = blk * BLOCK
            m = P.n - i0
            if m > BLOCK:
                m = BLOCK
            _block_linear(X, P, i0, m, v, vb, r)       # r = Xa v
            if hw != NULL:
                for k in range(m):
                    r[k] *= hw[i0 + k]
            elif gram:
                if P.sw != NULL:
                    for k in range(m):
                        r[k] *= P.sw[i0 + k]
            else:
                _block_linear(X, P, i0, m, w, b, z)
                _block_loss(P, i0, m, z, z, h)          # only h is used; r[] is Xa v, keep it
                for k in range(m):
                    r[k] *= h[k]
            _block_transpose_add(X, P, i0, m, r, acc)
    for j in range(D):
        out[j] = 0
    for t in range(nt):
        for j in range(D):
            out[j] += work[t * stride + j]
    if hw == NULL:
        for j in range(D):
            out[j] *= P.scale
    if hw == NULL and not gram:
        for j in range(P.d):
            out[j] += P.alpha * v[j]


cdef void _linear_pass(const floating* X, const Problem* P, const double* v, double* out,
                       int nt) noexcept nogil:
    """out = Xa v (length n)."""
    cdef Py_ssize_t nblocks = (P.n + BLOCK - 1) // BLOCK
    cdef Py_ssize_t blk, i0, m
    cdef double vb = v[P.d] if P.fit_intercept else 0.0
    for blk in prange(nblocks, schedule='static', num_threads=nt):
        i0 = blk * BLOCK
        m = P.n - i0
        if m > BLOCK:
            m = BLOCK
        _block_linear(X, P, i0, m, v, vb, out + i0)


cdef void _transpose_pass(const floating* X, const Problem* P, const double* r, double* out,
                          int nt, double* work) noexcept nogil:
    """out = Xa^T r (length D), unscaled."""
    cdef Py_ssize_t D = P.d + P.fit_intercept
    cdef Py_ssize_t stride = _acc_stride(D)
    cdef Py_ssize_t nblocks = (P.n + BLOCK - 1) // BLOCK
    cdef Py_ssize_t blk, i0, m, j, t
    cdef double* acc
    if nt > nblocks:
        nt = <int>nblocks
    if nt < 1:
        nt = 1
    memset(work, 0, nt * stride * sizeof(double))
    with parallel(num_threads=nt):
        t = threadid()
        acc = work + t * stride
        for blk in prange(nblocks, schedule='static'):
            i0 = blk * BLOCK
            m = P.n - i0
            if m > BLOCK:
                m = BLOCK
            _block_transpose_add(X, P, i0, m, r + i0, acc)
    for j in range(D):
        out[j] = 0
    for t in range(nt):
        for j in range(D):
            out[j] += work[t * stride + j]


cdef inline double _cost_grad(const Problem* P, const double* w, double* grad, double* H,
                              int nt, double* work) noexcept nogil:
    if P.f32:
        return _pass(<const float*>P.X, P, w, grad, H, nt, work)
    return _pass(<const double*>P.X, P, w, grad, H, nt, work)


# ---------------------------------------------------------------------------------------------
# The Python-facing kernel object
# ---------------------------------------------------------------------------------------------

cdef class Kernel:
    """Validated data of one objective, ready for the compiled passes.

    The Python layer (gdfast.Objective) validates and converts the inputs; Kernel only keeps
    references to them (so they stay alive) and the raw pointers the passes read.
    """
    cdef Problem P
    cdef object _keep
    cdef readonly Py_ssize_t n_params

    def __cinit__(self, X, const double[::1] y, sample_weight, double scale, int loss,
                  bint fit_intercept, double alpha):
        cdef const float[:, :] Xf
        cdef const double[:, :] Xd
        cdef const double[::1] sw
        cdef Py_ssize_t itemsize
        if X.dtype == np.float32:
            Xf = X
            self.P.X = &Xf[0, 0]
            self.P.f32 = True
            itemsize = 4
        else:
            Xd = X
            self.P.X = &Xd[0, 0]
            self.P.f32 = False
            itemsize = 8
        self.P.n = X.shape[0]
        self.P.d = X.shape[1]
        self.P.rs = X.strides[0] // itemsize
        self.P.cs = X.strides[1] // itemsize
        # A single column (or row) is read correctly through either path, whatever stride numpy
        # reports for the axis of length 1.
        if self.P.d == 1:
            self.P.cs = 1
        elif self.P.n == 1:
            self.P.rs = 1
        if not (self.P.cs == 1 or self.P.rs == 1):
            raise ValueError("X must have contiguous rows or contiguous columns")
        self.P.y = &y[0]
        if sample_weight is None:
            self.P.sw = NULL
        else:
            sw = sample_weight
            self.P.sw = &sw[0]
        self.P.scale = scale
        self.P.loss = loss
        self.P.fit_intercept = fit_intercept
        self.P.alpha = alpha
        self.n_params = self.P.d + (1 if fit_intercept else 0)
        self._keep = (X, y, sample_weight)

    cdef int _threads(self, n_threads) except -1:
        if n_threads is None:
            return max(1, gd_max_threads())
        return max(1, <int>n_threads)

    def cost_grad(self, const double[::1] w, double[::1] grad=None, double[:, ::1] hess=None,
                  n_threads=None):
        """Cost at w; fills grad (len D) and hess (D x D) when given. Releases the GIL."""
        cdef int nt = self._threads(n_threads)
        cdef Py_ssize_t D = self.n_params
        cdef double[::1] work = np.empty(_workspace_size(D, nt), dtype=np.float64)
        cdef double* gp = NULL
        cdef double* hp = NULL
        cdef double cost
        if grad is not None:
            gp = &grad[0]
        if hess is not None:
            hp = &hess[0, 0]
        with nogil:
            cost = _cost_grad(&self.P, &w[0], gp, hp, nt, &work[0])
        return cost

    def hessp(self, const double[::1] w, const double[::1] v, double[::1] out, bint gram=False,
              n_threads=None):
        """out = Hessian(w) @ v (or Xa^T S Xa v with gram=True), without forming the Hessian."""
        cdef int nt = self._threads(n_threads)
        cdef double[::1] work = np.empty(_workspace_size(self.n_params, nt), dtype=np.float64)
        with nogil:
            if self.P.f32:
                _hessp_pass(<const float*>self.P.X, &self.P, &w[0], NULL, &v[0], &out[0], gram, nt, &work[0])
            else:
                _hessp_pass(<const double*>self.P.X, &self.P, &w[0], NULL, &v[0], &out[0], gram, nt, &work[0])

    def hessp_weighted(self, const double[::1] hw, const double[::1] v, double[::1] out,
                       n_threads=None):
        """out = Xa^T diag(hw) Xa v for precomputed weights hw (no penalty, no scaling)."""
        cdef int nt = self._threads(n_threads)
        cdef double[::1] work = np.empty(_workspace_size(self.n_params, nt), dtype=np.float64)
        with nogil:
            if self.P.f32:
                _hessp_pass(<const float*>self.P.X, &self.P, NULL, &hw[0], &v[0], &out[0], False, nt, &work[0])
            else:
                _hessp_pass(<const double*>self.P.X, &self.P, NULL, &hw[0], &v[0], &out[0], False, nt, &work[0])

    def linear(self, const double[::1] v, double[::1] out, n_threads=None):
        """out = Xa v: the raw predictions z for parameters v (length n)."""
        cdef int nt = self._threads(n_threads)
        with nogil:
            if self.P.f32:
                _linear_pass(<const float*>self.P.X, &self.P, &v[0], &out[0], nt)
            else:
                _linear_pass(<const double*>self.P.X, &self.P, &v[0], &out[0], nt)

    def transpose(self, const double[::1] r, double[::1] out, n_threads=None):
        """out = Xa^T r (length D), unscaled."""
        cdef int nt = self._threads(n_threads)
        cdef double[::1] work = np.empty(_workspace_size(self.n_params, nt), dtype=np.float64)
        with nogil:
            if self.P.f32:
                _transpose_pass(<const float*>self.P.X, &self.P, &r[0], &out[0], nt, &work[0])
            else:
                _transpose_pass(<const double*>self.P.X, &self.P, &r[0], &out[0], nt, &work[0])

    def loss_from_z(self, const double[::1] z, double[::1] r=None, double[::1] h=None):
        """Mean weighted loss at predictions z (no penalty); r and h get s * loss' and s * loss''.

        O(n) and no pass over X: with z = linear(w) and zd = linear(d) cached, a line search
        evaluates loss_from_z(z + t * zd) at any step t for the price of a vector operation.
        """
        cdef Py_ssize_t i, n = self.P.n
        cdef double total = 0, l, ri, hi, wi
        cdef bint want_r = r is not None, want_h = h is not None
        with nogil:
            for i in range(n):
                if self.P.loss == C_LOG:
                    l = log_loss_terms(z[i], self.P.y[i], &ri, &hi)
                else:
                    l = squared_terms(z[i], self.P.y[i], &ri, &hi)
                wi = self.P.scale if self.P.sw == NULL else self.P.sw[i] * self.P.scale
                total += wi * l
                if want_r:
                    r[i] = wi * ri
                if want_h:
                    h[i] = wi * hi
        return total

    def gd_run(self, double[::1] w, double lr, Py_ssize_t max_steps, double[::1] history,
               Py_ssize_t it0, double[::1] state, double[::1] best_w, double tol, bint final,
               n_threads=None):
        """Fixed-step gradient descent, entirely without the GIL.

        Evaluates the cost and gradient at w, records the cost in history[it0 + k], and steps
        w <- w - lr * grad, max_steps times; stops early on convergence or divergence. With final,
        the last evaluation takes no step, so w is the iterate whose cost was recorded last.
        state = [cost at start, gradient scale, best cost so far] persists across calls so that
        a Python driver can run the loop in chunks (for a callback or to check signals); the
        caller sets the gradient scale: the run has converged when max|grad| <= tol * scale.
        Returns (evaluations made, code): code 0 running, 1 converged, 2 diverged.
        """
        cdef int nt = self._threads(n_threads)
        cdef Py_ssize_t D = self.n_params
        cdef double[::1] work = np.empty(_workspace_size(D, nt), dtype=np.float64)
        cdef double[::1] grad = np.empty(D, dtype=np.float64)
        cdef Py_ssize_t k = 0, j
        cdef int code = 0
        cdef double cost, gmax
        with nogil:
            while k < max_steps:
                cost = _cost_grad(&self.P, &w[0], &grad[0], NULL, nt, &work[0])
                history[it0 + k] = cost
                k += 1
                gmax = 0
                for j in range(D):
                    if fabs(grad[j]) > gmax or not isfinite(grad[j]):
                        gmax = fabs(grad[j])
                if it0 + k == 1:
                    state[0] = cost
                    state[2] = cost
                    memcpy(&best_w[0], &w[0], D * sizeof(double))
                if not isfinite(cost) or not isfinite(gmax) or cost > 10.0 * state[0] + 1e-300:
                    code = 2
                    break
                if cost <= state[2]:
                    state[2] = cost
                    memcpy(&best_w[0], &w[0], D * sizeof(double))
                if gmax <= tol * state[1]:
                    code = 1
                    break
                if final and k == max_steps:
                    break
                for j in range(D):
                    w[j] -= lr * grad[j]
        return k, code


# ---------------------------------------------------------------------------------------------
# Solver support (issue 3): the diagonal of a weighted Gram matrix, and nogil loops for gradient
# descent with a backtracking line search and for Nesterov's accelerated gradient. Module-level
# functions over a Kernel, so that the class above stays as it is.
# ---------------------------------------------------------------------------------------------

cdef void _block_sq_add(const floating* X, const Problem* P, Py_ssize_t i0, Py_ssize_t m,
                        const double* hw, double* acc) noexcept nogil:
    """acc[j] += sum_k hw[k] X[i0 + k, j]^2 over the block; acc[d] += sum_k hw[k] (intercept)."""
    cdef Py_ssize_t k, j
    cdef const floating* row
    cdef const floating* col
    cdef double hk, s, x
    if P.cs == 1:
        for k in range(m):
            row = X + (i0 + k) * P.rs
            hk = hw[k]
            for j in range(P.d):
                x = row[j]
                acc[j] += hk * x * x
    else:
        for j in range(P.d):
            col = X + j * P.cs + i0
            s = 0
            for k in range(m):
                x = col[k]
                s += hw[k] * x * x
            acc[j] += s
    if P.fit_intercept:
        s = 0
        for k in range(m):
            s += hw[k]
        acc[P.d] += s


cdef void _diag_pass(const floating* X, const Problem* P, const double* hw, double* out, int nt,
                     double* work) noexcept nogil:
    """out = diag(Xa^T diag(hw) Xa) (length D), unscaled; per-thread sums in thread order."""
    cdef Py_ssize_t D = P.d + P.fit_intercept
    cdef Py_ssize_t stride = _acc_stride(D)
    cdef Py_ssize_t nblocks = (P.n + BLOCK - 1) // BLOCK
    cdef Py_ssize_t blk, i0, m, j, t
    cdef double* acc
    if nt > nblocks:
        nt = <int>nblocks
    if nt < 1:
        nt = 1
    memset(work, 0, nt * stride * sizeof(double))
    with parallel(num_threads=nt):
        t = threadid()
        acc = work + t * stride
        for blk in prange(nblocks, schedule='static'):
            i0 = blk * BLOCK
            m = P.n - i0
            if m > BLOCK:
                m = BLOCK
            _block_sq_add(X, P, i0, m, hw + i0, acc)
    for j in range(D):
        out[j] = 0
    for t in range(nt):
        for j in range(D):
            out[j] += work[t * stride + j]


def diag_weighted(Kernel kernel, const double[::1] hw, double[::1] out, n_threads=None):
    """out = diag(Xa^T diag(hw) Xa), i.e. out[j] = sum_i hw[i] Xa[i, j]^2 (no penalty, unscaled).

    With hw = s * loss''(z) this is the diagonal of the Hessian without the penalty (the Jacobi
    preconditioner of Newton-CG); with hw = s it is the mean square of each column.
    """
    cdef int nt = kernel._threads(n_threads)
    cdef double[::1] work = np.empty(_workspace_size(kernel.n_params, nt), dtype=np.float64)
    with nogil:
        if kernel.P.f32:
            _diag_pass(<const float*>kernel.P.X, &kernel.P, &hw[0], &out[0], nt, &work[0])
        else:
            _diag_pass(<const double*>kernel.P.X, &kernel.P, &hw[0], &out[0], nt, &work[0])


from libc.math cimport INFINITY

# Modes of descent_run.
DESCENT_FIXED = 0
DESCENT_BACKTRACKING = 1
DESCENT_NESTEROV = 2
cdef enum:
    M_FIXED = 0
    M_BACKTRACKING = 1
    M_NESTEROV = 2

# Backtracking (Armijo) constants: accept a step t when cost(w - t g) <= cost(w) - C1 t |g|^2.
# With C1 = 1/2 an accepted step is at most about 1/L (the descent lemma), so the line search
# never settles on the oscillating steps near 2/L; the trial step grows by GROW after each
# iteration so that it can follow a flatter region, and shrinks by half on a rejection.
DEF ARMIJO_C1 = 0.5
DEF GROW = 1.25
DEF MIN_STEP_RATIO = 1e-20     # a trial step this far below the first one means no progress
# The cost is a sum over many rows: its rounding error is about this times its value. A decrease
# smaller than that cannot be seen, so a step that raises the cost by no more is not rejected.
DEF COST_ROUNDING = 1e3 * 2.220446049250313e-16


cdef inline double _maxabs(const double* g, Py_ssize_t D) noexcept nogil:
    """max |g_j|; infinite when some g_j is not finite."""
    cdef double m = 0
    cdef Py_ssize_t j
    for j in range(D):
        if not isfinite(g[j]):
            return INFINITY
        if fabs(g[j]) > m:
            m = fabs(g[j])
    return m


def descent_run(Kernel kernel, int mode, double[::1] w, double[::1] aux, double lr,
                Py_ssize_t max_steps, double[::1] cost_hist, double[::1] gnorm_hist,
                double[::1] step_hist, Py_ssize_t it0, double[::1] state, double[::1] best_w,
                double tol, bint final, n_threads=None):
    """Gradient descent with a fixed step or an Armijo backtracking line search, or Nesterov's
    accelerated gradient with a fixed step and adaptive restart, entirely without the GIL.

    Each iteration evaluates the cost and gradient at the current point (one fused pass; for
    backtracking the pass of the accepted trial serves as the next evaluation), records them in
    the histories at it0 + k, and steps. Stops early on convergence (max|grad| <= tol * state[1])
    or divergence (a non-finite cost, or one above 10 times the first). With final, the last
    evaluation takes no step.

    w is the point being evaluated: the iterate for backtracking, the extrapolated point y for
    Nesterov. aux (4 * D doubles, kept by the caller across calls) holds the gradient, the trial
    point, the previous iterate x and the current iterate for Nesterov.
    state = [cost at start, gradient scale, best cost, step or momentum counter, current cost]
    persists across calls; best_w receives the point with the best cost.
    Returns (evaluations made, code): 0 running, 1 converged, 2 diverged, 3 no decrease possible.
    A call ends with the new point already evaluated (cost in state[4], gradient in aux[:D]);
    the next call (it0 > 0) records it without a second pass.

    Fixed: w <- w - lr grad(w).
    Backtracking: lr is the first trial step; state[3] carries the last accepted step.
    Nesterov (O'Donoghue and Candes' gradient restart): with y the extrapolated point,
        x+ = y - lr grad(y);  restart (momentum counter k = 0) if grad(y) . (x+ - x) > 0;
        y+ = x+ + k / (k + 3) (x+ - x);  k += 1.
    The restart test costs nothing extra and makes the method adapt to the unknown strong
    convexity; state[3] carries k.
    """
    cdef int nt = kernel._threads(n_threads)
    cdef Problem* P = &kernel.P
    cdef Py_ssize_t D = kernel.n_params
    cdef double[::1] work = np.empty(_workspace_size(D, nt), dtype=np.float64)
    cdef double* g = &aux[0]
    cdef double* trial = g + D
    cdef double* x = g + 2 * D
    cdef double* xnew = g + 3 * D
    cdef double* wp = &w[0]
    cdef Py_ssize_t k = 0, j
    cdef int code = 0
    cdef double cost, gmax, t, gg, ct, beta, dot, slack, mom
    if aux.shape[0] < 4 * D:
        raise ValueError("aux must hold 4 * n_params doubles")
    with nogil:
        if it0 > 0:
            cost = state[4]                    # evaluated at the end of the previous call, in g
        else:
            cost = _cost_grad(P, wp, g, NULL, nt, &work[0])
        while k < max_steps:
            gmax = _maxabs(g, D)
            cost_hist[it0 + k] = cost
            gnorm_hist[it0 + k] = gmax
            step_hist[it0 + k] = 0.0
            k += 1
            if it0 + k == 1:
                state[0] = cost
                state[2] = cost
                memcpy(&best_w[0], wp, D * sizeof(double))
                if mode == M_NESTEROV:
                    memcpy(x, wp, D * sizeof(double))
                    state[3] = 0
                else:
                    state[3] = lr / GROW            # so that the first trial step is lr
            if not isfinite(cost) or not isfinite(gmax) or cost > 10.0 * state[0] + 1e-300:
                code = 2
                break
            if cost <= state[2]:
                state[2] = cost
                memcpy(&best_w[0], wp, D * sizeof(double))
            if gmax <= tol * state[1]:
                code = 1
                break
            if final and k == max_steps:
                break
            if mode == M_BACKTRACKING:
                gg = 0
                for j in range(D):
                    gg += g[j] * g[j]
                t = state[3] * GROW
                slack = COST_ROUNDING * fabs(cost)
                while True:
                    for j in range(D):
                        trial[j] = wp[j] - t * g[j]
                    # the trial's gradient goes to xnew (scratch) until the step is accepted
                    ct = _cost_grad(P, trial, xnew, NULL, nt, &work[0])
                    if ct <= cost - ARMIJO_C1 * t * gg or (
                            ARMIJO_C1 * t * gg <= slack and ct <= cost + slack):
                        break
                    t *= 0.5
                    if t < MIN_STEP_RATIO * lr:
                        break
                if t < MIN_STEP_RATIO * lr:
                    code = 3
                    break
                state[3] = t
                step_hist[it0 + k - 1] = t
                memcpy(wp, trial, D * sizeof(double))
                memcpy(g, xnew, D * sizeof(double))
                cost = ct
                state[4] = cost
            elif mode == M_FIXED:
                for j in range(D):
                    wp[j] -= lr * g[j]
                step_hist[it0 + k - 1] = lr
                cost = _cost_grad(P, wp, g, NULL, nt, &work[0])
                state[4] = cost
            else:
                mom = state[3]
                dot = 0
                for j in range(D):
                    xnew[j] = wp[j] - lr * g[j]
                    dot += g[j] * (xnew[j] - x[j])
                if dot > 0:
                    mom = 0                     # the momentum points uphill: restart
                beta = mom / (mom + 3.0)
                for j in range(D):
                    wp[j] = xnew[j] + beta * (xnew[j] - x[j])
                    x[j] = xnew[j]
                state[3] = mom + 1
                step_hist[it0 + k - 1] = lr
                cost = _cost_grad(P, wp, g, NULL, nt, &work[0])
                state[4] = cost
    return k, code
