/* types.h: the kernels' constants and data structures, shared by the C kernels and by
   nam_dsp/_kernels.pyx (which fills them). No arithmetic: plain C99, no Python headers.

   Entry points:
     nd_index                        signed size / index type (ptrdiff_t)
     ND_TILE, ND_CHUNK, ND_WIDE      frames per tile, longest chunk, row stride of chunk scratch
     ND_ACT_*, ND_GATE_*, ND_FILM_*  codes shared with nam_dsp.spec (keep in step)
     nd_act_k                        an activation with its parameters (the extended path's form)
     nd_ring, nd_layer, nd_array     a WaveNet layer array's state and weights (standard path)
     nd_gconv_k, nd_film_k, nd_xlayer, nd_xarray, nd_xscratch   what the extended (A2) path adds
     nd_kernel_table                 one instruction-set variant's entry points (see variant.h)
     nd_round_up, nd_selectf, nd_ring_fill_rows   small helpers the module shares with the kernels
*/
#ifndef ND_TYPES_H
#define ND_TYPES_H

#include <stddef.h>
#include <stdint.h>

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

typedef struct {
    int code;
    float param;
    float lo;              /* LeakyHardtanh: linear range [lo, hi], slopes below / above it */
    float hi;
    float lo_slope;
    float hi_slope;
    const float* slopes;   /* PReLU: one negative slope per row */
} nd_act_k;

typedef struct {
    /* History of a channel-major signal: rows x cap frames, rows `stride` floats apart. */
    float* data;
    nd_index stride;
    nd_index cap;
    nd_index pos;        /* next frame to write */
    nd_index lookback;   /* frames of history kept */
} nd_ring;

typedef struct {
    int k_taps;
    int dil;
    int act;
    int gate_act;
    int gating;
    float act_param;
    float gate_param;
    const float* w;       /* (G*C, C, K) full size */
    const float* b;       /* (G*C,) */
    const float* m;       /* (G*C, condition rows) */
    const float* u_w;     /* (C, C) or NULL */
    const float* u_b;     /* (C,) */
    nd_ring hist;         /* this layer's input history */
    float* silence;       /* (C,) the input's value on silence, per channel (after prewarm) */
} nd_layer;

typedef struct {
    int channels;
    int in_size;
    int head_size;
    int head_k;
    int n_layers;
    nd_layer* layers;
    const float* rechannel;   /* (C, in) */
    const float* head_w;      /* (head_size, acc rows, head_k) */
    const float* head_b;      /* (head_size,) or NULL */
    nd_ring acc;              /* head accumulator history (lookback head_k - 1) */
    float* acc_silence;
    float* residual;          /* (C, ND_WIDE): this array's residual output (next array's input) */
    float* head_out;          /* (head_size, ND_WIDE) */
} nd_array;

typedef struct {
    /* A grouped conv: w compact (n_out, n_in / groups, k_taps) row-major, b (n_out,) or NULL. */
    const float* w;
    const float* b;
    int n_out;             /* 0: inactive */
    int n_in;
    int groups;
    int k_taps;
} nd_gconv_k;

typedef struct {
    nd_gconv_k conv;       /* condition -> [scale; shift] (or scale only), with bias */
    int rows;              /* rows of the modulated signal */
    int shift;
} nd_film_k;

typedef struct {
    nd_gconv_k conv;       /* channels -> G*B, dilated (dilation in nd_layer) */
    nd_gconv_k mixin;      /* condition -> G*B, no bias */
    nd_gconv_k l1;         /* B -> channels (n_out 0: inactive) */
    nd_gconv_k h1;         /* B -> head1x1 outputs (n_out 0: inactive) */
    nd_film_k film[ND_N_FILM];
    int has_film[ND_N_FILM];
    nd_act_k act;
    nd_act_k gate;
} nd_xlayer;

typedef struct {
    int extended;          /* 0: the array runs nd_array_chunk */
    int bottleneck;
    int acc_rows;          /* head accumulator rows: head1x1 outputs, or the bottleneck */
    nd_xlayer* layers;
} nd_xarray;

typedef struct {
    /* rows x ND_WIDE each, rows = the largest signal of any extended array */
    float* cur;            /* the layer's input (residual stream) */
    float* nxt;            /* the next layer's input */
    float* z;
    float* mix;
    float* act;
    float* film;           /* FiLM scale / shift */
    float* condf;          /* FiLM-modulated condition */
    float* l1;
    float* h1;
} nd_xscratch;

static inline nd_index nd_round_up(nd_index n, nd_index m) { return ((n + m - 1) / m) * m; }
static inline float nd_selectf(int c, float a, float b) { return c ? a : b; }

/* Set the history window of rows [row_from, row_to) to a constant per row. */
static inline void nd_ring_fill_rows(nd_ring* r, int row_from, int row_to, const float* values) {
    int i;
    nd_index t;
    float* row;
    for (i = row_from; i < row_to; i++) {
        row = r->data + i * r->stride;
        for (t = r->pos - r->lookback; t < r->pos; t++) row[t] = values[i];
    }
}

/* One instruction-set variant of every per-block kernel (nam_dsp/_kernels/variant.h builds one
   per variant; nam_dsp/_kernels.pyx picks one at import). The test hooks are the variant's own
   tanh and activations, so tests check the arithmetic each variant runs. */
typedef struct {
    const char* name;
    void (*array_chunk)(nd_array* a, int width, const float* stream, nd_index stream_stride,
                        const float* head_in, const float* cond, int cond_rows, nd_index n,
                        int need_residual, float* z, float* act, float* zmix);
    void (*array_chunk_extended)(nd_array* a, nd_xarray* xa, const float* stream,
                                 nd_index stream_stride, const float* head_in, const float* cond,
                                 nd_index n, int need_residual, nd_xscratch* s);
    long long (*linear_run)(const float* w, nd_index taps, float bias, float* hist, nd_index cap,
                            nd_index* pos, const float* x, float* y, nd_index n);
    void (*tanh)(float* v, nd_index n);
    void (*tanh_narrow)(float* v, nd_index n);   /* NULL: narrow layers use tanh */
    void (*activation)(float* v, nd_index n, int code, float param);
    void (*act_rows)(const nd_act_k* A, float* v, const float* pre, int rows, nd_index n_pad);
    void (*silu)(float* v, const float* pre, nd_index n);
} nd_kernel_table;

#endif
