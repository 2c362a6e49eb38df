/* wavenet.h: a WaveNet layer array over one chunk of frames (the standard path: NAM's A1
   layers, any width up to the array's channels).

   Layout. Every signal is channel-major: one row of frames per channel. Each layer keeps the
   history of its input in a ring (nd_ring) of 2 * lookback + ND_CHUNK + 2 * ND_TILE frames per
   row that is rewound (the last `lookback` frames copied to the front) when full, so every tap
   of a dilated conv reads one contiguous run of frames. Work is done in whole tiles; a chunk
   whose length is not a multiple of ND_TILE is padded (the padded frames are computed but never
   become history), so every frame is computed by the same instructions whatever the block
   partition.

   Entry points:
     nd_ring, nd_layer, nd_array          the state and weights (pointers the caller owns)
     nd_ring_make_room(r, rows, n)        rewind so n frames fit
     nd_array_chunk(a, width, stream, stream_stride, head_in, cond, cond_rows, n,
                    need_residual, z, act, zmix)
                                          run one layer array over n <= ND_CHUNK frames
*/
#ifndef ND_WAVENET_H
#define ND_WAVENET_H

#include "common.h"
#include "activations.h"
#include "conv.h"
#include "narrow.h"


/* Rewind so that n frames (plus a tile of padding) fit after pos; keeps `lookback` frames. */
static inline void nd_ring_make_room(nd_ring* r, int rows, nd_index n) {
    int i;
    if (r->pos + n + ND_TILE <= r->cap) return;
    for (i = 0; i < rows; i++)
        memmove(r->data + i * r->stride, r->data + i * r->stride + r->pos - r->lookback,
                r->lookback * sizeof(float));
    r->pos = r->lookback;
}

/* Start a chunk's head accumulator: the previous array's head output (rows ND_WIDE apart), or zero. */
static inline void nd_acc_start(nd_ring* acc, int rows, const float* head_in, nd_index n_pad) {
    int i;
    float* accp;
    for (i = 0; i < rows; i++) {
        accp = acc->data + i * acc->stride + acc->pos;
        if (head_in != NULL)
            memcpy(accp, head_in + i * ND_WIDE, n_pad * sizeof(float));
        else
            memset(accp, 0, n_pad * sizeof(float));
    }
}

/* One ungated layer at width c <= ND_NARROW_MAX: conv + bias + mixin into z, the activation in
   place, then head sum, 1x1 and residual in one pass (dst NULL: no residual needed). With tanh
   on an AVX-512 build, one pass does it all with the short-chain tanh in registers. */
static inline void nd_narrow_layer(nd_array* a, nd_layer* L, int c, const float* cond,
                                   nd_index n_pad, float* dst, nd_index dst_stride, float* z) {
    nd_ring* h = &L->hist;
    if (ND_TANH_AVX512 && L->act == ND_ACT_TANH) {
        nd_narrow_tanh_pass(c, n_pad, L->w, a->channels * L->k_taps, L->k_taps, L->dil,
                            h->data + h->pos, h->stride, L->b, L->m, cond, a->acc.data + a->acc.pos,
                            a->acc.stride, L->u_w, a->channels, L->u_b, dst, dst_stride);
        return;
    }
    nd_narrow_conv_pass(c, z, n_pad, n_pad, L->w, a->channels * L->k_taps, L->k_taps, L->dil,
                        h->data + h->pos, h->stride, L->b, L->m, cond);
    nd_activation_tile(z, c * n_pad, L->act, L->act_param);
    nd_narrow_post_pass(c, z, n_pad, n_pad, a->acc.data + a->acc.pos, a->acc.stride, L->u_w,
                        a->channels, L->u_b, h->data + h->pos, h->stride, dst, dst_stride);
}

/* Run one layer array over n frames (n <= ND_CHUNK), one pass per operation over the chunk.

   stream: input rows (in_size rows, `stream_stride` apart, frame 0 at index 0);
   head_in: previous array's head output (C rows, ND_WIDE apart) or NULL;
   cond: the input mixins' signal, cond_rows rows ND_WIDE apart (the raw input, or a
   condition model's output channels);
   z, act, zmix: scratch of 2*C rows x n_pad frames. */
