# The pass skeleton: one pass over the rows of X, written once for dense and for CSR rows.
#
# Notation: z = X @ coef + intercept, s_i = sample_weight_i / sum(weights), Xa = X with a column
# of ones appended when the model has an intercept, D = its number of columns, and
#   cost     = sum_i s_i * loss(z_i, y_i) + alpha/2 * ||coef||^2
#   gradient = Xa^T (s * loss'(z, y)) + alpha * [coef, 0]
#   Hessian  = Xa^T diag(s * loss''(z, y)) Xa + alpha * P
#
# A pass cuts the rows into nc parts (contiguous row ranges) and runs one part per thread. A part
# walks its rows in blocks small enough to stay in cache: z = Xa_block w, the per-row loss terms
# of the block in one flat loop (kernels.rows_loss, i.e. gd_rows_terms), then the gradient
# Xa_block^T r and the Hessian Xa_block^T diag(h) Xa_block from the block while it is still in
# cache, so that X is read once per pass and no n-by-d temporary is made. The same loop serves
# the Hessian-vector product, X v, X^T r and the weighted diagonal (a Job says which).
#
# Threads: each part accumulates into its own buffers, on cache lines of its own, and the parts
# are added in part order after the parallel region: a given part count always gives the same
# bits, however many threads OpenMP actually delivers. A one-part pass accumulates straight into
# the caller's output. With more parts, the caller's gradient is written only by the reduction:
# it is a small array that malloc may place beside w, which every part reads for every block, and
# one part storing into it for every block makes that cache line bounce between the cores
# (benchmarks/PROFILE.md, "The pass skeleton"). The Hessian of part 0 does go to the caller's H
# (its batches are added rarely, and a private copy would cost D x D more memory). The penalty is
# added once, after the sums (add_penalty).
#
# What differs between layouts of X is the row reader: a struct with the problem in a member P
# (n, d, fit_intercept, y, sw, loss, loss_param, offset, scale, cost_offset, alpha, named as in
# kernels.Problem) and
# the functions of the table below, which say how many parts a pass uses and where they start,
# how many rows a block takes, and how a block's rows are read (z, scatter, Hessian, squares).
# gdfast/_dense_rows.pxd reads dense rows, gdfast/_csr_rows.pxd compressed ones. The skeleton is
# fused over the reader type, so each kernel module compiles it for its reader with every call
# resolved at compile time. A reader works on one copy per part (rows_begin sets that copy's
# cursors), so it may keep per-part state in its own fields.

from cython.parallel cimport prange
from libc.string cimport memset, memcpy

from gdfast.kernels cimport Coef, BLOCK_ROWS, rows_loss_param, add_penalty
from gdfast._dense_rows cimport (
    DenseRows, dense_parts, dense_bounds, dense_part_size, dense_shared_size, dense_coef,
    dense_begin, dense_next_block, dense_z, dense_scatter, dense_hessian, dense_hessian_end,
    dense_squares)
from gdfast._csr_rows cimport (
    CsrRows, csr_parts, csr_bounds, csr_part_size, csr_shared_size, csr_coef, csr_begin,
    csr_next_block, csr_z, csr_z2, csr_scatter, csr_hessian, csr_hessian_end, csr_squares)

ctypedef fused Rows:
    DenseRows
    CsrRows

cdef enum:
    ACC_PAD = 8                     # per-part accumulators start on their own cache line
    MAX_THREADED_HESSIAN = 1024     # above this many parameters one part builds the Hessian


# ---------------------------------------------------------------------------------------------
# The row reader's functions
# ---------------------------------------------------------------------------------------------

cdef inline int rows_parts(const Rows* R, int nt) noexcept nogil:
    """How many parts a pass over R uses when nt threads are asked for (1 to nt)."""
    if Rows is DenseRows:
        return dense_parts(R, nt)
    else:
        return csr_parts(R, nt)


cdef inline void rows_bounds(const Rows* R, int nc, Py_ssize_t* bounds) noexcept nogil:
    """bounds[c] = the first row of part c, bounds[nc] = n."""
    if Rows is DenseRows:
        dense_bounds(R, nc, bounds)
    else:
        csr_bounds(R, nc, bounds)


cdef inline Py_ssize_t rows_part_size(const Rows* R, bint hess) noexcept nogil:
    """Doubles of the reader's own scratch per part (hess: the pass builds a Hessian)."""
    if Rows is DenseRows:
        return dense_part_size(R, hess)
    else:
        return csr_part_size(R, hess)


