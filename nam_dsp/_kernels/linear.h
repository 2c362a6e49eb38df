/* linear.h: NAM's Linear model, an FIR filter y[t] = bias + sum_j w[j] x[t - j], sample by
   sample over a rewound history buffer.

   Entry point:
     nd_linear_run(w, taps, bias, hist, cap, pos, x, y, n)
       x: n input samples (NULL: zeros; non-finite ones enter the history as 0); y: n outputs
       (NULL: discard); *pos: next history slot (kept across calls). Returns how many input
       samples were non-finite.
*/
#ifndef ND_LINEAR_H
#define ND_LINEAR_H

#include "common.h"

static inline long long nd_linear_run(const float* w, nd_index taps, float bias, float* hist,
                                      nd_index cap, nd_index* pos, const float* x, float* y,
                                      nd_index n) {
    const nd_index keep = taps - 1;
    nd_index t, j, p = *pos;
    float v, acc;
    long long bad = 0;
    for (t = 0; t < n; t++) {
        if (p >= cap) {
            memmove(hist, hist + p - keep, keep * sizeof(float));
            p = keep;
        }
        v = x != NULL ? x[t] : (float)0.0;
        if (!isfinite(v)) {
            v = 0.0;
            bad += 1;
        }
        hist[p] = v;
        acc = bias;
        for (j = 0; j < taps; j++) acc = acc + (w[j] * hist[p - j]);
        if (y != NULL) y[t] = acc;
        p += 1;
    }
    *pos = p;
    return bad;
}

#endif
