/* gdfast's four-row dot products and updates, with AVX2/AVX-512 intrinsics when compiled for them (cimported through gdfast/kernels.pxd) */
#ifndef GDFAST_SIMD_H
#define GDFAST_SIMD_H

#include <stddef.h>
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

static inline void gd_dot4_f64(const double *x0, ptrdiff_t rs, const double *c, ptrdiff_t d,
                               double *out) {
    const double *x1 = x0 + rs, *x2 = x1 + rs, *x3 = x2 + rs;
    ptrdiff_t j = 0;
#if defined(__AVX512F__)
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    __m512d a2 = _mm512_setzero_pd(), a3 = _mm512_setzero_pd();
    for (; j + 8 <= d; j += 8) {
        __m512d cv = _mm512_loadu_pd(c + j);
        a0 = _mm512_fmadd_pd(_mm512_loadu_pd(x0 + j), cv, a0);
        a1 = _mm512_fmadd_pd(_mm512_loadu_pd(x1 + j), cv, a1);
        a2 = _mm512_fmadd_pd(_mm512_loadu_pd(x2 + j), cv, a2);
        a3 = _mm512_fmadd_pd(_mm512_loadu_pd(x3 + j), cv, a3);
    }
    if (j < d) {                      /* the last d mod 8 columns, by a masked load */
        __mmask8 m = (__mmask8)((1u << (d - j)) - 1u);
        __m512d cv = _mm512_maskz_loadu_pd(m, c + j);
        a0 = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(m, x0 + j), cv, a0);
        a1 = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(m, x1 + j), cv, a1);
        a2 = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(m, x2 + j), cv, a2);
        a3 = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(m, x3 + j), cv, a3);
    }
    out[0] = _mm512_reduce_add_pd(a0);
    out[1] = _mm512_reduce_add_pd(a1);
    out[2] = _mm512_reduce_add_pd(a2);
    out[3] = _mm512_reduce_add_pd(a3);
#elif defined(__AVX2__) && defined(__FMA__)
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    __m256d a2 = _mm256_setzero_pd(), a3 = _mm256_setzero_pd();
    for (; j + 4 <= d; j += 4) {
        __m256d cv = _mm256_loadu_pd(c + j);
        a0 = _mm256_fmadd_pd(_mm256_loadu_pd(x0 + j), cv, a0);
        a1 = _mm256_fmadd_pd(_mm256_loadu_pd(x1 + j), cv, a1);
        a2 = _mm256_fmadd_pd(_mm256_loadu_pd(x2 + j), cv, a2);
        a3 = _mm256_fmadd_pd(_mm256_loadu_pd(x3 + j), cv, a3);
    }
    if (j < d) {                      /* the last d mod 4 columns, by a masked load */
        __m256i m = _mm256_cmpgt_epi64(_mm256_set1_epi64x(d - j), _mm256_setr_epi64x(0, 1, 2, 3));
        __m256d cv = _mm256_maskload_pd(c + j, m);
        a0 = _mm256_fmadd_pd(_mm256_maskload_pd(x0 + j, m), cv, a0);
        a1 = _mm256_fmadd_pd(_mm256_maskload_pd(x1 + j, m), cv, a1);
        a2 = _mm256_fmadd_pd(_mm256_maskload_pd(x2 + j, m), cv, a2);
        a3 = _mm256_fmadd_pd(_mm256_maskload_pd(x3 + j, m), cv, a3);
    }
    double t[4][4];
    _mm256_storeu_pd(t[0], a0); _mm256_storeu_pd(t[1], a1);
    _mm256_storeu_pd(t[2], a2); _mm256_storeu_pd(t[3], a3);
    for (int r = 0; r < 4; r++) out[r] = (t[r][0] + t[r][1]) + (t[r][2] + t[r][3]);
#else
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0, u0 = 0, u1 = 0, u2 = 0, u3 = 0;
    for (; j + 2 <= d; j += 2) {      /* two partial sums a row: eight chains in flight */
        s0 += x0[j] * c[j]; u0 += x0[j + 1] * c[j + 1];
        s1 += x1[j] * c[j]; u1 += x1[j + 1] * c[j + 1];
        s2 += x2[j] * c[j]; u2 += x2[j + 1] * c[j + 1];
        s3 += x3[j] * c[j]; u3 += x3[j + 1] * c[j + 1];
    }
    if (j < d) {
        s0 += x0[j] * c[j]; s1 += x1[j] * c[j]; s2 += x2[j] * c[j]; s3 += x3[j] * c[j];
    }
    out[0] = s0 + u0; out[1] = s1 + u1; out[2] = s2 + u2; out[3] = s3 + u3;
