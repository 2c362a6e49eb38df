/* wavenet_extended.h: the extended (A2) path: a layer array using NAM's A2 extensions (grouped
   convs, bottleneck != channels, head1x1, FiLM, per-channel / ranged activations). Used only
   for arrays that have one of them, so every other model runs nd_array_chunk unchanged.
   Grouped convs are nd_conv_rows calls per group on the compact (out, in / groups, K) weights;
   elementwise steps run over whole padded tiles, so the output stays bit-identical for any
   block partition. Full width only. See nam_dsp.spec.Layer for the order of operations.

   Entry points:
     nd_gconv_k, nd_film_k, nd_xlayer, nd_xarray, nd_xscratch   weights and scratch
     nd_array_chunk_extended(a, xa, stream, stream_stride, head_in, cond, n, need_residual, s)
*/
#ifndef ND_WAVENET_EXTENDED_H
#define ND_WAVENET_EXTENDED_H

#include "common.h"
#include "activations.h"
#include "conv.h"
#include "wavenet.h"


/* out = g(src) (+ bias): each group of outputs reads only its own group of input rows. */
static inline void nd_gconv(float* out, nd_index out_stride, const nd_gconv_k* g, nd_index n_pad,
                            int dil, const float* src, nd_index src_stride) {
    int gi;
    const int opg = g->n_out / g->groups;
    const int ipg = g->n_in / g->groups;
    for (gi = 0; gi < g->groups; gi++)
        nd_conv_rows(out + gi * opg * out_stride, out_stride, opg, n_pad,
                     g->w + gi * opg * ipg * g->k_taps, ipg * g->k_taps, ipg, g->k_taps, dil,
                     src + gi * ipg * src_stride, src_stride,
                     g->b != NULL ? g->b + gi * opg : NULL, NULL, NULL, NULL, 0);
}

/* dst = src * scale + shift, [scale; shift] = F.conv(cond); dst may be src. */
static inline void nd_film_apply(const nd_film_k* F, float* dst, nd_index dst_stride,
                                 const float* src, nd_index src_stride, const float* cond,
                                 nd_index n_pad, float* scratch) {
    nd_index f;
    int r;
    float* d;
    const float* s;
    const float* sc;
    const float* sh;
    nd_gconv(scratch, ND_WIDE, &F->conv, n_pad, 1, cond, ND_WIDE);
    for (r = 0; r < F->rows; r++) {
        d = dst + r * dst_stride;
        s = src + r * src_stride;
        sc = scratch + r * ND_WIDE;
        if (F->shift) {
            sh = scratch + (F->rows + r) * ND_WIDE;
            for (f = 0; f < n_pad; f++) d[f] = (s[f] * sc[f]) + sh[f];
        } else {
            for (f = 0; f < n_pad; f++) d[f] = s[f] * sc[f];
        }
    }
}

static inline void nd_copy_rows(float* dst, nd_index dst_stride, const float* src,
                                nd_index src_stride, int rows, nd_index n_pad) {
    int r;
    for (r = 0; r < rows; r++) memcpy(dst + r * dst_stride, src + r * src_stride, n_pad * sizeof(float));
}

/* nd_array_chunk for a layer array with A2 extensions. cond: the layers' condition signal,
   rows ND_WIDE apart. */
