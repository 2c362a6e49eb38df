/* conv.h: the convolution micro-kernels, register blocks of rows x native vectors of frames.

   Entry point:
     nd_conv_rows(out, out_stride, n_out, n_frames, w, w_row, n_in, k_taps, dil, src, src_stride,
                  bias, mix, cond, add, add_stride)
       out[o, f] = sum_{i,k} w[o, i, k] src[i, f - (K-1-k) dil] + (bias[o] + mix[o] cond[f]) + add[o, f]
       for o < n_out, f < n_frames (a multiple of ND_TILE).

   Every block works on native vectors (nd_vn), never on a vector wider than the machine's.
*/
#ifndef ND_CONV_H
#define ND_CONV_H

#include "common.h"

/* Stands in for an absent mixin input or residual (static storage: zero). */
static float nd_zeros[ND_CHUNK + 2 * ND_TILE];

#define ND_CONV_INLINE static inline __attribute__((always_inline))
#define ND_CONV_UNROLL _Pragma("GCC unroll 8")

#define ND_CONV_ARGS float* out, nd_index out_stride, int o, nd_index t0, const float* w,          \
    nd_index w_row, int n_in, int k_taps, int dil, const float* src, nd_index src_stride,        \
    const float* bias, const float* mix, const float* cond, const float* add, nd_index add_stride

/* Stores accumulator `acc` of row (o + R) at frame t (one native vector): conv sum first, then
   bias and mixin, then the residual. */
#define ND_CONV_STORE_N(acc, R, t) do {                                                          \
        float bo = bias != NULL ? bias[o + (R)] : (float)0.0;                                    \
        float mo = mix != NULL ? mix[o + (R)] : (float)0.0;                                      \
        nd_vnstore(out + (o + (R)) * out_stride + (t),                                           \
                   ((acc) + (bo + (mo * nd_vnload(cond + (t)))))                                 \
                   + nd_vnload(add + (o + (R)) * add_stride + (t)));                             \
    } while (0)

/* 4 rows x 1 tile of frames. Per tap, the sum over input channels runs in two chains (even and
   odd channels) that are then added to the total: short dependency chains for the FMA units,
   and half the float32 rounding growth of one long sum. The 12 accumulators are native vectors
   and the tile is done one native vector at a time (AVX-512: the whole tile; AVX2: halves;
   SSE2 / NEON: quarters), so they fit in 16 registers; every frame gets the same operations in
   the same order on every instruction set. */
static inline void nd_conv_4x1(ND_CONV_ARGS) {
    nd_vn a0, a1, a2, a3, p0, p1, p2, p3, q0, q1, q2, q3, x0, x1;
    int i, k, sub;
    const float* s;
    const float* wp;
    for (sub = 0; sub < ND_SUB; sub++) {
        const nd_index t = t0 + sub * ND_LANES;
        a0 = nd_vnzero(); a1 = nd_vnzero(); a2 = nd_vnzero(); a3 = nd_vnzero();
        for (k = 0; k < k_taps; k++) {
            p0 = nd_vnzero(); p1 = nd_vnzero(); p2 = nd_vnzero(); p3 = nd_vnzero();
            q0 = nd_vnzero(); q1 = nd_vnzero(); q2 = nd_vnzero(); q3 = nd_vnzero();
            i = 0;
            while (i + 1 < n_in) {
                s = src + i * src_stride + t - (k_taps - 1 - k) * dil;
                wp = w + o * w_row + i * k_taps + k;
                x0 = nd_vnload(s);
                x1 = nd_vnload(s + src_stride);
                p0 = p0 + wp[0] * x0;
                p1 = p1 + wp[w_row] * x0;
                p2 = p2 + wp[2 * w_row] * x0;
                p3 = p3 + wp[3 * w_row] * x0;
                q0 = q0 + wp[k_taps] * x1;
                q1 = q1 + wp[w_row + k_taps] * x1;
                q2 = q2 + wp[2 * w_row + k_taps] * x1;
                q3 = q3 + wp[3 * w_row + k_taps] * x1;
                i += 2;
            }
            if (i < n_in) {
                s = src + i * src_stride + t - (k_taps - 1 - k) * dil;
                wp = w + o * w_row + i * k_taps + k;
                x0 = nd_vnload(s);
                p0 = p0 + wp[0] * x0;
                p1 = p1 + wp[w_row] * x0;
                p2 = p2 + wp[2 * w_row] * x0;
                p3 = p3 + wp[3 * w_row] * x0;
            }
            a0 = a0 + (p0 + q0);
            a1 = a1 + (p1 + q1);
            a2 = a2 + (p2 + q2);
            a3 = a3 + (p3 + q3);
        }
        ND_CONV_STORE_N(a0, 0, t);
        ND_CONV_STORE_N(a1, 1, t);
        ND_CONV_STORE_N(a2, 2, t);
        ND_CONV_STORE_N(a3, 3, t);
    }
}