#endif
}

/* H += S^T S for the m x D row-major block S, into the upper triangle of the column-major
   D x D matrix H (H[a + b * D] for a <= b), as BLAS dsyrk('U', 'N') on S seen from Fortran.
   BLAS runs at a fraction of the machine's peak for the small D of a linear model; this
   register-tiled loop does not: a tile is up to 3 vectors of consecutive a (rows of H) by
   4 columns b, 12 independent FMA chains, swept over the m rows of S while they sit in L1.
   Returns 0 (nothing done) when the module is built without AVX2/AVX-512: use dsyrk. */
#if defined(__AVX512F__)
#define GD_GV 8
typedef __m512d gd_vec;
typedef __mmask8 gd_mask;
static inline gd_mask gd_lanes(ptrdiff_t left) {
    return left >= 8 ? (gd_mask)0xff : left <= 0 ? (gd_mask)0 : (gd_mask)((1u << left) - 1u);
}
#define GD_LOAD(mk, p) _mm512_maskz_loadu_pd((mk), (p))
#define GD_STORE(mk, p, v) _mm512_mask_storeu_pd((p), (mk), (v))
#define GD_FMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define GD_ADD(a, b) _mm512_add_pd((a), (b))
#define GD_BCAST(x) _mm512_set1_pd(x)
#define GD_ZERO() _mm512_setzero_pd()
#elif defined(__AVX2__) && defined(__FMA__)
#define GD_GV 4
typedef __m256d gd_vec;
typedef __m256i gd_mask;
static inline gd_mask gd_lanes(ptrdiff_t left) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(left), _mm256_setr_epi64x(0, 1, 2, 3));
}
#define GD_LOAD(mk, p) _mm256_maskload_pd((p), (mk))
#define GD_STORE(mk, p, v) _mm256_maskstore_pd((p), (mk), (v))
#define GD_FMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define GD_ADD(a, b) _mm256_add_pd((a), (b))
#define GD_BCAST(x) _mm256_set1_pd(x)
#define GD_ZERO() _mm256_setzero_pd()
#endif

#ifdef GD_GV
/* One tile: rows a0 .. a0 + nv * GD_GV - 1 (lanes past `alim` masked off) by columns
   b0 .. b0 + 3 (columns past D skipped). nv is 1, 2 or 3; the compiler specialises each. */
static inline void gd_gram_tile(const double *S, ptrdiff_t m, ptrdiff_t D, double *H,
                                ptrdiff_t a0, ptrdiff_t alim, ptrdiff_t b0, int nv) {
    gd_mask k0 = gd_lanes(alim - a0), k1 = gd_lanes(alim - a0 - GD_GV),
            k2 = gd_lanes(alim - a0 - 2 * GD_GV);
    gd_vec c00 = GD_ZERO(), c01 = GD_ZERO(), c02 = GD_ZERO(), c03 = GD_ZERO();
    gd_vec c10 = GD_ZERO(), c11 = GD_ZERO(), c12 = GD_ZERO(), c13 = GD_ZERO();
    gd_vec c20 = GD_ZERO(), c21 = GD_ZERO(), c22 = GD_ZERO(), c23 = GD_ZERO();
    ptrdiff_t nb = D - b0 < 4 ? D - b0 : 4;
    /* columns past D read column D - 1 instead (in bounds, never stored): no branch below */
    const double *s0 = S + b0, *s1 = s0 + (nb > 1), *s2 = s0 + (nb > 2 ? 2 : nb - 1),
                 *s3 = s0 + nb - 1;
    const double *s = S;
    for (ptrdiff_t i = 0; i < m; i++, s += D) {
        gd_vec x0, x1, x2;
        ptrdiff_t o = i * D;
        gd_vec y0 = GD_BCAST(s0[o]), y1 = GD_BCAST(s1[o]);
        gd_vec y2 = GD_BCAST(s2[o]), y3 = GD_BCAST(s3[o]);
        x0 = GD_LOAD(k0, s + a0);
        c00 = GD_FMA(x0, y0, c00); c01 = GD_FMA(x0, y1, c01);
        c02 = GD_FMA(x0, y2, c02); c03 = GD_FMA(x0, y3, c03);
        if (nv > 1) {
            x1 = GD_LOAD(k1, s + a0 + GD_GV);
            c10 = GD_FMA(x1, y0, c10); c11 = GD_FMA(x1, y1, c11);
            c12 = GD_FMA(x1, y2, c12); c13 = GD_FMA(x1, y3, c13);
        }
        if (nv > 2) {
            x2 = GD_LOAD(k2, s + a0 + 2 * GD_GV);
            c20 = GD_FMA(x2, y0, c20); c21 = GD_FMA(x2, y1, c21);
            c22 = GD_FMA(x2, y2, c22); c23 = GD_FMA(x2, y3, c23);
        }
    }
    gd_vec acc[3][4] = {{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}};
    gd_mask km[3] = {k0, k1, k2};
    for (int v = 0; v < nv; v++)
        for (ptrdiff_t u = 0; u < nb; u++) {
            double *h = H + (b0 + u) * D + a0 + v * GD_GV;
            GD_STORE(km[v], h, GD_ADD(GD_LOAD(km[v], h), acc[v][u]));
        }
}
#endif

