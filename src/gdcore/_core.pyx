# The compiled passes of gdfast: one pass over the rows of X computes the cost, the gradient and,
# when asked, the Hessian of a linear model's cost, without any n-by-d temporary. The per-block
# math lives in gdfast/kernels.pxd (public, so that other packages can cimport it) and the
# per-sample losses in gdfast/_loss.pxd; this module adds the loops over blocks, the threads and
# the Python-facing Kernel object.
#
# Rows are processed in blocks of BLOCK rows so that the block is still in cache when the gradient
# is accumulated. Threads: OpenMP over blocks with a static schedule and per-thread accumulators
# summed in thread order, so a given thread count always gives the same bits.

from cython.parallel cimport prange, parallel, threadid
from libc.math cimport INFINITY, fabs, fmax, sqrt, isfinite
from libc.string cimport memset, memcpy

from gdfast._descent cimport descent_loop, check_descent_buffers
from gdfast._loss cimport exp_nonpos, log1p_unit, loss_terms as one_loss_terms, n_losses, loss_name
from gdfast.kernels cimport (
    floating, Problem, Prefetch, dot_mixed, block_linear, block_transpose_add, block_loss,
    block_square_add, hessian_rows, syrk_rows, GRAM_MAX_D, gram_available, loss_at, add_penalty)

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

cdef extern from *:
    """
    #include <string.h>
    static int gd_cpu_supports(const char *isa) {
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        if (!strcmp(isa, "avx2")) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        if (!strcmp(isa, "avx512")) return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
                                        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
    #endif
        return !strcmp(isa, "baseline");
    }
    """
    int gd_cpu_supports(const char* isa) noexcept nogil

DEF BLOCK = 256            # the most rows per block (the scratch vectors hold BLOCK doubles)
DEF L1_BLOCK_BYTES = 24576  # a block's rows fit in half of L1: the gradient re-reads them from L1
DEF PREFETCH_LEAD = 32768   # bytes between a block's first row and the prefetch cursor
DEF HESS_BATCH_BYTES = 65536   # the register-tiled Hessian's batch of scaled rows
DEF ACC_PAD = 8            # per-thread accumulators start on their own cache line
DEF MIN_BLOCKS_PER_THREAD = 8
DEF MAX_THREADED_HESSIAN = 1024   # above this many parameters the Hessian is built by one thread

def loss_codes():
    """The compiled losses, {name: code}, from the one list in gdfast/_loss.pxd."""
    return {loss_name(c).decode(): c for c in range(n_losses())}

def cpu_supports(str isa):
    """True when this CPU (and its OS) can run the kernels built for isa: baseline, avx2, avx512."""
    cdef bytes name = isa.encode()
    return bool(gd_cpu_supports(name))


def has_openmp():
    """True when the kernels were compiled with OpenMP."""
    return bool(gd_has_openmp())


def max_threads():
    """The thread count OpenMP would use now (follows OMP_NUM_THREADS and threadpoolctl)."""
    return gd_max_threads()


def loss_terms(int loss, double z, double y):
    """(loss, d loss/dz, d2 loss/dz2) of one sample: the per-sample math, for tests and users."""
    cdef double r, h, l
    l = one_loss_terms(loss, z, y, &r, &h)
    return l, r, h


def elementary_functions(const double[::1] x, double[::1] exp_out, double[::1] log1p_out):
    """exp_out = exp(-|x|) and log1p_out = log1p(exp(-|x|)) by the kernels' own exp and log1p."""
    cdef Py_ssize_t i
    cdef double e, u
    for i in range(x.shape[0]):
        e = exp_nonpos(-fabs(x[i]))
        u = 1.0 + e
        exp_out[i] = e
        log1p_out[i] = log1p_unit(e, u, 1.0 / u)


cdef double _stream_part(const double* x, Py_ssize_t n) noexcept nogil:
    # sixteen partial sums: two vectors of independent chains, so the loop is bound by memory,
    # not by the latency of the additions
    cdef double acc[16]
    cdef Py_ssize_t j = 0, l
    for l in range(16):
        acc[l] = 0
    while j + 16 <= n:
        for l in range(16):
            acc[l] += x[j + l]
        j += 16
    while j < n:
        acc[0] += x[j]
        j += 1
    for l in range(8):
        acc[l] += acc[l + 8]
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))


