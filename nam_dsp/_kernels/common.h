/* common.h: what every nam_dsp arithmetic header shares (plain C99 + GCC/Clang vector
   extensions; no Python headers, so a C test harness can include any of them). The types and
   constants are in types.h.

   Entry points:
     nd_clamp_posf, nd_minf, nd_maxf               branch-free scalar helpers
     nd_vn, nd_vni, nd_vnzero, nd_vnset1, nd_vniset1, nd_vnload, nd_vnstore, nd_vnselect
                                                   one native vector (ND_LANES floats / int32s)
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

/* One native vector register of ND_LANES floats: what a kernel that must fit its accumulators in
   the register file (16 registers on SSE2 and AVX2, 32 on AVX-512 and NEON) works on, a tile
   being ND_SUB of them. */
#if defined(__AVX512F__)
#define ND_LANES 16
#elif defined(__AVX__)
#define ND_LANES 8
#else
#define ND_LANES 4
#endif
#define ND_SUB (ND_TILE / ND_LANES)
typedef float nd_vn __attribute__((vector_size(ND_LANES * 4), aligned(4), may_alias));
typedef int32_t nd_vni __attribute__((vector_size(ND_LANES * 4), aligned(4), may_alias));
static inline nd_vn nd_vnzero(void) { nd_vn z = {0}; return z; }
static inline nd_vn nd_vnset1(float c) { return nd_vnzero() + c; }
static inline nd_vni nd_vniset1(int32_t c) { nd_vni z = {0}; return z + c; }
/* m ? a : b per lane, m from a vector comparison (all bits set or clear) */
static inline nd_vn nd_vnselect(nd_vni m, nd_vn a, nd_vn b) {
    return (nd_vn)((m & (nd_vni)a) | (~m & (nd_vni)b));
}
static inline nd_vn nd_vnload(const float* p) { return *(const nd_vn*)p; }
static inline void nd_vnstore(float* p, nd_vn v) { *(nd_vn*)p = v; }

#endif
