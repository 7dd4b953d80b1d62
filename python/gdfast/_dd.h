/* Compensated ("double-double") sums for the least-squares refinement of gdfast._accurate.
 *
 * A value is carried as an unevaluated sum hi + lo of two doubles. Two error-free
 * transformations make it work:
 *   two_sum(a, b)  -> s + e == a + b exactly, s = fl(a + b)         (Knuth; 6 additions)
 *   two_prod(a, b) -> p + e == a * b exactly, p = fl(a * b)         (one FMA, or Dekker's split)
 * A dot product or a column sum accumulated as (s, c) -- s the running double sum, c the sum of
 * every rounding error made in it -- is as accurate as if it were computed in twice the
 * precision and then rounded (Ogita, Rump and Oishi's Dot2): error <= eps |result| +
 * (n eps)^2 sum |terms|. That is what lets the refinement see the gradient of a least-squares
 * problem whose residuals are 1e-8 of the terms that make them.
 *
 * Nothing here may be reassociated: the module is compiled without -ffast-math (the default),
 * and the sums are written in the order the analysis needs. The Dekker split is used only where
 * the target has no FMA instruction (then no contraction of a * b + c can happen either).
 */
#ifndef GDFAST_DD_H
#define GDFAST_DD_H

#include <math.h>
#include <stddef.h>

static inline void gd_two_sum(double a, double b, double *s, double *e)
{
    double t = a + b;
    double bb = t - a;
    *e = (a - (t - bb)) + (b - bb);
    *s = t;
}

/* s + e == a + b for |a| >= |b| (or a == 0): three additions */
static inline void gd_fast_two_sum(double a, double b, double *s, double *e)
{
    double t = a + b;
    *e = b - (t - a);
    *s = t;
}

static inline void gd_two_prod(double a, double b, double *p, double *e)
{
#if defined(__FMA__) || defined(__AVX512F__)
    *p = a * b;
    *e = fma(a, b, -*p);
#else
    /* Veltkamp's split of each factor into 26-bit halves, whose products are exact */
    const double split = 134217729.0;            /* 2^27 + 1 */
    double t = split * a, ah = t - (t - a), al = a - ah;
    t = split * b;
    double bh = t - (t - b), bl = b - bh;
    *p = a * b;
    *e = ((ah * bh - *p) + ah * bl + al * bh) + al * bl;
#endif
}

/* (s, c) += a * b, compensated */
static inline void gd_acc_prod(double *s, double *c, double a, double b)
{
    double p, pe, t, te;
    gd_two_prod(a, b, &p, &pe);
    gd_two_sum(*s, p, &t, &te);
    *s = t;
    *c += pe + te;
}

/* The residual y - b - x.w of one row as hi + lo, x read with stride cs. Four independent
 * accumulators (ILP), combined in a fixed order. */
#define GD_DD_RESIDUAL(NAME, T)                                                                \
static inline void NAME(const T *x, ptrdiff_t cs, const double *w, ptrdiff_t d, double y,      \
                        double b, double *hi, double *lo)                                     \
{                                                                                             \
    double s0 = y, s1 = 0.0, s2 = 0.0, s3 = 0.0, c0 = 0.0, c1 = 0.0, c2 = 0.0, c3 = 0.0, e;    \
    ptrdiff_t j = 0;                                                                          \
    gd_two_sum(s0, -b, &s0, &e);                                                              \
    c0 += e;                                                                                  \
    for (; j + 4 <= d; j += 4) {                                                              \
        gd_acc_prod(&s0, &c0, -(double)x[j * cs], w[j]);                                      \
        gd_acc_prod(&s1, &c1, -(double)x[(j + 1) * cs], w[j + 1]);                            \
        gd_acc_prod(&s2, &c2, -(double)x[(j + 2) * cs], w[j + 2]);                            \
        gd_acc_prod(&s3, &c3, -(double)x[(j + 3) * cs], w[j + 3]);                            \
    }                                                                                         \
    for (; j < d; j++)                                                                        \
        gd_acc_prod(&s0, &c0, -(double)x[j * cs], w[j]);                                      \
    gd_two_sum(s0, s1, &s0, &e); c0 += e + c1;                                                \
    gd_two_sum(s0, s2, &s0, &e); c0 += e + c2;                                                \
    gd_two_sum(s0, s3, &s0, &e); c0 += e + c3;                                                \
    gd_two_sum(s0, c0, hi, lo);                                                               \
}