cdef inline Py_ssize_t rows_shared_size(const Rows* R) noexcept nogil:
    """Doubles of the reader's scratch shared by the parts (for rows_coef)."""
    if Rows is DenseRows:
        return dense_shared_size(R)
    else:
        return csr_shared_size(R)


cdef inline Coef rows_coef(const Rows* R, const double* v, double b, int slot,
                           double* shared) noexcept nogil:
    """v and the intercept b in the form the reader multiplies rows by; slot 0 or 1 (a pass
    multiplies by at most two vectors), in the shared scratch."""
    if Rows is DenseRows:
        return dense_coef(R, v, b, slot, shared)
    else:
        return csr_coef(R, v, b, slot, shared)


cdef inline void rows_begin(Rows* R, double* scratch, Py_ssize_t row0, int reads,
                            bint hess) noexcept nogil:
    """Start a part at row0, on the part's copy of the reader; reads: how often the pass reads
    each row."""
    if Rows is DenseRows:
        dense_begin(R, scratch, row0, reads, hess)
    else:
        csr_begin(R, scratch, row0, reads, hess)


cdef inline Py_ssize_t rows_next_block(Rows* R, Py_ssize_t i0, Py_ssize_t row1) noexcept nogil:
    """The rows of the block that starts at i0 (1 to min(BLOCK_ROWS, row1 - i0))."""
    if Rows is DenseRows:
        return dense_next_block(R, i0, row1)
    else:
        return csr_next_block(R, i0, row1)


cdef inline void rows_z(Rows* R, Py_ssize_t i0, Py_ssize_t m, const Coef* c,
                        double* z) noexcept nogil:
    """z[k] = Xa[i0 + k] . c for the m rows of the block."""
    if Rows is DenseRows:
        dense_z(R, i0, m, c, z)
    else:
        csr_z(R, i0, m, c, z)


cdef inline void rows_z2(Rows* R, Py_ssize_t i0, Py_ssize_t m, const Coef* a, double* za,
                         const Coef* c, double* zc) noexcept nogil:
    """za = Xa_block a and zc = Xa_block c."""
    if Rows is DenseRows:
        dense_z(R, i0, m, a, za)          # the block is in L1 for the second product
        dense_z(R, i0, m, c, zc)
    else:
        csr_z2(R, i0, m, a, za, c, zc)    # both products from one read of each row


cdef inline void rows_scatter(Rows* R, Py_ssize_t i0, Py_ssize_t m, const double* r,
                              double* acc) noexcept nogil:
    """acc[:D] += Xa_block^T r."""
    if Rows is DenseRows:
        dense_scatter(R, i0, m, r, acc)
    else:
        csr_scatter(R, i0, m, r, acc)


cdef inline void rows_hessian(Rows* R, Py_ssize_t i0, Py_ssize_t m, const double* h,
                              double* H) noexcept nogil:
    """H += Xa_block^T diag(h) Xa_block into the lower triangle of H (C order: H[j, k], j >= k),
    by the end of the part (rows_hessian_end)."""
    if Rows is DenseRows:
        dense_hessian(R, i0, m, h, H)
    else:
        csr_hessian(R, i0, m, h, H)


cdef inline void rows_hessian_end(Rows* R, double* H) noexcept nogil:
    if Rows is DenseRows:
        dense_hessian_end(R, H)
    else:
        csr_hessian_end(R, H)


cdef inline void rows_squares(Rows* R, Py_ssize_t i0, Py_ssize_t m, const double* hw,
                              double* acc) noexcept nogil:
    """acc[j] += sum_k hw[k] Xa[i0 + k, j]^2."""
    if Rows is DenseRows:
        dense_squares(R, i0, m, hw, acc)
    else:
        csr_squares(R, i0, m, hw, acc)


# ---------------------------------------------------------------------------------------------
# Parts and workspace
#
# The workspace, in doubles (one allocation per call, or per solver run): per part its block
# vectors z, r, h, t (BLOCK_ROWS each) and the reader's scratch; the parts' loss sums; the part
# bounds (nc + 1 integers); with more than one part, the accumulators of every part (D each,
# padded); the reader's shared scratch; and, for the Hessian, the private D x D matrices of parts
# 1..nc-1. The workspace starts on a cache line (_kernel.pxd allocates it so) and every region is
# a whole number of lines.
# ---------------------------------------------------------------------------------------------

