# The compiled passes of the multinomial (softmax) model: K raw predictions per row, one pass over
# the rows of X (dense or CSR) for the cost, the gradient of all K columns, and on request the
# Hessian or a Hessian-vector product.
#
# Notation. Theta is the full coefficient matrix of shape (D, K) in C order, D = d + 1 with an
# intercept (its last row holds the K intercepts) and D = d without. Theta[j, k] is entry j * K + k
# of the flat vector the passes read: the K coefficients of one feature are contiguous, so a row
# x of X is read once and each x_j multiplies one contiguous K-vector. For row i:
#
#   z_i = x_i Theta (+ intercepts)        (K numbers)
#   p_i = softmax(z_i)
#   loss_i = log(sum_k exp(z_ik)) - z_i,y_i
#          = log1p(sum_{k != a} exp(z_ik - z_ia)) + (z_ia - z_i,y_i),   a = argmax_k z_ik
#
# (the second form is finite for any finite z, and exact for a confident correct prediction,
# where the sum is tiny). With s_i = sample_weight_i / sum(weights):
#
#   cost     = sum_i s_i loss_i
#   gradient = Xa^T R,                R_ik = s_i (p_ik - [k == y_i])
#   Hessian  = sum_i s_i (xa_i xa_i^T) kron (diag(p_i) - p_i p_i^T)
#   H v      = Xa^T Q,                Q_ik = s_i p_ik (t_ik - p_i . t_i),  t_i = xa_i V
#
# The penalty is not added here (gdfast.MultinomialObjective adds it through its Penalty), and
# neither is any constraint that makes the parameters identifiable: the passes work on the full
# Theta; the objective picks the free entries.
#
# Inside a pass every K-wide row (of Theta, of the block's z, residuals and gradient) is padded
# to KP columns, a multiple of 4, with zeros in the padding: the register tiles of
# gdfast/_multinomial_simd.h then work on whole vectors. The caller's Theta and gradient are
# unpadded (D x K); the pass copies Theta in and the gradient out.
#
# A pass cuts the rows into nc parts (contiguous row ranges) and runs one per thread; a part walks
# its rows in blocks small enough that the block's rows are still in cache when they are read the
# second time (z, then the gradient), so X is read from memory once per pass and nothing of size
# n x d is made. Each part accumulates into its own buffers, added in part order after the
# parallel region: a given part count gives the same bits on any number of OpenMP threads.

from cython.parallel cimport prange
from libc.stdlib cimport calloc, free
from libc.string cimport memset, memcpy
from libc.math cimport log1p, sqrt
from scipy.linalg.cython_blas cimport dsyrk


cdef extern from "gdfast/_multinomial_simd.h":
    # four rows of X times the padded Theta, and their gradient contribution (register tiles)
    void z4_f64 "gd_mn_z4_f64"(const double* x, Py_ssize_t rs, const double* T, Py_ssize_t d,
                               Py_ssize_t KP, double* Z) noexcept nogil
    void z4_f32 "gd_mn_z4_f32"(const float* x, Py_ssize_t rs, const double* T, Py_ssize_t d,
                               Py_ssize_t KP, double* Z) noexcept nogil
    void scatter4_f64 "gd_mn_scatter4_f64"(const double* x, Py_ssize_t rs, const double* R,
                                           Py_ssize_t d, Py_ssize_t KP, double* G) noexcept nogil
    void scatter4_f32 "gd_mn_scatter4_f32"(const float* x, Py_ssize_t rs, const double* R,
                                           Py_ssize_t d, Py_ssize_t KP, double* G) noexcept nogil
    void exp_row "gd_mn_exp_row"(double* z, Py_ssize_t K, Py_ssize_t KP, double mx) noexcept nogil
    void log1p_rows "gd_mn_log1p_rows"(const double* e, Py_ssize_t m, double* out) noexcept nogil

import numpy as np

ctypedef fused real:
    float
    double

ctypedef fused index_t:
    int
    long long

cdef enum:
    BLOCK_ROWS = 256            # the most rows of a block
    L1_BLOCK_BYTES = 24576      # dense C rows: a block's rows fit in half of L1
    MIN_BLOCKS_PER_THREAD = 8   # blocks a thread must get to be worth waking
    MAX_THREADED_HESSIAN = 1024  # above this many entries of Theta, one part builds the Hessian
    PAD = 8                     # doubles per cache line
    GRAM_ROWS = 2 * BLOCK_ROWS  # dense Hessian: rows gathered per syrk (at least BLOCK_ROWS)
    MAX_PARTS = 256             # the most parts (threads) of a pass


cdef struct MProblem:
    const void* X          # dense X, or the data of a CSR matrix
    bint f32
    bint csr
    bint idx64             # CSR index arrays are int64 (else int32)
    const void* indices
    const void* indptr
    Py_ssize_t n
    Py_ssize_t d
    Py_ssize_t rs          # dense: row stride, in elements
    Py_ssize_t cs          # dense: column stride (one of rs, cs is 1)
    Py_ssize_t K
    Py_ssize_t KP          # K rounded up to a multiple of 4: the stride of every n x K buffer
    const Py_ssize_t* y    # class index of each row, 0 .. K-1
    const double* sw       # NULL: unit weights
    double scale           # 1 / sum(weights)
    bint fit_intercept
    Py_ssize_t bm          # rows per block
    Py_ssize_t rowcap      # the most stored entries of a row of Xa (CSR: duplicates included)


