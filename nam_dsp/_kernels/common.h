/* common.h: what every nam_dsp arithmetic header shares (plain C99 + GCC/Clang vector
   extensions; no Python headers, so a C test harness can include any of them). The types and
   constants are in types.h.

   Entry points:
     nd_clamp_posf, nd_minf, nd_maxf               branch-free scalar helpers
     nd_vfloat, nd_vzero, nd_vload, nd_vstore      one tile (16 floats) as a vector value
*/
#ifndef ND_COMMON_H
#define ND_COMMON_H

#include <string.h>
#include <math.h>
#include "types.h"


/* Branch-free min / max written as C conditional expressions: GCC vectorises these, while
   libm's fminf (NaN rules) keeps loops scalar.
   nd_clamp_posf(x, c) = min(x, c) for x >= 0 (NaN -> c) on the bit patterns, with no comparison
   at all: inside tanh GCC turns any float comparison into a branch and gives up vectorising. */
static inline float nd_clamp_posf(float x, float c) {
    int32_t xi, ci, d; float r;
    memcpy(&xi, &x, 4); memcpy(&ci, &c, 4);
    d = xi - ci;
    xi = ci + (d & (d >> 31));
    memcpy(&r, &xi, 4);
    return r;
}
static inline float nd_minf(float a, float b) { return a < b ? a : b; }
static inline float nd_maxf(float a, float b) { return a > b ? a : b; }

/* One tile of 16 floats as a GCC/Clang vector type: the micro-kernels say exactly which values
   live in registers instead of hoping the auto-vectoriser finds it. On machines without 512-bit
   registers the compiler splits each operation into narrower ones. A scalar operand broadcasts. */
typedef float nd_vfloat __attribute__((vector_size(64), aligned(4), may_alias));
static inline nd_vfloat nd_vzero(void) { nd_vfloat z = {0}; return z; }
static inline nd_vfloat nd_vload(const float* p) { return *(const nd_vfloat*)p; }
static inline void nd_vstore(float* p, nd_vfloat v) { *(nd_vfloat*)p = v; }

#endif
