/* common.h: what every nam_dsp kernel header shares (plain C99 + GCC/Clang vector extensions;
   no Python headers, so a C test harness can include any of them).

   Entry points:
     nd_index                      signed size / index type (ptrdiff_t)
     ND_TILE, ND_CHUNK, ND_WIDE    frames per tile, longest chunk, row stride of chunk scratch
     ND_ACT_*, ND_GATE_*, ND_FILM_*  codes shared with nam_dsp.spec (keep in step)
     nd_clamp_posf, nd_minf, nd_maxf, nd_selectf   branch-free scalar helpers
     nd_vfloat, nd_vzero, nd_vload, nd_vstore      one tile (16 floats) as a vector value
     nd_round_up(n, m)
*/
#ifndef ND_COMMON_H
#define ND_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

typedef ptrdiff_t nd_index;

/* Frames per tile (the vectorised inner dimension) and the longest chunk run at once. */
#define ND_TILE 16
#define ND_CHUNK 512
#define ND_WIDE (ND_CHUNK + ND_TILE)   /* row stride of the per-chunk scratch signals */

/* Activation codes (nam_dsp.spec.ACTIVATION_CODES). */
#define ND_ACT_IDENTITY 0
#define ND_ACT_TANH 1
#define ND_ACT_RELU 2
#define ND_ACT_LEAKYRELU 3
#define ND_ACT_SIGMOID 4
#define ND_ACT_HARDTANH 5
#define ND_ACT_LEAKYHARDTANH 6
#define ND_ACT_SOFTSIGN 7
#define ND_ACT_SILU 8
#define ND_ACT_HARDSWISH 9
#define ND_ACT_PRELU 10      /* per-channel slopes: the extended (A2) path only (nd_act_rows) */

#define ND_GATE_NONE 0
#define ND_GATE_GATED 1
#define ND_GATE_BLENDED 2

/* FiLM sites, in nam_dsp.spec.FILM_KEYS order. */
#define ND_FILM_CONV_PRE 0
#define ND_FILM_CONV_POST 1
#define ND_FILM_MIXIN_PRE 2
#define ND_FILM_MIXIN_POST 3
#define ND_FILM_ACT_PRE 4
#define ND_FILM_ACT_POST 5
#define ND_FILM_L1_POST 6
#define ND_FILM_H1_POST 7
#define ND_N_FILM 8

#define ND_INLINE static inline __attribute__((always_inline))

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
static inline float nd_selectf(int c, float a, float b) { return c ? a : b; }

static inline nd_index nd_round_up(nd_index n, nd_index m) { return ((n + m - 1) / m) * m; }

/* One tile of 16 floats as a GCC/Clang vector type: the micro-kernels say exactly which values
   live in registers instead of hoping the auto-vectoriser finds it. On machines without 512-bit
   registers the compiler splits each operation into narrower ones. A scalar operand broadcasts. */
typedef float nd_vfloat __attribute__((vector_size(64), aligned(4), may_alias));
static inline nd_vfloat nd_vzero(void) { nd_vfloat z = {0}; return z; }
static inline nd_vfloat nd_vload(const float* p) { return *(const nd_vfloat*)p; }
static inline void nd_vstore(float* p, nd_vfloat v) { *(nd_vfloat*)p = v; }

#endif
