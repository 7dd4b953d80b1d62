/* gdfast's per-sample losses and their elementary functions (cimported through gdfast/_loss.pxd) */
#ifndef GDFAST_LOSS_H
#define GDFAST_LOSS_H

#include <stdint.h>
#include <string.h>

/* exp(x) for x <= 0; exactly 0 below -708.39, where exp(x) is no longer a normal double. */
static inline double gd_exp_nonpos(double x) {
    double xc = x > -708.39 ? x : -708.39;
    /* x = n ln2 + r with |r| <= ln2/2. Adding 1.5 * 2^52 rounds x/ln2 to the nearest integer
       and leaves it in the low mantissa bits of t; ln2 is split so that n * LN2_HI is exact. */
    double t = xc * 1.4426950408889634 + 6755399441055744.0;
    double n = t - 6755399441055744.0;
    double r = (xc - n * 0.6931471803691238) - n * 1.9082149292705877e-10;
    /* exp(r) by its Taylor series to r^13: truncation below 2^-60 for |r| <= ln2/2. */
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    /* 2^n from the bits of t: its low bits hold n, so (bits + 1023) << 52 is 2^n's exponent
       (unsigned, so that the bits shifted out wrap instead of overflowing). */
    uint64_t bits;
    double scale;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits + 1023) << 52;
    memcpy(&scale, &bits, sizeof scale);
    return x > -708.39 ? p * scale : 0.0;
}

/* log(1 + e) for 0 <= e <= 1, given u = 1 + e (rounded) and inv_u = 1 / u. */
static inline double gd_log1p_unit(double e, double u, double inv_u) {
    double big = u > 1.4142135623730951 ? 1.0 : 0.0;
    double m = u * (1.0 - 0.5 * big);          /* u or u/2, in [1/sqrt2, sqrt2] */
    double f = m - 1.0;                        /* exact (Sterbenz) */
    double s = f / (2.0 + f);
    double s2 = s * s;
    /* log(m) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), |s| <= 0.1716: to s^23 is enough. */
    double p = 1.0 / 23.0;
    p = p * s2 + 1.0 / 21.0;
    p = p * s2 + 1.0 / 19.0;
    p = p * s2 + 1.0 / 17.0;
    p = p * s2 + 1.0 / 15.0;
    p = p * s2 + 1.0 / 13.0;
    p = p * s2 + 1.0 / 11.0;
    p = p * s2 + 1.0 / 9.0;
    p = p * s2 + 1.0 / 7.0;
    p = p * s2 + 1.0 / 5.0;
    p = p * s2 + 1.0 / 3.0;
    /* u = 1 + e lost the low bits of e; (e - (u - 1)) / u puts them back to first order. */
    return big * 0.6931471803691238 + (2.0 * s + 2.0 * s * s2 * p)
           + (big * 1.9082149292705877e-10 + (e - (u - 1.0)) * inv_u);
}

/* loss = log(1 + exp(z)) - y z = max(z, 0) - y z + log1p(exp(-|z|)), with max(z, 0) - y z
   formed as (1 - y) z for z > 0 and -y z otherwise: for y in {0, 1} that is exactly the
   difference (0 for y = 1, z > 0, so a tiny loss is exact), and for a proportion 0 < y < 1 it
   avoids the cancellation of z - y z (y near 1, z large: (1 - y) is exact for y >= 1/2, and
   within an ulp of itself below). exp(-|z|) never overflows. */
static inline double gd_log_loss_terms(double z, double y, double *r, double *h) {
    double a = z >= 0 ? z : -z;
    double e = gd_exp_nonpos(-a);
    double u = 1.0 + e;
    double inv_u = 1.0 / u;
    double q = e * inv_u;                      /* sigmoid(-|z|), in (0, 1/2] */
    /* d loss/dz = sigmoid(z) - y. With p = 1 - q for z >= 0, write (1 - y) - q rather than
       (1 - q) - y, so that a confident correct prediction gives -q exactly instead of 0. */
    *r = z >= 0 ? (1.0 - y) - q : q - y;
    *h = q * (1.0 - q);                        /* p (1 - p), the same for both signs of z */
    return (z > 0 ? (1.0 - y) * z : -y * z) + gd_log1p_unit(e, u, inv_u);
}

static inline double gd_squared_terms(double z, double y, double *r, double *h) {
    double res = z - y;
    *r = 2.0 * res;
    *h = 2.0;
    return res * res;
}

