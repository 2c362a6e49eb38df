/* activations.h: tanh without libm and the other activations, in place over rows of frames.

   Entry points:
     nd_tanh_tile(v, n)                    tanh in place over n floats (any n)
     nd_tanh_short_array(v, n)             the narrow layers' short-chain tanh (AVX-512 builds;
                                           ND_TANH_AVX512 says whether it exists)
     nd_activation_tile(v, n, code, param) activation `code` (ND_ACT_*) in place over n frames
     nd_silu_tile(v, pre, n)               v = pre * (1 + v) / 2, where v holds tanh(pre / 2)
     nd_act_k, nd_act_rows(A, v, pre, rows, n_pad)
                                           per-row activations of the extended (A2) path
                                           (PReLU slopes, ranged LeakyHardtanh), rows ND_WIDE apart
*/
#ifndef ND_ACTIVATIONS_H
#define ND_ACTIVATIONS_H

#include "common.h"

/* tanh with AVX-512 where the build has it (the formula of nd_tanh_tile below, rearranged for
   the FMA pipes, which are what narrow layers are bound by: 13 multiply-type operations and one
   division per 16 values instead of ~20). tanh|x| = E / (E + 2), E = expm1(2|x|) = 2^k (1 + p) - 1
   with |x| = k ln2/2 + h, |h| <= ln2/4, and p = expm1(2h) = 2h + h^2 Q(h), Q a degree-4 minimax
   polynomial (relative error 1.3e-8). Every element, a partial last vector included, takes this
   path, so a value never depends on where it sits in a block. */
#if defined(__AVX512F__)
#include <immintrin.h>
#define ND_TANH_AVX512 1
static inline __m512 nd_tanh_v(__m512 v) {
    const __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
    const __m512i magnitude = _mm512_set1_epi32(0x7fffffff);
    __m512 x = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), magnitude));
    x = _mm512_min_ps(x, _mm512_set1_ps(9.1f));           /* NaN -> 9.1, as the scalar form */
    __m512 kf = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(2.8853900817779268f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 h = _mm512_fnmadd_ps(kf, _mm512_set1_ps(0.34657359027997264f), x);
    __m512 q = _mm512_set1_ps(0.08884797957117004f);
    q = _mm512_fmadd_ps(q, h, _mm512_set1_ps(0.2677327066696318f));
    q = _mm512_fmadd_ps(q, h, _mm512_set1_ps(0.6666752629554217f));
    q = _mm512_fmadd_ps(q, h, _mm512_set1_ps(1.333323414566915f));
    q = _mm512_fmadd_ps(q, h, _mm512_set1_ps(1.9999999253150218f));
    __m512 p = _mm512_fmadd_ps(_mm512_mul_ps(h, h), q, _mm512_add_ps(h, h));
    __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(kf), _mm512_set1_epi32(127)), 23);
    __m512 two_k = _mm512_castsi512_ps(bits);
    __m512 e = _mm512_fmadd_ps(two_k, p, _mm512_sub_ps(two_k, one));
    __m512 d = _mm512_add_ps(e, two);
    __m512 r = _mm512_div_ps(one, d);
    __m512 t = _mm512_mul_ps(e, r);
    t = _mm512_fmadd_ps(r, _mm512_fnmadd_ps(t, d, e), t);    /* E / d to ~0.5 ulp */
    /* near 1, 1 - 2/d is the accurate (and monotonic) form */
    t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, one, _CMP_GE_OQ), t, _mm512_fnmadd_ps(two, r, one));
    /* the sign of v: bits of t under the magnitude mask, of v elsewhere */
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(magnitude, _mm512_castps_si512(t),
                                                         _mm512_castps_si512(v), 0xca));
}
/* The same tanh with a shorter dependency chain, for narrow layers, whose time is that chain
   (15 layers wait on each other): k from one FMA against 1.5 * 2^23 (rounding the exact
   product), Q by Estrin's scheme, and E / d as E * (1 / d) without the correction step.
   Max relative error 2.1e-7 over every float in [1e-30, 10] (nd_tanh_v: 1.8e-7);
   tests/test_kernels_oracle.py holds both to the same error, oddness and monotonicity bars. */
