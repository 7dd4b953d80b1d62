# The compiled passes of gdfast over X stored as CSR (compressed rows): the dense kernels'
# methods (gdfast._core.Kernel) over the CSR row reader of gdfast/_csr_rows.pxd, through the pass
# skeleton both share (gdfast/_pass.pxd: parts, blocks, threads, reduction). This module checks
# the CSR structure once, builds the reader and holds the Python-facing SparseKernel.

from libc.stdint cimport int32_t, int64_t

from gdfast._loss cimport n_losses, loss_name
from gdfast.kernels cimport floating
from gdfast._csr_rows cimport index_t, CsrRows
from gdfast._kernel cimport (
    kernel_cost_grad, kernel_hessp, kernel_hessp_weighted, kernel_linear, kernel_transpose,
    kernel_loss_from_z, kernel_descent_run)

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

def loss_codes():
    """The compiled losses, {name: code}, from the one list in gdfast/_loss.pxd."""
    return {loss_name(c).decode(): c for c in range(n_losses())}

# A dense D x D Hessian is refused beyond this size (256 MiB, D = 5792): Objective.hessian then
# raises and points to the Hessian-free methods.
MAX_HESSIAN_BYTES = 1 << 28


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
# The Python-facing kernel object
# ---------------------------------------------------------------------------------------------

