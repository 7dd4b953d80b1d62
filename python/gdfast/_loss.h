/* gdfast's per-sample losses and their elementary functions (cimported through gdfast/_loss.pxd) */
#ifndef GDFAST_LOSS_H
#define GDFAST_LOSS_H

#include <math.h>
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

/* log(1 + f) = 2 atanh(s), s = f / (2 + f), for 1 + f in [1/sqrt2, sqrt2] (|s| <= 0.1716): the
   series 2 (s + s^3/3 + s^5/5 + ...) to s^23 is enough. Shared by the log1p's below and
   gdfast/_multinomial_simd.h. */
static inline double gd_log_near1(double f) {
    double s = f / (2.0 + f);
    double s2 = s * s;
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
    return 2.0 * s + 2.0 * s * s2 * p;
}

/* log(1 + e) for 0 <= e <= 1, given u = 1 + e (rounded) and inv_u = 1 / u. */
static inline double gd_log1p_unit(double e, double u, double inv_u) {
    double big = u > 1.4142135623730951 ? 1.0 : 0.0;
    double m = u * (1.0 - 0.5 * big);          /* u or u/2, in [1/sqrt2, sqrt2] */
    double f = m - 1.0;                        /* exact (Sterbenz) */
    /* u = 1 + e lost the low bits of e; (e - (u - 1)) / u puts them back to first order. */
    return big * 0.6931471803691238 + gd_log_near1(f)
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

/* log Phi(x) (Phi the standard normal distribution function), the inverse Mills ratio
   m = phi(x) / Phi(x) and x + m, for any finite x (the probit link's pieces).
   For x >= -20: Phi(x) = erfc(-x / sqrt 2) / 2 (libm's erfc keeps its relative accuracy in the
   tail) and phi(x) = e^(-x^2/2) / sqrt(2 pi) with x^2 split exactly into x2 + err by an fma, so
   that phi carries no rounding of x^2/2 (which would be 2e-14 relative at x = -20). Below -20,
   the asymptotic series Phi(x) = phi(x) / (-x) S(x), S = 1 + sum_k (-1)^k (2k-1)!! / x^(2k)
   to k = 12 (the next term is below 1e-15 of S - 1 there): then log Phi comes from log(-x)
   and x^2 / 2, m = -x / S, and x + m = x (S - 1) / S with S - 1 summed as it is, free of the
   cancellation of x + m (~ -1/x). Between -20 and 0 that difference loses about log10(x^2)
   digits (1e-13 relative at -20). x is clamped to +-1e150 so that x^2 stays finite.
   Scalar libm calls (erfc, exp, log, fma): a loop over these rows does not vectorise. */
static inline void gd_probit_half(double x, double *log_phi, double *mills, double *x_plus_m) {
    x = x < 1e150 ? (x > -1e150 ? x : -1e150) : 1e150;
    if (x >= -20.0) {
        double x2 = x * x, err = fma(x, x, -x2);                   /* x^2 = x2 + err exactly */
        double pdf = 0.39894228040143267794 * exp(-0.5 * x2) * (1.0 - 0.5 * err);
        /* erfc's argument -x / sqrt 2 rounded to a, with its rounding d (1/sqrt 2 = C_HI + C_LO):
           erfc(a + d) = erfc(a) - d 2/sqrt(pi) e^(-a^2), and 2/sqrt(pi) e^(-x^2/2) is
           2 sqrt 2 phi(x). Without it the rounding of a would cost 2 a^2 eps relative (4e-14
           at x = -20). */
        double a = -x * 0.70710678118654757274;
        double d = fma(-x, 0.70710678118654757274, -a) + (-x) * -4.8336466567264567e-17;
        double slope = 2.8284271247461900976 * pdf * d;
        double tail = 0.5 * (erfc(a) - slope);                     /* Phi(x) */
        /* Phi near 1: log1p of minus the small complement erfc(-a - d) / 2 */
        *log_phi = x > 0 ? log1p(-0.5 * (erfc(-a) + slope)) : log(tail);
        *mills = pdf / tail;
        *x_plus_m = x + *mills;
    } else {
        double u = 1.0 / (x * x);
        double s1 = u * (-1.0 + u * (3.0 + u * (-15.0 + u * (105.0 + u * (-945.0 + u * (
            10395.0 + u * (-135135.0 + u * (2027025.0 + u * (-34459425.0 + u * (
            654729075.0 + u * (-13749310575.0 + u * 316234143225.0)))))))))));   /* S - 1 */
        double x2 = x * x, err = fma(x, x, -x2);
        *log_phi = (-0.5 * x2 - 0.5 * err - log(-x) - 0.91893853320467274178) + log1p(s1);
        *mills = -x / (1.0 + s1);
        *x_plus_m = x * s1 / (1.0 + s1);
    }
}

/* Binomial, probit link: loss = -y log Phi(z) - (1 - y) log Phi(-z) (the log loss's terms with
   p = Phi(z); the binomial entropy of y is the loss's cost_offset, as for the logit). With
   m(x) = phi(x) / Phi(x): d/dz = -y m(z) + (1 - y) m(-z), and as m'(x) = -m (x + m),
   d2/dz2 = y m(z) (z + m(z)) + (1 - y) m(-z) (-z + m(-z)), in [0, 1]. */
static inline double gd_probit_terms(double z, double y, double *r, double *h) {
    double lp, mp, xp, ln, mn, xn;
    gd_probit_half(z, &lp, &mp, &xp);
    gd_probit_half(-z, &ln, &mn, &xn);
    *r = -y * mp + (1.0 - y) * mn;
    *h = y * mp * xp + (1.0 - y) * mn * xn;
    return -y * lp - (1.0 - y) * ln;
}

/* Binomial, complementary log-log link: p = 1 - e^-t with t = e^z, so
   loss = -y log(1 - e^-t) + (1 - y) t. log(1 - e^-t) is log(-expm1(-t)) for t <= log 2 and
   log1p(-e^-t) above (each where it keeps its digits), and z - t/2 + t^2/24 for t < 1e-4 (the
   series of log((1 - e^-t) / t): also where t underflows, so the loss stays -y z). With
   g = t / expm1(t) and q = 1 - t / (1 - e^-t) (g's logarithmic derivative is q, so
   dg/dz = g q): d/dz = (1 - y) t - y g and d2/dz2 = (1 - y) t - y g q; below t = 0.1, q and g by
   their series (q = -(t/2 + t^2/12 - t^4/720 + t^6/30240 - t^8/1209600), g = 1 - t/2 + t^2/12
   - t^4/720 + t^6/30240 - t^8/1209600: Bernoulli numbers), which avoid 0/0 at t = 0 and the
   cancellation of 1 - t / (1 - e^-t).
   t is e^z clamped at e^708: (1 - y) t stays finite. */
static inline double gd_cloglog_terms(double z, double y, double *r, double *h) {
    double t = gd_exp_clamped(z);
    double t2 = t * t;
    double logp, g, q;
    if (t < 1e-4)
        logp = z - 0.5 * t + t2 / 24.0;
    else if (t <= 0.69314718055994530942)
        logp = log(-expm1(-t));
    else
        logp = log1p(-exp(-t));
    if (t < 0.1) {
        double even = t2 / 12.0 - t2 * t2 / 720.0 + t2 * t2 * t2 / 30240.0;
        q = -(0.5 * t + even - t2 * t2 * t2 * t2 / 1209600.0);
        g = 1.0 - 0.5 * t + even - t2 * t2 * t2 * t2 / 1209600.0;
    } else {
        q = 1.0 - t / (-expm1(-t));
        g = t / expm1(t);                        /* 0 where expm1(t) overflows: t > 709 */
    }
    *r = (1.0 - y) * t - y * g;
    *h = (1.0 - y) * t - y * g * q;
    return -y * logp + (1.0 - y) * t;
}

/* The links whose mean must stay positive, mu = 1/z (inverse) or mu = z (identity): defined for
   z > 0 only. Outside, the loss is +inf and both derivatives 0 (no step of a line search is
   accepted there, and a run starts inside, at the intercept-only fit); zs is z where it is
   defined and 1 elsewhere, so that no branch divides by 0 or takes log of a non-positive
   number, and each function stays a chain of selects. Scalar libm log: no vectorised loop. */

/* Gamma, inverse (canonical) link: the half deviance y/mu - log(y/mu) - 1 with mu = 1/z is
   y z - log z - log y - 1; the terms here are y z - log z (the rest is the cost_offset, as for
   the log link), d/dz = y - 1/z, d2/dz2 = 1/z^2 (free of y: canonical). */
static inline double gd_gamma_inverse_terms(double z, double y, double *r, double *h) {
    int inside = z > 0;
    double zs = inside ? z : 1.0;
    double mu = 1.0 / zs;
    *r = inside ? y - mu : 0.0;
    *h = inside ? mu * mu : 0.0;
    return inside ? y * zs - log(zs) : __builtin_inf();
}

/* Poisson, identity link: the half deviance y log(y/mu) - (y - mu) with mu = z has the terms
   z - y log z (the rest, y log y - y, is the cost_offset, as for the log link);
   d/dz = 1 - y/z, d2/dz2 = y/z^2. */
static inline double gd_poisson_identity_terms(double z, double y, double *r, double *h) {
    int inside = z > 0;
    double zs = inside ? z : 1.0;
    double q = y / zs;
    *r = inside ? 1.0 - q : 0.0;
    *h = inside ? q / zs : 0.0;
    return inside ? zs - y * log(zs) : __builtin_inf();
}

/* Gamma, identity link: the terms y/z + log z of the half deviance (cost_offset -log y - 1);
   d/dz = (1 - y/z)/z, d2/dz2 = (2 y/z - 1)/z^2, negative where z > 2y (the loss is not convex
   in z there; the solvers find a local minimum, as for Tweedie p = 0 with the log link). */
static inline double gd_gamma_identity_terms(double z, double y, double *r, double *h) {
    int inside = z > 0;
    double zs = inside ? z : 1.0;
    double inv = 1.0 / zs, q = y * inv;
    *r = inside ? (1.0 - q) * inv : 0.0;
    *h = inside ? (2.0 * q - 1.0) * inv * inv : 0.0;
    return inside ? q + log(zs) : __builtin_inf();
}

/* The losses without a parameter, in the form the list below calls: (z, y, param, &r, &h). */
#define GD_NO_PARAM(fn_) \
    static inline double fn_##_p(double z, double y, double param, double *r, double *h) { \
        (void)param; return fn_(z, y, r, h); }
GD_NO_PARAM(gd_squared_terms)
GD_NO_PARAM(gd_log_loss_terms)
GD_NO_PARAM(gd_poisson_terms)
GD_NO_PARAM(gd_gamma_terms)
GD_NO_PARAM(gd_probit_terms)
GD_NO_PARAM(gd_cloglog_terms)
GD_NO_PARAM(gd_gamma_inverse_terms)
GD_NO_PARAM(gd_poisson_identity_terms)
GD_NO_PARAM(gd_gamma_identity_terms)
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
    X(5, binomial, gd_log_loss_terms_p)     /* proportions: the log loss's terms */ \
    X(6, binomial_probit, gd_probit_terms_p) \
    X(7, binomial_cloglog, gd_cloglog_terms_p) \
    X(8, gamma_inverse, gd_gamma_inverse_terms_p) \
    X(9, poisson_identity, gd_poisson_identity_terms_p) \
    X(10, gamma_identity, gd_gamma_identity_terms_p)

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
