/* conv.h: the convolution micro-kernels, register blocks of rows x ND_TILE-frame tiles.

   Entry point:
     nd_conv_rows(out, out_stride, n_out, n_frames, w, w_row, n_in, k_taps, dil, src, src_stride,
                  bias, mix, cond, add, add_stride)
       out[o, f] = sum_{i,k} w[o, i, k] src[i, f - (K-1-k) dil] + (bias[o] + mix[o] cond[f]) + add[o, f]
       for o < n_out, f < n_frames (a multiple of ND_TILE).
*/
#ifndef ND_CONV_H
#define ND_CONV_H

#include "common.h"

/* Stands in for an absent mixin input or residual (static storage: zero). */
static float nd_zeros[ND_CHUNK + 2 * ND_TILE];

#define ND_CONV_ARGS float* out, nd_index out_stride, int o, nd_index t0, const float* w,          \
    nd_index w_row, int n_in, int k_taps, int dil, const float* src, nd_index src_stride,        \
    const float* bias, const float* mix, const float* cond, const float* add, nd_index add_stride

/* Stores one accumulated tile of row (o + R), frame offset OFF: conv sum first, then bias and
   mixin, then the residual. */
#define ND_CONV_STORE(acc, R, OFF) do {                                                          \
        float bo = bias != NULL ? bias[o + (R)] : (float)0.0;                                    \
        float mo = mix != NULL ? mix[o + (R)] : (float)0.0;                                      \
        nd_vstore(out + (o + (R)) * out_stride + t0 + (OFF),                                     \
                  ((acc) + (bo + (mo * nd_vload(cond + t0 + (OFF)))))                            \
                  + nd_vload(add + (o + (R)) * add_stride + t0 + (OFF)));                        \
    } while (0)

/* 4 rows x 1 tile of frames. Per tap, the sum over input channels runs in two chains (even and
   odd channels) that are then added to the total: short dependency chains for the FMA units,
   and half the float32 rounding growth of one long sum. */
