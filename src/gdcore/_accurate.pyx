# Compensated passes for least squares: the gradient and the normal equations to twice the
# precision of double, for gdfast._least_squares (the direct solve and its refinement).
#
# Notation: Xa is X with a column of ones appended when the model has an intercept, sw the
# sample weights (unit when None), e = y - Xa w the residuals. Every sum here is accumulated as
# (s, c), s the running double sum and c the sum of its rounding errors (gdfast/_dd.h): results
# are as accurate as a computation in twice the precision rounded once.
#
#   residual_gradient(w):  G = Xa^T diag(sw) e and RSS = sum sw e^2, e computed per row to
#                          twice the precision, in one pass over X (the row is re-read from L1)
#   normal_equations():    the upper triangle of [Xa, y]^T diag(sw) [Xa, y] as hi + lo
#                          (Xa^T S Xa, Xa^T S y and y^T S y), in one pass
#
# Threads: the rows are cut into nt contiguous ranges, each with accumulators of its own, added
# in range order: a given thread count gives the same bits.

from cython.parallel cimport prange
from libc.stdint cimport int32_t, int64_t
from libc.string cimport memset

import numpy as np

cdef extern from "gdfast/_dd.h":
    void two_sum "gd_two_sum"(double a, double b, double* s, double* e) noexcept nogil
    void acc_prod "gd_acc_prod"(double* s, double* c, double a, double b) noexcept nogil
    void residual_f64 "gd_dd_residual_f64"(const double* x, Py_ssize_t cs, const double* w,
                                           Py_ssize_t d, double y, double b, double* hi,
                                           double* lo) noexcept nogil
    void residual_f32 "gd_dd_residual_f32"(const float* x, Py_ssize_t cs, const double* w,
                                           Py_ssize_t d, double y, double b, double* hi,
                                           double* lo) noexcept nogil
    void residual_contig_f64 "gd_dd_residual_contig_f64"(const double* x, const double* w,
                                                         Py_ssize_t d, double y, double b,
                                                         double* hi, double* lo) noexcept nogil
    void residual_contig_f32 "gd_dd_residual_contig_f32"(const float* x, const double* w,
                                                         Py_ssize_t d, double y, double b,
                                                         double* hi, double* lo) noexcept nogil
    void axpy_f64 "gd_dd_axpy_f64"(const double* x, Py_ssize_t d, double vh, double vl,
                                   double* G, double* C) noexcept nogil
    void axpy_f32 "gd_dd_axpy_f32"(const float* x, Py_ssize_t d, double vh, double vl,
                                   double* G, double* C) noexcept nogil
    void gram_row "gd_dd_gram_row"(const double* u, Py_ssize_t m, double wt, double* S,
                                   double* C) noexcept nogil
    ctypedef struct dd "gd_dd":
        double hi
        double lo
    dd dd_make "gd_dd_make"(double hi, double lo) noexcept nogil
    dd dd_add "gd_dd_add"(dd a, dd b) noexcept nogil
    dd dd_neg "gd_dd_neg"(dd a) noexcept nogil
    dd dd_mul "gd_dd_mul"(dd a, dd b) noexcept nogil
    dd dd_div "gd_dd_div"(dd a, dd b) noexcept nogil
    dd dd_sqrt "gd_dd_sqrt"(dd a) noexcept nogil

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int gda_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int gda_max_threads(void) { return 1; }
    #endif
    """
    int gda_max_threads() noexcept nogil

ctypedef fused floating:
    float
    double

ctypedef fused index_t:
    int32_t
    int64_t

DEF PAD = 8                  # per-thread accumulators start on their own cache line
DEF MIN_ROWS_PER_THREAD = 4096


cdef int _threads(n_threads, Py_ssize_t n) noexcept:
    cdef int nt = max(1, gda_max_threads()) if n_threads is None else max(1, <int>n_threads)
    return max(1, min(nt, <int>(n // MIN_ROWS_PER_THREAD)))


cdef inline Py_ssize_t _padded(Py_ssize_t k) noexcept nogil:
    return (k + PAD - 1) // PAD * PAD


cdef inline void _range(Py_ssize_t n, int nt, int t, Py_ssize_t* i0, Py_ssize_t* i1) noexcept nogil:
    i0[0] = n * t // nt
    i1[0] = n * (t + 1) // nt


cdef object _checked(Py_ssize_t n, Py_ssize_t D, const double[::1] y, const double[::1] w,
                     sample_weight):
    # the lengths of y, w and sample_weight; the weights as a memoryview (None for unit weights)
    if y.shape[0] != n:
        raise ValueError(f"y has length {y.shape[0]}, expected {n}")
    if w.shape[0] != D:
        raise ValueError(f"w has length {w.shape[0]}, expected {D}")
    if sample_weight is None:
        return None
    cdef const double[::1] sw = sample_weight
    if sw.shape[0] != n:
        raise ValueError(f"sample_weight has length {sw.shape[0]}, expected {n}")
    return sw


def _accumulators(int nt, Py_ssize_t D):
    # per thread: (G, C) of D doubles each on cache lines of their own, and the RSS's (s, c)
    return np.zeros((nt, _padded(D))), np.zeros((nt, _padded(D))), np.zeros((nt, PAD))


cdef void _dense_residual_gradient(const floating* X, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t n,
                                   Py_ssize_t d, const double* y, const double* sw, const double* w,
                                   bint intercept, Py_ssize_t i0, Py_ssize_t i1, double* G,
                                   double* C, double* rss) noexcept nogil:
    # G, C: d + 1 accumulators (the last for the intercept); rss: (s, c)
    cdef Py_ssize_t i
    cdef double b = w[d] if intercept else 0.0
    cdef double eh, el, vh, vl
    for i in range(i0, i1):
        if cs == 1:
            if floating is double:
                residual_contig_f64(X + i * rs, w, d, y[i], b, &eh, &el)
            else:
                residual_contig_f32(X + i * rs, w, d, y[i], b, &eh, &el)
        elif floating is double:
            residual_f64(X + i * rs, cs, w, d, y[i], b, &eh, &el)
        else:
            residual_f32(X + i * rs, cs, w, d, y[i], b, &eh, &el)
        vh = eh
        vl = el
        if sw != NULL:
            two_prod_into(sw[i], eh, el, &vh, &vl)
        if cs == 1:
            if floating is double:
                axpy_f64(X + i * rs, d, vh, vl, G, C)
            else:
                axpy_f32(X + i * rs, d, vh, vl, G, C)
        else:
            _strided_axpy(X + i * rs, cs, d, vh, vl, G, C)
        _row_tail(G, C, d, intercept, vh, vl, eh, el, rss)


cdef inline void _row_tail(double* G, double* C, Py_ssize_t d, bint intercept, double vh,
                           double vl, double eh, double el, double* rss) noexcept nogil:
    # the intercept's column of ones, and sw e^2 = v e (v = sw e): vh eh + (vh el + vl eh)
    cdef double p, pe
    if intercept:
        two_sum(G[d], vh, &p, &pe)
        G[d] = p
        C[d] += pe + vl
    acc_prod(&rss[0], &rss[1], vh, eh)
    rss[1] += vh * el + vl * eh


cdef inline void two_prod_into(double a, double bh, double bl, double* ph, double* pl) noexcept nogil:
    # a * (bh + bl) as ph + pl (to twice the precision)
    cdef double s = 0.0, c = 0.0
    acc_prod(&s, &c, a, bh)
    c += a * bl
    two_sum(s, c, ph, pl)


cdef void _strided_axpy(const floating* x, Py_ssize_t cs, Py_ssize_t d, double vh, double vl,
                        double* G, double* C) noexcept nogil:
    cdef Py_ssize_t j
    cdef double xj
    for j in range(d):
        xj = x[j * cs]
        acc_prod(&G[j], &C[j], xj, vh)
        C[j] += xj * vl


def _finish(double[:, ::1] G, double[:, ::1] C, Py_ssize_t D, int nt):
    # the per-thread (G, C) added in thread order, as hi + lo
    cdef Py_ssize_t j
    cdef int t
    cdef double s, c, e
    hi = np.empty(D)
    lo = np.empty(D)
    cdef double[::1] h = hi, l = lo
    for j in range(D):
        s = G[0, j]
        c = C[0, j]
        for t in range(1, nt):
            two_sum(s, G[t, j], &s, &e)
            c += e + C[t, j]
        two_sum(s, c, &h[j], &l[j])
    return hi, lo


def _result(G, C, R, Py_ssize_t D, int nt, bint split):
    ghi, glo = _finish(G, C, D, nt)
    rhi, rlo = _finish(R[:, :1].copy(), R[:, 1:2].copy(), 1, nt)
    if split:
        return ghi, glo, float(rhi[0]), float(rlo[0])
    return ghi + glo, float(rhi[0] + rlo[0])


def residual_gradient(X, const double[::1] y, sample_weight, const double[::1] w,
                      bint fit_intercept, n_threads=None, bint split=False):
    """``(G, rss)``: ``G = Xa^T diag(sw) (y - Xa w)`` and ``rss = sum sw (y - Xa w)^2``, both to
    twice the precision of double (rounded once), in one pass over the dense X (float32 or
    float64, rows or columns contiguous). Releases the GIL. ``split=True`` returns them
    unrounded, ``(G_hi, G_lo, rss_hi, rss_lo)``, for sums over blocks (gdfast.dask)."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t D = d + (1 if fit_intercept else 0)
    cdef const double[::1] swv = _checked(n, D, y, w, sample_weight)
    cdef const double* swp = NULL if swv is None else &swv[0]
    cdef int nt = _threads(n_threads, n)
    G, C, R = _accumulators(nt, D)
    cdef double[:, ::1] Gv = G, Cv = C, Rv = R
    cdef const float[:, :] Xf
    cdef const double[:, :] Xd
    cdef Py_ssize_t itemsize = X.dtype.itemsize
    cdef Py_ssize_t rs = X.strides[0] // itemsize, cs = X.strides[1] // itemsize
    if d == 1:
        cs = 1
    cdef int t
    cdef Py_ssize_t i0, i1
    if n == 0:
        return (np.zeros(D), np.zeros(D), 0.0, 0.0) if split else (np.zeros(D), 0.0)
    if X.dtype == np.float32:
        Xf = X
        for t in prange(nt, nogil=True, schedule="static", num_threads=nt):
            _range(n, nt, t, &i0, &i1)
            _dense_residual_gradient(&Xf[0, 0], rs, cs, n, d, &y[0], swp, &w[0], fit_intercept,
                                     i0, i1, &Gv[t, 0], &Cv[t, 0], &Rv[t, 0])
    else:
        Xd = X
        for t in prange(nt, nogil=True, schedule="static", num_threads=nt):
            _range(n, nt, t, &i0, &i1)
            _dense_residual_gradient(&Xd[0, 0], rs, cs, n, d, &y[0], swp, &w[0], fit_intercept,
                                     i0, i1, &Gv[t, 0], &Cv[t, 0], &Rv[t, 0])
    return _result(G, C, R, D, nt, split)