static inline int gd_gram_available(void) {
#ifdef GD_GV
    return 1;
#else
    return 0;
#endif
}

static inline int gd_gram_upper(const double *S, ptrdiff_t m, ptrdiff_t D, double *H) {
#ifdef GD_GV
    for (ptrdiff_t b0 = 0; b0 < D; b0 += 4) {
        /* rows a <= the tile's last column: the upper triangle (a few entries below it are
           computed too; the caller reads only a <= b) */
        ptrdiff_t alim = b0 + 4 < D ? b0 + 4 : D;
        for (ptrdiff_t a0 = 0; a0 < alim; a0 += 3 * GD_GV) {
            ptrdiff_t left = (alim - a0 + GD_GV - 1) / GD_GV;
            if (left >= 3) gd_gram_tile(S, m, D, H, a0, alim, b0, 3);
            else if (left == 2) gd_gram_tile(S, m, D, H, a0, alim, b0, 2);
            else gd_gram_tile(S, m, D, H, a0, alim, b0, 1);
        }
    }
    return 1;
#else
    (void)S; (void)m; (void)D; (void)H;
    return 0;
#endif
}

/* g[j] += x0[j] r[0] + x1[j] r[1] + x2[j] r[2] + x3[j] r[3] for j < d (rows x_k = x0 + k rs):
   the gradient update of four rows, g loaded and stored once, the tail by masked loads (GCC's
   own vectorisation of the plain loop spent a scalar epilogue and an aliasing check on every
   call: 51 instructions a row at d = 100 float32 in the AVX2 build). Returns 0 when the
   module has no vector path (the caller's plain loop runs instead). */
static inline int gd_axpy4_f64(const double *x0, ptrdiff_t rs, const double *r, ptrdiff_t d,
                               double *g) {
#if defined(__AVX512F__)
    const double *x1 = x0 + rs, *x2 = x1 + rs, *x3 = x2 + rs;
    __m512d r0 = _mm512_set1_pd(r[0]), r1 = _mm512_set1_pd(r[1]);
    __m512d r2 = _mm512_set1_pd(r[2]), r3 = _mm512_set1_pd(r[3]);
    ptrdiff_t j = 0;
    for (; j + 8 <= d; j += 8) {
        __m512d a = _mm512_fmadd_pd(_mm512_loadu_pd(x0 + j), r0, _mm512_loadu_pd(g + j));
        __m512d b = _mm512_mul_pd(_mm512_loadu_pd(x1 + j), r1);
        a = _mm512_fmadd_pd(_mm512_loadu_pd(x2 + j), r2, a);
        b = _mm512_fmadd_pd(_mm512_loadu_pd(x3 + j), r3, b);
        _mm512_storeu_pd(g + j, _mm512_add_pd(a, b));
    }
    if (j < d) {
        __mmask8 m = (__mmask8)((1u << (d - j)) - 1u);
        __m512d a = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(m, x0 + j), r0, _mm512_maskz_loadu_pd(m, g + j));
        __m512d b = _mm512_mul_pd(_mm512_maskz_loadu_pd(m, x1 + j), r1);
        a = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(m, x2 + j), r2, a);
        b = _mm512_fmadd_pd(_mm512_maskz_loadu_pd(m, x3 + j), r3, b);
        _mm512_mask_storeu_pd(g + j, m, _mm512_add_pd(a, b));
    }
    return 1;
