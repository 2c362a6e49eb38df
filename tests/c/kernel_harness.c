/* A plain C harness over nam_dsp's kernel headers (nam_dsp/_kernels/), with no Python, so
   that each instruction-set variant can be checked where no Python for that machine exists.
   tests/test_c_harness.py builds it once per variant, including that variant's own
   nam_dsp/_kernels/variant_<isa>.c (named by HARNESS_VARIANT_FILE) with the flags setup.py gives
   it, so the code under test is the code the extension carries; it calls the variant's
   nd_kernel_table as the module does. Natively for the variants this CPU runs; for aarch64 with
   Debian's cross compiler, run under qemu-aarch64-static.

   Checks, for that variant:
   - tanh (the table's tanh, and tanh_narrow where the variant has one) against double tanh:
     the bars of tests/test_kernels_oracle.py (abs error <= 2e-7, relative <= 4e-7), exactly odd,
     |tanh| <= 1, +-1 at huge values and infinities, monotonic on a dense grid, any length, and
     each value independent of where it sits in the array (no state, no lane effects);
   - nd_conv_rows against a plain double loop, for row counts and taps that take every register
     block, with and without bias / mixin / residual;
   - array_chunk (nd_array_chunk), the per-chunk entry point of a WaveNet layer array: against a double
     reference of the whole stream, and bit-identical output (head and residual) for any
     partition of the stream into chunks, at full width (wide path), a narrow width (narrow
     passes) and gated.

   Output: one line per check, then "N passed, N failed"; exit status 1 on any failure. */

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef HARNESS_VARIANT_FILE
#error "compile with -DHARNESS_VARIANT_FILE='\"variant_<isa>.c\"' -I nam_dsp/_kernels"
#endif
#include HARNESS_VARIANT_FILE

/* the variant's table, as the module sees it */
static const nd_kernel_table* const kernels = &ND_CAT(nd_kernels_, ND_VARIANT);

static int passed, failed;

static void report(int ok, const char* name, const char* fmt, ...) {
    va_list ap;
    printf("%s %s: ", ok ? "ok  " : "FAIL", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (ok) passed++; else failed++;
}

static float from_bits(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }
static uint32_t to_bits(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }

/* xorshift64*: every variant and machine sees the same numbers */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng_next(void) {
    rng_state ^= rng_state >> 12; rng_state ^= rng_state << 25; rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}
static float uniform(float lo, float hi) {
    return lo + (hi - lo) * (float)((double)(rng_next() >> 40) / 16777216.0);
}

static float* floats(size_t n) {   /* zeroed, 64-byte aligned */
    void* p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float)) != 0) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    memset(p, 0, (n ? n : 1) * sizeof(float));
    return p;
}

/* ---------------------------------------------------------------------------------------------
   tanh
   --------------------------------------------------------------------------------------------- */

typedef void (*tanh_fn)(float*, nd_index);