static inline __m512 nd_tanh_short_v(__m512 v) {
    const __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
    const __m512 shifter = _mm512_set1_ps(12582912.0f);        /* 1.5 * 2^23 */
    const __m512i magnitude = _mm512_set1_epi32(0x7fffffff);
    __m512 x = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), magnitude));
    x = _mm512_min_ps(x, _mm512_set1_ps(9.1f));
    __m512 j = _mm512_fmadd_ps(x, _mm512_set1_ps(2.8853900817779268f), shifter);
    __m512 kf = _mm512_sub_ps(j, shifter);
    __m512 h = _mm512_fnmadd_ps(kf, _mm512_set1_ps(0.34657359027997264f), x);
    __m512 h2 = _mm512_mul_ps(h, h);
    __m512 lo = _mm512_fmadd_ps(_mm512_set1_ps(1.333323414566915f), h, _mm512_set1_ps(1.9999999253150218f));
    __m512 mid = _mm512_fmadd_ps(_mm512_set1_ps(0.2677327066696318f), h, _mm512_set1_ps(0.6666752629554217f));
    __m512 q = _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0.08884797957117004f), h2, mid), h2, lo);
    __m512 p = _mm512_fmadd_ps(h2, q, _mm512_add_ps(h, h));
    /* j's low mantissa bits are k: 2^k = (k + 127) << 23 */
    __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_sub_epi32(_mm512_castps_si512(j),
                                     _mm512_castps_si512(shifter)), _mm512_set1_epi32(127)), 23);
    __m512 two_k = _mm512_castsi512_ps(bits);
    __m512 e = _mm512_fmadd_ps(two_k, p, _mm512_sub_ps(two_k, one));
    __m512 r = _mm512_div_ps(one, _mm512_add_ps(e, two));
    __m512 t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, one, _CMP_GE_OQ), _mm512_mul_ps(e, r),
                                    _mm512_fnmadd_ps(two, r, one));
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(magnitude, _mm512_castps_si512(t),
                                                         _mm512_castps_si512(v), 0xca));
}
/* A vector tanh over n floats in place; a partial last vector by mask. */
#define ND_TANH_OVER_ARRAY(name, tanh_v)                                                    \
static inline void name(float* p, nd_index n) {                                             \
    nd_index f = 0;                                                                         \
    for (; f + 16 <= n; f += 16)                                                            \
        _mm512_storeu_ps(p + f, tanh_v(_mm512_loadu_ps(p + f)));                            \
    if (f < n) {                                                                            \
        __mmask16 m = (__mmask16) ((1u << (n - f)) - 1u);                                   \
        _mm512_mask_storeu_ps(p + f, m, tanh_v(_mm512_maskz_loadu_ps(m, p + f)));           \
    }                                                                                       \
}
ND_TANH_OVER_ARRAY(nd_tanh_avx512, nd_tanh_v)
ND_TANH_OVER_ARRAY(nd_tanh_short_array, nd_tanh_short_v)
#else
#define ND_TANH_AVX512 0
static inline void nd_tanh_avx512(float* p, nd_index n) { (void)p; (void)n; }
static inline void nd_tanh_short_array(float* p, nd_index n) { (void)p; (void)n; }
#endif

/* tanh without libm: vectorisable, max relative error ~1.2e-7 (~2 ulp; tested against np.tanh).

   tanh|x| = E / (E + 2) with E = expm1(2|x|). expm1 by Cody-Waite reduction 2|x| = k ln2 + r,
   |r| <= ln2/2: E = 2^k expm1(r) + (2^k - 1), where expm1(r) = r (1 + r/2 + ... + r^6/7!) is a
   polynomial with no cancellation for small r (truncation ~6e-9 relative) and 2^k - 1 is exact.
   |x| is clamped to 9.1, above which float32 tanh is 1 to the last bit; that also keeps
   k <= 26 so 2^k is an exact integer power of two. */
