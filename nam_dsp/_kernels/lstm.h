/* The LSTM's arithmetic: one cell step and the linear head, in float64.
 *
 * Why float64. NAM's float32 LSTMs (NAM Core's included) are 1e-5..6e-5 (relative RMS) from
 * exact arithmetic on real captures: the Boss captures' state never settles on silence and
 * wanders on its own rounding noise, so each float32 rounding (6e-8) lives on in the state. In
 * float64 every rounding is 1e-16 and the state is exact to far below what a float32 output can
 * show, whatever the CPU: an FMA or another summation order changes only bits that never reach
 * the output's float32 rounding, so no float flags are needed.
 *
 * exp is our own (below), not libm's: it runs 4 lanes at once on any x86-64 / aarch64 build
 * (GCC / Clang vector extensions; without AVX the compiler splits each operation in two) and its
 * error, 2e-16 relative, does not depend on the C library or its CPU dispatch.
 *
 * Layout. Hidden units are padded to HP = a multiple of 4 (one vector: ND_LSTM_LANES). A layer's
 * gate pre-activations are 4 blocks of HP rows (i, f, g, o); its weights are stored column by
 * column, each column 4 * HP doubles (padded rows zero), input columns first, then recurrent ones.
 * Padded units have zero weights and bias, so their gates are 0, their c and h stay exactly 0,
 * and the head's padded weights are 0 too. Every buffer is 64-byte aligned and every offset a
 * whole number of vectors. Plain C: no Python.h.
 */
#ifndef NAM_DSP_LSTM_H
#define NAM_DSP_LSTM_H

#include <stddef.h>
#include <stdint.h>
#include <math.h>

#define ND_LSTM_LANES 4

typedef double nd_lstm_v __attribute__((vector_size(32), aligned(32)));
typedef int64_t nd_lstm_vi __attribute__((vector_size(32), aligned(32)));

#define ND_LSTM_AT(p) (*(nd_lstm_v*) (p))
#define ND_LSTM_AT_CONST(p) (*(const nd_lstm_v*) (p))

static inline nd_lstm_v nd_lstm_splat(double a) {
    nd_lstm_v v = {a, a, a, a};
    return v;
}

/* exp(x) for x in [-ND_LSTM_EXP_LIMIT, ND_LSTM_EXP_LIMIT] (callers clamp; NaN passes through).
 * x = k ln2 + r with k = round(x / ln2), |r| <= ln2/2 (Cody-Waite: ln2 in two parts, the first
 * with its low 21 bits zero so k * ND_LSTM_LN2_HI is exact), exp(r) by its Taylor polynomial to
 * degree 12 (truncation < 2e-16 relative), times 2^k built in the exponent bits. k comes from
 * adding 1.5 * 2^52, which leaves round(x / ln2) in the low mantissa bits of t. Contracting any
 * a * b + c here into an FMA only makes a step more exact. */
#define ND_LSTM_EXP_LIMIT 40.0
#define ND_LSTM_LOG2E 1.4426950408889634
#define ND_LSTM_LN2_HI 6.93147180369123816490e-01
#define ND_LSTM_LN2_LO 1.90821492927058770002e-10
#define ND_LSTM_SHIFTER 6755399441055744.0 /* 1.5 * 2^52 */

static inline nd_lstm_v nd_lstm_vexp(nd_lstm_v x) {
    const nd_lstm_v shifter = nd_lstm_splat(ND_LSTM_SHIFTER);
    nd_lstm_v t = x * ND_LSTM_LOG2E + shifter;
    nd_lstm_v k = t - shifter;
    nd_lstm_v r = (x - k * ND_LSTM_LN2_HI) - k * ND_LSTM_LN2_LO;
    nd_lstm_v p = nd_lstm_splat(1.0 / 479001600.0);   /* 1/12! */
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    /* bits(t) = bits(shifter) + k exactly; 2^k has exponent field k + 1023. */
    nd_lstm_vi scale = ((nd_lstm_vi) t - (int64_t) 0x4338000000000000LL + 1023) << 52;
    return p * (nd_lstm_v) scale;
}

/* min(max(x, -limit), limit) on the bit patterns' comparisons; NaN stays NaN. */
static inline nd_lstm_v nd_lstm_vclamp(nd_lstm_v x, double limit) {
    const nd_lstm_v hi = nd_lstm_splat(limit), lo = nd_lstm_splat(-limit);
    nd_lstm_vi above = (nd_lstm_vi) (x > hi), below = (nd_lstm_vi) (x < lo);
    nd_lstm_vi bits = ((nd_lstm_vi) x & ~(above | below)) | ((nd_lstm_vi) hi & above)
                      | ((nd_lstm_vi) lo & below);
    return (nd_lstm_v) bits;
}

/* sigmoid(x) = 1 / (1 + exp(-x)): beyond |x| = 40 it is within 4.3e-18 of 0 or 1 (1 in float64). */
static inline nd_lstm_v nd_lstm_vsigmoid(nd_lstm_v x) {
    return 1.0 / (1.0 + nd_lstm_vexp(-nd_lstm_vclamp(x, ND_LSTM_EXP_LIMIT)));
}

