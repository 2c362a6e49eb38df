/* nd_simd.h - vector code written once for AVX-512, AVX2+FMA, SSE2 and NEON (GCC/Clang vector
   extensions). The lane count follows the target: 16 (AVX-512F), 8 (AVX, AVX2), 4 otherwise.
   Build with -ffp-contract=fast (the package's flags): `a * b + c` becomes one FMA on targets that
   have it (x86-64-v3/v4, aarch64) and a multiply and an add elsewhere (x86-64 baseline); every
   form below is accurate either way. Within one build, a value never depends on where it sits. */
#ifndef ND_SIMD_H
#define ND_SIMD_H
#include <stddef.h>
#include <stdint.h>

#ifndef ND_LANES
#  if defined(__AVX512F__)
#    define ND_LANES 16
#  elif defined(__AVX__)
#    define ND_LANES 8
#  else
#    define ND_LANES 4
#  endif
#endif
#define ND_TILE 16                       /* frames per tile: fixed for every ISA */
#define ND_VPT (ND_TILE / ND_LANES)      /* vectors per tile */
#define ND_UNROLL _Pragma("GCC unroll 16")
#define ND_INLINE static inline __attribute__((always_inline))

/* aligned(4): loads and stores at any float address; may_alias: over float arrays. */
typedef float nd_v __attribute__((vector_size(4 * ND_LANES), aligned(4), may_alias));
typedef int32_t nd_vi __attribute__((vector_size(4 * ND_LANES), aligned(4), may_alias));

ND_INLINE nd_v nd_load(const float* p) { return *(const nd_v*)p; }
ND_INLINE void nd_store(float* p, nd_v v) { *(nd_v*)p = v; }
ND_INLINE nd_v nd_set1(float s) { return (nd_v){0} + s; }
ND_INLINE nd_v nd_zero(void) { return (nd_v){0}; }
/* m ? a : b per lane, m all-ones or all-zeros (C has no vector ?:) */
ND_INLINE nd_v nd_select(nd_vi m, nd_v a, nd_v b) {
    return (nd_v)((m & (nd_vi)a) | (~m & (nd_vi)b));
}

/* ---------------------------------------------------------------------------------------------
   tanh. tanh|x| = E / (E + 2), E = expm1(2|x|) = 2^k (1 + p) - 1, |x| = k ln2/2 + h,
   |h| <= ln2/4 (+ rounding), p = expm1(2h) = 2h + h^2 Q(h), Q a degree-4 minimax polynomial.
   |x| is clamped to 9.1 (float tanh is 1 above; NaN -> 9.1 -> +-1), so k <= 26.
   k = round(x * 2/ln2) by adding 1.5 * 2^23 (j's low mantissa bits are then k).
   Near 1 (|x| >= 1) the result is 1 - 2/d (accurate and monotonic), below it E / d.
   ------------------------------------------------------------------------------------------- */
#define ND_TANH_PROLOGUE                                                                        \
    const nd_vi mag = (nd_vi){0} + 0x7fffffff;                                                  \
    const nd_v shifter = nd_set1(12582912.0f);            /* 1.5 * 2^23 */                      \
    nd_v x = (nd_v)((nd_vi)v & mag);                                                            \
    x = nd_select(x < 9.1f, x, nd_set1(9.1f));             /* min(x, 9.1); NaN -> 9.1 */        \
    nd_v j = x * 2.8853900817779268f + shifter;                                                 \
    nd_v kf = j - shifter;                                                                      \
    nd_v h = x - kf * 0.34657359027997264f;                                                     \
    nd_v two_k = (nd_v)((((nd_vi)j - (nd_vi)shifter) + 127) << 23);

/* General form (as the AVX-512 nd_tanh_v): Horner, E / d with one correction step. */
ND_INLINE nd_v nd_tanh(nd_v v) {
    ND_TANH_PROLOGUE
    nd_v q = 0.08884797957117004f * h + 0.2677327066696318f;
    q = q * h + 0.6666752629554217f;
    q = q * h + 1.333323414566915f;
    q = q * h + 1.9999999253150218f;
    nd_v p = (h * h) * q + (h + h);
    nd_v e = two_k * p + (two_k - 1.0f);
    nd_v d = e + 2.0f;
    nd_v r = 1.0f / d;
    nd_v t = e * r;
    t = r * (e - t * d) + t;                       /* E / d to ~0.5 ulp (with FMA) */
    t = nd_select(x >= 1.0f, 1.0f - 2.0f * r, t);
    return (nd_v)(((nd_vi)t & mag) | ((nd_vi)v & ~mag));
}

