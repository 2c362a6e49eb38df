/* The engine's current narrow-width passes (_kernels.pyx), copied by sed for comparison. */
#define ND_NARROW_MAX 4

/* z[o][t] = (b[o] + m[o] cond[t0 + 16 t]) + sum_{i,k} w[o, i, k] src[i, t0 + 16 t - (K-1-k) dil] */
static inline __attribute__((always_inline)) void nd_narrow_conv_regs(
        nd_vfloat z[ND_NARROW_MAX][4], ptrdiff_t t0, const float* w, ptrdiff_t w_row,
        int k_taps, int dil, const float* src, ptrdiff_t src_stride, const float* b,
        const float* m, const float* cond, const int C, const int T) {
    nd_vfloat x[4];
    ND_UNROLL for (int o = 0; o < C; o++)
        ND_UNROLL for (int t = 0; t < T; t++) z[o][t] = b[o] + m[o] * lg_vload(cond + t0 + ND_TILE * t);
    ND_UNROLL for (int i = 0; i < C; i++) {
        for (int k = 0; k < k_taps; k++) {
            const float* s = src + i * src_stride + t0 - (ptrdiff_t)(k_taps - 1 - k) * dil;
            const float* wk = w + i * k_taps + k;
            ND_UNROLL for (int t = 0; t < T; t++) x[t] = lg_vload(s + ND_TILE * t);
            ND_UNROLL for (int o = 0; o < C; o++) {
                const float wo = wk[o * w_row];
                ND_UNROLL for (int t = 0; t < T; t++) z[o][t] = z[o][t] + wo * x[t];
            }
        }
    }
}

static inline __attribute__((always_inline)) void nd_narrow_conv_group(
        float* z, ptrdiff_t z_stride, ptrdiff_t t0, const float* w, ptrdiff_t w_row,
        int k_taps, int dil, const float* src, ptrdiff_t src_stride, const float* b,
        const float* m, const float* cond, const int C, const int T) {
    nd_vfloat acc[ND_NARROW_MAX][4];
    nd_narrow_conv_regs(acc, t0, w, w_row, k_taps, dil, src, src_stride, b, m, cond, C, T);
    ND_UNROLL for (int o = 0; o < C; o++)
        ND_UNROLL for (int t = 0; t < T; t++) lg_vstore(z + o * z_stride + t0 + ND_TILE * t, acc[o][t]);
}

/* head[o] += a[o]; dst[o] = (src[o] + u_b[o]) + sum_i u[o, i] a[i] (src[o] alone without u),
   skipped when dst is NULL. */
static inline __attribute__((always_inline)) void nd_narrow_post_regs(
        nd_vfloat av[ND_NARROW_MAX][4], ptrdiff_t t0, float* head, ptrdiff_t head_stride,
        const float* u, ptrdiff_t u_row, const float* u_b, const float* src,
        ptrdiff_t src_stride, float* dst, ptrdiff_t dst_stride, const int C, const int T) {
    ND_UNROLL for (int o = 0; o < C; o++)
        ND_UNROLL for (int t = 0; t < T; t++) {
            float* hp = head + o * head_stride + t0 + ND_TILE * t;
            lg_vstore(hp, lg_vload(hp) + av[o][t]);
        }
    if (dst == NULL) return;
    ND_UNROLL for (int o = 0; o < C; o++)
        ND_UNROLL for (int t = 0; t < T; t++) {
            nd_vfloat r = lg_vload(src + o * src_stride + t0 + ND_TILE * t);
            if (u != NULL) {
                r = r + u_b[o];
                ND_UNROLL for (int i = 0; i < C; i++) r = r + u[o * u_row + i] * av[i][t];
            }
            lg_vstore(dst + o * dst_stride + t0 + ND_TILE * t, r);
        }
}

static inline __attribute__((always_inline)) void nd_narrow_post_group(
        const float* a, ptrdiff_t a_stride, ptrdiff_t t0, float* head, ptrdiff_t head_stride,
        const float* u, ptrdiff_t u_row, const float* u_b, const float* src,
        ptrdiff_t src_stride, float* dst, ptrdiff_t dst_stride, const int C, const int T) {
    nd_vfloat av[ND_NARROW_MAX][4];
    ND_UNROLL for (int o = 0; o < C; o++)
        ND_UNROLL for (int t = 0; t < T; t++) av[o][t] = lg_vload(a + o * a_stride + t0 + ND_TILE * t);
    nd_narrow_post_regs(av, t0, head, head_stride, u, u_row, u_b, src, src_stride, dst, dst_stride, C, T);
}

/* The whole layer for one tile group, tanh (its short-chain form) applied in registers:
   AVX-512 builds only (narrow_layer calls it only there); elsewhere the conv pass,
   activation_tile and the post pass do the same work through z. */
static inline __attribute__((always_inline)) void nd_narrow_tanh_group(
        ptrdiff_t t0, const float* w, ptrdiff_t w_row, int k_taps, int dil, const float* src,
        ptrdiff_t src_stride, const float* b, const float* m, const float* cond, float* head,
        ptrdiff_t head_stride, const float* u, ptrdiff_t u_row, const float* u_b, float* dst,
        ptrdiff_t dst_stride, const int C, const int T) {
#if 0
    nd_vfloat v[ND_NARROW_MAX][4];
    nd_narrow_conv_regs(v, t0, w, w_row, k_taps, dil, src, src_stride, b, m, cond, C, T);
    ND_UNROLL for (int o = 0; o < C; o++)
        ND_UNROLL for (int t = 0; t < T; t++) v[o][t] = (nd_vfloat) v[o][t];
    nd_narrow_post_regs(v, t0, head, head_stride, u, u_row, u_b, src, src_stride, dst, dst_stride, C, T);
#endif
}

