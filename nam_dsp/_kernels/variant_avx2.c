/* The x86-64-v3 variant (AVX2 + FMA); setup.py compiles it with -march=x86-64-v3. */
#if !defined(__AVX2__) || !defined(__FMA__)
#error "variant_avx2.c must be compiled with -march=x86-64-v3"
#endif
#define ND_VARIANT avx2
#include "variant.h"
