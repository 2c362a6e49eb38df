/* The baseline variant: the build's base instruction set (x86-64: SSE2; aarch64: armv8-a). */
#define ND_VARIANT baseline
#include "variant.h"
