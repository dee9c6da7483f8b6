"""The LSTM layer over a whole sequence, gates in torch's order i, f, g, o.

    z_t = W_ih x_t + W_hh h_{t-1} + b                     (B, 4H)
    i, f, g, o = σ(z_i), σ(z_f), tanh(z_g), σ(z_o)        input, forget, candidate, output
    c_t = f ⊙ c_{t-1} + i ⊙ g
    h_t = o ⊙ tanh(c_t)

The seed writes the same cell with Γu = i, Γf = f, c̃ = g, Γo = o and weights acting on [a_{t-1}; x_t].

Speed: all four gates of a step come from one tanh call, σ(z) = tanh(z/2) / 2 + 1/2, with the halving of i, f
and o folded into copies of the weights (scaling by a power of two is exact, so float64 results match torch to
rounding). In float32, NumPy's tanh is about twice as fast as its exp. Both loops over time write into
preallocated buffers; working on one step's arrays while they sit in cache beats computing the local
derivatives for all steps at once.

float32 goes further: the elementwise work of a step (about ten NumPy calls forward, twenty backward) is one
compiled pass in `rnnkit.kernels`, the same maths. float64 keeps the NumPy loops below, which the torch tests
check to rounding; the float32 kernels are checked against torch in float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from rnnkit.nn.recurrent import Recurrent, TableRows

LSTMState = tuple[np.ndarray, np.ndarray]  # (h, c), each (B, H)


@dataclass(frozen=True)
class LSTMCache:
    x: np.ndarray | None  # (T, B, D) the inputs, or None when forward was given x_proj
    hs: np.ndarray  # (T+1, B, H) h_0 .. h_T
    cs: np.ndarray  # (T+1, B, H) c_0 .. c_T
    gates: np.ndarray  # (T, B, 4H) activated i, f, g, o
    tanh_c: np.ndarray  # (T, B, H) tanh(c_t)
    W_hh_t: np.ndarray | None = None  # (H, 4H) W_hh^T contiguous, when the float32 forward multiplied by it


class LSTM(Recurrent):
    """One LSTM layer. params: W_ih (4H, D), W_hh (4H, H), b (4H,) (torch's b_ih + b_hh)."""

    gates = 4
    transposed_product_rows = 32  # the float32 forward computes W_hh h^T (4H, B) up to this many rows B

    def initial_lstm_state(self, batch_size: int) -> LSTMState:
        return self.initial_state(batch_size), self.initial_state(batch_size)

    @cached_property
    def _gate_scale(self) -> np.ndarray:
        """(4H,): 1/2 on the sigmoid gates i, f, o and 1 on g, so that tanh(scale z) is tanh(z/2) or tanh(z)."""
        H = self.hidden_size
        scale = np.full(4 * H, 0.5, dtype=self.dtype)
        scale[2 * H : 3 * H] = 1.0
        return scale

    @cached_property
    def _gate_shift(self) -> np.ndarray:
        """(4H,): 1/2 on i, f, o and 0 on g: scale ⊙ tanh(scale ⊙ z) + shift is σ(z) on i, f, o and tanh(z) on g."""
        return np.where(self._gate_scale == 1.0, 0.0, 0.5).astype(self.dtype)

    def _activate(self, z: np.ndarray) -> None:
        """In place, on scaled pre-activations z (B, 4H): σ on i, f, o and tanh on g, from one tanh call."""
        np.tanh(z, out=z)
        z *= self._gate_scale
        z += self._gate_shift

    @property
    def _fused(self) -> bool:
        """Whether the time loops run the compiled float32 kernels (`rnnkit.kernels`) rather than NumPy calls."""
        return self.dtype == np.float32

    def forward(
        self, x: np.ndarray | None, state: LSTMState | None = None, *, x_proj: np.ndarray | None = None
    ) -> tuple[np.ndarray, LSTMState, LSTMCache]:
        """Run the layer over x (T, B, D) from state = (h_0, c_0) or zeros.

        x_proj (T, B, 4H) or `TableRows`, when given, stands for x W_ih^T + b (see `input_table`) and x may be None.
        Returns hs (T, B, H), the final (h_T, c_T) and the cache backward needs.
        """
        H = self.hidden_size
        T, B = self._steps(x, x_proj)
        hs = np.empty((T + 1, B, H), dtype=self.dtype)
        cs = np.empty((T + 1, B, H), dtype=self.dtype)
        hs[0], cs[0] = self.initial_lstm_state(B) if state is None else state
        zero_start = state is None  # h_0 = 0: the first step's recurrent product is zero, and skipped
        tanh_c = np.empty((T, B, H), dtype=self.dtype)
        if self._fused:  # the kernel scales z itself
            gates, source = self._inputs(x, x_proj)  # (T, B, 4H) x W_ih^T + b, or an empty buffer and x_proj
            if source is None:  # read the projections from one buffer, write the gates to another
                source, gates = gates, np.empty_like(gates)
            W_t = self._fused_loop(gates, source, hs, cs, tanh_c, zero_start)
        else:
            scale = self._gate_scale
            gates, source = self._inputs(x, x_proj, scale)  # (T, B, 4H) scale ⊙ z, activated in place below
            W = np.multiply(self.params["W_hh"].T, scale, order="C")  # (H, 4H) contiguous: faster GEMM than .T
            self._loop(gates, source, scale, hs, cs, tanh_c, W, zero_start)
            W_t = None
        state = (hs[T].copy(), cs[T].copy())
        return hs[1:], state, LSTMCache(x if x_proj is None else None, hs, cs, gates, tanh_c, W_t)

    def _fused_loop(self, gates, x_proj, hs, cs, tanh_c, zero_start: bool) -> np.ndarray | None:
        """The float32 time loop; returns the W_hh^T (H, 4H) it multiplied by, which backward reuses, or None."""
        from rnnkit import kernels  # numba: imported on first use, so the CLI starts fast

        T, B, _ = gates.shape
        H = self.hidden_size
        W_hh = self.params["W_hh"]  # (4H, H)
        rec = np.empty((B, 4 * H), dtype=self.dtype)  # h_{t-1} W_hh^T
        # Up to 32 rows, OpenBLAS computes the product faster the other way round, as W_hh h_{t-1}^T (4H, B) with
        # the long side first, and the kernel transposes it back into rec: 0.63-0.68 + 0.03 ms against 0.72-0.92
        # for B=32, H=512 at one thread of this project's Xeon (benchmarks/step_profile.py --products). At 64
        # rows the product alone still gains a little, but a names step measured slower with it.
        W = rec_t = None
        if B <= self.transposed_product_rows:
            rec_t = np.empty((4 * H, B), dtype=self.dtype)
        else:
            W = self._contiguous_transpose(W_hh)
        if isinstance(x_proj, TableRows):  # the kernel reads the table's rows by id
            table, rows = np.ascontiguousarray(x_proj.table, self.dtype), x_proj.ids
        else:
            table, rows = None, np.broadcast_to(np.arange(B), (T, B))
            x_proj = np.ascontiguousarray(x_proj, self.dtype)
        for t in range(T):
            inputs = (x_proj[t] if table is None else table, rows[t])
            rest = (self._gate_scale, self._gate_shift, cs[t], gates[t], cs[t + 1], tanh_c[t], hs[t + 1])
            if t == 0 and zero_start:
                rec.fill(0.0)
                kernels.lstm_forward_step(*inputs, rec, *rest)
            elif rec_t is None:
                np.matmul(hs[t], W, out=rec)  # (B, 4H)
                kernels.lstm_forward_step(*inputs, rec, *rest)
            else:
                np.matmul(W_hh, hs[t].T, out=rec_t)  # (4H, B)
                kernels.lstm_forward_step_t(*inputs, rec_t, rec, *rest)
        return W

    def _contiguous_transpose(self, W_hh: np.ndarray) -> np.ndarray:
        """W_hh^T (H, 4H) contiguous: a faster GEMM operand than the view W_hh.T."""
        from rnnkit import kernels

        W = np.empty(W_hh.shape[::-1], dtype=self.dtype)
        kernels.transpose(W_hh, W)
        return W

    def _loop(self, gates, x_proj, scale, hs, cs, tanh_c, W, zero_start: bool) -> None:
        T, B, _ = gates.shape
        H = self.hidden_size
        rec = np.empty((B, 4 * H), dtype=self.dtype)  # h_{t-1} W_hh^T, scaled
        ig = np.empty((B, H), dtype=self.dtype)  # i ⊙ g
        for t in range(T):
            z = gates[t]
            if x_proj is not None:
                np.multiply(x_proj[t], scale, out=z)
            if t > 0 or not zero_start:
                np.matmul(hs[t], W, out=rec)  # (B, 4H)
                z += rec
            self._activate(z)  # z = i, f, g, o
            np.multiply(z[:, H : 2 * H], cs[t], out=cs[t + 1])
            np.multiply(z[:, :H], z[:, 2 * H : 3 * H], out=ig)
            cs[t + 1] += ig  # c_t = f ⊙ c_{t-1} + i ⊙ g
            np.tanh(cs[t + 1], out=tanh_c[t])
            np.multiply(z[:, 3 * H :], tanh_c[t], out=hs[t + 1])

    def step(
        self,
        x_proj: np.ndarray,
        state: LSTMState,
        rows: np.ndarray | None = None,
        x_rows: np.ndarray | None = None,
    ) -> tuple[np.ndarray, LSTMState]:
        """One step for generation, keeping nothing for backward: x_proj (B, 4H) = W_ih x_t + b -> h_t, (h_t, c_t).

        rows (B,): the state row each new row continues (default: row b continues row b); rows that continue
        the same state share its recurrent product (see `_recurrent_products`). x_rows (B,): row b's input is
        x_proj[x_rows[b]], for x_proj a lookup table (`input_table`).
        """
        H, (h, c) = self.hidden_size, state
        if self._fused:  # the kernel reads x_proj, the shared products and c by row index
            from rnnkit import kernels

            z, which = self._recurrent_products(h, rows)  # (P, 4H)
            B = len(x_proj) if x_rows is None else len(x_rows)
            every = np.arange(B)
            h, c_new = np.empty((2, B, H), dtype=self.dtype)  # (B, H) each, one allocation
            kernels.lstm_step(
                np.ascontiguousarray(x_proj, self.dtype), every if x_rows is None else x_rows,
                z, every if rows is None else which, self._gate_scale, self._gate_shift,
                c, every if rows is None else rows, c_new, h,
            )  # fmt: skip
            return h, (h, c_new)
        x_proj, z = self._step_inputs(x_proj, x_rows, h, rows)  # (B, 4H) each
        if rows is not None:
            c = c[rows]  # (B, H)
        z += x_proj
        z *= self._gate_scale
        self._activate(z)  # z = i, f, g, o
        c = z[:, H : 2 * H] * c
        c += z[:, :H] * z[:, 2 * H : 3 * H]  # c_t = f ⊙ c_{t-1} + i ⊙ g
        h = np.tanh(c)
        h *= z[:, 3 * H :]
        return h, (h, c)

    def backward(
        self, dhs: np.ndarray, cache: LSTMCache, dstate: LSTMState | None = None, state_grads: bool = True
    ) -> tuple[np.ndarray, LSTMState | None]:
        """Backpropagate dhs = dL/dh_t (T, B, H) and dstate = (dL/dh_T, dL/dc_T) through time.

        Adds dW_ih, dW_hh, db into self.grads; returns dx (T, B, D) (dL/dx_proj (T, B, 4H) when forward was
        given x_proj, whose W_ih and b gradients are then the caller's) and (dL/dh_0, dL/dc_0), or None with
        state_grads=False, which skips the last step's product dz_0 W_hh (a caller that truncates there).
        """
        T, B, H = dhs.shape
        W_hh, gates, tanh_c, cs = self.params["W_hh"], cache.gates, cache.tanh_c, cache.cs
        dz = np.empty_like(gates)  # (T, B, 4H) dL/dz_t
        dh = np.empty((B, H), dtype=self.dtype)  # dL/dh_t
        dh_rec = np.zeros((B, H), dtype=self.dtype)  # dL/dh_t through h_{t+1}
        dc = np.zeros((B, H), dtype=self.dtype)
        if dstate is not None:
            dh_rec[...], dc[...] = dstate
        if self._fused:
            from rnnkit import kernels

            dhs = np.ascontiguousarray(dhs, self.dtype)
            W_t = self._contiguous_transpose(W_hh) if cache.W_hh_t is None else cache.W_hh_t  # (H, 4H)
            dh_rec_t = np.empty((H, B), dtype=self.dtype)  # (dL/dh_{t-1})^T
            for t in reversed(range(T)):
                kernels.lstm_backward_step(dh_rec, dhs[t], gates[t], tanh_c[t], cs[t], dc, dz[t])
                # dL/dh_{t-1} = dz_t W_hh, computed as its transpose W_hh^T dz_t^T (H, B): with the long side
                # (H) first, OpenBLAS computes it faster (0.36-0.38 ms against 0.44-0.50 for B=32, H=512 on two
                # threads of this project's Xeon, 0.67-0.74 against 0.72-0.80 on one: benchmarks/step_profile.py
                # --products); the small transpose back costs about 7 us.
                if t > 0 or state_grads:
                    np.matmul(W_t, dz[t].T, out=dh_rec_t)
                    kernels.transpose(dh_rec_t, dh_rec)  # (B, H)
            return self._weight_grads(dz, cache.x, cache.hs[:T]), (dh_rec, dc) if state_grads else None
        tmp = np.empty((B, H), dtype=self.dtype)
        for t in reversed(range(T)):
            a, d, tc = gates[t], dz[t], tanh_c[t]
            i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            d_if, d_g, d_o = d[:, : 2 * H], d[:, 2 * H : 3 * H], d[:, 3 * H :]
            np.add(dh_rec, dhs[t], out=dh)
            np.multiply(tc, tc, out=tmp)
            np.subtract(1.0, tmp, out=tmp)
            tmp *= o
            tmp *= dh
            dc += tmp  # through h_t = o ⊙ tanh(c_t)
            np.subtract(1.0, o, out=d_o)
            d_o *= o
            d_o *= tc
            d_o *= dh  # dz_o = dh ⊙ tanh(c) ⊙ σ'
            np.subtract(1.0, a[:, : 2 * H], out=d_if)
            d_if *= a[:, : 2 * H]
            d[:, :H] *= g  # dz_i = dc ⊙ g ⊙ σ'
            d[:, H : 2 * H] *= cs[t]  # dz_f = dc ⊙ c_{t-1} ⊙ σ'
            d_if.reshape(B, 2, H).__imul__(dc[:, None, :])
            np.multiply(g, g, out=d_g)
            np.subtract(1.0, d_g, out=d_g)
            d_g *= i
            d_g *= dc  # dz_g = dc ⊙ i ⊙ tanh'
            dc *= f  # dL/dc_{t-1}
            if t > 0 or state_grads:
                np.matmul(d, W_hh, out=dh_rec)  # (B, H) dL/dh_{t-1}
        dx = self._weight_grads(dz, cache.x, cache.hs[:T])
        return dx, (dh_rec, dc) if state_grads else None
