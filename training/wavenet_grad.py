"""A WaveNet with a hand-written backward pass: the trainer's model.

The forward is the engine's equations (see :mod:`nam_dsp.spec` and :mod:`nam_dsp.reference`) run
on a batch of segments in *valid* mode: a segment of ``receptive_field - 1 + N`` input samples gives
``N`` output samples, each of which sees only real input. That is how NAM's trainer cuts examples,
and it is also exactly what the streaming engine outputs after its prewarm: running the valid
forward on ``receptive_field - 1`` zeros followed by ``x`` reproduces ``engine.process(x)``.

Layout: activations are ``(B, C, T)`` arrays. A dilated conv is one batched matmul per tap,
``W[:, :, k] @ h[:, :, k*d : k*d + T_out]``, on strided views (no im2col copy); NumPy hands each
batch item to BLAS as a GEMM with a leading dimension of ``T``. The backward mirrors it: the weight
gradient of tap ``k`` is ``sum_b dz_b @ h_b[:, window]^T`` and the input gradient is ``W_k^T @ dz``
added into the shifted window.

Parameters live in one flat vector ``theta`` in NAM's file order (``spec.parameters()`` then
``head_scale``), so ``theta`` is exactly the ``weights`` list of the ``.nam`` file. At a width
``w`` < full width (slimmable models) the first ``w`` channels are sliced out, as NAM's
``slice_channels_uniform`` does; the gradient of every unused weight is exactly zero.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from nam_dsp import reference
from nam_dsp.errors import ConfigError, WidthError
from nam_dsp.spec import WaveNetSpec

__all__ = ["GradNet", "act_forward", "act_backward"]


# ---------------------------------------------------------------------------------------------
# Activations and their derivatives (dA/dZ), elementwise.
# ---------------------------------------------------------------------------------------------

#: The activation itself is the engine's oracle: one definition of what each name computes.
#: It keeps the dtype of ``z`` (a Python-float parameter does not promote float32).
act_forward = reference.activation


def act_backward(name: str, param: float, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """dA/dZ given the pre-activation ``z`` and the activation ``a``."""
    one = z.dtype.type(1)
    if name in ("Tanh", "Fasttanh"):
        return one - a * a
    if name == "ReLU":
        return (z > 0).astype(z.dtype)
    if name == "LeakyReLU":
        return np.where(z >= 0, one, z.dtype.type(param))
    if name == "Sigmoid":
        return a * (one - a)
    if name == "Hardtanh":
        return ((z >= -1) & (z <= 1)).astype(z.dtype)
    if name in ("LeakyHardtanh", "LeakyHardTanh"):
        return np.where((z > 1) | (z < -1), z.dtype.type(param), one)
    if name == "Softsign":
        return one / (one + np.abs(z)) ** 2
    if name in ("SiLU", "Swish"):
        s = one / (one + np.exp(-z))
        return s * (one + z * (one - s))
    if name == "Hardswish":
        return np.where(z < -3, 0, np.where(z > 3, one, (2 * z + 3) / 6)).astype(z.dtype)
    if name == "Identity":
        return np.ones_like(z)
    raise ConfigError(f"activation {name!r} has no derivative here: it cannot be trained")


# ---------------------------------------------------------------------------------------------
# Parameter layout
# ---------------------------------------------------------------------------------------------

def _layout(spec: WaveNetSpec):
    """``[(array_index, layer_index or None, name, shape)]`` in NAM's flat weight order."""
    out = []
    for ai, arr in enumerate(spec.arrays):
        out.append((ai, None, "rechannel", arr.rechannel_weight.shape))
        for li, layer in enumerate(arr.layers):
            out.append((ai, li, "conv_w", layer.conv_weight.shape))
            out.append((ai, li, "conv_b", layer.conv_bias.shape))
            out.append((ai, li, "mixin", layer.mixin_weight.shape))
            if layer.layer1x1_weight is not None:
                out.append((ai, li, "l1x1_w", layer.layer1x1_weight.shape))
                out.append((ai, li, "l1x1_b", layer.layer1x1_bias.shape))
        out.append((ai, None, "head_w", arr.head_weight.shape))
        if arr.head_bias is not None:
            out.append((ai, None, "head_b", arr.head_bias.shape))
    out.append((None, None, "head_scale", ()))
    return out