/* R rows x V native vectors of frames from frame t0: one chain per accumulator over (input, tap),
   from zero. R and V are constants where it is called (always inlined, loops unrolled), so the
   R * V accumulators live in registers: GCC lowers a vector wider than the machine's through
   the stack, which made these blocks 10-30x slower on AVX2 when they worked on 16-float tiles. */
ND_CONV_INLINE void nd_conv_block(ND_CONV_ARGS, const int R, const int V) {
    nd_vn acc[2][8], x[8];
    int i, k;
    const float* s;
    const float* wp;
    ND_CONV_UNROLL for (int r = 0; r < R; r++)
        ND_CONV_UNROLL for (int v = 0; v < V; v++) acc[r][v] = nd_vnzero();
    for (i = 0; i < n_in; i++) {
        for (k = 0; k < k_taps; k++) {
            s = src + i * src_stride + t0 - (k_taps - 1 - k) * dil;
            wp = w + o * w_row + i * k_taps + k;
            ND_CONV_UNROLL for (int v = 0; v < V; v++) x[v] = nd_vnload(s + v * ND_LANES);
            ND_CONV_UNROLL for (int r = 0; r < R; r++) {
                const float wr = wp[r * w_row];
                ND_CONV_UNROLL for (int v = 0; v < V; v++) acc[r][v] = acc[r][v] + wr * x[v];
            }
        }
    }
    ND_CONV_UNROLL for (int r = 0; r < R; r++)
        ND_CONV_UNROLL for (int v = 0; v < V; v++) ND_CONV_STORE_N(acc[r][v], r, t0 + v * ND_LANES);
}

/* Native vectors per block for the last rows: 2 rows x ND_CONV_V2, 1 row x ND_CONV_V1 (each
   input vector feeds one FMA there, so it is a memory operand and needs no register). */
#define ND_CONV_V2 4
#define ND_CONV_V1 8

/* For every row o < n_out and frame f < n_frames (a multiple of ND_TILE):

   out[o, f] = sum_{i,k} w[o, i, k] * src[i, f - (K-1-k) dil] + (bias[o] + mix[o] * cond[f]) + add[o, f]

   `w` rows are `w_row` floats apart with taps contiguous; `src` points at frame 0 of input row
   0, rows `src_stride` apart. `bias`, `mix` and `add` may be NULL (zeros). The conv terms are
   summed first and the (larger) bias / mixin / residual terms added last: that order loses the
   least precision in float32.

   Rows are covered by register blocks of 4 rows x 1 tile, then 2 rows x ND_CONV_V2 native
   vectors, then 1 row x ND_CONV_V1, so the last rows keep as many FMAs in flight as the first. Every block performs the
   same operations in the same order for a given frame, so the result never depends on which
   block (or block partition of the stream) computed it. */
static inline void nd_conv_rows(float* out, nd_index out_stride, int n_out, nd_index n_frames,
                                const float* w, nd_index w_row, int n_in, int k_taps, int dil,
                                const float* src, nd_index src_stride, const float* bias,
                                const float* mix, const float* cond, const float* add,
                                nd_index add_stride) {
    int o = 0;
    nd_index t0;
    if (cond == NULL) {
        cond = nd_zeros;
        mix = NULL;
    }
    if (add == NULL) {
        add = nd_zeros;
        add_stride = 0;
    }
#define ND_CONV_CALL(kernel, row)                                                                \
    kernel(out, out_stride, row, t0, w, w_row, n_in, k_taps, dil, src, src_stride, bias, mix,   \
           cond, add, add_stride)
    while (o + 4 <= n_out) {
        for (t0 = 0; t0 < n_frames; t0 += ND_TILE) ND_CONV_CALL(nd_conv_4x1, o);
        o += 4;
    }
    /* The last rows, in native vectors of frames (n_frames is a multiple of ND_LANES). */
#define ND_CONV_BLOCKS(R, V_BIG)                                                                 \
    do {                                                                                         \
        t0 = 0;                                                                                  \
        while (t0 + (V_BIG) * ND_LANES <= n_frames) {                                            \
            nd_conv_block(out, out_stride, o, t0, w, w_row, n_in, k_taps, dil, src, src_stride,   \
                          bias, mix, cond, add, add_stride, R, V_BIG);                           \
            t0 += (V_BIG) * ND_LANES;                                                            \
        }                                                                                        \
        for (; t0 < n_frames; t0 += ND_LANES)                                                    \
            nd_conv_block(out, out_stride, o, t0, w, w_row, n_in, k_taps, dil, src, src_stride,   \
                          bias, mix, cond, add, add_stride, R, 1);                               \
    } while (0)
    while (o + 2 <= n_out) {
        ND_CONV_BLOCKS(2, ND_CONV_V2);
        o += 2;
    }
    while (o < n_out) {
        ND_CONV_BLOCKS(1, ND_CONV_V1);
        o += 1;
    }
#undef ND_CONV_BLOCKS
#undef ND_CONV_CALL
}

#endif
