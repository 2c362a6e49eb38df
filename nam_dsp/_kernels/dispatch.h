/* dispatch.h: which instruction-set variants this build carries and which this CPU can run.
   Included by nam_dsp/_kernels.pyx (compiled with the base flags, so it imports on any CPU of
   the architecture); the variants themselves are variant_<isa>.c, each compiled with its own
   flags by setup.py.

   Entry points:
     ND_ARCH                 "x86-64", "aarch64" or "other"
     nd_n_variants()         how many variants this build carries, least to most capable
     nd_variant(i)           variant i's nd_kernel_table (its name: ->name)
     nd_cpu_runs(i)          whether this CPU (and OS) can run variant i
     nd_cpu_features()       this CPU's relevant features, space-separated (for error messages)
*/
#ifndef ND_DISPATCH_H
#define ND_DISPATCH_H

#include <string.h>
#include "types.h"

#define ND_HIDDEN __attribute__((visibility("hidden")))

#if defined(__x86_64__) || defined(_M_X64)
#define ND_ARCH "x86-64"
extern ND_HIDDEN const nd_kernel_table nd_kernels_baseline, nd_kernels_avx2, nd_kernels_avx512;
static const nd_kernel_table* const nd_variants[] = {&nd_kernels_baseline, &nd_kernels_avx2,
                                                     &nd_kernels_avx512};

static int nd_cpu_runs(int i) {
    __builtin_cpu_init();   /* the checks include the OS's support for the wider registers */
    switch (i) {
    case 0: return 1;
    case 1: return __builtin_cpu_supports("x86-64-v3") != 0;
    case 2: return __builtin_cpu_supports("x86-64-v4") != 0;
    default: return 0;
    }
}

static const char* nd_cpu_features(void) {
    static char buf[160];
    buf[0] = 0;
    __builtin_cpu_init();
#define ND_FEATURE(f) if (__builtin_cpu_supports(f)) { strcat(buf, buf[0] ? " " f : f); }
    ND_FEATURE("sse2") ND_FEATURE("sse4.2") ND_FEATURE("avx") ND_FEATURE("avx2") ND_FEATURE("fma")
    ND_FEATURE("bmi2") ND_FEATURE("avx512f") ND_FEATURE("avx512bw") ND_FEATURE("avx512dq")
    ND_FEATURE("avx512vl")
#undef ND_FEATURE
    return buf;
}

#elif defined(__aarch64__)
#define ND_ARCH "aarch64"
extern ND_HIDDEN const nd_kernel_table nd_kernels_baseline, nd_kernels_neon;
static const nd_kernel_table* const nd_variants[] = {&nd_kernels_baseline, &nd_kernels_neon};
/* Advanced SIMD is part of every armv8-a CPU. */
static int nd_cpu_runs(int i) { return i >= 0 && i < 2; }
static const char* nd_cpu_features(void) { return "asimd"; }

#else
#define ND_ARCH "other"
extern ND_HIDDEN const nd_kernel_table nd_kernels_baseline;
static const nd_kernel_table* const nd_variants[] = {&nd_kernels_baseline};
static int nd_cpu_runs(int i) { return i == 0; }
static const char* nd_cpu_features(void) { return ""; }
#endif

static int nd_n_variants(void) { return (int)(sizeof(nd_variants) / sizeof(nd_variants[0])); }
static const nd_kernel_table* nd_variant(int i) { return nd_variants[i]; }

#endif