cdef inline Py_ssize_t _pad(Py_ssize_t k) noexcept nogil:
    return ((k + ACC_PAD - 1) // ACC_PAD) * ACC_PAD


cdef inline int pass_parts(const Rows* R, int nt, bint hess) noexcept nogil:
    """The part count of a pass with nt threads: the workspace is sized for it, and the same
    count serves every pass of a kernel (so that cost and cost_grad sum alike). One part for a
    Hessian too large to keep a private copy per thread."""
    if hess and R.P.d + R.P.fit_intercept > MAX_THREADED_HESSIAN:
        return 1
    return rows_parts(R, nt if nt >= 1 else 1)


cdef inline Py_ssize_t _part_stride(const Rows* R, bint hess) noexcept nogil:
    return 4 * BLOCK_ROWS + _pad(rows_part_size(R, hess))


cdef inline Py_ssize_t pass_workspace(const Rows* R, int nc, bint hess) noexcept nogil:
    """Doubles of workspace a pass with nc parts needs (hess: one that builds the Hessian)."""
    cdef Py_ssize_t D = R.P.d + R.P.fit_intercept
    cdef Py_ssize_t size = (nc * _part_stride(R, hess) + _pad(nc) + _pad(nc + 1)
                            + (nc * _pad(D) if nc > 1 else 0) + _pad(rows_shared_size(R)))
    if hess:
        size += (nc - 1) * D * D
    return size


cdef struct Work:
    double* parts          # part c: z, r, h, t and the reader's scratch at parts + c * stride
    Py_ssize_t stride
    double* costs          # loss sum of each part
    Py_ssize_t* bounds     # first row of each part; bounds[nc] = n
    double* acc            # with nc > 1, part c accumulates at acc + c * _pad(D)
    double* shared         # the reader's shared scratch
    double* hess           # part c >= 1 accumulates its Hessian at hess + (c - 1) * D * D
    int nc


cdef inline Work _layout(const Rows* R, double* work, int nc, bint hess) noexcept nogil:
    cdef Work W
    cdef Py_ssize_t D = R.P.d + R.P.fit_intercept
    W.nc = nc
    W.stride = _part_stride(R, hess)
    W.parts = work
    W.costs = work + nc * W.stride
    W.bounds = <Py_ssize_t*>(W.costs + _pad(nc))
    W.acc = W.costs + _pad(nc) + _pad(nc + 1)
    W.shared = W.acc + (nc * _pad(D) if nc > 1 else 0)
    W.hess = W.shared + _pad(rows_shared_size(R))
    return W


# ---------------------------------------------------------------------------------------------
# The loop every pass shares
# ---------------------------------------------------------------------------------------------

cdef enum:
    # what a pass computes per block (Job.kind)
    JOB_COST = 0           # z at w, the loss; the gradient into acc and the Hessian into H if given
    JOB_HESSP = 1          # t = Xa v times a weight per row, into acc: Xa^T diag(c) Xa v
    JOB_LINEAR = 2         # out = Xa v
    JOB_TRANSPOSE = 3      # acc = Xa^T r
    JOB_SQUARES = 4        # acc = (Xa * Xa)^T r


cdef struct Job:
    int kind
    int reads              # how often the job reads each row
    Coef w                 # the point (JOB_COST, JOB_HESSP at w)
    Coef v                 # the vector (JOB_HESSP, JOB_LINEAR)
    bint at_w              # JOB_HESSP: weights s * loss''(z(w)); else per_row, or s if it is NULL
    const double* per_row  # r (JOB_TRANSPOSE, JOB_SQUARES) or the weights hw (JOB_HESSP)
    double* out            # JOB_LINEAR: the n outputs


cdef inline Job _job(int kind, int reads) noexcept nogil:
    cdef Job J
    memset(&J, 0, sizeof(Job))
    J.kind = kind
    J.reads = reads
    return J


cdef inline double _block_loss(const Rows* R, Py_ssize_t i0, Py_ssize_t m, double* z, double* r,
                               double* h) noexcept nogil:
    """rows_loss_param for rows i0 .. i0 + m - 1 at z = Xa_block w (z is overwritten with the
    losses). The problem's offset, when it has one, is added to z here: it belongs to the
    predictions at w only (a product Xa v of a direction v has none)."""
    cdef Py_ssize_t k
    cdef const double* off
    if R.P.offset != NULL:
        off = R.P.offset + i0
        for k in range(m):
            z[k] += off[k]
    return rows_loss_param(R.P.loss, R.P.loss_param, R.P.y + i0,
                           R.P.sw + i0 if R.P.sw != NULL else NULL, m, z, r, h)


cdef inline double _run_part(const Rows* rows, const Job* J, const Work* W, int c, double* acc,
                             double* H) noexcept nogil:
    """Part c of the job, block by block, on the part's own copy of the reader. acc (D doubles)
    and H (D x D) receive the part's sums unless NULL. Returns its loss sum."""
    cdef Rows R = rows[0]
    cdef double* z = W.parts + c * W.stride
    cdef double* r = z + BLOCK_ROWS
    cdef double* h = r + BLOCK_ROWS
    cdef double* t = h + BLOCK_ROWS
    cdef Py_ssize_t i0 = W.bounds[c], row1 = W.bounds[c + 1], m, k
    cdef const double* weight
    cdef double cost = 0
    if acc != NULL:
        memset(acc, 0, (R.P.d + R.P.fit_intercept) * sizeof(double))
    rows_begin(&R, t + BLOCK_ROWS, i0, J.reads, H != NULL)
    while i0 < row1:
        m = rows_next_block(&R, i0, row1)
        if J.kind == JOB_COST:
            rows_z(&R, i0, m, &J.w, z)
            cost += _block_loss(&R, i0, m, z, r, h)
            if acc != NULL:
                rows_scatter(&R, i0, m, r, acc)
            if H != NULL:
                rows_hessian(&R, i0, m, h, H)
        elif J.kind == JOB_HESSP:
            if J.at_w:
                rows_z2(&R, i0, m, &J.v, t, &J.w, z)
                cost += _block_loss(&R, i0, m, z, r, h)
                weight = h
            else:
                rows_z(&R, i0, m, &J.v, t)
                weight = J.per_row if J.per_row != NULL else R.P.sw
                if weight != NULL:
                    weight = weight + i0
            if weight != NULL:
                for k in range(m):
                    t[k] *= weight[k]
            rows_scatter(&R, i0, m, t, acc)
        elif J.kind == JOB_LINEAR:
            rows_z(&R, i0, m, &J.v, J.out + i0)
        elif J.kind == JOB_TRANSPOSE:
            rows_scatter(&R, i0, m, J.per_row + i0, acc)
        else:
            rows_squares(&R, i0, m, J.per_row + i0, acc)
        i0 += m
    if H != NULL:
        rows_hessian_end(&R, H)
    return cost


cdef inline double* _acc_of(const Work* W, double* dest, int c, Py_ssize_t D) noexcept nogil:
    """Where part c accumulates: the caller's output for a one-part pass, the workspace
    otherwise."""
    if dest == NULL:
        return NULL
    return dest if W.nc == 1 else W.acc + c * _pad(D)


cdef inline double* _hess_of(const Work* W, double* H, int c, Py_ssize_t D) noexcept nogil:
    if H == NULL:
        return NULL
    return H if c == 0 else W.hess + (c - 1) * D * D


cdef inline double _run(const Rows* R, const Job* J, const Work* W, double* dest,
                        double* H) noexcept nogil:
    """The job over every part, one per thread; dest (D doubles) and H (D x D) get the sums of
    the parts in part order unless NULL. Returns the loss sum."""
    cdef Py_ssize_t D = R.P.d + R.P.fit_intercept, j
    cdef int c, nc = W.nc
    cdef double cost = 0
    cdef const double* a
    rows_bounds(R, nc, W.bounds)
    if H != NULL:
        memset(H, 0, D * D * sizeof(double))
        if nc > 1:
            memset(W.hess, 0, (nc - 1) * D * D * sizeof(double))
    if nc == 1:             # no parallel region to open
        W.costs[0] = _run_part(R, J, W, 0, dest, H)
    else:
        for c in prange(nc, schedule='static', num_threads=nc):
            W.costs[c] = _run_part(R, J, W, c, _acc_of(W, dest, c, D), _hess_of(W, H, c, D))
    # Serial on purpose: (nc - 1) * D additions are small next to the pass (rows_parts sees to
    # it), and a second parallel region would be a second chance to wait for a thread that a
    # busy machine has descheduled.
    for c in range(nc):
        cost += W.costs[c]
    if dest != NULL and nc > 1:
        memcpy(dest, W.acc, D * sizeof(double))
    for c in range(1, nc):
        if dest != NULL:
            a = W.acc + c * _pad(D)
            for j in range(D):
                dest[j] += a[j]
        if H != NULL:
            a = W.hess + (c - 1) * D * D
            for j in range(D * D):
                H[j] += a[j]
    return cost


# ---------------------------------------------------------------------------------------------
# The passes. Each takes nc = pass_parts(...) and work = pass_workspace(..., nc, ...) doubles.
# Outputs must not overlap the inputs (a one-part pass accumulates into them as it goes).
# ---------------------------------------------------------------------------------------------

cdef inline double cost_grad_pass(const Rows* R, const double* w, double* grad, double* H,
                                  int nc, double* work) noexcept nogil:
    """Cost at w; the gradient into grad and the Hessian into H (D x D) unless they are NULL."""
    cdef Py_ssize_t d = R.P.d, D = R.P.d + R.P.fit_intercept, j, k
    cdef Work W = _layout(R, work, nc, H != NULL)
    cdef Job J = _job(JOB_COST, 2 if grad != NULL else 1)
    cdef double cost
    J.w = rows_coef(R, w, w[d] if R.P.fit_intercept else 0.0, 0, W.shared)
    cost = _run(R, &J, &W, grad, H) * R.P.scale + R.P.cost_offset
    if grad != NULL:
        for j in range(D):
            grad[j] *= R.P.scale
    if H != NULL:
        # the lower triangle (C order) holds the sums: scale it and mirror it
        for j in range(D):
            for k in range(j + 1):
                H[j * D + k] *= R.P.scale
                H[k * D + j] = H[j * D + k]
    return cost + add_penalty(R.P.alpha, d, D, w, grad, H)


cdef inline double hessp_pass(const Rows* R, const double* w, const double* hw, const double* v,
                              double* out, bint gram, int nc, double* work) noexcept nogil:
    """out = Xa^T diag(c) Xa v, without forming the matrix, for one of three weightings c:

    - hw given: c = hw (precomputed Hessian weights, already including s); no penalty, no scale;
    - gram: c = s (Xa^T S Xa, whose largest eigenvalue bounds the curvature of every loss);
    - otherwise c = s * loss''(z(w)), plus the penalty: the Hessian at w times v.

    Returns the cost at w in the last case (the pass computes every row's loss anyway, and the
    caller checks it: an overflow of z that leaves h = 0 would not show in out), else 0.
    """
    cdef Py_ssize_t d = R.P.d, D = R.P.d + R.P.fit_intercept, j
    cdef Work W = _layout(R, work, nc, False)
    cdef Job J = _job(JOB_HESSP, 3 if hw == NULL and not gram else 2)
    cdef double cost
    J.at_w = hw == NULL and not gram
    J.per_row = hw
    J.v = rows_coef(R, v, v[d] if R.P.fit_intercept else 0.0, 1, W.shared)
    if J.at_w:
        J.w = rows_coef(R, w, w[d] if R.P.fit_intercept else 0.0, 0, W.shared)
    cost = _run(R, &J, &W, out, NULL)
    if hw == NULL:
        for j in range(D):
            out[j] *= R.P.scale
    if not J.at_w:
        return 0.0
    add_penalty(R.P.alpha, d, D, v, out, NULL)
    return cost * R.P.scale + R.P.cost_offset + add_penalty(R.P.alpha, d, D, w, NULL, NULL)


cdef inline void linear_pass(const Rows* R, const double* v, double* out, int nc,
                             double* work) noexcept nogil:
    """out = Xa v (length n)."""
    cdef Work W = _layout(R, work, nc, False)
    cdef Job J = _job(JOB_LINEAR, 1)
    J.v = rows_coef(R, v, v[R.P.d] if R.P.fit_intercept else 0.0, 1, W.shared)
    J.out = out
    _run(R, &J, &W, NULL, NULL)


cdef inline void transpose_pass(const Rows* R, const double* r, double* out, bint squares,
                                int nc, double* work) noexcept nogil:
    """out = Xa^T r (length D), unscaled; with squares, out = diag(Xa^T diag(r) Xa)."""
    cdef Work W = _layout(R, work, nc, False)
    cdef Job J = _job(JOB_SQUARES if squares else JOB_TRANSPOSE, 1)
    J.per_row = r
    _run(R, &J, &W, out, NULL)
