/* The aarch64 NEON variant (Advanced SIMD, 32 vector registers). */
#if !defined(__aarch64__) || !defined(__ARM_NEON)
#error "variant_neon.c is for aarch64"
#endif
#define ND_VARIANT neon
#include "variant.h"