GD_DD_RESIDUAL(gd_dd_residual_f64, double)
GD_DD_RESIDUAL(gd_dd_residual_f32, float)

/* The same for a contiguous row. With AVX2 and FMA: eight products per iteration in two vector
 * accumulators of four lanes (the compiler does not vectorise the scalar form: its four chains
 * are not isomorphic enough), combined with y and b in a fixed order at the end. */
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

static inline void gd_dd_acc_vec(__m256d *s, __m256d *c, __m256d x, __m256d w)
{
    __m256d p = _mm256_mul_pd(x, w);
    __m256d pe = _mm256_fmsub_pd(x, w, p);                 /* x w - p, exactly */
    __m256d t = _mm256_add_pd(*s, p);
    __m256d bb = _mm256_sub_pd(t, *s);
    __m256d te = _mm256_add_pd(_mm256_sub_pd(*s, _mm256_sub_pd(t, bb)), _mm256_sub_pd(p, bb));
    *s = t;
    *c = _mm256_add_pd(*c, _mm256_add_pd(pe, te));
}

static inline __m256d gd_load4_f64(const double *x) { return _mm256_loadu_pd(x); }
static inline __m256d gd_load4_f32(const float *x) { return _mm256_cvtps_pd(_mm_loadu_ps(x)); }

#define GD_DD_RESIDUAL_CONTIG(NAME, T, LOAD)                                                   \
static inline void NAME(const T *x, const double *w, ptrdiff_t d, double y, double b,         \
                        double *hi, double *lo)                                               \
{                                                                                             \
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, c0 = s0, c1 = s0;                              \
    ptrdiff_t j = 0;                                                                          \
    for (; j + 8 <= d; j += 8) {                                                              \
        gd_dd_acc_vec(&s0, &c0, LOAD(x + j), _mm256_loadu_pd(w + j));                          \
        gd_dd_acc_vec(&s1, &c1, LOAD(x + j + 4), _mm256_loadu_pd(w + j + 4));                  \
    }                                                                                         \
    double sl[8], cl[8], S = y, C = 0.0, e;                                                   \
    _mm256_storeu_pd(sl, s0); _mm256_storeu_pd(sl + 4, s1);                                   \
    _mm256_storeu_pd(cl, c0); _mm256_storeu_pd(cl + 4, c1);                                   \
    gd_two_sum(S, -b, &S, &e);                                                                \
    C += e;                                                                                   \
    for (int k = 0; k < 8; k++) {                                                             \
        gd_two_sum(S, -sl[k], &S, &e);                                                        \
        C += e - cl[k];                                                                       \
    }                                                                                         \
    for (; j < d; j++)                                                                        \
        gd_acc_prod(&S, &C, -(double)x[j], w[j]);                                             \
    gd_two_sum(S, C, hi, lo);                                                                 \
}
GD_DD_RESIDUAL_CONTIG(gd_dd_residual_contig_f64, double, gd_load4_f64)
GD_DD_RESIDUAL_CONTIG(gd_dd_residual_contig_f32, float, gd_load4_f32)
#else
static inline void gd_dd_residual_contig_f64(const double *x, const double *w, ptrdiff_t d,
                                             double y, double b, double *hi, double *lo)
{
    gd_dd_residual_f64(x, 1, w, d, y, b, hi, lo);
}
static inline void gd_dd_residual_contig_f32(const float *x, const double *w, ptrdiff_t d,
                                             double y, double b, double *hi, double *lo)
{
    gd_dd_residual_f32(x, 1, w, d, y, b, hi, lo);
}
#endif

