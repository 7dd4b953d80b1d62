# The block kernels of gdfast: the nogil building blocks every pass over X is made of.
#
# Public Cython API: another package can `cimport gdfast.kernels` (add gdfast.get_include() to its
# Cython include path) and call these inline functions from its own nogil loops; gdfast's own
# passes over dense X (the pass skeleton gdfast/_pass.pxd through the dense row reader
# gdfast/_dense_rows.pxd) are built from exactly these.
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

from gdfast._loss cimport exp_nonpos, log1p_unit, rows_terms_param, SQUARED_ERROR, LOG_LOSS

# Dot products of four rows with one vector, in C with the instruction set's intrinsics when the
# module is compiled for AVX2 or AVX-512 (gdfast builds one module per instruction set and picks
# one at import). A dot product is a chain of dependent additions: without reordering the sums
# (which GCC does not do at -O3 without -ffast-math) it runs at one addition per FMA latency.
# Four rows at once are four independent chains of full-width vector FMAs, and each load of c
# serves all four. The order of the sums is fixed for a given build.
cdef extern from "gdfast/_simd.h":
    void dot4_f64 "gd_dot4_f64"(const double* x, Py_ssize_t rs, const double* c, Py_ssize_t d,
                                double* out) noexcept nogil
    void dot4_f32 "gd_dot4_f32"(const float* x, Py_ssize_t rs, const float* c, Py_ssize_t d,
                                float* out) noexcept nogil
    void prefetch_l2 "gd_prefetch_l2"(const void* p, Py_ssize_t nbytes) noexcept nogil
    int axpy4_f64 "gd_axpy4_f64"(const double* x, Py_ssize_t rs, const double* r, Py_ssize_t d,
                                 double* g) noexcept nogil
    int axpy4_f32 "gd_axpy4_f32"(const float* x, Py_ssize_t rs, const float* r, Py_ssize_t d,
                                 float* g) noexcept nogil
    int gram_available "gd_gram_available"() noexcept nogil
    int gram_upper "gd_gram_upper"(const double* S, Py_ssize_t m, Py_ssize_t D, double* H) noexcept nogil


ctypedef fused floating:
    float
    double

cdef enum:
    # syrk_rows uses the register-tiled loop up to this many parameters and dsyrk above (measured
    # here, one thread: even with dsyrk at D = 200, 1.3x slower at 500, 1.65x at 1000)
    GRAM_MAX_D = 256
    # the most rows of a block: the passes' per-block vectors (z, r, h) hold this many doubles
    BLOCK_ROWS = 256


cdef struct Coef:
    # A coefficient vector in the form the block kernels read it: the first d entries of v
    # multiply the columns of X, b is added to every row (the intercept, or 0). f, when not NULL,
    # is v as float32, for float32 rows summed in float (see dot_f32); NULL: sum in double.
    const double* v
    const float* f
    double b


cdef struct Prefetch:
    # A cursor that requests X's bytes ahead of a pass that reads every row twice or more (z,
    # then the gradient from L1). Between the two reads of a block the hardware prefetcher sees
    # no new misses and the memory stream stalls; requesting the rows ~32 KiB ahead while the
    # block is worked on keeps it going (1e6 x 100 float64: 1.2x; 1e6 x 20: 1.45x, one thread).
    const char* next       # the next byte to request
    const char* end        # one past the last byte of X
    Py_ssize_t step        # bytes requested per four rows processed; 0: no prefetching


