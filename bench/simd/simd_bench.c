/* simd_bench.c - accuracy and speed of nd_simd.h's tanh and conv micro-kernels per ISA.
   See README.md for how to build and run. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "nd_simd.h"

#if defined(__AVX512F__)
#define ISA_NAME "avx512"
#elif defined(__AVX2__)
#define ISA_NAME "avx2"
#elif defined(__aarch64__)
#define ISA_NAME "neon"
#else
#define ISA_NAME "baseline"
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
static void* xalloc(size_t n) {
    void* p = NULL;
    if (posix_memalign(&p, 64, n)) abort();
    memset(p, 0, n);
    return p;
}
static volatile float sink;

/* ---- the engine's current portable tanh (tanh_tile in _kernels.pyx), written in C ---- */
static inline float clamp_posf(float x, float c) {
    int32_t xi, ci, d; float r;
    memcpy(&xi, &x, 4); memcpy(&ci, &c, 4);
    d = xi - ci; xi = ci + (d & (d >> 31));
    memcpy(&r, &xi, 4); return r;
}
__attribute__((noinline)) static void tanh_tile_ref(float* v, ptrdiff_t n) {
    for (ptrdiff_t f = 0; f < n; f++) {
        float x = clamp_posf(fabsf(v[f]), 9.1f);
        float y = 2.0f * x;
        int32_t ki = (int32_t)(y * 1.4426950408889634f + 0.5f);
        float kf = (float)ki;
        float r = y - kf * 0.693145751953125f - kf * 1.428606765330187e-06f;
        float pm1 = r + (r * r) * (0.5f + r * (0.16666666666666666f + r * (0.041666666666666664f
                    + r * (0.008333333333333333f + r * (0.001388888888888889f + r * 0.0001984126984126984f)))));
        float two_k = (float)((int32_t)1 << ki);
        float e = two_k * pm1 + (two_k - 1.0f);
        float d = e + 2.0f, q = 1.0f / d, t = e * q;
        t = t + q * (e - t * d);
        float sel = (float)(x < 1.0f);
        v[f] = copysignf(sel * t + (1.0f - sel) * (1.0f - 2.0f * q), v[f]);
    }
}

#if defined(__AVX512F__)
/* ---- the engine's AVX-512 intrinsics forms, verbatim but for names (compile-check and asm
   comparison only on a CPU without AVX-512) ---- */
#include <immintrin.h>
static inline __m512 i512_tanh_v(__m512 v) {
    const __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
    const __m512i magnitude = _mm512_set1_epi32(0x7fffffff);
    __m512 x = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), magnitude));
    x = _mm512_min_ps(x, _mm512_set1_ps(9.1f));
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
    t = _mm512_fmadd_ps(r, _mm512_fnmadd_ps(t, d, e), t);
    t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, one, _CMP_GE_OQ), t, _mm512_fnmadd_ps(two, r, one));
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(magnitude, _mm512_castps_si512(t),
                                                         _mm512_castps_si512(v), 0xca));
}
static inline __m512 i512_tanh_short_v(__m512 v) {
    const __m512 one = _mm512_set1_ps(1.0f), two = _mm512_set1_ps(2.0f);
    const __m512 shifter = _mm512_set1_ps(12582912.0f);
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
__attribute__((noinline)) void i512_tanh_array(float* p, ptrdiff_t n) {
    for (ptrdiff_t f = 0; f < n; f += 16) _mm512_storeu_ps(p + f, i512_tanh_v(_mm512_loadu_ps(p + f)));
}
__attribute__((noinline)) void i512_tanh_short_array(float* p, ptrdiff_t n) {
    for (ptrdiff_t f = 0; f < n; f += 16) _mm512_storeu_ps(p + f, i512_tanh_short_v(_mm512_loadu_ps(p + f)));
}
#endif

/* noinline copies for timing and asm inspection */
__attribute__((noinline)) void gen_tanh_array(float* p, ptrdiff_t n) { nd_tanh_array(p, n); }
__attribute__((noinline)) void gen_tanh_short_array(float* p, ptrdiff_t n) { nd_tanh_short_array(p, n); }
__attribute__((noinline)) void gen_tanh_compat_array(float* p, ptrdiff_t n) { nd_tanh_compat_array(p, n); }

/* ================================ tanh accuracy =============================================== */
typedef void (*tanh_fn)(float*, ptrdiff_t);
struct tanh_form { const char* name; tanh_fn fn; };
static const struct tanh_form TANH_FORMS[] = {
    {"generic nd_tanh", gen_tanh_array},
    {"generic nd_tanh_short", gen_tanh_short_array},
    {"tanh_tile (current portable, auto-vectorised)", tanh_tile_ref},
    {"generic nd_tanh_compat (tanh_tile's ops)", gen_tanh_compat_array},
#if defined(__AVX512F__)
    {"avx512 intrinsics nd_tanh_v", i512_tanh_array},
    {"avx512 intrinsics nd_tanh_short_v", i512_tanh_short_array},
#endif
};
#define N_TANH_FORMS ((int)(sizeof(TANH_FORMS) / sizeof(TANH_FORMS[0])))

static float bits_to_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t float_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* Every float in [lo, hi] (step 1: exhaustive), in batches: max relative error against double
   tanh, monotonicity (t(x_next) >= t(x)), oddness (t(-x) == -t(x)) and |t| <= 1. */
static int tanh_accuracy(float lo, float hi, uint32_t step) {
    enum { B = 4096 };
    float* xs = xalloc(B * 4);
    float* ys = xalloc(B * 4);
    float* ns = xalloc(B * 4);
    int bad_total = 0;
    printf("# tanh accuracy, %s (%d lanes), floats in [%g, %g], every %u-th\n", ISA_NAME, ND_LANES, lo, hi, step);
    for (int fi = 0; fi < N_TANH_FORMS; fi++) {
        double max_rel = 0; float worst = 0;
        long non_mono = 0, non_odd = 0, over_one = 0, count = 0;
        double max_drop_ulp = 0; float last_drop_x = 0;
        float prev = -1.0f;
        uint32_t u = float_to_bits(lo), uhi = float_to_bits(hi);
        double t0 = now();
        while (u <= uhi) {
            int n = 0;
            for (; n < B && u <= uhi; n++, u += step) xs[n] = bits_to_float(u);
            int npad = (n + 15) & ~15;
            for (int m = n; m < npad; m++) xs[m] = xs[n - 1];
            memcpy(ys, xs, npad * 4);
            for (int m = 0; m < npad; m++) ns[m] = -xs[m];
            TANH_FORMS[fi].fn(ys, npad);
            TANH_FORMS[fi].fn(ns, npad);
            for (int m = 0; m < n; m++) {
                double ref = tanh((double)xs[m]);
                double rel = fabs((double)ys[m] - ref) / ref;
                if (rel > max_rel) { max_rel = rel; worst = xs[m]; }
                if (ys[m] < prev) {
                    non_mono++; last_drop_x = xs[m];
                    double dr = (double)(float_to_bits(prev) - float_to_bits(ys[m]));
                    if (dr > max_drop_ulp) max_drop_ulp = dr;
                }
                if (ns[m] != -ys[m]) non_odd++;
                if (ys[m] > 1.0f) over_one++;
                prev = ys[m];
            }
            count += n;
            if (u < (uint32_t)step) break;   /* wrapped */
        }
        /* the project's monotonicity bar: np.linspace(-10, 10, 2000001, dtype=float32) */
        long grid_drops = 0;
        {
            const long G = 2000001;
            float* g = xalloc((G + 15) * 4);
            for (long m = 0; m < G; m++) g[m] = (float)(-10.0 + 20.0 * (double)m / (double)(G - 1));
            for (long m = G; m < G + 15; m++) g[m] = 10.0f;
            TANH_FORMS[fi].fn(g, (G + 15) & ~15L);
            for (long m = 1; m < G; m++) grid_drops += g[m] < g[m - 1];
            free(g);
        }
        int bad = max_rel > 2.2e-7 || grid_drops || non_odd || over_one;
        bad_total += bad;
        printf("%-48s max rel err %.3e at x=%.9g; odd: %s; |t|<=1: %s; monotonic on the 1e-5 grid: %s; "
               "consecutive floats that step down: %ld (max %.0f ulp, last at x=%.6g); %ld floats, %.0f s%s\n",
               TANH_FORMS[fi].name, max_rel, worst, non_odd ? "NO" : "yes", over_one ? "NO" : "yes",
               grid_drops ? "NO" : "yes", non_mono, max_drop_ulp, last_drop_x, count,
               now() - t0, bad ? "  <-- FAILS the bar" : "");
    }
    /* nd_tanh_compat against tanh_tile, every float of either sign */
    {
        long diff = 0; uint32_t first = 0;
        for (uint64_t u0 = 0; u0 < 0x100000000ull; u0 += (uint64_t)B * step) {
            int n = 0;
            for (uint64_t u = u0; n < B && u < 0x100000000ull; u += step) xs[n++] = bits_to_float((uint32_t)u);
            for (int m = n; m < B; m++) xs[m] = 0;
            memcpy(ys, xs, B * 4); memcpy(ns, xs, B * 4);
            tanh_tile_ref(ys, B); gen_tanh_compat_array(ns, B);
            for (int m = 0; m < n; m++)
                if (float_to_bits(ys[m]) != float_to_bits(ns[m]) && !(ys[m] != ys[m] && ns[m] != ns[m])) {
                    if (!diff) first = float_to_bits(xs[m]);
                    diff++;
                }
        }
        printf("nd_tanh_compat vs tanh_tile, every %u-th float of all 2^32: %ld differ%s (first at bits 0x%08x)\n",
               step, diff, diff ? "" : " (bit-identical)", first);
        bad_total += diff != 0;
    }
    /* special values */
    float sp[16] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, 1e-45f, -1e-45f, 1e-38f, 9.1f, 9.0999f, 20.0f, 1e30f, -1e30f, 1.0f, -1.0f};
    for (int fi = 0; fi < N_TANH_FORMS; fi++) {
        float y[16]; memcpy(y, sp, sizeof(y));
        TANH_FORMS[fi].fn(y, 16);
        printf("%-48s specials:", TANH_FORMS[fi].name);
        for (int m = 0; m < 16; m++) printf(" %g->%g", sp[m], y[m]);
        printf("\n");
    }
    free(xs); free(ys); free(ns);
    return bad_total;
}