def stream_sum(const double[::1] a, n_threads=None):
    """sum(a), reading a once as a stream: the benchmark's read-bandwidth probe, which the
    kernels' reads of X are measured against.

    The threads take 1 MiB chunks as they go (a thread that starts late, as an idle virtual CPU
    does, is not waited for), and the chunks' sums are added in chunk order: the same bits on
    any thread count.
    """
    cdef Py_ssize_t n = a.shape[0], chunk = 131072, nchunks = (n + chunk - 1) // chunk, c, lo
    cdef int nt = max(1, gd_max_threads() if n_threads is None else <int>n_threads)
    cdef double[::1] part = np.zeros(max(nchunks, 1))
    cdef double total = 0
    if n == 0:
        return 0.0
    for c in prange(nchunks, nogil=True, schedule='dynamic', num_threads=nt):
        lo = c * chunk
        part[c] = _stream_part(&a[0] + lo, min(chunk, n - lo))
    for c in range(nchunks):
        total += part[c]
    return total


# ---------------------------------------------------------------------------------------------
# Whole passes over X
#
# Workspace layout, in doubles (one allocation per call, or per solver run):
#   per thread:  accumulators (D + 1, padded) | z, r, h, t (BLOCK each) | float gradient (d floats)
#   shared:      coef and v as float32 (d floats each)
#   Hessian:     (nt - 1) private D x D Hessians | per thread a row buffer (hess_rows x D)
# ---------------------------------------------------------------------------------------------

