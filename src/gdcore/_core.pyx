# The compiled passes of gdfast over a dense X: one pass over the rows of X computes the cost, the
# gradient and, when asked, the Hessian of a linear model's cost, without any n-by-d temporary.
# The pass itself (blocks, threads, reduction) is gdfast/_pass.pxd, shared with the sparse
# kernels; how it reads dense rows is gdfast/_dense_rows.pxd, over the block math of
# gdfast/kernels.pxd (public, so that other packages can cimport it) and the per-sample losses of
# gdfast/_loss.pxd. This module builds the reader from a numpy array and holds the Python-facing
# Kernel object, the CPU and thread queries, and the first-order loops over a Python objective.

from cython.parallel cimport prange
from libc.math cimport fabs

from gdfast._descent cimport descent_loop, check_descent_buffers
from gdfast._loss cimport exp_nonpos, log1p_unit, loss_terms_param, n_losses, loss_name
from gdfast.kernels cimport Problem
from gdfast._dense_rows cimport DenseRows, dense_rows
from gdfast._kernel cimport (
    kernel_cost_grad, kernel_hessp, kernel_hessp_weighted, kernel_linear, kernel_transpose,
    kernel_loss_from_z, kernel_descent_run)

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


def loss_terms(int loss, double z, double y, double param=0.0):
    """(loss, d loss/dz, d2 loss/dz2) of one sample: the per-sample math, for tests and users.
    param: the loss's parameter (gdfast.losses.Loss.param; Tweedie's power)."""
    cdef double r, h, l
    l = loss_terms_param(loss, param, z, y, &r, &h)
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
# The Python-facing kernel object
# ---------------------------------------------------------------------------------------------

cdef class Kernel:
    """Validated data of one objective, ready for the compiled passes.

    The Python layer (gdfast.Objective) validates and converts the inputs; Kernel only keeps
    references to them (so they stay alive) and the dense row reader the passes read through.
    """
    cdef DenseRows R
    cdef object _keep
    cdef readonly Py_ssize_t n_params

    def __cinit__(self, X, const double[::1] y, sample_weight, double scale, int loss,
                  bint fit_intercept, double alpha, double cost_offset=0.0, double loss_param=0.0,
                  offset=None):
        if not 0 <= loss < n_losses():
            raise ValueError(f"loss must be a compiled loss code (gdfast._core.loss_codes()); got {loss}")
        cdef Problem P
        cdef const float[:, :] Xf
        cdef const double[:, :] Xd
        cdef const double[::1] sw
        cdef const double[::1] off
        cdef Py_ssize_t itemsize
        if X.dtype == np.float32:
            Xf = X
            P.X = &Xf[0, 0]
            P.f32 = True
            itemsize = 4
        else:
            Xd = X
            P.X = &Xd[0, 0]
            P.f32 = False
            itemsize = 8
        P.n = X.shape[0]
        P.d = X.shape[1]
        P.rs = X.strides[0] // itemsize
        P.cs = X.strides[1] // itemsize
        # A single column (or row) is read correctly through either path, whatever stride numpy
        # reports for the axis of length 1.
        if P.d == 1:
            P.cs = 1
        elif P.n == 1:
            P.rs = 1
        if not (P.cs == 1 or P.rs == 1):
            raise ValueError("X must have contiguous rows or contiguous columns")
        P.y = &y[0]
        if sample_weight is None:
            P.sw = NULL
        else:
            sw = sample_weight
            P.sw = &sw[0]
        P.scale = scale
        P.loss = loss
        P.fit_intercept = fit_intercept
        P.alpha = alpha
        P.cost_offset = cost_offset
        P.loss_param = loss_param
        if offset is None:
            P.offset = NULL
        else:
            off = offset
            if off.shape[0] != P.n:
                raise ValueError(f"offset has length {off.shape[0]}, expected {P.n}")
            P.offset = &off[0]
        P.xmax = max(float(X.max()), -float(X.min())) if P.f32 else 0.0
        self.R = dense_rows(&P)
        self.n_params = P.d + (1 if fit_intercept else 0)
        self._keep = (X, y, sample_weight, offset)

    cdef int _threads(self, n_threads) except -1:
        if n_threads is None:
            return max(1, gd_max_threads())
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

    def linear(self, const double[::1] v, double[::1] out, n_threads=None):
        """out = Xa v: the raw predictions z for parameters v (length n)."""
        kernel_linear(&self.R, v, out, self._threads(n_threads))

    def transpose(self, const double[::1] r, double[::1] out, n_threads=None):
        """out = Xa^T r (length D), unscaled."""
        kernel_transpose(&self.R, r, out, False, self._threads(n_threads))

    def diag_weighted(self, const double[::1] hw, double[::1] out, n_threads=None):
        """out = diag(Xa^T diag(hw) Xa); see the module-level diag_weighted."""
        kernel_transpose(&self.R, hw, out, True, self._threads(n_threads))

    def descent_run(self, int mode, double[::1] w, double[::1] aux, double lr,
                    Py_ssize_t max_steps, double[::1] cost_hist, double[::1] gnorm_hist,
                    double[::1] step_hist, Py_ssize_t it0, double[::1] state, double[::1] best_w,
                    double tol, bint final, n_threads=None):
        """The gradient-descent loops without the GIL; see the module-level descent_run."""
        return kernel_descent_run(&self.R, mode, w, aux, lr, max_steps, cost_hist, gnorm_hist,
                                  step_hist, it0, state, best_w, tol, final,
                                  self._threads(n_threads))

    def loss_from_z(self, const double[::1] z, double[::1] r=None, double[::1] h=None):
        """Mean weighted loss at predictions z (no penalty); r and h get s * loss' and s * loss''.

        O(n) and no pass over X: with z = linear(w) and zd = linear(d) cached, a line search
        evaluates loss_from_z(z + t * zd) at any step t for the price of a vector operation.
        """
        return kernel_loss_from_z(&self.R, z, r, h)


def diag_weighted(Kernel kernel, const double[::1] hw, double[::1] out, n_threads=None):
    """out = diag(Xa^T diag(hw) Xa), i.e. out[j] = sum_i hw[i] Xa[i, j]^2 (no penalty, unscaled).

    With hw = s * loss''(z) this is the diagonal of the Hessian without the penalty (the Jacobi
    preconditioner of Newton-CG); with hw = s it is the mean square of each column.
    """
    kernel.diag_weighted(hw, out, n_threads)


# Modes of descent_run: the numbers of gdfast._descent's M_FIXED, M_BACKTRACKING, M_NESTEROV.
DESCENT_FIXED = 0
DESCENT_BACKTRACKING = 1
DESCENT_NESTEROV = 2


def descent_run(Kernel kernel, int mode, double[::1] w, double[::1] aux, double lr,
                Py_ssize_t max_steps, double[::1] cost_hist, double[::1] gnorm_hist,
                double[::1] step_hist, Py_ssize_t it0, double[::1] state, double[::1] best_w,
                double tol, bint final, n_threads=None):
    """Gradient descent (fixed step or Armijo backtracking) or Nesterov's accelerated gradient,
    without the GIL, over this kernel: gdfast._descent.descent_loop, whose docstring has the
    contract. Returns (evaluations made, code): 0 running, 1 converged, 2 diverged, 3 no
    decrease possible.
    """
    return kernel.descent_run(mode, w, aux, lr, max_steps, cost_hist, gnorm_hist, step_hist,
                              it0, state, best_w, tol, final, n_threads)


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