cdef void _csr_residual_gradient(const floating* data, const index_t* ind, const index_t* ptr,
                                 Py_ssize_t d, const double* y, const double* sw, const double* w,
                                 bint intercept, Py_ssize_t i0, Py_ssize_t i1, double* G,
                                 double* C, double* rss) noexcept nogil:
    cdef Py_ssize_t i, p
    cdef double b = w[d] if intercept else 0.0
    cdef double s, c, e, eh, el, vh, vl, xj
    for i in range(i0, i1):
        s = y[i]
        c = 0.0
        two_sum(s, -b, &s, &e)
        c += e
        for p in range(ptr[i], ptr[i + 1]):
            acc_prod(&s, &c, -<double>data[p], w[ind[p]])
        two_sum(s, c, &eh, &el)
        vh = eh
        vl = el
        if sw != NULL:
            two_prod_into(sw[i], eh, el, &vh, &vl)
        for p in range(ptr[i], ptr[i + 1]):
            xj = data[p]
            acc_prod(&G[ind[p]], &C[ind[p]], xj, vh)
            C[ind[p]] += xj * vl
        _row_tail(G, C, d, intercept, vh, vl, eh, el, rss)


def residual_gradient_csr(const floating[::1] data, const index_t[::1] indices,
                          const index_t[::1] indptr, Py_ssize_t n_features, const double[::1] y,
                          sample_weight, const double[::1] w, bint fit_intercept, n_threads=None,
                          bint split=False):
    """residual_gradient for X as the three arrays of a CSR matrix (validated by the caller:
    gdfast.Objective holds them checked). Duplicate entries count as their sum."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, d = n_features
    cdef Py_ssize_t D = d + (1 if fit_intercept else 0)
    cdef const double[::1] swv = _checked(n, D, y, w, sample_weight)
    cdef const double* swp = NULL if swv is None else &swv[0]
    cdef int nt = _threads(n_threads, n)
    G, C, R = _accumulators(nt, D)
    cdef double[:, ::1] Gv = G, Cv = C, Rv = R
    cdef int t
    cdef Py_ssize_t i0, i1
    if n == 0:
        return (np.zeros(D), np.zeros(D), 0.0, 0.0) if split else (np.zeros(D), 0.0)
    cdef const floating* dp = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t* ip = &indices[0] if indices.shape[0] > 0 else NULL
    for t in prange(nt, nogil=True, schedule="static", num_threads=nt):
        _range(n, nt, t, &i0, &i1)
        _csr_residual_gradient(dp, ip, &indptr[0], d, &y[0], swp, &w[0], fit_intercept, i0, i1,
                               &Gv[t, 0], &Cv[t, 0], &Rv[t, 0])
    return _result(G, C, R, D, nt, split)


cdef void _dense_gram(const floating* X, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t d,
                      const double* y, const double* sw, bint intercept, Py_ssize_t i0,
                      Py_ssize_t i1, double* u, double* S, double* C) noexcept nogil:
    cdef Py_ssize_t i, j, m = d + (2 if intercept else 1)
    for i in range(i0, i1):
        for j in range(d):
            u[j] = X[i * rs + j * cs]
        if intercept:
            u[d] = 1.0
        u[m - 1] = y[i]
        gram_row(u, m, 1.0 if sw == NULL else sw[i], S, C)


cdef void _csr_gram(const floating* data, const index_t* ind, const index_t* ptr, Py_ssize_t d,
                    const double* y, const double* sw, bint intercept, Py_ssize_t i0,
                    Py_ssize_t i1, double* u, Py_ssize_t* col, double* S, double* C) noexcept nogil:
    # the stored entries of a row plus the intercept's 1 and y, as (col, u) pairs; every ordered
    # pair with col_a <= col_b goes into the upper triangle, which also sums duplicate entries
    cdef Py_ssize_t i, p, a, b, k, ja, jb, m = d + (2 if intercept else 1)
    cdef double wt, uh, ul
    for i in range(i0, i1):
        k = 0
        for p in range(ptr[i], ptr[i + 1]):
            col[k] = ind[p]
            u[k] = data[p]
            k = k + 1
        if intercept:
            col[k] = d
            u[k] = 1.0
            k = k + 1
        col[k] = m - 1
        u[k] = y[i]
        k = k + 1
        wt = 1.0 if sw == NULL else sw[i]
        for a in range(k):
            ja = col[a]
            uh = u[a]
            ul = 0.0
            if wt != 1.0:
                two_prod_into(wt, u[a], 0.0, &uh, &ul)
            for b in range(k):
                jb = col[b]
                if ja <= jb:
                    acc_prod(&S[ja * m + jb], &C[ja * m + jb], uh, u[b])
                    C[ja * m + jb] += ul * u[b]


def _gram_finish(double[:, :, ::1] S, double[:, :, ::1] C, Py_ssize_t m, int nt):
    # the thread sums in order, as hi + lo (symmetric: the lower triangle mirrors the upper)
    hi = np.zeros((m, m))
    lo = np.zeros((m, m))
    cdef double[:, ::1] h = hi, l = lo
    cdef Py_ssize_t j, k
    cdef int t
    cdef double s, c, e
    for j in range(m):
        for k in range(j, m):
            s = S[0, j, k]
            c = C[0, j, k]
            for t in range(1, nt):
                two_sum(s, S[t, j, k], &s, &e)
                c += e + C[t, j, k]
            two_sum(s, c, &h[j, k], &l[j, k])
            h[k, j] = h[j, k]
            l[k, j] = l[j, k]
    return hi, lo


def normal_equations(X, const double[::1] y, sample_weight, bint fit_intercept, n_threads=None):
    """``(hi, lo)``: ``M = [Xa, y]^T diag(sw) [Xa, y]`` (``n_params + 1`` square) as ``hi + lo``,
    to twice the precision of double, in one pass over the dense X. ``M[:D, :D]`` is the Gram
    matrix, ``M[:D, D]`` is ``Xa^T S y`` and ``M[D, D]`` is ``y^T S y``. Releases the GIL."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t m = d + (2 if fit_intercept else 1)
    if y.shape[0] != n:
        raise ValueError(f"y has length {y.shape[0]}, expected {n}")
    cdef const double[::1] swv
    cdef const double* swp = NULL
    if sample_weight is not None:
        swv = sample_weight
        swp = &swv[0]
    cdef int nt = _threads(n_threads, n)
    S = np.zeros((nt, m, m))
    C = np.zeros((nt, m, m))
    U = np.zeros((nt, _padded(m)))
    cdef double[:, :, ::1] Sv = S, Cv = C
    cdef double[:, ::1] Uv = U
    cdef const float[:, :] Xf
    cdef const double[:, :] Xd
    cdef Py_ssize_t itemsize = X.dtype.itemsize
    cdef Py_ssize_t rs = X.strides[0] // itemsize, cs = X.strides[1] // itemsize
    cdef int t
    cdef Py_ssize_t i0, i1
    if n > 0:
        if X.dtype == np.float32:
            Xf = X
            for t in prange(nt, nogil=True, schedule="static", num_threads=nt):
                _range(n, nt, t, &i0, &i1)
                _dense_gram(&Xf[0, 0], rs, cs, d, &y[0], swp, fit_intercept, i0, i1, &Uv[t, 0],
                            &Sv[t, 0, 0], &Cv[t, 0, 0])
        else:
            Xd = X
            for t in prange(nt, nogil=True, schedule="static", num_threads=nt):
                _range(n, nt, t, &i0, &i1)
                _dense_gram(&Xd[0, 0], rs, cs, d, &y[0], swp, fit_intercept, i0, i1, &Uv[t, 0],
                            &Sv[t, 0, 0], &Cv[t, 0, 0])
    return _gram_finish(Sv, Cv, m, nt)


