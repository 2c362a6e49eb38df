"""Losses with their gradients, written by hand: each returns ``(value, d value / d prediction)``.

All take ``pred`` and ``target`` of shape ``(B, N)`` (or ``(N,)``) and work in the arrays' dtype.

* :func:`mse` - mean squared error (NAM's main training loss).
* :func:`esr` - error-to-signal ratio, averaged over the batch as NAM does
  (``mean_b sum_t (p - y)^2 / sum_t y^2``); :func:`esr_value` is the one-number validation metric.
* :func:`pre_emphasis_mse` - MSE after the first-order high-pass ``y[t] - c * y[t-1]``.
* :func:`mrstft` - auraloss-style multi-resolution STFT loss: for each FFT size (1024, 2048, 512;
  hop = size / 4; periodic Hann window; frames without centre padding) the spectral convergence
  ``||S_t - S_p||_F / ||S_t||_F`` plus the log-magnitude L1 ``mean |log S_t - log S_p|``, averaged
  over the resolutions. Magnitudes are ``sqrt(max(|X|^2, eps))``. The gradient goes back through
  ``numpy.fft.rfft`` by its adjoint (a scaled ``irfft``) and the framing by overlap-add.
* :func:`nam_loss` - NAM's default: MSE + 2e-4 x MRSTFT.
"""

from __future__ import annotations

import numpy as np

from nam_dsp.errors import ConfigError

__all__ = ["mse", "esr", "esr_value", "pre_emphasis_mse", "mrstft", "nam_loss", "LOSSES", "make_loss"]


def _2d(a):
    return np.atleast_2d(np.asarray(a))


def mse(pred, target):
    p, t = _2d(pred), _2d(target)
    diff = p - t
    n = diff.size
    return float(np.sum(diff * diff) / n), (2.0 / n) * diff.reshape(np.shape(pred))


def esr(pred, target, eps: float = 1e-12):
    p, t = _2d(pred), _2d(target)
    diff = p - t
    denom = np.sum(t * t, axis=1, keepdims=True) + eps
    b = p.shape[0]
    value = float(np.mean(np.sum(diff * diff, axis=1, keepdims=True) / denom))
    grad = (2.0 / b) * diff / denom
    return value, grad.reshape(np.shape(pred))


def esr_value(pred, target) -> float:
    """``sum (p - y)^2 / sum y^2`` over the whole signal (NAM's validation ESR)."""
    p, t = np.asarray(pred, np.float64).ravel(), np.asarray(target, np.float64).ravel()
    return float(np.sum((p - t) ** 2) / max(np.sum(t * t), 1e-30))


def _pre_emph(a, coef):
    out = a.copy()
    out[:, 1:] -= coef * a[:, :-1]
    return out


def pre_emphasis_mse(pred, target, coef: float = 0.85):
    p, t = _2d(pred), _2d(target)
    e = _pre_emph(p - t, coef)  # the filter is linear: filter(p) - filter(t) = filter(p - t)
    n = e.size
    value = float(np.sum(e * e) / n)
    ge = (2.0 / n) * e
    g = ge.copy()  # adjoint of out[t] = e[t] - c e[t-1]
    g[:, :-1] -= coef * ge[:, 1:]
    return value, g.reshape(np.shape(pred))


MRSTFT_FFT_SIZES = (1024, 2048, 512)


def _hann(n, dtype):
    # periodic Hann, as torch.hann_window(n) (auraloss' default window)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)).astype(dtype)


def _frames(a, n_fft, hop):
    """``(B, F, n_fft)`` strided view of ``a`` (B, N): frame f starts at ``f * hop``."""
    view = np.lib.stride_tricks.sliding_window_view(a, n_fft, axis=1)
    return view[:, ::hop]


