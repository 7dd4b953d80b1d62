# The sparse twin of gdfast._core: the same passes for X stored as CSR (compressed rows).
#
# Notation as in _core.pyx: z = X @ coef + intercept, s_i = sample_weight_i / sum(weights),
#   cost     = sum_i s_i * loss(z_i, y_i) + alpha/2 * ||coef||^2
#   gradient = Xa^T (s * loss'(z, y)) + alpha * [coef, 0]
#   Hessian  = Xa^T diag(s * loss''(z, y)) Xa + alpha * P
#
# X arrives as scipy's three CSR arrays: data (float32 or float64), indices (column of each
# stored entry) and indptr (row i holds entries indptr[i] to indptr[i+1]); indices and indptr are
# both int32 or both int64. Nothing here needs sorted column indices. Duplicate entries of one
# (row, column) count as their sum, as in scipy, without a copy: the cost, gradient, X v and
# X^T r are linear in the stored entries, so duplicates add up by themselves; the Hessian and the
# weighted diagonal, quadratic in them, add the cross products of duplicates explicitly.
#
# Threads: the rows are cut into nc contiguous ranges ("chunks") of about equal work (stored
# entries plus rows). Each chunk owns a dense accumulator of D doubles (gradient, X^T r), zeroed
# and filled by the thread that runs it, and the accumulators are added in chunk order, so a given
# thread count always gives the same bits. nc is the thread count, lowered when the rows hold too
# little work to pay for another D-long accumulator (then one thread does it all).
# Within a chunk, rows go in blocks of BLOCK: z for the block (a gather per row), then the per-row
# loss over the block in a flat loop that vectorises, then the scatter X_block^T r.

from cython.parallel cimport prange
from libc.math cimport fabs, isfinite
from libc.string cimport memset, memcpy
from libc.stdint cimport int32_t, int64_t

from gdfast._descent cimport descent_loop, check_descent_buffers
from gdfast._loss cimport n_losses, loss_name
from gdfast.kernels cimport rows_loss, sum_f64, loss_at, add_penalty

