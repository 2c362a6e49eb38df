# The stream-rate bridge (included by _kernels.pyx): device rate -> model rate -> device rate
# around fixed-size model blocks, C in _kernels/resample.h. nam_dsp.resample designs the filters
# and works out the prefill; this class only moves samples.

cdef extern from "_kernels/resample.h" nogil:
    ctypedef struct Resampler "nd_resampler":
        int li, lo, taps
        const float* table
        float* buf
        Py_ssize_t cap
        long long q
    Py_ssize_t nd_resample_max_out(const Resampler* r, Py_ssize_t n) noexcept
    Py_ssize_t nd_resample(Resampler* r, const float* x, Py_ssize_t n, float* y) noexcept
    void nd_resample_reset(Resampler* r) noexcept


cdef float* _alloc_floats(Py_ssize_t n) except NULL:
    return <float*> aligned_zeroed(max(n, 1) * sizeof(float), "resampler state")


cdef class RateBridge:
    """Streams device blocks through a model that runs at another rate, in fixed model blocks.

    Per device block: ``push(x)`` resamples it up into the model-rate FIFO; while
    ``next_block(xm)`` hands out a full model block, the caller runs the model on it and gives the
    output to ``feed(ym)``, which resamples it into the device-rate FIFO; ``pull(y)`` takes the
    device block to play. The device FIFO starts with ``prefill`` zeros, enough that ``pull``
    never runs short (``nam_dsp.resample`` works it out from the rates and block sizes), so the
    added latency is constant. Nothing here allocates or takes the GIL's help after construction.
    """
    cdef Resampler up, down
    cdef float* fifo_in
    cdef float* fifo_out
    cdef Py_ssize_t in_fill, out_fill, in_cap, out_cap, prefill
    cdef readonly Py_ssize_t device_block, model_block
    cdef readonly double short_pulls     # pulls that ran short (zeros played): never, by design
    cdef object _tables                  # keeps the coefficient arrays alive

    def __cinit__(self):
        self.up.buf = NULL
        self.down.buf = NULL
        self.fifo_in = NULL
        self.fifo_out = NULL

    def __init__(self, up_table, int up_li, int up_lo, down_table, int down_li, int down_lo,
                 Py_ssize_t device_block, Py_ssize_t model_block, Py_ssize_t prefill):
        """``*_table``: float32 (li, taps) polyphase coefficients of each direction."""
        ut = np.ascontiguousarray(up_table, dtype=np.float32)
        dt = np.ascontiguousarray(down_table, dtype=np.float32)
        if ut.ndim != 2 or ut.shape[0] != up_li or dt.ndim != 2 or dt.shape[0] != down_li:
            raise ValueError("each table needs one row per input phase (li rows)")
        if device_block < 1 or model_block < 1 or prefill < 0:
            raise ValueError("block sizes must be >= 1 and the prefill >= 0")
        self._tables = (ut, dt)
        self.device_block = device_block
        self.model_block = model_block
        self.prefill = prefill
        self._setup(&self.up, ut, up_li, up_lo, device_block)
        self._setup(&self.down, dt, down_li, down_lo, model_block)
        self.in_cap = model_block + nd_resample_max_out(&self.up, device_block)
        self.fifo_in = _alloc_floats(self.in_cap)
        # after a pull the FIFO holds about the prefill; one callback's feeds add at most this
        self.out_cap = 2 * (prefill + device_block) + (nd_resample_max_out(&self.down, model_block)
                                                       * (self.in_cap // model_block + 2))
        self.fifo_out = _alloc_floats(self.out_cap)
        self.reset()

    cdef int _setup(self, Resampler* r, cnp.ndarray table, int li, int lo, Py_ssize_t cap) except -1:
        r.li = li
        r.lo = lo
        r.taps = <int> table.shape[1]
        r.table = <const float*> cnp.PyArray_DATA(table)
        r.cap = cap
        r.buf = _alloc_floats(r.taps - 1 + cap)
        return 0

    def __dealloc__(self):
        free(self.up.buf)
        free(self.down.buf)
        free(self.fifo_in)
        free(self.fifo_out)

    def reset(self):
        """Back to silence: resampler histories zeroed, the device FIFO holding its prefill zeros."""
        nd_resample_reset(&self.up)
        nd_resample_reset(&self.down)
        self.in_fill = 0
        memset(self.fifo_out, 0, self.out_cap * sizeof(float))
        self.out_fill = self.prefill
        self.short_pulls = 0.0

    def push(self, x):
        """Resample one device block (float32, at most ``device_block`` samples) into the model FIFO."""
        cdef Py_ssize_t n = self._check(x, self.device_block, False, False)
        with nogil:
            self.in_fill += nd_resample(&self.up, <const float*> cnp.PyArray_DATA(<cnp.ndarray> x), n,
                                        self.fifo_in + self.in_fill)

    def next_block(self, xm):
        """Copy the next full model block into ``xm`` (float32, ``model_block`` samples): True,
        or False when the FIFO holds less than a block."""
        cdef Py_ssize_t b = self.model_block
        self._check(xm, b, True, True)
        if self.in_fill < b:
            return False
        memcpy(cnp.PyArray_DATA(<cnp.ndarray> xm), self.fifo_in, b * sizeof(float))
        self.in_fill -= b
        memmove(self.fifo_in, self.fifo_in + b, self.in_fill * sizeof(float))
        return True

    def feed(self, ym):
        """Resample one model block of output (``model_block`` samples) into the device FIFO."""
        self._check(ym, self.model_block, False, True)
        if self.out_fill + nd_resample_max_out(&self.down, self.model_block) > self.out_cap:
            raise RuntimeError("feed() without pull(): the device FIFO is full")
        with nogil:
            self.out_fill += nd_resample(&self.down, <const float*> cnp.PyArray_DATA(<cnp.ndarray> ym),
                                         self.model_block, self.fifo_out + self.out_fill)

    def pull(self, y):
        """Take the next device block (``len(y)`` samples) from the device FIFO into ``y``."""
        cdef Py_ssize_t n = self._check(y, self.device_block, True, False)
        cdef float* yp = <float*> cnp.PyArray_DATA(<cnp.ndarray> y)
        cdef Py_ssize_t k = min(n, self.out_fill)
        memcpy(yp, self.fifo_out, k * sizeof(float))
        if k < n:
            memset(yp + k, 0, (n - k) * sizeof(float))
            self.short_pulls += 1.0
        self.out_fill -= k
        memmove(self.fifo_out, self.fifo_out + k, self.out_fill * sizeof(float))

    cdef Py_ssize_t _check(self, object a, Py_ssize_t size, bint writable, bint exact) except -1:
        """The block's length after checking it: ``size`` samples (``exact``) or at most that."""
        if not is_float32_vector(a, writable):
            raise ValueError("blocks must be 1-D C-contiguous float32 arrays"
                             + (" (writable)" if writable else ""))
        cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray> a)
        if n > size or (exact and n != size):
            raise ValueError(f"a block of {n} samples; this bridge takes "
                             + (f"{size}" if exact else f"at most {size}"))
        return n


def resample_once(table, int li, int lo, x):
    """All of ``x`` (float32) through one direction's filter from silence, as a stream would give
    it (offline: renders use this around a whole-signal model render). ``table``: (li, taps)."""
    cdef cnp.ndarray t = np.ascontiguousarray(table, dtype=np.float32)
    cdef cnp.ndarray xa = np.ascontiguousarray(x, dtype=np.float32)
    if t.ndim != 2 or t.shape[0] != li or xa.ndim != 1:
        raise ValueError("a (li, taps) table and a 1-D signal are needed")
    cdef Resampler r
    cdef Py_ssize_t n = xa.shape[0]
    r.li = li
    r.lo = lo
    r.taps = <int> t.shape[1]
    r.table = <const float*> cnp.PyArray_DATA(t)
    r.cap = n
    r.buf = _alloc_floats(r.taps - 1 + n)
    cdef cnp.ndarray y = np.empty(nd_resample_max_out(&r, n), dtype=np.float32)
    cdef Py_ssize_t count
    try:
        nd_resample_reset(&r)
        with nogil:
            count = nd_resample(&r, <const float*> cnp.PyArray_DATA(xa), n, <float*> cnp.PyArray_DATA(y))
    finally:
        free(r.buf)
    return y[:count]