def _overlap_add(g_frames, n, n_fft, hop):
    """Adjoint of :func:`_frames`: sum each frame's gradient back onto the signal."""
    b, f, _ = g_frames.shape
    out = np.zeros((b, n), dtype=g_frames.dtype)
    for j in range(n_fft // hop):
        out[:, j * hop:j * hop + f * hop] += g_frames[:, :, j * hop:(j + 1) * hop].reshape(b, f * hop)
    return out


def _stft_loss(p, t, n_fft, hop, eps):
    n = p.shape[1]
    if n < n_fft:
        return 0.0, np.zeros_like(p)
    win = _hann(n_fft, p.dtype)
    fp = _frames(p, n_fft, hop) * win
    ft = _frames(t, n_fft, hop) * win
    sp = np.fft.rfft(fp, axis=-1)
    st = np.fft.rfft(ft, axis=-1)
    pw = sp.real ** 2 + sp.imag ** 2
    mp = np.sqrt(np.maximum(pw, eps))
    mt = np.sqrt(np.maximum(st.real ** 2 + st.imag ** 2, eps))
    # spectral convergence
    diff = mt - mp
    num = np.sqrt(np.sum(diff * diff))
    den = np.sqrt(np.sum(mt * mt))
    sc = num / den
    g_mp = -diff / (num * den) if num > 0 else np.zeros_like(mp)
    # log-magnitude L1 (mean)
    ld = np.log(mt) - np.log(mp)
    lm = np.mean(np.abs(ld))
    g_mp = g_mp - np.sign(ld) / (ld.size * mp)
    # |X| = sqrt(max(re^2 + im^2, eps)): d|X|/dX = X / |X| where re^2 + im^2 > eps, else 0
    g_s = np.where(pw > eps, g_mp / mp, 0.0) * sp  # dL/dRe + i dL/dIm
    # adjoint of rfft (real input): dL/df_n = Re sum_k G_k e^{+2 pi i k n / N}
    g_s[..., 1:n_fft // 2] *= 0.5
    g_f = np.fft.irfft(g_s, n=n_fft, axis=-1) * n_fft
    g_f *= win
    return float(sc + lm), _overlap_add(g_f.astype(p.dtype), n, n_fft, hop)


def mrstft(pred, target, fft_sizes=MRSTFT_FFT_SIZES, hop_fraction: float = 0.25, eps: float = 1e-8):
    p, t = _2d(pred), _2d(target)
    total, grad = 0.0, np.zeros_like(p)
    for n_fft in fft_sizes:
        v, g = _stft_loss(p, t, int(n_fft), int(n_fft * hop_fraction), eps)
        total += v
        grad += g
    k = len(fft_sizes)
    return total / k, (grad / k).reshape(np.shape(pred))


def nam_loss(pred, target, mrstft_weight: float = 2e-4):
    """NAM's default training loss: MSE + ``mrstft_weight`` x MRSTFT."""
    v1, g1 = mse(pred, target)
    if not mrstft_weight:
        return v1, g1
    v2, g2 = mrstft(pred, target)
    return v1 + mrstft_weight * v2, g1 + mrstft_weight * g2


LOSSES = {"mse": mse, "esr": esr, "pre-emph": pre_emphasis_mse, "mrstft": mrstft, "nam": nam_loss}


def make_loss(name: str = "nam", mrstft_weight: float = 2e-4, pre_emph_weight: float = 0.0,
              pre_emph_coef: float = 0.85):
    """A loss ``f(pred, target) -> (value, grad)`` by name, plus an optional pre-emphasis term."""
    if name not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; known: {', '.join(LOSSES)}", ("loss",))
    base = (lambda p, t: nam_loss(p, t, mrstft_weight)) if name == "nam" else LOSSES[name]
    if not pre_emph_weight:
        return base

    def loss(p, t):
        v, g = base(p, t)
        v2, g2 = pre_emphasis_mse(p, t, pre_emph_coef)
        return v + pre_emph_weight * v2, g + pre_emph_weight * g2
    return loss