static void nd_array_chunk(nd_array* a, int width, const float* stream, nd_index stream_stride,
                           const float* head_in, const float* cond, int cond_rows, nd_index n,
                           int need_residual, float* z, float* act, float* zmix) {
    const int c = width;
    const nd_index n_pad = nd_round_up(n, ND_TILE);
    const nd_index half = c * n_pad;
    nd_index f;
    int j, i, g, last;
    nd_layer* L;
    nd_ring* h;
    nd_ring* nxt;
    float* dst;
    nd_index dst_stride;
    float* accp;
    const float* arow;
    float gt;
    float* a_ptr;

    for (j = 0; j < a->n_layers; j++) nd_ring_make_room(&a->layers[j].hist, c, n_pad);
    nd_ring_make_room(&a->acc, c, n_pad);

    /* Rechannel (1x1, no bias) into layer 0's history. */
    h = &a->layers[0].hist;
    nd_conv_rows(h->data + h->pos, h->stride, c, n_pad, a->rechannel, a->in_size, a->in_size, 1, 1,
                 stream, stream_stride, NULL, NULL, NULL, NULL, 0);

    nd_acc_start(&a->acc, c, head_in, n_pad);

    for (j = 0; j < a->n_layers; j++) {
        L = &a->layers[j];
        h = &L->hist;
        g = L->gating == ND_GATE_NONE ? 1 : 2;
        last = j == a->n_layers - 1;
        /* Where the residual goes: the next layer's history, this array's output, or nowhere. */
        if (!last) {
            nxt = &a->layers[j + 1].hist;
            dst = nxt->data + nxt->pos;
            dst_stride = nxt->stride;
        } else {
            dst = need_residual ? a->residual : NULL;
            dst_stride = ND_WIDE;
        }
        if (c <= ND_NARROW_MAX && g == 1 && cond_rows == 1 && L->act != ND_ACT_SILU) {
            nd_narrow_layer(a, L, c, cond, n_pad, dst, dst_stride, z);
            continue;
        }
        /* z = dilated conv + bias + mixin; gate rows come from the second half of the weights. */
        if (cond_rows == 1) {
            nd_conv_rows(z, n_pad, c, n_pad, L->w, a->channels * L->k_taps, c, L->k_taps, L->dil,
                         h->data + h->pos, h->stride, L->b, L->m, cond, NULL, 0);
            if (g == 2)
                nd_conv_rows(z + half, n_pad, c, n_pad, L->w + a->channels * a->channels * L->k_taps,
                             a->channels * L->k_taps, c, L->k_taps, L->dil, h->data + h->pos,
                             h->stride, L->b + a->channels, L->m + a->channels, cond, NULL, 0);
        } else {
            /* A multi-channel condition: its mixin is a 1x1 conv of its own, added in. */
            nd_conv_rows(zmix, n_pad, c, n_pad, L->m, cond_rows, cond_rows, 1, 1, cond, ND_WIDE,
                         NULL, NULL, NULL, NULL, 0);
            nd_conv_rows(z, n_pad, c, n_pad, L->w, a->channels * L->k_taps, c, L->k_taps, L->dil,
                         h->data + h->pos, h->stride, L->b, NULL, NULL, zmix, n_pad);
            if (g == 2) {
                nd_conv_rows(zmix, n_pad, c, n_pad, L->m + a->channels * cond_rows, cond_rows,
                             cond_rows, 1, 1, cond, ND_WIDE, NULL, NULL, NULL, NULL, 0);
                nd_conv_rows(z + half, n_pad, c, n_pad, L->w + a->channels * a->channels * L->k_taps,
                             a->channels * L->k_taps, c, L->k_taps, L->dil, h->data + h->pos,
                             h->stride, L->b + a->channels, NULL, NULL, zmix, n_pad);
            }
        }
        if (g == 1 && L->act != ND_ACT_SILU) {
            /* z is not needed after the activation: apply it in place. */
            a_ptr = z;
            nd_activation_tile(a_ptr, half, L->act, L->act_param);
        } else {
            a_ptr = act;
            memcpy(act, z, g * half * sizeof(float));
            nd_activation_tile(act, half, L->act, L->act_param);
            if (L->act == ND_ACT_SILU) nd_silu_tile(act, z, half);
        }
        if (g == 2) {
            nd_activation_tile(act + half, half, L->gate_act, L->gate_param);
            if (L->gate_act == ND_ACT_SILU) nd_silu_tile(act + half, z + half, half);
            if (L->gating == ND_GATE_GATED) {
                for (f = 0; f < half; f++) act[f] = act[f] * act[half + f];
            } else {
                /* blended: gate * act(main) + (1 - gate) * main */
                for (f = 0; f < half; f++) {
                    gt = act[half + f];
                    act[f] = (gt * act[f]) + (((float)1.0 - gt) * z[f]);
                }
            }
        }
        /* Head accumulator. */
        for (i = 0; i < c; i++) {
            accp = a->acc.data + i * a->acc.stride + a->acc.pos;
            arow = a_ptr + i * n_pad;
            for (f = 0; f < n_pad; f++) accp[f] = accp[f] + arow[f];
        }
        /* Residual: next = h + (U a + u), or h when the layer 1x1 is inactive. */
        if (dst == NULL) continue;
        if (L->u_w != NULL) {
            nd_conv_rows(dst, dst_stride, c, n_pad, L->u_w, a->channels, c, 1, 1, a_ptr, n_pad,
                         L->u_b, NULL, NULL, h->data + h->pos, h->stride);
        } else {
            for (i = 0; i < c; i++)
                memcpy(dst + i * dst_stride, h->data + i * h->stride + h->pos, n_pad * sizeof(float));
        }
    }

    /* Head conv over the accumulator (dilation 1, head_k taps). */
    nd_conv_rows(a->head_out, ND_WIDE, a->head_size, n_pad, a->head_w, a->channels * a->head_k, c,
                 a->head_k, 1, a->acc.data + a->acc.pos, a->acc.stride, a->head_b, NULL, NULL, NULL, 0);

    for (j = 0; j < a->n_layers; j++) a->layers[j].hist.pos += n;
    a->acc.pos += n;
}

#endif
