# The block kernels of gdfast: the nogil building blocks every pass over X is made of.
#
# Public Cython API: another package can `cimport gdfast.kernels` (add gdfast.get_include() to its
# Cython include path) and call these inline functions from its own nogil loops; gdfast's own
# compiled passes (src/gdcore/_core.pyx) are built from exactly these.
#
# Notation: z = X @ coef + intercept, s_i = sample_weight_i / sum(weights),
#   cost     = sum_i s_i * loss(z_i, y_i) + alpha/2 * ||coef||^2
#   gradient = Xa^T (s * loss'(z, y)) + alpha * [coef, 0]
#   Hessian  = Xa^T diag(s * loss''(z, y)) Xa + alpha * P
# where Xa is X with a column of ones appended when the model has an intercept.
#
# X is read through a raw pointer with a row stride `rs` and a column stride `cs` (in elements);
# one of them is 1: rows contiguous ("C" path) or columns contiguous ("F" path). A block is the
# m rows i0 .. i0 + m - 1; its z, r and h vectors hold m doubles each.

from libc.math cimport fabs, fmax, sqrt
from scipy.linalg.cython_blas cimport dsyrk

from gdfast._loss cimport exp_nonpos, log1p_unit, log_loss_terms, squared_terms

ctypedef fused floating:
    float
    double

cdef enum:
    SQUARED_ERROR = 0     # loss codes, the same numbers as gdfast._core.LOSS_SQUARED / LOSS_LOG
    LOG_LOSS = 1


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
    double xmax            # max |X|, for float32 X: float sums are used only where they cannot overflow


# ---------------------------------------------------------------------------------------------
# Block kernels
#
# Every loop below is written for the auto-vectoriser: independent partial sums where a sum is
# needed (the compiler may not reorder floating-point additions itself), flat loops over the
# rows of a block, no branches in the per-row math.
# ---------------------------------------------------------------------------------------------

cdef inline double dot_f64(const double* x, const double* c, Py_ssize_t d) noexcept nogil:
    # Eight partial sums, combined in a fixed order: one running sum would be latency-bound.
    cdef double a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0
    cdef Py_ssize_t j = 0
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
        a0 += x[j] * c[j]
        j += 1
    return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))


cdef inline float dot_f32(const float* x, const float* c, Py_ssize_t d) noexcept nogil:
    # float32 rows are summed in float (sixteen partial sums); the block's results then go into
    # double totals. Summing every product in double would halve the SIMD width for nothing.
    cdef float a[16]
    cdef Py_ssize_t j = 0, l
    cdef float s
    for l in range(16):
        a[l] = 0
    while j + 16 <= d:
        for l in range(16):
            a[l] += x[j + l] * c[j + l]
        j += 16
    while j < d:
        a[0] += x[j] * c[j]
        j += 1
    for l in range(8):
        a[l] += a[l + 8]
    for l in range(4):
        a[l] += a[l + 4]
    s = (a[0] + a[1]) + (a[2] + a[3])
    return s


cdef inline double dot_mixed(const floating* x, const double* c, Py_ssize_t m) noexcept nogil:
    """x . c with x of either precision, summed in double."""
    cdef double a0 = 0, a1 = 0, a2 = 0, a3 = 0
    cdef Py_ssize_t j = 0
    while j + 4 <= m:
        a0 += x[j] * c[j]
        a1 += x[j + 1] * c[j + 1]
        a2 += x[j + 2] * c[j + 2]
        a3 += x[j + 3] * c[j + 3]
        j += 4
    while j < m:
        a0 += x[j] * c[j]
        j += 1
    return (a0 + a1) + (a2 + a3)


cdef inline double sum_f64(const double* a, Py_ssize_t m) noexcept nogil:
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0
    cdef Py_ssize_t k = 0
    while k + 4 <= m:
        s0 += a[k]
        s1 += a[k + 1]
        s2 += a[k + 2]
        s3 += a[k + 3]
        k += 4
    while k < m:
        s0 += a[k]
        k += 1
    return (s0 + s1) + (s2 + s3)


cdef inline void block_linear(const floating* X, const Problem* P, Py_ssize_t i0, Py_ssize_t m,
                        const double* coef, const float* coef_f, double b, double* z) noexcept nogil:
    """z[k] = X[i0 + k] . coef + b for the m rows of the block (coef_f: coef as float32)."""
    cdef Py_ssize_t k, j
    cdef const floating* col
    cdef double c
    if P.cs == 1:
        for k in range(m):
            if floating is float:
                if coef_f != NULL:
                    z[k] = <double>dot_f32(X + (i0 + k) * P.rs, coef_f, P.d) + b
                else:
                    z[k] = dot_mixed(X + (i0 + k) * P.rs, coef, P.d) + b
            else:
                z[k] = dot_f64(X + (i0 + k) * P.rs, coef, P.d) + b
    else:
        for k in range(m):
            z[k] = b
        for j in range(P.d):
            col = X + j * P.cs + i0
            c = coef[j]
            for k in range(m):
                z[k] += col[k] * c