/* Short-chain form (as the AVX-512 nd_tanh_short_v): Estrin for Q, E * (1/d), no correction.
   For latency-bound narrow layers. */
ND_INLINE nd_v nd_tanh_short(nd_v v) {
    ND_TANH_PROLOGUE
    nd_v h2 = h * h;
    nd_v lo = 1.333323414566915f * h + 1.9999999253150218f;
    nd_v mid = 0.2677327066696318f * h + 0.6666752629554217f;
    nd_v q = (0.08884797957117004f * h2 + mid) * h2 + lo;
    nd_v p = h2 * q + (h + h);
    nd_v e = two_k * p + (two_k - 1.0f);
    nd_v r = 1.0f / (e + 2.0f);
    nd_v t = nd_select(x >= 1.0f, 1.0f - 2.0f * r, e * r);
    return (nd_v)(((nd_vi)t & mag) | ((nd_vi)v & ~mag));
}

/* tanh in place over n floats (n a multiple of ND_LANES: the engine pads to ND_TILE). */
static inline void nd_tanh_array(float* p, ptrdiff_t n) {
    for (ptrdiff_t f = 0; f < n; f += ND_LANES) nd_store(p + f, nd_tanh(nd_load(p + f)));
}
static inline void nd_tanh_short_array(float* p, ptrdiff_t n) {
    for (ptrdiff_t f = 0; f < n; f += ND_LANES) nd_store(p + f, nd_tanh_short(nd_load(p + f)));
}


/* The engine's current portable tanh_tile (degree-6 expm1 series after a two-constant Cody-Waite
   reduction; the form today's non-AVX-512 builds auto-vectorise), written as vector code: the
   same operations in the same order, so with the same flags it gives the same bits as that loop
   (checked exhaustively by simd_bench acc). Use it where renders must stay bit-identical to
   builds before the port. */
ND_INLINE nd_v nd_tanh_compat(nd_v v) {
    const nd_vi mag = (nd_vi){0} + 0x7fffffff;
    const nd_vi ci = (nd_vi){0} + 0x4111999a;             /* bits of 9.1f */
    nd_vi xi = (nd_vi)v & mag, dd = xi - ci;
    nd_v x = (nd_v)(ci + (dd & (dd >> 31)));              /* min(|v|, 9.1), NaN -> 9.1 */
    nd_v y = 2.0f * x;
    nd_vi ki = __builtin_convertvector(y * 1.4426950408889634f + 0.5f, nd_vi);
    nd_v kf = __builtin_convertvector(ki, nd_v);
    nd_v r = y - kf * 0.693145751953125f - kf * 1.428606765330187e-06f;
    nd_v pm1 = r + (r * r) * (0.5f + r * (0.16666666666666666f + r * (0.041666666666666664f
               + r * (0.008333333333333333f + r * (0.001388888888888889f + r * 0.0001984126984126984f)))));
    nd_v two_k = (nd_v)((ki + 127) << 23);
    nd_v e = two_k * pm1 + (two_k - 1.0f);
    nd_v d = e + 2.0f;
    nd_v q = 1.0f / d;
    nd_v t = e * q;
    t = t + q * (e - t * d);
    nd_v sel = (nd_v)((nd_vi)nd_set1(1.0f) & (x < 1.0f));  /* 1.0f or 0.0f */
    nd_v res = sel * t + (1.0f - sel) * (1.0f - 2.0f * q);
    return (nd_v)(((nd_vi)res & mag) | ((nd_vi)v & ~mag));
}
static inline void nd_tanh_compat_array(float* p, ptrdiff_t n) {
    for (ptrdiff_t f = 0; f < n; f += ND_LANES) nd_store(p + f, nd_tanh_compat(nd_load(p + f)));
}

/* ---------------------------------------------------------------------------------------------
   Convolution micro-kernel (the conv_rows contract), R rows x V vectors of frames (V * ND_LANES
   frames) starting at frame t0:
   out[o, f] = sum_{i,k} w[o, i, k] src[i, f - (K-1-k) dil] + (bias[o] + mix[o] cond[f]) + add[o, f]
   ORDER fixes the order of the sum for every frame (it never depends on V, so a chunk may be
   covered by any mix of V-groups and the result stays bit-identical):
     ND_ORDER_IK     one chain, input channel outer, tap inner
     ND_ORDER_TAPSPLIT  per tap, even and odd input channels in two chains, added to the total
                     (the AVX-512 _conv_4x1 order)
   ------------------------------------------------------------------------------------------- */