static inline void nd_tanh_tile(float* v, nd_index n) {
    nd_index f;
    int32_t ki;
    float x, y, kf, r, pm1, two_k, e, q, sel, d, t;
    if (ND_TANH_AVX512) {
        nd_tanh_avx512(v, n);
        return;
    }
    for (f = 0; f < n; f++) {
        x = nd_clamp_posf(fabsf(v[f]), (float)9.1);
        y = (float)2.0 * x;
        ki = (int32_t)((y * (float)1.4426950408889634) + (float)0.5);
        kf = (float)ki;
        r = (y - (kf * (float)0.693145751953125)) - (kf * (float)1.428606765330187e-06);
        /* r + r^2 (1/2 + r/6 + ...): the exact leading term keeps small results to ~1 ulp. */
        pm1 = r + ((r * r) * ((float)0.5 + (r * ((float)0.16666666666666666 + (r * (
            (float)0.041666666666666664 + (r * ((float)0.008333333333333333 + (r * (
                (float)0.001388888888888889 + (r * (float)0.0001984126984126984)))))))))));
        two_k = (float)(((int32_t)1) << ki);
        e = (two_k * pm1) + (two_k - (float)1.0);
        /* One division, two forms: E q is accurate for small x, 1 - 2q near 1 (where E q would
           wobble by an ulp and break monotonicity). Blended arithmetically (one term is exactly
           0) so GCC keeps the loop vectorised. */
        d = e + (float)2.0;
        q = (float)1.0 / d;
        t = e * q;
        t = t + (q * (e - (t * d)));   /* one correction step: E / d to ~0.5 ulp */
        sel = (float)(x < (float)1.0);
        v[f] = copysignf((sel * t) + (((float)1.0 - sel) * ((float)1.0 - ((float)2.0 * q))), v[f]);
    }
}

/* Activation `code` in place over n frames (a multiple of ND_TILE). */
static inline void nd_activation_tile(float* v, nd_index n, int code, float param) {
    nd_index f;
    float x;
    switch (code) {
    case ND_ACT_TANH:
        nd_tanh_tile(v, n);
        break;
    case ND_ACT_RELU:
        for (f = 0; f < n; f++) v[f] = nd_maxf(v[f], (float)0.0);
        break;
    case ND_ACT_LEAKYRELU:
        for (f = 0; f < n; f++) {
            x = v[f];
            v[f] = nd_selectf(x >= 0, x, param * x);
        }
        break;
    case ND_ACT_SIGMOID:
    case ND_ACT_SILU:
        /* sigmoid(x) = (1 + tanh(x / 2)) / 2 keeps one accurate transcendental in the package. */
        for (f = 0; f < n; f++) v[f] = (float)0.5 * v[f];
        nd_tanh_tile(v, n);
        if (code == ND_ACT_SIGMOID)
            for (f = 0; f < n; f++) v[f] = (float)0.5 + ((float)0.5 * v[f]);
        break;
    case ND_ACT_HARDTANH:
        for (f = 0; f < n; f++) v[f] = nd_maxf(nd_minf(v[f], (float)1.0), (float)-1.0);
        break;
    case ND_ACT_LEAKYHARDTANH:
        for (f = 0; f < n; f++) {
            x = nd_maxf(nd_minf(v[f], (float)1.0), (float)-1.0);
            v[f] = x + (param * (v[f] - x));
        }
        break;
    case ND_ACT_SOFTSIGN:
        for (f = 0; f < n; f++) v[f] = v[f] / ((float)1.0 + fabsf(v[f]));
        break;
    case ND_ACT_HARDSWISH:
        for (f = 0; f < n; f++) {
            x = nd_minf(nd_maxf(v[f] + (float)3.0, (float)0.0), (float)6.0);
            v[f] = (v[f] * x) * (float)(1.0 / 6.0);
        }
        break;
    default:
        break;
    }
}

/* v holds tanh(x/2) for x = pre: silu = x * (1 + tanh(x/2)) / 2 */
static inline void nd_silu_tile(float* v, const float* pre, nd_index n) {
    nd_index f;
    for (f = 0; f < n; f++) v[f] = pre[f] * ((float)0.5 + ((float)0.5 * v[f]));
}


/* Activation A in place over rows of v (each a copy of the same row of pre), ND_WIDE apart. */
static inline void nd_act_rows(const nd_act_k* A, float* v, const float* pre, int rows, nd_index n_pad) {
    nd_index f;
    int r;
    float x, c, s;
    float* row;
    for (r = 0; r < rows; r++) {
        row = v + r * ND_WIDE;
        if (A->code == ND_ACT_PRELU) {
            s = A->slopes[r];
            for (f = 0; f < n_pad; f++) {
                x = row[f];
                row[f] = nd_selectf(x > 0, x, s * x);
            }
        } else if (A->code == ND_ACT_LEAKYHARDTANH) {
            for (f = 0; f < n_pad; f++) {
                x = row[f];
                c = nd_maxf(nd_minf(x, A->hi), A->lo);
                s = nd_selectf(x < A->lo, A->lo_slope, A->hi_slope);
                row[f] = c + (s * (x - c));
            }
        } else {
            nd_activation_tile(row, n_pad, A->code, A->param);
            if (A->code == ND_ACT_SILU) nd_silu_tile(row, pre + r * ND_WIDE, n_pad);
        }
    }
}

#endif