#elif defined(__AVX2__) && defined(__FMA__)
    const double *x1 = x0 + rs, *x2 = x1 + rs, *x3 = x2 + rs;
    __m256d r0 = _mm256_set1_pd(r[0]), r1 = _mm256_set1_pd(r[1]);
    __m256d r2 = _mm256_set1_pd(r[2]), r3 = _mm256_set1_pd(r[3]);
    for (ptrdiff_t j = 0; j < d; j += 4) {
        __m256i m = _mm256_cmpgt_epi64(_mm256_set1_epi64x(d - j), _mm256_setr_epi64x(0, 1, 2, 3));
        __m256d a = _mm256_fmadd_pd(_mm256_maskload_pd(x0 + j, m), r0, _mm256_maskload_pd(g + j, m));
        __m256d b = _mm256_mul_pd(_mm256_maskload_pd(x1 + j, m), r1);
        a = _mm256_fmadd_pd(_mm256_maskload_pd(x2 + j, m), r2, a);
        b = _mm256_fmadd_pd(_mm256_maskload_pd(x3 + j, m), r3, b);
        _mm256_maskstore_pd(g + j, m, _mm256_add_pd(a, b));
    }
    return 1;
#else
    (void)x0; (void)rs; (void)r; (void)d; (void)g;
    return 0;
#endif
}

static inline int gd_axpy4_f32(const float *x0, ptrdiff_t rs, const float *r, ptrdiff_t d,
                               float *g) {
#if defined(__AVX512F__)
    const float *x1 = x0 + rs, *x2 = x1 + rs, *x3 = x2 + rs;
    __m512 r0 = _mm512_set1_ps(r[0]), r1 = _mm512_set1_ps(r[1]);
    __m512 r2 = _mm512_set1_ps(r[2]), r3 = _mm512_set1_ps(r[3]);
    ptrdiff_t j = 0;
    for (; j + 16 <= d; j += 16) {
        __m512 a = _mm512_fmadd_ps(_mm512_loadu_ps(x0 + j), r0, _mm512_loadu_ps(g + j));
        __m512 b = _mm512_mul_ps(_mm512_loadu_ps(x1 + j), r1);
        a = _mm512_fmadd_ps(_mm512_loadu_ps(x2 + j), r2, a);
        b = _mm512_fmadd_ps(_mm512_loadu_ps(x3 + j), r3, b);
        _mm512_storeu_ps(g + j, _mm512_add_ps(a, b));
    }
    if (j < d) {
        __mmask16 m = (__mmask16)((1u << (d - j)) - 1u);
        __m512 a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x0 + j), r0, _mm512_maskz_loadu_ps(m, g + j));
        __m512 b = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x1 + j), r1);
        a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x2 + j), r2, a);
        b = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x3 + j), r3, b);
        _mm512_mask_storeu_ps(g + j, m, _mm512_add_ps(a, b));
    }
    return 1;
#elif defined(__AVX2__) && defined(__FMA__)
    const float *x1 = x0 + rs, *x2 = x1 + rs, *x3 = x2 + rs;
    __m256 r0 = _mm256_set1_ps(r[0]), r1 = _mm256_set1_ps(r[1]);
    __m256 r2 = _mm256_set1_ps(r[2]), r3 = _mm256_set1_ps(r[3]);
    for (ptrdiff_t j = 0; j < d; j += 8) {
        ptrdiff_t left = d - j < 8 ? d - j : 8;
        __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 a = _mm256_fmadd_ps(_mm256_maskload_ps(x0 + j, m), r0, _mm256_maskload_ps(g + j, m));
        __m256 b = _mm256_mul_ps(_mm256_maskload_ps(x1 + j, m), r1);
        a = _mm256_fmadd_ps(_mm256_maskload_ps(x2 + j, m), r2, a);
        b = _mm256_fmadd_ps(_mm256_maskload_ps(x3 + j, m), r3, b);
        _mm256_maskstore_ps(g + j, m, _mm256_add_ps(a, b));
    }
    return 1;