static void check_tanh(const char* name, tanh_fn fn) {
    char label[96];
    /* every 211th bit pattern in [0, +inf), and special values; then their negatives */
    const uint32_t step = 211, top = 0x7F800000u;
    const float special[] = {0.0f, 0.5f, 0.49999997f, 9.0f, 9.1f, 9.2f, 20.0f, 88.0f, 89.0f, 1e10f,
                             1e30f, 3.4028235e38f, INFINITY, 1e-30f, 1e-38f, 1.4e-45f, 1.0f,
                             0.99999994f};
    const size_t n_special = sizeof special / sizeof special[0];
    size_t n = top / step + 1 + n_special, i = 0;
    float* x = floats(2 * n);
    float* y = floats(2 * n);
    for (uint32_t b = 0; b < top; b += step) x[i++] = from_bits(b);
    for (size_t s = 0; s < n_special; s++) x[i++] = special[s];
    n = i;
    for (i = 0; i < n; i++) x[n + i] = -x[i];
    memcpy(y, x, 2 * n * sizeof(float));
    fn(y, (nd_index)(2 * n));

    double worst_abs = 0, worst_rel = 0;
    float at_abs = 0, at_rel = 0;
    size_t odd_bad = 0, bound_bad = 0, sign_bad = 0, zero_bad = 0;
    for (i = 0; i < 2 * n; i++) {
        double exact = tanh((double)x[i]);
        double err = fabs((double)y[i] - exact);
        if (!(err <= worst_abs)) { worst_abs = err; at_abs = x[i]; }
        if (exact != 0 && !(err / fabs(exact) <= worst_rel)) { worst_rel = err / fabs(exact); at_rel = x[i]; }
        zero_bad += exact == 0 && y[i] != 0;
        bound_bad += !(fabsf(y[i]) <= 1.0f);
        sign_bad += x[i] != 0 && y[i] != 0 && (y[i] > 0) != (x[i] > 0);
        if (i < n) odd_bad += to_bits(y[n + i]) != (to_bits(y[i]) ^ 0x80000000u);
    }
    snprintf(label, sizeof label, "%s error", name);
    report(worst_abs <= 2e-7 && worst_rel <= 4e-7 && zero_bad == 0, label,
           "max abs %.3g (x = %.9g), max relative %.3g (x = %.9g) over %zu floats "
           "(bars 2e-7, 4e-7); tanh(0) != 0: %zu", worst_abs, (double)at_abs, worst_rel,
           (double)at_rel, 2 * n, zero_bad);
    snprintf(label, sizeof label, "%s shape", name);
    report(odd_bad == 0 && bound_bad == 0 && sign_bad == 0, label,
           "not exactly odd: %zu, |tanh| > 1: %zu, wrong sign: %zu", odd_bad, bound_bad, sign_bad);

    float big[8] = {INFINITY, -INFINITY, 3.4e38f, -3.4e38f, 1e20f, -1e20f, 50.0f, -50.0f};
    fn(big, 8);
    int saturates = 1;
    for (i = 0; i < 8; i++) saturates &= big[i] == (i % 2 ? -1.0f : 1.0f);
    snprintf(label, sizeof label, "%s saturation", name);
    report(saturates, label, "exactly +-1 at +-inf, +-3.4e38, +-1e20, +-50");

    const size_t m = 2000001;
    float* g = floats(m);
    for (i = 0; i < m; i++) g[i] = (float)(-10.0 + 20.0 * (double)i / (double)(m - 1));
    fn(g, (nd_index)m);
    size_t drops = 0;
    for (i = 1; i < m; i++) drops += g[i] < g[i - 1];
    snprintf(label, sizeof label, "%s monotonic", name);
    report(drops == 0, label, "%zu decreases over %zu points in [-10, 10]", drops, m);
    free(g);

    /* any length at any offset: each value as when computed alone, nothing outside written */
    size_t moved = 0, outside = 0;
    for (size_t len = 0; len <= 67; len++) {
        for (size_t off = 0; off < 3; off++) {
            float buf[72], one;
            for (i = 0; i < 72; i++) buf[i] = 123.0f;
            for (i = 0; i < len; i++) buf[off + i] = x[(len * 7919 + i * 104729) % (2 * n)];
            fn(buf + off, (nd_index)len);
            for (i = 0; i < off; i++) outside += buf[i] != 123.0f;
            for (i = off + len; i < 72; i++) outside += buf[i] != 123.0f;
            for (i = 0; i < len; i++) {
                one = x[(len * 7919 + i * 104729) % (2 * n)];
                fn(&one, 1);
                moved += to_bits(one) != to_bits(buf[off + i]);
            }
        }
    }
    snprintf(label, sizeof label, "%s any length", name);
    report(moved == 0 && outside == 0, label, "lengths 0..67 at offsets 0..2: %zu values differ "
           "from the same value alone, %zu floats written outside", moved, outside);
    free(x);
    free(y);
}

