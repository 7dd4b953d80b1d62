# The first-order loops of the solvers, written once for every kernel module.
#
# gd with a fixed step or an Armijo backtracking line search, and Nesterov's accelerated
# gradient with adaptive restart, entirely without the GIL. The loop sees the objective only
# through `f(ctx, w, grad) -> cost`, one fused pass over X: the dense kernels (gdfast._core and
# its instruction-set variants) and the sparse ones (gdfast._sparse) each pass their own.

from libc.math cimport INFINITY, fabs, isfinite
from libc.string cimport memcpy

ctypedef double (*cost_grad_fn)(void* ctx, const double* w, double* grad) noexcept nogil

# Modes of descent_loop (the Python layer uses the same numbers: DESCENT_* in each module).
cdef enum:
    M_FIXED = 0
    M_BACKTRACKING = 1
    M_NESTEROV = 2

cdef inline int check_descent_buffers(
        Py_ssize_t D, double[::1] w, double[::1] aux, Py_ssize_t max_steps, double[::1] cost_hist,
        double[::1] gnorm_hist, double[::1] step_hist, Py_ssize_t it0, double[::1] state,
        double[::1] best_w) except -1:
    """descent_loop writes through raw pointers: refuse the buffers it would overrun (every
    module that runs it over a kernel checks its arguments here first)."""
    for name, buf, want in (("w", w, D), ("best_w", best_w, D), ("state", state, 5)):
        if buf.shape[0] != want:
            raise ValueError(f"{name} has {buf.shape[0]} elements, expected {want}")
    if aux.shape[0] < 4 * D:
        raise ValueError("aux must hold 4 * n_params doubles")
    if it0 < 0 or max_steps < 0:
        raise ValueError("it0 and max_steps must be non-negative")
    for name, buf in (("cost_hist", cost_hist), ("gnorm_hist", gnorm_hist), ("step_hist", step_hist)):
        if buf.shape[0] < it0 + max_steps:
            raise ValueError(f"{name} has {buf.shape[0]} elements, the loop writes {it0 + max_steps}")
    return 0


cdef inline double _maxabs(const double* g, Py_ssize_t D) noexcept nogil:
    """max |g_j|; infinite when some g_j is not finite."""
    cdef double m = 0
    cdef Py_ssize_t j
    for j in range(D):
        if not isfinite(g[j]):
            return INFINITY
        if fabs(g[j]) > m:
            m = fabs(g[j])
    return m