/* (G, C) += x * (vh + vl) for a contiguous row x: the compensated X^T v, one row at a time. The
 * columns are independent, so the loop vectorises. */
#define GD_DD_AXPY(NAME, T)                                                                    \
static inline void NAME(const T *restrict x, ptrdiff_t d, double vh, double vl,              \
                        double *restrict G, double *restrict C)                               \
{                                                                                             \
    for (ptrdiff_t j = 0; j < d; j++) {                                                       \
        double xj = (double)x[j], p, pe, t, te;                                               \
        gd_two_prod(xj, vh, &p, &pe);                                                         \
        gd_two_sum(G[j], p, &t, &te);                                                         \
        G[j] = t;                                                                             \
        C[j] += pe + te + xj * vl;                                                            \
    }                                                                                         \
}

GD_DD_AXPY(gd_dd_axpy_f64, double)
GD_DD_AXPY(gd_dd_axpy_f32, float)

/* The upper triangle of (S, C) += u u^T * wt for one row u of length m (the row of
 * [X, 1, y] in double), compensated; S and C are m x m, row-major. */
static inline void gd_dd_gram_row(const double *restrict u, ptrdiff_t m, double wt,
                                  double *restrict S, double *restrict C)
{
    for (ptrdiff_t j = 0; j < m; j++) {
        double uh = u[j], ul = 0.0;
        if (wt != 1.0)
            gd_two_prod(u[j], wt, &uh, &ul);
        double *Sj = S + j * m, *Cj = C + j * m;
        for (ptrdiff_t k = j; k < m; k++) {
            double p, pe, t, te;
            gd_two_prod(uh, u[k], &p, &pe);
            gd_two_sum(Sj[k], p, &t, &te);
            Sj[k] = t;
            Cj[k] += pe + te + ul * u[k];
        }
    }
}

/* Arithmetic on hi + lo pairs, for the small dense factorisations (n_params square). */
typedef struct { double hi, lo; } gd_dd;

static inline gd_dd gd_dd_make(double hi, double lo)
{
    gd_dd r;
    gd_two_sum(hi, lo, &r.hi, &r.lo);
    return r;
}

static inline gd_dd gd_dd_add(gd_dd a, gd_dd b)
{
    double s, e;
    gd_two_sum(a.hi, b.hi, &s, &e);
    e += a.lo + b.lo;
    gd_dd r;
    gd_fast_two_sum(s, e, &r.hi, &r.lo);
    return r;
}

static inline gd_dd gd_dd_neg(gd_dd a)
{
    a.hi = -a.hi;
    a.lo = -a.lo;
    return a;
}

static inline gd_dd gd_dd_mul(gd_dd a, gd_dd b)
{
    double p, e;
    gd_two_prod(a.hi, b.hi, &p, &e);
    e += a.hi * b.lo + a.lo * b.hi;
    gd_dd r;
    gd_fast_two_sum(p, e, &r.hi, &r.lo);
    return r;
}

static inline gd_dd gd_dd_div(gd_dd a, gd_dd b)
{
    double q1 = a.hi / b.hi;
    gd_dd t = gd_dd_add(a, gd_dd_neg(gd_dd_mul(b, gd_dd_make(q1, 0.0))));
    double q2 = t.hi / b.hi;
    t = gd_dd_add(t, gd_dd_neg(gd_dd_mul(b, gd_dd_make(q2, 0.0))));
    double q3 = t.hi / b.hi;
    gd_dd r;
    gd_fast_two_sum(q1, q2, &r.hi, &r.lo);
    return gd_dd_add(r, gd_dd_make(q3, 0.0));
}

/* sqrt(a) for a > 0: one Newton correction of the double square root */
static inline gd_dd gd_dd_sqrt(gd_dd a)
{
    double s = sqrt(a.hi), p, e;
    gd_two_prod(s, s, &p, &e);
    double c = ((a.hi - p) - e + a.lo) / (2.0 * s);
    gd_dd r;
    gd_fast_two_sum(s, c, &r.hi, &r.lo);
    return r;
}

#endif