#else
    (void)x0; (void)rs; (void)r; (void)d; (void)g;
    return 0;
#endif
}

/* Ask for the bytes [p, p + bytes) to be brought into L2 (prefetcht1), one request per line. */
static inline void gd_prefetch_l2(const void *p, ptrdiff_t bytes) {
    const char *c = (const char *)p, *e = c + bytes;
    for (; c + 256 <= e; c += 256) {          /* unrolled: the loop was 4 instructions a line */
        __builtin_prefetch(c, 0, 2);
        __builtin_prefetch(c + 64, 0, 2);
        __builtin_prefetch(c + 128, 0, 2);
        __builtin_prefetch(c + 192, 0, 2);
    }
    for (; c < e; c += 64) __builtin_prefetch(c, 0, 2);
}

/* The same for float32 rows, summed in float. */
static inline void gd_dot4_f32(const float *x0, ptrdiff_t rs, const float *c, ptrdiff_t d,
                               float *out) {
    const float *x1 = x0 + rs, *x2 = x1 + rs, *x3 = x2 + rs;
    ptrdiff_t j = 0;
#if defined(__AVX512F__)
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    for (; j + 16 <= d; j += 16) {
        __m512 cv = _mm512_loadu_ps(c + j);
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x0 + j), cv, a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x1 + j), cv, a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x2 + j), cv, a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x3 + j), cv, a3);
    }
    if (j < d) {
        __mmask16 m = (__mmask16)((1u << (d - j)) - 1u);
        __m512 cv = _mm512_maskz_loadu_ps(m, c + j);
        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x0 + j), cv, a0);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x1 + j), cv, a1);
        a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x2 + j), cv, a2);
        a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x3 + j), cv, a3);
    }
    out[0] = _mm512_reduce_add_ps(a0);
    out[1] = _mm512_reduce_add_ps(a1);
    out[2] = _mm512_reduce_add_ps(a2);
    out[3] = _mm512_reduce_add_ps(a3);
#elif defined(__AVX2__) && defined(__FMA__)
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    for (; j + 8 <= d; j += 8) {
        __m256 cv = _mm256_loadu_ps(c + j);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x0 + j), cv, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x1 + j), cv, a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x2 + j), cv, a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x3 + j), cv, a3);
    }
    if (j < d) {
        __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(d - j)),
                                       _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 cv = _mm256_maskload_ps(c + j, m);
        a0 = _mm256_fmadd_ps(_mm256_maskload_ps(x0 + j, m), cv, a0);
        a1 = _mm256_fmadd_ps(_mm256_maskload_ps(x1 + j, m), cv, a1);
        a2 = _mm256_fmadd_ps(_mm256_maskload_ps(x2 + j, m), cv, a2);
        a3 = _mm256_fmadd_ps(_mm256_maskload_ps(x3 + j, m), cv, a3);
    }
    float t[4][8];
    _mm256_storeu_ps(t[0], a0); _mm256_storeu_ps(t[1], a1);
    _mm256_storeu_ps(t[2], a2); _mm256_storeu_ps(t[3], a3);
    for (int r = 0; r < 4; r++)
        out[r] = ((t[r][0] + t[r][1]) + (t[r][2] + t[r][3]))
                 + ((t[r][4] + t[r][5]) + (t[r][6] + t[r][7]));
#else
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0, u0 = 0, u1 = 0, u2 = 0, u3 = 0;
    for (; j + 2 <= d; j += 2) {
        s0 += x0[j] * c[j]; u0 += x0[j + 1] * c[j + 1];
        s1 += x1[j] * c[j]; u1 += x1[j + 1] * c[j + 1];
        s2 += x2[j] * c[j]; u2 += x2[j + 1] * c[j + 1];
        s3 += x3[j] * c[j]; u3 += x3[j + 1] * c[j + 1];
    }
    if (j < d) {
        s0 += x0[j] * c[j]; s1 += x1[j] * c[j]; s2 += x2[j] * c[j]; s3 += x3[j] * c[j];
    }
    out[0] = s0 + u0; out[1] = s1 + u1; out[2] = s2 + u2; out[3] = s3 + u3;
#endif
}

#endif  /* GDFAST_SIMD_H */