/* ================================ peak FMA rate ================================================ */
/* 12 independent chains of acc = acc * m + c per lane: one FMA each where the ISA has it,
   a multiply and an add otherwise. Both count 2 flops. */
__attribute__((noinline)) static double peak_gflops(void) {
    nd_v a[12];
    for (int c = 0; c < 12; c++) a[c] = nd_set1(1.0f + c * 1e-3f);
    nd_v m = nd_set1(0.999999f), add = nd_set1(1e-6f);
    /* many short samples, best one: robust to other processes sharing the core */
    const long iters = 100 * 1000;
    double best = 1e30;
    for (int rep = 0; rep < 200; rep++) {
        double t0 = now();
        for (long it = 0; it < iters; it++) {
            ND_UNROLL for (int c = 0; c < 12; c++) a[c] = a[c] * m + add;
        }
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    float s = 0;
    for (int c = 0; c < 12; c++) s += a[c][0];
    sink = s;
    return 2.0 * 12 * ND_LANES * (double)iters / best * 1e-9;
}

/* ================================ tanh speed =================================================== */
static void tanh_speed(void) {
    enum { N = 1024 };
    float* buf = xalloc(N * 4);
    float* orig = xalloc(N * 4);
    for (int m = 0; m < N; m++) orig[m] = 4.0f * sinf(0.37f * m);
    printf("# tanh throughput (%d floats in L1, in place) and latency (a dependent chain of one vector)\n", N);
    for (int fi = 0; fi < N_TANH_FORMS; fi++) {
#if defined(__AVX512F__)
        if (!__builtin_cpu_supports("avx512f")) { printf("%-48s (not run: CPU lacks AVX-512)\n", TANH_FORMS[fi].name); continue; }
#endif
        double best = 1e30;
        for (int rep = 0; rep < 100; rep++) {
            memcpy(buf, orig, N * 4);
            double t0 = now();
            for (int it = 0; it < 100; it++) {
                TANH_FORMS[fi].fn(buf, N);
                __asm__ volatile("" : : "r"(buf) : "memory");
            }
            double dt = (now() - t0) / 100;
            if (dt < best) best = dt;
        }
        /* latency: 16 floats, each call's output (scaled back to ~[-4, 4]) is the next input */
        float v[16];
        for (int m = 0; m < 16; m++) v[m] = orig[m];
        double lbest = 1e30;
        for (int rep = 0; rep < 100; rep++) {
            double t0 = now();
            for (int it = 0; it < 2000; it++) {
                TANH_FORMS[fi].fn(v, 16);
                for (int m = 0; m < 16; m++) v[m] = v[m] * 3.9f + 0.01f;
            }
            double dt = (now() - t0) / 2000;
            if (dt < lbest) lbest = dt;
        }
        sink = v[3];
        printf("%-48s %.3f ns/float (%.2f Gfloat/s); chain of 16 floats: %.1f ns/step\n",
               TANH_FORMS[fi].name, best / N * 1e9, N / best * 1e-9, lbest * 1e9);
    }
    free(buf); free(orig);
}

/* ================================ conv micro-kernels =========================================== */
static float ZEROS[512 + 64];   /* an absent mixin input or residual, as in conv_rows */
#define NULL_TO_ZEROS                                                                           \
    if (cond == NULL) { cond = ZEROS; mix = NULL; }                                             \
    if (add == NULL) { add = ZEROS; add_stride = 0; }

/* ================ the engine's current conv kernels (_kernels.pyx, in C): 16-float nd_vfloat ==== */
typedef float nd_vfloat __attribute__((vector_size(64), aligned(4), may_alias));
static inline nd_vfloat lg_vzero(void) { nd_vfloat z = {0}; return z; }
static inline nd_vfloat lg_vload(const float* p) { return *(const nd_vfloat*)p; }
static inline void lg_vstore(float* p, nd_vfloat v) { *(nd_vfloat*)p = v; }
#define LG_TAIL(A, R, T)                                                                        \
    { float bo = bias != NULL ? bias[o + R] : 0.0f, mo = mix != NULL ? mix[o + R] : 0.0f;       \
      lg_vstore(out + (o + R) * out_stride + t0 + T * 16,                                        \
                A + (bo + mo * lg_vload(cond + t0 + T * 16)) + lg_vload(add + (o + R) * add_stride + t0 + T * 16)); }
static inline void lg_conv_4x1(float* out, ptrdiff_t out_stride, int o, ptrdiff_t t0, const float* w,
        ptrdiff_t w_row, int n_in, int k_taps, int dil, const float* src, ptrdiff_t src_stride,
        const float* bias, const float* mix, const float* cond, const float* add, ptrdiff_t add_stride) {
    nd_vfloat a0 = lg_vzero(), a1 = lg_vzero(), a2 = lg_vzero(), a3 = lg_vzero();
    for (int k = 0; k < k_taps; k++) {
        nd_vfloat p0 = lg_vzero(), p1 = lg_vzero(), p2 = lg_vzero(), p3 = lg_vzero();
        nd_vfloat q0 = lg_vzero(), q1 = lg_vzero(), q2 = lg_vzero(), q3 = lg_vzero();
        int i = 0;
        for (; i + 1 < n_in; i += 2) {
            const float* s = src + i * src_stride + t0 - (k_taps - 1 - k) * dil;
            const float* wp = w + o * w_row + i * k_taps + k;
            nd_vfloat x0 = lg_vload(s), x1 = lg_vload(s + src_stride);
            p0 = p0 + wp[0] * x0; p1 = p1 + wp[w_row] * x0; p2 = p2 + wp[2 * w_row] * x0; p3 = p3 + wp[3 * w_row] * x0;
            q0 = q0 + wp[k_taps] * x1; q1 = q1 + wp[w_row + k_taps] * x1;
            q2 = q2 + wp[2 * w_row + k_taps] * x1; q3 = q3 + wp[3 * w_row + k_taps] * x1;
        }
        if (i < n_in) {
            const float* s = src + i * src_stride + t0 - (k_taps - 1 - k) * dil;
            const float* wp = w + o * w_row + i * k_taps + k;
            nd_vfloat x0 = lg_vload(s);
            p0 = p0 + wp[0] * x0; p1 = p1 + wp[w_row] * x0; p2 = p2 + wp[2 * w_row] * x0; p3 = p3 + wp[3 * w_row] * x0;
        }
        a0 = a0 + (p0 + q0); a1 = a1 + (p1 + q1); a2 = a2 + (p2 + q2); a3 = a3 + (p3 + q3);
    }
    LG_TAIL(a0, 0, 0) LG_TAIL(a1, 1, 0) LG_TAIL(a2, 2, 0) LG_TAIL(a3, 3, 0)
}
static inline void lg_conv_2x2(float* out, ptrdiff_t out_stride, int o, ptrdiff_t t0, const float* w,
        ptrdiff_t w_row, int n_in, int k_taps, int dil, const float* src, ptrdiff_t src_stride,
        const float* bias, const float* mix, const float* cond, const float* add, ptrdiff_t add_stride) {
    nd_vfloat a0 = lg_vzero(), a1 = lg_vzero(), a2 = lg_vzero(), a3 = lg_vzero();
    for (int i = 0; i < n_in; i++)
        for (int k = 0; k < k_taps; k++) {
            const float* s = src + i * src_stride + t0 - (k_taps - 1 - k) * dil;
            const float* wp = w + o * w_row + i * k_taps + k;
            float w0 = wp[0], w1 = wp[w_row];
            nd_vfloat x0 = lg_vload(s), x1 = lg_vload(s + 16);
            a0 = a0 + w0 * x0; a1 = a1 + w0 * x1; a2 = a2 + w1 * x0; a3 = a3 + w1 * x1;
        }
    LG_TAIL(a0, 0, 0) LG_TAIL(a1, 0, 1) LG_TAIL(a2, 1, 0) LG_TAIL(a3, 1, 1)
}
static inline void lg_conv_1x4(float* out, ptrdiff_t out_stride, int o, ptrdiff_t t0, const float* w,
        ptrdiff_t w_row, int n_in, int k_taps, int dil, const float* src, ptrdiff_t src_stride,
        const float* bias, const float* mix, const float* cond, const float* add, ptrdiff_t add_stride) {
    nd_vfloat a0 = lg_vzero(), a1 = lg_vzero(), a2 = lg_vzero(), a3 = lg_vzero();
    for (int i = 0; i < n_in; i++)
        for (int k = 0; k < k_taps; k++) {
            const float* s = src + i * src_stride + t0 - (k_taps - 1 - k) * dil;
            float w0 = w[o * w_row + i * k_taps + k];
            a0 = a0 + w0 * lg_vload(s); a1 = a1 + w0 * lg_vload(s + 16);
            a2 = a2 + w0 * lg_vload(s + 32); a3 = a3 + w0 * lg_vload(s + 48);
        }
    LG_TAIL(a0, 0, 0) LG_TAIL(a1, 0, 1) LG_TAIL(a2, 0, 2) LG_TAIL(a3, 0, 3)
}
static inline void lg_conv_1x1(float* out, ptrdiff_t out_stride, int o, ptrdiff_t t0, const float* w,
        ptrdiff_t w_row, int n_in, int k_taps, int dil, const float* src, ptrdiff_t src_stride,
        const float* bias, const float* mix, const float* cond, const float* add, ptrdiff_t add_stride) {
    nd_vfloat a0 = lg_vzero();
    for (int i = 0; i < n_in; i++)
        for (int k = 0; k < k_taps; k++)
            a0 = a0 + w[o * w_row + i * k_taps + k] * lg_vload(src + i * src_stride + t0 - (k_taps - 1 - k) * dil);
    LG_TAIL(a0, 0, 0)
}
#define LG_ARGS w, w_row, n_in, k_taps, dil, src, src_stride, bias, mix, cond, add, add_stride
__attribute__((noinline)) static void legacy_conv_rows(float* out, ptrdiff_t out_stride, int n_out,
        ptrdiff_t n_frames, const float* w, ptrdiff_t w_row, int n_in, int k_taps, int dil,
        const float* src, ptrdiff_t src_stride, const float* bias, const float* mix,
        const float* cond, const float* add, ptrdiff_t add_stride) {
    NULL_TO_ZEROS
    int o = 0; ptrdiff_t t0;
    for (; o + 4 <= n_out; o += 4)
        for (t0 = 0; t0 < n_frames; t0 += 16) lg_conv_4x1(out, out_stride, o, t0, LG_ARGS);
    for (; o + 2 <= n_out; o += 2) {
        for (t0 = 0; t0 + 32 <= n_frames; t0 += 32) lg_conv_2x2(out, out_stride, o, t0, LG_ARGS);
        for (; t0 < n_frames; t0 += 16) {
            lg_conv_1x1(out, out_stride, o, t0, LG_ARGS); lg_conv_1x1(out, out_stride, o + 1, t0, LG_ARGS);
        }
    }
    for (; o < n_out; o++) {
        for (t0 = 0; t0 + 64 <= n_frames; t0 += 64) lg_conv_1x4(out, out_stride, o, t0, LG_ARGS);
        for (; t0 < n_frames; t0 += 16) lg_conv_1x1(out, out_stride, o, t0, LG_ARGS);
    }
}

typedef void (*conv_fn)(float* out, ptrdiff_t out_stride, int n_out, ptrdiff_t n_frames,
        const float* w, ptrdiff_t w_row, int n_in, int k_taps, int dil,
        const float* src, ptrdiff_t src_stride, const float* bias, const float* mix,
        const float* cond, const float* add, ptrdiff_t add_stride);

/* All rows in blocks of R (leftover rows one at a time), frames in groups of V vectors. */
#define CONV_VARIANT(R, V, O)                                                                    \
    __attribute__((noinline)) static void conv_##R##x##V##_o##O(float* out, ptrdiff_t out_stride, \
            int n_out, ptrdiff_t n_frames, const float* w, ptrdiff_t w_row, int n_in, int k_taps,\
            int dil, const float* src, ptrdiff_t src_stride, const float* bias, const float* mix,\
            const float* cond, const float* add, ptrdiff_t add_stride) {                         \
        NULL_TO_ZEROS                                                                            \
        int o = 0;                                                                               \
        for (; o + R <= n_out; o += R)                                                           \
            nd_conv_rowblock(out, out_stride, o, n_frames, w, w_row, n_in, k_taps, dil, src,     \
                             src_stride, bias, mix, cond, add, add_stride, R, V, O);             \
        for (; o < n_out; o++)                                                                   \
            nd_conv_rowblock(out, out_stride, o, n_frames, w, w_row, n_in, k_taps, dil, src,     \
                             src_stride, bias, mix, cond, add, add_stride, 1, V, O);             \
    }
