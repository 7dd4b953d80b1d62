/* Register tiles of the multinomial passes (gdfast/_multinomial.pyx): four rows of X times the
   K columns of Theta, and the four rows' contribution to the K-column gradient.

   The K columns are padded to KP, a multiple of 4, so that a tile is vectors of eight doubles
   (GCC's vector extension: one register with AVX-512, two with AVX2, four with SSE2; the same
   source for every instruction set) and, when KP % 8 == 4, a last vector of four (padding to a
   multiple of 8 wasted 6 of 16 columns at K = 10). A tile of four rows keeps four accumulators in
   registers across the d features, and each load of a row of Theta serves the four rows. The
   sums run over the features in order, so the results do not depend on the instruction set
   beyond the contraction into FMA. Loads and stores go through memcpy: no alignment needed. */
#ifndef GDFAST_MULTINOMIAL_SIMD_H
#define GDFAST_MULTINOMIAL_SIMD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gdfast/_loss.h"      /* gd_exp_nonpos, gd_log_near1: branch-free, so the loops below vectorise */

/* Passing a 64-byte vector by value would change the ABI without AVX-512 (-Wpsabi); these are
   static inline functions, never called across an ABI boundary. */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef double gd_mn_v8 __attribute__((vector_size(64)));

static inline gd_mn_v8 gd_mn_load(const double *p) { gd_mn_v8 v; memcpy(&v, p, sizeof v); return v; }
static inline void gd_mn_store(double *p, gd_mn_v8 v) { memcpy(p, &v, sizeof v); }
typedef double gd_mn_v4 __attribute__((vector_size(32)));
static inline gd_mn_v4 gd_mn_load4(const double *p) { gd_mn_v4 v; memcpy(&v, p, sizeof v); return v; }
static inline void gd_mn_store4(double *p, gd_mn_v4 v) { memcpy(p, &v, sizeof v); }

/* Z[r * KP + k] += sum_j x_r[j] T[j * KP + k] for the four rows x_r = x0 + r * rs (Z holds the
   intercepts, or 0, on entry). */
/* One chunk of VW columns (VT a vector of VW doubles) of the four-row tile. */
#define GD_MN_Z4_CHUNK(VT, LOAD, STORE)                                                        \
    {                                                                                         \
        VT a0 = LOAD(Z + k0), a1 = LOAD(Z + KP + k0);                                         \
        VT a2 = LOAD(Z + 2 * KP + k0), a3 = LOAD(Z + 3 * KP + k0);                            \
        const double *t = T + k0;                                                             \
        for (ptrdiff_t j = 0; j < d; j++, t += KP) {                                          \
            VT tj = LOAD(t);                                                                  \
            a0 += (double)x0[j] * tj;                                                         \
            a1 += (double)x1[j] * tj;                                                         \
            a2 += (double)x2[j] * tj;                                                         \
            a3 += (double)x3[j] * tj;                                                         \
        }                                                                                     \
        STORE(Z + k0, a0);                                                                    \
        STORE(Z + KP + k0, a1);                                                               \
        STORE(Z + 2 * KP + k0, a2);                                                           \
        STORE(Z + 3 * KP + k0, a3);                                                           \
    }

#define GD_MN_Z4(NAME, REAL)                                                                   \
static inline void NAME(const REAL *x0, ptrdiff_t rs, const double *T, ptrdiff_t d,          \
                        ptrdiff_t KP, double *Z) {                                            \
    const REAL *x1 = x0 + rs, *x2 = x1 + rs, *x3 = x2 + rs;                                   \
    ptrdiff_t k0 = 0;                                                                         \
    for (; k0 + 8 <= KP; k0 += 8)                                                             \
        GD_MN_Z4_CHUNK(gd_mn_v8, gd_mn_load, gd_mn_store)                                     \
    if (k0 < KP)                    /* KP % 8 == 4: a last chunk of four */                   \
        GD_MN_Z4_CHUNK(gd_mn_v4, gd_mn_load4, gd_mn_store4)                                   \
}

/* G[j * KP + k] += sum_r x_r[j] R[r * KP + k] for the four rows: the rows' residual tiles stay
   in registers while the gradient's rows stream through L1. */
