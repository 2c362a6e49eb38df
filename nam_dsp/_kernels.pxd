# The C side of nam_dsp._kernels as Cython sees it: the kernels' data structures and the table of
# one instruction-set variant's entry points (nam_dsp/_kernels/types.h), and the variant dispatch
# (nam_dsp/_kernels/dispatch.h).

cdef extern from "stdlib.h" nogil:
    int posix_memalign(void **memptr, size_t alignment, size_t size)

cdef extern from "_kernels/types.h" nogil:
    enum:
        TILE "ND_TILE"
        CHUNK "ND_CHUNK"
        ACT_PRELU "ND_ACT_PRELU"
        ACT_SILU "ND_ACT_SILU"
        N_FILM "ND_N_FILM"
    float nd_selectf(int c, float a, float b)
    Py_ssize_t round_up "nd_round_up"(Py_ssize_t n, Py_ssize_t m)
    ctypedef struct ActK "nd_act_k":
        int code
        float param, lo, hi, lo_slope, hi_slope
        const float* slopes
    ctypedef struct Ring "nd_ring":
        float* data
        Py_ssize_t stride, cap, pos, lookback
    void ring_fill_rows "nd_ring_fill_rows"(Ring* r, int row_from, int row_to, const float* values)
    ctypedef struct LayerK "nd_layer":
        int k_taps, dil, act, gate_act, gating
        float act_param, gate_param
        const float* w
        const float* b
        const float* m
        const float* u_w
        const float* u_b
        Ring hist
        float* silence
    ctypedef struct ArrayK "nd_array":
        int channels, in_size, head_size, head_k, n_layers
        LayerK* layers
        const float* rechannel
        const float* head_w
        const float* head_b
        Ring acc
        float* acc_silence
        float* residual
        float* head_out
    ctypedef struct GConv "nd_gconv_k":
        const float* w
        const float* b
        int n_out, n_in, groups, k_taps
    ctypedef struct FiLMK "nd_film_k":
        GConv conv
        int rows
        bint shift
    ctypedef struct XLayerK "nd_xlayer":
        GConv conv
        GConv mixin
        GConv l1
        GConv h1
        FiLMK film[N_FILM]
        bint has_film[N_FILM]
        ActK act
        ActK gate
    ctypedef struct XArrayK "nd_xarray":
        bint extended
        int bottleneck
        int acc_rows
        XLayerK* layers
    ctypedef struct XScratch "nd_xscratch":
        float* cur
        float* nxt
        float* z
        float* mix
        float* act
        float* film
        float* condf
        float* l1
        float* h1
    ctypedef struct KernelTable "nd_kernel_table":
        const char* name
        void (*array_chunk)(ArrayK* a, int width, const float* stream, Py_ssize_t stream_stride,
                            const float* head_in, const float* cond, int cond_rows, Py_ssize_t n,
                            bint need_residual, float* z, float* act, float* zmix) noexcept nogil
        void (*array_chunk_extended)(ArrayK* a, XArrayK* xa, const float* stream,
                                     Py_ssize_t stream_stride, const float* head_in,
                                     const float* cond, Py_ssize_t n, bint need_residual,
                                     XScratch* s) noexcept nogil
        long long (*linear_run)(const float* w, Py_ssize_t taps, float bias, float* hist,
                                Py_ssize_t cap, Py_ssize_t* pos, const float* x, float* y,
                                Py_ssize_t n) noexcept nogil
        void (*tanh)(float* v, Py_ssize_t n) noexcept nogil
        void (*tanh_narrow)(float* v, Py_ssize_t n) noexcept nogil
        void (*activation)(float* v, Py_ssize_t n, int code, float param) noexcept nogil
        void (*act_rows)(const ActK* A, float* v, const float* pre, int rows,
                         Py_ssize_t n_pad) noexcept nogil
        void (*silu)(float* v, const float* pre, Py_ssize_t n) noexcept nogil

cdef extern from "_kernels/dispatch.h" nogil:
    const char* ND_ARCH
    int nd_n_variants()
    const KernelTable* nd_variant(int i)
    int nd_cpu_runs(int i)
    const char* nd_cpu_features()