/* ---------------------------------------------------------------------------------------------
   nd_conv_rows against a double loop
   --------------------------------------------------------------------------------------------- */

static void check_conv(void) {
    const int outs[] = {1, 2, 3, 4, 5, 7, 8, 16};
    const int ins[] = {1, 2, 3, 8, 16};
    const int taps[] = {1, 2, 3};
    const nd_index frames[] = {16, 32, 48, 64, 80, 512};
    const int dil = 5, n_cases = 8 * 5 * 3 * 6;
    double worst = 0;
    int bad = 0, cases = 0;
    char worst_case[96] = "";
    for (int c = 0; c < n_cases; c++) {
        int n_out = outs[c % 8], n_in = ins[(c / 8) % 5], k_taps = taps[(c / 40) % 3];
        nd_index n = frames[(c / 120) % 6];
        int with_extras = c % 2;   /* bias, mixin and residual, or none */
        nd_index look = (nd_index)(k_taps - 1) * dil, src_stride = look + n + 3, w_row = n_in * k_taps + 1;
        float* w = floats((size_t)n_out * w_row);
        float* src = floats((size_t)n_in * src_stride);
        float* bias = floats(n_out);
        float* mix = floats(n_out);
        float* cond = floats(n);
        float* add = floats((size_t)n_out * n);
        float* out = floats((size_t)n_out * (n + 16));
        for (size_t i = 0; i < (size_t)n_out * w_row; i++) w[i] = uniform(-1, 1);
        for (size_t i = 0; i < (size_t)n_in * src_stride; i++) src[i] = uniform(-1, 1);
        for (int o = 0; o < n_out; o++) { bias[o] = uniform(-1, 1); mix[o] = uniform(-1, 1); }
        for (nd_index t = 0; t < n; t++) cond[t] = uniform(-1, 1);
        for (size_t i = 0; i < (size_t)n_out * n; i++) add[i] = uniform(-1, 1);
        nd_conv_rows(out, n + 16, n_out, n, w, w_row, n_in, k_taps, dil, src + look, src_stride,
                     with_extras ? bias : NULL, with_extras ? mix : NULL, with_extras ? cond : NULL,
                     with_extras ? add : NULL, n);
        for (int o = 0; o < n_out; o++)
            for (nd_index t = 0; t < n; t++) {
                double s = 0, mag = 0;
                for (int i = 0; i < n_in; i++)
                    for (int k = 0; k < k_taps; k++) {
                        double term = (double)w[o * w_row + i * k_taps + k]
                                      * src[i * src_stride + look + t - (nd_index)(k_taps - 1 - k) * dil];
                        s += term;
                        mag += fabs(term);
                    }
                if (with_extras) {
                    double e = (double)bias[o] + (double)mix[o] * cond[t] + add[o * n + t];
                    s += e;
                    mag += fabs(bias[o]) + fabs((double)mix[o] * cond[t]) + fabs(add[o * n + t]);
                }
                /* float32 sums: error within a few ulps of the sum of |terms| */
                double err = fabs(out[o * (n + 16) + t] - s) / (mag > 0 ? mag : 1);
                if (!(err <= worst)) {
                    worst = err;
                    snprintf(worst_case, sizeof worst_case, "out %d, in %d, taps %d, frames %td",
                             n_out, n_in, k_taps, n);
                }
                bad += !(err <= 4 * 1.2e-7 * (1 + log2(n_in * k_taps + 3)));
            }
        cases++;
        free(w); free(src); free(bias); free(mix); free(cond); free(add); free(out);
    }
    report(bad == 0, "nd_conv_rows vs double", "%d shapes (rows 1-16, inputs 1-16, taps 1-3, "
           "frames 16-512, with and without bias/mixin/residual): worst error %.3g of sum |terms| "
           "(%s); %d outputs over the bar", cases, worst, worst_case, bad);
}