cdef inline void block_transpose_add(const floating* X, const Problem* P, Py_ssize_t i0, Py_ssize_t m,
                               const double* r, double* g, float* gf) noexcept nogil:
    """g[:d] += X[block]^T r and g[d] += sum(r) when the model has an intercept.

    C path: four rows at a time, so that g is loaded and stored once per four rows. float32 rows
    are accumulated in gf (d floats) for the block, then added to g in double, unless the sums
    could overflow a float (then gf is NULL and the double path is taken).
    """
    cdef Py_ssize_t k = 0, j, d = P.d
    cdef const floating* x0
    cdef const floating* x1
    cdef const floating* x2
    cdef const floating* x3
    cdef double r0, r1, r2, r3, rmax = 0
    cdef float f0, f1, f2, f3
    if floating is float:
        for k in range(m):
            rmax = fmax(rmax, fabs(r[k]))
        # float sums only where they can neither overflow nor lose r to underflow (r carries
        # the sample weights, which may be tiny)
        if not (rmax * P.xmax * m < 1e30 and rmax > 1e-25):
            gf = NULL
        k = 0
    if P.cs == 1 and floating is float and gf == NULL:
        while k < m:
            x0 = X + (i0 + k) * P.rs
            r0 = r[k]
            for j in range(d):
                g[j] += x0[j] * r0
            k += 1
    elif P.cs == 1:
        if floating is float:
            for j in range(d):
                gf[j] = 0
        while k + 4 <= m:
            x0 = X + (i0 + k) * P.rs
            x1 = x0 + P.rs
            x2 = x1 + P.rs
            x3 = x2 + P.rs
            if floating is float:
                f0 = <float>r[k]
                f1 = <float>r[k + 1]
                f2 = <float>r[k + 2]
                f3 = <float>r[k + 3]
                for j in range(d):
                    gf[j] += (x0[j] * f0 + x1[j] * f1) + (x2[j] * f2 + x3[j] * f3)
            else:
                r0 = r[k]
                r1 = r[k + 1]
                r2 = r[k + 2]
                r3 = r[k + 3]
                for j in range(d):
                    g[j] += (x0[j] * r0 + x1[j] * r1) + (x2[j] * r2 + x3[j] * r3)
            k += 4
        while k < m:
            x0 = X + (i0 + k) * P.rs
            if floating is float:
                f0 = <float>r[k]
                for j in range(d):
                    gf[j] += x0[j] * f0
            else:
                r0 = r[k]
                for j in range(d):
                    g[j] += x0[j] * r0
            k += 1
        if floating is float:
            for j in range(d):
                g[j] += gf[j]
    else:
        for j in range(d):
            if floating is double:
                g[j] += dot_f64(X + j * P.cs + i0, r, m)
            else:
                g[j] += dot_mixed(X + j * P.cs + i0, r, m)
    if P.fit_intercept:
        g[d] += sum_f64(r, m)


cdef inline double block_loss(const Problem* P, Py_ssize_t i0, Py_ssize_t m, double* z,
                        double* r, double* h) noexcept nogil:
    """Weighted loss sum of the block; r = weighted loss', h = weighted loss''.

    z is overwritten with the per-row losses (the flat loop stays free of reductions, so it
    vectorises; the sum is taken afterwards).
    """
    cdef Py_ssize_t k
    cdef const double* y = P.y + i0
    cdef const double* sw
    cdef double wk
    if P.loss == LOG_LOSS:
        for k in range(m):
            z[k] = log_loss_terms(z[k], y[k], &r[k], &h[k])
    else:
        for k in range(m):
            z[k] = squared_terms(z[k], y[k], &r[k], &h[k])
    if P.sw != NULL:
        sw = P.sw + i0
        for k in range(m):
            wk = sw[k]
            z[k] *= wk
            r[k] *= wk
            h[k] *= wk
    return sum_f64(z, m)


cdef inline void hessian_rows(const floating* X, const Problem* P, Py_ssize_t i0, Py_ssize_t m,
                        const double* h, double* buf) noexcept nogil:
    """Rows i0..i0+m of Xa scaled by sqrt(h), into buf (row-major, D doubles a row)."""
    cdef Py_ssize_t k, j
    cdef Py_ssize_t D = P.d + P.fit_intercept
    cdef double sk
    cdef double* dst
    cdef const floating* src
    for k in range(m):
        sk = sqrt(h[k])                 # h >= 0 for both losses and non-negative weights
        dst = buf + k * D
        if P.cs == 1:
            src = X + (i0 + k) * P.rs
            for j in range(P.d):
                dst[j] = sk * src[j]
        else:
            for j in range(P.d):
                dst[j] = sk * X[j * P.cs + i0 + k]
        if P.fit_intercept:
            dst[P.d] = sk


cdef inline void syrk_rows(double* buf, Py_ssize_t rows, Py_ssize_t D, double* H) noexcept nogil:
    """H += A A^T (upper triangle, column-major) where A is buf seen from Fortran: D x rows."""
    cdef int Di = <int>D, k = <int>rows
    cdef double one = 1.0
    cdef char uplo = b'U'
    cdef char trans = b'N'
    if rows > 0:
        dsyrk(&uplo, &trans, &Di, &k, &one, buf, &Di, &one, H, &Di)


cdef inline void block_square_add(const floating* X, const Problem* P, Py_ssize_t i0, Py_ssize_t m,
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
