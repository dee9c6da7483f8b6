"""Compiled kernels (numba) for the engine's hot loops: the LSTM's per-step elementwise work and the Adam
update in float32, a blocked transpose, and the sampler's softmax draw.

NumPy spends about ten calls per LSTM step on the gates (see `LSTM._loop`) and twelve per parameter on Adam,
each a full pass over memory. Here each is one loop that reads its inputs once: an LSTM step reads z and
writes i, f, g, o, c_t, tanh(c_t) and h_t. The matrix products stay in NumPy's BLAS. The LSTM's maths is
exactly the NumPy path's:

    forward    i, f, g, o = σ(z_i), σ(z_f), tanh(z_g), σ(z_o)      z = x_proj + h_{t-1} W_hh^T
               c_t = f ⊙ c_{t-1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)
    backward   dc += dh ⊙ o ⊙ (1 - tanh²c_t)                        dh = dL/dh_t, dc = dL/dc_t
               dz_i = dc ⊙ g ⊙ i(1-i),   dz_f = dc ⊙ c_{t-1} ⊙ f(1-f)
               dz_g = dc ⊙ i ⊙ (1-g²),   dz_o = dh ⊙ tanh(c_t) ⊙ o(1-o),   dc_{t-1} = dc ⊙ f

tanh is a rational approximation (`tanh32`, the one Eigen uses for float32): numba has no vectorised tanh of
its own here, and a scalar libm call per element would cost more than the fusion saves. Its largest error is
2.6e-7, 4.4 float32 ulps (NumPy's float32 tanh: 1.4); σ(z) = tanh(z/2)/2 + 1/2.

Compiled on first use and cached on disk (numba's cache=True), so only the first run pays the compile; the
callers import this module lazily, so the CLI starts without numba. The LSTM and Adam kernels take float32
only; float64 keeps the NumPy paths, which the torch tests check to rounding.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# fastmath lets min/max and the polynomial vectorise; error_model="numpy" drops the division-by-zero check that
# would keep the loops scalar (q below is never zero).
_JIT = dict(cache=True, fastmath=True, error_model="numpy", boundscheck=False, nogil=True)
_STRICT = dict(cache=True, boundscheck=False, nogil=True)  # IEEE arithmetic: the sampler meets -inf logits

_CLAMP = np.float32(7.90531110763549805)  # tanh(x) rounds to ±1 in float32 beyond this
_ONE = np.float32(1.0)


@njit(inline="always", **_JIT)
def tanh32(x):
    """tanh(x) ≈ x p(x²) / q(x²) on [-7.9, 7.9], clamped outside: float32 in, float32 out."""
    x = min(max(x, -_CLAMP), _CLAMP)
    x2 = x * x
    p = np.float32(-2.76076847742355e-16)
    p = x2 * p + np.float32(2.00018790482477e-13)
    p = x2 * p + np.float32(-8.60467152213735e-11)
    p = x2 * p + np.float32(5.12229709037114e-08)
    p = x2 * p + np.float32(1.48572235717979e-05)
    p = x2 * p + np.float32(6.37261928875436e-04)
    p = x2 * p + np.float32(4.89352455891786e-03)
    q = np.float32(1.19825839466702e-06)
    q = x2 * q + np.float32(1.18534705686654e-04)
    q = x2 * q + np.float32(2.26843463243900e-03)
    q = x2 * q + np.float32(4.89352518554385e-03)
    return x * p / q


@njit(**_JIT)
def tanh_inplace(x):
    """x = tanh(x) over a contiguous 1-D array (for tests of tanh32)."""
    for k in range(x.size):
        x[k] = tanh32(x[k])


@njit(inline="always", **_JIT)
def _activate_row(x_proj, rec, scale, shift, a):
    """a = scale ⊙ tanh(scale ⊙ (x_proj + rec)) + shift: one row's i, f, g, o, each (4H,)."""
    for k in range(a.size):
        a[k] = scale[k] * tanh32(scale[k] * (x_proj[k] + rec[k])) + shift[k]


@njit(inline="always", **_JIT)
def _cell_row(i, f, g, o, c_prev, c, tanh_c, h):
    for j in range(c.size):
        cj = f[j] * c_prev[j] + i[j] * g[j]
        c[j] = cj
        tj = tanh32(cj)
        tanh_c[j] = tj
        h[j] = o[j] * tj


@njit(**_JIT)
def lstm_forward_step(x_proj, x_rows, rec, scale, shift, c_prev, gates, c, tanh_c, h):
    """One step: z = x_proj[x_rows] + rec (B, 4H) -> gates (B, 4H) activated i, f, g, o; c, tanh_c, h (B, H).

    Row b reads x_proj[x_rows[b]]: the step's own rows (x_rows = 0 .. B-1), or an input table's rows by id.
    scale, shift (4H,) are the NumPy path's: scale ⊙ tanh(scale ⊙ z) + shift is σ(z) on i, f, o and tanh(z) on g.
    """
    B, H = c.shape
    for b in range(B):
        a = gates[b]
        _activate_row(x_proj[x_rows[b]], rec[b], scale, shift, a)
        _cell_row(a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :], c_prev[b], c[b], tanh_c[b], h[b])


@njit(**_JIT)
def lstm_forward_step_t(x_proj, x_rows, rec_t, rec, scale, shift, c_prev, gates, c, tanh_c, h):
    """`lstm_forward_step` given the recurrent product transposed, rec_t (4H, B): rec (B, 4H) is scratch."""
    _transpose_strips(rec_t, rec)
    B, H = c.shape
    for b in range(B):
        a = gates[b]
        _activate_row(x_proj[x_rows[b]], rec[b], scale, shift, a)
        _cell_row(a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :], c_prev[b], c[b], tanh_c[b], h[b])