import numpy as np

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int gds_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int gds_max_threads(void) { return 1; }
    #endif
    """
    int gds_max_threads() noexcept nogil

ctypedef fused floating:
    float
    double

ctypedef fused index_t:
    int32_t
    int64_t

DEF BLOCK = 256              # rows per block: their z, r, h stay in L1
DEF ACC_PAD = 8              # accumulators start on their own cache line
DEF MIN_WORK_PER_CHUNK = 32768   # stored entries + rows a thread must get to be worth waking
DEF MAX_THREADED_HESSIAN = 1024  # above this many parameters one thread builds the Hessian

def loss_codes():
    """The compiled losses, {name: code}, from the one list in gdfast/_loss.pxd."""
    return {loss_name(c).decode(): c for c in range(n_losses())}

# A dense D x D Hessian is refused beyond this size (256 MiB, D = 5792): Objective.hessian then
# raises and points to the Hessian-free methods.
MAX_HESSIAN_BYTES = 1 << 28


cdef struct SProblem:
    const void* data
    const void* indices
    const void* indptr
    bint f32
    bint i64
    Py_ssize_t n
    Py_ssize_t d
    Py_ssize_t nnz
    const double* y
    const double* sw       # NULL means unit weights
    double scale           # 1 / sum(sample weights)
    int loss
    bint fit_intercept
    double alpha           # the L2 penalty's strength (the compiled form of gdfast.Penalty)
    double cost_offset     # the loss's constant term (gdfast.losses.Loss.cost_offset)
    bint duplicates        # some row stores a column twice (only the weighted diagonal cares)


# ---------------------------------------------------------------------------------------------
# Input checks (run once, before any kernel trusts the arrays)
# ---------------------------------------------------------------------------------------------

cdef str _structure_error(const index_t[::1] indptr, const index_t[::1] indices,
                          Py_ssize_t n_major, Py_ssize_t n_minor):
    cdef Py_ssize_t i, p, nnz, bad = -1
    cdef index_t lo = 0, hi = 0, j
    if indptr.shape[0] != n_major + 1:
        return f"indptr has length {indptr.shape[0]}, expected {n_major + 1}"
    if indptr[0] != 0:
        return f"indptr must start at 0; it starts at {indptr[0]}"
    nnz = indptr[n_major]
    if nnz > indices.shape[0]:
        return f"indptr ends at {nnz} but indices holds only {indices.shape[0]} entries"
    with nogil:
        for i in range(n_major):
            if indptr[i + 1] < indptr[i]:
                bad = i
                break
        if bad < 0 and nnz > 0:
            lo = indices[0]
            hi = indices[0]
            for p in range(nnz):
                j = indices[p]
                lo = j if j < lo else lo
                hi = j if j > hi else hi
    if bad >= 0:
        return f"indptr decreases after position {bad}"
    if nnz > 0 and (lo < 0 or hi >= n_minor):
        return f"an index ({lo if lo < 0 else hi}) is outside [0, {n_minor})"
    return None


def structure_error(indptr, indices, Py_ssize_t n_major, Py_ssize_t n_minor):
    """None when indptr/indices describe a valid compressed matrix with n_major rows (CSR; columns
    for CSC) and indices in [0, n_minor); otherwise what is wrong, in words. One pass, no copy."""
    if indptr.dtype != indices.dtype:
        return f"indptr ({indptr.dtype}) and indices ({indices.dtype}) have different types"
    if indptr.dtype == np.int32:
        return _structure_error[int32_t](indptr, indices, n_major, n_minor)
    if indptr.dtype == np.int64:
        return _structure_error[int64_t](indptr, indices, n_major, n_minor)
    return f"index arrays must be int32 or int64; got {indptr.dtype}"


cdef bint _has_duplicates(const index_t[::1] indptr, const index_t[::1] indices,
                          Py_ssize_t n_minor) except -1:
    """True when some row stores a column twice: one pass, marking each column with the last
    row that stored it (n_minor integers of scratch)."""
    cdef Py_ssize_t[::1] last = np.full(n_minor, -1, dtype=np.intp)
    cdef Py_ssize_t i, p, j
    cdef bint found = False
    with nogil:
        for i in range(indptr.shape[0] - 1):
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                if last[j] == i:
                    found = True
                    break
                last[j] = i
            if found:
                break
    return found


def has_duplicates(indptr, indices, Py_ssize_t n_minor):
    """True when a row (CSR) stores some column more than once. indptr/indices must be valid."""
    if indptr.dtype == np.int32:
        return _has_duplicates[int32_t](indptr, indices, n_minor)
    return _has_duplicates[int64_t](indptr, indices, n_minor)


cdef bint _all_finite(const floating[::1] a) noexcept:
    cdef Py_ssize_t i
    cdef floating acc = 0
    with nogil:
        # x * 0 is 0 for finite x and NaN for NaN or infinity: no branch per entry.
        for i in range(a.shape[0]):
            acc = acc + a[i] * 0
    return acc == 0


def all_finite(a):
    """True when the 1-D float32/float64 array a holds no NaN or infinity (no temporary)."""
    if a.dtype == np.float32:
        return _all_finite[float](a)
    return _all_finite[double](a)


# ---------------------------------------------------------------------------------------------
# Row and block kernels
# ---------------------------------------------------------------------------------------------

cdef inline double _row_dot(const floating* data, const index_t* ind, Py_ssize_t p0,
                            Py_ssize_t p1, const double* v) noexcept nogil:
    """x_i . v over the stored entries p0..p1 of a row (two partial sums)."""
    cdef double s0 = 0, s1 = 0
    cdef Py_ssize_t p = p0
    while p + 2 <= p1:
        s0 += data[p] * v[ind[p]]
        s1 += data[p + 1] * v[ind[p + 1]]
        p += 2
    if p < p1:
        s0 += data[p] * v[ind[p]]
    return s0 + s1


cdef void _block_linear(const floating* data, const index_t* ind, const index_t* ptr,
                        Py_ssize_t i0, Py_ssize_t m, const double* v, double b,
                        double* z) noexcept nogil:
    """z[k] = x_{i0+k} . v + b for the m rows of the block."""
    cdef Py_ssize_t k
    for k in range(m):
        z[k] = _row_dot(data, ind, ptr[i0 + k], ptr[i0 + k + 1], v) + b


cdef void _block_scatter(const floating* data, const index_t* ind, const index_t* ptr,
                         const SProblem* P, Py_ssize_t i0, Py_ssize_t m, const double* r,
                         double* acc) noexcept nogil:
    """acc[:d] += X_block^T r; acc[d] += sum(r) with an intercept."""
    cdef Py_ssize_t k, p, p1
    cdef double rk
    for k in range(m):
        rk = r[k]
        p1 = ptr[i0 + k + 1]
        for p in range(ptr[i0 + k], p1):
            acc[ind[p]] += data[p] * rk
    if P.fit_intercept:
        acc[P.d] += sum_f64(r, m)


cdef inline double _block_loss(const SProblem* P, Py_ssize_t i0, Py_ssize_t m, double* z,
                               double* r, double* h) noexcept nogil:
    """The kernels' rows_loss for rows i0 .. i0 + m - 1 (z is overwritten with the losses)."""
    return rows_loss(P.loss, P.y + i0, P.sw + i0 if P.sw != NULL else NULL, m, z, r, h)


cdef void _block_hessian(const floating* data, const index_t* ind, const index_t* ptr,
                         const SProblem* P, Py_ssize_t i0, Py_ssize_t m, const double* h,
                         double* H) noexcept nogil:
    """H += sum_k h_k xa_k xa_k^T over the block, into the upper triangle (C order) of H.

    Each unordered pair of stored entries of a row is visited once. Two entries of the same
    column (a duplicate) meet twice in x x^T, hence the factor 2.
    """
    cdef Py_ssize_t D = P.d + P.fit_intercept, d = P.d
    cdef Py_ssize_t k, a, c, p0, p1, ja, jc
    cdef double hk, xa
    for k in range(m):
        hk = h[k]
        p0 = ptr[i0 + k]
        p1 = ptr[i0 + k + 1]
        for a in range(p0, p1):
            ja = ind[a]
            xa = hk * data[a]
            H[ja * D + ja] += xa * data[a]
            for c in range(a + 1, p1):
                jc = ind[c]
                if ja < jc:
                    H[ja * D + jc] += xa * data[c]
                elif jc < ja:
                    H[jc * D + ja] += xa * data[c]
                else:
                    H[ja * D + ja] += 2.0 * xa * data[c]
            if P.fit_intercept:
                H[ja * D + d] += xa
        if P.fit_intercept:
            H[d * D + d] += hk