def _group_name(ai, li, name) -> str:
    if ai is None:
        return name
    return f"a{ai}.{name}" if li is None else f"a{ai}.l{li}.{name}"


class GradNet:
    """A WaveNet spec turned into a flat parameter vector with forward and backward passes.

    Parameters
    ----------
    spec : WaveNetSpec
        Architecture and initial weights (copied into ``theta``).
    dtype : numpy dtype
        ``float64`` for gradient checks and the engine-agreement test, ``float32`` for training
        speed (the engine itself runs in float32).
    """

    def __init__(self, spec: WaveNetSpec, dtype=np.float64):
        if not isinstance(spec, WaveNetSpec):
            raise TypeError(f"GradNet trains WaveNets, got {type(spec).__name__}")
        for arr in spec.arrays:
            if arr.bottleneck != arr.channels:
                raise ConfigError("a bottleneck different from channels is not supported for training")
            if arr.is_extended:
                raise ConfigError("NAM's A2 extensions (FiLM, grouped convs, head1x1, PReLU, ranged "
                                 "LeakyHardtanh) are not supported for training")
        self.spec = spec
        self.dtype = np.dtype(dtype)
        self.layout = _layout(spec)
        self.sizes = [int(np.prod(s)) for *_, s in self.layout]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self.size = int(self.offsets[-1])
        self.names = [_group_name(ai, li, n) for ai, li, n, _ in self.layout]
        flat = [np.asarray(p, dtype=np.float64).ravel() for p in spec.parameters()]
        flat.append(np.array([spec.head_scale], dtype=np.float64))
        self.theta = np.concatenate(flat).astype(self.dtype)
        assert self.theta.size == self.size
        self.receptive_field = spec.receptive_field
        self.allowed_widths = spec.allowed_widths
        self.full_width = spec.full_width

    # -- parameter views ------------------------------------------------------------------------
    def unflatten(self, vec: np.ndarray) -> dict:
        """Views of ``vec`` keyed by ``(array, layer, name)``."""
        out = {}
        for (ai, li, name, shape), a, b in zip(self.layout, self.offsets[:-1], self.offsets[1:]):
            out[(ai, li, name)] = vec[a:b].reshape(shape)
        return out

    def group_slices(self) -> dict:
        """``{group name: slice of theta}`` (for gradient checks and reports)."""
        return {n: slice(int(a), int(b)) for n, a, b in zip(self.names, self.offsets[:-1], self.offsets[1:])}

    def trainable_mask(self) -> np.ndarray:
        """True for every weight the trainer updates: all but ``head_scale`` (a constant in NAM)."""
        mask = np.ones(self.size, dtype=bool)
        mask[-1] = False
        return mask

    def width_mask(self, width: Optional[int]) -> np.ndarray:
        """True for the weights used at ``width``."""
        g = np.zeros(self.size, dtype=self.dtype)
        view = self.unflatten(g)
        for key, idx in self._slices(width).items():
            view[key][idx] = 1
        return g.astype(bool)

    def increment_mask(self, width: Optional[int], narrower: Optional[int]) -> np.ndarray:
        """True for the weights ``width`` uses and ``narrower`` does not (all of ``width``'s when
        ``narrower`` is None): what a boosting step at ``width`` trains."""
        mask = self.width_mask(width)
        return mask if narrower is None else mask & ~self.width_mask(narrower)

    def make_channel_causal(self, theta: np.ndarray) -> None:
        """Zero, in place, every weight by which a channel reads a wider channel of the layer before
        (``W[:w, w:]`` at each allowed width w of the dilated and 1x1 convolutions): every width's
        output is then, at initialisation, the same as those channels of the full width."""
        if len(self.spec.arrays) != 1 or not self.spec.slimmable:
            raise WidthError("only single-array slimmable WaveNets have channel-causal weights")
        view = self.unflatten(theta)
        arr = self.spec.arrays[0]
        c = arr.channels
        for w in self.spec.allowed_widths:
            for li, layer in enumerate(arr.layers):
                rows = np.arange(w) if layer.gating == "none" else np.concatenate([np.arange(w), c + np.arange(w)])
                view[(0, li, "conv_w")][rows, w:] = 0
                if layer.layer1x1_weight is not None:
                    view[(0, li, "l1x1_w")][:w, w:] = 0

    def _slices(self, width: Optional[int]) -> dict:
        """Index tuples selecting the weights used at ``width`` (``slice(None)`` for all)."""
        spec = self.spec
        out = {}
        for ai, li, name, shape in self.layout:
            out[(ai, li, name)] = (Ellipsis,)
        if width is None or width == self.full_width:
            return out
        if len(spec.arrays) != 1:
            raise WidthError("only single-array WaveNets can be sliced to a width")
        spec.check_width(width)
        w = int(width)
        arr = spec.arrays[0]
        c = arr.channels
        out[(0, None, "rechannel")] = (slice(0, w),)
        for li, layer in enumerate(arr.layers):
            rows = np.arange(w) if layer.gating == "none" else np.concatenate([np.arange(w), c + np.arange(w)])
            out[(0, li, "conv_w")] = (rows[:, None], np.arange(w)[None, :])
            out[(0, li, "conv_b")] = (rows,)
            out[(0, li, "mixin")] = (rows,)
            if layer.layer1x1_weight is not None:
                out[(0, li, "l1x1_w")] = (slice(0, w), slice(0, w))
                out[(0, li, "l1x1_b")] = (slice(0, w),)
        out[(0, None, "head_w")] = (slice(None), slice(0, w))
        return out

    def weights(self, width: Optional[int] = None, theta: Optional[np.ndarray] = None) -> dict:
        """The (sliced) weight arrays used at ``width``, as contiguous arrays of ``self.dtype``."""
        theta = self.theta if theta is None else theta
        view = self.unflatten(theta)
        return {key: np.ascontiguousarray(view[key][idx], dtype=self.dtype)
                for key, idx in self._slices(width).items()}

    def _scatter(self, grads: dict, width: Optional[int]) -> np.ndarray:
        g = np.zeros(self.size, dtype=self.dtype)
        view = self.unflatten(g)
        for key, idx in self._slices(width).items():
            view[key][idx] = grads[key]
        return g

    # -- forward / backward ---------------------------------------------------------------------
    def forward(self, x: np.ndarray, width: Optional[int] = None, theta: Optional[np.ndarray] = None,
                keep: bool = True):
        """Valid-mode forward of a batch of segments.

        Parameters
        ----------
        x : array (B, T) or (T,)
            Input segments; ``T >= receptive_field``.
        width : int, optional
            Slimmable width to run at (default: full width).
        keep : bool
            Keep what the backward pass needs.

        Returns
        -------
        y : array (B, T - receptive_field + 1) (or 1-D for 1-D ``x``)
        cache : object for :meth:`backward` (None when ``keep`` is false)
        """
        squeeze = np.ndim(x) == 1
        x = np.atleast_2d(np.asarray(x, dtype=self.dtype))
        if x.shape[1] < self.receptive_field:
            raise ConfigError(f"segments of {x.shape[1]} samples are shorter than the receptive field "
                              f"({self.receptive_field})", ("segment",))
        W = self.weights(width, theta)
        spec = self.spec
        cond = x[:, None, :]  # (B, 1, T)
        stream = cond
        head_in = None
        tape = []
        for ai, arr in enumerate(spec.arrays):
            rech = W[(ai, None, "rechannel")]
            h = np.matmul(rech, stream)  # (B, C, T)
            arr_tape = {"stream": stream if keep else None, "layers": []}
            c = rech.shape[0]
            # Only the last T_final samples of the skip sum reach the head: accumulate just those.
            T_final = h.shape[2] - sum(layer.lookback for layer in arr.layers)
            if head_in is None:
                acc = np.zeros((h.shape[0], c, T_final), dtype=self.dtype)
            else:
                acc = np.array(head_in[:, :, head_in.shape[2] - T_final:], dtype=self.dtype)
            for li, layer in enumerate(arr.layers):
                d, K = layer.dilation, layer.kernel_size
                L = (K - 1) * d
                T_in = h.shape[2]
                T_out = T_in - L
                taps = np.ascontiguousarray(W[(ai, li, "conv_w")].transpose(2, 0, 1))  # (K, GC, C)
                z = np.matmul(taps[0], h[:, :, 0:T_out])
                tmp = np.empty_like(z) if K > 1 else None
                for k in range(1, K):
                    np.matmul(taps[k], h[:, :, k * d:k * d + T_out], out=tmp)
                    z += tmp
                cnd = cond[:, :, cond.shape[2] - T_out:]
                z += W[(ai, li, "conv_b")][None, :, None]
                if tmp is None:
                    tmp = np.empty_like(z)
                np.multiply(W[(ai, li, "mixin")][None, :, :], cnd, out=tmp)  # (GC,1) * (B,1,T)
                z += tmp
                del tmp
                act = layer.activation
                if layer.gating == "none":
                    a = act_forward(act.name, act.param, z)
                    main = gate = None
                else:
                    main = act_forward(act.name, act.param, z[:, :c])
                    gate = act_forward(layer.gate_activation.name, layer.gate_activation.param, z[:, c:])
                    if layer.gating == "gated":
                        a = main * gate
                    else:
                        a = gate * main + (1 - gate) * z[:, :c]
                if layer.layer1x1_weight is not None:
                    h_new = np.matmul(W[(ai, li, "l1x1_w")], a)
                    h_new += h[:, :, L:]
                    h_new += W[(ai, li, "l1x1_b")][None, :, None]
                else:
                    h_new = h[:, :, L:]
                acc += a[:, :, T_out - T_final:]
                if keep:
                    arr_tape["layers"].append({"h": h, "z": z, "a": a, "main": main, "gate": gate,
                                               "cond": cnd, "L": L, "T_out": T_out})
                h = h_new
            hw = W[(ai, None, "head_w")]
            Kh = hw.shape[2]
            T_head = acc.shape[2] - (Kh - 1)
            head = np.matmul(hw[:, :, 0], acc[:, :, 0:T_head])
            for k in range(1, Kh):
                head += np.matmul(hw[:, :, k], acc[:, :, k:k + T_head])
            if arr.head_bias is not None:
                head += W[(ai, None, "head_b")][None, :, None]
            if keep:
                arr_tape["acc"] = acc
                arr_tape["had_head_in"] = head_in is not None
                tape.append(arr_tape)
            stream = h[:, :, h.shape[2] - T_head:]
            head_in = head
        hs = W[(None, None, "head_scale")]
        y = hs * head_in[:, 0, :]
        if keep:
            cache = {"tape": tape, "head_out": head_in[:, 0, :], "width": width, "W": W}
        else:
            cache = None
        return (y[0] if squeeze else y), cache

    def backward(self, cache, dy: np.ndarray) -> np.ndarray:
        """Gradient of ``sum(dy * y)`` with respect to ``theta`` (zeros for unused weights)."""
        W = cache["W"]
        spec = self.spec
        dy = np.atleast_2d(np.asarray(dy, dtype=self.dtype))
        G = {}
        G[(None, None, "head_scale")] = np.asarray(np.sum(dy * cache["head_out"]), dtype=self.dtype)
        d_head = (W[(None, None, "head_scale")] * dy)[:, None, :]  # (B, 1, T)
        d_stream = None
        for ai in range(len(spec.arrays) - 1, -1, -1):
            arr = spec.arrays[ai]
            tape = cache["tape"][ai]
            acc = tape["acc"]
            hw = W[(ai, None, "head_w")]
            Kh = hw.shape[2]
            T_head = d_head.shape[2]
            if arr.head_bias is not None:
                G[(ai, None, "head_b")] = d_head.sum(axis=(0, 2))
            d_acc = np.zeros_like(acc)
            ghw = np.empty_like(hw)
            for k in range(Kh):
                win = acc[:, :, k:k + T_head]
                ghw[:, :, k] = np.matmul(d_head, win.transpose(0, 2, 1)).sum(axis=0)
                d_acc[:, :, k:k + T_head] += np.matmul(hw[:, :, k].T, d_head)
            G[(ai, None, "head_w")] = ghw
            # Gradient flowing into the stream h at the array's output (cropped to T_head).
            T_acc = acc.shape[2]
            d_h = np.zeros((d_acc.shape[0], W[(ai, None, "rechannel")].shape[0], T_acc), dtype=self.dtype)
            if d_stream is not None:
                d_h[:, :, T_acc - d_stream.shape[2]:] += d_stream
            c = d_h.shape[1]
            for li in range(len(arr.layers) - 1, -1, -1):
                layer = arr.layers[li]
                rec = tape["layers"][li]
                h, z, a, L, T_out = rec["h"], rec["z"], rec["a"], rec["L"], rec["T_out"]
                d, K = layer.dilation, layer.kernel_size
                # acc_final = sum of every layer's a (tails): d_acc lands on a's last T_acc samples.
                T_acc = d_acc.shape[2]
                if layer.layer1x1_weight is not None:
                    w1 = W[(ai, li, "l1x1_w")]
                    G[(ai, li, "l1x1_w")] = np.matmul(d_h, a.transpose(0, 2, 1)).sum(axis=0)
                    G[(ai, li, "l1x1_b")] = d_h.sum(axis=(0, 2))
                    da = np.matmul(np.ascontiguousarray(w1.T), d_h)
                    da[:, :, T_out - T_acc:] += d_acc
                else:
                    da = np.zeros_like(a)
                    da[:, :, T_out - T_acc:] = d_acc
                act = layer.activation
                if layer.gating == "none":
                    if act.name in ("Tanh", "Fasttanh"):
                        dz = np.multiply(a, a)
                        np.subtract(1, dz, out=dz)
                        dz *= da
                    else:
                        dz = da * act_backward(act.name, act.param, z, a)
                    del da
                else:
                    main, gate = rec["main"], rec["gate"]
                    ga = layer.gate_activation
                    z1, z2 = z[:, :c], z[:, c:]
                    dz = np.empty_like(z)
                    if layer.gating == "gated":
                        dz[:, :c] = da * gate * act_backward(act.name, act.param, z1, main)
                        dz[:, c:] = da * main * act_backward(ga.name, ga.param, z2, gate)
                    else:
                        dz[:, :c] = da * (gate * act_backward(act.name, act.param, z1, main) + (1 - gate))
                        dz[:, c:] = da * (main - z1) * act_backward(ga.name, ga.param, z2, gate)
                G[(ai, li, "conv_b")] = dz.sum(axis=(0, 2))
                G[(ai, li, "mixin")] = np.matmul(dz, rec["cond"].transpose(0, 2, 1)).sum(axis=0)
                cw = W[(ai, li, "conv_w")]
                taps_t = np.ascontiguousarray(cw.transpose(2, 1, 0))  # (K, C, GC): W_k^T
                gcw = np.empty_like(cw)
                d_h_in = np.empty((h.shape[0], c, h.shape[2]), dtype=self.dtype)
                d_h_in[:, :, :L] = 0
                d_h_in[:, :, L:] = d_h  # residual
                tmp = np.empty((h.shape[0], c, T_out), dtype=self.dtype)
                for k in range(K):
                    win = h[:, :, k * d:k * d + T_out]
                    gcw[:, :, k] = np.matmul(dz, win.transpose(0, 2, 1)).sum(axis=0)
                    np.matmul(taps_t[k], dz, out=tmp)
                    d_h_in[:, :, k * d:k * d + T_out] += tmp
                del tmp
                G[(ai, li, "conv_w")] = gcw
                d_h = d_h_in
                # d_acc for the previous layer: the part of d_acc before this layer is zero, and
                # acc_old's tail gets d_acc unchanged; keep the short array (zeros are implicit).
            # head_in of the previous array seeded this array's acc.
            if tape["had_head_in"]:
                T0 = tape["layers"][0]["h"].shape[2]
                d_prev_head = np.zeros((d_acc.shape[0], d_acc.shape[1], T0), dtype=self.dtype)
                d_prev_head[:, :, T0 - d_acc.shape[2]:] = d_acc
            else:
                d_prev_head = None
            stream = tape["stream"]
            rech = W[(ai, None, "rechannel")]
            G[(ai, None, "rechannel")] = np.matmul(d_h, stream.transpose(0, 2, 1)).sum(axis=0)
            if ai > 0:
                d_stream = np.matmul(rech.T, d_h)
                d_head = d_prev_head
        return self._scatter(G, cache["width"])

    # -- conveniences ---------------------------------------------------------------------------
    def predict(self, x: np.ndarray, width: Optional[int] = None, theta: Optional[np.ndarray] = None,
                chunk: int = 65536) -> np.ndarray:
        """Whole-signal output from silence, as the engine gives after its prewarm.

        The signal is cut into chunks of ``chunk`` output samples, each with ``receptive_field - 1``
        samples of context, and the chunks run as one batch.
        """
        x = np.asarray(x, dtype=self.dtype).ravel()
        n = x.size
        if n == 0:
            return np.zeros(0, dtype=self.dtype)
        rf = self.receptive_field
        nchunks = -(-n // chunk)
        padded = np.concatenate([np.zeros(rf - 1, dtype=self.dtype), x,
                                 np.zeros(nchunks * chunk - n, dtype=self.dtype)])
        idx = np.arange(nchunks)[:, None] * chunk + np.arange(chunk + rf - 1)[None, :]
        y, _ = self.forward(padded[idx], width, theta, keep=False)
        return y.ravel()[:n]

    def to_spec(self, theta: Optional[np.ndarray] = None, metadata: Optional[dict] = None) -> WaveNetSpec:
        """A float32 spec holding ``theta`` (the full, slimmable model)."""
        theta = self.theta if theta is None else theta
        view = self.unflatten(np.asarray(theta, dtype=np.float64))
        f32 = lambda key: np.ascontiguousarray(view[key], dtype=np.float32)
        arrays = []
        for ai, arr in enumerate(self.spec.arrays):
            layers = []
            for li, layer in enumerate(arr.layers):
                has1 = layer.layer1x1_weight is not None
                layers.append(dataclasses.replace(
                    layer, conv_weight=f32((ai, li, "conv_w")), conv_bias=f32((ai, li, "conv_b")),
                    mixin_weight=f32((ai, li, "mixin")),
                    layer1x1_weight=f32((ai, li, "l1x1_w")) if has1 else None,
                    layer1x1_bias=f32((ai, li, "l1x1_b")) if has1 else None))
            arrays.append(dataclasses.replace(
                arr, rechannel_weight=f32((ai, None, "rechannel")), layers=layers,
                head_weight=f32((ai, None, "head_w")),
                head_bias=f32((ai, None, "head_b")) if arr.head_bias is not None else None))
        meta = dict(self.spec.metadata) if metadata is None else dict(metadata)
        head_scale = float(view[(None, None, "head_scale")])
        if np.float32(head_scale) == np.float32(self.spec.head_scale):
            head_scale = float(self.spec.head_scale)  # untrained: keep the config's exact value
        return dataclasses.replace(self.spec, arrays=arrays, head_scale=head_scale, metadata=meta)