/* One pass over n_pad frames (a multiple of ND_TILE) at C rows: groups of T tiles, then T = 1. */
#define ND_NARROW_PASSES(C, T)                                                                \
static void nd_narrow_conv_##C(float* z, ptrdiff_t z_stride, ptrdiff_t n_pad,             \
        const float* w, ptrdiff_t w_row, int k_taps, int dil, const float* src,           \
        ptrdiff_t src_stride, const float* b, const float* m, const float* cond) {         \
    ptrdiff_t t0 = 0;                                                                       \
    for (; t0 + T * ND_TILE <= n_pad; t0 += T * ND_TILE)                                     \
        nd_narrow_conv_group(z, z_stride, t0, w, w_row, k_taps, dil, src, src_stride, b, m, \
                             cond, C, T);                                                    \
    for (; t0 < n_pad; t0 += ND_TILE)                                                        \
        nd_narrow_conv_group(z, z_stride, t0, w, w_row, k_taps, dil, src, src_stride, b, m, \
                             cond, C, 1);                                                    \
}                                                                                            \
static void nd_narrow_tanh_##C(ptrdiff_t n_pad, const float* w, ptrdiff_t w_row,       \
        int k_taps, int dil, const float* src, ptrdiff_t src_stride, const float* b,       \
        const float* m, const float* cond, float* head, ptrdiff_t head_stride,              \
        const float* u, ptrdiff_t u_row, const float* u_b, float* dst,                      \
        ptrdiff_t dst_stride) {                                                             \
    ptrdiff_t t0 = 0;                                                                       \
    for (; t0 + T * ND_TILE <= n_pad; t0 += T * ND_TILE)                                     \
        nd_narrow_tanh_group(t0, w, w_row, k_taps, dil, src, src_stride, b, m, cond, head,  \
                             head_stride, u, u_row, u_b, dst, dst_stride, C, T);             \
    for (; t0 < n_pad; t0 += ND_TILE)                                                        \
        nd_narrow_tanh_group(t0, w, w_row, k_taps, dil, src, src_stride, b, m, cond, head,  \
                             head_stride, u, u_row, u_b, dst, dst_stride, C, 1);             \
}                                                                                            \
static void nd_narrow_post_##C(const float* a, ptrdiff_t a_stride, ptrdiff_t n_pad,       \
        float* head, ptrdiff_t head_stride, const float* u, ptrdiff_t u_row,              \
        const float* u_b, const float* src, ptrdiff_t src_stride, float* dst,              \
        ptrdiff_t dst_stride) {                                                             \
    ptrdiff_t t0 = 0;                                                                       \
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

typedef void (*nd_narrow_conv_fn)(float*, ptrdiff_t, ptrdiff_t, const float*, ptrdiff_t,
                                  int, int, const float*, ptrdiff_t, const float*,
                                  const float*, const float*);
typedef void (*nd_narrow_post_fn)(const float*, ptrdiff_t, ptrdiff_t, float*, ptrdiff_t,
                                  const float*, ptrdiff_t, const float*, const float*,
                                  ptrdiff_t, float*, ptrdiff_t);
typedef void (*nd_narrow_tanh_fn)(ptrdiff_t, const float*, ptrdiff_t, int, int, const float*,
                                  ptrdiff_t, const float*, const float*, const float*, float*,
                                  ptrdiff_t, const float*, ptrdiff_t, const float*, float*,
                                  ptrdiff_t);
static const nd_narrow_tanh_fn nd_narrow_tanh[ND_NARROW_MAX + 1] =
    {NULL, nd_narrow_tanh_1, nd_narrow_tanh_2, nd_narrow_tanh_3, nd_narrow_tanh_4};
static inline void nd_narrow_tanh_pass(int C, ptrdiff_t n_pad, const float* w, ptrdiff_t w_row,
        int k_taps, int dil, const float* src, ptrdiff_t src_stride, const float* b,
        const float* m, const float* cond, float* head, ptrdiff_t head_stride, const float* u,
        ptrdiff_t u_row, const float* u_b, float* dst, ptrdiff_t dst_stride) {
    nd_narrow_tanh[C](n_pad, w, w_row, k_taps, dil, src, src_stride, b, m, cond, head,
                      head_stride, u, u_row, u_b, dst, dst_stride);
}
static const nd_narrow_conv_fn nd_narrow_conv[ND_NARROW_MAX + 1] =
    {NULL, nd_narrow_conv_1, nd_narrow_conv_2, nd_narrow_conv_3, nd_narrow_conv_4};
static const nd_narrow_post_fn nd_narrow_post[ND_NARROW_MAX + 1] =
    {NULL, nd_narrow_post_1, nd_narrow_post_2, nd_narrow_post_3, nd_narrow_post_4};
static inline void nd_narrow_conv_pass(int C, float* z, ptrdiff_t z_stride, ptrdiff_t n_pad,
        const float* w, ptrdiff_t w_row, int k_taps, int dil, const float* src,
        ptrdiff_t src_stride, const float* b, const float* m, const float* cond) {
    nd_narrow_conv[C](z, z_stride, n_pad, w, w_row, k_taps, dil, src, src_stride, b, m, cond);
}
static inline void nd_narrow_post_pass(int C, const float* a, ptrdiff_t a_stride,
        ptrdiff_t n_pad, float* head, ptrdiff_t head_stride, const float* u, ptrdiff_t u_row,
        const float* u_b, const float* src, ptrdiff_t src_stride, float* dst,
        ptrdiff_t dst_stride) {
    nd_narrow_post[C](a, a_stride, n_pad, head, head_stride, u, u_row, u_b, src, src_stride,
                      dst, dst_stride);
}