#define ND_ORDER_IK 0
#define ND_ORDER_TAPSPLIT 1

ND_INLINE void nd_conv_block(float* out, ptrdiff_t out_stride, int o, ptrdiff_t t0,
        const float* w, ptrdiff_t w_row, int n_in, int k_taps, int dil,
        const float* src, ptrdiff_t src_stride, const float* bias, const float* mix,
        const float* cond, const float* add, ptrdiff_t add_stride,
        const int R, const int V, const int ORDER) {
    nd_v acc[8][8];
    ND_UNROLL for (int r = 0; r < R; r++) ND_UNROLL for (int c = 0; c < V; c++) acc[r][c] = nd_zero();
    if (ORDER == ND_ORDER_IK) {
        for (int i = 0; i < n_in; i++) {
            for (int k = 0; k < k_taps; k++) {
                const float* s = src + i * src_stride + t0 - (ptrdiff_t)(k_taps - 1 - k) * dil;
                const float* wp = w + (ptrdiff_t)o * w_row + i * k_taps + k;
                nd_v x[8];
                ND_UNROLL for (int c = 0; c < V; c++) x[c] = nd_load(s + c * ND_LANES);
                ND_UNROLL for (int r = 0; r < R; r++) {
                    const float wr = wp[r * w_row];
                    ND_UNROLL for (int c = 0; c < V; c++) acc[r][c] = acc[r][c] + wr * x[c];
                }
            }
        }
    } else {
        for (int k = 0; k < k_taps; k++) {
            nd_v p[8][8], q[8][8];
            ND_UNROLL for (int r = 0; r < R; r++) ND_UNROLL for (int c = 0; c < V; c++) {
                p[r][c] = nd_zero(); q[r][c] = nd_zero();
            }
            int i = 0;
            for (; i + 1 < n_in; i += 2) {
                const float* s = src + i * src_stride + t0 - (ptrdiff_t)(k_taps - 1 - k) * dil;
                const float* wp = w + (ptrdiff_t)o * w_row + i * k_taps + k;
                nd_v x0[8], x1[8];
                ND_UNROLL for (int c = 0; c < V; c++) {
                    x0[c] = nd_load(s + c * ND_LANES); x1[c] = nd_load(s + src_stride + c * ND_LANES);
                }
                ND_UNROLL for (int r = 0; r < R; r++) {
                    const float w0 = wp[r * w_row], w1 = wp[r * w_row + k_taps];
                    ND_UNROLL for (int c = 0; c < V; c++) {
                        p[r][c] = p[r][c] + w0 * x0[c]; q[r][c] = q[r][c] + w1 * x1[c];
                    }
                }
            }
            if (i < n_in) {
                const float* s = src + i * src_stride + t0 - (ptrdiff_t)(k_taps - 1 - k) * dil;
                const float* wp = w + (ptrdiff_t)o * w_row + i * k_taps + k;
                nd_v x0[8];
                ND_UNROLL for (int c = 0; c < V; c++) x0[c] = nd_load(s + c * ND_LANES);
                ND_UNROLL for (int r = 0; r < R; r++) {
                    const float w0 = wp[r * w_row];
                    ND_UNROLL for (int c = 0; c < V; c++) p[r][c] = p[r][c] + w0 * x0[c];
                }
            }
            ND_UNROLL for (int r = 0; r < R; r++) ND_UNROLL for (int c = 0; c < V; c++)
                acc[r][c] = acc[r][c] + (p[r][c] + q[r][c]);
        }
    }
    ND_UNROLL for (int r = 0; r < R; r++) {
        const float bo = bias != NULL ? bias[o + r] : 0.0f;
        const float mo = mix != NULL ? mix[o + r] : 0.0f;
        ND_UNROLL for (int c = 0; c < V; c++) {
            const ptrdiff_t f = t0 + c * ND_LANES;
            nd_store(out + (ptrdiff_t)(o + r) * out_stride + f,
                     acc[r][c] + (bo + mo * nd_load(cond + f)) + nd_load(add + (ptrdiff_t)(o + r) * add_stride + f));
        }
    }
}

