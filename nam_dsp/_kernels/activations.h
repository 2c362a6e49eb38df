/* activations.h: tanh without libm and the other activations, in place over rows of frames.

   Entry points:
     nd_tanh_tile(v, n)                    tanh in place over n floats (any n)
     nd_tanh_short_vn(v)                   the narrow layers' short-chain tanh on a native vector
     nd_tanh_short_array(v, n)             the same over n floats (for the tests)
     nd_activation_tile(v, n, code, param) activation `code` (ND_ACT_*) in place over n frames
     nd_silu_tile(v, pre, n)               v = pre * (1 + v) / 2, where v holds tanh(pre / 2)
     nd_act_k, nd_act_rows(A, v, pre, rows, n_pad)
                                           per-row activations of the extended (A2) path
                                           (PReLU slopes, ranged LeakyHardtanh), rows ND_WIDE apart
*/
#ifndef ND_ACTIVATIONS_H
#define ND_ACTIVATIONS_H

#include "common.h"

/* The narrow layers' tanh on one native vector, in registers (generic vector code: one source
   for every instruction set). tanh|x| = E / (E + 2), E = expm1(2|x|) = 2^k (1 + p) - 1 with
   |x| = k ln2/2 + h, |h| <= ln2/4, and p = expm1(2h) = 2h + h^2 Q(h), Q a degree-4 minimax
   polynomial (relative error 1.3e-8), evaluated by Estrin's scheme for a short dependency chain
   (narrow layers' time is that chain: 15 layers wait on each other); k from one FMA against
   1.5 * 2^23 (j's low mantissa bits are then k), and E / d as E * (1 / d). Near 1, 1 - 2/d is
   the accurate (and monotonic) form. Max relative error 2.1e-7 with FMA over every float in
   [1e-30, 10]; tests/test_kernels_oracle.py holds it to the error, oddness and monotonicity
   bars of nd_tanh_tile, under every variant. */
static inline nd_vn nd_tanh_short_vn(nd_vn v) {
    const nd_vn one = nd_vnset1(1.0f), shifter = nd_vnset1(12582912.0f);   /* 1.5 * 2^23 */
    const nd_vn clamp = nd_vnset1(9.1f);
    nd_vn x = (nd_vn)((nd_vni)v & 0x7fffffff);
    x = nd_vnselect(x < clamp, x, clamp);                     /* NaN -> 9.1, as nd_tanh_tile */
    nd_vn j = x * 2.8853900817779268f + shifter;
    nd_vn kf = j - shifter;
    nd_vn h = x - kf * 0.34657359027997264f;
    nd_vn h2 = h * h;
    nd_vn lo = 1.333323414566915f * h + 1.9999999253150218f;
    nd_vn mid = 0.2677327066696318f * h + 0.6666752629554217f;
    nd_vn q = (0.08884797957117004f * h2 + mid) * h2 + lo;
    nd_vn p = h2 * q + (h + h);
    nd_vn two_k = (nd_vn)((((nd_vni)j - (nd_vni)shifter) + 127) << 23);
    nd_vn e = two_k * p + (two_k - one);
    nd_vn r = one / (e + 2.0f);
    nd_vn t = nd_vnselect(x >= one, one - 2.0f * r, e * r);
    /* the sign of v */
    return (nd_vn)(((nd_vni)t & 0x7fffffff) | ((nd_vni)v & (nd_vni)nd_vniset1(INT32_MIN)));
}

/* nd_tanh_short_vn over n floats in place (a partial last vector through a padded copy). */
static inline void nd_tanh_short_array(float* p, nd_index n) {
    nd_index f = 0;
    for (; f + ND_LANES <= n; f += ND_LANES) nd_vnstore(p + f, nd_tanh_short_vn(nd_vnload(p + f)));
    if (f < n) {
        float tail[ND_LANES] = {0};
        memcpy(tail, p + f, (size_t)(n - f) * sizeof(float));
        nd_vnstore(tail, nd_tanh_short_vn(nd_vnload(tail)));
        memcpy(p + f, tail, (size_t)(n - f) * sizeof(float));
    }
}

/* tanh without libm: vectorisable, max relative error ~1.2e-7 (~2 ulp; tested against np.tanh).

   tanh|x| = E / (E + 2) with E = expm1(2|x|). expm1 by Cody-Waite reduction 2|x| = k ln2 + r,
   |r| <= ln2/2: E = 2^k expm1(r) + (2^k - 1), where expm1(r) = r (1 + r/2 + ... + r^6/7!) is a
   polynomial with no cancellation for small r (truncation ~6e-9 relative) and 2^k - 1 is exact.
   |x| is clamped to 9.1, above which float32 tanh is 1 to the last bit; that also keeps
   k <= 26 so 2^k is an exact integer power of two. */
static inline void nd_tanh_tile(float* v, nd_index n) {
    nd_index f;
    int32_t ki, bits;
    float x, y, kf, r, pm1, two_k, e, q, sel, d, t;
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
        /* 2^k (0 <= k <= 26) from its bit pattern: a constant shift, which SSE2 vectorises too
           (a variable 1 << k is AVX2's per-lane shift) */
        bits = (ki + 127) << 23;
        memcpy(&two_k, &bits, 4);
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
