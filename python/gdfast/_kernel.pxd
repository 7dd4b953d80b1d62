# The methods the dense and the sparse kernel objects share (gdfast._core.Kernel,
# gdfast._sparse.SparseKernel): check the buffers against the problem, size the workspace for the
# pass's part count, and run one pass of gdfast/_pass.pxd with the GIL released. Each kernel
# class keeps only its constructor (how its reader is built) and one-line methods over these.

from libc.stdlib cimport free

cdef extern from "stdlib.h":
    int posix_memalign(void** out, size_t alignment, size_t size) nogil

from gdfast._descent cimport descent_loop, check_descent_buffers, cost_grad_fn
from gdfast.kernels cimport loss_at_param
from gdfast._dense_rows cimport DenseRows
from gdfast._csr_rows cimport CsrRows
from gdfast._pass cimport (
    Rows, pass_parts, pass_workspace, cost_grad_pass, hessp_pass, linear_pass, transpose_pass)


cdef inline int expect(Py_ssize_t got, Py_ssize_t want, str name) except -1:
    """The kernels write through raw pointers: refuse a buffer of the wrong length."""
    if got != want:
        raise ValueError(f"{name} has {got} elements, expected {want}")
    return 0


cdef inline double* _workspace(const Rows* R, int nc, bint hess) except NULL:
    """The pass's workspace, on a cache line of its own (the parts' regions are whole lines)."""
    cdef void* work = NULL
    if posix_memalign(&work, 64, pass_workspace(R, nc, hess) * sizeof(double)) != 0:
        raise MemoryError("no memory for the kernels' workspace")
    return <double*>work


cdef inline object kernel_cost_grad(const Rows* R, const double[::1] w, double[::1] grad,
                                    double[:, ::1] hess, int nt):
    """Cost at w; fills grad (len D) and hess (D x D) when they are not None."""
    cdef Py_ssize_t D = R.P.d + R.P.fit_intercept
    expect(w.shape[0], D, 'w')
    if grad is not None:
        expect(grad.shape[0], D, 'grad')
    if hess is not None:
        expect(hess.shape[0] * hess.shape[1], D * D, 'hess')
    cdef double* gp = &grad[0] if grad is not None else NULL
    cdef double* hp = &hess[0, 0] if hess is not None else NULL
    cdef int nc = pass_parts(R, nt, hp != NULL)
    cdef double* work = _workspace(R, nc, hp != NULL)
    cdef double cost
    try:
        with nogil:
            cost = cost_grad_pass(R, &w[0], gp, hp, nc, work)
    finally:
        free(work)
    return cost


cdef inline object _hessp(const Rows* R, const double* w, const double* hw, const double[::1] v,
                          double[::1] out, bint gram, int nt):
    cdef Py_ssize_t D = R.P.d + R.P.fit_intercept
    expect(v.shape[0], D, 'v')
    expect(out.shape[0], D, 'out')
    cdef int nc = pass_parts(R, nt, False)
    cdef double* work = _workspace(R, nc, False)
    cdef double cost
    try:
        with nogil:
            cost = hessp_pass(R, w, hw, &v[0], &out[0], gram, nc, work)
    finally:
        free(work)
    return cost


cdef inline object kernel_hessp(const Rows* R, const double[::1] w, const double[::1] v,
                                double[::1] out, bint gram, int nt):
    """out = Hessian(w) @ v, or Xa^T S Xa v (gram), without forming the matrix; returns the
    cost at w from the same pass (0.0 with gram)."""
    expect(w.shape[0], R.P.d + R.P.fit_intercept, 'w')
    return _hessp(R, &w[0], NULL, v, out, gram, nt)


cdef inline object kernel_hessp_weighted(const Rows* R, const double[::1] hw, const double[::1] v,
                                         double[::1] out, int nt):
    """out = Xa^T diag(hw) Xa v for precomputed weights hw (no penalty, no scaling)."""
    expect(hw.shape[0], R.P.n, 'hw')
    _hessp(R, NULL, &hw[0], v, out, False, nt)