static inline void nd_conv_4x1(ND_CONV_ARGS) {
    nd_vfloat a0, a1, a2, a3, p0, p1, p2, p3, q0, q1, q2, q3, x0, x1;
    int i, k;
    const float* s;
    const float* wp;
    a0 = nd_vzero(); a1 = nd_vzero(); a2 = nd_vzero(); a3 = nd_vzero();
    for (k = 0; k < k_taps; k++) {
        p0 = nd_vzero(); p1 = nd_vzero(); p2 = nd_vzero(); p3 = nd_vzero();
        q0 = nd_vzero(); q1 = nd_vzero(); q2 = nd_vzero(); q3 = nd_vzero();
        i = 0;
        while (i + 1 < n_in) {
            s = src + i * src_stride + t0 - (k_taps - 1 - k) * dil;
            wp = w + o * w_row + i * k_taps + k;
            x0 = nd_vload(s);
            x1 = nd_vload(s + src_stride);
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
            s = src + i * src_stride + t0 - (k_taps - 1 - k) * dil;
            wp = w + o * w_row + i * k_taps + k;
            x0 = nd_vload(s);
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
    ND_CONV_STORE(a0, 0, 0);
    ND_CONV_STORE(a1, 1, 0);
    ND_CONV_STORE(a2, 2, 0);
    ND_CONV_STORE(a3, 3, 0);
}

/* 2 rows x 2 tiles of frames: 4 vector accumulators. */
static inline void nd_conv_2x2(ND_CONV_ARGS) {
    nd_vfloat a0, a1, a2, a3, x0, x1;
    int i, k;
    const float* s;
    const float* wp;
    float w0, w1;
    a0 = nd_vzero(); a1 = nd_vzero(); a2 = nd_vzero(); a3 = nd_vzero();
    for (i = 0; i < n_in; i++) {
        for (k = 0; k < k_taps; k++) {
            s = src + i * src_stride + t0 - (k_taps - 1 - k) * dil;
            wp = w + o * w_row + i * k_taps + k;
            w0 = wp[0];
            w1 = wp[w_row];
            x0 = nd_vload(s);
            x1 = nd_vload(s + 1 * ND_TILE);
            a0 = a0 + w0 * x0;
            a1 = a1 + w0 * x1;
            a2 = a2 + w1 * x0;
            a3 = a3 + w1 * x1;
        }
    }
    ND_CONV_STORE(a0, 0, 0);
    ND_CONV_STORE(a1, 0, 1 * ND_TILE);
    ND_CONV_STORE(a2, 1, 0);
    ND_CONV_STORE(a3, 1, 1 * ND_TILE);
}

/* 1 row x 4 tiles of frames: 4 vector accumulators. */
static inline void nd_conv_1x4(ND_CONV_ARGS) {
    nd_vfloat a0, a1, a2, a3, x0, x1, x2, x3;
    int i, k;
    const float* s;
    const float* wp;
    float w0;
    a0 = nd_vzero(); a1 = nd_vzero(); a2 = nd_vzero(); a3 = nd_vzero();
    for (i = 0; i < n_in; i++) {
        for (k = 0; k < k_taps; k++) {
            s = src + i * src_stride + t0 - (k_taps - 1 - k) * dil;
            wp = w + o * w_row + i * k_taps + k;
            w0 = wp[0];
            x0 = nd_vload(s);
            x1 = nd_vload(s + 1 * ND_TILE);
            x2 = nd_vload(s + 2 * ND_TILE);
            x3 = nd_vload(s + 3 * ND_TILE);
            a0 = a0 + w0 * x0;
            a1 = a1 + w0 * x1;
            a2 = a2 + w0 * x2;
            a3 = a3 + w0 * x3;
        }
    }
    ND_CONV_STORE(a0, 0, 0);
    ND_CONV_STORE(a1, 0, 1 * ND_TILE);
    ND_CONV_STORE(a2, 0, 2 * ND_TILE);
    ND_CONV_STORE(a3, 0, 3 * ND_TILE);
}

/* 1 row x 1 tile of frames. */
static inline void nd_conv_1x1(ND_CONV_ARGS) {
    nd_vfloat a0, x0;
    int i, k;
    const float* s;
    const float* wp;
    float w0;
    a0 = nd_vzero();
    for (i = 0; i < n_in; i++) {
        for (k = 0; k < k_taps; k++) {
            s = src + i * src_stride + t0 - (k_taps - 1 - k) * dil;
            wp = w + o * w_row + i * k_taps + k;
            w0 = wp[0];
            x0 = nd_vload(s);
            a0 = a0 + w0 * x0;
        }
    }
    ND_CONV_STORE(a0, 0, 0);
}

/* For every row o < n_out and frame f < n_frames (a multiple of ND_TILE):

   out[o, f] = sum_{i,k} w[o, i, k] * src[i, f - (K-1-k) dil] + (bias[o] + mix[o] * cond[f]) + add[o, f]

   `w` rows are `w_row` floats apart with taps contiguous; `src` points at frame 0 of input row
   0, rows `src_stride` apart. `bias`, `mix` and `add` may be NULL (zeros). The conv terms are
   summed first and the (larger) bias / mixin / residual terms added last: that order loses the
   least precision in float32.

   Rows are covered by register blocks of 4 rows x 1 tile, then 2 rows x 2 tiles, then 1 row x 4
   tiles, so narrow layers keep as many FMAs in flight as wide ones. Every block performs the
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
    while (o + 2 <= n_out) {
        t0 = 0;
        while (t0 + 2 * ND_TILE <= n_frames) {
            ND_CONV_CALL(nd_conv_2x2, o);
            t0 += 2 * ND_TILE;
        }
        while (t0 < n_frames) {
            ND_CONV_CALL(nd_conv_1x1, o);
            ND_CONV_CALL(nd_conv_1x1, o + 1);
            t0 += ND_TILE;
        }
        o += 2;
    }
    while (o < n_out) {
        t0 = 0;
        while (t0 + 4 * ND_TILE <= n_frames) {
            ND_CONV_CALL(nd_conv_1x4, o);
            t0 += 4 * ND_TILE;
        }
        while (t0 < n_frames) {
            ND_CONV_CALL(nd_conv_1x1, o);
            t0 += ND_TILE;
        }
        o += 1;
    }
#undef ND_CONV_CALL
}

#endif