static void nd_array_chunk_extended(nd_array* a, nd_xarray* xa, const float* stream,
                                    nd_index stream_stride, const float* head_in, const float* cond,
                                    nd_index n, int need_residual, nd_xscratch* s) {
    const int c = a->channels;
    const int b = xa->bottleneck;
    const nd_index n_pad = nd_round_up(n, ND_TILE);
    const nd_index wide = ND_WIDE;
    int j, r, gb, last;
    nd_index f;
    nd_layer* L;
    nd_xlayer* X;
    nd_ring* h;
    float* cur = s->cur;
    float* nxt = s->nxt;
    float* tmp;
    float* dst;
    float* accp;
    const float* src;
    const float* head_src;
    float gt;

    for (j = 0; j < a->n_layers; j++) nd_ring_make_room(&a->layers[j].hist, c, n_pad);
    nd_ring_make_room(&a->acc, xa->acc_rows, n_pad);

    /* Rechannel (1x1, no bias) into the residual stream. */
    nd_conv_rows(cur, wide, c, n_pad, a->rechannel, a->in_size, a->in_size, 1, 1, stream,
                 stream_stride, NULL, NULL, NULL, NULL, 0);
    nd_acc_start(&a->acc, xa->acc_rows, head_in, n_pad);

    for (j = 0; j < a->n_layers; j++) {
        L = &a->layers[j];
        X = &xa->layers[j];
        h = &L->hist;
        last = j == a->n_layers - 1;
        gb = X->conv.n_out;
        /* The dilated conv's history holds its (optionally FiLM-modulated) input. */
        if (X->has_film[ND_FILM_CONV_PRE])
            nd_film_apply(&X->film[ND_FILM_CONV_PRE], h->data + h->pos, h->stride, cur, wide, cond,
                          n_pad, s->film);
        else
            nd_copy_rows(h->data + h->pos, h->stride, cur, wide, c, n_pad);
        nd_gconv(s->z, wide, &X->conv, n_pad, L->dil, h->data + h->pos, h->stride);
        if (X->has_film[ND_FILM_CONV_POST])
            nd_film_apply(&X->film[ND_FILM_CONV_POST], s->z, wide, s->z, wide, cond, n_pad, s->film);
        /* Input mixin of the (optionally modulated) condition. */
        src = cond;
        if (X->has_film[ND_FILM_MIXIN_PRE]) {
            nd_film_apply(&X->film[ND_FILM_MIXIN_PRE], s->condf, wide, cond, wide, cond, n_pad, s->film);
            src = s->condf;
        }
        nd_gconv(s->mix, wide, &X->mixin, n_pad, 1, src, wide);
        if (X->has_film[ND_FILM_MIXIN_POST])
            nd_film_apply(&X->film[ND_FILM_MIXIN_POST], s->mix, wide, s->mix, wide, cond, n_pad, s->film);
        for (r = 0; r < gb; r++)
            for (f = 0; f < n_pad; f++) s->z[r * wide + f] = s->z[r * wide + f] + s->mix[r * wide + f];
        if (X->has_film[ND_FILM_ACT_PRE])
            nd_film_apply(&X->film[ND_FILM_ACT_PRE], s->z, wide, s->z, wide, cond, n_pad, s->film);
        /* Activation (gated / blended: main rows [0, B), gate rows [B, 2B)) into s->act rows [0, B). */
        nd_copy_rows(s->act, wide, s->z, wide, gb, n_pad);
        nd_act_rows(&X->act, s->act, s->z, b, n_pad);
        if (L->gating != ND_GATE_NONE) {
            nd_act_rows(&X->gate, s->act + b * wide, s->z + b * wide, b, n_pad);
            for (r = 0; r < b; r++) {
                if (L->gating == ND_GATE_GATED) {
                    for (f = 0; f < n_pad; f++)
                        s->act[r * wide + f] = s->act[r * wide + f] * s->act[(b + r) * wide + f];
                } else {
                    for (f = 0; f < n_pad; f++) {
                        gt = s->act[(b + r) * wide + f];
                        s->act[r * wide + f] = (gt * s->act[r * wide + f])
                                               + (((float)1.0 - gt) * s->z[r * wide + f]);
                    }
                }
            }
        }
        if (X->has_film[ND_FILM_ACT_POST])
            nd_film_apply(&X->film[ND_FILM_ACT_POST], s->act, wide, s->act, wide, cond, n_pad, s->film);
        /* Head accumulator: head1x1 (optionally modulated) of the activation, or the activation. */
        head_src = s->act;
        if (X->h1.n_out > 0) {
            nd_gconv(s->h1, wide, &X->h1, n_pad, 1, s->act, wide);
            if (X->has_film[ND_FILM_H1_POST])
                nd_film_apply(&X->film[ND_FILM_H1_POST], s->h1, wide, s->h1, wide, cond, n_pad, s->film);
            head_src = s->h1;
        }
        for (r = 0; r < xa->acc_rows; r++) {
            accp = a->acc.data + r * a->acc.stride + a->acc.pos;
            for (f = 0; f < n_pad; f++) accp[f] = accp[f] + head_src[r * wide + f];
        }
        /* Residual: next = input + layer1x1 (modulated in blended layers only, as NAM Core does). */
        if (last && !need_residual) continue;
        dst = last ? a->residual : nxt;
        if (X->l1.n_out > 0) {
            nd_gconv(s->l1, wide, &X->l1, n_pad, 1, s->act, wide);
            if (X->has_film[ND_FILM_L1_POST] && L->gating == ND_GATE_BLENDED)
                nd_film_apply(&X->film[ND_FILM_L1_POST], s->l1, wide, s->l1, wide, cond, n_pad, s->film);
            for (r = 0; r < c; r++)
                for (f = 0; f < n_pad; f++) dst[r * wide + f] = cur[r * wide + f] + s->l1[r * wide + f];
        } else {
            nd_copy_rows(dst, wide, cur, wide, c, n_pad);
        }
        if (!last) {
            tmp = cur;
            cur = nxt;
            nxt = tmp;
        }
    }

    /* Head conv over the accumulator (dilation 1, head_k taps). */
    nd_conv_rows(a->head_out, wide, a->head_size, n_pad, a->head_w, xa->acc_rows * a->head_k,
                 xa->acc_rows, a->head_k, 1, a->acc.data + a->acc.pos, a->acc.stride, a->head_b,
                 NULL, NULL, NULL, 0);

    for (j = 0; j < a->n_layers; j++) a->layers[j].hist.pos += n;
    a->acc.pos += n;
}

#endif
