# The LSTM kernel (included by _kernels.pyx): float64 state and arithmetic in _kernels/lstm.h,
# weights packed by nam_dsp._lstm_layout.

from nam_dsp._lstm_layout import LANES as LSTM_LANES, pack_lstm

cdef extern from "_kernels/lstm.h" nogil:
    enum: ND_LSTM_LANES
    long long nd_lstm_run(const double* w, const double* b, double* h, double* c, double* gates,
                          const double* head_w, double head_b, Py_ssize_t n_layers,
                          Py_ssize_t hidden, Py_ssize_t hp, const float* x, float* y,
                          Py_ssize_t n) noexcept

if ND_LSTM_LANES != LSTM_LANES:
    raise ImportError("nam_dsp._lstm_layout.LANES differs from ND_LSTM_LANES in _kernels/lstm.h")


cdef class LSTMKernel(StreamKernel):
    """Stacked LSTM state and weights, computed in float64 (see ``_kernels/lstm.h``).

    NAM's LSTMs run in float32, and on real captures that rounding is audible in the numbers: the
    Boss captures' state never settles on silence but wanders on its own rounding noise, so
    float32 renders (NAM Core's included) end up 1e-5..6e-5 (relative RMS) from exact arithmetic,
    and each CPU vendor / instruction set / compiler lands somewhere else in that range (an
    earlier kernel that made NAM Core's float32 roundings one for one matched its renders bit
    for bit on AMD, but not on Intel, whose RCPPS rounds differently). Here the state, the gate
    sums and exp / sigmoid / tanh are float64 (every rounding ~1e-16), so the output is exact to
    its float32 rounding on any CPU, with or without FMA contraction.

    Error against ``nam_dsp.reference.lstm_forward`` (float64, prewarm included), relative RMS
    over the first 4 s / the whole 10 s of the reference DI (``bench/lstm_accuracy.py``, AMD EPYC;
    the float32 kernel is the one before this, bit-identical to NAM Core's renders on this CPU):

    ================================  ===================  ===================  =================
    LSTM (layers x hidden)            NAM Core's render    float32 kernel       this kernel
    ================================  ===================  ===================  =================
    captures/boss_sd1_lstm_1x16       5.64e-5 / 2.95e-5    5.64e-5 / 2.95e-5    2.53e-8 / 2.50e-8
    captures/boss_sd1_lstm_2x8        2.93e-5 / 1.34e-5    2.93e-5 / 1.34e-5    2.52e-8 / 2.50e-8
    examples/lstm (1x3)               2.59e-5 / 2.03e-5    2.59e-5 / 2.03e-5    2.43e-8 / 2.50e-8
    slimmable_container, LSTM (1x3)   2.59e-5 / 2.03e-5    2.59e-5 / 2.03e-5    2.43e-8 / 2.50e-8
    ================================  ===================  ===================  =================

    2.5e-8 is the float32 output's own rounding. Speed: the two kernels timed in alternating
    rounds in one process at 64-sample blocks (AMD EPYC, AVX2, on a busy 2-core machine, so the
    ratios hold and the absolute x real time is low), this kernel / the float32 one: 1x16 1.45
    (33x vs 23x real time), 2x8 1.11 (23x vs 21x), 1x3 5.4 (181x vs 34x; the float32 kernel ran
    fewer than 4 units in scalar libm). Float64 costs little here: the float32 kernel could not
    use FMA and made every rounding NAM Core makes.

    Reset (``load_initial_state`` then ``run_silence``) and ``snapshot_silence`` are driven by
    :class:`nam_dsp.engine.LSTMModel`. One input channel (NAM's LSTMs have one).
    """
    cdef double* w        # per layer: (1 or H) + H columns of 4 * hp gate rows (see lstm.h)
    cdef double* b        # (layers, 4 * hp)
    cdef double* h        # (layers, hp)
    cdef double* c        # (layers, hp)
    cdef double* h0
    cdef double* c0
    cdef double* gates    # (4 * hp)
    cdef double* head_w   # (hp)
    cdef double head_b
    cdef double* h_silence  # h and c after the prewarm (restored after an overflow)
    cdef double* c_silence
    cdef Py_ssize_t hidden, hp, n_layers

    def __init__(self, spec):
        packed = pack_lstm(spec)
        cdef Py_ssize_t hp = packed.hp, L = packed.n_layers
        self.hidden, self.hp, self.n_layers = packed.hidden, hp, L
        self.w = self._doubles(packed.w)
        self.b = self._doubles(packed.b)
        self.h0 = self._doubles(packed.h0)
        self.c0 = self._doubles(packed.c0)
        self.head_w = self._doubles(packed.head_w)
        self.head_b = packed.head_b
        self.h = self._doubles(np.zeros(hp * L))
        self.c = self._doubles(np.zeros(hp * L))
        self.h_silence = self._doubles(np.zeros(hp * L))
        self.c_silence = self._doubles(np.zeros(hp * L))
        self.gates = self._doubles(np.zeros(4 * hp))
        self.load_initial_state()

    cdef double* _doubles(self, values) except NULL:
        """A copy of a 1-D array's values in aligned memory this kernel owns."""
        cdef const double[::1] flat = np.ascontiguousarray(values, dtype=np.float64)
        cdef double* p = <double*> self._alloc_bytes(flat.shape[0] * sizeof(double))
        if flat.shape[0]:
            memcpy(p, &flat[0], flat.shape[0] * sizeof(double))
        return p

    def snapshot_silence(self):
        """Record the current (prewarmed) state as the one an overflow restores."""
        memcpy(self.h_silence, self.h, self.hp * self.n_layers * sizeof(double))
        memcpy(self.c_silence, self.c, self.hp * self.n_layers * sizeof(double))

    cdef void _restore_silence(self) noexcept nogil:
        memcpy(self.h, self.h_silence, self.hp * self.n_layers * sizeof(double))
        memcpy(self.c, self.c_silence, self.hp * self.n_layers * sizeof(double))

    def load_initial_state(self):
        """Set h, c to the file's initial state."""
        memcpy(self.h, self.h0, self.hp * self.n_layers * sizeof(double))
        memcpy(self.c, self.c0, self.hp * self.n_layers * sizeof(double))

    cdef void _run(self, const float* x, float* y, Py_ssize_t n, bint count) noexcept nogil:
        cdef long long bad = nd_lstm_run(self.w, self.b, self.h, self.c, self.gates, self.head_w,
                                         self.head_b, self.n_layers, self.hidden, self.hp, x, y, n)
        if count:
            self.nonfinite_count += bad

    def state(self):
        """[h, c]: each layer's hidden and cell state, concatenated (float64 copies)."""
        cdef Py_ssize_t H = self.hidden, hp = self.hp, L = self.n_layers
        h = np.asarray(<double[:hp * L]> self.h).reshape(L, hp)[:, :H].ravel()
        c = np.asarray(<double[:hp * L]> self.c).reshape(L, hp)[:, :H].ravel()
        return [h.copy(), c.copy()]