#define GD_MN_SCATTER4_CHUNK(VT, LOAD, STORE)                                                  \
    {                                                                                         \
        VT r0 = LOAD(R + k0), r1 = LOAD(R + KP + k0);                                         \
        VT r2 = LOAD(R + 2 * KP + k0), r3 = LOAD(R + 3 * KP + k0);                            \
        double *g = G + k0;                                                                   \
        for (ptrdiff_t j = 0; j < d; j++, g += KP) {                                          \
            VT acc = LOAD(g);                                                                 \
            acc += ((double)x0[j] * r0 + (double)x1[j] * r1)                                  \
                   + ((double)x2[j] * r2 + (double)x3[j] * r3);                               \
            STORE(g, acc);                                                                    \
        }                                                                                     \
    }

#define GD_MN_SCATTER4(NAME, REAL)                                                             \
static inline void NAME(const REAL *x0, ptrdiff_t rs, const double *R, ptrdiff_t d,          \
                        ptrdiff_t KP, double *G) {                                            \
    const REAL *x1 = x0 + rs, *x2 = x1 + rs, *x3 = x2 + rs;                                   \
    ptrdiff_t k0 = 0;                                                                         \
    for (; k0 + 8 <= KP; k0 += 8)                                                             \
        GD_MN_SCATTER4_CHUNK(gd_mn_v8, gd_mn_load, gd_mn_store)                               \
    if (k0 < KP)                    /* KP % 8 == 4: a last chunk of four */                   \
        GD_MN_SCATTER4_CHUNK(gd_mn_v4, gd_mn_load4, gd_mn_store4)                             \
}

/* z[k] = exp(z[k] - mx) for k < K, and 0 for the padding K <= k < KP (exp of -1000 is 0):
   one flat loop over whole vectors, the select a ?: the vectoriser accepts. */
static inline void gd_mn_exp_row(double *z, ptrdiff_t K, ptrdiff_t KP, double mx) {
    for (ptrdiff_t k = 0; k < KP; k++) {
        double u = k < K ? z[k] - mx : -1000.0;
        z[k] = gd_exp_nonpos(u);
    }
}

/* log(1 + e) for e >= 0 (finite), to a few ulp, branch-free so that a loop over the rows of a
   block vectorises (glibc's scalar log1p took ~18% of a pass at K = 10). u = 1 + e = 2^k m with
   m in [1/sqrt2, sqrt2): log u = k ln2 + 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716; the
   bits of e that u = 1 + e rounded away come back as (e - (u - 1)) / u (u - 1 and the
   difference are exact). k is read from u's exponent bits as a double without an integer
   conversion instruction (the 2^52 trick), which AVX2 lacks for 64-bit lanes. */
static inline double gd_mn_log1p(double e) {
    double u = 1.0 + e;
    uint64_t b, kb;
    memcpy(&b, &u, sizeof b);
    kb = (b >> 52) | 0x4330000000000000ULL;              /* 2^52 + the biased exponent */
    double k;
    memcpy(&k, &kb, sizeof k);
    k -= 4503599627370496.0 + 1023.0;
    b = (b & 0x000FFFFFFFFFFFFFULL) | 0x3FF0000000000000ULL;   /* the mantissa m in [1, 2) */
    double m;
    memcpy(&m, &b, sizeof m);
    double big = m > 1.4142135623730951 ? 1.0 : 0.0;
    m *= 1.0 - 0.5 * big;                                /* [1/sqrt2, sqrt2); exact */
    k += big;
    double f = m - 1.0;                                  /* exact (Sterbenz) */
    return k * 0.6931471803691238 + gd_log_near1(f)
           + (k * 1.9082149292705877e-10 + (e - (u - 1.0)) / u);
}

/* out[r] = log1p(e[r]) for r < m (the loop the vectoriser takes). */
static inline void gd_mn_log1p_rows(const double *e, ptrdiff_t m, double *out) {
    for (ptrdiff_t r = 0; r < m; r++)
        out[r] = gd_mn_log1p(e[r]);
}

GD_MN_Z4(gd_mn_z4_f64, double)
GD_MN_Z4(gd_mn_z4_f32, float)
GD_MN_SCATTER4(gd_mn_scatter4_f64, double)
GD_MN_SCATTER4(gd_mn_scatter4_f32, float)

#endif