# ---------------------------------------------------------------------------------------------
# Chunks, workspace and reduction
#
# Chunk 0 accumulates straight into the caller's output (the gradient, Hessian, X^T r): with one
# thread, the usual case for short passes, no D-long scratch is allocated, zeroed or copied. The
# workspace, in doubles: per chunk z, r, h, t (BLOCK each); per chunk its loss sum; the chunk
# bounds (nc + 1 integers); the accumulators of chunks 1..nc-1 (D each, padded); and, for the
# Hessian, their private D x D matrices.
# ---------------------------------------------------------------------------------------------

cdef struct Work:
    double* scratch        # chunk c: z, r, h, t at scratch + 4 * BLOCK * c
    double* costs          # loss sum of each chunk
    Py_ssize_t* bounds     # first row of each chunk; bounds[nc] = n
    double* acc            # chunk c >= 1 accumulates at acc + (c - 1) * _pad(D)
    double* hess           # chunk c >= 1 accumulates its Hessian at hess + (c - 1) * D * D
    int nc


cdef inline Py_ssize_t _pad(Py_ssize_t k) noexcept nogil:
    return ((k + ACC_PAD - 1) // ACC_PAD) * ACC_PAD


cdef Py_ssize_t _workspace_size(Py_ssize_t D, int nc, bint hess) noexcept nogil:
    cdef Py_ssize_t size = nc * 4 * BLOCK + _pad(nc) + _pad(nc + 1) + (nc - 1) * _pad(D)
    if hess:
        size += (nc - 1) * D * D
    return size


cdef Work _layout(double* work, Py_ssize_t D, int nc) noexcept nogil:
    cdef Work W
    W.nc = nc
    W.scratch = work
    W.costs = work + nc * 4 * BLOCK
    W.bounds = <Py_ssize_t*>(W.costs + _pad(nc))
    W.acc = W.costs + _pad(nc) + _pad(nc + 1)
    W.hess = W.acc + (nc - 1) * _pad(D)
    return W


cdef inline double* _acc_of(const Work* W, double* dest, int c, Py_ssize_t D) noexcept nogil:
    """Where chunk c accumulates: the caller's output for chunk 0, the workspace otherwise."""
    if dest == NULL:
        return NULL
    return dest if c == 0 else W.acc + (c - 1) * _pad(D)


cdef inline double* _hess_of(const Work* W, double* H, int c, Py_ssize_t D) noexcept nogil:
    if H == NULL:
        return NULL
    return H if c == 0 else W.hess + (c - 1) * D * D


cdef int _n_chunks(int nt, const SProblem* P) noexcept nogil:
    """How many chunks (threads) a pass uses: nt, unless each would get too little work.

    A chunk beyond the first costs about D to zero its accumulator and D to add it up, so it
    must bring work well above D; below MIN_WORK_PER_CHUNK, waking a thread costs more than it
    saves. The same count serves every pass of a kernel (so cost and cost_grad sum alike).
    """
    cdef Py_ssize_t work = P.nnz + P.n
    cdef Py_ssize_t most = work // (MIN_WORK_PER_CHUNK + P.d + 1)
    if nt > most:
        nt = <int>most
    return nt if nt >= 1 else 1


cdef void _bounds(const index_t* ptr, Py_ssize_t n, int nc, Py_ssize_t* bounds) noexcept nogil:
    """bounds[c] = first row of chunk c: equal shares of (stored entries + rows), by bisection."""
    cdef Py_ssize_t total = ptr[n] + n
    cdef Py_ssize_t target, lo, hi, mid
    cdef int c
    bounds[0] = 0
    bounds[nc] = n
    for c in range(1, nc):
        target = (total * c) // nc
        lo = bounds[c - 1]
        hi = n
        while lo < hi:              # smallest row r with ptr[r] + r >= target
            mid = (lo + hi) // 2
            if ptr[mid] + mid < target:
                lo = mid + 1
            else:
                hi = mid
        bounds[c] = lo


cdef void _reduce(const Work* W, double* dest, Py_ssize_t count) noexcept nogil:
    """dest[j] += the other chunks' accumulators, in chunk order.

    Serial on purpose: (nc - 1) * D additions are small next to the pass (_n_chunks sees to it),
    and a second parallel region per pass would be a second chance to wait for a thread that a
    busy machine has descheduled.
    """
    cdef Py_ssize_t stride = _pad(count)
    cdef Py_ssize_t j
    cdef int c
    cdef const double* a
    for c in range(1, W.nc):
        a = W.acc + (c - 1) * stride
        for j in range(count):
            dest[j] += a[j]


# ---------------------------------------------------------------------------------------------
# Whole passes. Each takes nc, the chunk count the caller sized the workspace for.
# ---------------------------------------------------------------------------------------------

cdef double _chunk_cost_grad(const floating* data, const index_t* ind, const index_t* ptr,
                             const SProblem* P, Py_ssize_t row0, Py_ssize_t row1,
                             const double* w, double* acc, double* H,
                             double* scratch) noexcept nogil:
    """Loss sum of rows row0..row1; their gradient into acc and Hessian into H unless NULL."""
    cdef Py_ssize_t D = P.d + P.fit_intercept
    cdef double b = w[P.d] if P.fit_intercept else 0.0
    cdef double* z = scratch
    cdef double* r = z + BLOCK
    cdef double* h = r + BLOCK
    cdef Py_ssize_t i0 = row0, m
    cdef double cost = 0
    if acc != NULL:
        memset(acc, 0, D * sizeof(double))
    while i0 < row1:
        m = min(BLOCK, row1 - i0)
        _block_linear(data, ind, ptr, i0, m, w, b, z)
        cost += _block_loss(P, i0, m, z, r, h)
        if acc != NULL:
            _block_scatter(data, ind, ptr, P, i0, m, r, acc)
        if H != NULL:
            _block_hessian(data, ind, ptr, P, i0, m, h, H)
        i0 += m
    return cost


cdef double _pass(const floating* data, const index_t* ind, const index_t* ptr,
                  const SProblem* P, const double* w, double* grad, double* H, int nc,
                  double* work) noexcept nogil:
    """Cost at w; the gradient into grad and the Hessian into H (D x D) unless NULL."""
    cdef Py_ssize_t d = P.d, D = P.d + P.fit_intercept
    cdef Py_ssize_t j, k
    cdef int c
    cdef double cost = 0
    cdef double* Hc
    cdef Work W = _layout(work, D, nc)
    _bounds(ptr, P.n, nc, W.bounds)
    if H != NULL:
        memset(H, 0, D * D * sizeof(double))
        if nc > 1:
            memset(W.hess, 0, (nc - 1) * D * D * sizeof(double))
    for c in prange(nc, schedule='static', num_threads=nc):
        W.costs[c] = _chunk_cost_grad(data, ind, ptr, P, W.bounds[c], W.bounds[c + 1], w,
                                      _acc_of(&W, grad, c, D), _hess_of(&W, H, c, D),
                                      W.scratch + 4 * BLOCK * c)
    for c in range(nc):
        cost += W.costs[c]
    cost = cost * P.scale + P.cost_offset
    if grad != NULL:
        _reduce(&W, grad, D)
        for j in range(D):
            grad[j] *= P.scale
    if H != NULL:
        for c in range(1, nc):
            Hc = W.hess + (c - 1) * D * D
            for j in range(D * D):
                H[j] += Hc[j]
        # the upper triangle (C order) holds the sums: scale it and mirror it
        for j in range(D):
            for k in range(j, D):
                H[j * D + k] *= P.scale
                H[k * D + j] = H[j * D + k]
    return cost + add_penalty(P.alpha, d, D, w, grad, H)


cdef double _chunk_hessp(const floating* data, const index_t* ind, const index_t* ptr,
                         const SProblem* P, Py_ssize_t row0, Py_ssize_t row1, const double* w,
                         const double* hw, const double* v, bint gram, double* acc,
                         double* scratch) noexcept nogil:
    """acc = the chunk's part of Xa^T diag(c) Xa v; returns its loss sum at w (0 unless at w)."""
    cdef Py_ssize_t D = P.d + P.fit_intercept
    cdef bint at_w = hw == NULL and not gram
    cdef double b = w[P.d] if (at_w and P.fit_intercept) else 0.0
    cdef double vb = v[P.d] if P.fit_intercept else 0.0
    cdef double* z = scratch
    cdef double* r = z + BLOCK
    cdef double* h = r + BLOCK
    cdef double* t = h + BLOCK
    cdef Py_ssize_t i0 = row0, m, k, p0, p1
    cdef double cost = 0
    memset(acc, 0, D * sizeof(double))
    while i0 < row1:
        m = min(BLOCK, row1 - i0)
        if at_w:
            for k in range(m):      # x . v and x . w from one read of the row
                p0 = ptr[i0 + k]
                p1 = ptr[i0 + k + 1]
                t[k] = _row_dot(data, ind, p0, p1, v) + vb
                z[k] = _row_dot(data, ind, p0, p1, w) + b
            cost += _block_loss(P, i0, m, z, r, h)
            for k in range(m):
                t[k] *= h[k]
        else:
            _block_linear(data, ind, ptr, i0, m, v, vb, t)
            if hw != NULL:
                for k in range(m):
                    t[k] *= hw[i0 + k]
            elif P.sw != NULL:
                for k in range(m):
                    t[k] *= P.sw[i0 + k]
        _block_scatter(data, ind, ptr, P, i0, m, t, acc)
        i0 += m
    return cost


cdef double _hessp_pass(const floating* data, const index_t* ind, const index_t* ptr,
                        const SProblem* P, const double* w, const double* hw, const double* v,
                        double* out, bint gram, int nc, double* work) noexcept nogil:
    """out = Xa^T diag(c) Xa v without forming the matrix; c as in _core's _hessp_pass:

    - hw given: c = hw (precomputed, including s); no penalty, no scale;
    - gram: c = s (Xa^T S Xa, for the curvature bound);
    - otherwise c = s * loss''(z(w)), plus the penalty: the Hessian at w times v.
    out must not overlap w, hw or v. Returns the cost at w in the last case (as _core's
    _hessp_pass does), else 0.
    """
    cdef Py_ssize_t d = P.d, D = P.d + P.fit_intercept, j
    cdef bint at_w = hw == NULL and not gram
    cdef int c
    cdef double cost = 0
    cdef Work W = _layout(work, D, nc)
    _bounds(ptr, P.n, nc, W.bounds)
    for c in prange(nc, schedule='static', num_threads=nc):
        W.costs[c] = _chunk_hessp(data, ind, ptr, P, W.bounds[c], W.bounds[c + 1], w, hw, v,
                                  gram, _acc_of(&W, out, c, D), W.scratch + 4 * BLOCK * c)
    _reduce(&W, out, D)
    if hw == NULL:
        for j in range(D):
            out[j] *= P.scale
    if not at_w:
        return 0.0
    add_penalty(P.alpha, d, D, v, out, NULL)
    for c in range(nc):
        cost += W.costs[c]
    return cost * P.scale + P.cost_offset + add_penalty(P.alpha, d, D, w, NULL, NULL)


cdef void _linear_pass(const floating* data, const index_t* ind, const index_t* ptr,
                       const SProblem* P, const double* v, double* out, int nc,
                       double* work) noexcept nogil:
    """out = Xa v (length n)."""
    cdef double vb = v[P.d] if P.fit_intercept else 0.0
    cdef int c
    cdef Work W = _layout(work, P.d + P.fit_intercept, nc)
    _bounds(ptr, P.n, nc, W.bounds)
    for c in prange(nc, schedule='static', num_threads=nc):
        _block_linear(data, ind, ptr, W.bounds[c], W.bounds[c + 1] - W.bounds[c], v, vb,
                      out + W.bounds[c])


cdef void _chunk_transpose(const floating* data, const index_t* ind, const index_t* ptr,
                           const SProblem* P, Py_ssize_t row0, Py_ssize_t row1, const double* r,
                           bint squares, double* acc) noexcept nogil:
    """acc = Xa^T r over rows row0..row1 (squares: acc = (Xa * Xa)^T r, the weighted diagonal)."""
    cdef Py_ssize_t D = P.d + P.fit_intercept
    cdef Py_ssize_t i, p, p1
    cdef double ri, x
    memset(acc, 0, D * sizeof(double))
    if squares:
        for i in range(row0, row1):
            ri = r[i]
            p1 = ptr[i + 1]
            for p in range(ptr[i], p1):
                x = data[p]
                acc[ind[p]] += ri * x * x
        # Duplicates: (a + b)^2 = a^2 + b^2 + 2ab, so add 2ab for each pair in the same column.
        # Only when the kernel found duplicates at construction: the pair test is quadratic in
        # the length of a row.
        if P.duplicates:
            for i in range(row0, row1):
                _row_duplicate_squares(data, ind, ptr[i], ptr[i + 1], r[i], acc)
        if P.fit_intercept:
            acc[P.d] += sum_f64(r + row0, row1 - row0)
    else:
        _block_scatter(data, ind, ptr, P, row0, row1 - row0, r + row0, acc)


cdef inline void _row_duplicate_squares(const floating* data, const index_t* ind, Py_ssize_t p0,
                                        Py_ssize_t p1, double ri, double* acc) noexcept nogil:
    cdef Py_ssize_t a, c
    for a in range(p0, p1):
        for c in range(a + 1, p1):
            if ind[a] == ind[c]:
                acc[ind[a]] += 2.0 * ri * data[a] * data[c]


cdef void _transpose_pass(const floating* data, const index_t* ind, const index_t* ptr,
                          const SProblem* P, const double* r, double* out, bint squares, int nc,
                          double* work) noexcept nogil:
    """out = Xa^T r (length D), unscaled; with squares, out = diag(Xa^T diag(r) Xa)."""
    cdef Py_ssize_t D = P.d + P.fit_intercept
    cdef int c
    cdef Work W = _layout(work, D, nc)
    _bounds(ptr, P.n, nc, W.bounds)
    for c in prange(nc, schedule='static', num_threads=nc):
        _chunk_transpose(data, ind, ptr, P, W.bounds[c], W.bounds[c + 1], r, squares,
                         _acc_of(&W, out, c, D))
    _reduce(&W, out, D)


# Dispatch on the two run-time types (data float32/float64, indices int32/int64).

cdef inline double _cost_grad(const SProblem* P, const double* w, double* grad, double* H,
                              int nc, double* work) noexcept nogil:
    if P.f32:
        if P.i64:
            return _pass(<const float*>P.data, <const int64_t*>P.indices, <const int64_t*>P.indptr,
                         P, w, grad, H, nc, work)
        return _pass(<const float*>P.data, <const int32_t*>P.indices, <const int32_t*>P.indptr,
                     P, w, grad, H, nc, work)
    if P.i64:
        return _pass(<const double*>P.data, <const int64_t*>P.indices, <const int64_t*>P.indptr,
                     P, w, grad, H, nc, work)
    return _pass(<const double*>P.data, <const int32_t*>P.indices, <const int32_t*>P.indptr,
                 P, w, grad, H, nc, work)


cdef inline double _hessp(const SProblem* P, const double* w, const double* hw, const double* v,
                          double* out, bint gram, int nc, double* work) noexcept nogil:
    if P.f32:
        if P.i64:
            return _hessp_pass(<const float*>P.data, <const int64_t*>P.indices,
                               <const int64_t*>P.indptr, P, w, hw, v, out, gram, nc, work)
        return _hessp_pass(<const float*>P.data, <const int32_t*>P.indices,
                           <const int32_t*>P.indptr, P, w, hw, v, out, gram, nc, work)
    if P.i64:
        return _hessp_pass(<const double*>P.data, <const int64_t*>P.indices,
                           <const int64_t*>P.indptr, P, w, hw, v, out, gram, nc, work)
    return _hessp_pass(<const double*>P.data, <const int32_t*>P.indices, <const int32_t*>P.indptr,
                       P, w, hw, v, out, gram, nc, work)


cdef inline void _linear(const SProblem* P, const double* v, double* out, int nc,
                         double* work) noexcept nogil:
    if P.f32:
        if P.i64:
            _linear_pass(<const float*>P.data, <const int64_t*>P.indices, <const int64_t*>P.indptr,
                         P, v, out, nc, work)
        else:
            _linear_pass(<const float*>P.data, <const int32_t*>P.indices, <const int32_t*>P.indptr,
                         P, v, out, nc, work)
    elif P.i64:
        _linear_pass(<const double*>P.data, <const int64_t*>P.indices, <const int64_t*>P.indptr,
                     P, v, out, nc, work)
    else:
        _linear_pass(<const double*>P.data, <const int32_t*>P.indices, <const int32_t*>P.indptr,
                     P, v, out, nc, work)


cdef inline void _transpose(const SProblem* P, const double* r, double* out, bint squares,
                            int nc, double* work) noexcept nogil:
    if P.f32:
        if P.i64:
            _transpose_pass(<const float*>P.data, <const int64_t*>P.indices,
                            <const int64_t*>P.indptr, P, r, out, squares, nc, work)
        else:
            _transpose_pass(<const float*>P.data, <const int32_t*>P.indices,
                            <const int32_t*>P.indptr, P, r, out, squares, nc, work)
    elif P.i64:
        _transpose_pass(<const double*>P.data, <const int64_t*>P.indices, <const int64_t*>P.indptr,
                        P, r, out, squares, nc, work)
    else:
        _transpose_pass(<const double*>P.data, <const int32_t*>P.indices, <const int32_t*>P.indptr,
                        P, r, out, squares, nc, work)


# ---------------------------------------------------------------------------------------------
# The Python-facing kernel object
# ---------------------------------------------------------------------------------------------

cdef int _expect(Py_ssize_t got, Py_ssize_t want, str name) except -1:
    """The kernels write through raw pointers: refuse a buffer of the wrong length."""
    if got != want:
        raise ValueError(f"{name} has {got} elements, expected {want}")
    return 0


cdef class SparseKernel:
    """Validated CSR data of one objective, with the same methods as gdfast._core.Kernel.

    X must be a scipy.sparse CSR matrix or array whose data is float32 or float64 and whose
    indices and indptr are both int32 or both int64 and C-contiguous (gdfast.Objective sees to
    it). The structure is checked here once (one pass over indptr and indices), so that no
    kernel can read out of bounds; column indices may be unsorted and may repeat. The kernel
    keeps references to the arrays and never writes to them.
    """
    cdef SProblem P
    cdef object _keep
    cdef readonly Py_ssize_t n_params

    def __cinit__(self, X, const double[::1] y, sample_weight, double scale, int loss,
                  bint fit_intercept, double alpha, double cost_offset=0.0):
        if not 0 <= loss < n_losses():
            raise ValueError(f"loss must be a compiled loss code (gdfast._sparse.loss_codes()); got {loss}")
        cdef const float[::1] df
        cdef const double[::1] dd
        cdef const int32_t[::1] i32, p32
        cdef const int64_t[::1] i64, p64
        cdef const double[::1] sw
        if getattr(X, "format", None) != "csr":
            raise TypeError("SparseKernel needs a scipy.sparse CSR matrix or array")
        n, d = X.shape
        data, indices, indptr = X.data, X.indices, X.indptr
        message = structure_error(indptr, indices, n, d)
        if message is not None:
            raise ValueError(f"X is not a valid CSR matrix: {message}")
        nnz = int(indptr[n])
        if data.shape[0] < nnz:
            raise ValueError(f"X is not a valid CSR matrix: data holds {data.shape[0]} entries, "
                             f"indptr needs {nnz}")
        if y.shape[0] != n:
            raise ValueError(f"y has length {y.shape[0]}, expected {n}")
        if data.dtype == np.float32:
            df = data
            self.P.data = &df[0] if df.shape[0] > 0 else NULL
            self.P.f32 = True
        elif data.dtype == np.float64:
            dd = data
            self.P.data = &dd[0] if dd.shape[0] > 0 else NULL
            self.P.f32 = False
        else:
            raise TypeError(f"X.data must be float32 or float64; got {data.dtype}")
        if indices.dtype == np.int32:
            i32 = indices
            p32 = indptr
            self.P.indices = &i32[0] if i32.shape[0] > 0 else NULL
            self.P.indptr = &p32[0]
            self.P.i64 = False
        else:
            i64 = indices
            p64 = indptr
            self.P.indices = &i64[0] if i64.shape[0] > 0 else NULL
            self.P.indptr = &p64[0]
            self.P.i64 = True
        self.P.n = n
        self.P.d = d
        self.P.nnz = nnz
        self.P.y = &y[0]
        if sample_weight is None:
            self.P.sw = NULL
        else:
            sw = sample_weight
            if sw.shape[0] != n:
                raise ValueError(f"sample_weight has length {sw.shape[0]}, expected {n}")
            self.P.sw = &sw[0]
        self.P.scale = scale
        self.P.loss = loss
        self.P.fit_intercept = fit_intercept
        self.P.alpha = alpha
        self.P.cost_offset = cost_offset
        self.P.duplicates = has_duplicates(indptr, indices, d)
        self.n_params = d + (1 if fit_intercept else 0)
        self._keep = (X, data, indices, indptr, y, sample_weight)

    cdef int _chunks(self, n_threads, bint hess=False) except -1:
        """The chunk count of every pass: the thread count (None: OpenMP's), lowered for small
        passes; one chunk for a Hessian too large to keep a private copy per thread."""
        cdef int nt
        if n_threads is None:
            nt = max(1, gds_max_threads())
        else:
            nt = max(1, <int>n_threads)
        if hess and self.n_params > MAX_THREADED_HESSIAN:
            return 1
        return _n_chunks(nt, &self.P)

    cdef double[::1] _work(self, int nc, bint hess=False):
        return np.empty(_workspace_size(self.n_params, nc, hess), dtype=np.float64)

    def cost_grad(self, const double[::1] w, double[::1] grad=None, double[:, ::1] hess=None,
                  n_threads=None):
        """Cost at w; fills grad (len D) and hess (D x D) when given. Releases the GIL."""
        _expect(w.shape[0], self.n_params, 'w')
        if grad is not None:
            _expect(grad.shape[0], self.n_params, 'grad')
        if hess is not None:
            _expect(hess.shape[0] * hess.shape[1], self.n_params ** 2, 'hess')
        cdef int nc = self._chunks(n_threads, hess is not None)
        cdef double[::1] work = self._work(nc, hess is not None)
        cdef double* gp = NULL
        cdef double* hp = NULL
        cdef double cost
        if grad is not None:
            gp = &grad[0]
        if hess is not None:
            hp = &hess[0, 0]
        with nogil:
            cost = _cost_grad(&self.P, &w[0], gp, hp, nc, &work[0])
        return cost

    def hessp(self, const double[::1] w, const double[::1] v, double[::1] out, bint gram=False,
              n_threads=None):
        """out = Hessian(w) @ v (or Xa^T S Xa v with gram=True), without forming the Hessian.

        Returns the cost at w (0.0 with gram=True), from the same pass."""
        _expect(w.shape[0], self.n_params, 'w')
        _expect(v.shape[0], self.n_params, 'v')
        _expect(out.shape[0], self.n_params, 'out')
        cdef int nc = self._chunks(n_threads)
        cdef double[::1] work = self._work(nc)
        cdef double cost
        with nogil:
            cost = _hessp(&self.P, &w[0], NULL, &v[0], &out[0], gram, nc, &work[0])
        return cost

    def hessp_weighted(self, const double[::1] hw, const double[::1] v, double[::1] out,
                       n_threads=None):
        """out = Xa^T diag(hw) Xa v for precomputed weights hw (no penalty, no scaling)."""
        _expect(hw.shape[0], self.P.n, 'hw')
        _expect(v.shape[0], self.n_params, 'v')
        _expect(out.shape[0], self.n_params, 'out')
        cdef int nc = self._chunks(n_threads)
        cdef double[::1] work = self._work(nc)
        with nogil:
            _hessp(&self.P, NULL, &hw[0], &v[0], &out[0], False, nc, &work[0])

    def descent_run(self, int mode, double[::1] w, double[::1] aux, double lr,
                    Py_ssize_t max_steps, double[::1] cost_hist, double[::1] gnorm_hist,
                    double[::1] step_hist, Py_ssize_t it0, double[::1] state, double[::1] best_w,
                    double tol, bint final, n_threads=None):
        """The gradient-descent loops without the GIL; see the module-level descent_run."""
        return descent_run(self, mode, w, aux, lr, max_steps, cost_hist, gnorm_hist, step_hist,
                           it0, state, best_w, tol, final, n_threads)

    def diag_weighted(self, const double[::1] hw, double[::1] out, n_threads=None):
        """out = diag(Xa^T diag(hw) Xa), i.e. out[j] = sum_i hw[i] Xa[i, j]^2 (no penalty)."""
        _expect(hw.shape[0], self.P.n, 'hw')
        _expect(out.shape[0], self.n_params, 'out')
        cdef int nc = self._chunks(n_threads)
        cdef double[::1] work = self._work(nc)
        with nogil:
            _transpose(&self.P, &hw[0], &out[0], True, nc, &work[0])

    def linear(self, const double[::1] v, double[::1] out, n_threads=None):
        """out = Xa v: the raw predictions z for parameters v (length n)."""
        _expect(v.shape[0], self.n_params, 'v')
        _expect(out.shape[0], self.P.n, 'out')
        cdef int nc = self._chunks(n_threads)
        cdef double[::1] work = self._work(nc)
        with nogil:
            _linear(&self.P, &v[0], &out[0], nc, &work[0])

    def transpose(self, const double[::1] r, double[::1] out, n_threads=None):
        """out = Xa^T r (length D), unscaled."""
        _expect(r.shape[0], self.P.n, 'r')
        _expect(out.shape[0], self.n_params, 'out')
        cdef int nc = self._chunks(n_threads)
        cdef double[::1] work = self._work(nc)
        with nogil:
            _transpose(&self.P, &r[0], &out[0], False, nc, &work[0])

    def loss_from_z(self, const double[::1] z, double[::1] r=None, double[::1] h=None):
        """Mean weighted loss at predictions z (no penalty); r and h get s * loss' and s * loss''.

        O(n) and no pass over X (see gdfast._core.Kernel.loss_from_z). Blocks of rows go
        through the same flat loop as the passes, which vectorises on every instruction set.
        """
        _expect(z.shape[0], self.P.n, 'z')
        if r is not None:
            _expect(r.shape[0], self.P.n, 'r')
        if h is not None:
            _expect(h.shape[0], self.P.n, 'h')
        cdef double total
        cdef double* rp = &r[0] if r is not None else NULL
        cdef double* hp = &h[0] if h is not None else NULL
        with nogil:
            total = loss_at(self.P.loss, self.P.y, self.P.sw, self.P.scale, self.P.cost_offset,
                            self.P.n, &z[0], rp, hp)
        return total



def diag_weighted(SparseKernel kernel, const double[::1] hw, double[::1] out, n_threads=None):
    """out = diag(Xa^T diag(hw) Xa) (no penalty, unscaled): the module-level form, with the same
    signature as the dense kernels' diag_weighted (the Jacobi preconditioner of Newton-CG)."""
    kernel.diag_weighted(hw, out, n_threads)


# Modes of descent_run: the numbers of gdfast._descent's M_FIXED, M_BACKTRACKING, M_NESTEROV.
DESCENT_FIXED = 0
DESCENT_BACKTRACKING = 1
DESCENT_NESTEROV = 2


cdef struct SparseContext:
    const SProblem* P
    int nc
    double* work


cdef double _sparse_cost_grad(void* ctx, const double* w, double* grad) noexcept nogil:
    cdef SparseContext* c = <SparseContext*>ctx
    return _cost_grad(c.P, w, grad, NULL, c.nc, c.work)


def descent_run(SparseKernel kernel, int mode, double[::1] w, double[::1] aux, double lr,
                Py_ssize_t max_steps, double[::1] cost_hist, double[::1] gnorm_hist,
                double[::1] step_hist, Py_ssize_t it0, double[::1] state, double[::1] best_w,
                double tol, bint final, n_threads=None):
    """The solvers' first-order loops over a sparse objective: gdfast._descent.descent_loop,
    whose docstring has the contract (the dense kernels' descent_run is the same)."""
    cdef SparseContext ctx
    cdef Py_ssize_t D = kernel.n_params, k
    cdef int code = 0
    cdef int nc = kernel._chunks(n_threads)
    cdef double[::1] work = kernel._work(nc)
    check_descent_buffers(D, w, aux, max_steps, cost_hist, gnorm_hist, step_hist, it0, state, best_w)
    ctx.P = &kernel.P
    ctx.nc = nc
    ctx.work = &work[0]
    with nogil:
        k = descent_loop(_sparse_cost_grad, &ctx, mode, &w[0], &aux[0], D, lr, max_steps,
                         &cost_hist[0], &gnorm_hist[0], &step_hist[0], it0, &state[0],
                         &best_w[0], tol, final, &code)
    return k, code