cdef inline void prefetch_step(Prefetch* pf) noexcept nogil:
    if pf != NULL and pf.step != 0 and pf.next < pf.end:
        prefetch_l2(pf.next, min(pf.step, <Py_ssize_t>(pf.end - pf.next)))
        pf.next += pf.step


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
    double alpha           # the L2 penalty's strength (the compiled form of gdfast.Penalty)
    double xmax            # max |X|, for float32 X: float sums are used only where they cannot overflow
    double cost_offset     # the loss's constant term (gdfast.losses.Loss.cost_offset), added to the cost
    double loss_param      # the loss's parameter (gdfast.losses.Loss.param: Tweedie's power), else 0
    const double* offset   # a fixed term added to every row's z at w (log exposure); NULL: none


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
                        const double* coef, const float* coef_f, double b, double* z,
                        Prefetch* pf=NULL) noexcept nogil:
    """z[k] = X[i0 + k] . coef + b for the m rows of the block (coef_f: coef as float32).

    pf: an optional cursor advanced once per four rows (see Prefetch)."""
    cdef Py_ssize_t k, j
    cdef const floating* col
    cdef double c
    cdef float zf[4]
    if P.cs == 1:
        k = 0
        if floating is double:
            while k + 4 <= m:
                prefetch_step(pf)
                dot4_f64(X + (i0 + k) * P.rs, P.rs, coef, P.d, z + k)
                k += 4
        else:
            if coef_f != NULL:
                while k + 4 <= m:
                    prefetch_step(pf)
                    dot4_f32(X + (i0 + k) * P.rs, P.rs, coef_f, P.d, zf)
                    for j in range(4):
                        z[k + j] = zf[j]
                    k += 4
        while k < m:
            if floating is float:
                if coef_f != NULL:
                    z[k] = dot_f32(X + (i0 + k) * P.rs, coef_f, P.d)
                else:
                    z[k] = dot_mixed(X + (i0 + k) * P.rs, coef, P.d)
            else:
                z[k] = dot_f64(X + (i0 + k) * P.rs, coef, P.d)
            k += 1
        for k in range(m):
            z[k] += b
    else:
        for k in range(m):
            z[k] = b
        for j in range(P.d):
            col = X + j * P.cs + i0
            c = coef[j]
            for k in range(m):
                z[k] += col[k] * c


cdef inline void block_transpose_add(const floating* X, const Problem* P, Py_ssize_t i0, Py_ssize_t m,
                               const double* r, double* g, float* gf, Prefetch* pf=NULL) noexcept nogil:
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
    cdef float f0
    cdef float rf[4]
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
            prefetch_step(pf)
            x0 = X + (i0 + k) * P.rs
            x1 = x0 + P.rs
            x2 = x1 + P.rs
            x3 = x2 + P.rs
            if floating is float:
                rf[0] = <float>r[k]
                rf[1] = <float>r[k + 1]
                rf[2] = <float>r[k + 2]
                rf[3] = <float>r[k + 3]
                if not axpy4_f32(x0, P.rs, rf, d, gf):
                    for j in range(d):
                        gf[j] += (x0[j] * rf[0] + x1[j] * rf[1]) + (x2[j] * rf[2] + x3[j] * rf[3])
            elif not axpy4_f64(x0, P.rs, r + k, d, g):
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


cdef inline double rows_loss_param(int loss, double loss_param, const double* y,
                                   const double* sw, Py_ssize_t m, double* z, double* r,
                                   double* h) noexcept nogil:
    """Weighted loss sum of m rows with predictions z and targets y; r = weighted loss',
    h = weighted loss'' (sw may be NULL: unit weights). loss_param: the loss's parameter
    (Tweedie's power; ignored by the losses that have none).

    z is overwritten with the per-row losses (the flat loop stays free of reductions, so it
    vectorises; the sum is taken afterwards). Shared by the dense and the sparse kernels.
    """
    cdef Py_ssize_t k
    cdef double wk
    rows_terms_param(loss, loss_param, y, m, z, r, h)
    if sw != NULL:
        for k in range(m):
            wk = sw[k]
            z[k] *= wk
            r[k] *= wk
            h[k] *= wk
    return sum_f64(z, m)


cdef inline double rows_loss(int loss, const double* y, const double* sw, Py_ssize_t m,
                             double* z, double* r, double* h) noexcept nogil:
    """rows_loss_param for a loss without a parameter."""
    return rows_loss_param(loss, 0.0, y, sw, m, z, r, h)


