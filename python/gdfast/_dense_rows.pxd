# The dense row reader of the pass skeleton (gdfast/_pass.pxd): how a pass reads the rows of a
# dense X, with contiguous rows ("C" path) or contiguous columns ("F" path). The block math is
# gdfast/kernels.pxd's (the public block kernels); what this file adds is what only dense rows
# need: blocks sized to stay in L1, a prefetch cursor, float32 copies of the coefficients, and the
# Hessian built from batches of scaled rows by a register-tiled syrk (or BLAS dsyrk).
#
# The reader is a value: each part of a pass works on its own copy (see dense_begin), which
# carries that part's cursor and scratch pointers; the fields above them describe X and do not
# change.

from libc.math cimport fabs

from gdfast.kernels cimport (
    floating, Problem, Prefetch, Coef, BLOCK_ROWS, GRAM_MAX_D, gram_available, block_linear,
    block_transpose_add, hessian_rows, syrk_rows, block_square_add)

cdef enum:
    L1_BLOCK_BYTES = 24576     # a block's rows fit in half of L1: the gradient re-reads them there
    PREFETCH_LEAD = 32768      # bytes between a block's first row and the prefetch cursor
    HESS_BATCH_BYTES = 65536   # the register-tiled Hessian's batch of scaled rows
    MIN_BLOCKS_PER_THREAD = 8  # blocks of BLOCK_ROWS rows a thread must get to be worth waking


cdef struct DenseRows:
    Problem P
    Py_ssize_t bm          # rows per block (dense_rows)
    Py_ssize_t hrows       # rows of scaled Xa handed to syrk at once
    # the part's own state, set by dense_begin on the part's copy
    Prefetch pf            # requests rows ahead of the pass (C path, contiguous rows only)
    float* gf              # a block's float32 gradient (d floats)
    double* hbuf           # sqrt(h)-scaled rows waiting for syrk (hess passes)
    Py_ssize_t pending     # rows in hbuf