cdef class SparseKernel:
    """Validated CSR data of one objective, with the same methods as gdfast._core.Kernel.

    X must be a scipy.sparse CSR matrix or array whose data is float32 or float64 and whose
    indices and indptr are both int32 or both int64 and C-contiguous (gdfast.Objective sees to
    it). The structure is checked here once (one pass over indptr and indices), so that no
    kernel can read out of bounds; column indices may be unsorted and may repeat. The kernel
    keeps references to the arrays and never writes to them.
    """
    cdef CsrRows R
    cdef object _keep
    cdef readonly Py_ssize_t n_params

    def __cinit__(self, X, const double[::1] y, sample_weight, double scale, int loss,
                  bint fit_intercept, double alpha, double cost_offset=0.0, double loss_param=0.0,
                  offset=None):
        if not 0 <= loss < n_losses():
            raise ValueError(f"loss must be a compiled loss code (gdfast._sparse.loss_codes()); got {loss}")
        cdef const float[::1] df
        cdef const double[::1] dd
        cdef const int32_t[::1] i32, p32
        cdef const int64_t[::1] i64, p64
        cdef const double[::1] sw
        cdef const double[::1] off
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
            self.R.P.data = &df[0] if df.shape[0] > 0 else NULL
            self.R.P.f32 = True
        elif data.dtype == np.float64:
            dd = data
            self.R.P.data = &dd[0] if dd.shape[0] > 0 else NULL
            self.R.P.f32 = False
        else:
            raise TypeError(f"X.data must be float32 or float64; got {data.dtype}")
        if indices.dtype == np.int32:
            i32 = indices
            p32 = indptr
            self.R.P.indices = &i32[0] if i32.shape[0] > 0 else NULL
            self.R.P.indptr = &p32[0]
            self.R.P.i64 = False
        else:
            i64 = indices
            p64 = indptr
            self.R.P.indices = &i64[0] if i64.shape[0] > 0 else NULL
            self.R.P.indptr = &p64[0]
            self.R.P.i64 = True
        self.R.P.n = n
        self.R.P.d = d
        self.R.P.nnz = nnz
        self.R.P.y = &y[0]
        if sample_weight is None:
            self.R.P.sw = NULL
        else:
            sw = sample_weight
            if sw.shape[0] != n:
                raise ValueError(f"sample_weight has length {sw.shape[0]}, expected {n}")
            self.R.P.sw = &sw[0]
        self.R.P.scale = scale
        self.R.P.loss = loss
        self.R.P.fit_intercept = fit_intercept
        self.R.P.alpha = alpha
        self.R.P.cost_offset = cost_offset
        self.R.P.loss_param = loss_param
        if offset is None:
            self.R.P.offset = NULL
        else:
            off = offset
            if off.shape[0] != n:
                raise ValueError(f"offset has length {off.shape[0]}, expected {n}")
            self.R.P.offset = &off[0]
        self.R.P.duplicates = has_duplicates(indptr, indices, d)
        self.n_params = d + (1 if fit_intercept else 0)
        self._keep = (X, data, indices, indptr, y, sample_weight, offset)

    cdef int _threads(self, n_threads) except -1:
        if n_threads is None:
            return max(1, gds_max_threads())
        return max(1, <int>n_threads)

    def cost_grad(self, const double[::1] w, double[::1] grad=None, double[:, ::1] hess=None,
                  n_threads=None):
        """Cost at w; fills grad (len D) and hess (D x D) when given. Releases the GIL."""
        return kernel_cost_grad(&self.R, w, grad, hess, self._threads(n_threads))

    def hessp(self, const double[::1] w, const double[::1] v, double[::1] out, bint gram=False,
              n_threads=None):
        """out = Hessian(w) @ v (or Xa^T S Xa v with gram=True), without forming the Hessian.

        Returns the cost at w (0.0 with gram=True), from the same pass."""
        return kernel_hessp(&self.R, w, v, out, gram, self._threads(n_threads))

    def hessp_weighted(self, const double[::1] hw, const double[::1] v, double[::1] out,
                       n_threads=None):
        """out = Xa^T diag(hw) Xa v for precomputed weights hw (no penalty, no scaling)."""
        kernel_hessp_weighted(&self.R, hw, v, out, self._threads(n_threads))

    def descent_run(self, int mode, double[::1] w, double[::1] aux, double lr,
                    Py_ssize_t max_steps, double[::1] cost_hist, double[::1] gnorm_hist,
                    double[::1] step_hist, Py_ssize_t it0, double[::1] state, double[::1] best_w,
                    double tol, bint final, n_threads=None):
        """The gradient-descent loops without the GIL; see the module-level descent_run."""
        return kernel_descent_run(&self.R, mode, w, aux, lr, max_steps, cost_hist, gnorm_hist,
                                  step_hist, it0, state, best_w, tol, final,
                                  self._threads(n_threads))

    def diag_weighted(self, const double[::1] hw, double[::1] out, n_threads=None):
        """out = diag(Xa^T diag(hw) Xa), i.e. out[j] = sum_i hw[i] Xa[i, j]^2 (no penalty)."""
        kernel_transpose(&self.R, hw, out, True, self._threads(n_threads))

    def linear(self, const double[::1] v, double[::1] out, n_threads=None):
        """out = Xa v: the raw predictions z for parameters v (length n)."""
        kernel_linear(&self.R, v, out, self._threads(n_threads))

    def transpose(self, const double[::1] r, double[::1] out, n_threads=None):
        """out = Xa^T r (length D), unscaled."""
        kernel_transpose(&self.R, r, out, False, self._threads(n_threads))

    def loss_from_z(self, const double[::1] z, double[::1] r=None, double[::1] h=None):
        """Mean weighted loss at predictions z (no penalty); r and h get s * loss' and s * loss''.

        O(n) and no pass over X (see gdfast._core.Kernel.loss_from_z).
        """
        return kernel_loss_from_z(&self.R, z, r, h)


def diag_weighted(SparseKernel kernel, const double[::1] hw, double[::1] out, n_threads=None):
    """out = diag(Xa^T diag(hw) Xa) (no penalty, unscaled): the module-level form, with the same
    signature as the dense kernels' diag_weighted (the Jacobi preconditioner of Newton-CG)."""
    kernel.diag_weighted(hw, out, n_threads)


# Modes of descent_run: the numbers of gdfast._descent's M_FIXED, M_BACKTRACKING, M_NESTEROV.
DESCENT_FIXED = 0
DESCENT_BACKTRACKING = 1
DESCENT_NESTEROV = 2


def descent_run(SparseKernel kernel, int mode, double[::1] w, double[::1] aux, double lr,
                Py_ssize_t max_steps, double[::1] cost_hist, double[::1] gnorm_hist,
                double[::1] step_hist, Py_ssize_t it0, double[::1] state, double[::1] best_w,
                double tol, bint final, n_threads=None):
    """The solvers' first-order loops over a sparse objective: gdfast._descent.descent_loop,
    whose docstring has the contract (the dense kernels' descent_run is the same)."""
    return kernel.descent_run(mode, w, aux, lr, max_steps, cost_hist, gnorm_hist, step_hist,
                              it0, state, best_w, tol, final, n_threads)
