"""The GRU layer over a whole sequence, with torch's gate order r, z, n and torch's equations.

    r = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)          reset
    z = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)          update
    n = tanh(W_in x_t + b_in + r ⊙ (W_hn h_{t-1} + b_hn)) candidate
    h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

The reset gate multiplies W_hn h + b_hn (not h itself), which is why the GRU keeps two biases.

Speed: as in the LSTM, σ(z) = (1 + tanh(z/2)) / 2 with the halving folded into the weight copies, and the
backward pass computes every step's local derivatives at once before the loop over time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.nn.recurrent import Recurrent


@dataclass(frozen=True)
class GRUCache:
    x: np.ndarray | None  # (T, B, D) the inputs, or None when forward was given x_proj
    hs: np.ndarray  # (T+1, B, H) h_0 .. h_T
    gates: np.ndarray  # (T, B, 3H) activated r, z, n
    h_n: np.ndarray  # (T, B, H) W_hn h_{t-1} + b_hn, which r multiplied


class GRU(Recurrent):
    """One GRU layer. params: W_ih (3H, D), W_hh (3H, H), b_ih (3H,), b_hh (3H,)."""

    gates = 3
    input_bias = "b_ih"

    def bias_names(self) -> tuple[str, ...]:
        return ("b_ih", "b_hh")

    def forward(
        self, x: np.ndarray | None, state: np.ndarray | None = None, *, x_proj: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, GRUCache]:
        """Run the layer over x (T, B, D) from h_0 = state (B, H) or zeros.

        x_proj (T, B, 3H) or `TableRows`, when given, stands for x W_ih^T + b_ih (see `input_table`); x may be None.
        Returns hs (T, B, H), the final h_T (B, H) and the cache backward needs.
        """
        H, b_hh = self.hidden_size, self.params["b_hh"]
        a = np.ones(3 * H, dtype=self.dtype)
        a[: 2 * H] = 0.5  # halve r and z: σ(z) = tanh(z/2) / 2 + 1/2
        gates, source = self._inputs(x, x_proj, a)  # (T, B, 3H), activated in place below
        T, B, _ = gates.shape
        W = np.multiply(self.params["W_hh"].T, a, order="C")  # (H, 3H) contiguous
        b_hn = b_hh[2 * H :]
        hs = np.empty((T + 1, B, H), dtype=self.dtype)
        hs[0] = self._initial(state, B)
        h_n = np.empty((T, B, H), dtype=self.dtype)
        rec = np.empty((B, 3 * H), dtype=self.dtype)  # h_{t-1} W_hh^T, scaled
        rh = np.empty((B, H), dtype=self.dtype)  # r ⊙ h_n
        rec_bias = b_hh[: 2 * H] * a[: 2 * H]  # b_hr, b_hz: they add to the gates as b_ir, b_iz do
        for t in range(T):
            g = gates[t]
            if source is not None:
                np.multiply(source[t], a, out=g)
            np.matmul(hs[t], W, out=rec)  # (B, 3H)
            rz = g[:, : 2 * H]
            rz += rec[:, : 2 * H]
            rz += rec_bias
            np.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5  # r, z
            np.add(rec[:, 2 * H :], b_hn, out=h_n[t])
            np.multiply(g[:, :H], h_n[t], out=rh)
            n = g[:, 2 * H :]
            n += rh
            np.tanh(n, out=n)
            np.subtract(hs[t], n, out=hs[t + 1])
            hs[t + 1] *= g[:, H : 2 * H]
            hs[t + 1] += n  # h_t = n + z ⊙ (h_{t-1} - n)
        return hs[1:], hs[T].copy(), GRUCache(x if x_proj is None else None, hs, gates, h_n)

    def step(
        self, x_proj: np.ndarray, state: np.ndarray, rows: np.ndarray | None = None, x_rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One step for generation, keeping nothing for backward: x_proj (B, 3H) = W_ih x_t + b_ih -> h_t, h_t.

        rows (B,): the state row each new row continues (default: row b continues row b). x_rows (B,): row b's
        input is x_proj[x_rows[b]], for x_proj a lookup table (`input_table`).
        """
        H, h = self.hidden_size, state
        x_proj, rec = self._step_inputs(x_proj, x_rows, h, rows)  # (B, 3H) each
        rec += self.params["b_hh"]
        if rows is not None:
            h = h[rows]  # (B, H)
        rz = x_proj[:, : 2 * H] + rec[:, : 2 * H]
        rz *= 0.5
        np.tanh(rz, out=rz)
        rz += 1.0
        rz *= 0.5  # r, z
        n = rz[:, :H] * rec[:, 2 * H :]
        n += x_proj[:, 2 * H :]
        np.tanh(n, out=n)
        h = h - n
        h *= rz[:, H:]
        h += n  # h_t = n + z ⊙ (h_{t-1} - n)
        return h, h

    def backward(
        self, dhs: np.ndarray, cache: GRUCache, dstate: np.ndarray | None = None, state_grads: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Backpropagate dhs = dL/dh_t (T, B, H) and dstate = dL/dh_T (B, H) through time.

        Adds dW_ih, dW_hh, db_ih, db_hh into self.grads; returns dx (T, B, D) (dL/dx_proj (T, B, 3H) when
        forward was given x_proj, whose W_ih and b_ih gradients are then the caller's) and dL/dh_0 (B, H), or
        None with state_grads=False, which skips the last step's product (a caller that truncates there).
        """
        T, B, H = dhs.shape
        W_hh, gates, h_prev = self.params["W_hh"], cache.gates, cache.hs[:T]
        r, z, n = (gates[..., k * H : (k + 1) * H] for k in range(3))  # (T, B, H) each
        # every gradient of step t is dh_t times a local factor, computed here for all steps at once:
        # d(pre-n) = dh (1 - z)(1 - n²),  d(pre-z) = dh (h_{t-1} - n) σ'(z),  d(pre-r) = d(pre-n) h_n σ'(r)
        dx_proj = np.empty_like(gates)  # (T, B, 3H) the factors, then dL/d(W_ih x_t + b_ih)
        f_r, f_z, f_n = (dx_proj[..., k * H : (k + 1) * H] for k in range(3))
        np.multiply(n, n, out=f_n)
        np.subtract(1.0, f_n, out=f_n)
        one_minus_z = np.subtract(1.0, z)
        f_n *= one_minus_z
        np.subtract(h_prev, n, out=f_z)
        f_z *= z
        f_z *= one_minus_z
        np.multiply(r, r, out=f_r)
        np.subtract(r, f_r, out=f_r)
        f_r *= cache.h_n
        f_r *= f_n
        dh_proj = dx_proj.copy()  # (T, B, 3H) dL/d(W_hh h_{t-1} + b_hh): as dx_proj, but r scales the n part
        dh_proj[..., 2 * H :] *= r
        dh_proj3 = dh_proj.reshape(T, B, 3, H)

        dh_all = np.empty((T, B, H), dtype=self.dtype)  # dL/dh_t, every step
        dh_rec = np.zeros((B, H), dtype=self.dtype) if dstate is None else np.array(dstate, dtype=self.dtype)
        tmp = np.empty((B, H), dtype=self.dtype)
        for t in reversed(range(T)):
            dh = dh_all[t]
            np.add(dh_rec, dhs[t], out=dh)
            np.multiply(dh_proj3[t], dh[:, None, :], out=dh_proj3[t])
            if t == 0 and not state_grads:
                break
            np.matmul(dh_proj[t], W_hh, out=dh_rec)  # (B, H)
            np.multiply(dh, z[t], out=tmp)
            dh_rec += tmp  # the direct path h_t = ... + z ⊙ h_{t-1}
        dx_proj3 = dx_proj.reshape(T, B, 3, H)
        np.multiply(dx_proj3, dh_all[:, :, None, :], out=dx_proj3)
        self.grads["b_hh"] += dh_proj.reshape(T * B, -1).sum(axis=0)
        return self._weight_grads(dx_proj, cache.x, h_prev, dz_h=dh_proj), dh_rec if state_grads else None
