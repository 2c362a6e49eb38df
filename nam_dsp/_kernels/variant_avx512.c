/* The x86-64-v4 variant (AVX-512 F/BW/DQ/VL); setup.py compiles it with -march=x86-64-v4. */
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512DQ__) || !defined(__AVX512VL__)
#error "variant_avx512.c must be compiled with -march=x86-64-v4"
#endif
#define ND_VARIANT avx512
#include "variant.h"
