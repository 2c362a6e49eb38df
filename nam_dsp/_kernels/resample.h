/* Streaming rational-ratio resampling: one polyphase FIR pass per block, no allocation.
 *
 * Conceptually the input (rate fi) is zero-stuffed to the common rate R = Li * fi, filtered by a
 * lowpass h of N taps at rate R, and every Lo-th sample kept (rate fo = R / Lo). Output j sits at
 * R-index j * Lo; its newest input is t_hi = floor(j * Lo / Li), its phase p = j * Lo - t_hi * Li,
 * and y[j] = sum_m table[p][m] * x[t_hi - m], with table[p][m] = Li * h[p + m * Li] (zero past N).
 *
 * The state is the last T - 1 inputs and the R-index of the next output relative to the first
 * new input, an exact integer: the output is a function of the sample stream alone, so any block
 * partition gives the same samples (only how many come out of each call differs).
 */
#ifndef ND_RESAMPLE_H
#define ND_RESAMPLE_H

#include <string.h>
#include <stddef.h>

typedef struct {
    int li, lo, taps;        /* input stuffing, output decimation, taps per phase (T) */
    const float* table;      /* li rows of `taps` coefficients */
    float* buf;              /* T - 1 history samples, then room for one call's input */
    ptrdiff_t cap;           /* most input samples per call */
    long long q;             /* R-index of the next output minus that of the first new input */
} nd_resampler;

/* Most outputs one call of n inputs can give. */
static inline ptrdiff_t nd_resample_max_out(const nd_resampler* r, ptrdiff_t n)
{
    return (ptrdiff_t)(((long long)n * r->li) / r->lo) + 1;
}

/* Resample n (<= cap) inputs into y; returns how many outputs were written. */
static inline ptrdiff_t nd_resample(nd_resampler* r, const float* x, ptrdiff_t n, float* y)
{
    const int li = r->li, lo = r->lo, taps = r->taps;
    float* hist = r->buf + (taps - 1);          /* hist[t] = new input t; hist[-m] older ones */
    memcpy(hist, x, (size_t)n * sizeof(float));
    ptrdiff_t count = 0;
    long long q = r->q;                          /* >= 0 between calls */
    const long long end = (long long)n * li;     /* outputs need t_hi = q / li <= n - 1 */
    while (q < end) {
        const long long t_hi = q / li;
        const float* c = r->table + (size_t)(q - t_hi * li) * taps;
        const float* xs = hist + t_hi;
        double acc = 0.0;
        for (int m = 0; m < taps; m++)
            acc += (double)c[m] * (double)xs[-m];
        y[count++] = (float)acc;
        q += lo;
    }
    r->q = q - end;
    memmove(r->buf, r->buf + n, (size_t)(taps - 1) * sizeof(float));
    return count;
}

/* Back to silence (history zeroed, phase at the start). */
static inline void nd_resample_reset(nd_resampler* r)
{
    memset(r->buf, 0, (size_t)(r->taps - 1 + r->cap) * sizeof(float));
    r->q = 0;
}

#endif
