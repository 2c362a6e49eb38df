"""The LSTM kernel's memory layout: an LSTMSpec's numbers packed as ``_kernels/lstm.h`` reads them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spec import LSTMSpec

#: Doubles per vector in lstm.h (ND_LSTM_LANES): hidden units are padded to a multiple of it.
LANES = 4


@dataclass(frozen=True)
class PackedLSTM:
    """Contiguous float64 arrays; ``hp`` is the hidden size padded to a multiple of LANES.

    Per layer, ``w`` holds (inputs + hidden) columns, each 4 gate blocks (i, f, g, o) of ``hp``
    rows, layers one after the other; ``b`` is (layers, 4, hp), ``h0`` and ``c0`` (layers, hp),
    ``head_w`` (hp). Padded rows, units and head weights are zero.
    """
    hidden: int
    hp: int
    n_layers: int
    w: np.ndarray
    b: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    head_w: np.ndarray
    head_b: float


def pack_lstm(spec: LSTMSpec) -> PackedLSTM:
    if spec.input_size != 1:
        raise ValueError(f"the LSTM kernel runs one input channel, not {spec.input_size}")
    hidden, n_layers = spec.hidden_size, spec.num_layers
    hp = -(-hidden // LANES) * LANES
    columns, b = [], np.zeros((n_layers, 4, hp))
    h0, c0 = np.zeros((n_layers, hp)), np.zeros((n_layers, hp))
    for layer, (w, bias, h_init, c_init) in enumerate(spec.layers):
        n_cols = w.shape[1]
        cols = np.zeros((n_cols, 4, hp))
        cols[:, :, :hidden] = np.asarray(w, dtype=np.float64).reshape(4, hidden, n_cols).transpose(2, 0, 1)
        columns.append(cols.ravel())
        b[layer, :, :hidden] = np.asarray(bias, dtype=np.float64).reshape(4, hidden)
        h0[layer, :hidden] = h_init
        c0[layer, :hidden] = c_init
    head_w = np.zeros(hp)
    head_w[:hidden] = spec.head_weight
    return PackedLSTM(hidden=hidden, hp=hp, n_layers=n_layers, w=np.concatenate(columns),
                      b=b.ravel(), h0=h0.ravel(), c0=c0.ravel(), head_w=head_w,
                      head_b=float(spec.head_bias))