#define CONV_VARIANTS_R(R) CONV_VARIANT(R, 1, 0) CONV_VARIANT(R, 2, 0) CONV_VARIANT(R, 3, 0) \
    CONV_VARIANT(R, 4, 0) CONV_VARIANT(R, 6, 0) CONV_VARIANT(R, 8, 0) \
    CONV_VARIANT(R, 1, 1) CONV_VARIANT(R, 2, 1) CONV_VARIANT(R, 4, 1)
CONV_VARIANTS_R(1) CONV_VARIANTS_R(2) CONV_VARIANTS_R(3) CONV_VARIANTS_R(4) CONV_VARIANTS_R(6)
CONV_VARIANTS_R(8)

struct conv_variant { int R, V, O; conv_fn fn; };
#define CV(R, V, O) {R, V, O, conv_##R##x##V##_o##O}
#define CVS_R(R) CV(R, 1, 0), CV(R, 2, 0), CV(R, 3, 0), CV(R, 4, 0), CV(R, 6, 0), CV(R, 8, 0), \
    CV(R, 1, 1), CV(R, 2, 1), CV(R, 4, 1)
static const struct conv_variant CONV_VARIANTS[] = {CVS_R(1), CVS_R(2), CVS_R(3), CVS_R(4), CVS_R(6), CVS_R(8)};
#define N_CONV_VARIANTS ((int)(sizeof(CONV_VARIANTS) / sizeof(CONV_VARIANTS[0])))

