# The CSR row reader of the pass skeleton (gdfast/_pass.pxd): how a pass reads the rows of X
# stored as scipy's compressed rows.
#
# X arrives as three arrays: data (float32 or float64), indices (the column of each stored entry)
# and indptr (row i holds entries indptr[i] to indptr[i+1]); indices and indptr are both int32 or
# both int64. gdfast._sparse checks the structure once, before any pass trusts it. Nothing here
# needs sorted column indices. Duplicate entries of one (row, column) count as their sum, as in
# scipy, without a copy: X v and X^T r are linear in the stored entries, so duplicates add up by
# themselves; the Hessian and the weighted diagonal, quadratic in them, add the cross products of
# duplicates explicitly.
#
# Parts are contiguous row ranges of about equal work (stored entries plus rows), and there are
# fewer of them than threads when the rows hold too little work to pay for another D-long
# accumulator. A block is BLOCK_ROWS rows: z by a gather per row, the per-row loss in the
# skeleton's flat loop, then the scatter X_block^T r.

from libc.stdint cimport int32_t, int64_t

from gdfast.kernels cimport floating, Coef, BLOCK_ROWS, sum_f64

ctypedef fused index_t:
    int32_t
    int64_t

cdef enum:
    MIN_WORK_PER_CHUNK = 32768     # stored entries + rows a thread must get to be worth waking


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
    double loss_param      # the loss's parameter (gdfast.losses.Loss.param), else 0
    const double* offset   # a fixed term added to every row's z at w; NULL: none
    bint duplicates        # some row stores a column twice (only the weighted diagonal cares)


cdef struct CsrRows:
    SProblem P


# ---------------------------------------------------------------------------------------------
# Row and block kernels, for each type of data and of index
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


cdef inline void _block_linear(const floating* data, const index_t* ind, const index_t* ptr,
                               Py_ssize_t i0, Py_ssize_t m, const double* v, double b,
                               double* z) noexcept nogil:
    """z[k] = x_{i0+k} . v + b for the m rows of the block."""
    cdef Py_ssize_t k
    for k in range(m):
        z[k] = _row_dot(data, ind, ptr[i0 + k], ptr[i0 + k + 1], v) + b


cdef inline void _block_linear2(const floating* data, const index_t* ind, const index_t* ptr,
                                Py_ssize_t i0, Py_ssize_t m, const Coef* a, double* za,
                                const Coef* c, double* zc) noexcept nogil:
    """za = X_block a.v + a.b and zc = X_block c.v + c.b, both from one read of each row."""
    cdef Py_ssize_t k, p0, p1
    for k in range(m):
        p0 = ptr[i0 + k]
        p1 = ptr[i0 + k + 1]
        za[k] = _row_dot(data, ind, p0, p1, a.v) + a.b
        zc[k] = _row_dot(data, ind, p0, p1, c.v) + c.b