cdef inline object kernel_linear(const Rows* R, const double[::1] v, double[::1] out, int nt):
    """out = Xa v (length n)."""
    expect(v.shape[0], R.P.d + R.P.fit_intercept, 'v')
    expect(out.shape[0], R.P.n, 'out')
    cdef int nc = pass_parts(R, nt, False)
    cdef double* work = _workspace(R, nc, False)
    try:
        with nogil:
            linear_pass(R, &v[0], &out[0], nc, work)
    finally:
        free(work)


cdef inline object kernel_transpose(const Rows* R, const double[::1] r, double[::1] out,
                                    bint squares, int nt):
    """out = Xa^T r (length D), unscaled; with squares out = diag(Xa^T diag(r) Xa)."""
    expect(r.shape[0], R.P.n, 'hw' if squares else 'r')
    expect(out.shape[0], R.P.d + R.P.fit_intercept, 'out')
    cdef int nc = pass_parts(R, nt, False)
    cdef double* work = _workspace(R, nc, False)
    try:
        with nogil:
            transpose_pass(R, &r[0], &out[0], squares, nc, work)
    finally:
        free(work)


cdef inline object kernel_loss_from_z(const Rows* R, const double[::1] z, double[::1] r,
                                      double[::1] h):
    """Mean weighted loss at predictions z (no penalty); r and h get s * loss' and s * loss''."""
    expect(z.shape[0], R.P.n, 'z')
    if r is not None:
        expect(r.shape[0], R.P.n, 'r')
    if h is not None:
        expect(h.shape[0], R.P.n, 'h')
    cdef double total
    cdef double* rp = &r[0] if r is not None else NULL
    cdef double* hp = &h[0] if h is not None else NULL
    with nogil:
        total = loss_at_param(R.P.loss, R.P.loss_param, R.P.y, R.P.sw, R.P.scale, R.P.cost_offset,
                              R.P.n, &z[0], rp, hp)
    return total


# The first-order loops of gdfast/_descent.pxd see a kernel through f(ctx, w, grad) -> cost.

cdef struct PassContext:
    const void* rows
    int nc
    double* work


cdef inline double _dense_cost_grad(void* ctx, const double* w, double* grad) noexcept nogil:
    cdef PassContext* c = <PassContext*>ctx
    return cost_grad_pass(<const DenseRows*>c.rows, w, grad, NULL, c.nc, c.work)


cdef inline double _csr_cost_grad(void* ctx, const double* w, double* grad) noexcept nogil:
    cdef PassContext* c = <PassContext*>ctx
    return cost_grad_pass(<const CsrRows*>c.rows, w, grad, NULL, c.nc, c.work)


cdef inline object kernel_descent_run(
        const Rows* R, int mode, double[::1] w, double[::1] aux, double lr, Py_ssize_t max_steps,
        double[::1] cost_hist, double[::1] gnorm_hist, double[::1] step_hist, Py_ssize_t it0,
        double[::1] state, double[::1] best_w, double tol, bint final, int nt):
    """descent_loop over this kernel's passes; returns (evaluations made, code)."""
    cdef PassContext ctx
    cdef cost_grad_fn f
    cdef Py_ssize_t D = R.P.d + R.P.fit_intercept, k
    cdef int code = 0
    check_descent_buffers(D, w, aux, max_steps, cost_hist, gnorm_hist, step_hist, it0, state,
                          best_w)
    if Rows is DenseRows:
        f = _dense_cost_grad
    else:
        f = _csr_cost_grad
    ctx.rows = R
    ctx.nc = pass_parts(R, nt, False)
    ctx.work = _workspace(R, ctx.nc, False)
    try:
        with nogil:
            k = descent_loop(f, &ctx, mode, &w[0], &aux[0], D, lr, max_steps, &cost_hist[0],
                             &gnorm_hist[0], &step_hist[0], it0, &state[0], &best_w[0], tol,
                             final, &code)
    finally:
        free(ctx.work)
    return k, code