struct conv_shape { const char* name; int n_out, n_in, k, dil; };
static const struct conv_shape CONV_SHAPES[] = {
    {"A1 arr1 dilated 16x16 K3", 16, 16, 3, 8},
    {"A1 arr1 1x1 16x16", 16, 16, 1, 1},
    {"A1 rechannel 1->16", 16, 1, 1, 1},
    {"A1 head1 16->8 / rech2", 8, 16, 1, 1},
    {"A1 arr2 dilated 8x8 K3", 8, 8, 3, 8},
    {"A1 arr2 1x1 8x8", 8, 8, 1, 1},
    {"A1 head2 8->1", 1, 8, 1, 1},
    {"paper w8 dilated 8x8 K6", 8, 8, 6, 16},
    {"paper w8 1x1 8x8", 8, 8, 1, 1},
    {"paper w4 dilated 4x4 K6", 4, 4, 6, 16},
    {"paper w2 dilated 2x2 K6", 2, 2, 6, 16},
    {"paper w1 dilated 1x1 K6", 1, 1, 6, 16},
};
#define N_CONV_SHAPES ((int)(sizeof(CONV_SHAPES) / sizeof(CONV_SHAPES[0])))

#define LOOKBACK 1536
#define SRC_STRIDE (LOOKBACK + 512 + 64)

/* GFLOP/s of one variant on one shape; also checks the result against variant 0 of the same
   order (bit-identical: the block partition must not show). */
static double time_conv(conv_fn fn, const struct conv_shape* s, ptrdiff_t n_frames, float* out,
                        const float* w, const float* src, const float* bias, const float* mix,
                        const float* cond, const float* add) {
    long flops = 2L * s->n_out * s->n_in * s->k * n_frames;
    int inner = (int)(1e6 / flops) + 1;
    double best = 1e30;
    for (int rep = 0; rep < 40; rep++) {
        double t0 = now();
        for (int it = 0; it < inner; it++) {
            fn(out, 512 + 64, s->n_out, n_frames, w, s->n_in * s->k, s->n_in, s->k, s->dil,
               src + LOOKBACK, SRC_STRIDE, bias, mix, cond, add, 512 + 64);
            __asm__ volatile("" : : "r"(out) : "memory");
        }
        double dt = (now() - t0) / inner;
        if (dt < best) best = dt;
    }
    return flops / best * 1e-9;
}

/* The recommended conv_rows plans per ISA (see the notes): FAST = rows in blocks of PLAN_R in
   order o0 (V = PLAN_V vectors per group), leftover rows one at a time (V = 8); COMPAT = the
   engine's current orders (4-row blocks tap-split, the rest one chain), so bit-identical to the
   current build of the same ISA, with a register blocking that fits. */
#if ND_LANES == 16
#define PLAN_R 4
#define PLAN_V 2
#define PLAN_CV 1
#elif ND_LANES == 8
#define PLAN_R 4
#define PLAN_V 3
#define PLAN_CV 1
#else
#define PLAN_R 1
#define PLAN_V 8
#define PLAN_CV 1
#endif
__attribute__((noinline)) static void plan_fast(float* out, ptrdiff_t out_stride, int n_out,
        ptrdiff_t n_frames, const float* w, ptrdiff_t w_row, int n_in, int k_taps, int dil,
        const float* src, ptrdiff_t src_stride, const float* bias, const float* mix,
        const float* cond, const float* add, ptrdiff_t add_stride) {
    NULL_TO_ZEROS
    nd_conv_rows(out, out_stride, n_out, n_frames, w, w_row, n_in, k_taps, dil, src, src_stride, bias, mix, cond, add, add_stride);
}
__attribute__((noinline)) static void plan_compat(float* out, ptrdiff_t out_stride, int n_out,
        ptrdiff_t n_frames, const float* w, ptrdiff_t w_row, int n_in, int k_taps, int dil,
        const float* src, ptrdiff_t src_stride, const float* bias, const float* mix,
        const float* cond, const float* add, ptrdiff_t add_stride) {
    NULL_TO_ZEROS
    nd_conv_rows_compat(out, out_stride, n_out, n_frames, w, w_row, n_in, k_taps, dil, src, src_stride, bias, mix, cond, add, add_stride);
}
#define PLAN_VARIANT(R, V)                                                                      \
    __attribute__((noinline)) static void plan_##R##x##V(float* out, ptrdiff_t out_stride, int n_out, \
            ptrdiff_t n_frames, const float* w, ptrdiff_t w_row, int n_in, int k_taps, int dil, \
            const float* src, ptrdiff_t src_stride, const float* bias, const float* mix,        \
            const float* cond, const float* add, ptrdiff_t add_stride) {                         \
        NULL_TO_ZEROS                                                                            \
        int o = 0;                                                                               \
        for (; o + R <= n_out; o += R)                                                           \
            nd_conv_rowblock(out, out_stride, o, n_frames, w, w_row, n_in, k_taps, dil, src,     \
                             src_stride, bias, mix, cond, add, add_stride, R, V, ND_ORDER_IK);   \
        for (; o < n_out; o++)                                                                   \
            nd_conv_rowblock(out, out_stride, o, n_frames, w, w_row, n_in, k_taps, dil, src,     \
                             src_stride, bias, mix, cond, add, add_stride, 1, 8, ND_ORDER_IK);   \
    }