/* ---------------------------------------------------------------------------------------------
   nd_array_chunk: one layer array, against a double reference and across chunk partitions
   --------------------------------------------------------------------------------------------- */

#define CH 8           /* channels of the array */
#define LAYERS 6
#define HEAD 2         /* head_size */
#define HEAD_K 2
#define K 3
static const int DILATIONS[LAYERS] = {1, 2, 4, 8, 16, 32};

typedef struct {
    int gating;
    float* w[LAYERS]; float* b[LAYERS]; float* m[LAYERS]; float* u_w[LAYERS]; float* u_b[LAYERS];
    float* rechannel; float* head_w; float* head_b;
} weights;

static void make_weights(weights* W, int gating) {
    int g = gating ? 2 : 1;
    W->gating = gating;
    for (int j = 0; j < LAYERS; j++) {
        W->w[j] = floats(g * CH * CH * K);
        W->b[j] = floats(g * CH);
        W->m[j] = floats(g * CH);
        W->u_w[j] = floats(CH * CH);
        W->u_b[j] = floats(CH);
        for (int i = 0; i < g * CH * CH * K; i++) W->w[j][i] = uniform(-0.4f, 0.4f);
        for (int i = 0; i < g * CH; i++) { W->b[j][i] = uniform(-0.2f, 0.2f); W->m[j][i] = uniform(-1, 1); }
        for (int i = 0; i < CH * CH; i++) W->u_w[j][i] = uniform(-0.4f, 0.4f);
        for (int i = 0; i < CH; i++) W->u_b[j][i] = uniform(-0.1f, 0.1f);
    }
    W->rechannel = floats(CH);
    for (int i = 0; i < CH; i++) W->rechannel[i] = uniform(-1, 1);
    W->head_w = floats(HEAD * CH * HEAD_K);
    W->head_b = floats(HEAD);
    for (int i = 0; i < HEAD * CH * HEAD_K; i++) W->head_w[i] = uniform(-0.5f, 0.5f);
    for (int i = 0; i < HEAD; i++) W->head_b[i] = uniform(-0.1f, 0.1f);
}

static void make_ring(nd_ring* r, int rows, nd_index lookback) {
    r->lookback = lookback;
    r->cap = 2 * lookback + ND_CHUNK + 2 * ND_TILE;
    r->stride = nd_round_up(r->cap, 16);
    r->pos = lookback;
    r->data = floats((size_t)rows * r->stride);
}

typedef struct {
    nd_array a;
    nd_layer layers[LAYERS];
    float *z, *act, *zmix, *xin;
} state;

static void make_state(state* s, const weights* W) {
    memset(s, 0, sizeof *s);
    nd_array* a = &s->a;
    a->channels = CH; a->in_size = 1; a->head_size = HEAD; a->head_k = HEAD_K; a->n_layers = LAYERS;
    a->layers = s->layers;
    a->rechannel = W->rechannel; a->head_w = W->head_w; a->head_b = W->head_b;
    make_ring(&a->acc, CH, HEAD_K - 1);
    a->residual = floats(CH * ND_WIDE);
    a->head_out = floats(HEAD * ND_WIDE);
    for (int j = 0; j < LAYERS; j++) {
        nd_layer* L = &s->layers[j];
        L->k_taps = K; L->dil = DILATIONS[j];
        L->act = ND_ACT_TANH; L->gate_act = ND_ACT_SIGMOID;
        L->gating = W->gating ? ND_GATE_GATED : ND_GATE_NONE;
        L->w = W->w[j]; L->b = W->b[j]; L->m = W->m[j]; L->u_w = W->u_w[j]; L->u_b = W->u_b[j];
        make_ring(&L->hist, CH, (nd_index)(K - 1) * DILATIONS[j]);
        L->silence = floats(CH);
    }
    s->z = floats(2 * CH * ND_WIDE);
    s->act = floats(2 * CH * ND_WIDE);
    s->zmix = floats(2 * CH * ND_WIDE);
    s->xin = floats(ND_WIDE);
}