cdef inline Py_ssize_t descent_loop(
        cost_grad_fn f, void* ctx, int mode, double* wp, double* aux, Py_ssize_t D, double lr,
        Py_ssize_t max_steps, double* cost_hist, double* gnorm_hist, double* step_hist,
        Py_ssize_t it0, double* state, double* best_w, double tol, bint final,
        int* code) noexcept nogil:
    """Gradient descent with a fixed step or an Armijo backtracking line search, or Nesterov's
    accelerated gradient with a fixed step and adaptive restart, entirely without the GIL.

    Each iteration evaluates the cost and gradient at the current point (one fused pass; for
    backtracking the pass of the accepted trial serves as the next evaluation), records them in
    the histories at it0 + k, and steps. Stops early on convergence (max|grad| <= tol * state[1])
    or divergence (a non-finite cost, or one above 10 times the first). With final, the last
    evaluation takes no step.

    w is the point being evaluated: the iterate for backtracking, the extrapolated point y for
    Nesterov. aux (4 * D doubles, kept by the caller across calls) holds the gradient, the trial
    point, the previous iterate x and the current iterate for Nesterov.
    state = [cost at start, gradient scale, best cost, step or momentum counter, current cost]
    persists across calls; best_w receives the point with the best cost.
    Returns (evaluations made, code): 0 running, 1 converged, 2 diverged, 3 no decrease possible.
    A call ends with the new point already evaluated (cost in state[4], gradient in aux[:D]);
    the next call (it0 > 0) records it without a second pass.

    Fixed: w <- w - lr grad(w).
    Backtracking: lr is the first trial step; state[3] carries the last accepted step.
    Nesterov (O'Donoghue and Candes' gradient restart): with y the extrapolated point,
        x+ = y - lr grad(y);  restart (momentum counter k = 0) if grad(y) . (x+ - x) > 0;
        y+ = x+ + k / (k + 3) (x+ - x);  k += 1.
    The restart test costs nothing extra and makes the method adapt to the unknown strong
    convexity; state[3] carries k.
    """
    cdef double* g = aux
    cdef double* trial = g + D
    cdef double* x = g + 2 * D
    cdef double* xnew = g + 3 * D
    cdef Py_ssize_t k = 0, j
    cdef int status = 0
    cdef double cost, gmax, t, gg, ct, beta, dot, slack, mom
    # Backtracking (Armijo): accept a step t when cost(w - t g) <= cost(w) - C1 t |g|^2. With
    # C1 = 1/2 an accepted step is at most about 1/L (the descent lemma), so the line search never
    # settles on the oscillating steps near 2/L; the trial step grows by GROW after each
    # iteration so that it can follow a flatter region, and shrinks by half on a rejection.
    cdef double ARMIJO_C1 = 0.5, GROW = 1.25
    cdef double MIN_STEP_RATIO = 1e-20     # a trial step this far below the first: no progress
    # The cost is a sum over many rows: its rounding error is about this times its value. A
    # decrease smaller than that cannot be seen, so a step that raises the cost by no more is
    # not rejected.
    cdef double COST_ROUNDING = 1e3 * 2.220446049250313e-16
    if it0 > 0:
        cost = state[4]                    # evaluated at the end of the previous call, in g
    else:
        cost = f(ctx, wp, g)
    while k < max_steps:
        gmax = _maxabs(g, D)
        cost_hist[it0 + k] = cost
        gnorm_hist[it0 + k] = gmax
        step_hist[it0 + k] = 0.0
        k += 1
        if it0 + k == 1:
            state[0] = cost
            state[2] = cost
            memcpy(best_w, wp, D * sizeof(double))
            if mode == M_NESTEROV:
                memcpy(x, wp, D * sizeof(double))
                state[3] = 0
            else:
                state[3] = lr / GROW            # so that the first trial step is lr
        if not isfinite(cost) or not isfinite(gmax) or cost > 10.0 * state[0] + 1e-300:
            status = 2
            break
        if cost <= state[2]:
            state[2] = cost
            memcpy(best_w, wp, D * sizeof(double))
        if gmax <= tol * state[1]:
            status = 1
            break
        if final and k == max_steps:
            break
        if mode == M_BACKTRACKING:
            gg = 0
            for j in range(D):
                gg += g[j] * g[j]
            t = state[3] * GROW
            slack = COST_ROUNDING * fabs(cost)
            while True:
                for j in range(D):
                    trial[j] = wp[j] - t * g[j]
                # the trial's gradient goes to xnew (scratch) until the step is accepted
                ct = f(ctx, trial, xnew)
                if ct <= cost - ARMIJO_C1 * t * gg or (
                        ARMIJO_C1 * t * gg <= slack and ct <= cost + slack):
                    break
                t *= 0.5
                if t < MIN_STEP_RATIO * lr:
                    break
            if t < MIN_STEP_RATIO * lr:
                status = 3
                break
            state[3] = t
            step_hist[it0 + k - 1] = t
            memcpy(wp, trial, D * sizeof(double))
            memcpy(g, xnew, D * sizeof(double))
            cost = ct
            state[4] = cost
        elif mode == M_FIXED:
            for j in range(D):
                wp[j] -= lr * g[j]
            step_hist[it0 + k - 1] = lr
            cost = f(ctx, wp, g)
            state[4] = cost
        else:
            mom = state[3]
            dot = 0
            for j in range(D):
                xnew[j] = wp[j] - lr * g[j]
                dot += g[j] * (xnew[j] - x[j])
            if dot > 0:
                mom = 0                     # the momentum points uphill: restart
            beta = mom / (mom + 3.0)
            for j in range(D):
                wp[j] = xnew[j] + beta * (xnew[j] - x[j])
                x[j] = xnew[j]
            state[3] = mom + 1
            step_hist[it0 + k - 1] = lr
            cost = f(ctx, wp, g)
            state[4] = cost
    code[0] = status
    return k
