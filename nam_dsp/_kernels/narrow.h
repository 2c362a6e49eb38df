/* narrow.h: narrow layers (width <= ND_NARROW_MAX): passes over a chunk that each compute every
   active row of a group of native vectors of frames at once, so each input vector loaded feeds
   all rows.

   Entry points (C: active rows, 1..ND_NARROW_MAX; n_pad: frames, a multiple of ND_TILE):
     nd_narrow_conv_pass(C, z, ...)   z[o] = (b[o] + m[o] cond) + dilated conv of src
     nd_narrow_post_pass(C, a, ...)   head[o] += a[o]; dst[o] = (src[o] + u_b[o]) + sum_i u[o, i] a[i]
     nd_narrow_tanh_pass(C, ...)      the whole layer, tanh (nd_tanh_short_vn) in registers

   A tanh layer is one pass; other activations run a conv pass and a post pass around
   nd_activation_tile. C (rows) and V (native vectors per group, per instruction set: the
   accumulators must stay in registers) are constants in each instantiation; a chunk's last
   vectors run with V = 1, and since every frame gets the same operations in the same order in
   any group, the output depends neither on how the chunk splits into groups nor on the
   instruction set's vector width. At these widths a block's time is mostly latency (each layer
   waits for the one before, and tanh is most of a layer's chain), so every sum starts from the
   terms known early (bias and mixin; residual and 1x1 bias) and ends with the newest values:
   one chain per row over (input, tap), oldest tap first.
*/
#ifndef ND_NARROW_H
#define ND_NARROW_H

#include "common.h"
#include "activations.h"

#define ND_NARROW_MAX 4
#define ND_NARROW_VMAX 8
#define ND_UNROLL _Pragma("GCC unroll 16")
#define ND_ALWAYS_INLINE static inline __attribute__((always_inline))

/* Native vectors per group at C = 1..4: with 32 vector registers (AVX-512, NEON) 4, 2, 2, 2;
   with 16 (SSE2, AVX2) the same, the tanh's temporaries spilling least at these. */
#ifndef ND_NARROW_V1
#define ND_NARROW_V1 4
#define ND_NARROW_V2 2
#define ND_NARROW_V3 2
#define ND_NARROW_V4 2
#endif

/* z[o][v] = (b[o] + m[o] cond[f0 + L v]) + sum_{i,k} w[o, i, k] src[i, f0 + L v - (K-1-k) dil] */
ND_ALWAYS_INLINE void nd_narrow_conv_regs(
        nd_vn z[ND_NARROW_MAX][ND_NARROW_VMAX], nd_index f0, const float* w, nd_index w_row,
        int k_taps, int dil, const float* src, nd_index src_stride, const float* b,
        const float* m, const float* cond, const int C, const int V) {
    nd_vn x[ND_NARROW_VMAX];
    ND_UNROLL for (int o = 0; o < C; o++)
        ND_UNROLL for (int v = 0; v < V; v++) z[o][v] = b[o] + m[o] * nd_vnload(cond + f0 + ND_LANES * v);
    ND_UNROLL for (int i = 0; i < C; i++) {
        for (int k = 0; k < k_taps; k++) {
            const float* s = src + i * src_stride + f0 - (nd_index)(k_taps - 1 - k) * dil;
            const float* wk = w + i * k_taps + k;
            ND_UNROLL for (int v = 0; v < V; v++) x[v] = nd_vnload(s + ND_LANES * v);
            ND_UNROLL for (int o = 0; o < C; o++) {
                const float wo = wk[o * w_row];
                ND_UNROLL for (int v = 0; v < V; v++) z[o][v] = z[o][v] + wo * x[v];
            }
        }
    }
}

/* head[o] += a[o]; dst[o] = (src[o] + u_b[o]) + sum_i u[o, i] a[i] (src[o] alone without u),
   skipped when dst is NULL. */
ND_ALWAYS_INLINE void nd_narrow_post_regs(
        nd_vn av[ND_NARROW_MAX][ND_NARROW_VMAX], nd_index f0, float* head, nd_index head_stride,
        const float* u, nd_index u_row, const float* u_b, const float* src, nd_index src_stride,
        float* dst, nd_index dst_stride, const int C, const int V) {
    ND_UNROLL for (int o = 0; o < C; o++)
        ND_UNROLL for (int v = 0; v < V; v++) {
            float* hp = head + o * head_stride + f0 + ND_LANES * v;
            nd_vnstore(hp, nd_vnload(hp) + av[o][v]);
        }
    if (dst == NULL) return;
    ND_UNROLL for (int o = 0; o < C; o++)
        ND_UNROLL for (int v = 0; v < V; v++) {
            nd_vn r = nd_vnload(src + o * src_stride + f0 + ND_LANES * v);
            if (u != NULL) {
                r = r + u_b[o];
                ND_UNROLL for (int i = 0; i < C; i++) r = r + u[o * u_row + i] * av[i][v];
            }
            nd_vnstore(dst + o * dst_stride + f0 + ND_LANES * v, r);
        }
}