/* Poisson, log link: loss = e^z - y z, the terms of the half deviance that depend on z (the
   rest, y log y - y, is the loss's cost_offset, added once per cost). e^z = 1 / e^-z for
   z > 0, so it overflows to inf only beyond z = 708.39; both branches are selects. */
static inline double gd_poisson_terms(double z, double y, double *r, double *h) {
    double e = gd_exp_nonpos(z > 0 ? -z : z);
    double mu = z > 0 ? 1.0 / e : e;
    *r = mu - y;
    *h = mu;
    return mu - y * z;
}

/* Gamma, log link (y > 0): loss = y e^-z + z, the terms of the half deviance
   y/mu - log(y/mu) - 1 (mu = e^z) that depend on z (the rest, -log y - 1, is the loss's
   cost_offset); d/dz = 1 - y e^-z, d2/dz2 = y e^-z. t = y e^-z is formed as (y q) q with
   q = e^(-z/2): exact halving, and for z < 0 q = 1 / e^(z/2), which stays finite (for z < 0 the
   halved argument is clamped at -708, so e^(z/2) > 0 and no 0 * inf or y / 0 arises, even for
   y = 0; for z > 0 q underflows to 0 and t to 0, as it should).
   y q q then overflows only where the true y e^-z exceeds the largest double (z below about
   -709 + log y); there t is clamped to DBL_MAX, so that the value and both derivatives stay
   finite for every finite z (an iterate there is rejected by any line search all the same). */
static inline double gd_gamma_terms(double z, double y, double *r, double *h) {
    double a = z > 0 ? -0.5 * z : (z > -1416.0 ? 0.5 * z : -708.0);
    double e = gd_exp_nonpos(a);
    double q = z > 0 ? e : 1.0 / e;
    double t = (y * q) * q;
    t = t < 1.7976931348623157e308 ? t : 1.7976931348623157e308;
    *r = 1.0 - t;
    *h = t;
    return t + z;
}

/* exp(x) for any x, clamped to [0, e^708] (so that a product with a modest factor stays
   finite): e^x = 1 / e^-x for x > 0, both branches selects. */
static inline double gd_exp_clamped(double x) {
    double a = x > 0 ? (x < 708.0 ? -x : -708.0) : x;
    double e = gd_exp_nonpos(a);
    return x > 0 ? 1.0 / e : e;
}

/* Tweedie with power p (p = 0 or p > 1, p != 2; p = 1 and p = 2 use the Poisson and Gamma
   functions above), log link: with mu = e^z, k1 = 1 - p and k2 = 2 - p,
       loss = a / k2 - b / k1,   d/dz = a - b,   d2/dz2 = k2 a - k1 b,
       a = mu^k2 = e^(k2 z),     b = y mu^k1 = a t,   t = y e^-z,
   the terms of the half unit deviance that depend on z (the rest, y^k2 / (k1 k2), is the loss's
   cost_offset). Each power of mu is formed as e^(k z), never as a power of e^z (which would
   overflow first).
   Far out both a and b can overflow, and clamping each on its own would lose which one
   dominates (for p = 0 at large z, or p > 2 at very negative z, both saturate and the loss
   would come out with the wrong sign). The ratio t = b / a says it: where |t| <= 1, a is the
   larger and b is formed as a t; elsewhere b is, and a = b / t. The larger one is clamped to
   cap, which depends on p only (so it is hoisted out of a loop over rows) and keeps a / k,
   k a and the sums of two such below DBL_MAX / 2: value and derivatives finite for every
   finite z and every valid p, with the signs of the exact ones (an iterate out there is
   rejected by any line search all the same).
   The second derivative is negative where the loss is not convex in z: for p = 0 (normal, log
   link) where y > 2 mu, for p > 2 where mu > y (p - 1) / (p - 2).
   Near p = 1 or p = 2 the two terms are large and of opposite sign (1/k1 or 1/k2): the cost's
   rounding error then grows like eps / |k|. */
static inline double gd_tweedie_terms(double z, double y, double p, double *r, double *h) {
    double k1 = 1.0 - p, k2 = 2.0 - p;
    double a1 = k1 >= 0 ? k1 : -k1, a2 = k2 >= 0 ? k2 : -k2;
    double small = a1 < a2 ? a1 : a2;
    small = small < 1.0 ? small : 1.0;
    double cap = 0.25 * 1.7976931348623157e308 * small / (1.0 + a1 + a2);
    double t = y * gd_exp_clamped(-z);
    t = t < 1e300 ? (t > -1e300 ? t : -1e300) : 1e300;
    int b_larger = t > 1.0 || t < -1.0;
    double a = gd_exp_clamped(k2 * z);
    a = a < cap ? a : cap;
    double b = y * gd_exp_clamped(k1 * z);
    b = b < cap ? (b > -cap ? b : -cap) : cap;
    double t_safe = b_larger ? t : 1.0;
    double a_out = b_larger ? b / t_safe : a;
    double b_out = b_larger ? b : a * t;
    *r = a_out - b_out;
    *h = k2 * a_out - k1 * b_out;
    return a_out / k2 - b_out / k1;
}

