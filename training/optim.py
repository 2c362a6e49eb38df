"""Optimisers for the autograd-free trainer: a small Adam and SciPy's L-BFGS-B.

Why Adam for the minibatch protocol
-----------------------------------
The slimmable protocol draws a fresh minibatch *and* a random width for every step, so each step
sees a different objective: the loss of a different subnetwork on different audio. L-BFGS builds
its curvature model from pairs ``(s_k, y_k) = (theta_{k+1} - theta_k, g_{k+1} - g_k)``; when the
two gradients come from different objectives ``y_k`` mixes curvature with sampling noise and the
change of subnetwork, the pairs are inconsistent (``s_k . y_k`` can even be negative) and the line
search, which assumes one deterministic function, fails or stalls. Adam only needs unbiased
gradient estimates and normalises each coordinate by a running RMS, which is what stochastic,
width-switching minibatches provide. NAM's own trainer uses Adam (lr 0.004, exponential decay
0.994 per epoch) for the same reason.

L-BFGS-B is still useful on a *fixed* objective: :func:`lbfgs_round` minimises the mean loss over
a fixed batch and a fixed set of widths with ``scipy.optimize.minimize(..., jac=True)``; the
trainer calls it on a new batch each round (a slowly refreshed sample), restarting the curvature
memory every round.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

__all__ = ["Adam", "clip_grad_norm", "lbfgs_round", "exponential_lr"]


def clip_grad_norm(g: np.ndarray, max_norm: Optional[float]) -> tuple:
    """``(clipped g, norm before clipping)``; no clipping when ``max_norm`` is None or <= 0."""
    norm = float(np.sqrt(np.dot(g, g)))
    if max_norm and norm > max_norm:
        return g * (max_norm / norm), norm
    return g, norm


def exponential_lr(lr0: float, gamma: float, epoch: float) -> float:
    """``lr0 * gamma ** epoch`` (PyTorch's ExponentialLR, stepped once per epoch)."""
    return float(lr0 * gamma ** epoch)


class Adam:
    """Adam (Kingma & Ba) on a flat float64 parameter vector, PyTorch's defaults and update.

    Parameters
    ----------
    size : int
    betas : (float, float)
    eps : float
    weight_decay : float
        L2 penalty added to the gradient (PyTorch ``Adam(weight_decay=...)``), 0 by default.
    mask : bool array, optional
        Which parameters are updated (others are left unchanged, e.g. ``head_scale``).
    """

    def __init__(self, size: int, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 mask: Optional[np.ndarray] = None):
        self.m = np.zeros(size)
        self.v = np.zeros(size)
        self.t = 0
        self.betas = tuple(float(b) for b in betas)
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.mask = None if mask is None else np.asarray(mask, dtype=bool)

    def step(self, theta: np.ndarray, grad: np.ndarray, lr: float) -> np.ndarray:
        """Update ``theta`` in place and return it."""
        g = np.asarray(grad, dtype=np.float64)
        if self.mask is not None:
            g = np.where(self.mask, g, 0.0)
        if self.weight_decay:
            g = g + self.weight_decay * theta
        b1, b2 = self.betas
        self.t += 1
        self.m *= b1
        self.m += (1 - b1) * g
        self.v *= b2
        self.v += (1 - b2) * g * g
        mhat = self.m / (1 - b1 ** self.t)
        vhat = self.v / (1 - b2 ** self.t)
        upd = lr * mhat / (np.sqrt(vhat) + self.eps)
        if self.mask is not None:
            upd[~self.mask] = 0.0
        theta -= upd
        return theta

    def state_dict(self) -> dict:
        return {"adam_m": self.m.copy(), "adam_v": self.v.copy(), "adam_t": np.array(self.t)}

    def load_state_dict(self, d: dict) -> None:
        self.m = np.array(d["adam_m"], dtype=np.float64)
        self.v = np.array(d["adam_v"], dtype=np.float64)
        self.t = int(d["adam_t"])


def lbfgs_round(fun: Callable, theta: np.ndarray, mask: np.ndarray, maxiter: int = 20) -> tuple:
    """Minimise ``fun(theta) -> (value, grad)`` over the masked coordinates with L-BFGS-B.

    Returns ``(theta, result)``. The objective must be deterministic (fixed batch, fixed widths).
    """
    from scipy.optimize import minimize
    idx = np.flatnonzero(mask)
    base = theta.copy()

    def f(sub):
        th = base.copy()
        th[idx] = sub
        v, g = fun(th)
        return float(v), np.asarray(g, dtype=np.float64)[idx]

    res = minimize(f, theta[idx], jac=True, method="L-BFGS-B",
                   options={"maxiter": int(maxiter), "maxcor": 20})
    out = base.copy()
    out[idx] = res.x
    return out, res