static void free_state(state* s) {
    free(s->a.acc.data); free(s->a.residual); free(s->a.head_out);
    for (int j = 0; j < LAYERS; j++) { free(s->layers[j].hist.data); free(s->layers[j].silence); }
    free(s->z); free(s->act); free(s->zmix); free(s->xin);
}

/* Runs x[0..n) through a fresh state in chunks given by next_len; head (HEAD x n) and residual
   (width x n) outputs, frame-major per row. */
static void run_chunks(const weights* W, int width, const float* x, nd_index n,
                       nd_index (*next_len)(nd_index done), float* head, float* residual) {
    state s;
    make_state(&s, W);
    nd_index done = 0;
    while (done < n) {
        nd_index m = next_len(done);
        if (m > n - done) m = n - done;
        nd_index n_pad = nd_round_up(m, ND_TILE);
        memcpy(s.xin, x + done, m * sizeof(float));
        memset(s.xin + m, 0, (n_pad - m) * sizeof(float));   /* as the engine pads */
        kernels->array_chunk(&s.a, width, s.xin, 0, NULL, s.xin, 1, m, 1, s.z, s.act, s.zmix);
        for (int o = 0; o < HEAD; o++) memcpy(head + o * n + done, s.a.head_out + o * ND_WIDE, m * sizeof(float));
        for (int o = 0; o < width; o++) memcpy(residual + o * n + done, s.a.residual + o * ND_WIDE, m * sizeof(float));
        done += m;
    }
    free_state(&s);
}

static nd_index whole_chunks(nd_index done) { (void)done; return ND_CHUNK; }
static nd_index odd_chunks(nd_index done) {
    static const nd_index lens[] = {1, 7, 16, 100, 333, 17, 512, 2, 31};
    static size_t k = 0;
    if (done == 0) k = 0;
    return lens[k++ % 9];
}
static nd_index random_chunks(nd_index done) { (void)done; return 1 + (nd_index)(rng_next() % ND_CHUNK); }

/* The same stream in double: every layer over the whole signal, zero history before frame 0. */
static void reference_array(const weights* W, int c, const float* x, nd_index n, double* head,
                            double* residual) {
    const int g = W->gating ? 2 : 1;
    double* h = calloc((size_t)c * n, sizeof(double));
    double* hn = calloc((size_t)c * n, sizeof(double));
    double* acc = calloc((size_t)c * n, sizeof(double));
    double* a = calloc((size_t)c * n, sizeof(double));
    double* z = calloc((size_t)g * c * n, sizeof(double));
    for (int o = 0; o < c; o++)
        for (nd_index t = 0; t < n; t++) h[o * n + t] = (double)W->rechannel[o] * x[t];
    for (int j = 0; j < LAYERS; j++) {
        int dil = DILATIONS[j];
        for (int gi = 0; gi < g; gi++)
            for (int o = 0; o < c; o++) {
                int row = gi * CH + o;
                for (nd_index t = 0; t < n; t++) {
                    double s = W->b[j][row] + (double)W->m[j][row] * x[t];
                    for (int i = 0; i < c; i++)
                        for (int k = 0; k < K; k++) {
                            nd_index tt = t - (nd_index)(K - 1 - k) * dil;
                            if (tt >= 0) s += (double)W->w[j][(row * CH + i) * K + k] * h[i * n + tt];
                        }
                    z[(gi * c + o) * n + t] = s;
                }
            }
        for (int o = 0; o < c; o++)
            for (nd_index t = 0; t < n; t++) {
                double v = tanh(z[o * n + t]);
                if (g == 2) v *= 1.0 / (1.0 + exp(-z[(c + o) * n + t]));
                a[o * n + t] = v;
                acc[o * n + t] += v;
            }
        for (int o = 0; o < c; o++)
            for (nd_index t = 0; t < n; t++) {
                double s = h[o * n + t] + W->u_b[j][o];
                for (int i = 0; i < c; i++) s += (double)W->u_w[j][o * CH + i] * a[i * n + t];
                hn[o * n + t] = s;
            }
        memcpy(h, hn, (size_t)c * n * sizeof(double));
    }
    for (int o = 0; o < HEAD; o++)
        for (nd_index t = 0; t < n; t++) {
            double s = W->head_b[o];
            for (int i = 0; i < c; i++)
                for (int k = 0; k < HEAD_K; k++) {
                    nd_index tt = t - (HEAD_K - 1 - k);
                    if (tt >= 0) s += (double)W->head_w[(o * CH + i) * HEAD_K + k] * acc[i * n + tt];
                }
            head[o * n + t] = s;
        }
    memcpy(residual, h, (size_t)c * n * sizeof(double));
    free(h); free(hn); free(acc); free(a); free(z);
}

