/* variant.h: one instruction-set variant of the kernels. Every arithmetic header, compiled
   with the variant's flags, exported as one nd_kernel_table named nd_kernels_<ND_VARIANT>.
   Included once by each variant_<isa>.c (which defines ND_VARIANT); every function here is
   static, so the variants' copies never clash and only the tables are visible to the module.

   Entry point:
     nd_kernels_<ND_VARIANT>   the variant's nd_kernel_table (see types.h)
*/
#ifndef ND_VARIANT
#error "define ND_VARIANT (baseline, avx2, avx512, neon) before including variant.h"
#endif

#include "common.h"
#include "activations.h"
#include "conv.h"
#include "narrow.h"
#include "wavenet.h"
#include "wavenet_extended.h"
#include "linear.h"

#define ND_CAT2(a, b) a##b
#define ND_CAT(a, b) ND_CAT2(a, b)
#define ND_STR2(a) #a
#define ND_STR(a) ND_STR2(a)

__attribute__((visibility("hidden"))) const nd_kernel_table ND_CAT(nd_kernels_, ND_VARIANT) = {
    ND_STR(ND_VARIANT),
    nd_array_chunk,
    nd_array_chunk_extended,
    nd_linear_run,
    nd_tanh_tile,
    ND_TANH_AVX512 ? nd_tanh_short_array : NULL,
    nd_activation_tile,
    nd_act_rows,
    nd_silu_tile,
};