cdef inline Py_ssize_t _pad(Py_ssize_t k) noexcept nogil:
    return ((k + PAD - 1) // PAD) * PAD


# ---------------------------------------------------------------------------------------------
# Block products: Z = Xa_block Theta and G += Xa_block^T R, R of shape (m, K)
# ---------------------------------------------------------------------------------------------

cdef inline void _init_rows(const MProblem* P, Py_ssize_t m, const double* T,
                            double* Z) noexcept nogil:
    """Z[r, :] = the intercepts (or 0) for the m rows."""
    cdef Py_ssize_t r, k, KP = P.KP
    if P.fit_intercept:
        for r in range(m):
            for k in range(KP):
                Z[r * KP + k] = T[P.d * KP + k]
    else:
        memset(Z, 0, m * KP * sizeof(double))


cdef inline void _dense_z(const real* X, const MProblem* P, Py_ssize_t i0, Py_ssize_t m,
                          const double* T, double* Z) noexcept nogil:
    # Every Z[r, k] is summed over j in order 0 .. d-1 on every path.
    cdef Py_ssize_t r = 0, j, k, KP = P.KP, d = P.d, rs = P.rs, cs = P.cs
    cdef const real* x0
    cdef double a0
    cdef double* z0
    cdef const double* tj
    _init_rows(P, m, T, Z)
    if cs == 1:
        while r + 4 <= m:           # four rows at a time, in registers
            if real is double:
                z4_f64(X + (i0 + r) * rs, rs, T, d, KP, Z + r * KP)
            else:
                z4_f32(X + (i0 + r) * rs, rs, T, d, KP, Z + r * KP)
            r += 4
        while r < m:
            x0 = X + (i0 + r) * rs
            z0 = Z + r * KP
            for j in range(d):
                a0 = x0[j]
                tj = T + j * KP
                for k in range(KP):
                    z0[k] += a0 * tj[k]
            r += 1
    else:
        for j in range(d):
            x0 = X + j * cs + i0 * rs
            tj = T + j * KP
            for r in range(m):
                a0 = x0[r * rs]
                z0 = Z + r * KP
                for k in range(KP):
                    z0[k] += a0 * tj[k]


cdef inline void _dense_scatter(const real* X, const MProblem* P, Py_ssize_t i0, Py_ssize_t m,
                                const double* R, double* G) noexcept nogil:
    # G[j, k] gets the block's rows in groups of four, in row order, on both paths.
    cdef Py_ssize_t r, j, k, KP = P.KP, d = P.d, rs = P.rs, cs = P.cs, m4 = m - m % 4
    cdef const real* x0
    cdef double a0, a1, a2, a3
    cdef const double* r0
    cdef const double* r1
    cdef const double* r2
    cdef const double* r3
    cdef double* g
    if cs == 1:
        r = 0
        while r < m4:
            if real is double:
                scatter4_f64(X + (i0 + r) * rs, rs, R + r * KP, d, KP, G)
            else:
                scatter4_f32(X + (i0 + r) * rs, rs, R + r * KP, d, KP, G)
            r += 4
        while r < m:
            x0 = X + (i0 + r) * rs
            r0 = R + r * KP
            for j in range(d):
                a0 = x0[j]
                g = G + j * KP
                for k in range(KP):
                    g[k] += a0 * r0[k]
            r += 1
    else:
        for j in range(d):
            x0 = X + j * cs + i0 * rs
            g = G + j * KP
            r = 0
            while r < m4:
                a0 = x0[r * rs]
                a1 = x0[(r + 1) * rs]
                a2 = x0[(r + 2) * rs]
                a3 = x0[(r + 3) * rs]
                r0 = R + r * KP
                r1 = r0 + KP
                r2 = r1 + KP
                r3 = r2 + KP
                for k in range(KP):
                    g[k] += (a0 * r0[k] + a1 * r1[k]) + (a2 * r2[k] + a3 * r3[k])
                r += 4
            while r < m:
                a0 = x0[r * rs]
                r0 = R + r * KP
                for k in range(KP):
                    g[k] += a0 * r0[k]
                r += 1


cdef inline void _csr_z(const real* data, const index_t* ind, const index_t* ptr,
                        const MProblem* P, Py_ssize_t i0, Py_ssize_t m, const double* T,
                        double* Z) noexcept nogil:
    cdef Py_ssize_t r, q, k, KP = P.KP
    cdef double a
    cdef double* z
    cdef const double* tj
    _init_rows(P, m, T, Z)
    for r in range(m):
        z = Z + r * KP
        for q in range(ptr[i0 + r], ptr[i0 + r + 1]):
            a = data[q]
            tj = T + <Py_ssize_t>ind[q] * KP
            for k in range(KP):
                z[k] += a * tj[k]


cdef inline void _csr_scatter(const real* data, const index_t* ind, const index_t* ptr,
                              const MProblem* P, Py_ssize_t i0, Py_ssize_t m, const double* R,
                              double* G) noexcept nogil:
    cdef Py_ssize_t r, q, k, KP = P.KP
    cdef double a
    cdef double* g
    cdef const double* rr
    for r in range(m):
        rr = R + r * KP
        for q in range(ptr[i0 + r], ptr[i0 + r + 1]):
            a = data[q]
            g = G + <Py_ssize_t>ind[q] * KP
            for k in range(KP):
                g[k] += a * rr[k]


cdef inline void _intercept_scatter(const MProblem* P, Py_ssize_t m, const double* R,
                                    double* G) noexcept nogil:
    cdef Py_ssize_t r, k, KP = P.KP
    cdef double* g = G + P.d * KP
    if P.fit_intercept:
        for r in range(m):
            for k in range(KP):
                g[k] += R[r * KP + k]


cdef inline void _csr_rows(const real* data, const index_t* ind, const index_t* ptr,
                           const MProblem* P, Py_ssize_t i0, Py_ssize_t m, const double* A,
                           double* B, bint scatter) noexcept nogil:
    if scatter:
        _csr_scatter(data, ind, ptr, P, i0, m, A, B)
    else:
        _csr_z(data, ind, ptr, P, i0, m, A, B)


cdef inline void _dense_rows(const real* X, const MProblem* P, Py_ssize_t i0, Py_ssize_t m,
                             const double* A, double* B, bint scatter) noexcept nogil:
    if scatter:
        _dense_scatter(X, P, i0, m, A, B)
    else:
        _dense_z(X, P, i0, m, A, B)


cdef inline void _block_rows(const MProblem* P, Py_ssize_t i0, Py_ssize_t m, const double* A,
                             double* B, bint scatter) noexcept nogil:
    """The product of rows i0 .. i0+m of X (its dtype and storage read from P) with A: B =
    X_block A (scatter False) or B += X_block^T A (scatter True)."""
    if P.csr:
        if P.f32:
            if P.idx64:
                _csr_rows(<const float*>P.X, <const long long*>P.indices, <const long long*>P.indptr, P, i0, m, A, B, scatter)
            else:
                _csr_rows(<const float*>P.X, <const int*>P.indices, <const int*>P.indptr, P, i0, m, A, B, scatter)
        else:
            if P.idx64:
                _csr_rows(<const double*>P.X, <const long long*>P.indices, <const long long*>P.indptr, P, i0, m, A, B, scatter)
            else:
                _csr_rows(<const double*>P.X, <const int*>P.indices, <const int*>P.indptr, P, i0, m, A, B, scatter)
    elif P.f32:
        _dense_rows(<const float*>P.X, P, i0, m, A, B, scatter)
    else:
        _dense_rows(<const double*>P.X, P, i0, m, A, B, scatter)


cdef inline void block_z(const MProblem* P, Py_ssize_t i0, Py_ssize_t m, const double* T,
                         double* Z) noexcept nogil:
    """Z = Xa[i0:i0+m] Theta, shape (m, KP), Theta padded (D x KP)."""
    _block_rows(P, i0, m, T, Z, False)


cdef inline void block_scatter(const MProblem* P, Py_ssize_t i0, Py_ssize_t m, const double* R,
                               double* G) noexcept nogil:
    """G += Xa[i0:i0+m]^T R, G of shape (D, KP)."""
    _block_rows(P, i0, m, R, G, True)
    _intercept_scatter(P, m, R, G)


# ---------------------------------------------------------------------------------------------
# Per-row softmax terms
# ---------------------------------------------------------------------------------------------

cdef inline double block_softmax(const MProblem* P, Py_ssize_t i0, Py_ssize_t m, double* Z,
                                 double* R, double* scratch) noexcept nogil:
    """Z (the block's predictions) becomes the probabilities p; R = s * (p - onehot(y)) unless
    NULL. Returns sum_r w_r loss_r (unnormalised weights). scratch: 2 * m doubles."""
    cdef Py_ssize_t r, k, a, K = P.K, yi
    cdef double mx, others, inv, s, zy, total = 0
    cdef double* z
    cdef double* sums = scratch          # per row: the sum of the other exponentials ...
    cdef double* margin = scratch + m    # ... and max(z) - z_y
    for r in range(m):
        z = Z + r * P.KP
        a = 0
        mx = z[0]
        for k in range(1, K):
            if z[k] > mx:
                mx = z[k]
                a = k
        yi = P.y[i0 + r]
        zy = z[yi]
        # exp(z - max) <= 1: never overflows; the largest term is exactly 1 and left out of the
        # sum, so that log1p keeps the digits of a confident prediction's small loss
        exp_row(z, K, P.KP, mx)     # z[a] = exp(0) = 1 exactly; the padding 0
        others = 0
        for k in range(K):
            if k != a:
                others += z[k]
        sums[r] = others
        margin[r] = mx - zy
        s = 1.0 if P.sw == NULL else P.sw[i0 + r]
        inv = 1.0 / (1.0 + others)
        for k in range(P.KP):
            z[k] *= inv
        if R != NULL:               # its padding stays 0
            for k in range(K):
                R[r * P.KP + k] = s * z[k]
            R[r * P.KP + yi] -= s
    log1p_rows(sums, m, sums)       # over the block at once: vectorised
    for r in range(m):
        s = 1.0 if P.sw == NULL else P.sw[i0 + r]
        total += s * (sums[r] + margin[r])
    return total


cdef inline void block_hessp_weights(const MProblem* P, Py_ssize_t i0, Py_ssize_t m,
                                     const double* Pr, double* T) noexcept nogil:
    """T (= Xa V for the block) becomes Q: Q_rk = s_r p_rk (t_rk - p_r . t_r)."""
    cdef Py_ssize_t r, k, K = P.K
    cdef double pt, s
    cdef const double* p
    cdef double* t
    for r in range(m):
        p = Pr + r * P.KP
        t = T + r * P.KP
        pt = 0
        for k in range(K):
            pt += p[k] * t[k]
        s = 1.0 if P.sw == NULL else P.sw[i0 + r]
        for k in range(K):
            t[k] = s * p[k] * (t[k] - pt)


# ---------------------------------------------------------------------------------------------
# The Hessian: per row, (xa xa^T) kron s (diag(p) - p p^T), into the blocks (j, l) with j >= l
# (each a K x K block of the (D K) x (D K) matrix in C order), mirrored at the end.
# ---------------------------------------------------------------------------------------------

cdef inline Py_ssize_t _row_entries(const MProblem* P, Py_ssize_t i, double* xb,
                                    Py_ssize_t* idx) noexcept nogil:
    """The stored entries of row i of Xa (values xb, columns idx); returns their count."""
    cdef Py_ssize_t j, q, c = 0
    if P.csr:
        if P.idx64:
            for q in range((<const long long*>P.indptr)[i], (<const long long*>P.indptr)[i + 1]):
                idx[c] = (<const long long*>P.indices)[q]
                xb[c] = (<const float*>P.X)[q] if P.f32 else (<const double*>P.X)[q]
                c += 1
        else:
            for q in range((<const int*>P.indptr)[i], (<const int*>P.indptr)[i + 1]):
                idx[c] = (<const int*>P.indices)[q]
                xb[c] = (<const float*>P.X)[q] if P.f32 else (<const double*>P.X)[q]
                c += 1
    else:
        for j in range(P.d):
            idx[c] = j
            if P.f32:
                xb[c] = (<const float*>P.X)[i * P.rs + j * P.cs]
            else:
                xb[c] = (<const double*>P.X)[i * P.rs + j * P.cs]
            c += 1
    if P.fit_intercept:
        idx[c] = P.d
        xb[c] = 1.0
        c += 1
    return c


cdef inline void block_hessian(const MProblem* P, Py_ssize_t i0, Py_ssize_t m, const double* Pr,
                               double* A, double* xb, Py_ssize_t* idx, double* H) noexcept nogil:
    cdef Py_ssize_t r, k, l, a, b, c, ja, jb, K = P.K, DK = (P.d + P.fit_intercept) * P.K
    cdef double s, xx
    cdef const double* p
    cdef double* Hb
    cdef const double* Ak
    for r in range(m):
        p = Pr + r * P.KP
        s = 1.0 if P.sw == NULL else P.sw[i0 + r]
        if s == 0:
            continue
        for k in range(K):
            # the lower triangle, copied up: A must be exactly symmetric for H to be
            for l in range(k):
                A[k * K + l] = -s * p[k] * p[l]
                A[l * K + k] = A[k * K + l]
            A[k * K + k] = s * p[k] * (1.0 - p[k])
        c = _row_entries(P, i0 + r, xb, idx)
        for a in range(c):
            for b in range(a + 1):
                ja = idx[a]
                jb = idx[b]
                xx = xb[a] * xb[b]
                if ja < jb:
                    ja, jb = jb, ja
                elif ja == jb and a != b:
                    xx = 2.0 * xx        # a duplicate entry: its pair stands for both orders
                Hb = H + ja * K * DK + jb * K
                for k in range(K):
                    Ak = A + k * K
                    for l in range(K):
                        Hb[k * DK + l] += xx * Ak[l]


# The dense Hessian by BLAS. Per row, s (xa xa^T) kron (diag(p) - p p^T) is
#   s (xa xa^T) kron diag(p)  -  y y^T,   y = sqrt(s) xa kron p   (entry j K + k: sqrt(s) xa_j p_k)
# so over a batch of rows the second term is one syrk of the batch's y rows (Y^T Y, DK x DK) and
# the first is K syrks of D x D Grams (rows scaled by sqrt(s p_k)) added into the diagonal of
# each K x K block. Same flops as the per-row loop above (m (DK)^2 / 2), at BLAS speed (measured
# ~14x at D = 51, K = 10). The diagonal entries lose their relative accuracy where p_k is near 1
# (s p_k - s p_k^2), by at most eps * s xa_j^2 in absolute terms: the Hessian stays accurate
# normwise. Sparse rows keep the per-row loop (a row's y would be dense).

cdef inline void _syrk_lower(const double* A, Py_ssize_t rows, Py_ssize_t n, double alpha,
                             double* C) noexcept nogil:
    """C += alpha A^T A, lower triangle (C row-major n x n, A row-major rows x n)."""
    cdef int ni = <int>n, k = <int>rows
    cdef double beta = 1.0
    cdef char uplo = b'U'        # column-major upper = row-major lower
    cdef char trans = b'N'
    if rows > 0:
        dsyrk(&uplo, &trans, &ni, &k, &alpha, <double*>A, &ni, &beta, C, &ni)


cdef void gram_hessian(const MProblem* P, Py_ssize_t i0, Py_ssize_t m, const double* Pr,
                       double* Y, double* G, double* H) noexcept nogil:
    """H (lower triangle) += the rows i0 .. i0+m of dense X (m <= GRAM_ROWS), their
    probabilities Pr (m x KP). Y: GRAM_ROWS * D * K doubles; G: GRAM_ROWS * D + D * D."""
    cdef Py_ssize_t r, j, k, l, K = P.K, d = P.d, D = P.d + P.fit_intercept, DK = D * K
    cdef double sq, xv, sk
    cdef const double* p
    cdef double* yr
    cdef double* xr
    cdef double* Gk = G + GRAM_ROWS * D
    for r in range(m):
        p = Pr + r * P.KP
        sq = 1.0 if P.sw == NULL else sqrt(P.sw[i0 + r])
        yr = Y + r * DK
        for j in range(d):
            if P.f32:
                xv = sq * (<const float*>P.X)[(i0 + r) * P.rs + j * P.cs]
            else:
                xv = sq * (<const double*>P.X)[(i0 + r) * P.rs + j * P.cs]
            for k in range(K):
                yr[j * K + k] = xv * p[k]
        if P.fit_intercept:
            for k in range(K):
                yr[d * K + k] = sq * p[k]
    _syrk_lower(Y, m, DK, -1.0, H)
    for k in range(K):
        for r in range(m):
            # sqrt(s p_k) xa = y's entries of class k over sqrt(p_k)
            sk = 1.0 if P.sw == NULL else P.sw[i0 + r]
            sk = sqrt(sk * Pr[r * P.KP + k])
            xr = G + r * D
            for j in range(d):
                if P.f32:
                    xr[j] = sk * (<const float*>P.X)[(i0 + r) * P.rs + j * P.cs]
                else:
                    xr[j] = sk * (<const double*>P.X)[(i0 + r) * P.rs + j * P.cs]
            if P.fit_intercept:
                xr[d] = sk
        memset(Gk, 0, D * D * sizeof(double))
        _syrk_lower(G, m, D, 1.0, Gk)
        for j in range(D):
            for l in range(j + 1):
                H[(j * K + k) * DK + l * K + k] += Gk[j * D + l]


cdef inline void _mirror_lower(double* H, Py_ssize_t n) noexcept nogil:
    """Copy the strict lower triangle of the row-major n x n H onto the upper."""
    cdef Py_ssize_t r, c
    for r in range(n):
        for c in range(r):
            H[c * n + r] = H[r * n + c]


cdef inline void _mirror(double* H, Py_ssize_t D, Py_ssize_t K) noexcept nogil:
    """Copy the blocks (j, l), j > l, onto (l, j) transposed; scale nothing."""
    cdef Py_ssize_t j, l, k, q, DK = D * K
    for j in range(D):
        for l in range(j):
            for k in range(K):
                for q in range(K):
                    H[(l * K + q) * DK + j * K + k] = H[(j * K + k) * DK + l * K + q]


# ---------------------------------------------------------------------------------------------
# The pass
# ---------------------------------------------------------------------------------------------

cdef enum:
    JOB_COST = 0       # cost; gradient into G and Hessian into H when given
    JOB_HESSP = 1      # cost, and Xa^T Q into G for the vector V
    JOB_LINEAR = 2     # Z = Xa Theta into out (n x K)


cdef struct Part:
    double* z          # BLOCK_ROWS * KP each
    double* r
    double* t
    double* A          # K * K
    double* lg         # 2 * BLOCK_ROWS: block_softmax's scratch
    double* xb         # rowcap
    Py_ssize_t* idx    # rowcap
    double* acc        # D * KP; NULL: none
    double* H          # DK * DK; NULL: none
    double* pend       # dense Hessian (else NULL): GRAM_ROWS * KP probabilities of the rows
    double* Y          # ... gathered for gram_hessian, and its buffers
    double* G


cdef inline double _run_part(const MProblem* P, int job, const double* T, const double* V,
                             Py_ssize_t row0, Py_ssize_t row1, Part* W, double* out) noexcept nogil:
    cdef Py_ssize_t i0 = row0, m, D = P.d + P.fit_intercept, K = P.K, r
    cdef Py_ssize_t start = row0, gathered = 0       # rows waiting for gram_hessian
    cdef double cost = 0
    if W.acc != NULL:
        memset(W.acc, 0, D * P.KP * sizeof(double))
    while i0 < row1:
        m = min(P.bm, row1 - i0)
        if job == JOB_LINEAR:
            block_z(P, i0, m, T, W.z)
            for r in range(m):
                memcpy(out + (i0 + r) * K, W.z + r * P.KP, K * sizeof(double))
        elif job == JOB_COST:
            block_z(P, i0, m, T, W.z)
            cost += block_softmax(P, i0, m, W.z, W.r if W.acc != NULL else NULL, W.lg)
            if W.acc != NULL:
                block_scatter(P, i0, m, W.r, W.acc)
            if W.H != NULL and W.Y != NULL:
                memcpy(W.pend + gathered * P.KP, W.z, m * P.KP * sizeof(double))
                gathered += m
                if gathered + P.bm > GRAM_ROWS or i0 + m >= row1:
                    gram_hessian(P, start, gathered, W.pend, W.Y, W.G, W.H)
                    start = i0 + m
                    gathered = 0
            elif W.H != NULL:
                block_hessian(P, i0, m, W.z, W.A, W.xb, W.idx, W.H)
        else:
            block_z(P, i0, m, T, W.z)
            block_z(P, i0, m, V, W.t)        # the block is in cache for the second product
            cost += block_softmax(P, i0, m, W.z, NULL, W.lg)
            block_hessp_weights(P, i0, m, W.z, W.t)
            block_scatter(P, i0, m, W.t, W.acc)
        i0 += m
    return cost


cdef int pass_parts(const MProblem* P, int nt, bint hess) noexcept nogil:
    cdef Py_ssize_t most = ((P.n + BLOCK_ROWS - 1) // BLOCK_ROWS) // MIN_BLOCKS_PER_THREAD
    if hess and (not P.csr or (P.d + P.fit_intercept) * P.K > MAX_THREADED_HESSIAN):
        # dense: the Hessian is BLAS syrk (gram_hessian), threaded by BLAS itself; called from
        # threaded parts it nested BLAS threads in OpenMP's (100k x 50, K = 10, 2 threads on a
        # loaded machine: 8.7 s against 0.8 s at 1 thread)
        return 1
    if nt > most:
        nt = <int>most
    return nt if nt >= 1 else 1


cdef inline void _pad_theta(const MProblem* P, const double* theta, double* padded) noexcept nogil:
    """padded (D x KP) = theta (D x K) with zero columns appended."""
    cdef Py_ssize_t j, D = P.d + P.fit_intercept
    memset(padded, 0, D * P.KP * sizeof(double))
    for j in range(D):
        memcpy(padded + j * P.KP, theta + j * P.K, P.K * sizeof(double))


cdef double run_pass(const MProblem* P, int job, const double* theta, const double* v,
                     double* grad, double* H, double* out, int nc, double* work) noexcept nogil:
    """The job over nc parts (one per thread); grad (D K) and H ((D K)^2) get the parts' sums in
    part order. work: _workspace_size doubles, zeroed (the padding of the block buffers must
    read 0). Returns the unnormalised weighted loss sum."""
    cdef Py_ssize_t D = P.d + P.fit_intercept, K = P.K, KP = P.KP, DK = D * K, j, k, c
    cdef Py_ssize_t stride = _part_stride(P)
    cdef Part parts[MAX_PARTS]
    cdef double costs[MAX_PARTS]
    cdef Py_ssize_t bounds[MAX_PARTS + 1]
    cdef Py_ssize_t nblocks = (P.n + P.bm - 1) // P.bm
    cdef double* base
    cdef double* T = work + nc * stride                  # Theta, then V, padded
    cdef double* V = T + D * KP
    cdef double* hess_private = V + D * KP
    cdef bint gram = H != NULL and not P.csr
    cdef double* gram_work = hess_private + (nc - 1) * DK * DK
    cdef double total = 0
    cdef const double* a
    _pad_theta(P, theta, T)
    if v != NULL:
        _pad_theta(P, v, V)
    for c in range(nc):
        base = work + c * stride
        parts[c].z = base
        parts[c].r = base + BLOCK_ROWS * KP
        parts[c].t = base + 2 * BLOCK_ROWS * KP
        parts[c].A = base + 3 * BLOCK_ROWS * KP
        parts[c].lg = parts[c].A + _pad(K * K)
        parts[c].xb = parts[c].lg + 2 * BLOCK_ROWS
        parts[c].idx = <Py_ssize_t*>(parts[c].xb + _pad(P.rowcap))
        parts[c].acc = parts[c].xb + 2 * _pad(P.rowcap) if grad != NULL else NULL
        parts[c].H = NULL
        parts[c].pend = NULL
        parts[c].Y = NULL
        parts[c].G = NULL
        if gram:
            parts[c].pend = gram_work + c * _gram_stride(P)
            parts[c].Y = parts[c].pend + GRAM_ROWS * KP
            parts[c].G = parts[c].Y + GRAM_ROWS * DK
        if H != NULL:
            parts[c].H = H if c == 0 else hess_private + (c - 1) * DK * DK
            memset(parts[c].H, 0, DK * DK * sizeof(double))
        bounds[c] = (nblocks * c // nc) * P.bm
    bounds[nc] = P.n
    if nc == 1:
        costs[0] = _run_part(P, job, T, V, bounds[0], bounds[1], &parts[0], out)
    else:
        for c in prange(nc, schedule='static', num_threads=nc):
            costs[c] = _run_part(P, job, T, V, bounds[c], bounds[c + 1], &parts[c], out)
    for c in range(nc):
        total += costs[c]
    if grad != NULL:
        for j in range(D):
            for k in range(K):
                grad[j * K + k] = parts[0].acc[j * KP + k]
        for c in range(1, nc):
            a = parts[c].acc
            for j in range(D):
                for k in range(K):
                    grad[j * K + k] += a[j * KP + k]
    if H != NULL:
        for c in range(1, nc):
            a = parts[c].H
            for j in range(DK * DK):
                H[j] += a[j]
        if gram:
            _mirror_lower(H, DK)
        else:
            _mirror(H, D, K)
    return total


cdef inline Py_ssize_t _part_stride(const MProblem* P) noexcept nogil:
    cdef Py_ssize_t D = P.d + P.fit_intercept
    return (3 * BLOCK_ROWS * P.KP + _pad(P.K * P.K) + 2 * BLOCK_ROWS + 2 * _pad(P.rowcap)
            + _pad(D * P.KP))


cdef inline Py_ssize_t _gram_stride(const MProblem* P) noexcept nogil:
    """A part's buffers for gram_hessian (dense X): pend, Y, G."""
    cdef Py_ssize_t D = P.d + P.fit_intercept
    return GRAM_ROWS * P.KP + GRAM_ROWS * D * P.K + GRAM_ROWS * D + D * D


cdef inline Py_ssize_t _workspace_size(const MProblem* P, int nc, bint hess) noexcept nogil:
    cdef Py_ssize_t DK = (P.d + P.fit_intercept) * P.K
    return (nc * _part_stride(P) + 2 * (P.d + P.fit_intercept) * P.KP
            + ((nc - 1) * DK * DK + (0 if P.csr else nc * _gram_stride(P)) if hess else 0))


# ---------------------------------------------------------------------------------------------
# The Python-facing kernel object
# ---------------------------------------------------------------------------------------------

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int gd_mn_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int gd_mn_max_threads(void) { return 1; }
    #endif
    """
    int gd_mn_max_threads() noexcept nogil


cdef inline int _expect(Py_ssize_t got, Py_ssize_t want, str name) except -1:
    if got != want:
        raise ValueError(f"{name} has {got} elements, expected {want}")
    return 0


cdef class MultinomialKernel:
    """Validated data of one multinomial objective, ready for the compiled passes.

    gdfast.MultinomialObjective validates and converts the inputs; this object keeps references
    to them and runs the passes over the full coefficient matrix Theta (D x K, C order, flat).

    Parameters
    ----------
    X : ndarray (float32/float64, contiguous rows or columns) or scipy CSR matrix
    y : ndarray of intp, the class of each row (0 .. n_classes - 1, unchecked here)
    sample_weight : ndarray of float64 or None
    scale : float, 1 / sum(weights)
    n_classes : int
    fit_intercept : bool
    """
    cdef MProblem P
    cdef object _keep
    cdef readonly Py_ssize_t n_theta

    def __cinit__(self, X, const Py_ssize_t[::1] y, sample_weight, double scale, Py_ssize_t n_classes,
                  bint fit_intercept):
        cdef MProblem P
        cdef const float[:, :] Xf
        cdef const double[:, :] Xd
        cdef const float[::1] df
        cdef const double[::1] dd
        cdef const int[::1] i32
        cdef const int[::1] p32
        cdef const long long[::1] i64
        cdef const long long[::1] p64
        cdef const double[::1] sw
        cdef Py_ssize_t itemsize
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2; got {n_classes}")
        memset(&P, 0, sizeof(MProblem))
        P.n = X.shape[0]
        P.d = X.shape[1]
        if y.shape[0] != P.n:
            raise ValueError(f"y has {y.shape[0]} elements, expected {P.n}")
        if hasattr(X, "indptr"):
            P.csr = True
            keep = (X.data, X.indices, X.indptr)
            if X.data.dtype == np.float32:
                df = X.data
                P.X = &df[0] if df.shape[0] else NULL
                P.f32 = True
            else:
                dd = X.data
                P.X = &dd[0] if dd.shape[0] else NULL
            if X.indices.dtype == np.int64:
                i64 = X.indices
                p64 = X.indptr
                P.indices = &i64[0] if i64.shape[0] else NULL
                P.indptr = &p64[0]
                P.idx64 = True
            else:
                i32 = X.indices
                p32 = X.indptr
                P.indices = &i32[0] if i32.shape[0] else NULL
                P.indptr = &p32[0]
            P.bm = BLOCK_ROWS
            P.rowcap = (int(np.diff(X.indptr).max()) if P.n else 0) + fit_intercept
        else:
            keep = X
            if X.dtype == np.float32:
                Xf = X
                P.X = &Xf[0, 0]
                P.f32 = True
                itemsize = 4
            else:
                Xd = X
                P.X = &Xd[0, 0]
                itemsize = 8
            P.rs = X.strides[0] // itemsize
            P.cs = X.strides[1] // itemsize
            if P.d == 1:
                P.cs = 1
            elif P.n == 1:
                P.rs = 1
            if not (P.cs == 1 or P.rs == 1):
                raise ValueError("X must have contiguous rows or contiguous columns")
            P.bm = BLOCK_ROWS
            if P.cs == 1:
                P.bm = L1_BLOCK_BYTES // (max(P.d, 1) * itemsize)
                P.bm = max(16, min(<Py_ssize_t>BLOCK_ROWS, P.bm - P.bm % 4))
            P.rowcap = P.d + fit_intercept
        P.y = &y[0]
        if sample_weight is None:
            P.sw = NULL
        else:
            sw = sample_weight
            _expect(sw.shape[0], P.n, "sample_weight")
            P.sw = &sw[0]
        P.scale = scale
        P.K = n_classes
        P.KP = ((n_classes + 3) // 4) * 4
        P.fit_intercept = fit_intercept
        self.P = P
        self.n_theta = (P.d + (1 if fit_intercept else 0)) * n_classes
        self._keep = (keep, y, sample_weight)

    cdef int _threads(self, n_threads) except -1:
        if n_threads is None:
            return max(1, min(<int>MAX_PARTS, gd_mn_max_threads()))
        return max(1, min(<int>MAX_PARTS, <int>n_threads))

    cdef double* _work(self, int nc, bint hess) except NULL:
        # zeroed: the padding columns of the block buffers must read 0
        cdef double* work = <double*>calloc(max(1, _workspace_size(&self.P, nc, hess)), sizeof(double))
        if work == NULL:
            raise MemoryError("no memory for the multinomial kernels' workspace")
        return work

    def cost_grad(self, const double[::1] theta, double[::1] grad=None, double[:, ::1] hess=None,
                  n_threads=None):
        """The mean weighted loss at theta (no penalty); the gradient into grad and the Hessian
        into hess (both w.r.t. the full theta, normalised) when given. Releases the GIL."""
        cdef Py_ssize_t DK = self.n_theta, j
        _expect(theta.shape[0], DK, "theta")
        if grad is not None:
            _expect(grad.shape[0], DK, "grad")
        if hess is not None:
            _expect(hess.shape[0] * hess.shape[1], DK * DK, "hess")
        cdef double* gp = &grad[0] if grad is not None else NULL
        cdef double* hp = &hess[0, 0] if hess is not None else NULL
        cdef int nc = pass_parts(&self.P, self._threads(n_threads), hp != NULL)
        cdef double* work = self._work(nc, hp != NULL)
        cdef double cost
        try:
            with nogil:
                cost = run_pass(&self.P, JOB_COST, &theta[0], NULL, gp, hp, NULL, nc, work)
                cost *= self.P.scale
                if gp != NULL:
                    for j in range(DK):
                        gp[j] *= self.P.scale
                if hp != NULL:
                    for j in range(DK * DK):
                        hp[j] *= self.P.scale
        finally:
            free(work)
        return cost

    def hessp(self, const double[::1] theta, const double[::1] v, double[::1] out, n_threads=None):
        """out = Hessian(theta) @ v (full theta, no penalty) from one pass; returns the mean
        weighted loss at theta."""
        cdef Py_ssize_t DK = self.n_theta, j
        _expect(theta.shape[0], DK, "theta")
        _expect(v.shape[0], DK, "v")
        _expect(out.shape[0], DK, "out")
        cdef int nc = pass_parts(&self.P, self._threads(n_threads), False)
        cdef double* work = self._work(nc, False)
        cdef double cost
        try:
            with nogil:
                cost = run_pass(&self.P, JOB_HESSP, &theta[0], &v[0], &out[0], NULL, NULL, nc,
                                work) * self.P.scale
                for j in range(DK):
                    out[j] *= self.P.scale
        finally:
            free(work)
        return cost

    def linear(self, const double[::1] theta, double[:, ::1] out, n_threads=None):
        """out = Xa Theta, the raw predictions (n x K)."""
        _expect(theta.shape[0], self.n_theta, "theta")
        _expect(out.shape[0] * out.shape[1], self.P.n * self.P.K, "out")
        cdef int nc = pass_parts(&self.P, self._threads(n_threads), False)
        cdef double* work = self._work(nc, False)
        try:
            with nogil:
                run_pass(&self.P, JOB_LINEAR, &theta[0], NULL, NULL, NULL, &out[0, 0], nc, work)
        finally:
            free(work)


def log1p_nonneg(const double[::1] x, double[::1] out):
    """out = log1p(x) for finite x >= 0 by the kernels' own branch-free log1p (for the tests)."""
    _expect(out.shape[0], x.shape[0], "out")
    if x.shape[0]:
        with nogil:
            log1p_rows(&x[0], x.shape[0], &out[0])