PLAN_VARIANT(1, 8) PLAN_VARIANT(2, 4) PLAN_VARIANT(2, 6) PLAN_VARIANT(3, 4) PLAN_VARIANT(4, 2)
PLAN_VARIANT(4, 3) PLAN_VARIANT(4, 4) PLAN_VARIANT(8, 2) PLAN_VARIANT(6, 2) PLAN_VARIANT(2, 8)
static const struct { const char* name; conv_fn fn; } PLANS[] = {
    {"1x8", plan_1x8}, {"2x4", plan_2x4}, {"2x6", plan_2x6}, {"3x4", plan_3x4}, {"4x2", plan_4x2},
    {"4x3", plan_4x3}, {"4x4", plan_4x4}, {"8x2", plan_8x2}, {"6x2", plan_6x2}, {"2x8", plan_2x8}};
#define N_PLANS ((int)(sizeof(PLANS) / sizeof(PLANS[0])))
static conv_fn best_conv_plan(void) { return plan_fast; }
static void noop_tanh(float* p, ptrdiff_t n) { (void)p; (void)n; }

static int g_timing = 1;   /* 0: checks only (e.g. under qemu) */
static int conv_study(double peak, int only_best) {
    float* src = xalloc(16L * SRC_STRIDE * 4);
    float* w = xalloc(16 * 16 * 8 * 4);
    float* out = xalloc(16 * (512 + 64) * 4);
    float* ref = xalloc(16 * (512 + 64) * 4);
    float* add = xalloc(16 * (512 + 64) * 4);
    float* cond = xalloc((512 + 64) * 4);
    float bias[16], mix[16];
    srand(1);
    for (long m = 0; m < 16L * SRC_STRIDE; m++) src[m] = (float)rand() / RAND_MAX - 0.5f;
    for (int m = 0; m < 16 * 16 * 8; m++) w[m] = (float)rand() / RAND_MAX - 0.5f;
    for (int m = 0; m < 16 * (512 + 64); m++) add[m] = (float)rand() / RAND_MAX - 0.5f;
    for (int m = 0; m < 512 + 64; m++) cond[m] = (float)rand() / RAND_MAX - 0.5f;
    for (int m = 0; m < 16; m++) { bias[m] = 0.1f * m; mix[m] = 0.05f * m; }
    int mismatches = 0;
    printf("# conv micro-kernels, %s: GFLOP/s (%% of the measured peak %.1f GFLOP/s); RxV = rows x vectors of %d frames; o0 = one chain (i, k), o1 = tap-split (even/odd i)\n",
           ISA_NAME, peak, ND_LANES);
    for (int si = 0; si < N_CONV_SHAPES; si++) {
        const struct conv_shape* s = &CONV_SHAPES[si];
        for (int nf = 64; nf <= 512; nf *= 8) {
            /* reference per order: 1x1 blocks */
            double best = 0; int bi = 0;
            double g[N_CONV_VARIANTS];
            for (int vi = 0; vi < N_CONV_VARIANTS; vi++) {
                const struct conv_variant* cv = &CONV_VARIANTS[vi];
                /* bit-identity check against R=1,V=1 of the same order */
                conv_fn r1 = cv->O == 0 ? conv_1x1_o0 : conv_1x1_o1;
                r1(ref, 512 + 64, s->n_out, nf, w, s->n_in * s->k, s->n_in, s->k, s->dil, src + LOOKBACK,
                   SRC_STRIDE, bias, mix, cond, add, 512 + 64);
                memset(out, 0, 16 * (512 + 64) * 4);
                cv->fn(out, 512 + 64, s->n_out, nf, w, s->n_in * s->k, s->n_in, s->k, s->dil, src + LOOKBACK,
                       SRC_STRIDE, bias, mix, cond, add, 512 + 64);
                for (int o = 0; o < s->n_out; o++)
                    if (memcmp(out + o * (512 + 64), ref + o * (512 + 64), nf * 4)) {
                        mismatches++;
                        printf("MISMATCH %s %dx%d o%d row %d\n", s->name, cv->R, cv->V, cv->O, o);
                        break;
                    }
                g[vi] = g_timing ? time_conv(cv->fn, s, nf, out, w, src, bias, mix, cond, add) : 0;
                if (g[vi] > best) { best = g[vi]; bi = vi; }
            }
            /* the engine's current kernels: speed, and bit-identity with the generic kernel in
               the same order (4-row blocks tap-split, the rest one chain) */
            int compat = s->n_out >= 4 ? 1 : 0;
            (compat ? conv_1x1_o1 : conv_1x1_o0)(ref, 512 + 64, s->n_out, nf, w, s->n_in * s->k, s->n_in, s->k,
                s->dil, src + LOOKBACK, SRC_STRIDE, bias, mix, cond, add, 512 + 64);
            legacy_conv_rows(out, 512 + 64, s->n_out, nf, w, s->n_in * s->k, s->n_in, s->k, s->dil,
                             src + LOOKBACK, SRC_STRIDE, bias, mix, cond, add, 512 + 64);
            int same = 1;
            for (int o = 0; o < s->n_out; o++) same &= !memcmp(out + o * (512 + 64), ref + o * (512 + 64), nf * 4);
            double lg = g_timing ? time_conv(legacy_conv_rows, s, nf, out, w, src, bias, mix, cond, add) : 1;
            if (!same) mismatches++;
            double bc = 0; int bci = 0;
            for (int vi = 0; vi < N_CONV_VARIANTS; vi++)
                if (CONV_VARIANTS[vi].O == compat && g[vi] > bc) { bc = g[vi]; bci = vi; }
            /* plan_compat must equal the current kernels bit for bit */
            plan_compat(ref, 512 + 64, s->n_out, nf, w, s->n_in * s->k, s->n_in, s->k, s->dil, src + LOOKBACK,
                        SRC_STRIDE, bias, mix, cond, add, 512 + 64);
            int same_c = 1;
            for (int o = 0; o < s->n_out; o++) same_c &= !memcmp(out + o * (512 + 64), ref + o * (512 + 64), nf * 4);
            if (!same_c) { mismatches++; printf("MISMATCH plan_compat != current kernels on %s\n", s->name); }
            double pf = g_timing ? time_conv(plan_fast, s, nf, out, w, src, bias, mix, cond, add) : 0;
            double pc = g_timing ? time_conv(plan_compat, s, nf, out, w, src, bias, mix, cond, add) : 0;
            printf("%-26s %3d fr: plan_fast %5.1f (x%.2f) plan_compat %5.1f (x%.2f, bit-identical: %s)\n", s->name, nf,
                   pf, pf / lg, pc, pc / lg, same_c ? "yes" : "NO");
            printf("%-26s %3d fr: current %5.1f | best %dx%d o%d %5.1f GFLOP/s (%2.0f%%, x%.2f) | best in current order %dx%d o%d %5.1f (x%.2f)%s",
                   s->name, nf, lg, CONV_VARIANTS[bi].R, CONV_VARIANTS[bi].V, CONV_VARIANTS[bi].O, best,
                   100 * best / peak, best / lg, CONV_VARIANTS[bci].R, CONV_VARIANTS[bci].V, compat, bc, bc / lg,
                   same ? "" : " [current != generic same order!]");
            if (!only_best) {
                printf("\n   ");
                for (int vi = 0; vi < N_CONV_VARIANTS; vi++) {
                    if (CONV_VARIANTS[vi].R > s->n_out) continue;
                    printf(" %dx%d%s:%.1f", CONV_VARIANTS[vi].R, CONV_VARIANTS[vi].V,
                           CONV_VARIANTS[vi].O ? "s" : "", g[vi]);
                }
            }
            printf("\n");
        }
    }
    free(src); free(w); free(out); free(ref); free(add); free(cond);
    return mismatches;
}


