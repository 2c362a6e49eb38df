# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The streaming kernels behind nam_dsp's models: state, memory and the per-block entry points.

The per-block arithmetic is C in ``nam_dsp/_kernels/*.h`` (each header lists its entry points);
this module owns the kernels' memory, copies the weights packed by ``nam_dsp._packing`` into the
C structs, checks each block's arguments and runs it without the GIL. Every function called per
block is ``noexcept nogil`` and allocates nothing; block arrays are read through NumPy's C API,
not typed memoryviews (acquiring one creates a Python object, which an audio callback must not).
Blocks are cut into padded tiles of TILE frames, so any block partition gives the same output.
"""

from libc.stdlib cimport free
from libc.string cimport memcpy, memmove, memset
from libc.math cimport isfinite
cimport numpy as cnp
import os

import numpy as np

from nam_dsp.errors import IsaError


cnp.import_array()

# ---------------------------------------------------------------------------------------------
# Instruction-set variants: one table of kernels per variant, chosen at import
# ---------------------------------------------------------------------------------------------

ISA_NAMES = ("baseline", "avx2", "avx512", "neon")
cdef const KernelTable* _table_in_use = NULL
_isa_error = None   # why no variant is in use (NAM_DSP_ISA asked for one this CPU cannot run)


def compiled_isas() -> list:
    """The variants this build carries, least to most capable (x86-64: baseline, avx2, avx512)."""
    return [nd_variant(i).name.decode() for i in range(nd_n_variants())]


def available_isas() -> list:
    """The variants this CPU can run, least to most capable."""
    return [name for i, name in enumerate(compiled_isas()) if nd_cpu_runs(i)]


def use_isa(name=None) -> str:
    """Run kernels made from now on with variant ``name`` (None: the best this CPU runs).

    Raises IsaError, naming the CPU's features, when the CPU cannot run it. Returns its name.
    """
    global _table_in_use, _isa_error
    names = compiled_isas()
    if name is None:
        runnable = available_isas()
        name = runnable[len(runnable) - 1]
    elif name not in ISA_NAMES:
        raise IsaError(f"NAM_DSP_ISA={name!r} is not an instruction-set variant; use one of "
                       f"{', '.join(ISA_NAMES)}, or leave it unset for the best this CPU runs")
    elif name not in names:
        raise IsaError(f"NAM_DSP_ISA={name}: not an instruction set of this {ND_ARCH.decode()} CPU "
                       f"(this build has {', '.join(names)})")
    elif not nd_cpu_runs(names.index(name)):
        raise IsaError(f"NAM_DSP_ISA={name}: this CPU cannot run it (its features: "
                       f"{nd_cpu_features().decode()}); it runs {', '.join(available_isas())}")
    _table_in_use = nd_variant(names.index(name))
    _isa_error = None
    return name


def isa() -> str:
    """The instruction-set variant new kernels use: baseline, avx2, avx512 or neon."""
    return _table().name.decode()


cdef const KernelTable* _table() except NULL:
    if _table_in_use == NULL:
        raise IsaError(_isa_error)
    return _table_in_use


try:
    use_isa(os.environ.get("NAM_DSP_ISA", "").strip().lower() or None)
except IsaError as exc:   # raised when a kernel is made, so the CLI can report it in one line
    _isa_error = str(exc)


# ---------------------------------------------------------------------------------------------
# Block arguments and test hooks
# ---------------------------------------------------------------------------------------------

cpdef bint is_float32_vector(object a, bint writable):
    """True when ``a`` is a 1-D C-contiguous float32 ndarray (writable if asked); allocates nothing."""
    cdef cnp.ndarray arr
    if not isinstance(a, cnp.ndarray):
        return False
    arr = <cnp.ndarray> a
    if cnp.PyArray_NDIM(arr) != 1 or cnp.PyArray_TYPE(arr) != cnp.NPY_FLOAT32:
        return False
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr):
        return False
    if writable and not cnp.PyArray_ISWRITEABLE(arr):
        return False
    return True


cpdef void shift_in(cnp.ndarray history, cnp.ndarray x):
    """Append float32 ``x`` to the float32 ``history`` window, dropping its oldest samples."""
    cdef Py_ssize_t h = cnp.PyArray_SIZE(history), n = cnp.PyArray_SIZE(x)
    cdef float* hp = <float*> cnp.PyArray_DATA(history)
    cdef const float* xp = <const float*> cnp.PyArray_DATA(x)
    if n >= h:
        memcpy(hp, xp + n - h, h * sizeof(float))
    else:
        memmove(hp, hp + n, (h - n) * sizeof(float))
        memcpy(hp + h - n, xp, n * sizeof(float))


cdef inline cnp.ndarray as_input_block(object x):
    """x itself when it is a 1-D C-contiguous float32 array, else a converted copy."""
    if is_float32_vector(x, False):
        return <cnp.ndarray> x
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"process() takes a 1-D array of samples, got shape {arr.shape}")
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"process() takes real-valued samples, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.float32)


cdef inline cnp.ndarray as_output_block(object out, Py_ssize_t n):
    """A new float32 array of n samples, or ``out`` after checking it can take them."""
    if out is None:
        return np.empty(n, dtype=np.float32)
    if not is_float32_vector(out, True):
        raise ValueError("out must be a writable 1-D C-contiguous float32 array")
    if cnp.PyArray_SIZE(<cnp.ndarray> out) != n:
        raise ValueError(f"out has {cnp.PyArray_SIZE(<cnp.ndarray> out)} samples, the input has {n}")
    return <cnp.ndarray> out


def input_block(x):
    """``x`` as a 1-D C-contiguous float32 array (itself when it already is one)."""
    return as_input_block(x)


def output_block(out, Py_ssize_t n):
    """A new float32 array of n samples, or ``out`` after checking it can take them."""
    return as_output_block(out, n)


def tanh_array(x):
    """The engine's tanh over a float32 array (for tests); returns a new float32 array."""
    cdef cnp.ndarray[cnp.float32_t, ndim=1] src = np.ascontiguousarray(x, dtype=np.float32).ravel()
    cdef Py_ssize_t n = src.shape[0]
    cdef Py_ssize_t padded = ((n + TILE - 1) // TILE) * TILE
    cdef cnp.ndarray[cnp.float32_t, ndim=1] out = np.zeros(max(padded, TILE), dtype=np.float32)
    out[:n] = src
    cdef const KernelTable* k = _table()
    with nogil:
        k.tanh(&out[0], padded)
    return out[:n]


def tanh_short_array(x):
    """The narrow layers' tanh over a float32 copy of x, for the tests; None where the variant
    in use has none (narrow layers then use tanh_array's)."""
    cdef const KernelTable* k = _table()
    if k.tanh_narrow == NULL:
        return None
    cdef cnp.ndarray[cnp.float32_t, ndim=1] out = np.ascontiguousarray(x, dtype=np.float32).ravel().copy()
    k.tanh_narrow(<float*> cnp.PyArray_DATA(out), out.shape[0])
    return out


def activation_array(x, int code, float param=0.0):
    """Any engine activation over a float32 array (for tests)."""
    cdef cnp.ndarray[cnp.float32_t, ndim=1] src = np.ascontiguousarray(x, dtype=np.float32).ravel()
    cdef Py_ssize_t n = src.shape[0]
    cdef Py_ssize_t padded = max(((n + TILE - 1) // TILE) * TILE, TILE)
    cdef cnp.ndarray[cnp.float32_t, ndim=1] out = np.zeros(padded, dtype=np.float32)
    cdef cnp.ndarray[cnp.float32_t, ndim=1] pre = np.zeros(padded, dtype=np.float32)
    out[:n] = src
    pre[:n] = src
    cdef ActK prelu
    cdef const KernelTable* k = _table()
    prelu.code = ACT_PRELU
    prelu.slopes = &param
    with nogil:
        if code == ACT_PRELU:
            k.act_rows(&prelu, &out[0], &pre[0], 1, padded)   # one row, slope param
        else:
            k.activation(&out[0], padded, code, param)
        if code == ACT_SILU:
            k.silu(&out[0], &pre[0], padded)
    return out[:n]


cdef void* aligned_zeroed(size_t n_bytes, what) except NULL:
    """Zeroed, 64-byte aligned memory (at least 64 bytes), for the caller to ``free``; ``what``
    names it in the MemoryError."""
    cdef void* p = NULL
    n_bytes = max(n_bytes, <size_t> 64)
    if posix_memalign(&p, 64, n_bytes) != 0:
        raise MemoryError(f"cannot allocate {n_bytes} bytes of {what}")
    memset(p, 0, n_bytes)
    return p


cdef class StreamKernel:
    """What every model kernel shares: the aligned blocks it owns, the checked per-block entry
    point and the silence feed used for prewarm. Subclasses implement ``_run``."""
    cdef list _blocks           # addresses of posix_memalign'ed blocks, freed on dealloc
    cdef public long long nonfinite_count
    cdef public long long nonfinite_output_count

    def __cinit__(self):
        self._blocks = []
        self.nonfinite_count = 0

    def __dealloc__(self):
        cdef size_t addr
        for addr in self._blocks:
            free(<void*> addr)
        self._blocks = []

    cdef void* _alloc_bytes(self, size_t n_bytes) except NULL:
        """Zeroed, 64-byte aligned memory owned (and freed) by this kernel."""
        cdef void* p = aligned_zeroed(n_bytes, "model state")
        self._blocks.append(<size_t> p)
        return p

    cdef float* _alloc(self, Py_ssize_t n_floats) except NULL:
        return <float*> self._alloc_bytes(n_floats * sizeof(float))

    cdef void _run(self, const float* x, float* y, Py_ssize_t n, bint count_nonfinite) noexcept nogil:
        """Process n samples of x (NULL: zeros) into y (NULL: discard)."""
        pass

    cdef int _before_block(self) except -1:
        """Hook run with the GIL before each block (e.g. to apply a requested width)."""
        return 0

    cdef void _restore_silence(self) noexcept nogil:
        """Put the state back to its prewarmed silence (after the model's own arithmetic overflowed)."""
        pass

    cdef void _guard_output(self, float* y, Py_ssize_t n) noexcept nogil:
        """Replace non-finite output samples by 0, count them, and restore the state to silence.

        Input is sanitised before it enters the state, so a non-finite output can only come from
        the model's own float32 arithmetic overflowing (a legal file with absurd weights, or an
        absurdly loud finite input through an unbounded activation). Zeros are what a host can
        play safely; restoring silence keeps the overflow from living on in the histories.
        """
        cdef Py_ssize_t t
        cdef long long bad = 0
        for t in range(n):
            if not isfinite(y[t]):
                y[t] = 0.0
                bad += 1
        if bad:
            self.nonfinite_output_count += bad
            self._restore_silence()

    def process(self, x, out=None, bint release_gil=True):
        """Process the next block of the stream and return its output.

        Parameters
        ----------
        x : array_like, 1-D
            Input samples (any length, 0 included); 1-D C-contiguous float32 is used as is.
        out : ndarray, optional
            A writable float32 array of the same length to write into; with it (and float32
            ``x``) a call allocates nothing.
        release_gil : bool, default True
            Run the block without the GIL, so other Python threads (and other models) run
            meanwhile. An audio callback with short blocks may pass False: getting the GIL back
            after the block can wait for whatever Python thread took it in between.

        Returns
        -------
        ndarray of float32, the same length as ``x`` (``out`` when given).

        A width change requested since the last block is applied first.
        """
        cdef cnp.ndarray xa = as_input_block(x)
        cdef Py_ssize_t n = cnp.PyArray_SIZE(xa)
        cdef cnp.ndarray ya = as_output_block(out, n)
        cdef const float* xp = <const float*> cnp.PyArray_DATA(xa)
        cdef float* yp = <float*> cnp.PyArray_DATA(ya)
        self._before_block()
        if n:
            if release_gil:
                with nogil:
                    self._run(xp, yp, n, True)
                    self._guard_output(yp, n)
            else:
                self._run(xp, yp, n, True)
                self._guard_output(yp, n)
        return ya

    def run_silence(self, Py_ssize_t n):
        """Feed n zeros and discard the output (prewarm)."""
        with nogil:
            self._run(NULL, NULL, n, False)




# ---------------------------------------------------------------------------------------------
# WaveNet
# ---------------------------------------------------------------------------------------------

cdef inline const float* at(const float* base, Py_ssize_t offset) noexcept:
    """The packed tensor at ``offset`` (``_packing.NONE``: absent, NULL)."""
    if offset < 0:
        return NULL
    return base + offset


cdef void set_conv(GConv* g, c, const float* base) noexcept:
    g.w = at(base, c.w)
    g.b = at(base, c.b)
    g.n_out = c.n_out
    g.n_in = c.n_in
    g.groups = c.groups
    g.k_taps = c.k_taps


cdef void set_act(ActK* A, act, const float* base) noexcept:
    A.code = act.code
    A.param = act.param
    A.lo = act.lo
    A.hi = act.hi
    A.lo_slope = act.lo_slope
    A.hi_slope = act.hi_slope
    A.slopes = at(base, act.slopes)


cdef class WaveNetKernel(StreamKernel):
    """The run-time state of a WaveNet: its packed weights, histories and scratch.

    Built once by :class:`nam_dsp.engine.WaveNetModel` from ``nam_dsp._packing.pack_wavenet``;
    :meth:`process` runs a whole block in one GIL-free call and allocates nothing.
    """
    cdef ArrayK* arrays
    cdef int n_arrays
    cdef object _keep          # the packed weights the structs point into
    cdef float* xin            # the sanitised input chunk
    cdef float* cond           # the condition model's outputs (NULL without one)
    cdef int cond_rows
    cdef WaveNetKernel condition   # NAM's condition_dsp, or None
    cdef bint has_condition
    cdef float* z
    cdef float* act
    cdef float* zmix
    cdef float head_scale
    cdef public int width
    cdef public int pending_width   # 0: none; else applied at the start of the next block
    cdef public int full_width
    cdef bint slimmable
    cdef XArrayK* xarrays      # per array: the A2 extensions (extended path) or extended = 0
    cdef XScratch xs           # the extended path's scratch (NULLs when no array needs it)
    cdef const KernelTable* k  # the instruction-set variant this kernel runs

    def __cinit__(self):
        self.arrays = NULL
        self.xarrays = NULL

    cdef void _ring(self, Ring* r, int rows, Py_ssize_t lookback) except *:
        r.lookback = lookback
        r.cap = 2 * lookback + CHUNK + 2 * TILE
        r.stride = round_up(r.cap, 16)
        r.pos = lookback
        r.data = self._alloc(rows * r.stride)

    def __init__(self, packed, int width):
        """``packed``: a ``nam_dsp._packing.WaveNet``; ``width``: initial width of array 0."""
        cdef int ai, j, k, c, max_rows = 0, extended_rows = 0
        cdef ArrayK* a
        cdef XArrayK* xa
        cdef LayerK* L
        cdef XLayerK* X
        cdef cnp.ndarray weights = packed.weights
        cdef const float* base = <const float*> cnp.PyArray_DATA(weights)
        self.k = _table()
        self._keep = weights
        self.n_arrays = len(packed.arrays)
        self.arrays = <ArrayK*> self._alloc((sizeof(ArrayK) * self.n_arrays + 3) // 4)
        self.xarrays = <XArrayK*> self._alloc((sizeof(XArrayK) * self.n_arrays + 3) // 4)
        self.head_scale = packed.head_scale
        self.full_width = packed.full_width
        self.slimmable = packed.slimmable
        self.width = width
        self.pending_width = 0
        for ai, pa in enumerate(packed.arrays):
            a = &self.arrays[ai]
            c = pa.channels
            a.channels = c
            a.in_size = pa.in_size
            a.head_size = pa.head_size
            a.head_k = pa.head_k
            a.n_layers = len(pa.layers)
            a.layers = <LayerK*> self._alloc((sizeof(LayerK) * a.n_layers + 3) // 4)
            a.rechannel = at(base, pa.rechannel)
            a.head_w = at(base, pa.head_w)
            a.head_b = at(base, pa.head_b)
            xa = &self.xarrays[ai]
            xa.extended = pa.extended
            xa.bottleneck = pa.bottleneck
            xa.acc_rows = pa.acc_rows
            xa.layers = NULL
            self._ring(&a.acc, xa.acc_rows, a.head_k - 1)
            a.acc_silence = self._alloc(max(c, xa.acc_rows))
            a.residual = self._alloc(c * (CHUNK + TILE))
            a.head_out = self._alloc(a.head_size * (CHUNK + TILE))
            max_rows = max(max_rows, 2 * c)
            for j, pl in enumerate(pa.layers):
                L = &a.layers[j]
                L.k_taps = pl.k_taps
                L.dil = pl.dilation
                L.act = pl.act
                L.act_param = pl.act_param
                L.gate_act = pl.gate_act
                L.gate_param = pl.gate_param
                L.gating = pl.gating
                L.w = at(base, pl.w)
                L.b = at(base, pl.b)
                L.m = at(base, pl.m)
                L.u_w = at(base, pl.u_w)
                L.u_b = at(base, pl.u_b)
                self._ring(&L.hist, c, (pl.k_taps - 1) * pl.dilation)
                L.silence = self._alloc(c)
            if xa.extended:
                xa.layers = <XLayerK*> self._alloc((sizeof(XLayerK) * a.n_layers + 3) // 4)
                for j, px in enumerate(pa.extended_layers):
                    X = &xa.layers[j]
                    set_conv(&X.conv, px.conv, base)
                    set_conv(&X.mixin, px.mixin, base)
                    X.l1.n_out = 0
                    X.h1.n_out = 0
                    if px.l1 is not None:
                        set_conv(&X.l1, px.l1, base)
                    if px.h1 is not None:
                        set_conv(&X.h1, px.h1, base)
                    for k, film in enumerate(px.films):
                        X.has_film[k] = film is not None
                        if film is not None:
                            set_conv(&X.film[k].conv, film.conv, base)
                            X.film[k].rows = film.rows
                            X.film[k].shift = film.shift
                    set_act(&X.act, px.act, base)
                    set_act(&X.gate, px.gate, base)
                    extended_rows = max(extended_rows, px.scratch_rows)
        self.has_condition = packed.condition is not None
        self.condition = (WaveNetKernel(packed.condition, packed.condition.full_width)
                          if self.has_condition else None)
        self.cond_rows = packed.cond_rows
        self.xin = self._alloc(CHUNK + TILE)
        self.cond = self._alloc(self.cond_rows * (CHUNK + TILE)) if self.has_condition else NULL
        self.z = self._alloc(max_rows * (CHUNK + TILE))
        self.act = self._alloc(max_rows * (CHUNK + TILE))
        self.zmix = self._alloc(max_rows * (CHUNK + TILE)) if self.has_condition else NULL
        if extended_rows:
            extended_rows = max(extended_rows, self.cond_rows)
            self.xs.cur = self._alloc(extended_rows * (CHUNK + TILE))
            self.xs.nxt = self._alloc(extended_rows * (CHUNK + TILE))
            self.xs.z = self._alloc(extended_rows * (CHUNK + TILE))
            self.xs.mix = self._alloc(extended_rows * (CHUNK + TILE))
            self.xs.act = self._alloc(extended_rows * (CHUNK + TILE))
            self.xs.film = self._alloc(extended_rows * (CHUNK + TILE))
            self.xs.condf = self._alloc(extended_rows * (CHUNK + TILE))
            self.xs.l1 = self._alloc(extended_rows * (CHUNK + TILE))
            self.xs.h1 = self._alloc(extended_rows * (CHUNK + TILE))

    cdef int _array_width(self, int ai) noexcept nogil:
        return self.width if (ai == 0 and self.slimmable) else self.arrays[ai].channels

    cdef int _acc_rows(self, int ai, int width) noexcept nogil:
        """Rows of array ai's head accumulator at ``width``."""
        return self.xarrays[ai].acc_rows if self.xarrays[ai].extended else width

    cdef void _arrays(self, const float* x, Py_ssize_t m) noexcept nogil:
        """Run every layer array over one sanitised chunk ``x`` of m frames (padded with zeros
        to a whole tile); the output is left in the last array's ``head_out``."""
        cdef int ai, r
        cdef Py_ssize_t f, n_pad = round_up(m, TILE)
        cdef Py_ssize_t wide = CHUNK + TILE
        cdef ArrayK* a
        cdef ArrayK* c_last
        cdef float scale
        cdef const float* cond = x   # the raw input feeds the mixins unless a condition model does
        cdef const float* stream = x
        cdef const float* head_in = NULL
        cdef Py_ssize_t stream_stride = 0
        if self.has_condition:
            cond = self.cond
            self.condition._arrays(x, m)
            c_last = &self.condition.arrays[self.condition.n_arrays - 1]
            scale = self.condition.head_scale
            for r in range(self.cond_rows):
                for f in range(n_pad):
                    self.cond[r * wide + f] = scale * c_last.head_out[r * wide + f]
        for ai in range(self.n_arrays):
            a = &self.arrays[ai]
            if ai > 0:
                stream = self.arrays[ai - 1].residual
                stream_stride = wide
                head_in = self.arrays[ai - 1].head_out
            if self.xarrays[ai].extended:
                self.k.array_chunk_extended(a, &self.xarrays[ai], stream, stream_stride, head_in, cond, m,
                                     ai < self.n_arrays - 1, &self.xs)
            else:
                self.k.array_chunk(a, self._array_width(ai), stream, stream_stride, head_in, cond,
                            self.cond_rows, m, ai < self.n_arrays - 1, self.z, self.act, self.zmix)

    cdef void _run(self, const float* x, float* y, Py_ssize_t n, bint count_nonfinite) noexcept nogil:
        cdef Py_ssize_t done = 0, m, t
        cdef ArrayK* a = &self.arrays[self.n_arrays - 1]
        cdef float* xin = self.xin
        cdef const float* head_out = a.head_out
        cdef float scale = self.head_scale
        cdef float v
        cdef int finite
        cdef long long bad = 0
        while done < n:
            m = n - done
            if m > CHUNK:
                m = CHUNK
            # Sanitise: a non-finite input sample is treated as 0 (and counted) so it can never
            # enter the histories. (Branch-free and through locals, so the loops vectorise.)
            if x != NULL:
                for t in range(m):
                    v = x[done + t]
                    finite = isfinite(v)
                    xin[t] = nd_selectf(finite, v, 0.0)
                    bad += 1 - finite
            else:
                memset(xin, 0, m * sizeof(float))
            for t in range(m, round_up(m, TILE)):
                xin[t] = 0.0
            self._arrays(xin, m)
            if y != NULL:
                for t in range(m):
                    y[done + t] = scale * head_out[t]
            done += m
        if count_nonfinite:
            self.nonfinite_count += bad

    cdef int _before_block(self) except -1:
        if self.pending_width > 0:   # skips the cpdef dispatch on every other block
            self.apply_pending_width()
        return 0

    cpdef apply_pending_width(self):
        """Apply a requested width now: newly active channels start from their silence values."""
        cdef int j, new = self.pending_width
        cdef ArrayK* a = &self.arrays[0]
        if new <= 0:
            return
        self.pending_width = 0
        if new > self.width:
            for j in range(a.n_layers):
                ring_fill_rows(&a.layers[j].hist, self.width, new, a.layers[j].silence)
            ring_fill_rows(&a.acc, self.width, new, a.acc_silence)
        self.width = new

    def clear(self):
        """Zero every history (the state before prewarm)."""
        cdef int ai, j, c
        cdef ArrayK* a
        cdef Ring* r
        for ai in range(self.n_arrays):
            a = &self.arrays[ai]
            c = a.channels
            for j in range(a.n_layers):
                r = &a.layers[j].hist
                memset(r.data, 0, c * r.stride * sizeof(float))
                r.pos = r.lookback
            memset(a.acc.data, 0, self.xarrays[ai].acc_rows * a.acc.stride * sizeof(float))
            a.acc.pos = a.acc.lookback
        if self.has_condition:
            self.condition.clear()
        self.nonfinite_count = 0

    cdef void _restore_silence(self) noexcept nogil:
        cdef int ai, j
        cdef ArrayK* a
        for ai in range(self.n_arrays):
            a = &self.arrays[ai]
            for j in range(a.n_layers):
                ring_fill_rows(&a.layers[j].hist, 0, a.channels, a.layers[j].silence)
            ring_fill_rows(&a.acc, 0, self._acc_rows(ai, a.channels), a.acc_silence)
        if self.has_condition:
            self.condition._restore_silence()

    def snapshot_silence(self):
        """Record each history row's current (steady, after prewarm) value as its silence value."""
        cdef int ai, j, i, c
        cdef ArrayK* a
        cdef LayerK* L
        for ai in range(self.n_arrays):
            a = &self.arrays[ai]
            c = self._array_width(ai)
            for j in range(a.n_layers):
                L = &a.layers[j]
                for i in range(c):
                    L.silence[i] = L.hist.data[i * L.hist.stride + L.hist.pos - 1] if L.hist.pos > 0 else 0.0
            for i in range(self._acc_rows(ai, c)):
                a.acc_silence[i] = a.acc.data[i * a.acc.stride + a.acc.pos - 1] if a.acc.pos > 0 else 0.0
        if self.has_condition:
            self.condition.snapshot_silence()

    def state(self):
        """A copy of every history window (for tests: 'split == one-shot, state included')."""
        out = []
        cdef int ai, j, i, c, n_rows
        cdef ArrayK* a
        cdef Ring* r
        for ai in range(self.n_arrays):
            a = &self.arrays[ai]
            c = self._array_width(ai)
            for j in range(a.n_layers + 1):
                r = &a.layers[j].hist if j < a.n_layers else &a.acc
                n_rows = self._acc_rows(ai, c) if j == a.n_layers else c
                rows = np.empty((n_rows, r.lookback), dtype=np.float32)
                for i in range(n_rows):
                    rows[i] = np.asarray(<float[:r.stride]> (r.data + i * r.stride))[r.pos - r.lookback:r.pos]
                out.append(rows)
        if self.has_condition:
            out += self.condition.state()
        return out


# ---------------------------------------------------------------------------------------------
# LSTM: sequential per sample, float64 state and arithmetic (C in _kernels/lstm.h).
# ---------------------------------------------------------------------------------------------

include "_lstm.pxi"


# ---------------------------------------------------------------------------------------------
# Linear (FIR): y[t] = bias + sum_j w[j] x[t - j], history in a rewound buffer.
# ---------------------------------------------------------------------------------------------

cdef class LinearKernel(StreamKernel):
    """An FIR filter's taps and input history (rewound buffer)."""
    cdef float* w
    cdef float* hist
    cdef Py_ssize_t taps, cap, pos
    cdef float bias
    cdef const KernelTable* k

    def __init__(self, weights, float bias):
        """``weights``, ``bias``: from ``nam_dsp._packing.pack_linear``."""
        cdef cnp.ndarray taps = weights
        self.k = _table()
        self.taps = cnp.PyArray_SIZE(taps)
        self.w = self._alloc(self.taps)
        memcpy(self.w, cnp.PyArray_DATA(taps), self.taps * sizeof(float))
        self.bias = bias
        self.cap = 2 * self.taps + CHUNK
        self.hist = self._alloc(self.cap)
        self.pos = self.taps - 1

    def clear(self):
        memset(self.hist, 0, self.cap * sizeof(float))
        self.pos = self.taps - 1

    cdef void _run(self, const float* x, float* y, Py_ssize_t n, bint count) noexcept nogil:
        cdef long long bad = self.k.linear_run(self.w, self.taps, self.bias, self.hist, self.cap, &self.pos, x, y, n)
        if count:
            self.nonfinite_count += bad

    def state(self):
        """A copy of the input history window (the last taps - 1 samples)."""
        keep = self.taps - 1
        if keep == 0:
            return [np.zeros(0, dtype=np.float32)]
        return [np.asarray(<float[:self.cap]> self.hist)[self.pos - keep:self.pos].copy()]


# ---------------------------------------------------------------------------------------------
# Stream-rate bridge: polyphase resampling around fixed model blocks (C in _kernels/resample.h).
# ---------------------------------------------------------------------------------------------

include "_resample.pxi"