@njit(**_JIT)
def lstm_step(x_proj, x_rows, rec, rec_rows, scale, shift, c_prev, c_rows, c, h):
    """`lstm_forward_step` for generation: c, h (B, H) only, each row's gates kept in a small reused buffer.

    Row b reads its inputs by index: x_proj[x_rows[b]] (a lookup table's row), and the state it continues,
    which other rows may share: rec[rec_rows[b]] and c_prev[c_rows[b]].
    """
    B, H = c.shape
    a = np.empty(4 * H, dtype=c.dtype)  # one row's i, f, g, o
    t = np.empty(H, dtype=c.dtype)  # one row's tanh(c_t)
    for b in range(B):
        _activate_row(x_proj[x_rows[b]], rec[rec_rows[b]], scale, shift, a)
        _cell_row(a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :], c_prev[c_rows[b]], c[b], t, h[b])


@njit(inline="always", **_JIT)
def _backward_row(dh_rec, dh_out, i, f, g, o, tanh_c, c_prev, dc, dz_i, dz_f, dz_g, dz_o):
    for j in range(dc.size):
        dh = dh_rec[j] + dh_out[j]  # dL/dh_t: through h_{t+1} and through the output
        t = tanh_c[j]
        d = dc[j] + dh * o[j] * (_ONE - t * t)  # dL/dc_t
        dz_o[j] = dh * t * o[j] * (_ONE - o[j])
        dz_i[j] = d * g[j] * i[j] * (_ONE - i[j])
        dz_f[j] = d * c_prev[j] * f[j] * (_ONE - f[j])
        dz_g[j] = d * i[j] * (_ONE - g[j] * g[j])
        dc[j] = d * f[j]  # dL/dc_{t-1}


@njit(**_JIT)
def lstm_backward_step(dh_rec, dh_out, gates, tanh_c, c_prev, dc, dz):
    """One step back: dz (B, 4H) = dL/dz_t; dc (B, H) goes from dL/dc_t (without h_t's share) to dL/dc_{t-1}.

    dh_rec (B, H) is dL/dh_t through h_{t+1}, dh_out (B, H) through the layer's output at t.
    """
    B, H = dc.shape
    for b in range(B):
        a, d = gates[b], dz[b]
        _backward_row(
            dh_rec[b], dh_out[b], a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :], tanh_c[b], c_prev[b], dc[b],
            d[:H], d[H : 2 * H], d[2 * H : 3 * H], d[3 * H :],
        )  # fmt: skip


@njit(inline="always", **_JIT)
def _transpose_strips(a, out):  # `transpose`, inlined into the kernels that transpose a buffer first
    n, m = a.shape
    w = 8
    for j0 in range(0, m - m % w, w):
        for i in range(n):
            for j in range(j0, j0 + w):
                out[j, i] = a[i, j]
    for i in range(n):
        for j in range(m - m % w, m):
            out[j, i] = a[i, j]


@njit(**_JIT)
def transpose(a, out):
    """out (M, N) = a.T for a (N, M), in strips of 8 columns of a.

    About 5x faster than NumPy's copy of a.T for a 2048 x 512 float32 matrix (0.7 ms against 3.5): each row
    of a is read 32 bytes at a time while 8 rows of out fill in order.
    """
    _transpose_strips(a, out)


@njit(**_STRICT)
def add_rows(ids, d, out):
    """out[ids[k]] += d[k] for k in order: ids (N,), d (N, K), out (V, K). The backward of a row lookup."""
    for k in range(ids.size):
        row, src = out[ids[k]], d[k]
        for j in range(src.size):
            row[j] += src[j]


@njit(**_STRICT)
def draw_from_logits(logits, temperature, u, out):
    """out[b] = a draw from softmax(logits[b] / temperature), by inverse CDF with the uniform u[b] in [0, 1).

    The sampler's `draw` over exp(z - max z) in float64, in one pass per row: the index of the first cumulative
    sum above u[b] * (the row's sum).
    """
    B, V = logits.shape
    cdf = np.empty(V, dtype=np.float64)
    for b in range(B):
        top = -np.inf
        for k in range(V):
            top = max(top, np.float64(logits[b, k]) / temperature)
        total = 0.0
        for k in range(V):
            total += np.exp(np.float64(logits[b, k]) / temperature - top)
            cdf[k] = total
        threshold = u[b] * total
        pick = V - 1
        for k in range(V):
            if cdf[k] > threshold:
                pick = k
                break
        out[b] = pick


@njit(**_JIT)
def adam_step(p, g, m, v, beta_1, beta_2, step_size, inv_root_2, eps, keep):
    """One Adam update of a flat float32 parameter p (N,) in place, with its moments m, v; see `optim.Adam`.

    keep = 1 - lr_t * weight_decay (AdamW's decay; 1 without it), step_size = lr_t / (1-β1^t),
    inv_root_2 = 1 / sqrt(1-β2^t). Scalars come as float32, so the arithmetic stays float32.
    """
    for k in range(p.size):
        gk = g[k]
        mk = beta_1 * m[k] + (_ONE - beta_1) * gk
        vk = beta_2 * v[k] + (_ONE - beta_2) * gk * gk
        m[k] = mk
        v[k] = vk
        p[k] = keep * p[k] - step_size * mk / (np.sqrt(vk) * inv_root_2 + eps)