static double rel_rms(const float* y, const double* ref, size_t n) {
    double e = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        e += (y[i] - ref[i]) * (y[i] - ref[i]);
        r += ref[i] * ref[i];
    }
    return sqrt(e / (r > 0 ? r : 1));
}

static void check_array(const char* name, int width, int gating) {
    char label[96];
    const nd_index n = 3000;
    weights W;
    make_weights(&W, gating);
    float* x = floats(n);
    for (nd_index t = 0; t < n; t++) x[t] = 0.5f * uniform(-1, 1) + 0.3f * (float)sin(0.01 * (double)t);
    float *head[3], *res[3];
    for (int p = 0; p < 3; p++) { head[p] = floats(HEAD * n); res[p] = floats((size_t)width * n); }
    run_chunks(&W, width, x, n, whole_chunks, head[0], res[0]);
    run_chunks(&W, width, x, n, odd_chunks, head[1], res[1]);
    run_chunks(&W, width, x, n, random_chunks, head[2], res[2]);
    int same = 1;
    for (int p = 1; p < 3; p++)
        same &= memcmp(head[0], head[p], HEAD * n * sizeof(float)) == 0
                && memcmp(res[0], res[p], (size_t)width * n * sizeof(float)) == 0;
    snprintf(label, sizeof label, "nd_array_chunk %s partition", name);
    report(same, label, "head and residual bit-identical for chunks of 512, of 1/7/16/100/333/17/512/2/31 "
           "and of random lengths 1..512 (%td frames)", n);

    double* rh = calloc(HEAD * n, sizeof(double));
    double* rr = calloc((size_t)width * n, sizeof(double));
    reference_array(&W, width, x, n, rh, rr);
    double eh = rel_rms(head[0], rh, HEAD * n), er = rel_rms(res[0], rr, (size_t)width * n);
    snprintf(label, sizeof label, "nd_array_chunk %s vs double", name);
    report(eh <= 1e-5 && er <= 1e-5, label, "relative RMS error: head %.3g, residual %.3g (bar 1e-5)", eh, er);
    free(rh); free(rr); free(x);
    for (int p = 0; p < 3; p++) { free(head[p]); free(res[p]); }
}

int main(void) {
    printf("variant %s (table nd_kernels_%s), vector registers: %s\n", kernels->name,
           ND_STR(ND_VARIANT),
#if defined(__AVX512F__)
           "AVX-512"
#elif defined(__AVX2__)
           "AVX2"
#elif defined(__ARM_NEON)
           "NEON"
#elif defined(__SSE2__)
           "SSE2"
#else
           "none"
#endif
    );
    check_tanh("tanh", kernels->tanh);
    if (kernels->tanh_narrow != NULL) check_tanh("tanh_narrow", kernels->tanh_narrow);
    check_conv();
    check_array("width 8 of 8", 8, 0);
    check_array("width 3 of 8 (narrow)", 3, 0);
    check_array("width 8 gated", 8, 1);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