/* tanh(x) = 2 sigmoid(2x) - 1: absolute error a few 1e-16, and tanh(0) is exactly 0. */
static inline nd_lstm_v nd_lstm_vtanh(nd_lstm_v x) {
    return 2.0 * nd_lstm_vsigmoid(2.0 * x) - 1.0;
}

/* One cell step of a layer with n_in inputs and HP (padded) hidden units:
 *   gates = b + W_x in + W_h h (4 * HP rows, i f g o), c = s(f) c + s(i) tanh(g), h = s(o) tanh(c).
 * in: n_in values (layer 0: the sample; later layers: the previous layer's h), h and c: HP
 * values updated in place, gates: 4 * HP scratch. The gate sums run in blocks of 4 vectors
 * (16 rows, the accumulators in registers), columns in order: inputs, then h. */
static inline void nd_lstm_cell(const double* w, const double* b, const double* in, ptrdiff_t n_in,
                                double* h, double* c, double* gates, ptrdiff_t hp,
                                ptrdiff_t hidden) {
    const ptrdiff_t rows = 4 * hp;
    ptrdiff_t r, j, u;
    for (r = 0; r < rows; r += 4 * ND_LSTM_LANES) {
        nd_lstm_v a0 = ND_LSTM_AT_CONST(b + r), a1 = ND_LSTM_AT_CONST(b + r + 4);
        nd_lstm_v a2 = ND_LSTM_AT_CONST(b + r + 8), a3 = ND_LSTM_AT_CONST(b + r + 12);
        const double* wr = w + r;
        for (j = 0; j < n_in + hidden; j++, wr += rows) {
            const nd_lstm_v v = nd_lstm_splat(j < n_in ? in[j] : h[j - n_in]);
            a0 += ND_LSTM_AT_CONST(wr) * v;
            a1 += ND_LSTM_AT_CONST(wr + 4) * v;
            a2 += ND_LSTM_AT_CONST(wr + 8) * v;
            a3 += ND_LSTM_AT_CONST(wr + 12) * v;
        }
        ND_LSTM_AT(gates + r) = a0;
        ND_LSTM_AT(gates + r + 4) = a1;
        ND_LSTM_AT(gates + r + 8) = a2;
        ND_LSTM_AT(gates + r + 12) = a3;
    }
    for (u = 0; u < hp; u += ND_LSTM_LANES) {
        const nd_lstm_v si = nd_lstm_vsigmoid(ND_LSTM_AT(gates + u));
        const nd_lstm_v sf = nd_lstm_vsigmoid(ND_LSTM_AT(gates + hp + u));
        const nd_lstm_v tg = nd_lstm_vtanh(ND_LSTM_AT(gates + 2 * hp + u));
        const nd_lstm_v so = nd_lstm_vsigmoid(ND_LSTM_AT(gates + 3 * hp + u));
        const nd_lstm_v cv = sf * ND_LSTM_AT(c + u) + si * tg;
        ND_LSTM_AT(c + u) = cv;
        ND_LSTM_AT(h + u) = so * nd_lstm_vtanh(cv);
    }
}

/* The head: bias + w . h over HP units (padded weights are 0), 4 lane sums then (l0+l1)+(l2+l3). */
static inline double nd_lstm_head(const double* w, const double* h, double bias, ptrdiff_t hp) {
    nd_lstm_v acc = nd_lstm_splat(0.0);
    ptrdiff_t u;
    for (u = 0; u < hp; u += ND_LSTM_LANES)
        acc += ND_LSTM_AT_CONST(w + u) * ND_LSTM_AT_CONST(h + u);
    return bias + ((acc[0] + acc[1]) + (acc[2] + acc[3]));
}

/* n samples of x (NULL: zeros) through the stack into y (NULL: discard), as float32. A
 * non-finite input sample enters as 0; the count of those is returned.
 * w: every layer's weights in turn (layer 0: 1 + hidden columns, then hidden + hidden);
 * b, h, c: per layer 4 * HP, HP, HP. */
static inline long long nd_lstm_run(const double* w, const double* b, double* h, double* c,
                                    double* gates, const double* head_w, double head_b,
                                    ptrdiff_t n_layers, ptrdiff_t hidden,
                                    ptrdiff_t hp, const float* x, float* y, ptrdiff_t n) {
    long long bad = 0;
    ptrdiff_t t, l;
    for (t = 0; t < n; t++) {
        double sample = 0.0;
        if (x != NULL) {
            if (isfinite(x[t])) sample = (double) x[t];
            else bad++;
        }
        const double* wl = w;
        const double* in = &sample;
        ptrdiff_t n_in = 1;
        for (l = 0; l < n_layers; l++) {
            nd_lstm_cell(wl, b + l * 4 * hp, in, n_in, h + l * hp, c + l * hp, gates, hp, hidden);
            wl += (n_in + hidden) * 4 * hp;
            in = h + l * hp;
            n_in = hidden;
        }
        if (y != NULL)
            y[t] = (float) nd_lstm_head(head_w, h + (n_layers - 1) * hp, head_b, hp);
    }
    return bad;
}

#endif