def normal_equations_csr(const floating[::1] data, const index_t[::1] indices,
                         const index_t[::1] indptr, Py_ssize_t n_features, const double[::1] y,
                         sample_weight, bint fit_intercept, n_threads=None):
    """normal_equations for X as the three arrays of a CSR matrix; O(sum of squared row counts)."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, d = n_features
    cdef Py_ssize_t m = d + (2 if fit_intercept else 1)
    cdef const double[::1] swv
    cdef const double* swp = NULL
    if sample_weight is not None:
        swv = sample_weight
        swp = &swv[0]
    cdef int nt = _threads(n_threads, n)
    cdef Py_ssize_t widest = 0, i
    for i in range(n):
        widest = max(widest, <Py_ssize_t>(indptr[i + 1] - indptr[i]))
    S = np.zeros((nt, m, m))
    C = np.zeros((nt, m, m))
    U = np.zeros((nt, _padded(widest + 2)))
    K = np.zeros((nt, _padded(widest + 2)), dtype=np.intp)
    cdef double[:, :, ::1] Sv = S, Cv = C
    cdef double[:, ::1] Uv = U
    cdef Py_ssize_t[:, ::1] Kv = K
    cdef int t
    cdef Py_ssize_t i0, i1
    cdef const floating* dp = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t* ip = &indices[0] if indices.shape[0] > 0 else NULL
    if n > 0:
        for t in prange(nt, nogil=True, schedule="static", num_threads=nt):
            _range(n, nt, t, &i0, &i1)
            _csr_gram(dp, ip, &indptr[0], d, &y[0], swp, fit_intercept, i0, i1, &Uv[t, 0],
                      &Kv[t, 0], &Sv[t, 0, 0], &Cv[t, 0, 0])
    return _gram_finish(Sv, Cv, m, nt)


# ---------------------------------------------------------------------------------------------
# The small dense algebra of the normal equations (n_params square), in hi + lo arithmetic
# ---------------------------------------------------------------------------------------------

def dd_cholesky(const double[:, ::1] Ahi, const double[:, ::1] Alo, double pivot_floor):
    """Cholesky ``A = L L^T`` of a symmetric matrix given as hi + lo, in hi + lo arithmetic.

    A column whose pivot (what is left of its diagonal after the earlier columns) is at most
    ``pivot_floor`` times its diagonal is linearly dependent on the earlier ones: it is left out
    (its column of L is zero) and flagged. Returns ``(Lhi, Llo, dependent)``.
    """
    cdef Py_ssize_t D = Ahi.shape[0], i, j, k
    Lh = np.zeros((D, D))
    Ll = np.zeros((D, D))
    dependent = np.zeros(D, dtype=bool)
    cdef double[:, ::1] lh = Lh, ll = Ll
    cdef unsigned char[::1] dep = dependent.view(np.uint8)
    cdef dd acc, piv, x
    with nogil:
        for j in range(D):
            acc = dd_make(Ahi[j, j], Alo[j, j])
            for k in range(j):
                x = dd_make(lh[j, k], ll[j, k])
                acc = dd_add(acc, dd_neg(dd_mul(x, x)))
            if not (acc.hi > pivot_floor * Ahi[j, j]) or not (Ahi[j, j] > 0):
                dep[j] = 1
                continue
            piv = dd_sqrt(acc)
            lh[j, j] = piv.hi
            ll[j, j] = piv.lo
            for i in range(j + 1, D):
                acc = dd_make(Ahi[i, j], Alo[i, j])
                for k in range(j):
                    acc = dd_add(acc, dd_neg(dd_mul(dd_make(lh[i, k], ll[i, k]),
                                                    dd_make(lh[j, k], ll[j, k]))))
                x = dd_div(acc, piv)
                lh[i, j] = x.hi
                ll[i, j] = x.lo
    return Lh, Ll, dependent


def dd_solve(const double[:, ::1] Lhi, const double[:, ::1] Llo, dependent,
             const double[::1] rhi, const double[::1] rlo):
    """``x`` with ``L L^T x = r`` (hi + lo), the dependent columns' entries 0; returns hi + lo."""
    cdef Py_ssize_t D = Lhi.shape[0], i, k
    cdef const unsigned char[::1] dep = np.ascontiguousarray(dependent, dtype=bool).view(np.uint8)
    zh = np.zeros(D)
    zl = np.zeros(D)
    cdef double[::1] h = zh, l = zl
    cdef dd acc, x
    with nogil:
        for i in range(D):                    # L z = r
            if dep[i]:
                continue
            acc = dd_make(rhi[i], rlo[i])
            for k in range(i):
                if not dep[k]:
                    acc = dd_add(acc, dd_neg(dd_mul(dd_make(Lhi[i, k], Llo[i, k]), dd_make(h[k], l[k]))))
            x = dd_div(acc, dd_make(Lhi[i, i], Llo[i, i]))
            h[i] = x.hi
            l[i] = x.lo
        for i in range(D - 1, -1, -1):        # L^T x = z
            if dep[i]:
                continue
            acc = dd_make(h[i], l[i])
            for k in range(i + 1, D):
                if not dep[k]:
                    acc = dd_add(acc, dd_neg(dd_mul(dd_make(Lhi[k, i], Llo[k, i]), dd_make(h[k], l[k]))))
            x = dd_div(acc, dd_make(Lhi[i, i], Llo[i, i]))
            h[i] = x.hi
            l[i] = x.lo
    return zh, zl


def dd_residual(const double[:, ::1] Ahi, const double[:, ::1] Alo, const double[::1] bhi,
                const double[::1] blo, const double[::1] w):
    """``b - A w`` for A and b given as hi + lo and w in double; returns hi + lo."""
    cdef Py_ssize_t D = Ahi.shape[0], i, k
    rh = np.zeros(D)
    rl = np.zeros(D)
    cdef double[::1] h = rh, l = rl
    cdef dd acc
    with nogil:
        for i in range(D):
            acc = dd_make(bhi[i], blo[i])
            for k in range(D):
                acc = dd_add(acc, dd_neg(dd_mul(dd_make(Ahi[i, k], Alo[i, k]), dd_make(w[k], 0.0))))
            h[i] = acc.hi
            l[i] = acc.lo
    return rh, rl