/* Rows o .. o+R-1 over n_frames frames (a multiple of ND_LANES): groups of V vectors, then of 2
   (when V > 2), then single vectors. ORDER is the same for all, so the partition never shows in
   the output; the 2-groups keep a 64-frame chunk from ending in latency-bound single vectors. */
ND_INLINE void nd_conv_rowblock(float* out, ptrdiff_t out_stride, int o, ptrdiff_t n_frames,
        const float* w, ptrdiff_t w_row, int n_in, int k_taps, int dil,
        const float* src, ptrdiff_t src_stride, const float* bias, const float* mix,
        const float* cond, const float* add, ptrdiff_t add_stride,
        const int R, const int V, const int ORDER) {
    ptrdiff_t t0 = 0;
    for (; t0 + V * ND_LANES <= n_frames; t0 += V * ND_LANES)
        nd_conv_block(out, out_stride, o, t0, w, w_row, n_in, k_taps, dil, src, src_stride,
                      bias, mix, cond, add, add_stride, R, V, ORDER);
    if (V > 2)
        for (; t0 + 2 * ND_LANES <= n_frames; t0 += 2 * ND_LANES)
            nd_conv_block(out, out_stride, o, t0, w, w_row, n_in, k_taps, dil, src, src_stride,
                          bias, mix, cond, add, add_stride, R, 2, ORDER);
    for (; t0 < n_frames; t0 += ND_LANES)
        nd_conv_block(out, out_stride, o, t0, w, w_row, n_in, k_taps, dil, src, src_stride,
                      bias, mix, cond, add, add_stride, R, 1, ORDER);
}


/* conv_rows with the register blocking recommended for this ISA (bench/simd measurements; order
   o0 everywhere, so the plan may depend on n_frames and still never changes a bit). cond and add
   must not be NULL: pass a zero row and add_stride 0 (conv_rows' ZEROS), mix NULL with it.
     AVX2 (8 lanes, 16 ymm): n_frames <= 64: 1 row x 8 vectors (8 accumulators + broadcasts,
       x straight from memory into the FMA); longer: 4 rows x 3 vectors (12 acc + 3 x + 1 w = 16).
     SSE2 / NEON (4 lanes): 1 x 8 on SSE2 (measured best or within 10% on every shape);
       NEON 4 x 4 (16 acc of 32 registers, spill-free, by-element FMLA) is untimed.
     AVX-512: unmeasured here (no AVX-512 on this CPU): keep today's blocking (nd_conv_rows_compat). */
#if ND_LANES == 8
#  define ND_PLAN_SHORT_R 1
#  define ND_PLAN_SHORT_V 8
#  define ND_PLAN_LONG_R 4
#  define ND_PLAN_LONG_V 3
#elif ND_LANES == 4 && defined(__aarch64__)
#  define ND_PLAN_SHORT_R 4
#  define ND_PLAN_SHORT_V 4
#  define ND_PLAN_LONG_R 4
#  define ND_PLAN_LONG_V 4
#elif ND_LANES == 4
#  define ND_PLAN_SHORT_R 1
#  define ND_PLAN_SHORT_V 8
#  define ND_PLAN_LONG_R 1
#  define ND_PLAN_LONG_V 8
#else
#  define ND_PLAN_SHORT_R 4
#  define ND_PLAN_SHORT_V 2
#  define ND_PLAN_LONG_R 4
#  define ND_PLAN_LONG_V 2
#endif
static inline void nd_conv_rows(float* out, ptrdiff_t out_stride, int n_out, ptrdiff_t n_frames,
        const float* w, ptrdiff_t w_row, int n_in, int k_taps, int dil,
        const float* src, ptrdiff_t src_stride, const float* bias, const float* mix,
        const float* cond, const float* add, ptrdiff_t add_stride) {
    int o = 0;
    if (n_frames <= 64) {
        for (; o + ND_PLAN_SHORT_R <= n_out; o += ND_PLAN_SHORT_R)
            nd_conv_rowblock(out, out_stride, o, n_frames, w, w_row, n_in, k_taps, dil, src, src_stride,
                             bias, mix, cond, add, add_stride, ND_PLAN_SHORT_R, ND_PLAN_SHORT_V, ND_ORDER_IK);
    } else {
        for (; o + ND_PLAN_LONG_R <= n_out; o += ND_PLAN_LONG_R)
            nd_conv_rowblock(out, out_stride, o, n_frames, w, w_row, n_in, k_taps, dil, src, src_stride,
                             bias, mix, cond, add, add_stride, ND_PLAN_LONG_R, ND_PLAN_LONG_V, ND_ORDER_IK);
    }
    for (; o < n_out; o++)
        nd_conv_rowblock(out, out_stride, o, n_frames, w, w_row, n_in, k_taps, dil, src, src_stride,
                         bias, mix, cond, add, add_stride, 1, 8, ND_ORDER_IK);
}