cdef inline Py_ssize_t _pad(Py_ssize_t k) noexcept nogil:
    return ((k + ACC_PAD - 1) // ACC_PAD) * ACC_PAD


cdef inline Py_ssize_t _floats(Py_ssize_t d) noexcept nogil:
    return _pad((d + 1) // 2)           # doubles that hold d floats


cdef inline Py_ssize_t _thread_size(Py_ssize_t d, Py_ssize_t D) noexcept nogil:
    return _pad(D + 1) + 4 * BLOCK + _floats(d)


cdef inline Py_ssize_t _hess_rows(Py_ssize_t D) noexcept nogil:
    # Rows of the scaled-row buffer handed to syrk_rows at once. The register-tiled loop sweeps
    # the batch once per tile, so it wants the batch in L1/L2 (64 KiB measured best here at
    # D = 20 and 100); BLAS wants ~1 MiB to run near its peak.
    cdef Py_ssize_t rows
    if D <= GRAM_MAX_D and gram_available():
        rows = (HESS_BATCH_BYTES // 8) // D
        return rows if rows >= 16 else 16
    rows = ((1 << 17) // D // BLOCK) * BLOCK
    return rows if rows >= BLOCK else BLOCK


cdef Py_ssize_t _workspace_size(Py_ssize_t d, Py_ssize_t D, int nt, bint hess=False) noexcept nogil:
    cdef Py_ssize_t size = nt * _thread_size(d, D) + 2 * _floats(d)
    if hess:                # per thread a row buffer; per thread but the first a Hessian
        size += nt * max(_hess_rows(D), BLOCK) * D + (nt - 1) * D * D
    return size


cdef struct Scratch:
    double* acc
    double* z
    double* r
    double* h
    double* t
    float* gf


cdef inline Scratch _scratch(double* work, Py_ssize_t d, Py_ssize_t D, int t) noexcept nogil:
    cdef Scratch s
    s.acc = work + t * _thread_size(d, D)
    s.z = s.acc + _pad(D + 1)
    s.r = s.z + BLOCK
    s.h = s.r + BLOCK
    s.t = s.h + BLOCK
    s.gf = <float*>(s.t + BLOCK)
    return s


cdef inline float* _float_copy(double* work, Py_ssize_t d, Py_ssize_t D, int nt, int which,
                               const double* v) noexcept nogil:
    cdef float* out = <float*>(work + nt * _thread_size(d, D) + which * _floats(d))
    cdef Py_ssize_t j
    for j in range(d):
        out[j] = <float>v[j]
    return out


cdef inline bint _float_safe(const Problem* P, const double* v) noexcept nogil:
    """True when x . v summed in float32 can neither overflow nor lose a coefficient to underflow."""
    cdef double total = 0
    cdef Py_ssize_t j
    for j in range(P.d):
        total += fabs(v[j])
        if v[j] != 0 and fabs(v[j]) < 1e-25:
            return False
    return total * P.xmax < 1e30


cdef inline Py_ssize_t _block_rows(const Problem* P) noexcept nogil:
    """Rows per block: L1_BLOCK_BYTES of rows on the C path (a multiple of 4, 16 to BLOCK)."""
    cdef Py_ssize_t rows
    if P.cs != 1:
        return BLOCK
    rows = L1_BLOCK_BYTES // (P.d * (4 if P.f32 else 8))
    rows -= rows % 4
    return max(16, min(BLOCK, rows))


cdef inline Prefetch _prefetch(const floating* X, const Problem* P, int reads) noexcept nogil:
    """A prefetch cursor for a pass that reads each row `reads` times; a no-op unless the rows
    are contiguous (on strided rows it would fetch the gaps too)."""
    cdef Prefetch pf
    pf.next = <const char*>X
    pf.end = <const char*>(X + P.n * P.rs)
    pf.step = 0
    if P.cs == 1 and P.rs == P.d:
        pf.step = (4 * P.d * <Py_ssize_t>sizeof(floating)) // reads
    return pf


cdef inline void _prefetch_at(Prefetch* pf, const floating* X, const Problem* P,
                              Py_ssize_t i0) noexcept nogil:
    """Keep the cursor at least PREFETCH_LEAD bytes ahead of row i0 (a thread's first block,
    or after a block that was not a multiple of four rows)."""
    cdef const char* at = <const char*>(X + i0 * P.rs) + PREFETCH_LEAD
    if pf.next < at:
        pf.next = at


cdef inline int _clamp_threads(int nt, Py_ssize_t nblocks) noexcept nogil:
    # Waking a thread costs microseconds: below MIN_BLOCKS_PER_THREAD blocks (of BLOCK rows) per
    # thread it is not worth it (a 1000 x 10 gradient takes a few microseconds on one core).
    cdef Py_ssize_t most = nblocks // MIN_BLOCKS_PER_THREAD
    if nt > most:
        nt = <int>most
    return nt if nt >= 1 else 1


cdef double* _reduce(double* work, Py_ssize_t d, Py_ssize_t D, int nt, Py_ssize_t count) noexcept nogil:
    """Add every thread's accumulators into thread 0's, in thread order; return them."""
    cdef Py_ssize_t j
    cdef int t
    cdef double* acc0 = work
    cdef double* acc
    for t in range(1, nt):
        acc = work + t * _thread_size(d, D)
        for j in range(count):
            acc0[j] += acc[j]
    return acc0


cdef double _pass(const floating* X, const Problem* P, const double* w, double* grad,
                  double* H, int nt, double* work) noexcept nogil:
    """Cost at w; the gradient into grad and the Hessian into H (D x D) unless they are NULL.

    One pass over X. work holds _workspace_size(d, D, nt) doubles.
    """
    cdef Py_ssize_t d = P.d, D = P.d + P.fit_intercept
    cdef Py_ssize_t bm = _block_rows(P)
    cdef Py_ssize_t nblocks = (P.n + bm - 1) // bm
    cdef Py_ssize_t blk, i0, m, j, k, pending = 0
    cdef Py_ssize_t hrows = _hess_rows(D)
    cdef Prefetch pf
    cdef double b = w[d] if P.fit_intercept else 0.0
    cdef double cost = 0
    cdef double* hbuf
    cdef double* hbase
    cdef double* Ht
    cdef float* coef_f = NULL
    cdef Scratch s
    cdef int t
    if H != NULL and D > MAX_THREADED_HESSIAN:
        nt = 1              # a private D x D Hessian per thread would cost too much memory
    nt = _clamp_threads(nt, (P.n + BLOCK - 1) // BLOCK)
    # per-thread accumulators hold D gradient entries and the loss sum at [D]
    for t in range(nt):
        memset(work + t * _thread_size(d, D), 0, (D + 1) * sizeof(double))
    if floating is float:
        if _float_safe(P, w):
            coef_f = _float_copy(work, d, D, nt, 0, w)
    if H != NULL:
        # Each thread takes a contiguous range of blocks, gathers sqrt(h)-scaled rows into its own
        # buffer and hands them to syrk in batches of hrows rows, accumulating into its own
        # Hessian (thread 0 into H itself). The thread Hessians are added in thread order.
        hbase = work + nt * _thread_size(d, D) + 2 * _floats(d)
        memset(H, 0, D * D * sizeof(double))
        if nt > 1:
            memset(hbase, 0, (nt - 1) * D * D * sizeof(double))
        with parallel(num_threads=nt):
            t = threadid()
            s = _scratch(work, d, D, t)
            Ht = H if t == 0 else hbase + (t - 1) * D * D
            hbuf = hbase + (nt - 1) * D * D + t * max(hrows, BLOCK) * D
            pending = 0
            pf = _prefetch(X, P, 2 if grad != NULL else 1)
            for blk in range(nblocks * t // nt, nblocks * (t + 1) // nt):
                i0 = blk * bm
                m = min(bm, P.n - i0)
                _prefetch_at(&pf, X, P, i0)
                block_linear(X, P, i0, m, w, coef_f, b, s.z, &pf)
                s.acc[D] += block_loss(P, i0, m, s.z, s.r, s.h)
                if grad != NULL:
                    block_transpose_add(X, P, i0, m, s.r, s.acc, s.gf, &pf)
                hessian_rows(X, P, i0, m, s.h, hbuf + pending * D)
                pending = pending + m
                if pending + bm > hrows:
                    syrk_rows(hbuf, pending, D, Ht)
                    pending = 0
            syrk_rows(hbuf, pending, D, Ht)
        for t in range(1, nt):
            Ht = hbase + (t - 1) * D * D
            for j in range(D * D):
                H[j] += Ht[j]
    else:
        with parallel(num_threads=nt):
            s = _scratch(work, d, D, threadid())
            pf = _prefetch(X, P, 2 if grad != NULL else 1)
            for blk in prange(nblocks, schedule='static'):
                i0 = blk * bm
                m = min(bm, P.n - i0)
                _prefetch_at(&pf, X, P, i0)
                block_linear(X, P, i0, m, w, coef_f, b, s.z, &pf)
                s.acc[D] += block_loss(P, i0, m, s.z, s.r, s.h)
                if grad != NULL:
                    block_transpose_add(X, P, i0, m, s.r, s.acc, s.gf, &pf)

    # The loss sums sit at [D]; reduce D + 1 entries in thread order (fixed per thread count).
    cdef double* total = _reduce(work, d, D, nt, D + 1)
    cost = total[D] * P.scale + P.cost_offset
    if grad != NULL:
        for j in range(D):
            grad[j] = total[j] * P.scale
    if H != NULL:
        # syrk filled the upper triangle of the column-major H, i.e. H[j, k] for j >= k in C order
        for j in range(D):
            for k in range(j + 1):
                H[j * D + k] *= P.scale
                H[k * D + j] = H[j * D + k]
    return cost + add_penalty(P.alpha, d, D, w, grad, H)


cdef double _hessp_pass(const floating* X, const Problem* P, const double* w, const double* hw,
                        const double* v, double* out, bint gram, int nt, double* work) noexcept nogil:
    """out = Xa^T diag(c) Xa v, without forming the matrix, for one of three weightings c:

    - hw given: c = hw (precomputed Hessian weights, already including s); no penalty, no scale;
    - gram: c = s (Xa^T S Xa, whose largest eigenvalue bounds the curvature of both losses);
    - otherwise c = s * loss''(z(w)), plus the penalty: the Hessian at w times v.

    Returns the cost at w in the last case (the pass computes every row's loss anyway, and the
    caller checks it: an overflow of z that leaves h = 0 would not show in out), else 0.
    """
    cdef Py_ssize_t d = P.d, D = P.d + P.fit_intercept
    cdef Py_ssize_t bm = _block_rows(P)
    cdef Py_ssize_t nblocks = (P.n + bm - 1) // bm
    cdef Py_ssize_t blk, i0, m, j, k
    cdef bint at_w = hw == NULL and not gram
    cdef Prefetch pf
    cdef double b = w[d] if (at_w and P.fit_intercept) else 0.0
    cdef double vb = v[d] if P.fit_intercept else 0.0
    cdef float* w_f = NULL
    cdef float* v_f = NULL
    cdef Scratch s
    cdef int t
    nt = _clamp_threads(nt, (P.n + BLOCK - 1) // BLOCK)
    for t in range(nt):
        memset(work + t * _thread_size(d, D), 0, (D + 1) * sizeof(double))
    if floating is float:
        if _float_safe(P, v):
            v_f = _float_copy(work, d, D, nt, 1, v)
        if at_w and _float_safe(P, w):
            w_f = _float_copy(work, d, D, nt, 0, w)
    with parallel(num_threads=nt):
        s = _scratch(work, d, D, threadid())
        pf = _prefetch(X, P, 3 if at_w else 2)
        for blk in prange(nblocks, schedule='static'):
            i0 = blk * bm
            m = min(bm, P.n - i0)
            _prefetch_at(&pf, X, P, i0)
            block_linear(X, P, i0, m, v, v_f, vb, s.t, &pf)     # t = Xa v
            if hw != NULL:
                for k in range(m):
                    s.t[k] *= hw[i0 + k]
            elif gram:
                if P.sw != NULL:
                    for k in range(m):
                        s.t[k] *= P.sw[i0 + k]
            else:
                block_linear(X, P, i0, m, w, w_f, b, s.z, &pf)
                s.acc[D] += block_loss(P, i0, m, s.z, s.r, s.h)
                for k in range(m):
                    s.t[k] *= s.h[k]
            block_transpose_add(X, P, i0, m, s.t, s.acc, s.gf, &pf)
    cdef double* total = _reduce(work, d, D, nt, D + 1)
    for j in range(D):
        out[j] = total[j]
    if hw == NULL:
        for j in range(D):
            out[j] *= P.scale
    if not at_w:
        return 0.0
    add_penalty(P.alpha, d, D, v, out, NULL)
    return total[D] * P.scale + P.cost_offset + add_penalty(P.alpha, d, D, w, NULL, NULL)


cdef void _linear_pass(const floating* X, const Problem* P, const double* v, double* out,
                       int nt, double* work) noexcept nogil:
    """out = Xa v (length n)."""
    cdef Py_ssize_t bm = _block_rows(P)
    cdef Py_ssize_t nblocks = (P.n + bm - 1) // bm
    cdef Py_ssize_t blk, i0, m
    cdef double vb = v[P.d] if P.fit_intercept else 0.0
    cdef float* v_f = NULL
    cdef Prefetch pf
    nt = _clamp_threads(nt, (P.n + BLOCK - 1) // BLOCK)
    if floating is float:
        if _float_safe(P, v):
            v_f = _float_copy(work, P.d, P.d + P.fit_intercept, nt, 1, v)
    with parallel(num_threads=nt):
        pf = _prefetch(X, P, 1)
        for blk in prange(nblocks, schedule='static'):
            i0 = blk * bm
            m = min(bm, P.n - i0)
            _prefetch_at(&pf, X, P, i0)
            block_linear(X, P, i0, m, v, v_f, vb, out + i0, &pf)


cdef void _transpose_pass(const floating* X, const Problem* P, const double* r, double* out,
                          int nt, double* work) noexcept nogil:
    """out = Xa^T r (length D), unscaled."""
    cdef Py_ssize_t d = P.d, D = P.d + P.fit_intercept
    cdef Py_ssize_t bm = _block_rows(P)
    cdef Py_ssize_t nblocks = (P.n + bm - 1) // bm
    cdef Py_ssize_t blk, i0, m
    cdef Scratch s
    cdef Prefetch pf
    cdef int t
    nt = _clamp_threads(nt, (P.n + BLOCK - 1) // BLOCK)
    for t in range(nt):
        memset(work + t * _thread_size(d, D), 0, (D + 1) * sizeof(double))
    with parallel(num_threads=nt):
        s = _scratch(work, d, D, threadid())
        pf = _prefetch(X, P, 1)
        for blk in prange(nblocks, schedule='static'):
            i0 = blk * bm
            m = min(bm, P.n - i0)
            _prefetch_at(&pf, X, P, i0)
            block_transpose_add(X, P, i0, m, r + i0, s.acc, s.gf, &pf)
    cdef double* total = _reduce(work, d, D, nt, D)
    for j in range(D):
        out[j] = total[j]


cdef inline double _cost_grad(const Problem* P, const double* w, double* grad, double* H,
                              int nt, double* work) noexcept nogil:
    if P.f32:
        return _pass(<const float*>P.X, P, w, grad, H, nt, work)
    return _pass(<const double*>P.X, P, w, grad, H, nt, work)


# ---------------------------------------------------------------------------------------------
# The Python-facing kernel object
# ---------------------------------------------------------------------------------------------

cdef int _expect(Py_ssize_t got, Py_ssize_t want, str name) except -1:
    """The kernels write through raw pointers: refuse a buffer of the wrong length."""
    if got != want:
        raise ValueError(f"{name} has {got} elements, expected {want}")
    return 0


cdef class Kernel:
    """Validated data of one objective, ready for the compiled passes.

    The Python layer (gdfast.Objective) validates and converts the inputs; Kernel only keeps
    references to them (so they stay alive) and the raw pointers the passes read.
    """
    cdef Problem P
    cdef object _keep
    cdef readonly Py_ssize_t n_params

    def __cinit__(self, X, const double[::1] y, sample_weight, double scale, int loss,
                  bint fit_intercept, double alpha, double cost_offset=0.0):
        if not 0 <= loss < n_losses():
            raise ValueError(f"loss must be a compiled loss code (gdfast._core.loss_codes()); got {loss}")
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
        self.P.cost_offset = cost_offset
        self.P.xmax = max(float(X.max()), -float(X.min())) if self.P.f32 else 0.0
        self.n_params = self.P.d + (1 if fit_intercept else 0)
        self._keep = (X, y, sample_weight)

    cdef int _threads(self, n_threads) except -1:
        if n_threads is None:
            return max(1, gd_max_threads())
        return max(1, <int>n_threads)

    def cost_grad(self, const double[::1] w, double[::1] grad=None, double[:, ::1] hess=None,
                  n_threads=None):
        """Cost at w; fills grad (len D) and hess (D x D) when given. Releases the GIL."""
        _expect(w.shape[0], self.n_params, 'w')
        if grad is not None:
            _expect(grad.shape[0], self.n_params, 'grad')
        if hess is not None:
            _expect(hess.shape[0] * hess.shape[1], self.n_params ** 2, 'hess')
        cdef int nt = self._threads(n_threads)
        cdef Py_ssize_t D = self.n_params
        cdef double[::1] work = np.empty(_workspace_size(self.P.d, D, nt, hess is not None),
                                         dtype=np.float64)
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
        """out = Hessian(w) @ v (or Xa^T S Xa v with gram=True), without forming the Hessian.

        Returns the cost at w (0.0 with gram=True), from the same pass."""
        _expect(w.shape[0], self.n_params, 'w')
        _expect(v.shape[0], self.n_params, 'v')
        _expect(out.shape[0], self.n_params, 'out')
        cdef int nt = self._threads(n_threads)
        cdef double[::1] work = np.empty(_workspace_size(self.P.d, self.n_params, nt), dtype=np.float64)
        cdef double cost
        with nogil:
            if self.P.f32:
                cost = _hessp_pass(<const float*>self.P.X, &self.P, &w[0], NULL, &v[0], &out[0], gram, nt, &work[0])
            else:
                cost = _hessp_pass(<const double*>self.P.X, &self.P, &w[0], NULL, &v[0], &out[0], gram, nt, &work[0])
        return cost

    def hessp_weighted(self, const double[::1] hw, const double[::1] v, double[::1] out,
                       n_threads=None):
        """out = Xa^T diag(hw) Xa v for precomputed weights hw (no penalty, no scaling)."""
        _expect(hw.shape[0], self.P.n, 'hw')
        _expect(v.shape[0], self.n_params, 'v')
        _expect(out.shape[0], self.n_params, 'out')
        cdef int nt = self._threads(n_threads)
        cdef double[::1] work = np.empty(_workspace_size(self.P.d, self.n_params, nt), dtype=np.float64)
        with nogil:
            if self.P.f32:
                _hessp_pass(<const float*>self.P.X, &self.P, NULL, &hw[0], &v[0], &out[0], False, nt, &work[0])
            else:
                _hessp_pass(<const double*>self.P.X, &self.P, NULL, &hw[0], &v[0], &out[0], False, nt, &work[0])

    def linear(self, const double[::1] v, double[::1] out, n_threads=None):
        """out = Xa v: the raw predictions z for parameters v (length n)."""
        _expect(v.shape[0], self.n_params, 'v')
        _expect(out.shape[0], self.P.n, 'out')
        cdef int nt = self._threads(n_threads)
        cdef double[::1] work = np.empty(_workspace_size(self.P.d, self.n_params, nt), dtype=np.float64)
        with nogil:
            if self.P.f32:
                _linear_pass(<const float*>self.P.X, &self.P, &v[0], &out[0], nt, &work[0])
            else:
                _linear_pass(<const double*>self.P.X, &self.P, &v[0], &out[0], nt, &work[0])

    def transpose(self, const double[::1] r, double[::1] out, n_threads=None):
        """out = Xa^T r (length D), unscaled."""
        _expect(r.shape[0], self.P.n, 'r')
        _expect(out.shape[0], self.n_params, 'out')
        cdef int nt = self._threads(n_threads)
        cdef double[::1] work = np.empty(_workspace_size(self.P.d, self.n_params, nt), dtype=np.float64)
        with nogil:
            if self.P.f32:
                _transpose_pass(<const float*>self.P.X, &self.P, &r[0], &out[0], nt, &work[0])
            else:
                _transpose_pass(<const double*>self.P.X, &self.P, &r[0], &out[0], nt, &work[0])

    def diag_weighted(self, const double[::1] hw, double[::1] out, n_threads=None):
        """out = diag(Xa^T diag(hw) Xa); see the module-level diag_weighted."""
        diag_weighted(self, hw, out, n_threads)

    def descent_run(self, int mode, double[::1] w, double[::1] aux, double lr,
                    Py_ssize_t max_steps, double[::1] cost_hist, double[::1] gnorm_hist,
                    double[::1] step_hist, Py_ssize_t it0, double[::1] state, double[::1] best_w,
                    double tol, bint final, n_threads=None):
        """The gradient-descent loops without the GIL; see the module-level descent_run."""
        return descent_run(self, mode, w, aux, lr, max_steps, cost_hist, gnorm_hist, step_hist,
                           it0, state, best_w, tol, final, n_threads)

    def loss_from_z(self, const double[::1] z, double[::1] r=None, double[::1] h=None):
        """Mean weighted loss at predictions z (no penalty); r and h get s * loss' and s * loss''.

        O(n) and no pass over X: with z = linear(w) and zd = linear(d) cached, a line search
        evaluates loss_from_z(z + t * zd) at any step t for the price of a vector operation.
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



# ---------------------------------------------------------------------------------------------
# Solver support (issue 3): the diagonal of a weighted Gram matrix, and nogil loops for gradient
# descent with a backtracking line search and for Nesterov's accelerated gradient. Module-level
# functions over a Kernel, so that the class above stays as it is.
# ---------------------------------------------------------------------------------------------

cdef void _diag_pass(const floating* X, const Problem* P, const double* hw, double* out, int nt,
                     double* work) noexcept nogil:
    """out = diag(Xa^T diag(hw) Xa) (length D), unscaled; per-thread sums in thread order."""
    cdef Py_ssize_t d = P.d, D = P.d + P.fit_intercept
    cdef Py_ssize_t nblocks = (P.n + BLOCK - 1) // BLOCK
    cdef Py_ssize_t blk, i0, m, j
    cdef Scratch s
    cdef int t
    nt = _clamp_threads(nt, nblocks)
    for t in range(nt):
        memset(work + t * _thread_size(d, D), 0, (D + 1) * sizeof(double))
    with parallel(num_threads=nt):
        s = _scratch(work, d, D, threadid())
        for blk in prange(nblocks, schedule='static'):
            i0 = blk * BLOCK
            m = min(BLOCK, P.n - i0)
            block_square_add(X, P, i0, m, hw + i0, s.acc)
    cdef double* total = _reduce(work, d, D, nt, D)
    for j in range(D):
        out[j] = total[j]


def diag_weighted(Kernel kernel, const double[::1] hw, double[::1] out, n_threads=None):
    """out = diag(Xa^T diag(hw) Xa), i.e. out[j] = sum_i hw[i] Xa[i, j]^2 (no penalty, unscaled).

    With hw = s * loss''(z) this is the diagonal of the Hessian without the penalty (the Jacobi
    preconditioner of Newton-CG); with hw = s it is the mean square of each column.
    """
    _expect(hw.shape[0], kernel.P.n, 'hw')
    _expect(out.shape[0], kernel.n_params, 'out')
    cdef int nt = kernel._threads(n_threads)
    cdef double[::1] work = np.empty(_workspace_size(kernel.P.d, kernel.n_params, nt), dtype=np.float64)
    with nogil:
        if kernel.P.f32:
            _diag_pass(<const float*>kernel.P.X, &kernel.P, &hw[0], &out[0], nt, &work[0])
        else:
            _diag_pass(<const double*>kernel.P.X, &kernel.P, &hw[0], &out[0], nt, &work[0])



# Modes of descent_run: the numbers of gdfast._descent's M_FIXED, M_BACKTRACKING, M_NESTEROV.
DESCENT_FIXED = 0
DESCENT_BACKTRACKING = 1
DESCENT_NESTEROV = 2


cdef struct DenseContext:
    const Problem* P
    int nt
    double* work


cdef double _dense_cost_grad(void* ctx, const double* w, double* grad) noexcept nogil:
    cdef DenseContext* c = <DenseContext*>ctx
    return _cost_grad(c.P, w, grad, NULL, c.nt, c.work)


def descent_run(Kernel kernel, int mode, double[::1] w, double[::1] aux, double lr,
                Py_ssize_t max_steps, double[::1] cost_hist, double[::1] gnorm_hist,
                double[::1] step_hist, Py_ssize_t it0, double[::1] state, double[::1] best_w,
                double tol, bint final, n_threads=None):
    """Gradient descent (fixed step or Armijo backtracking) or Nesterov's accelerated gradient,
    without the GIL, over this kernel: gdfast._descent.descent_loop, whose docstring has the
    contract. Returns (evaluations made, code): 0 running, 1 converged, 2 diverged, 3 no
    decrease possible.
    """
    cdef DenseContext ctx
    cdef Py_ssize_t D = kernel.n_params, k
    cdef int code = 0
    cdef double[::1] work = np.empty(_workspace_size(kernel.P.d, D, kernel._threads(n_threads)),
                                     dtype=np.float64)
    check_descent_buffers(D, w, aux, max_steps, cost_hist, gnorm_hist, step_hist, it0, state, best_w)
    ctx.P = &kernel.P
    ctx.nt = kernel._threads(n_threads)
    ctx.work = &work[0]
    with nogil:
        k = descent_loop(_dense_cost_grad, &ctx, mode, &w[0], &aux[0], D, lr, max_steps,
                         &cost_hist[0], &gnorm_hist[0], &step_hist[0], it0, &state[0],
                         &best_w[0], tol, final, &code)
    return k, code


# ---------------------------------------------------------------------------------------------
# The same loops over any object with the Objective contract (gdfast.dask.Objective, say): each
# evaluation takes the GIL and calls objective.cost_gradient(w).
# ---------------------------------------------------------------------------------------------

cdef struct PythonContext:
    void* objective             # borrowed: the caller keeps the object alive
    void* errors                # a list that receives an exception raised by the objective
    Py_ssize_t D


cdef double _python_cost_grad(void* ctx, const double* w, double* grad) noexcept nogil:
    cdef PythonContext* c = <PythonContext*>ctx
    cdef Py_ssize_t j
    cdef double cost
    cdef double[::1] g
    with gil:
        try:
            point = np.empty(c.D)
            for j in range(c.D):
                point[j] = w[j]
            value, gradient = (<object>c.objective).cost_gradient(point)
            g = np.ascontiguousarray(gradient, dtype=np.float64)
            for j in range(c.D):
                grad[j] = g[j]
            cost = value
        except BaseException as e:
            (<list>c.errors).append(e)
            cost = float("nan")        # ends the loop at once; the caller re-raises e
    return cost


def descent_run_objective(objective, int mode, double[::1] w, double[::1] aux, double lr,
                          Py_ssize_t max_steps, double[::1] cost_hist, double[::1] gnorm_hist,
                          double[::1] step_hist, Py_ssize_t it0, double[::1] state,
                          double[::1] best_w, double tol, bint final):
    """descent_run over objective.cost_gradient, for objectives without compiled kernels."""
    cdef PythonContext ctx
    cdef Py_ssize_t D = objective.n_params, k
    cdef int code = 0
    cdef list errors = []
    check_descent_buffers(D, w, aux, max_steps, cost_hist, gnorm_hist, step_hist, it0, state, best_w)
    ctx.objective = <void*>objective
    ctx.errors = <void*>errors
    ctx.D = D
    with nogil:
        k = descent_loop(_python_cost_grad, &ctx, mode, &w[0], &aux[0], D, lr, max_steps,
                         &cost_hist[0], &gnorm_hist[0], &step_hist[0], it0, &state[0],
                         &best_w[0], tol, final, &code)
    if errors:
        raise errors[0]
    return k, code