ND_ALWAYS_INLINE void nd_narrow_conv_group(
        float* z, nd_index z_stride, nd_index f0, const float* w, nd_index w_row, int k_taps,
        int dil, const float* src, nd_index src_stride, const float* b, const float* m,
        const float* cond, const int C, const int V) {
    nd_vn acc[ND_NARROW_MAX][ND_NARROW_VMAX];
    nd_narrow_conv_regs(acc, f0, w, w_row, k_taps, dil, src, src_stride, b, m, cond, C, V);
    ND_UNROLL for (int o = 0; o < C; o++)
        ND_UNROLL for (int v = 0; v < V; v++) nd_vnstore(z + o * z_stride + f0 + ND_LANES * v, acc[o][v]);
}

ND_ALWAYS_INLINE void nd_narrow_post_group(
        const float* a, nd_index a_stride, nd_index f0, float* head, nd_index head_stride,
        const float* u, nd_index u_row, const float* u_b, const float* src, nd_index src_stride,
        float* dst, nd_index dst_stride, const int C, const int V) {
    nd_vn av[ND_NARROW_MAX][ND_NARROW_VMAX];
    ND_UNROLL for (int o = 0; o < C; o++)
        ND_UNROLL for (int v = 0; v < V; v++) av[o][v] = nd_vnload(a + o * a_stride + f0 + ND_LANES * v);
    nd_narrow_post_regs(av, f0, head, head_stride, u, u_row, u_b, src, src_stride, dst, dst_stride, C, V);
}

/* The whole layer for one group, tanh applied in registers. */
ND_ALWAYS_INLINE void nd_narrow_tanh_group(
        nd_index f0, const float* w, nd_index w_row, int k_taps, int dil, const float* src,
        nd_index src_stride, const float* b, const float* m, const float* cond, float* head,
        nd_index head_stride, const float* u, nd_index u_row, const float* u_b, float* dst,
        nd_index dst_stride, const int C, const int V) {
    nd_vn v[ND_NARROW_MAX][ND_NARROW_VMAX];
    nd_narrow_conv_regs(v, f0, w, w_row, k_taps, dil, src, src_stride, b, m, cond, C, V);
    ND_UNROLL for (int o = 0; o < C; o++)
        ND_UNROLL for (int t = 0; t < V; t++) v[o][t] = nd_tanh_short_vn(v[o][t]);
    nd_narrow_post_regs(v, f0, head, head_stride, u, u_row, u_b, src, src_stride, dst, dst_stride, C, V);
}