/* Today's summation orders (4-row blocks tap-split, the other rows one chain): bit-identical to
   the current _conv_4x1/_2x2/_1x4/_1x1 on the same ISA, with blocks that fit its registers
   (4 rows x 1 vector in tap-split = 12 vector registers at any lane count). */
static inline void nd_conv_rows_compat(float* out, ptrdiff_t out_stride, int n_out, ptrdiff_t n_frames,
        const float* w, ptrdiff_t w_row, int n_in, int k_taps, int dil,
        const float* src, ptrdiff_t src_stride, const float* bias, const float* mix,
        const float* cond, const float* add, ptrdiff_t add_stride) {
    int o = 0;
    for (; o + 4 <= n_out; o += 4)
        nd_conv_rowblock(out, out_stride, o, n_frames, w, w_row, n_in, k_taps, dil, src, src_stride,
                         bias, mix, cond, add, add_stride, 4, 1, ND_ORDER_TAPSPLIT);
    for (; o < n_out; o++)
        nd_conv_rowblock(out, out_stride, o, n_frames, w, w_row, n_in, k_taps, dil, src, src_stride,
                         bias, mix, cond, add, add_stride, 1, ND_LANES == 16 ? 4 : 8, ND_ORDER_IK);
}

/* ---------------------------------------------------------------------------------------------
   Narrow layers (C <= 4 channels, ungated): one pass per layer over groups of V vectors of
   frames, every row's values in registers: conv + bias + mixin, the activation, then the head
   sum and the layer 1x1 + residual. Per frame:
     z[o] = (b[o] + m[o] cond) + sum_{i, k} w[o,i,k] src[i, f - (K-1-k) dil]   (i outer, k inner)
     a = tanh(z);  head[o] += a[o];  dst[o] = (src[o] + u_b[o]) + sum_i u[o,i] a[i]
   (the order of the engine's nd_narrow_* passes). TANH picks the tanh: ND_TANH_SHORT,
   ND_TANH_GENERAL, ND_TANH_COMPAT (bit-identical to the three-pass path with tanh_tile).
   ------------------------------------------------------------------------------------------- */
#define ND_TANH_SHORT 1
#define ND_TANH_GENERAL 2
#define ND_TANH_COMPAT 3

ND_INLINE nd_v nd_tanh_pick(nd_v v, const int TANH) {
    return TANH == ND_TANH_SHORT ? nd_tanh_short(v) : TANH == ND_TANH_GENERAL ? nd_tanh(v) : nd_tanh_compat(v);
}

/* S = 1: one chain per row, from the bias + mixin on. S = 2: even taps in that chain, odd taps
   in a second chain from 0, then added: half the latency, for widths where the chain (not the
   FMA throughput) sets the time.
   P = 1: packed weights, w[(i K + k) C + o] (C floats per tap, rows adjacent; w_row unused):
   frees the integer registers the row offsets o * w_row take (same arithmetic, same bits). */