/* ================================ paper-model / A1 layer stack ================================= */
#include "legacy_narrow.h"

/* Narrow one-pass instantiations: C rows, V vectors per group, tanh form. */
#define NW_ONEPASS(C, V, T) NW_ONEPASS_S(C, V, T, 1) NW_ONEPASS_SP(C, V, T, 1, 1)
#define NW_ONEPASS_S(C, V, T, S) NW_ONEPASS_SP(C, V, T, S, 0)
#define NW_ONEPASS_SP(C, V, T, S, P)                                                            \
    __attribute__((noinline)) static void nw_onepass_##C##_##V##_##T##_##S##_##P(ptrdiff_t n_pad, const float* w, \
            ptrdiff_t w_row, int k_taps, int dil, const float* src, ptrdiff_t src_stride,       \
            const float* b, const float* m, const float* cond, float* head, ptrdiff_t head_stride,\
            const float* u, ptrdiff_t u_row, const float* u_b, float* dst, ptrdiff_t dst_stride) { \
        nd_narrow_layer_pass(n_pad, w, w_row, k_taps, dil, src, src_stride, b, m, cond, head,  \
                             head_stride, u, u_row, u_b, dst, dst_stride, C, V, T, S, P);       \
    }
typedef void (*nw_fn)(ptrdiff_t, const float*, ptrdiff_t, int, int, const float*, ptrdiff_t,
                      const float*, const float*, const float*, float*, ptrdiff_t, const float*,
                      ptrdiff_t, const float*, float*, ptrdiff_t);
#define NW_ROW(C) NW_ONEPASS(C, 1, 1) NW_ONEPASS(C, 2, 1) NW_ONEPASS(C, 4, 1) NW_ONEPASS(C, 8, 1) \
    NW_ONEPASS(C, 1, 3) NW_ONEPASS(C, 2, 3) NW_ONEPASS(C, 4, 3) NW_ONEPASS(C, 8, 3) \
    NW_ONEPASS_S(C, 1, 1, 2) NW_ONEPASS_S(C, 2, 1, 2) NW_ONEPASS_S(C, 4, 1, 2) NW_ONEPASS_S(C, 8, 1, 2)
NW_ROW(1) NW_ROW(2) NW_ROW(3) NW_ROW(4)
struct nw_variant { int C, V, T, S, P; nw_fn fn; };
#define NWV(C, V, T) {C, V, T, 1, 0, nw_onepass_##C##_##V##_##T##_1_0}
#define NWVS(C, V, T) {C, V, T, 2, 0, nw_onepass_##C##_##V##_##T##_2_0}
#define NWVP(C, V, T) {C, V, T, 1, 1, nw_onepass_##C##_##V##_##T##_1_1}
#define NWV_ROW(C) NWV(C, 1, 1), NWV(C, 2, 1), NWV(C, 4, 1), NWV(C, 8, 1), NWV(C, 1, 3), NWV(C, 2, 3), \
    NWV(C, 4, 3), NWV(C, 8, 3), NWVS(C, 1, 1), NWVS(C, 2, 1), NWVS(C, 4, 1), NWVS(C, 8, 1), \
    NWVP(C, 1, 1), NWVP(C, 2, 1), NWVP(C, 4, 1), NWVP(C, 8, 1), NWVP(C, 1, 3), NWVP(C, 2, 3), NWVP(C, 4, 3), NWVP(C, 8, 3)
static const struct nw_variant NW_VARIANTS[] = {NWV_ROW(1), NWV_ROW(2), NWV_ROW(3), NWV_ROW(4)};
#define N_NW_VARIANTS ((int)(sizeof(NW_VARIANTS) / sizeof(NW_VARIANTS[0])))

#define MAXL 15
#define HIST_LOOK 1296
#define HIST_STRIDE (HIST_LOOK + 512 + 64)
#define WIDE (512 + 16)
struct stack {
    int C, L, K, dil[MAXL];
    float *w[MAXL], *wp[MAXL], *b[MAXL], *m[MAXL], *u[MAXL], *ub[MAXL], *hist[MAXL];
    float *acc, *rech, *head_w, head_b, *x, *cond, *y, *z;
};
static float frand(void) { return (float)rand() / RAND_MAX - 0.5f; }
static void stack_init(struct stack* st, int C, int L, int K, const int* dils, int dil_n) {
    st->C = C; st->L = L; st->K = K;
    for (int j = 0; j < L; j++) {
        st->dil[j] = dils[j % dil_n];
        st->w[j] = xalloc(C * C * K * 4); st->b[j] = xalloc(C * 4); st->m[j] = xalloc(C * 4);
        st->u[j] = xalloc(C * C * 4); st->ub[j] = xalloc(C * 4);
        st->hist[j] = xalloc((size_t)C * HIST_STRIDE * 4);
        float sc = 1.0f / sqrtf((float)(C * K));
        for (int q = 0; q < C * C * K; q++) st->w[j][q] = 2 * sc * frand();
        st->wp[j] = xalloc(C * C * K * 4);   /* packed: [i][k][o] */
        for (int o = 0; o < C; o++) for (int i = 0; i < C; i++) for (int k = 0; k < K; k++)
            st->wp[j][(i * K + k) * C + o] = st->w[j][o * C * K + i * K + k];
        for (int q = 0; q < C; q++) { st->b[j][q] = 0.1f * frand(); st->m[j][q] = frand(); st->ub[j][q] = 0.1f * frand(); }
        for (int q = 0; q < C * C; q++) st->u[j][q] = frand() / sqrtf((float)C);
        for (int q = 0; q < C * HIST_STRIDE; q++) st->hist[j][q] = 0.3f * frand();
    }
    st->acc = xalloc((size_t)C * WIDE * 4); st->rech = xalloc(C * 4); st->head_w = xalloc(C * 4);
    for (int q = 0; q < C; q++) { st->rech[q] = frand(); st->head_w[q] = frand(); }
    st->head_b = 0.01f;
    st->x = xalloc(WIDE * 4); st->cond = st->x; st->y = xalloc(WIDE * 4); st->z = xalloc((size_t)C * WIDE * 4);
    for (int q = 0; q < WIDE; q++) st->x[q] = 0.5f * sinf(0.05f * q);
}