cdef inline Py_ssize_t _floats(Py_ssize_t d) noexcept nogil:
    """Doubles that hold d floats, rounded up to a cache line."""
    return (((d + 1) // 2 + 7) // 8) * 8


cdef inline Py_ssize_t _hess_rows(Py_ssize_t D) noexcept nogil:
    # Rows of the scaled-row buffer handed to syrk_rows at once. The register-tiled loop sweeps
    # the batch once per tile, so it wants the batch in L1/L2 (64 KiB measured best here at
    # D = 20 and 100); BLAS wants ~1 MiB to run near its peak.
    cdef Py_ssize_t rows
    if D <= GRAM_MAX_D and gram_available():
        rows = (HESS_BATCH_BYTES // 8) // D
        return rows if rows >= 16 else 16
    rows = ((1 << 17) // D // BLOCK_ROWS) * BLOCK_ROWS
    return rows if rows >= BLOCK_ROWS else BLOCK_ROWS


cdef inline DenseRows dense_rows(const Problem* P) noexcept nogil:
    """The reader over P. Rows per block: L1_BLOCK_BYTES of rows on the C path (a multiple of 4,
    16 to BLOCK_ROWS), BLOCK_ROWS on the F path (a block is then a slice of every column)."""
    cdef DenseRows R
    cdef Py_ssize_t rows = BLOCK_ROWS
    R.P = P[0]
    if P.cs == 1:
        rows = L1_BLOCK_BYTES // (max(P.d, 1) * (4 if P.f32 else 8))
        rows -= rows % 4
        rows = max(16, min(<Py_ssize_t>BLOCK_ROWS, rows))
    R.bm = rows
    R.hrows = _hess_rows(P.d + P.fit_intercept)
    R.pf.next = R.pf.end = NULL
    R.pf.step = 0
    R.gf = NULL
    R.hbuf = NULL
    R.pending = 0
    return R


cdef inline int dense_parts(const DenseRows* R, int nt) noexcept nogil:
    # Waking a thread costs microseconds: below MIN_BLOCKS_PER_THREAD blocks (of BLOCK_ROWS rows)
    # per thread it is not worth it (a 1000 x 10 gradient takes a few microseconds on one core).
    cdef Py_ssize_t most = ((R.P.n + BLOCK_ROWS - 1) // BLOCK_ROWS) // MIN_BLOCKS_PER_THREAD
    if nt > most:
        nt = <int>most
    return nt if nt >= 1 else 1


cdef inline void dense_bounds(const DenseRows* R, int nc, Py_ssize_t* bounds) noexcept nogil:
    """Part c takes blocks nblocks * c // nc onwards: equal shares of whole blocks."""
    cdef Py_ssize_t nblocks = (R.P.n + R.bm - 1) // R.bm
    cdef int c
    for c in range(nc):
        bounds[c] = (nblocks * c // nc) * R.bm
    bounds[nc] = R.P.n


cdef inline Py_ssize_t dense_part_size(const DenseRows* R, bint hess) noexcept nogil:
    """Doubles of scratch per part: the float32 block gradient, and the Hessian's row batch."""
    cdef Py_ssize_t size = _floats(R.P.d)
    if hess:
        size += max(R.hrows, <Py_ssize_t>BLOCK_ROWS) * (R.P.d + R.P.fit_intercept)
    return size


cdef inline Py_ssize_t dense_shared_size(const DenseRows* R) noexcept nogil:
    return 2 * _floats(R.P.d)          # two coefficient vectors as float32 (dense_coef)


cdef inline bint _float_safe(const Problem* P, const double* v) noexcept nogil:
    """True when x . v summed in float32 can neither overflow nor lose a coefficient to
    underflow."""
    cdef double total = 0
    cdef Py_ssize_t j
    for j in range(P.d):
        total += fabs(v[j])
        if v[j] != 0 and fabs(v[j]) < 1e-25:
            return False
    return total * P.xmax < 1e30


cdef inline Coef dense_coef(const DenseRows* R, const double* v, double b, int slot,
                            double* shared) noexcept nogil:
    """v (and intercept b) as the blocks read it; for float32 X also v as float32 (into slot 0 or
    1 of the shared scratch), unless float sums of x . v could overflow."""
    cdef Coef c
    cdef float* f
    cdef Py_ssize_t j
    c.v = v
    c.b = b
    c.f = NULL
    if R.P.f32 and _float_safe(&R.P, v):
        f = <float*>(shared + slot * _floats(R.P.d))
        for j in range(R.P.d):
            f[j] = <float>v[j]
        c.f = f
    return c


cdef inline void dense_begin(DenseRows* R, double* scratch, Py_ssize_t row0, int reads,
                             bint hess) noexcept nogil:
    """Start a part at row0 on this copy of the reader. reads: how often the pass reads each
    row (the prefetch cursor runs that much slower than the rows)."""
    cdef Py_ssize_t size = 4 if R.P.f32 else 8
    R.gf = <float*>scratch
    R.hbuf = scratch + _floats(R.P.d) if hess else NULL
    R.pending = 0
    R.pf.next = <const char*>R.P.X
    R.pf.end = <const char*>R.P.X + R.P.n * R.P.rs * size
    R.pf.step = 0
    # on strided rows the prefetch would fetch the gaps too
    if R.P.cs == 1 and R.P.rs == R.P.d:
        R.pf.step = (4 * R.P.d * size) // reads


cdef inline Py_ssize_t dense_next_block(DenseRows* R, Py_ssize_t i0,
                                        Py_ssize_t row1) noexcept nogil:
    """The block starting at row i0: its row count. Keeps the prefetch cursor at least
    PREFETCH_LEAD bytes ahead of it (a part's first block, or after a block that was not a
    multiple of four rows)."""
    cdef const char* at = <const char*>R.P.X + i0 * R.P.rs * (4 if R.P.f32 else 8) + PREFETCH_LEAD
    if R.pf.next < at:
        R.pf.next = at
    return min(R.bm, row1 - i0)


cdef inline void dense_z(DenseRows* R, Py_ssize_t i0, Py_ssize_t m, const Coef* c,
                         double* z) noexcept nogil:
    if R.P.f32:
        block_linear(<const float*>R.P.X, &R.P, i0, m, c.v, c.f, c.b, z, &R.pf)
    else:
        block_linear(<const double*>R.P.X, &R.P, i0, m, c.v, NULL, c.b, z, &R.pf)


cdef inline void dense_scatter(DenseRows* R, Py_ssize_t i0, Py_ssize_t m, const double* r,
                               double* acc) noexcept nogil:
    if R.P.f32:
        block_transpose_add(<const float*>R.P.X, &R.P, i0, m, r, acc, R.gf, &R.pf)
    else:
        block_transpose_add(<const double*>R.P.X, &R.P, i0, m, r, acc, NULL, &R.pf)


cdef inline void _negative_rows(const floating* X, const Problem* P, Py_ssize_t i0, Py_ssize_t m,
                                const double* h, double* H) noexcept nogil:
    """H += h_k xa_k xa_k^T for the rows of the block with h_k < 0 (which the sqrt(h)-scaled
    batch leaves out), into H's lower triangle in C order (the batch's upper triangle in column
    order). One rank-one update per row: only losses that are not convex in z have such rows."""
    cdef Py_ssize_t D = P.d + P.fit_intercept, k, j, l
    cdef double hk, xj
    cdef const floating* x
    for k in range(m):
        hk = h[k]
        if not hk < 0:
            continue
        for j in range(D):
            if j < P.d:
                xj = hk * (X[(i0 + k) * P.rs + j] if P.cs == 1 else X[j * P.cs + i0 + k])
            else:
                xj = hk
            for l in range(min(j + 1, P.d)):
                H[j * D + l] += xj * (X[(i0 + k) * P.rs + l] if P.cs == 1 else X[l * P.cs + i0 + k])
            if j == P.d:
                H[j * D + j] += xj


cdef inline void dense_hessian(DenseRows* R, Py_ssize_t i0, Py_ssize_t m, const double* h,
                               double* H) noexcept nogil:
    """Gather the block's sqrt(h)-scaled rows; hand the batch to syrk (into H's upper triangle,
    column-major) when the next block might not fit. Rows with h < 0 go straight into H."""
    cdef Py_ssize_t D = R.P.d + R.P.fit_intercept, k
    cdef bint negative = False
    for k in range(m):
        negative = negative | (h[k] < 0)
    if negative:
        if R.P.f32:
            _negative_rows(<const float*>R.P.X, &R.P, i0, m, h, H)
        else:
            _negative_rows(<const double*>R.P.X, &R.P, i0, m, h, H)
    if R.P.f32:
        hessian_rows(<const float*>R.P.X, &R.P, i0, m, h, R.hbuf + R.pending * D)
    else:
        hessian_rows(<const double*>R.P.X, &R.P, i0, m, h, R.hbuf + R.pending * D)
    R.pending += m
    if R.pending + R.bm > R.hrows:
        syrk_rows(R.hbuf, R.pending, D, H)
        R.pending = 0


cdef inline void dense_hessian_end(DenseRows* R, double* H) noexcept nogil:
    syrk_rows(R.hbuf, R.pending, R.P.d + R.P.fit_intercept, H)
    R.pending = 0


cdef inline void dense_squares(DenseRows* R, Py_ssize_t i0, Py_ssize_t m, const double* hw,
                               double* acc) noexcept nogil:
    if R.P.f32:
        block_square_add(<const float*>R.P.X, &R.P, i0, m, hw, acc)
    else:
        block_square_add(<const double*>R.P.X, &R.P, i0, m, hw, acc)
