# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Arithmetic only: the streaming kernels behind nam_dsp's models.

Layout. Every signal inside a WaveNet is channel-major: one row of frames per channel. Each
layer keeps the history of its input in a buffer of ``2 * lookback + CHUNK + TILE`` frames per row
that is rewound (the last ``lookback`` frames copied to the front) when full, so every tap of a
dilated conv reads one contiguous run of frames.

Work is done in tiles of TILE frames; a block whose length is not a multiple of TILE is padded
(the padded frames are computed but never become history), so every frame is computed by the same
instructions whatever the block partition: the output is bit-identical for any partition.

Widths. A slimmable model runs its first ``width`` channels: the loops' bounds change, the weight
strides (full channel count) do not. Nothing is reallocated.

Every function called per block is ``noexcept nogil`` and allocates nothing. The per-block entry
points take NumPy arrays and read their data pointers through NumPy's C API rather than typed
memoryviews: acquiring a memoryview creates a Python object on every call, which a real-time
audio callback must not do.

Vectors. The convolution micro-kernels use a 16-float vector type (GCC/Clang vector extension)
so the register blocking is explicit; elementwise loops are written for the auto-vectoriser
(branch-free: conditional expressions, bit-pattern clamps) and checked with -fopt-info-vec.
"""

from libc.stdlib cimport free
from libc.string cimport memcpy, memmove, memset
from libc.math cimport fabsf, copysignf, isfinite
from libc.stdint cimport int32_t
cimport numpy as cnp
import numpy as np

from nam_dsp.spec import FILM_KEYS

cnp.import_array()

cdef extern from "stdlib.h" nogil:
    int posix_memalign(void **memptr, size_t alignment, size_t size)

# Branch-free min / max written as C conditional expressions: GCC vectorises these, while
# Cython's if/else for `a if c else b` and libm's fminf (NaN rules) keep loops scalar.
# nd_clamp_posf(x, c) = min(x, c) for x >= 0 (NaN -> c) on the bit patterns, with no comparison
# at all: inside tanh GCC turns any float comparison into a branch and gives up vectorising.
cdef extern from *:
    """
    #include <string.h>
    static inline float nd_clamp_posf(float x, float c) {
        int32_t xi, ci, d; float r;
        memcpy(&xi, &x, 4); memcpy(&ci, &c, 4);
        d = xi - ci;
        xi = ci + (d & (d >> 31));
        memcpy(&r, &xi, 4);
        return r;
    }
    static inline float nd_minf(float a, float b) { return a < b ? a : b; }
    static inline float nd_maxf(float a, float b) { return a > b ? a : b; }
    static inline float nd_selectf(int c, float a, float b) { return c ? a : b; }
    """
    float nd_clamp_posf(float x, float c) noexcept nogil
    float nd_minf(float a, float b) noexcept nogil
    float nd_maxf(float a, float b) noexcept nogil
    float nd_selectf(int c, float a, float b) noexcept nogil

# tanh with AVX-512 where the build has it (the formula of tanh_tile below, rearranged for the
# FMA pipes, which are what narrow layers are bound by: 13 multiply-type operations and one
# division per 16 values instead of ~20). tanh|x| = E / (E + 2), E = expm1(2|x|) = 2^k (1 + p) - 1
# with |x| = k ln2/2 + h, |h| <= ln2/4, and p = expm1(2h) = 2h + h^2 Q(h), Q a degree-4 minimax
# polynomial (relative error 1.3e-8). Every element, a partial last vector included, takes this
# path, so a value never depends on where it sits in a block.
cdef extern from *:
    """
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
       Max relative error 2.1e-7 over every float in [1e-30, 10] (the general form: 1.8e-7);
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
    static inline void name(float* p, Py_ssize_t n) {                                           \
        Py_ssize_t f = 0;                                                                       \
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
    static inline void nd_tanh_avx512(float* p, Py_ssize_t n) { (void)p; (void)n; }
    static inline void nd_tanh_short_array(float* p, Py_ssize_t n) { (void)p; (void)n; }
    #endif
    """
    bint ND_TANH_AVX512
    void nd_tanh_avx512(float* p, Py_ssize_t n) noexcept nogil
    void nd_tanh_short_array(float* p, Py_ssize_t n) noexcept nogil

# One vector of TILE (16) floats, as a GCC/Clang vector type: the micro-kernels below say
# exactly which values live in registers instead of hoping the auto-vectoriser finds it. On
# machines without 512-bit registers the compiler splits each operation into narrower ones.
# Cython sees the type as a float; C does the vector arithmetic (a scalar operand broadcasts).
cdef extern from *:
    """
    typedef float nd_vfloat __attribute__((vector_size(64), aligned(4), may_alias));
    static inline nd_vfloat nd_vzero(void) { nd_vfloat z = {0}; return z; }
    static inline nd_vfloat nd_vload(const float* p) { return *(const nd_vfloat*)p; }
    static inline void nd_vstore(float* p, nd_vfloat v) { *(nd_vfloat*)p = v; }
    """
    ctypedef float vfloat "nd_vfloat"
    vfloat vzero "nd_vzero"() noexcept nogil
    vfloat vload "nd_vload"(const float* p) noexcept nogil
    void vstore "nd_vstore"(float* p, vfloat v) noexcept nogil

# Narrow layers (width <= 4): passes over a chunk that each compute every active row of a group
# of tiles at once, so each input vector loaded feeds all rows. With tanh on AVX-512 builds the
# whole layer is one pass (tanh in registers); otherwise a conv pass and a post pass (head sum,
# layer 1x1 and residual: three passes on the general path) run around activation_tile.
# C (rows) and T (tiles per group) are constants in each instantiation so the accumulators stay
# in registers; a chunk's last tiles run with T = 1, and since every frame gets the same
# operations in the same order in any group, the output does not depend on how the chunk splits
# into groups. At these widths a
# block's time is mostly latency (each layer waits for the one before, and tanh is most of a
# layer's chain), so every sum starts from the terms known early (bias and mixin; residual and
# 1x1 bias) and ends with the newest values: one chain per row over (input, tap), oldest tap
# first.
cdef extern from *:
    """
    #define ND_NARROW_MAX 4
    #define ND_TILE 16
    #define ND_UNROLL _Pragma("GCC unroll 16")

    /* z[o][t] = (b[o] + m[o] cond[t0 + 16 t]) + sum_{i,k} w[o, i, k] src[i, t0 + 16 t - (K-1-k) dil] */
    static inline __attribute__((always_inline)) void nd_narrow_conv_regs(
            nd_vfloat z[ND_NARROW_MAX][4], Py_ssize_t t0, const float* w, Py_ssize_t w_row,
            int k_taps, int dil, const float* src, Py_ssize_t src_stride, const float* b,
            const float* m, const float* cond, const int C, const int T) {
        nd_vfloat x[4];
        ND_UNROLL for (int o = 0; o < C; o++)
            ND_UNROLL for (int t = 0; t < T; t++) z[o][t] = b[o] + m[o] * nd_vload(cond + t0 + ND_TILE * t);
        ND_UNROLL for (int i = 0; i < C; i++) {
            for (int k = 0; k < k_taps; k++) {
                const float* s = src + i * src_stride + t0 - (Py_ssize_t)(k_taps - 1 - k) * dil;
                const float* wk = w + i * k_taps + k;
                ND_UNROLL for (int t = 0; t < T; t++) x[t] = nd_vload(s + ND_TILE * t);
                ND_UNROLL for (int o = 0; o < C; o++) {
                    const float wo = wk[o * w_row];
                    ND_UNROLL for (int t = 0; t < T; t++) z[o][t] = z[o][t] + wo * x[t];
                }
            }
        }
    }

    static inline __attribute__((always_inline)) void nd_narrow_conv_group(
            float* z, Py_ssize_t z_stride, Py_ssize_t t0, const float* w, Py_ssize_t w_row,
            int k_taps, int dil, const float* src, Py_ssize_t src_stride, const float* b,
            const float* m, const float* cond, const int C, const int T) {
        nd_vfloat acc[ND_NARROW_MAX][4];
        nd_narrow_conv_regs(acc, t0, w, w_row, k_taps, dil, src, src_stride, b, m, cond, C, T);
        ND_UNROLL for (int o = 0; o < C; o++)
            ND_UNROLL for (int t = 0; t < T; t++) nd_vstore(z + o * z_stride + t0 + ND_TILE * t, acc[o][t]);
    }

    /* head[o] += a[o]; dst[o] = (src[o] + u_b[o]) + sum_i u[o, i] a[i] (src[o] alone without u),
       skipped when dst is NULL. */
    static inline __attribute__((always_inline)) void nd_narrow_post_regs(
            nd_vfloat av[ND_NARROW_MAX][4], Py_ssize_t t0, float* head, Py_ssize_t head_stride,
            const float* u, Py_ssize_t u_row, const float* u_b, const float* src,
            Py_ssize_t src_stride, float* dst, Py_ssize_t dst_stride, const int C, const int T) {
        ND_UNROLL for (int o = 0; o < C; o++)
            ND_UNROLL for (int t = 0; t < T; t++) {
                float* hp = head + o * head_stride + t0 + ND_TILE * t;
                nd_vstore(hp, nd_vload(hp) + av[o][t]);
            }
        if (dst == NULL) return;
        ND_UNROLL for (int o = 0; o < C; o++)
            ND_UNROLL for (int t = 0; t < T; t++) {
                nd_vfloat r = nd_vload(src + o * src_stride + t0 + ND_TILE * t);
                if (u != NULL) {
                    r = r + u_b[o];
                    ND_UNROLL for (int i = 0; i < C; i++) r = r + u[o * u_row + i] * av[i][t];
                }
                nd_vstore(dst + o * dst_stride + t0 + ND_TILE * t, r);
            }
    }

    static inline __attribute__((always_inline)) void nd_narrow_post_group(
            const float* a, Py_ssize_t a_stride, Py_ssize_t t0, float* head, Py_ssize_t head_stride,
            const float* u, Py_ssize_t u_row, const float* u_b, const float* src,
            Py_ssize_t src_stride, float* dst, Py_ssize_t dst_stride, const int C, const int T) {
        nd_vfloat av[ND_NARROW_MAX][4];
        ND_UNROLL for (int o = 0; o < C; o++)
            ND_UNROLL for (int t = 0; t < T; t++) av[o][t] = nd_vload(a + o * a_stride + t0 + ND_TILE * t);
        nd_narrow_post_regs(av, t0, head, head_stride, u, u_row, u_b, src, src_stride, dst, dst_stride, C, T);
    }

    /* The whole layer for one tile group, tanh (its short-chain form) applied in registers:
       AVX-512 builds only (narrow_layer calls it only there); elsewhere the conv pass,
       activation_tile and the post pass do the same work through z. */
    static inline __attribute__((always_inline)) void nd_narrow_tanh_group(
            Py_ssize_t t0, const float* w, Py_ssize_t w_row, int k_taps, int dil, const float* src,
            Py_ssize_t src_stride, const float* b, const float* m, const float* cond, float* head,
            Py_ssize_t head_stride, const float* u, Py_ssize_t u_row, const float* u_b, float* dst,
            Py_ssize_t dst_stride, const int C, const int T) {
    #if ND_TANH_AVX512
        nd_vfloat v[ND_NARROW_MAX][4];
        nd_narrow_conv_regs(v, t0, w, w_row, k_taps, dil, src, src_stride, b, m, cond, C, T);
        ND_UNROLL for (int o = 0; o < C; o++)
            ND_UNROLL for (int t = 0; t < T; t++) v[o][t] = (nd_vfloat) nd_tanh_short_v((__m512) v[o][t]);
        nd_narrow_post_regs(v, t0, head, head_stride, u, u_row, u_b, src, src_stride, dst, dst_stride, C, T);
    #endif
    }

    /* One pass over n_pad frames (a multiple of ND_TILE) at C rows: groups of T tiles, then T = 1. */
    #define ND_NARROW_PASSES(C, T)                                                                \
    static void nd_narrow_conv_##C(float* z, Py_ssize_t z_stride, Py_ssize_t n_pad,             \
            const float* w, Py_ssize_t w_row, int k_taps, int dil, const float* src,           \
            Py_ssize_t src_stride, const float* b, const float* m, const float* cond) {         \
        Py_ssize_t t0 = 0;                                                                       \
        for (; t0 + T * ND_TILE <= n_pad; t0 += T * ND_TILE)                                     \
            nd_narrow_conv_group(z, z_stride, t0, w, w_row, k_taps, dil, src, src_stride, b, m, \
                                 cond, C, T);                                                    \
        for (; t0 < n_pad; t0 += ND_TILE)                                                        \
            nd_narrow_conv_group(z, z_stride, t0, w, w_row, k_taps, dil, src, src_stride, b, m, \
                                 cond, C, 1);                                                    \
    }                                                                                            \
    static void nd_narrow_tanh_##C(Py_ssize_t n_pad, const float* w, Py_ssize_t w_row,       \
            int k_taps, int dil, const float* src, Py_ssize_t src_stride, const float* b,       \
            const float* m, const float* cond, float* head, Py_ssize_t head_stride,              \
            const float* u, Py_ssize_t u_row, const float* u_b, float* dst,                      \
            Py_ssize_t dst_stride) {                                                             \
        Py_ssize_t t0 = 0;                                                                       \
        for (; t0 + T * ND_TILE <= n_pad; t0 += T * ND_TILE)                                     \
            nd_narrow_tanh_group(t0, w, w_row, k_taps, dil, src, src_stride, b, m, cond, head,  \
                                 head_stride, u, u_row, u_b, dst, dst_stride, C, T);             \
        for (; t0 < n_pad; t0 += ND_TILE)                                                        \
            nd_narrow_tanh_group(t0, w, w_row, k_taps, dil, src, src_stride, b, m, cond, head,  \
                                 head_stride, u, u_row, u_b, dst, dst_stride, C, 1);             \
    }                                                                                            \
    static void nd_narrow_post_##C(const float* a, Py_ssize_t a_stride, Py_ssize_t n_pad,       \
            float* head, Py_ssize_t head_stride, const float* u, Py_ssize_t u_row,              \
            const float* u_b, const float* src, Py_ssize_t src_stride, float* dst,              \
            Py_ssize_t dst_stride) {                                                             \
        Py_ssize_t t0 = 0;                                                                       \
        for (; t0 + T * ND_TILE <= n_pad; t0 += T * ND_TILE)                                     \
            nd_narrow_post_group(a, a_stride, t0, head, head_stride, u, u_row, u_b, src,        \
                                 src_stride, dst, dst_stride, C, T);                             \
        for (; t0 < n_pad; t0 += ND_TILE)                                                        \
            nd_narrow_post_group(a, a_stride, t0, head, head_stride, u, u_row, u_b, src,        \
                                 src_stride, dst, dst_stride, C, 1);                             \
    }
    ND_NARROW_PASSES(1, 4)
    ND_NARROW_PASSES(2, 2)
    ND_NARROW_PASSES(3, 2)
    ND_NARROW_PASSES(4, 2)

    typedef void (*nd_narrow_conv_fn)(float*, Py_ssize_t, Py_ssize_t, const float*, Py_ssize_t,
                                      int, int, const float*, Py_ssize_t, const float*,
                                      const float*, const float*);
    typedef void (*nd_narrow_post_fn)(const float*, Py_ssize_t, Py_ssize_t, float*, Py_ssize_t,
                                      const float*, Py_ssize_t, const float*, const float*,
                                      Py_ssize_t, float*, Py_ssize_t);
    typedef void (*nd_narrow_tanh_fn)(Py_ssize_t, const float*, Py_ssize_t, int, int, const float*,
                                      Py_ssize_t, const float*, const float*, const float*, float*,
                                      Py_ssize_t, const float*, Py_ssize_t, const float*, float*,
                                      Py_ssize_t);
    static const nd_narrow_tanh_fn nd_narrow_tanh[ND_NARROW_MAX + 1] =
        {NULL, nd_narrow_tanh_1, nd_narrow_tanh_2, nd_narrow_tanh_3, nd_narrow_tanh_4};
    static inline void nd_narrow_tanh_pass(int C, Py_ssize_t n_pad, const float* w, Py_ssize_t w_row,
            int k_taps, int dil, const float* src, Py_ssize_t src_stride, const float* b,
            const float* m, const float* cond, float* head, Py_ssize_t head_stride, const float* u,
            Py_ssize_t u_row, const float* u_b, float* dst, Py_ssize_t dst_stride) {
        nd_narrow_tanh[C](n_pad, w, w_row, k_taps, dil, src, src_stride, b, m, cond, head,
                          head_stride, u, u_row, u_b, dst, dst_stride);
    }
    static const nd_narrow_conv_fn nd_narrow_conv[ND_NARROW_MAX + 1] =
        {NULL, nd_narrow_conv_1, nd_narrow_conv_2, nd_narrow_conv_3, nd_narrow_conv_4};
    static const nd_narrow_post_fn nd_narrow_post[ND_NARROW_MAX + 1] =
        {NULL, nd_narrow_post_1, nd_narrow_post_2, nd_narrow_post_3, nd_narrow_post_4};
    static inline void nd_narrow_conv_pass(int C, float* z, Py_ssize_t z_stride, Py_ssize_t n_pad,
            const float* w, Py_ssize_t w_row, int k_taps, int dil, const float* src,
            Py_ssize_t src_stride, const float* b, const float* m, const float* cond) {
        nd_narrow_conv[C](z, z_stride, n_pad, w, w_row, k_taps, dil, src, src_stride, b, m, cond);
    }
    static inline void nd_narrow_post_pass(int C, const float* a, Py_ssize_t a_stride,
            Py_ssize_t n_pad, float* head, Py_ssize_t head_stride, const float* u, Py_ssize_t u_row,
            const float* u_b, const float* src, Py_ssize_t src_stride, float* dst,
            Py_ssize_t dst_stride) {
        nd_narrow_post[C](a, a_stride, n_pad, head, head_stride, u, u_row, u_b, src, src_stride,
                          dst, dst_stride);
    }
    """
    int NARROW_MAX "ND_NARROW_MAX"
    void narrow_tanh_pass "nd_narrow_tanh_pass"(int C, Py_ssize_t n_pad, const float* w,
            Py_ssize_t w_row, int k_taps, int dil, const float* src, Py_ssize_t src_stride,
            const float* b, const float* m, const float* cond, float* head, Py_ssize_t head_stride,
            const float* u, Py_ssize_t u_row, const float* u_b, float* dst,
            Py_ssize_t dst_stride) noexcept nogil
    void narrow_conv_pass "nd_narrow_conv_pass"(int C, float* z, Py_ssize_t z_stride,
            Py_ssize_t n_pad, const float* w, Py_ssize_t w_row, int k_taps, int dil,
            const float* src, Py_ssize_t src_stride, const float* b, const float* m,
            const float* cond) noexcept nogil
    void narrow_post_pass "nd_narrow_post_pass"(int C, const float* a, Py_ssize_t a_stride,
            Py_ssize_t n_pad, float* head, Py_ssize_t head_stride, const float* u,
            Py_ssize_t u_row, const float* u_b, const float* src, Py_ssize_t src_stride,
            float* dst, Py_ssize_t dst_stride) noexcept nogil

# Frames per tile (the vectorised inner dimension) and the longest chunk run at once.
DEF TILE = 16
DEF CHUNK = 512


# Activation codes (keep in step with nam_dsp.spec.ACTIVATION_CODES).
DEF ACT_IDENTITY = 0
DEF ACT_TANH = 1
DEF ACT_RELU = 2
DEF ACT_LEAKYRELU = 3
DEF ACT_SIGMOID = 4
DEF ACT_HARDTANH = 5
DEF ACT_LEAKYHARDTANH = 6
DEF ACT_SOFTSIGN = 7
DEF ACT_SILU = 8
DEF ACT_HARDSWISH = 9
DEF ACT_PRELU = 10      # per-channel slopes: the general layer path only (act_rows)

DEF GATE_NONE = 0
DEF GATE_GATED = 1
DEF GATE_BLENDED = 2


# ---------------------------------------------------------------------------------------------
# tanh without libm: vectorisable, max relative error ~1.2e-7 (~2 ulp; tested against np.tanh).
#
# tanh|x| = E / (E + 2) with E = expm1(2|x|). expm1 by Cody-Waite reduction 2|x| = k ln2 + r,
# |r| <= ln2/2: E = 2^k expm1(r) + (2^k - 1), where expm1(r) = r (1 + r/2 + ... + r^6/7!) is a
# polynomial with no cancellation for small r (truncation ~6e-9 relative) and 2^k - 1 is exact.
# |x| is clamped to 9.1, above which float32 tanh is 1 to the last bit; that also keeps
# k <= 26 so 2^k is an exact integer power of two.
# ---------------------------------------------------------------------------------------------

cdef inline void tanh_tile(float* v, Py_ssize_t n) noexcept nogil:
    """tanh in place over n floats."""
    cdef Py_ssize_t f
    cdef int32_t ki
    cdef float x, y, kf, r, pm1, two_k, e, q, sel, d, t
    if ND_TANH_AVX512:
        nd_tanh_avx512(v, n)
        return
    for f in range(n):
        x = nd_clamp_posf(fabsf(v[f]), <float> 9.1)
        y = <float> 2.0 * x
        ki = <int32_t> (y * <float> 1.4426950408889634 + <float> 0.5)
        kf = <float> ki
        r = y - kf * <float> 0.693145751953125 - kf * <float> 1.428606765330187e-06
        # r + r^2 (1/2 + r/6 + ...): the exact leading term keeps small results to ~1 ulp.
        pm1 = r + (r * r) * (<float> 0.5 + r * (<float> 0.16666666666666666 + r * (
            <float> 0.041666666666666664 + r * (<float> 0.008333333333333333 + r * (
                <float> 0.001388888888888889 + r * <float> 0.0001984126984126984)))))
        two_k = <float> (<int32_t> 1 << ki)
        e = two_k * pm1 + (two_k - <float> 1.0)
        # One division, two forms: E q is accurate for small x, 1 - 2q near 1 (where E q would
        # wobble by an ulp and break monotonicity). Blended arithmetically (one term is exactly
        # 0) so GCC keeps the loop vectorised.
        d = e + <float> 2.0
        q = <float> 1.0 / d
        t = e * q
        t = t + q * (e - t * d)   # one correction step: E / d to ~0.5 ulp
        sel = <float> (x < <float> 1.0)
        v[f] = copysignf(sel * t + (<float> 1.0 - sel) * (<float> 1.0 - <float> 2.0 * q), v[f])


cdef inline void activation_tile(float* v, Py_ssize_t n, int code, float param) noexcept nogil:
    """Apply activation ``code`` in place to ``n`` frames (a multiple of TILE)."""
    cdef Py_ssize_t f
    cdef float x
    if code == ACT_TANH:
        tanh_tile(v, n)
    elif code == ACT_RELU:
        for f in range(n):
            v[f] = nd_maxf(v[f], <float> 0.0)
    elif code == ACT_LEAKYRELU:
        for f in range(n):
            x = v[f]
            v[f] = nd_selectf(x >= 0, x, param * x)
    elif code == ACT_SIGMOID or code == ACT_SILU:
        # sigmoid(x) = (1 + tanh(x / 2)) / 2 keeps one accurate transcendental in the package.
        for f in range(n):
            v[f] = <float> 0.5 * v[f]
        tanh_tile(v, n)
        if code == ACT_SIGMOID:
            for f in range(n):
                v[f] = <float> 0.5 + <float> 0.5 * v[f]
    elif code == ACT_HARDTANH:
        for f in range(n):
            v[f] = nd_maxf(nd_minf(v[f], <float> 1.0), <float> -1.0)
    elif code == ACT_LEAKYHARDTANH:
        for f in range(n):
            x = nd_maxf(nd_minf(v[f], <float> 1.0), <float> -1.0)
            v[f] = x + param * (v[f] - x)
    elif code == ACT_SOFTSIGN:
        for f in range(n):
            v[f] = v[f] / (<float> 1.0 + fabsf(v[f]))
    elif code == ACT_HARDSWISH:
        for f in range(n):
            x = nd_minf(nd_maxf(v[f] + <float> 3.0, <float> 0.0), <float> 6.0)
            v[f] = v[f] * x * <float> (1.0 / 6.0)


cdef inline void silu_tile(float* v, const float* pre, Py_ssize_t n) noexcept nogil:
    # v holds tanh(x/2) for x = pre: silu = x * (1 + tanh(x/2)) / 2
    cdef Py_ssize_t f
    for f in range(n):
        v[f] = pre[f] * (<float> 0.5 + <float> 0.5 * v[f])


cpdef bint is_float32_vector(object a, bint writable):
    """True when ``a`` is a 1-D C-contiguous float32 ndarray (writable if asked); allocates nothing."""
    cdef cnp.ndarray arr
    if not isinstance(a, cnp.ndarray):
        return False
    arr = <cnp.ndarray> a
    if cnp.PyArray_NDIM(arr) != 1 or cnp.PyArray_TYPE(arr) != cnp.NPY_FLOAT32:
        return False
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr):
        return False
    if writable and not cnp.PyArray_ISWRITEABLE(arr):
        return False
    return True


cpdef void shift_in(cnp.ndarray history, cnp.ndarray x):
    """Append float32 ``x`` to the float32 ``history`` window, dropping its oldest samples."""
    cdef Py_ssize_t h = cnp.PyArray_SIZE(history), n = cnp.PyArray_SIZE(x)
    cdef float* hp = <float*> cnp.PyArray_DATA(history)
    cdef const float* xp = <const float*> cnp.PyArray_DATA(x)
    if n >= h:
        memcpy(hp, xp + n - h, h * sizeof(float))
    else:
        memmove(hp, hp + n, (h - n) * sizeof(float))
        memcpy(hp + h - n, xp, n * sizeof(float))


cdef inline cnp.ndarray as_input_block(object x):
    """x itself when it is a 1-D C-contiguous float32 array, else a converted copy."""
    if is_float32_vector(x, False):
        return <cnp.ndarray> x
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"process() takes a 1-D array of samples, got shape {arr.shape}")
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"process() takes real-valued samples, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)


cdef inline cnp.ndarray as_output_block(object out, Py_ssize_t n):
    """A new float32 array of n samples, or ``out`` after checking it can take them."""
    if out is None:
        return np.empty(n, dtype=np.float32)
    if not is_float32_vector(out, True):
        raise ValueError("out must be a writable 1-D C-contiguous float32 array")
    if cnp.PyArray_SIZE(<cnp.ndarray> out) != n:
        raise ValueError(f"out has {cnp.PyArray_SIZE(<cnp.ndarray> out)} samples, the input has {n}")
    return <cnp.ndarray> out


def input_block(x):
    """``x`` as a 1-D C-contiguous float32 array (itself when it already is one)."""
    return as_input_block(x)


def output_block(out, Py_ssize_t n):
    """A new float32 array of n samples, or ``out`` after checking it can take them."""
    return as_output_block(out, n)


def tanh_array(x):
    """The engine's tanh over a float32 array (for tests); returns a new float32 array."""
    cdef cnp.ndarray[cnp.float32_t, ndim=1] src = np.ascontiguousarray(x, dtype=np.float32).ravel()
    cdef Py_ssize_t n = src.shape[0]
    cdef Py_ssize_t padded = ((n + TILE - 1) // TILE) * TILE
    cdef cnp.ndarray[cnp.float32_t, ndim=1] out = np.zeros(max(padded, TILE), dtype=np.float32)
    out[:n] = src
    with nogil:
        tanh_tile(&out[0], padded)
    return out[:n]


def tanh_short_array(x):
    """The narrow layers' tanh (AVX-512 builds) over a float32 copy of x, for the tests; None
    where the build has no AVX-512 (narrow layers then use tanh_tile)."""
    if not ND_TANH_AVX512:
        return None
    cdef cnp.ndarray[cnp.float32_t, ndim=1] out = np.ascontiguousarray(x, dtype=np.float32).ravel().copy()
    nd_tanh_short_array(<float*> cnp.PyArray_DATA(out), out.shape[0])
    return out


def activation_array(x, int code, float param=0.0):
    """Any engine activation over a float32 array (for tests)."""
    cdef cnp.ndarray[cnp.float32_t, ndim=1] src = np.ascontiguousarray(x, dtype=np.float32).ravel()
    cdef Py_ssize_t n = src.shape[0]
    cdef Py_ssize_t padded = max(((n + TILE - 1) // TILE) * TILE, TILE)
    cdef cnp.ndarray[cnp.float32_t, ndim=1] out = np.zeros(padded, dtype=np.float32)
    cdef cnp.ndarray[cnp.float32_t, ndim=1] pre = np.zeros(padded, dtype=np.float32)
    out[:n] = src
    pre[:n] = src
    cdef ActK prelu
    prelu.code = ACT_PRELU
    prelu.slopes = &param
    with nogil:
        if code == ACT_PRELU:
            act_rows(&prelu, &out[0], &pre[0], 1, padded)   # one row, slope param
        else:
            activation_tile(&out[0], padded, code, param)
        if code == ACT_SILU:
            silu_tile(&out[0], &pre[0], padded)
    return out[:n]


# ---------------------------------------------------------------------------------------------
# The convolution micro-kernels: register blocks of rows x TILE-frame tiles.
# ---------------------------------------------------------------------------------------------

cdef float ZEROS[CHUNK + 2 * TILE]   # stands in for an absent mixin input or residual
memset(ZEROS, 0, sizeof(ZEROS))


cdef inline void _conv_4x1(float* out, Py_ssize_t out_stride, int o, Py_ssize_t t0,
        const float* w, Py_ssize_t w_row, int n_in, int k_taps, int dil,
        const float* src, Py_ssize_t src_stride, const float* bias, const float* mix,
        const float* cond, const float* add, Py_ssize_t add_stride) noexcept nogil:
    """4 rows x 1 tile of frames. Per tap, the sum over input channels runs in two chains (even
    and odd channels) that are then added to the total: short dependency chains for the FMA
    units, and half the float32 rounding growth of one long sum."""
    cdef vfloat a0, a1, a2, a3, p0, p1, p2, p3, q0, q1, q2, q3, x0, x1
    cdef int i, k
    cdef const float* s
    cdef const float* wp
    cdef float bo, mo
    a0 = vzero()
    a1 = vzero()
    a2 = vzero()
    a3 = vzero()
    for k in range(k_taps):
        p0 = vzero()
        p1 = vzero()
        p2 = vzero()
        p3 = vzero()
        q0 = vzero()
        q1 = vzero()
        q2 = vzero()
        q3 = vzero()
        i = 0
        while i + 1 < n_in:
            s = src + i * src_stride + t0 - (k_taps - 1 - k) * dil
            wp = w + o * w_row + i * k_taps + k
            x0 = vload(s)
            x1 = vload(s + src_stride)
            p0 = p0 + wp[0] * x0
            p1 = p1 + wp[w_row] * x0
            p2 = p2 + wp[2 * w_row] * x0
            p3 = p3 + wp[3 * w_row] * x0
            q0 = q0 + wp[k_taps] * x1
            q1 = q1 + wp[w_row + k_taps] * x1
            q2 = q2 + wp[2 * w_row + k_taps] * x1
            q3 = q3 + wp[3 * w_row + k_taps] * x1
            i += 2
        if i < n_in:
            s = src + i * src_stride + t0 - (k_taps - 1 - k) * dil
            wp = w + o * w_row + i * k_taps + k
            x0 = vload(s)
            p0 = p0 + wp[0] * x0
            p1 = p1 + wp[w_row] * x0
            p2 = p2 + wp[2 * w_row] * x0
            p3 = p3 + wp[3 * w_row] * x0
        a0 = a0 + (p0 + q0)
        a1 = a1 + (p1 + q1)
        a2 = a2 + (p2 + q2)
        a3 = a3 + (p3 + q3)
    bo = bias[o + 0] if bias != NULL else <float> 0.0
    mo = mix[o + 0] if mix != NULL else <float> 0.0
    vstore(out + (o + 0) * out_stride + t0,
           a0 + (bo + mo * vload(cond + t0)) + vload(add + (o + 0) * add_stride + t0))
    bo = bias[o + 1] if bias != NULL else <float> 0.0
    mo = mix[o + 1] if mix != NULL else <float> 0.0
    vstore(out + (o + 1) * out_stride + t0,
           a1 + (bo + mo * vload(cond + t0)) + vload(add + (o + 1) * add_stride + t0))
    bo = bias[o + 2] if bias != NULL else <float> 0.0
    mo = mix[o + 2] if mix != NULL else <float> 0.0
    vstore(out + (o + 2) * out_stride + t0,
           a2 + (bo + mo * vload(cond + t0)) + vload(add + (o + 2) * add_stride + t0))
    bo = bias[o + 3] if bias != NULL else <float> 0.0
    mo = mix[o + 3] if mix != NULL else <float> 0.0
    vstore(out + (o + 3) * out_stride + t0,
           a3 + (bo + mo * vload(cond + t0)) + vload(add + (o + 3) * add_stride + t0))


cdef inline void _conv_2x2(float* out, Py_ssize_t out_stride, int o, Py_ssize_t t0,
        const float* w, Py_ssize_t w_row, int n_in, int k_taps, int dil,
        const float* src, Py_ssize_t src_stride, const float* bias, const float* mix,
        const float* cond, const float* add, Py_ssize_t add_stride) noexcept nogil:
    """2 row(s) x 2 tile(s) of frames: 4 vector accumulators."""
    cdef vfloat a0, a1, a2, a3, x0, x1
    cdef int i, k
    cdef const float* s
    cdef const float* wp
    cdef float w0, w1, bo, mo
    a0 = vzero()
    a1 = vzero()
    a2 = vzero()
    a3 = vzero()
    for i in range(n_in):
        for k in range(k_taps):
            s = src + i * src_stride + t0 - (k_taps - 1 - k) * dil
            wp = w + o * w_row + i * k_taps + k
            w0 = wp[0]
            w1 = wp[w_row]
            x0 = vload(s)
            x1 = vload(s + 1 * TILE)
            a0 = a0 + w0 * x0
            a1 = a1 + w0 * x1
            a2 = a2 + w1 * x0
            a3 = a3 + w1 * x1
    bo = bias[o + 0] if bias != NULL else <float> 0.0
    mo = mix[o + 0] if mix != NULL else <float> 0.0
    vstore(out + o * out_stride + t0,
           a0 + (bo + mo * vload(cond + t0)) + vload(add + o * add_stride + t0))
    bo = bias[o + 0] if bias != NULL else <float> 0.0
    mo = mix[o + 0] if mix != NULL else <float> 0.0
    vstore(out + o * out_stride + t0 + 1 * TILE,
           a1 + (bo + mo * vload(cond + t0 + 1 * TILE)) + vload(add + o * add_stride + t0 + 1 * TILE))
    bo = bias[o + 1] if bias != NULL else <float> 0.0
    mo = mix[o + 1] if mix != NULL else <float> 0.0
    vstore(out + (o + 1) * out_stride + t0,
           a2 + (bo + mo * vload(cond + t0)) + vload(add + (o + 1) * add_stride + t0))
    bo = bias[o + 1] if bias != NULL else <float> 0.0
    mo = mix[o + 1] if mix != NULL else <float> 0.0
    vstore(out + (o + 1) * out_stride + t0 + 1 * TILE,
           a3 + (bo + mo * vload(cond + t0 + 1 * TILE)) + vload(add + (o + 1) * add_stride + t0 + 1 * TILE))


cdef inline void _conv_1x4(float* out, Py_ssize_t out_stride, int o, Py_ssize_t t0,
        const float* w, Py_ssize_t w_row, int n_in, int k_taps, int dil,
        const float* src, Py_ssize_t src_stride, const float* bias, const float* mix,
        const float* cond, const float* add, Py_ssize_t add_stride) noexcept nogil:
    """1 row(s) x 4 tile(s) of frames: 4 vector accumulators."""
    cdef vfloat a0, a1, a2, a3, x0, x1, x2, x3
    cdef int i, k
    cdef const float* s
    cdef const float* wp
    cdef float w0, bo, mo
    a0 = vzero()
    a1 = vzero()
    a2 = vzero()
    a3 = vzero()
    for i in range(n_in):
        for k in range(k_taps):
            s = src + i * src_stride + t0 - (k_taps - 1 - k) * dil
            wp = w + o * w_row + i * k_taps + k
            w0 = wp[0]
            x0 = vload(s)
            x1 = vload(s + 1 * TILE)
            x2 = vload(s + 2 * TILE)
            x3 = vload(s + 3 * TILE)
            a0 = a0 + w0 * x0
            a1 = a1 + w0 * x1
            a2 = a2 + w0 * x2
            a3 = a3 + w0 * x3
    bo = bias[o + 0] if bias != NULL else <float> 0.0
    mo = mix[o + 0] if mix != NULL else <float> 0.0
    vstore(out + o * out_stride + t0,
           a0 + (bo + mo * vload(cond + t0)) + vload(add + o * add_stride + t0))
    bo = bias[o + 0] if bias != NULL else <float> 0.0
    mo = mix[o + 0] if mix != NULL else <float> 0.0
    vstore(out + o * out_stride + t0 + 1 * TILE,
           a1 + (bo + mo * vload(cond + t0 + 1 * TILE)) + vload(add + o * add_stride + t0 + 1 * TILE))
    bo = bias[o + 0] if bias != NULL else <float> 0.0
    mo = mix[o + 0] if mix != NULL else <float> 0.0
    vstore(out + o * out_stride + t0 + 2 * TILE,
           a2 + (bo + mo * vload(cond + t0 + 2 * TILE)) + vload(add + o * add_stride + t0 + 2 * TILE))
    bo = bias[o + 0] if bias != NULL else <float> 0.0
    mo = mix[o + 0] if mix != NULL else <float> 0.0
    vstore(out + o * out_stride + t0 + 3 * TILE,
           a3 + (bo + mo * vload(cond + t0 + 3 * TILE)) + vload(add + o * add_stride + t0 + 3 * TILE))


cdef inline void _conv_1x1(float* out, Py_ssize_t out_stride, int o, Py_ssize_t t0,
        const float* w, Py_ssize_t w_row, int n_in, int k_taps, int dil,
        const float* src, Py_ssize_t src_stride, const float* bias, const float* mix,
        const float* cond, const float* add, Py_ssize_t add_stride) noexcept nogil:
    """1 row(s) x 1 tile(s) of frames: 1 vector accumulators."""
    cdef vfloat a0, x0
    cdef int i, k
    cdef const float* s
    cdef const float* wp
    cdef float w0, bo, mo
    a0 = vzero()
    for i in range(n_in):
        for k in range(k_taps):
            s = src + i * src_stride + t0 - (k_taps - 1 - k) * dil
            wp = w + o * w_row + i * k_taps + k
            w0 = wp[0]
            x0 = vload(s)
            a0 = a0 + w0 * x0
    bo = bias[o + 0] if bias != NULL else <float> 0.0
    mo = mix[o + 0] if mix != NULL else <float> 0.0
    vstore(out + o * out_stride + t0,
           a0 + (bo + mo * vload(cond + t0)) + vload(add + o * add_stride + t0))


cdef inline void conv_rows(float* out, Py_ssize_t out_stride, int n_out, Py_ssize_t n_frames,
                           const float* w, Py_ssize_t w_row, int n_in, int k_taps, int dil,
                           const float* src, Py_ssize_t src_stride,
                           const float* bias, const float* mix, const float* cond,
                           const float* add, Py_ssize_t add_stride) noexcept nogil:
    """For every row o < n_out and frame f < n_frames (a multiple of TILE):

    out[o, f] = sum_{i,k} w[o, i, k] * src[i, f - (K-1-k) dil] + (bias[o] + mix[o] * cond[f]) + add[o, f]

    ``w`` rows are ``w_row`` floats apart with taps contiguous; ``src`` points at frame 0 of input
    row 0, rows ``src_stride`` apart. ``bias``, ``mix`` and ``add`` may be NULL (zeros). The conv
    terms are summed first and the (larger) bias / mixin / residual terms added last: that order
    loses the least precision in float32.

    Rows are covered by register blocks of 4 rows x 1 tile, then 2 rows x 2 tiles, then 1 row x 4
    tiles, so narrow layers keep as many FMAs in flight as wide ones. Every block performs the
    same operations in the same order for a given frame, so the result never depends on which
    block (or block partition of the stream) computed it.
    """
    cdef int o = 0
    cdef Py_ssize_t t0
    if cond == NULL:
        cond = ZEROS
        mix = NULL
    if add == NULL:
        add = ZEROS
        add_stride = 0
    while o + 4 <= n_out:
        for t0 in range(0, n_frames, TILE):
            _conv_4x1(out, out_stride, o, t0, w, w_row, n_in, k_taps, dil, src, src_stride,
                      bias, mix, cond, add, add_stride)
        o += 4
    while o + 2 <= n_out:
        t0 = 0
        while t0 + 2 * TILE <= n_frames:
            _conv_2x2(out, out_stride, o, t0, w, w_row, n_in, k_taps, dil, src, src_stride,
                      bias, mix, cond, add, add_stride)
            t0 += 2 * TILE
        while t0 < n_frames:
            _conv_1x1(out, out_stride, o, t0, w, w_row, n_in, k_taps, dil, src, src_stride,
                      bias, mix, cond, add, add_stride)
            _conv_1x1(out, out_stride, o + 1, t0, w, w_row, n_in, k_taps, dil, src, src_stride,
                      bias, mix, cond, add, add_stride)
            t0 += TILE
        o += 2
    while o < n_out:
        t0 = 0
        while t0 + 4 * TILE <= n_frames:
            _conv_1x4(out, out_stride, o, t0, w, w_row, n_in, k_taps, dil, src, src_stride,
                      bias, mix, cond, add, add_stride)
            t0 += 4 * TILE
        while t0 < n_frames:
            _conv_1x1(out, out_stride, o, t0, w, w_row, n_in, k_taps, dil, src, src_stride,
                      bias, mix, cond, add, add_stride)
            t0 += TILE
        o += 1


# ---------------------------------------------------------------------------------------------
# WaveNet
# ---------------------------------------------------------------------------------------------

cdef struct Ring:
    # History of a channel-major signal: rows x cap frames, rows `stride` floats apart.
    float* data
    Py_ssize_t stride
    Py_ssize_t cap
    Py_ssize_t pos        # next frame to write
    Py_ssize_t lookback   # frames of history kept


cdef struct LayerK:
    int k_taps
    int dil
    int act
    int gate_act
    int gating
    float act_param
    float gate_param
    const float* w        # (G*C, C, K) full size
    const float* b        # (G*C,)
    const float* m        # (G*C,)
    const float* u_w      # (C, C) or NULL
    const float* u_b      # (C,)
    Ring hist             # this layer's input history
    float* silence        # (C,) the input's value on silence, per channel (after prewarm)


cdef struct ArrayK:
    int channels
    int in_size
    int head_size
    int head_k
    int n_layers
    LayerK* layers
    const float* rechannel    # (C, in)
    const float* head_w       # (head_size, C, head_k)
    const float* head_b       # (head_size,) or NULL
    Ring acc                  # head accumulator history (lookback head_k - 1)
    float* acc_silence
    float* residual           # (C, CHUNK + TILE): this array's residual output (next array's input)
    float* head_out           # (head_size, CHUNK + TILE)


cdef inline Py_ssize_t round_up(Py_ssize_t n, Py_ssize_t m) noexcept nogil:
    return ((n + m - 1) // m) * m


cdef inline void ring_make_room(Ring* r, int rows, Py_ssize_t n) noexcept nogil:
    """Rewind so that n frames (plus a tile of padding) fit after pos; keeps `lookback` frames."""
    cdef int i
    if r.pos + n + TILE <= r.cap:
        return
    for i in range(rows):
        memmove(r.data + i * r.stride, r.data + i * r.stride + r.pos - r.lookback,
                r.lookback * sizeof(float))
    r.pos = r.lookback


cdef inline void ring_fill_rows(Ring* r, int row_from, int row_to, const float* values) noexcept nogil:
    """Set the history window of rows [row_from, row_to) to a constant per row."""
    cdef int i
    cdef Py_ssize_t t
    cdef float* row
    for i in range(row_from, row_to):
        row = r.data + i * r.stride
        for t in range(r.pos - r.lookback, r.pos):
            row[t] = values[i]


cdef inline void acc_start(Ring* acc, int rows, const float* head_in, Py_ssize_t n_pad) noexcept nogil:
    """Start a chunk's head accumulator: the previous array's head output (rows CHUNK+TILE apart), or zero."""
    cdef int i
    cdef float* accp
    for i in range(rows):
        accp = acc.data + i * acc.stride + acc.pos
        if head_in != NULL:
            memcpy(accp, head_in + i * (CHUNK + TILE), n_pad * sizeof(float))
        else:
            memset(accp, 0, n_pad * sizeof(float))


cdef inline void narrow_layer(ArrayK* a, LayerK* L, int c, const float* cond, Py_ssize_t n_pad,
                              float* dst, Py_ssize_t dst_stride, float* z) noexcept nogil:
    """One ungated layer at width c <= NARROW_MAX: conv + bias + mixin into z, the activation in
    place, then head sum, 1x1 and residual in one pass (dst NULL: no residual needed). With tanh
    on an AVX-512 build, one pass does it all with the short-chain tanh in registers."""
    cdef Ring* h = &L.hist
    if ND_TANH_AVX512 and L.act == ACT_TANH:
        narrow_tanh_pass(c, n_pad, L.w, a.channels * L.k_taps, L.k_taps, L.dil, h.data + h.pos,
                         h.stride, L.b, L.m, cond, a.acc.data + a.acc.pos, a.acc.stride, L.u_w,
                         a.channels, L.u_b, dst, dst_stride)
        return
    narrow_conv_pass(c, z, n_pad, n_pad, L.w, a.channels * L.k_taps, L.k_taps, L.dil,
                     h.data + h.pos, h.stride, L.b, L.m, cond)
    activation_tile(z, c * n_pad, L.act, L.act_param)
    narrow_post_pass(c, z, n_pad, n_pad, a.acc.data + a.acc.pos, a.acc.stride, L.u_w, a.channels,
                     L.u_b, h.data + h.pos, h.stride, dst, dst_stride)


cdef void array_chunk(ArrayK* a, int width, const float* stream, Py_ssize_t stream_stride,
                      const float* head_in, const float* cond, int cond_rows, Py_ssize_t n,
                      bint need_residual, float* z, float* act, float* zmix) noexcept nogil:
    """Run one layer array over n frames (n <= CHUNK), one pass per operation over the chunk.

    stream: input rows (in_size rows, `stream_stride` apart, frame 0 at index 0);
    head_in: previous array's head output (C rows, CHUNK+TILE apart) or NULL;
    cond: the input mixins' signal, cond_rows rows CHUNK+TILE apart (the raw input, or a
    condition model's output channels);
    z, act, zmix: scratch of 2*C rows x n_pad frames.
    """
    cdef int c = width
    cdef Py_ssize_t n_pad = round_up(n, TILE)
    cdef Py_ssize_t f
    cdef int j, i, g
    cdef LayerK* L
    cdef Ring* h
    cdef Ring* nxt
    cdef float* dst
    cdef Py_ssize_t dst_stride
    cdef float* accp
    cdef const float* arow
    cdef Py_ssize_t wide = CHUNK + TILE
    cdef Py_ssize_t half = c * n_pad
    cdef bint last
    cdef float gt
    cdef float* a_ptr

    for j in range(a.n_layers):
        ring_make_room(&a.layers[j].hist, c, n_pad)
    ring_make_room(&a.acc, c, n_pad)

    # Rechannel (1x1, no bias) into layer 0's history.
    h = &a.layers[0].hist
    conv_rows(h.data + h.pos, h.stride, c, n_pad, a.rechannel, a.in_size, a.in_size, 1, 1,
              stream, stream_stride, NULL, NULL, NULL, NULL, 0)

    acc_start(&a.acc, c, head_in, n_pad)

    for j in range(a.n_layers):
        L = &a.layers[j]
        h = &L.hist
        g = 1 if L.gating == GATE_NONE else 2
        last = j == a.n_layers - 1
        # Where the residual goes: the next layer's history, this array's output, or nowhere.
        if not last:
            nxt = &a.layers[j + 1].hist
            dst = nxt.data + nxt.pos
            dst_stride = nxt.stride
        else:
            dst = a.residual if need_residual else NULL
            dst_stride = wide
        if c <= NARROW_MAX and g == 1 and cond_rows == 1 and L.act != ACT_SILU:
            narrow_layer(a, L, c, cond, n_pad, dst, dst_stride, z)
            continue
        # z = dilated conv + bias + mixin; gate rows come from the second half of the weights.
        if cond_rows == 1:
            conv_rows(z, n_pad, c, n_pad, L.w, a.channels * L.k_taps, c, L.k_taps, L.dil,
                      h.data + h.pos, h.stride, L.b, L.m, cond, NULL, 0)
            if g == 2:
                conv_rows(z + half, n_pad, c, n_pad, L.w + a.channels * a.channels * L.k_taps,
                          a.channels * L.k_taps, c, L.k_taps, L.dil, h.data + h.pos, h.stride,
                          L.b + a.channels, L.m + a.channels, cond, NULL, 0)
        else:
            # A multi-channel condition: its mixin is a 1x1 conv of its own, added in.
            conv_rows(zmix, n_pad, c, n_pad, L.m, cond_rows, cond_rows, 1, 1, cond, wide,
                      NULL, NULL, NULL, NULL, 0)
            conv_rows(z, n_pad, c, n_pad, L.w, a.channels * L.k_taps, c, L.k_taps, L.dil,
                      h.data + h.pos, h.stride, L.b, NULL, NULL, zmix, n_pad)
            if g == 2:
                conv_rows(zmix, n_pad, c, n_pad, L.m + a.channels * cond_rows, cond_rows, cond_rows,
                          1, 1, cond, wide, NULL, NULL, NULL, NULL, 0)
                conv_rows(z + half, n_pad, c, n_pad, L.w + a.channels * a.channels * L.k_taps,
                          a.channels * L.k_taps, c, L.k_taps, L.dil, h.data + h.pos, h.stride,
                          L.b + a.channels, NULL, NULL, zmix, n_pad)
        if g == 1 and L.act != ACT_SILU:
            # z is not needed after the activation: apply it in place.
            a_ptr = z
            activation_tile(a_ptr, half, L.act, L.act_param)
        else:
            a_ptr = act
            memcpy(act, z, g * half * sizeof(float))
            activation_tile(act, half, L.act, L.act_param)
            if L.act == ACT_SILU:
                silu_tile(act, z, half)
        if g == 2:
            activation_tile(act + half, half, L.gate_act, L.gate_param)
            if L.gate_act == ACT_SILU:
                silu_tile(act + half, z + half, half)
            if L.gating == GATE_GATED:
                for f in range(half):
                    act[f] = act[f] * act[half + f]
            else:
                # blended: gate * act(main) + (1 - gate) * main
                for f in range(half):
                    gt = act[half + f]
                    act[f] = gt * act[f] + (<float> 1.0 - gt) * z[f]
        # Head accumulator.
        for i in range(c):
            accp = a.acc.data + i * a.acc.stride + a.acc.pos
            arow = a_ptr + i * n_pad
            for f in range(n_pad):
                accp[f] += arow[f]
        # Residual: next = h + (U a + u), or h when the layer 1x1 is inactive.
        if dst == NULL:
            continue
        if L.u_w != NULL:
            conv_rows(dst, dst_stride, c, n_pad, L.u_w, a.channels, c, 1, 1, a_ptr, n_pad,
                      L.u_b, NULL, NULL, h.data + h.pos, h.stride)
        else:
            for i in range(c):
                memcpy(dst + i * dst_stride, h.data + i * h.stride + h.pos, n_pad * sizeof(float))

    # Head conv over the accumulator (dilation 1, head_k taps).
    conv_rows(a.head_out, wide, a.head_size, n_pad, a.head_w, a.channels * a.head_k, c, a.head_k, 1,
              a.acc.data + a.acc.pos, a.acc.stride, a.head_b, NULL, NULL, NULL, 0)

    for j in range(a.n_layers):
        a.layers[j].hist.pos += n
    a.acc.pos += n


# ---------------------------------------------------------------------------------------------
# The general layer array: NAM's A2 extensions (grouped convs, bottleneck != channels, head1x1,
# FiLM, per-channel / ranged activations). Used only for arrays that have one of them, so every
# other model runs array_chunk above unchanged. Grouped convs are conv_rows calls per group on
# the compact (out, in / groups, K) weights; elementwise steps run over whole padded tiles, so
# the output stays bit-identical for any block partition.
# ---------------------------------------------------------------------------------------------

# FiLM sites, in nam_dsp.spec.FILM_KEYS order.
DEF FILM_CONV_PRE = 0
DEF FILM_CONV_POST = 1
DEF FILM_MIXIN_PRE = 2
DEF FILM_MIXIN_POST = 3
DEF FILM_ACT_PRE = 4
DEF FILM_ACT_POST = 5
DEF FILM_L1_POST = 6
DEF FILM_H1_POST = 7
DEF N_FILM = 8


cdef struct GConv:
    # A grouped conv: w compact (n_out, n_in / groups, k_taps) row-major, b (n_out,) or NULL.
    const float* w
    const float* b
    int n_out
    int n_in
    int groups
    int k_taps


cdef struct FiLMK:
    GConv conv            # condition -> [scale; shift] (or scale only), with bias
    int rows              # rows of the modulated signal
    bint shift


cdef struct ActK:
    int code
    float param
    float lo              # LeakyHardtanh: linear range [lo, hi], slopes below / above it
    float hi
    float lo_slope
    float hi_slope
    const float* slopes   # PReLU: one negative slope per row


cdef struct XLayerK:
    GConv conv            # channels -> G*B, dilated (dilation in LayerK)
    GConv mixin           # condition -> G*B, no bias
    GConv l1              # B -> channels (n_out 0: inactive)
    GConv h1              # B -> head1x1 outputs (n_out 0: inactive)
    FiLMK film[N_FILM]
    bint has_film[N_FILM]
    ActK act
    ActK gate


cdef struct XArrayK:
    bint general
    int bottleneck
    int acc_rows          # head accumulator rows: head1x1 outputs, or the bottleneck
    XLayerK* layers


cdef struct GScratch:
    # rows x (CHUNK + TILE) each, rows = the largest signal of any general array
    float* cur            # the layer's input (residual stream)
    float* nxt            # the next layer's input
    float* z
    float* mix
    float* act
    float* film           # FiLM scale / shift
    float* condf          # FiLM-modulated condition
    float* l1
    float* h1


cdef inline void gconv(float* out, Py_ssize_t out_stride, const GConv* g, Py_ssize_t n_pad, int dil,
                       const float* src, Py_ssize_t src_stride) noexcept nogil:
    """out = g(src) (+ bias): each group of outputs reads only its own group of input rows."""
    cdef int gi
    cdef int opg = g.n_out // g.groups
    cdef int ipg = g.n_in // g.groups
    for gi in range(g.groups):
        conv_rows(out + gi * opg * out_stride, out_stride, opg, n_pad,
                  g.w + gi * opg * ipg * g.k_taps, ipg * g.k_taps, ipg, g.k_taps, dil,
                  src + gi * ipg * src_stride, src_stride,
                  g.b + gi * opg if g.b != NULL else NULL, NULL, NULL, NULL, 0)


cdef inline void film_apply(const FiLMK* F, float* dst, Py_ssize_t dst_stride, const float* src,
                            Py_ssize_t src_stride, const float* cond, Py_ssize_t n_pad,
                            float* scratch) noexcept nogil:
    """dst = src * scale + shift, [scale; shift] = F.conv(cond); dst may be src."""
    cdef Py_ssize_t wide = CHUNK + TILE
    cdef Py_ssize_t f
    cdef int r
    cdef float* d
    cdef const float* s
    cdef const float* sc
    cdef const float* sh
    gconv(scratch, wide, &F.conv, n_pad, 1, cond, wide)
    for r in range(F.rows):
        d = dst + r * dst_stride
        s = src + r * src_stride
        sc = scratch + r * wide
        if F.shift:
            sh = scratch + (F.rows + r) * wide
            for f in range(n_pad):
                d[f] = s[f] * sc[f] + sh[f]
        else:
            for f in range(n_pad):
                d[f] = s[f] * sc[f]


cdef inline void act_rows(const ActK* A, float* v, const float* pre, int rows,
                          Py_ssize_t n_pad) noexcept nogil:
    """Activation A in place over rows of v (each a copy of the same row of pre), CHUNK+TILE apart."""
    cdef Py_ssize_t wide = CHUNK + TILE
    cdef Py_ssize_t f
    cdef int r
    cdef float x, c, s
    cdef float* row
    for r in range(rows):
        row = v + r * wide
        if A.code == ACT_PRELU:
            s = A.slopes[r]
            for f in range(n_pad):
                x = row[f]
                row[f] = nd_selectf(x > 0, x, s * x)
        elif A.code == ACT_LEAKYHARDTANH:
            for f in range(n_pad):
                x = row[f]
                c = nd_maxf(nd_minf(x, A.hi), A.lo)
                s = nd_selectf(x < A.lo, A.lo_slope, A.hi_slope)
                row[f] = c + s * (x - c)
        else:
            activation_tile(row, n_pad, A.code, A.param)
            if A.code == ACT_SILU:
                silu_tile(row, pre + r * wide, n_pad)


cdef inline void copy_rows(float* dst, Py_ssize_t dst_stride, const float* src, Py_ssize_t src_stride,
                           int rows, Py_ssize_t n_pad) noexcept nogil:
    cdef int r
    for r in range(rows):
        memcpy(dst + r * dst_stride, src + r * src_stride, n_pad * sizeof(float))


cdef void array_chunk_general(ArrayK* a, XArrayK* xa, const float* stream, Py_ssize_t stream_stride,
                              const float* head_in, const float* cond, Py_ssize_t n,
                              bint need_residual, GScratch* s) noexcept nogil:
    """array_chunk for a layer array with A2 extensions (see nam_dsp.spec.Layer for the order
    of operations). cond: the layers' condition signal, rows CHUNK+TILE apart. Full width only."""
    cdef int c = a.channels
    cdef int b = xa.bottleneck
    cdef int j, r, gb
    cdef Py_ssize_t n_pad = round_up(n, TILE)
    cdef Py_ssize_t f
    cdef Py_ssize_t wide = CHUNK + TILE
    cdef LayerK* L
    cdef XLayerK* X
    cdef Ring* h
    cdef float* cur = s.cur
    cdef float* nxt = s.nxt
    cdef float* tmp
    cdef float* dst
    cdef float* accp
    cdef const float* src
    cdef const float* head_src
    cdef float gt
    cdef bint last

    for j in range(a.n_layers):
        ring_make_room(&a.layers[j].hist, c, n_pad)
    ring_make_room(&a.acc, xa.acc_rows, n_pad)

    # Rechannel (1x1, no bias) into the residual stream.
    conv_rows(cur, wide, c, n_pad, a.rechannel, a.in_size, a.in_size, 1, 1, stream, stream_stride,
              NULL, NULL, NULL, NULL, 0)
    acc_start(&a.acc, xa.acc_rows, head_in, n_pad)

    for j in range(a.n_layers):
        L = &a.layers[j]
        X = &xa.layers[j]
        h = &L.hist
        last = j == a.n_layers - 1
        gb = X.conv.n_out
        # The dilated conv's history holds its (optionally FiLM-modulated) input.
        if X.has_film[FILM_CONV_PRE]:
            film_apply(&X.film[FILM_CONV_PRE], h.data + h.pos, h.stride, cur, wide, cond, n_pad, s.film)
        else:
            copy_rows(h.data + h.pos, h.stride, cur, wide, c, n_pad)
        gconv(s.z, wide, &X.conv, n_pad, L.dil, h.data + h.pos, h.stride)
        if X.has_film[FILM_CONV_POST]:
            film_apply(&X.film[FILM_CONV_POST], s.z, wide, s.z, wide, cond, n_pad, s.film)
        # Input mixin of the (optionally modulated) condition.
        src = cond
        if X.has_film[FILM_MIXIN_PRE]:
            film_apply(&X.film[FILM_MIXIN_PRE], s.condf, wide, cond, wide, cond, n_pad, s.film)
            src = s.condf
        gconv(s.mix, wide, &X.mixin, n_pad, 1, src, wide)
        if X.has_film[FILM_MIXIN_POST]:
            film_apply(&X.film[FILM_MIXIN_POST], s.mix, wide, s.mix, wide, cond, n_pad, s.film)
        for r in range(gb):
            for f in range(n_pad):
                s.z[r * wide + f] = s.z[r * wide + f] + s.mix[r * wide + f]
        if X.has_film[FILM_ACT_PRE]:
            film_apply(&X.film[FILM_ACT_PRE], s.z, wide, s.z, wide, cond, n_pad, s.film)
        # Activation (gated / blended: main rows [0, B), gate rows [B, 2B)) into s.act rows [0, B).
        copy_rows(s.act, wide, s.z, wide, gb, n_pad)
        act_rows(&X.act, s.act, s.z, b, n_pad)
        if L.gating != GATE_NONE:
            act_rows(&X.gate, s.act + b * wide, s.z + b * wide, b, n_pad)
            for r in range(b):
                if L.gating == GATE_GATED:
                    for f in range(n_pad):
                        s.act[r * wide + f] = s.act[r * wide + f] * s.act[(b + r) * wide + f]
                else:
                    for f in range(n_pad):
                        gt = s.act[(b + r) * wide + f]
                        s.act[r * wide + f] = gt * s.act[r * wide + f] + (<float> 1.0 - gt) * s.z[r * wide + f]
        if X.has_film[FILM_ACT_POST]:
            film_apply(&X.film[FILM_ACT_POST], s.act, wide, s.act, wide, cond, n_pad, s.film)
        # Head accumulator: head1x1 (optionally modulated) of the activation, or the activation.
        head_src = s.act
        if X.h1.n_out > 0:
            gconv(s.h1, wide, &X.h1, n_pad, 1, s.act, wide)
            if X.has_film[FILM_H1_POST]:
                film_apply(&X.film[FILM_H1_POST], s.h1, wide, s.h1, wide, cond, n_pad, s.film)
            head_src = s.h1
        for r in range(xa.acc_rows):
            accp = a.acc.data + r * a.acc.stride + a.acc.pos
            for f in range(n_pad):
                accp[f] += head_src[r * wide + f]
        # Residual: next = input + layer1x1 (modulated in blended layers only, as NAM Core does).
        if last and not need_residual:
            continue
        dst = a.residual if last else nxt
        if X.l1.n_out > 0:
            gconv(s.l1, wide, &X.l1, n_pad, 1, s.act, wide)
            if X.has_film[FILM_L1_POST] and L.gating == GATE_BLENDED:
                film_apply(&X.film[FILM_L1_POST], s.l1, wide, s.l1, wide, cond, n_pad, s.film)
            for r in range(c):
                for f in range(n_pad):
                    dst[r * wide + f] = cur[r * wide + f] + s.l1[r * wide + f]
        else:
            copy_rows(dst, wide, cur, wide, c, n_pad)
        if not last:
            tmp = cur
            cur = nxt
            nxt = tmp

    # Head conv over the accumulator (dilation 1, head_k taps).
    conv_rows(a.head_out, wide, a.head_size, n_pad, a.head_w, xa.acc_rows * a.head_k, xa.acc_rows,
              a.head_k, 1, a.acc.data + a.acc.pos, a.acc.stride, a.head_b, NULL, NULL, NULL, 0)

    for j in range(a.n_layers):
        a.layers[j].hist.pos += n
    a.acc.pos += n


cdef class StreamKernel:
    """What every model kernel shares: the aligned blocks it owns, the checked per-block entry
    point and the silence feed used for prewarm. Subclasses implement ``_run``."""
    cdef list _blocks           # addresses of posix_memalign'ed blocks, freed on dealloc
    cdef public long long nonfinite_count
    cdef public long long nonfinite_output_count

    def __cinit__(self):
        self._blocks = []
        self.nonfinite_count = 0

    def __dealloc__(self):
        cdef size_t addr
        for addr in self._blocks:
            free(<void*> addr)
        self._blocks = []

    cdef void* _alloc_bytes(self, size_t n_bytes) except NULL:
        """Zeroed, 64-byte aligned memory owned (and freed) by this kernel."""
        cdef void* p = NULL
        n_bytes = max(n_bytes, <size_t> 64)
        if posix_memalign(&p, 64, n_bytes) != 0:
            raise MemoryError(f"cannot allocate {n_bytes} bytes of model state")
        memset(p, 0, n_bytes)
        self._blocks.append(<size_t> p)
        return p

    cdef float* _alloc(self, Py_ssize_t n_floats) except NULL:
        return <float*> self._alloc_bytes(n_floats * sizeof(float))

    cdef void _run(self, const float* x, float* y, Py_ssize_t n, bint count_nonfinite) noexcept nogil:
        """Process n samples of x (NULL: zeros) into y (NULL: discard)."""
        pass

    cdef int _before_block(self) except -1:
        """Hook run with the GIL before each block (e.g. to apply a requested width)."""
        return 0

    cdef void _restore_silence(self) noexcept nogil:
        """Put the state back to its prewarmed silence (after the model's own arithmetic overflowed)."""
        pass

    cdef void _guard_output(self, float* y, Py_ssize_t n) noexcept nogil:
        """Replace non-finite output samples by 0, count them, and restore the state to silence.

        Input is sanitised before it enters the state, so a non-finite output can only come from
        the model's own float32 arithmetic overflowing (a legal file with absurd weights, or an
        absurdly loud finite input through an unbounded activation). Zeros are what a host can
        play safely; restoring silence keeps the overflow from living on in the histories.
        """
        cdef Py_ssize_t t
        cdef long long bad = 0
        for t in range(n):
            if not isfinite(y[t]):
                y[t] = 0.0
                bad += 1
        if bad:
            self.nonfinite_output_count += bad
            self._restore_silence()

    def process(self, x, out=None, bint release_gil=True):
        """Process the next block of the stream and return its output.

        Parameters
        ----------
        x : array_like, 1-D
            Input samples (any length, 0 included); 1-D C-contiguous float32 is used as is.
        out : ndarray, optional
            A writable float32 array of the same length to write into; with it (and float32
            ``x``) a call allocates nothing.
        release_gil : bool, default True
            Run the block without the GIL, so other Python threads (and other models) run
            meanwhile. An audio callback with short blocks may pass False: getting the GIL back
            after the block can wait for whatever Python thread took it in between.

        Returns
        -------
        ndarray of float32, the same length as ``x`` (``out`` when given).

        A width change requested since the last block is applied first.
        """
        cdef cnp.ndarray xa = as_input_block(x)
        cdef Py_ssize_t n = cnp.PyArray_SIZE(xa)
        cdef cnp.ndarray ya = as_output_block(out, n)
        cdef const float* xp = <const float*> cnp.PyArray_DATA(xa)
        cdef float* yp = <float*> cnp.PyArray_DATA(ya)
        self._before_block()
        if n:
            if release_gil:
                with nogil:
                    self._run(xp, yp, n, True)
                    self._guard_output(yp, n)
            else:
                self._run(xp, yp, n, True)
                self._guard_output(yp, n)
        return ya

    def run_silence(self, Py_ssize_t n):
        """Feed n zeros and discard the output (prewarm)."""
        with nogil:
            self._run(NULL, NULL, n, False)


cdef class WaveNetKernel(StreamKernel):
    """The run-time state of a WaveNet: weights packed for the kernels, histories, scratch.

    Built once by :class:`nam_dsp.engine.WaveNetModel`; :meth:`run` processes a whole block in
    one GIL-free call and allocates nothing.
    """
    cdef ArrayK* arrays
    cdef int n_arrays
    cdef object _keep          # the numpy arrays whose memory the structs point into
    cdef float* xin            # the sanitised input chunk
    cdef float* cond           # the condition model's outputs (NULL without one)
    cdef int cond_rows
    cdef WaveNetKernel condition   # NAM's condition_dsp, or None
    cdef bint has_condition
    cdef float* z
    cdef float* act
    cdef float* zmix
    cdef float head_scale
    cdef public int width
    cdef public int pending_width   # 0: none; else applied at the start of the next block
    cdef public int full_width
    cdef bint slimmable
    cdef XArrayK* xarrays      # per array: the A2 extensions (general path) or general = 0
    cdef GScratch gs           # the general path's scratch (NULLs when no array needs it)

    def __cinit__(self):
        self.arrays = NULL
        self.xarrays = NULL

    cdef void _ring(self, Ring* r, int rows, Py_ssize_t lookback) except *:
        r.lookback = lookback
        r.cap = 2 * lookback + CHUNK + 2 * TILE
        r.stride = round_up(r.cap, 16)
        r.pos = lookback
        r.data = self._alloc(rows * r.stride)

    def __init__(self, spec, int width):
        """``spec``: a WaveNetSpec (validated); ``width``: initial width of array 0."""
        cdef int ai, j, c, max_rows = 0
        cdef ArrayK* a
        cdef XArrayK* xa
        cdef LayerK* L
        cdef cnp.ndarray arr
        keep = []

        def ptr(x):
            x = np.ascontiguousarray(x, dtype=np.float32)
            keep.append(x)
            return x

        self.n_arrays = len(spec.arrays)
        self.arrays = <ArrayK*> self._alloc((sizeof(ArrayK) * self.n_arrays + 3) // 4)
        self.xarrays = <XArrayK*> self._alloc((sizeof(XArrayK) * self.n_arrays + 3) // 4)
        general_rows = 0
        self.head_scale = spec.head_scale
        self.full_width = spec.arrays[0].channels
        self.slimmable = spec.allowed_widths is not None
        self.width = width
        self.pending_width = 0
        for ai, sa in enumerate(spec.arrays):
            a = &self.arrays[ai]
            c = sa.channels
            a.channels = c
            a.in_size = sa.input_size
            a.head_size = sa.head_size
            a.head_k = sa.head_kernel_size
            a.n_layers = len(sa.layers)
            a.layers = <LayerK*> self._alloc((sizeof(LayerK) * a.n_layers + 3) // 4)
            arr = ptr(sa.rechannel_weight)
            a.rechannel = <const float*> cnp.PyArray_DATA(arr)
            arr = ptr(sa.head_weight)
            a.head_w = <const float*> cnp.PyArray_DATA(arr)
            if sa.head_bias is not None:
                arr = ptr(sa.head_bias)
                a.head_b = <const float*> cnp.PyArray_DATA(arr)
            else:
                a.head_b = NULL
            xa = &self.xarrays[ai]
            xa.general = sa.is_extended
            xa.bottleneck = sa.bottleneck
            xa.acc_rows = sa.head_input_size if xa.general else c
            xa.layers = NULL
            self._ring(&a.acc, xa.acc_rows, a.head_k - 1)
            a.acc_silence = self._alloc(max(c, xa.acc_rows))
            a.residual = self._alloc(c * (CHUNK + TILE))
            a.head_out = self._alloc(a.head_size * (CHUNK + TILE))
            max_rows = max(max_rows, 2 * c)
            for j, sl in enumerate(sa.layers):
                L = &a.layers[j]
                L.k_taps = sl.kernel_size
                L.dil = sl.dilation
                L.act = sl.activation.code
                L.act_param = sl.activation.param
                L.gate_act = sl.gate_activation.code
                L.gate_param = sl.gate_activation.param
                L.gating = {"none": GATE_NONE, "gated": GATE_GATED, "blended": GATE_BLENDED}[sl.gating]
                arr = ptr(sl.conv_weight)
                L.w = <const float*> cnp.PyArray_DATA(arr)
                arr = ptr(sl.conv_bias)
                L.b = <const float*> cnp.PyArray_DATA(arr)
                arr = ptr(sl.mixin_weight)   # (G*C, condition rows), row-major
                L.m = <const float*> cnp.PyArray_DATA(arr)
                if sl.layer1x1_weight is not None:
                    arr = ptr(sl.layer1x1_weight)
                    L.u_w = <const float*> cnp.PyArray_DATA(arr)
                    arr = ptr(sl.layer1x1_bias)
                    L.u_b = <const float*> cnp.PyArray_DATA(arr)
                else:
                    L.u_w = NULL
                    L.u_b = NULL
                self._ring(&L.hist, c, (sl.kernel_size - 1) * sl.dilation)
                L.silence = self._alloc(c)
            if xa.general:
                xa.layers = <XLayerK*> self._alloc((sizeof(XLayerK) * a.n_layers + 3) // 4)
                for j, sl in enumerate(sa.layers):
                    general_rows = max(general_rows, self._build_general_layer(&xa.layers[j], sa, sl, ptr))
        self._keep = keep
        self.has_condition = spec.condition is not None
        self.condition = WaveNetKernel(spec.condition, spec.condition.full_width) if self.has_condition else None
        self.cond_rows = spec.condition.output_channels if self.has_condition else 1
        self.xin = self._alloc(CHUNK + TILE)
        self.cond = self._alloc(self.cond_rows * (CHUNK + TILE)) if self.has_condition else NULL
        self.z = self._alloc(max_rows * (CHUNK + TILE))
        self.act = self._alloc(max_rows * (CHUNK + TILE))
        self.zmix = self._alloc(max_rows * (CHUNK + TILE)) if self.has_condition else NULL
        if general_rows:
            general_rows = max(general_rows, self.cond_rows)
            self.gs.cur = self._alloc(general_rows * (CHUNK + TILE))
            self.gs.nxt = self._alloc(general_rows * (CHUNK + TILE))
            self.gs.z = self._alloc(general_rows * (CHUNK + TILE))
            self.gs.mix = self._alloc(general_rows * (CHUNK + TILE))
            self.gs.act = self._alloc(general_rows * (CHUNK + TILE))
            self.gs.film = self._alloc(general_rows * (CHUNK + TILE))
            self.gs.condf = self._alloc(general_rows * (CHUNK + TILE))
            self.gs.l1 = self._alloc(general_rows * (CHUNK + TILE))
            self.gs.h1 = self._alloc(general_rows * (CHUNK + TILE))

    cdef void _gconv(self, GConv* g, w, b, int groups, ptr) except *:
        cdef cnp.ndarray arr = ptr(w)
        g.w = <const float*> cnp.PyArray_DATA(arr)
        if b is not None:
            arr = ptr(b)
            g.b = <const float*> cnp.PyArray_DATA(arr)
        else:
            g.b = NULL
        g.n_out = w.shape[0]
        g.n_in = w.shape[1] * groups
        g.groups = groups
        g.k_taps = w.shape[2] if w.ndim == 3 else 1

    cdef void _act(self, ActK* A, act, int rows, ptr) except *:
        cdef cnp.ndarray arr
        A.code = act.code
        A.param = act.param
        A.lo = act.min_val
        A.hi = act.max_val
        A.lo_slope = act.param
        A.hi_slope = act.upper_slope
        A.slopes = NULL
        if act.name == "PReLU":
            arr = ptr(act.slope_per_channel(rows))
            A.slopes = <const float*> cnp.PyArray_DATA(arr)

    cdef int _build_general_layer(self, XLayerK* X, sa, sl, ptr) except -1:
        """Fill X from spec layer ``sl`` of array ``sa``; return the scratch rows it needs."""
        cdef int k
        b = sa.bottleneck
        self._gconv(&X.conv, sl.conv_weight, sl.conv_bias, sl.groups_input, ptr)
        self._gconv(&X.mixin, sl.mixin_weight, None, sl.groups_mixin, ptr)
        X.l1.n_out = 0
        X.h1.n_out = 0
        if sl.layer1x1_weight is not None:
            self._gconv(&X.l1, sl.layer1x1_weight, sl.layer1x1_bias, sl.layer1x1_groups, ptr)
        if sl.head1x1_weight is not None:
            self._gconv(&X.h1, sl.head1x1_weight, sl.head1x1_bias, sl.head1x1_groups, ptr)
        rows = max(sa.channels, X.conv.n_out, X.h1.n_out, sa.condition_size)
        for k, key in enumerate(FILM_KEYS):
            film = sl.films.get(key)
            X.has_film[k] = film is not None
            if film is not None:
                self._gconv(&X.film[k].conv, film.weight, film.bias, film.groups, ptr)
                X.film[k].rows = film.rows
                X.film[k].shift = film.shift
                rows = max(rows, film.weight.shape[0])
        self._act(&X.act, sl.activation, b, ptr)
        self._act(&X.gate, sl.gate_activation, b, ptr)
        return rows

    cdef int _array_width(self, int ai) noexcept nogil:
        return self.width if (ai == 0 and self.slimmable) else self.arrays[ai].channels

    cdef void _arrays(self, const float* x, Py_ssize_t m) noexcept nogil:
        """Run every layer array over one sanitised chunk ``x`` of m frames (padded with zeros
        to a whole tile); the output is left in the last array's ``head_out``."""
        cdef int ai, r
        cdef Py_ssize_t f, n_pad = round_up(m, TILE)
        cdef Py_ssize_t wide = CHUNK + TILE
        cdef ArrayK* a
        cdef ArrayK* prev
        cdef ArrayK* c_last
        cdef float scale
        cdef const float* cond = x   # the raw input feeds the mixins unless a condition model does
        if self.has_condition:
            cond = self.cond
            self.condition._arrays(x, m)
            c_last = &self.condition.arrays[self.condition.n_arrays - 1]
            scale = self.condition.head_scale
            for r in range(self.cond_rows):
                for f in range(n_pad):
                    self.cond[r * wide + f] = scale * c_last.head_out[r * wide + f]
        for ai in range(self.n_arrays):
            a = &self.arrays[ai]
            if self.xarrays[ai].general:
                if ai == 0:
                    array_chunk_general(a, &self.xarrays[0], x, 0, NULL, cond, m, self.n_arrays > 1, &self.gs)
                else:
                    prev = &self.arrays[ai - 1]
                    array_chunk_general(a, &self.xarrays[ai], prev.residual, wide, prev.head_out, cond, m,
                                        ai < self.n_arrays - 1, &self.gs)
            elif ai == 0:
                array_chunk(a, self._array_width(0), x, 0, NULL, cond, self.cond_rows, m,
                            self.n_arrays > 1, self.z, self.act, self.zmix)
            else:
                prev = &self.arrays[ai - 1]
                array_chunk(a, self._array_width(ai), prev.residual, wide, prev.head_out, cond,
                            self.cond_rows, m, ai < self.n_arrays - 1, self.z, self.act, self.zmix)

    cdef void _run(self, const float* x, float* y, Py_ssize_t n, bint count_nonfinite) noexcept nogil:
        cdef Py_ssize_t done = 0, m, t
        cdef ArrayK* a = &self.arrays[self.n_arrays - 1]
        cdef float* xin = self.xin
        cdef const float* head_out = a.head_out
        cdef float scale = self.head_scale
        cdef float v
        cdef int finite
        cdef long long bad = 0
        while done < n:
            m = n - done
            if m > CHUNK:
                m = CHUNK
            # Sanitise: a non-finite input sample is treated as 0 (and counted) so it can never
            # enter the histories. (Branch-free and through locals, so the loops vectorise.)
            if x != NULL:
                for t in range(m):
                    v = x[done + t]
                    finite = isfinite(v)
                    xin[t] = nd_selectf(finite, v, 0.0)
                    bad += 1 - finite
            else:
                memset(xin, 0, m * sizeof(float))
            for t in range(m, round_up(m, TILE)):
                xin[t] = 0.0
            self._arrays(xin, m)
            if y != NULL:
                for t in range(m):
                    y[done + t] = scale * head_out[t]
            done += m
        if count_nonfinite:
            self.nonfinite_count += bad

    cdef int _before_block(self) except -1:
        self.apply_pending_width()
        return 0

    cpdef apply_pending_width(self):
        """Apply a requested width now: newly active channels start from their silence values."""
        cdef int j, new = self.pending_width
        cdef ArrayK* a = &self.arrays[0]
        if new <= 0:
            return
        self.pending_width = 0
        if new > self.width:
            for j in range(a.n_layers):
                ring_fill_rows(&a.layers[j].hist, self.width, new, a.layers[j].silence)
            ring_fill_rows(&a.acc, self.width, new, a.acc_silence)
        self.width = new

    def clear(self):
        """Zero every history (the state before prewarm)."""
        cdef int ai, j, c
        cdef ArrayK* a
        cdef Ring* r
        for ai in range(self.n_arrays):
            a = &self.arrays[ai]
            c = a.channels
            for j in range(a.n_layers):
                r = &a.layers[j].hist
                memset(r.data, 0, c * r.stride * sizeof(float))
                r.pos = r.lookback
            memset(a.acc.data, 0, self.xarrays[ai].acc_rows * a.acc.stride * sizeof(float))
            a.acc.pos = a.acc.lookback
        if self.has_condition:
            self.condition.clear()
        self.nonfinite_count = 0

    cdef void _restore_silence(self) noexcept nogil:
        cdef int ai, j
        cdef ArrayK* a
        for ai in range(self.n_arrays):
            a = &self.arrays[ai]
            for j in range(a.n_layers):
                ring_fill_rows(&a.layers[j].hist, 0, a.channels, a.layers[j].silence)
            ring_fill_rows(&a.acc, 0, self.xarrays[ai].acc_rows if self.xarrays[ai].general else a.channels,
                           a.acc_silence)
        if self.has_condition:
            self.condition._restore_silence()

    def snapshot_silence(self):
        """Record each history row's current (steady, after prewarm) value as its silence value."""
        cdef int ai, j, i, c
        cdef ArrayK* a
        cdef LayerK* L
        for ai in range(self.n_arrays):
            a = &self.arrays[ai]
            c = self._array_width(ai)
            for j in range(a.n_layers):
                L = &a.layers[j]
                for i in range(c):
                    L.silence[i] = L.hist.data[i * L.hist.stride + L.hist.pos - 1] if L.hist.pos > 0 else 0.0
            for i in range(self.xarrays[ai].acc_rows if self.xarrays[ai].general else c):
                a.acc_silence[i] = a.acc.data[i * a.acc.stride + a.acc.pos - 1] if a.acc.pos > 0 else 0.0
        if self.has_condition:
            self.condition.snapshot_silence()

    def state(self):
        """A copy of every history window (for tests: 'split == one-shot, state included')."""
        out = []
        cdef int ai, j, i, c, n_rows
        cdef ArrayK* a
        cdef Ring* r
        for ai in range(self.n_arrays):
            a = &self.arrays[ai]
            c = self._array_width(ai)
            for j in range(a.n_layers + 1):
                r = &a.layers[j].hist if j < a.n_layers else &a.acc
                n_rows = self.xarrays[ai].acc_rows if (j == a.n_layers and self.xarrays[ai].general) else c
                rows = np.empty((n_rows, r.lookback), dtype=np.float32)
                for i in range(n_rows):
                    rows[i] = np.asarray(<float[:r.stride]> (r.data + i * r.stride))[r.pos - r.lookback:r.pos]
                out.append(rows)
        if self.has_condition:
            out += self.condition.state()
        return out


# ---------------------------------------------------------------------------------------------
# LSTM: sequential per sample, float64 state and arithmetic (C in _kernels/lstm.h).
# ---------------------------------------------------------------------------------------------

include "_lstm.pxi"


# ---------------------------------------------------------------------------------------------
# Linear (FIR): y[t] = bias + sum_j w[j] x[t - j], history in a rewound buffer.
# ---------------------------------------------------------------------------------------------

cdef class LinearKernel(StreamKernel):
    """An FIR filter's taps and input history (rewound buffer)."""
    cdef float* w
    cdef float* hist
    cdef Py_ssize_t taps, cap, pos
    cdef float bias

    def __init__(self, spec):
        cdef Py_ssize_t j
        self.taps = spec.receptive_field
        self.w = self._alloc(self.taps)
        for j in range(self.taps):
            self.w[j] = spec.weights[j]
        self.bias = spec.bias
        self.cap = 2 * self.taps + CHUNK
        self.hist = self._alloc(self.cap)
        self.pos = self.taps - 1

    def clear(self):
        memset(self.hist, 0, self.cap * sizeof(float))
        self.pos = self.taps - 1

    cdef void _run(self, const float* x, float* y, Py_ssize_t n, bint count) noexcept nogil:
        cdef Py_ssize_t t, j, keep = self.taps - 1
        cdef float v, acc
        cdef long long bad = 0
        for t in range(n):
            if self.pos >= self.cap:
                memmove(self.hist, self.hist + self.pos - keep, keep * sizeof(float))
                self.pos = keep
            v = x[t] if x != NULL else <float> 0.0
            if not isfinite(v):
                v = 0.0
                bad += 1
            self.hist[self.pos] = v
            acc = self.bias
            for j in range(self.taps):
                acc += self.w[j] * self.hist[self.pos - j]
            if y != NULL:
                y[t] = acc
            self.pos += 1
        if count:
            self.nonfinite_count += bad

    def state(self):
        """A copy of the input history window (the last taps - 1 samples)."""
        keep = self.taps - 1
        if keep == 0:
            return [np.zeros(0, dtype=np.float32)]
        return [np.asarray(<float[:self.cap]> self.hist)[self.pos - keep:self.pos].copy()]