/* One block of n_pad frames through the stack. mode: 0 = wide path (conv_fn + tanh pass + head
   sum + 1x1 conv_fn with residual), 1 = legacy narrow 3-pass (current non-AVX-512 engine:
   16-float passes + tanh_tile), 2 = generic narrow one-pass (nw), 3 = generic narrow 3-pass. */
static int g_packed = 0;
static void stack_block(struct stack* st, ptrdiff_t n_pad, int mode, conv_fn conv, tanh_fn tanhf_, nw_fn nw) {
    const int C = st->C, K = st->K;
    conv(st->hist[0] + HIST_LOOK, HIST_STRIDE, C, n_pad, st->rech, 1, 1, 1, 1, st->x, WIDE, NULL, NULL, NULL, NULL, 0);
    for (int o = 0; o < C; o++) memset(st->acc + o * WIDE, 0, n_pad * 4);
    for (int j = 0; j < st->L; j++) {
        const float* h = st->hist[j] + HIST_LOOK;
        float* dst = j + 1 < st->L ? st->hist[j + 1] + HIST_LOOK : NULL;
        if (mode == 2) {
            nw(n_pad, g_packed ? st->wp[j] : st->w[j], C * K, K, st->dil[j], h, HIST_STRIDE, st->b[j], st->m[j], st->cond, st->acc, WIDE,
               st->u[j], C, st->ub[j], dst, HIST_STRIDE);
        } else if (mode == 1) {
            nd_narrow_conv_pass(C, st->z, n_pad, n_pad, st->w[j], C * K, K, st->dil[j], h, HIST_STRIDE, st->b[j], st->m[j], st->cond);
            tanh_tile_ref(st->z, C * n_pad);
            nd_narrow_post_pass(C, st->z, n_pad, n_pad, st->acc, WIDE, st->u[j], C, st->ub[j], h, HIST_STRIDE, dst, HIST_STRIDE);
        } else {
            conv(st->z, n_pad, C, n_pad, st->w[j], C * K, C, K, st->dil[j], h, HIST_STRIDE, st->b[j], st->m[j], st->cond, NULL, 0);
            tanhf_(st->z, C * n_pad);
            for (int o = 0; o < C; o++) {
                float* ap = st->acc + o * WIDE; const float* zp = st->z + o * n_pad;
                for (ptrdiff_t f = 0; f < n_pad; f++) ap[f] += zp[f];
            }
            if (dst) conv(dst, HIST_STRIDE, C, n_pad, st->u[j], C, C, 1, 1, st->z, n_pad, st->ub[j], NULL, NULL, h, HIST_STRIDE);
        }
    }
    conv(st->y, WIDE, 1, n_pad, st->head_w, C, C, 1, 1, st->acc, WIDE, &st->head_b, NULL, NULL, NULL, 0);
}

/* x real time at 48 kHz of a block size, best of 7 */
static double stack_xrt(struct stack* st, ptrdiff_t n, int mode, conv_fn conv, tanh_fn tf, nw_fn nw) {
    int blocks = (int)(3e5 / (st->C * st->C * st->K * st->L * (double)n + 2000.0 * n)) + 1;
    double best = 1e30;
    for (int rep = 0; rep < 40; rep++) {
        double t0 = now();
        for (int it = 0; it < blocks; it++) stack_block(st, n, mode, conv, tf, nw);
        double dt = (now() - t0) / blocks;
        if (dt < best) best = dt;
    }
    return (n / 48000.0) / best;
}

static conv_fn best_conv_plan(void);

/* one-pass (every V, both tanh forms) == itself at V=1; one-pass compat == legacy 3-pass */
static int narrow_check(void) {
    static const int paper_dils[5] = {1, 4, 16, 64, 256};
    int bad = 0;
    float* y1 = xalloc(WIDE * 4);
    for (int nf = 64; nf <= 512; nf *= 8)
        for (int vi = 0; vi < N_NW_VARIANTS; vi++) {
            const struct nw_variant* v = &NW_VARIANTS[vi];
            struct stack st;
            srand(7); stack_init(&st, v->C, 15, 6, paper_dils, 5);
            if (v->T == 3) stack_block(&st, nf, 1, legacy_conv_rows, tanh_tile_ref, NULL);
            else {
                g_packed = v->P;
                stack_block(&st, nf, 2, legacy_conv_rows, NULL, NW_VARIANTS[vi - (vi % 4)].fn);  /* V1, same T, S, P */
                g_packed = 0;
            }
            memcpy(y1, st.y, nf * 4);
            srand(7); stack_init(&st, v->C, 15, 6, paper_dils, 5);
            g_packed = v->P;
            stack_block(&st, nf, 2, legacy_conv_rows, NULL, v->fn);
            g_packed = 0;
            int differ = memcmp(y1, st.y, nf * 4) != 0;
            bad += differ;
            printf("narrow one-pass C%d V%d %s%s%s, %d frames: %s %s\n", v->C, v->V, v->T == 1 ? "short" : "compat", v->S == 2 ? " split" : "", v->P ? " packed" : "", nf,
                   differ ? "DIFFERS from" : "bit-identical to", v->T == 3 ? "the current 3-pass (tanh_tile)" : "one-pass V1");
        }
    free(y1);
    return bad;
}


/* seconds per block */
static double stack_time(struct stack* st, ptrdiff_t n, int mode, conv_fn conv, tanh_fn tf, nw_fn nw) {
    return (n / 48000.0) / stack_xrt(st, n, mode, conv, tf, nw);
}

/* A1 standard: array 1 (16 ch, K=3, dilations 1..512) + array 2 (8 ch), both 10 layers; the
   rechannel 16->8 and head 16->8 of the real model are timed as 1->8 and 8->1 (under 3% of the
   MACs). Also checks plan_compat + nd_tanh_compat == the current engine path bit for bit. */