/* One pass over n_pad frames at C rows: groups of V native vectors, then V = 1. */
#define ND_NARROW_PASSES(C, V)                                                                   \
static void nd_narrow_conv_##C(float* z, nd_index z_stride, nd_index n_pad, const float* w,    \
        nd_index w_row, int k_taps, int dil, const float* src, nd_index src_stride,             \
        const float* b, const float* m, const float* cond) {                                     \
    nd_index f0 = 0;                                                                             \
    for (; f0 + V * ND_LANES <= n_pad; f0 += V * ND_LANES)                                       \
        nd_narrow_conv_group(z, z_stride, f0, w, w_row, k_taps, dil, src, src_stride, b, m,     \
                             cond, C, V);                                                        \
    for (; f0 < n_pad; f0 += ND_LANES)                                                           \
        nd_narrow_conv_group(z, z_stride, f0, w, w_row, k_taps, dil, src, src_stride, b, m,     \
                             cond, C, 1);                                                        \
}                                                                                                \
static void nd_narrow_tanh_##C(nd_index n_pad, const float* w, nd_index w_row, int k_taps,     \
        int dil, const float* src, nd_index src_stride, const float* b, const float* m,         \
        const float* cond, float* head, nd_index head_stride, const float* u, nd_index u_row,  \
        const float* u_b, float* dst, nd_index dst_stride) {                                    \
    nd_index f0 = 0;                                                                             \
    for (; f0 + V * ND_LANES <= n_pad; f0 += V * ND_LANES)                                       \
        nd_narrow_tanh_group(f0, w, w_row, k_taps, dil, src, src_stride, b, m, cond, head,      \
                             head_stride, u, u_row, u_b, dst, dst_stride, C, V);                 \
    for (; f0 < n_pad; f0 += ND_LANES)                                                           \
        nd_narrow_tanh_group(f0, w, w_row, k_taps, dil, src, src_stride, b, m, cond, head,      \
                             head_stride, u, u_row, u_b, dst, dst_stride, C, 1);                 \
}                                                                                                \
static void nd_narrow_post_##C(const float* a, nd_index a_stride, nd_index n_pad, float* head, \
        nd_index head_stride, const float* u, nd_index u_row, const float* u_b,                 \
        const float* src, nd_index src_stride, float* dst, nd_index dst_stride) {               \
    nd_index f0 = 0;                                                                             \
    for (; f0 + V * ND_LANES <= n_pad; f0 += V * ND_LANES)                                       \
        nd_narrow_post_group(a, a_stride, f0, head, head_stride, u, u_row, u_b, src,            \
                             src_stride, dst, dst_stride, C, V);                                 \
    for (; f0 < n_pad; f0 += ND_LANES)                                                           \
        nd_narrow_post_group(a, a_stride, f0, head, head_stride, u, u_row, u_b, src,            \
                             src_stride, dst, dst_stride, C, 1);                                 \
}
ND_NARROW_PASSES(1, ND_NARROW_V1)
ND_NARROW_PASSES(2, ND_NARROW_V2)
ND_NARROW_PASSES(3, ND_NARROW_V3)
ND_NARROW_PASSES(4, ND_NARROW_V4)

typedef void (*nd_narrow_conv_fn)(float*, nd_index, nd_index, const float*, nd_index, int, int,
                                  const float*, nd_index, const float*, const float*, const float*);
typedef void (*nd_narrow_post_fn)(const float*, nd_index, nd_index, float*, nd_index, const float*,
                                  nd_index, const float*, const float*, nd_index, float*, nd_index);
typedef void (*nd_narrow_tanh_fn)(nd_index, const float*, nd_index, int, int, const float*,
                                  nd_index, const float*, const float*, const float*, float*,
                                  nd_index, const float*, nd_index, const float*, float*, nd_index);
static const nd_narrow_conv_fn nd_narrow_conv[ND_NARROW_MAX + 1] =
    {NULL, nd_narrow_conv_1, nd_narrow_conv_2, nd_narrow_conv_3, nd_narrow_conv_4};
static const nd_narrow_post_fn nd_narrow_post[ND_NARROW_MAX + 1] =
    {NULL, nd_narrow_post_1, nd_narrow_post_2, nd_narrow_post_3, nd_narrow_post_4};
static const nd_narrow_tanh_fn nd_narrow_tanh[ND_NARROW_MAX + 1] =
    {NULL, nd_narrow_tanh_1, nd_narrow_tanh_2, nd_narrow_tanh_3, nd_narrow_tanh_4};

static inline void nd_narrow_conv_pass(int C, float* z, nd_index z_stride, nd_index n_pad,
        const float* w, nd_index w_row, int k_taps, int dil, const float* src,
        nd_index src_stride, const float* b, const float* m, const float* cond) {
    nd_narrow_conv[C](z, z_stride, n_pad, w, w_row, k_taps, dil, src, src_stride, b, m, cond);
}
static inline void nd_narrow_post_pass(int C, const float* a, nd_index a_stride, nd_index n_pad,
        float* head, nd_index head_stride, const float* u, nd_index u_row, const float* u_b,
        const float* src, nd_index src_stride, float* dst, nd_index dst_stride) {
    nd_narrow_post[C](a, a_stride, n_pad, head, head_stride, u, u_row, u_b, src, src_stride,
                      dst, dst_stride);
}
static inline void nd_narrow_tanh_pass(int C, nd_index n_pad, const float* w, nd_index w_row,
        int k_taps, int dil, const float* src, nd_index src_stride, const float* b,
        const float* m, const float* cond, float* head, nd_index head_stride, const float* u,
        nd_index u_row, const float* u_b, float* dst, nd_index dst_stride) {
    nd_narrow_tanh[C](n_pad, w, w_row, k_taps, dil, src, src_stride, b, m, cond, head,
                      head_stride, u, u_row, u_b, dst, dst_stride);
}

#endif