cdef inline double loss_at_param(int loss, double loss_param, const double* y, const double* sw,
                                 double scale, double cost_offset, Py_ssize_t n, const double* z,
                                 double* r, double* h) noexcept nogil:
    """Mean weighted loss (plus cost_offset) at predictions z; r and h, unless NULL, get
    scale * sw * loss' and scale * sw * loss''. O(n), no pass over X: what a line search on
    cached predictions evaluates. Blocks of rows go through rows_loss_param, the passes' own
    loop."""
    cdef Py_ssize_t i0 = 0, m, k
    cdef double total = 0
    cdef double zb[BLOCK_ROWS]
    cdef double rb[BLOCK_ROWS]
    cdef double hb[BLOCK_ROWS]
    while i0 < n:
        m = min(<Py_ssize_t>BLOCK_ROWS, n - i0)
        for k in range(m):
            zb[k] = z[i0 + k]
        total += rows_loss_param(loss, loss_param, y + i0, sw + i0 if sw != NULL else NULL, m,
                                 zb, rb, hb)
        if r != NULL:
            for k in range(m):
                r[i0 + k] = rb[k] * scale
        if h != NULL:
            for k in range(m):
                h[i0 + k] = hb[k] * scale
        i0 += m
    return total * scale + cost_offset


cdef inline double loss_at(int loss, const double* y, const double* sw, double scale,
                           double cost_offset, Py_ssize_t n, const double* z, double* r,
                           double* h) noexcept nogil:
    """loss_at_param for a loss without a parameter."""
    return loss_at_param(loss, 0.0, y, sw, scale, cost_offset, n, z, r, h)


cdef inline double add_penalty(double alpha, Py_ssize_t d, Py_ssize_t D, const double* w,
                               double* grad, double* H) noexcept nogil:
    """The L2 penalty alpha/2 ||coef||^2 at w, the compiled form of gdfast.Penalty: adds its
    gradient alpha * coef to grad and alpha on the diagonal of H (D x D, C order) unless they
    are NULL, and returns its value. The intercept (w[d] when D > d) is never penalised.
    With alpha = 0 nothing is computed, so that huge weights cannot give 0 * inf."""
    cdef Py_ssize_t j
    cdef double pen = 0
    if alpha == 0:
        return 0.0
    for j in range(d):
        pen += w[j] * w[j]
    if grad != NULL:
        for j in range(d):
            grad[j] += alpha * w[j]
    if H != NULL:
        for j in range(d):
            H[j * D + j] += alpha
    return 0.5 * alpha * pen


cdef inline double block_loss(const Problem* P, Py_ssize_t i0, Py_ssize_t m, double* z,
                              double* r, double* h) noexcept nogil:
    """rows_loss_param for the block of rows i0 .. i0 + m - 1 of the problem."""
    return rows_loss_param(P.loss, P.loss_param, P.y + i0, P.sw + i0 if P.sw != NULL else NULL,
                           m, z, r, h)


cdef inline void hessian_rows(const floating* X, const Problem* P, Py_ssize_t i0, Py_ssize_t m,
                        const double* h, double* buf) noexcept nogil:
    """Rows i0..i0+m of Xa scaled by sqrt(h), into buf (row-major, D doubles a row)."""
    cdef Py_ssize_t k, j
    cdef Py_ssize_t D = P.d + P.fit_intercept
    cdef double sk
    cdef double* dst
    cdef const floating* src
    for k in range(m):
        # a row of negative weight (a loss not convex in z, e.g. Tweedie with p > 2) cannot be
        # scaled by sqrt(h): it gets 0 here and is added on its own (dense_hessian)
        sk = sqrt(h[k]) if h[k] > 0 else 0.0
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
    if rows > 0 and (D > GRAM_MAX_D or not gram_upper(buf, rows, D, H)):
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