static void a1_study(void) {
    static const int dils[10] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
    struct stack s1, s2;
    srand(3); stack_init(&s1, 16, 10, 3, dils, 10);
    srand(4); stack_init(&s2, 8, 10, 3, dils, 10);
    printf("# A1 standard (16 + 8 channels, K=3, 2 x 10 layers), %s: x real time at 48 kHz\n", ISA_NAME);
    for (int nf = 64; nf <= 512; nf *= 8) {
        double cur = 0, fast = 0, fast_s = 0, comp = 0;
        for (int r = 0; r < 3; r++) {   /* interleaved rounds, best of each */
            double c = stack_time(&s1, nf, 0, legacy_conv_rows, tanh_tile_ref, NULL) + stack_time(&s2, nf, 0, legacy_conv_rows, tanh_tile_ref, NULL);
            double f = stack_time(&s1, nf, 0, plan_fast, gen_tanh_array, NULL) + stack_time(&s2, nf, 0, plan_fast, gen_tanh_array, NULL);
            double fs = stack_time(&s1, nf, 0, plan_fast, gen_tanh_short_array, NULL) + stack_time(&s2, nf, 0, plan_fast, gen_tanh_short_array, NULL);
            double p = stack_time(&s1, nf, 0, plan_compat, gen_tanh_compat_array, NULL) + stack_time(&s2, nf, 0, plan_compat, gen_tanh_compat_array, NULL);
            if (!r || c < cur) cur = c;
            if (!r || f < fast) fast = f;
            if (!r || fs < fast_s) fast_s = fs;
            if (!r || p < comp) comp = p;
        }
        double rt = nf / 48000.0;
        printf("A1 %3d fr: current engine path %.1fx | plan_fast + nd_tanh %.1fx (x%.2f) | plan_fast + nd_tanh_short %.1fx (x%.2f) | plan_compat + nd_tanh_compat %.1fx (x%.2f)",
               nf, rt / cur, rt / fast, cur / fast, rt / fast_s, cur / fast_s, rt / comp, cur / comp);
        /* bit-identity of the compat path */
        struct stack c1; srand(3); stack_init(&c1, 16, 10, 3, dils, 10);
        stack_block(&c1, nf, 0, legacy_conv_rows, tanh_tile_ref, NULL);
        float* y1 = xalloc(WIDE * 4); memcpy(y1, c1.y, nf * 4);
        srand(3); stack_init(&c1, 16, 10, 3, dils, 10);
        stack_block(&c1, nf, 0, plan_compat, gen_tanh_compat_array, NULL);
        printf(" [compat %s current]\n", memcmp(y1, c1.y, nf * 4) ? "DIFFERS from" : "bit-identical to");
        free(y1);
        printf("   plans (rows x vectors, o0, nd_tanh):");
        for (int pi = 0; pi < N_PLANS; pi++) {
            double t = 1e30;
            for (int r = 0; r < 3; r++) {
                double q = stack_time(&s1, nf, 0, PLANS[pi].fn, gen_tanh_array, NULL) + stack_time(&s2, nf, 0, PLANS[pi].fn, gen_tanh_array, NULL);
                if (q < t) t = q;
            }
            printf(" %s %.1fx", PLANS[pi].name, rt / t);
        }
        {
            double t = 1e30;
            for (int r = 0; r < 3; r++) {
                double q = stack_time(&s1, nf, 0, plan_fast, noop_tanh, NULL) + stack_time(&s2, nf, 0, plan_fast, noop_tanh, NULL);
                if (q < t) t = q;
            }
            printf(" | plan_fast without tanh %.1fx (tanh = %.0f%% of the time)", rt / t, 100 * (1 - (t / fast)));
        }
        printf("\n");
    }
}

static void narrow_study(void) {
    static const int paper_dils[5] = {1, 4, 16, 64, 256};
    conv_fn plan = best_conv_plan();
    printf("# paper model (1 array, K=6, 15 layers, dilations 1,4,16,64,256 x3, tanh), %s: x real time at 48 kHz\n", ISA_NAME);
    for (int nf = 64; nf <= 512; nf *= 8) {
        double w8 = 0;
        for (int C = 8; C >= 1; C = C == 8 ? 4 : C - 1) {
            struct stack st;
            srand(7);
            stack_init(&st, C, 15, 6, paper_dils, 5);
            double cur = C <= 4 ? stack_xrt(&st, nf, 1, legacy_conv_rows, tanh_tile_ref, NULL)
                                : stack_xrt(&st, nf, 0, legacy_conv_rows, tanh_tile_ref, NULL);
            double wide_new = stack_xrt(&st, nf, 0, plan, gen_tanh_array, NULL);
            if (C == 8) w8 = wide_new;
            printf("w%d %3d fr: current engine %.0fx | generic wide path %.0fx", C, nf, cur, wide_new);
            if (C <= 4) {
                /* bit-identity: one-pass with the compat tanh vs the legacy 3-pass */
                double best = 0; int bi = -1; double best_c = 0; int bci = -1;
                for (int vi = 0; vi < N_NW_VARIANTS; vi++) {
                    if (NW_VARIANTS[vi].C != C) continue;
                    if (NW_VARIANTS[vi].V * ND_LANES > nf) continue;
                    g_packed = NW_VARIANTS[vi].P;
                    double g = stack_xrt(&st, nf, 2, plan, NULL, NW_VARIANTS[vi].fn);
                    g_packed = 0;
                    printf(" | V%d %s%s%s %.0fx", NW_VARIANTS[vi].V, NW_VARIANTS[vi].T == 1 ? "short" : "compat", NW_VARIANTS[vi].S == 2 ? "/split" : "", NW_VARIANTS[vi].P ? "/packed" : "", g);
                    if (NW_VARIANTS[vi].T == 1 && g > best) { best = g; bi = vi; }
                    if (NW_VARIANTS[vi].T == 3 && g > best_c) { best_c = g; bci = vi; }
                }
                printf("\n   best short-tanh 1-pass V%d%s %.0fx (x%.2f current, w8 ratio %.1f); best compat 1-pass V%d %.0fx (x%.2f current)",
                       NW_VARIANTS[bi].V, NW_VARIANTS[bi].S == 2 ? " split" : NW_VARIANTS[bi].P ? " packed" : "", best, best / cur, w8 > 0 ? best / w8 : 0, NW_VARIANTS[bci].V, best_c, best_c / cur);
                /* check: compat 1-pass output == legacy 3-pass output */
                struct stack s2; srand(7); stack_init(&s2, C, 15, 6, paper_dils, 5);
                stack_block(&s2, nf, 1, legacy_conv_rows, tanh_tile_ref, NULL);
                float* y1 = xalloc(WIDE * 4); memcpy(y1, s2.y, nf * 4);
                srand(7); stack_init(&s2, C, 15, 6, paper_dils, 5);
                g_packed = NW_VARIANTS[bci].P;
                stack_block(&s2, nf, 2, legacy_conv_rows, NULL, NW_VARIANTS[bci].fn);
                g_packed = 0;
                printf(" [compat 1-pass %s legacy 3-pass]", memcmp(y1, s2.y, nf * 4) ? "DIFFERS from" : "bit-identical to");
                free(y1);
            }
            printf("\n");
        }
    }
}

int main(int argc, char** argv) {
    const char* mode = argc > 1 ? argv[1] : "speed";
    printf("# simd_bench: ISA %s, %d lanes, FMA %s\n", ISA_NAME, ND_LANES,
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
           "yes"
#else
           "no"
#endif
    );
    if (!strcmp(mode, "acc")) {
        uint32_t step = argc > 2 ? (uint32_t)atol(argv[2]) : 1;
        return tanh_accuracy(1e-30f, 10.0f, step) ? 1 : 0;
    }
    if (!strcmp(mode, "check")) {
        g_timing = 0;
        int bad = conv_study(1.0, 1);
        bad += narrow_check();
        printf("# check: %s\n", bad ? "FAILED" : "all bit-identity checks pass");
        return bad ? 1 : 0;
    }
    double peak = peak_gflops();
    printf("# peak (12 independent FMA chains / mul+add): %.1f GFLOP/s\n", peak);
    if (!strcmp(mode, "speed") || !strcmp(mode, "tanh")) tanh_speed();
    int bad = 0;
    if (!strcmp(mode, "speed") || !strcmp(mode, "conv")) bad |= conv_study(peak, 0);
    if (!strcmp(mode, "speed") || !strcmp(mode, "a1")) a1_study();
    if (!strcmp(mode, "speed") || !strcmp(mode, "narrow")) narrow_study();
    return bad;
    return 0;
}