ND_INLINE void nd_nw_conv_regs(nd_v z[4][8], ptrdiff_t t0, const float* w, ptrdiff_t w_row,
        int k_taps, int dil, const float* src, ptrdiff_t src_stride, const float* b,
        const float* m, const float* cond, const int C, const int V, const int S, const int P) {
    const int packed = P;
    nd_v z2[4][8];
    ND_UNROLL for (int o = 0; o < C; o++)
        ND_UNROLL for (int c = 0; c < V; c++) {
            z[o][c] = b[o] + m[o] * nd_load(cond + t0 + c * ND_LANES);
            z2[o][c] = nd_zero();
        }
    ND_UNROLL for (int i = 0; i < C; i++) {
        const float* si = src + i * src_stride + t0 - (ptrdiff_t)(k_taps - 1) * dil;
        const float* wi = w + i * k_taps;
        int k = 0;
        if (S == 2) {
            for (; k + 1 < k_taps; k += 2) {
                nd_v x[8], y[8];
                ND_UNROLL for (int c = 0; c < V; c++) {
                    x[c] = nd_load(si + (ptrdiff_t)k * dil + c * ND_LANES);
                    y[c] = nd_load(si + (ptrdiff_t)(k + 1) * dil + c * ND_LANES);
                }
                ND_UNROLL for (int o = 0; o < C; o++) {
                    const float w0 = packed ? w[(i * k_taps + k) * C + o] : wi[o * w_row + k];
                    const float w1 = packed ? w[(i * k_taps + k + 1) * C + o] : wi[o * w_row + k + 1];
                    ND_UNROLL for (int c = 0; c < V; c++) {
                        z[o][c] = z[o][c] + w0 * x[c];
                        z2[o][c] = z2[o][c] + w1 * y[c];
                    }
                }
            }
        }
        for (; k < k_taps; k++) {
            nd_v x[8];
            ND_UNROLL for (int c = 0; c < V; c++) x[c] = nd_load(si + (ptrdiff_t)k * dil + c * ND_LANES);
            ND_UNROLL for (int o = 0; o < C; o++) {
                const float wo = packed ? w[(i * k_taps + k) * C + o] : wi[o * w_row + k];
                ND_UNROLL for (int c = 0; c < V; c++) z[o][c] = z[o][c] + wo * x[c];
            }
        }
    }
    if (S == 2)
        ND_UNROLL for (int o = 0; o < C; o++) ND_UNROLL for (int c = 0; c < V; c++) z[o][c] = z[o][c] + z2[o][c];
}

ND_INLINE void nd_nw_post_regs(nd_v a[4][8], ptrdiff_t t0, float* head, ptrdiff_t head_stride,
        const float* u, ptrdiff_t u_row, const float* u_b, const float* src, ptrdiff_t src_stride,
        float* dst, ptrdiff_t dst_stride, const int C, const int V) {
    ND_UNROLL for (int o = 0; o < C; o++)
        ND_UNROLL for (int c = 0; c < V; c++) {
            float* hp = head + o * head_stride + t0 + c * ND_LANES;
            nd_store(hp, nd_load(hp) + a[o][c]);
        }
    if (dst == NULL) return;
    ND_UNROLL for (int o = 0; o < C; o++)
        ND_UNROLL for (int c = 0; c < V; c++) {
            nd_v r = nd_load(src + o * src_stride + t0 + c * ND_LANES);
            if (u != NULL) {
                r = r + u_b[o];
                ND_UNROLL for (int i = 0; i < C; i++) r = r + u[o * u_row + i] * a[i][c];
            }
            nd_store(dst + o * dst_stride + t0 + c * ND_LANES, r);
        }
}

/* The whole layer over n_pad frames (a multiple of ND_LANES) in one pass. */
ND_INLINE void nd_narrow_layer_pass(ptrdiff_t n_pad, const float* w, ptrdiff_t w_row, int k_taps,
        int dil, const float* src, ptrdiff_t src_stride, const float* b, const float* m,
        const float* cond, float* head, ptrdiff_t head_stride, const float* u, ptrdiff_t u_row,
        const float* u_b, float* dst, ptrdiff_t dst_stride, const int C, const int V, const int TANH,
        const int S, const int P) {
    ptrdiff_t t0 = 0;
    nd_v z[4][8];
    for (; t0 + V * ND_LANES <= n_pad; t0 += V * ND_LANES) {
        nd_nw_conv_regs(z, t0, w, w_row, k_taps, dil, src, src_stride, b, m, cond, C, V, S, P);
        ND_UNROLL for (int o = 0; o < C; o++) ND_UNROLL for (int c = 0; c < V; c++) z[o][c] = nd_tanh_pick(z[o][c], TANH);
        nd_nw_post_regs(z, t0, head, head_stride, u, u_row, u_b, src, src_stride, dst, dst_stride, C, V);
    }
    for (; t0 < n_pad; t0 += ND_LANES) {
        nd_nw_conv_regs(z, t0, w, w_row, k_taps, dil, src, src_stride, b, m, cond, C, 1, S, P);
        ND_UNROLL for (int o = 0; o < C; o++) z[o][0] = nd_tanh_pick(z[o][0], TANH);
        nd_nw_post_regs(z, t0, head, head_stride, u, u_row, u_b, src, src_stride, dst, dst_stride, C, 1);
    }
}

#endif