/* The losses without a parameter, in the form the list below calls: (z, y, param, &r, &h). */
#define GD_NO_PARAM(fn_) \
    static inline double fn_##_p(double z, double y, double param, double *r, double *h) { \
        (void)param; return fn_(z, y, r, h); }
GD_NO_PARAM(gd_squared_terms)
GD_NO_PARAM(gd_log_loss_terms)
GD_NO_PARAM(gd_poisson_terms)
GD_NO_PARAM(gd_gamma_terms)
#undef GD_NO_PARAM

/* The compiled losses: X(code, name, per-sample function). Codes run 0, 1, 2, ... in list
   order; the Loss classes of gdfast.losses find theirs by name (gdfast._core.loss_codes()).
   Every function takes the loss's parameter (gdfast.losses.Loss.param, e.g. Tweedie's power;
   0 and unused for the others); the kernels carry it beside the code (Problem.loss_param), and
   inside a loop over rows it is an invariant. Adding a loss adds its per-sample function above
   and one line here: the dense, sparse and stochastic kernels all dispatch through the
   functions below. */
#define GD_LOSSES(X) \
    X(0, squared_error, gd_squared_terms_p) \
    X(1, log_loss, gd_log_loss_terms_p) \
    X(2, poisson, gd_poisson_terms_p) \
    X(3, gamma, gd_gamma_terms_p) \
    X(4, tweedie, gd_tweedie_terms) \
    X(5, binomial, gd_log_loss_terms_p)     /* proportions: the log loss's terms */

#define GD_LOSS_CODE(code_, name_, fn_) GD_LOSS_##name_ = code_,
enum { GD_LOSSES(GD_LOSS_CODE) };
#undef GD_LOSS_CODE
#define GD_LOSS_NAME(code_, name_, fn_) #name_,
static const char *const gd_loss_names[] = { GD_LOSSES(GD_LOSS_NAME) };
#undef GD_LOSS_NAME
static inline int gd_n_losses(void) { return (int)(sizeof gd_loss_names / sizeof gd_loss_names[0]); }
static inline const char *gd_loss_name(int code) { return gd_loss_names[code]; }

/* One sample of the loss with its parameter; an unknown code gives NaN (the Python layer only
   passes registered codes). */
static inline double gd_loss_terms_param(int code, double param, double z, double y, double *r,
                                         double *h) {
    switch (code) {
#define GD_LOSS_CASE(code_, name_, fn_) case code_: return fn_(z, y, param, r, h);
        GD_LOSSES(GD_LOSS_CASE)
#undef GD_LOSS_CASE
    }
    *r = *h = __builtin_nan("");
    return __builtin_nan("");
}

/* The same with the parameter 0 (the losses that have none). */
static inline double gd_loss_terms(int code, double z, double y, double *r, double *h) {
    return gd_loss_terms_param(code, 0.0, z, y, r, h);
}

/* m rows: z[k] becomes the loss of row k, r[k] and h[k] its first and second derivative
   (Py_ssize_t: this header is included after Python.h, as Cython does).
   One flat loop per loss, with no branch inside, so that each vectorises; param is the same
   for every row. */
static inline void gd_rows_terms_param(int code, double param, const double *y, Py_ssize_t m,
                                       double *z, double *r, double *h) {
    Py_ssize_t k;
    switch (code) {
#define GD_LOSS_ROWS(code_, name_, fn_) \
        case code_: for (k = 0; k < m; k++) z[k] = fn_(z[k], y[k], param, r + k, h + k); return;
        GD_LOSSES(GD_LOSS_ROWS)
#undef GD_LOSS_ROWS
    }
    for (k = 0; k < m; k++) z[k] = r[k] = h[k] = __builtin_nan("");
}

static inline void gd_rows_terms(int code, const double *y, Py_ssize_t m, double *z, double *r,
                                 double *h) {
    gd_rows_terms_param(code, 0.0, y, m, z, r, h);
}

#endif  /* GDFAST_LOSS_H */