cdef inline void _block_scatter(const floating* data, const index_t* ind, const index_t* ptr,
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


cdef inline void _block_hessian(const floating* data, const index_t* ind, const index_t* ptr,
                                const SProblem* P, Py_ssize_t i0, Py_ssize_t m, const double* h,
                                double* H) noexcept nogil:
    """H += sum_k h_k xa_k xa_k^T over the block, into the lower triangle (C order) of H, where
    the skeleton expects it (H[j, k] for j >= k).

    Each unordered pair of stored entries of a row is visited once, the later entry with the
    earlier ones: with sorted column indices that walks along row ja of H, not down a column in
    strides of D (benchmarks/PROFILE.md, "The pass skeleton"). Two entries of the same column (a
    duplicate) meet twice in x x^T, hence the factor 2.
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
            for c in range(p0, a):
                jc = ind[c]
                if ja > jc:
                    H[ja * D + jc] += xa * data[c]
                elif jc > ja:
                    H[jc * D + ja] += xa * data[c]
                else:
                    H[ja * D + ja] += 2.0 * xa * data[c]
            if P.fit_intercept:
                H[d * D + ja] += xa
        if P.fit_intercept:
            H[d * D + d] += hk


cdef inline void _block_squares(const floating* data, const index_t* ind, const index_t* ptr,
                                const SProblem* P, Py_ssize_t i0, Py_ssize_t m, const double* hw,
                                double* acc) noexcept nogil:
    """acc[j] += sum_k hw[k] Xa[i0 + k, j]^2 over the block (the weighted diagonal)."""
    cdef Py_ssize_t k, p, p1, a, c
    cdef double hk, x
    for k in range(m):
        hk = hw[k]
        p1 = ptr[i0 + k + 1]
        for p in range(ptr[i0 + k], p1):
            x = data[p]
            acc[ind[p]] += hk * x * x
    # Duplicates: (a + b)^2 = a^2 + b^2 + 2ab, so add 2ab for each pair in the same column. Only
    # when the kernel found duplicates at construction: the pair test is quadratic in the length
    # of a row.
    if P.duplicates:
        for k in range(m):
            p1 = ptr[i0 + k + 1]
            for a in range(ptr[i0 + k], p1):
                for c in range(a + 1, p1):
                    if ind[a] == ind[c]:
                        acc[ind[a]] += 2.0 * hw[k] * data[a] * data[c]
    if P.fit_intercept:
        acc[P.d] += sum_f64(hw, m)


cdef inline void _bounds(const index_t* ptr, Py_ssize_t n, int nc,
                         Py_ssize_t* bounds) noexcept nogil:
    """bounds[c] = first row of part c: equal shares of (stored entries + rows), by bisection."""
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


# ---------------------------------------------------------------------------------------------
# The reader's functions (the table in gdfast/_pass.pxd). Each picks the kernel for the data's
# and the indices' types: one branch per block.
# ---------------------------------------------------------------------------------------------

cdef inline int csr_parts(const CsrRows* R, int nt) noexcept nogil:
    """nt, unless each part would get too little work: a part beyond the first costs about D to
    zero its accumulator and D to add it up, so it must bring work well above D; below
    MIN_WORK_PER_CHUNK, waking a thread costs more than it saves."""
    cdef Py_ssize_t most = (R.P.nnz + R.P.n) // (MIN_WORK_PER_CHUNK + R.P.d + 1)
    if nt > most:
        nt = <int>most
    return nt if nt >= 1 else 1


cdef inline void csr_bounds(const CsrRows* R, int nc, Py_ssize_t* bounds) noexcept nogil:
    if R.P.i64:
        _bounds(<const int64_t*>R.P.indptr, R.P.n, nc, bounds)
    else:
        _bounds(<const int32_t*>R.P.indptr, R.P.n, nc, bounds)


cdef inline Py_ssize_t csr_part_size(const CsrRows* R, bint hess) noexcept nogil:
    return 0


cdef inline Py_ssize_t csr_shared_size(const CsrRows* R) noexcept nogil:
    return 0


cdef inline Coef csr_coef(const CsrRows* R, const double* v, double b, int slot,
                          double* shared) noexcept nogil:
    cdef Coef c
    c.v = v
    c.f = NULL
    c.b = b
    return c


cdef inline void csr_begin(CsrRows* R, double* scratch, Py_ssize_t row0, int reads,
                           bint hess) noexcept nogil:
    pass


cdef inline Py_ssize_t csr_next_block(CsrRows* R, Py_ssize_t i0, Py_ssize_t row1) noexcept nogil:
    return min(<Py_ssize_t>BLOCK_ROWS, row1 - i0)


cdef inline void csr_z(CsrRows* R, Py_ssize_t i0, Py_ssize_t m, const Coef* c,
                       double* z) noexcept nogil:
    if R.P.f32:
        if R.P.i64:
            _block_linear(<const float*>R.P.data, <const int64_t*>R.P.indices,
                          <const int64_t*>R.P.indptr, i0, m, c.v, c.b, z)
        else:
            _block_linear(<const float*>R.P.data, <const int32_t*>R.P.indices,
                          <const int32_t*>R.P.indptr, i0, m, c.v, c.b, z)
    elif R.P.i64:
        _block_linear(<const double*>R.P.data, <const int64_t*>R.P.indices,
                      <const int64_t*>R.P.indptr, i0, m, c.v, c.b, z)
    else:
        _block_linear(<const double*>R.P.data, <const int32_t*>R.P.indices,
                      <const int32_t*>R.P.indptr, i0, m, c.v, c.b, z)


cdef inline void csr_z2(CsrRows* R, Py_ssize_t i0, Py_ssize_t m, const Coef* a, double* za,
                        const Coef* c, double* zc) noexcept nogil:
    if R.P.f32:
        if R.P.i64:
            _block_linear2(<const float*>R.P.data, <const int64_t*>R.P.indices,
                           <const int64_t*>R.P.indptr, i0, m, a, za, c, zc)
        else:
            _block_linear2(<const float*>R.P.data, <const int32_t*>R.P.indices,
                           <const int32_t*>R.P.indptr, i0, m, a, za, c, zc)
    elif R.P.i64:
        _block_linear2(<const double*>R.P.data, <const int64_t*>R.P.indices,
                       <const int64_t*>R.P.indptr, i0, m, a, za, c, zc)
    else:
        _block_linear2(<const double*>R.P.data, <const int32_t*>R.P.indices,
                       <const int32_t*>R.P.indptr, i0, m, a, za, c, zc)


cdef inline void csr_scatter(CsrRows* R, Py_ssize_t i0, Py_ssize_t m, const double* r,
                             double* acc) noexcept nogil:
    if R.P.f32:
        if R.P.i64:
            _block_scatter(<const float*>R.P.data, <const int64_t*>R.P.indices,
                           <const int64_t*>R.P.indptr, &R.P, i0, m, r, acc)
        else:
            _block_scatter(<const float*>R.P.data, <const int32_t*>R.P.indices,
                           <const int32_t*>R.P.indptr, &R.P, i0, m, r, acc)
    elif R.P.i64:
        _block_scatter(<const double*>R.P.data, <const int64_t*>R.P.indices,
                       <const int64_t*>R.P.indptr, &R.P, i0, m, r, acc)
    else:
        _block_scatter(<const double*>R.P.data, <const int32_t*>R.P.indices,
                       <const int32_t*>R.P.indptr, &R.P, i0, m, r, acc)


cdef inline void csr_hessian(CsrRows* R, Py_ssize_t i0, Py_ssize_t m, const double* h,
                             double* H) noexcept nogil:
    if R.P.f32:
        if R.P.i64:
            _block_hessian(<const float*>R.P.data, <const int64_t*>R.P.indices,
                           <const int64_t*>R.P.indptr, &R.P, i0, m, h, H)
        else:
            _block_hessian(<const float*>R.P.data, <const int32_t*>R.P.indices,
                           <const int32_t*>R.P.indptr, &R.P, i0, m, h, H)
    elif R.P.i64:
        _block_hessian(<const double*>R.P.data, <const int64_t*>R.P.indices,
                       <const int64_t*>R.P.indptr, &R.P, i0, m, h, H)
    else:
        _block_hessian(<const double*>R.P.data, <const int32_t*>R.P.indices,
                       <const int32_t*>R.P.indptr, &R.P, i0, m, h, H)


cdef inline void csr_hessian_end(CsrRows* R, double* H) noexcept nogil:
    pass                    # _block_hessian accumulates as it goes


cdef inline void csr_squares(CsrRows* R, Py_ssize_t i0, Py_ssize_t m, const double* hw,
                             double* acc) noexcept nogil:
    if R.P.f32:
        if R.P.i64:
            _block_squares(<const float*>R.P.data, <const int64_t*>R.P.indices,
                           <const int64_t*>R.P.indptr, &R.P, i0, m, hw, acc)
        else:
            _block_squares(<const float*>R.P.data, <const int32_t*>R.P.indices,
                           <const int32_t*>R.P.indptr, &R.P, i0, m, hw, acc)
    elif R.P.i64:
        _block_squares(<const double*>R.P.data, <const int64_t*>R.P.indices,
                       <const int64_t*>R.P.indptr, &R.P, i0, m, hw, acc)
    else:
        _block_squares(<const double*>R.P.data, <const int32_t*>R.P.indices,
                       <const int32_t*>R.P.indptr, &R.P, i0, m, hw, acc)
