"""The GRU layer over a whole sequence, with torch's gate order r, z, n and torch's equations.

    r = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)          reset
    z = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)          update
    n = tanh(W_in x_t + b_in + r ⊙ (W_hn h_{t-1} + b_hn)) candidate
    h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

The reset gate multiplies W_hn h + b_hn (not h itself), which is why the GRU keeps two biases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.nn.recurrent import Recurrent, sigmoid


@dataclass(frozen=True)
class GRUCache:
    x: np.ndarray  # (T, B, D) the inputs
    hs: np.ndarray  # (T+1, B, H) h_0 .. h_T
    gates: np.ndarray  # (T, B, 3H) activated r, z, n
    h_n: np.ndarray  # (T, B, H) W_hn h_{t-1} + b_hn, which r multiplied


class GRU(Recurrent):
    """One GRU layer. params: W_ih (3H, D), W_hh (3H, H), b_ih (3H,), b_hh (3H,)."""

    gates = 3

    def bias_names(self) -> tuple[str, ...]:
        return ("b_ih", "b_hh")

    def forward(self, x: np.ndarray, state: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, GRUCache]:
        """Run the layer over x (T, B, D) from h_0 = state (B, H) or zeros.

        Returns hs (T, B, H), the final h_T (B, H) and the cache backward needs.
        """
        self._check_input(x)
        T, B, _ = x.shape
        H, W_hh, b_hh = self.hidden_size, self.params["W_hh"], self.params["b_hh"]
        hs = np.empty((T + 1, B, H), dtype=self.dtype)
        hs[0] = self.initial_state(B) if state is None else state
        gates = self._project_inputs(x, self.params["b_ih"])  # (T, B, 3H), activated in place below
        h_n = np.empty((T, B, H), dtype=self.dtype)
        for t in range(T):
            h_proj = hs[t] @ W_hh.T  # (B, 3H)
            h_proj += b_hh
            a = gates[t]
            a[:, : 2 * H] += h_proj[:, : 2 * H]
            sigmoid(a[:, : 2 * H], out=a[:, : 2 * H])  # r, z
            r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
            h_n[t] = h_proj[:, 2 * H :]
            n += r * h_n[t]
            np.tanh(n, out=n)
            np.subtract(hs[t], n, out=hs[t + 1])
            hs[t + 1] *= z
            hs[t + 1] += n  # h_t = n + z ⊙ (h_{t-1} - n)
        return hs[1:], hs[T].copy(), GRUCache(x, hs, gates, h_n)

    def backward(
        self, dhs: np.ndarray, cache: GRUCache, dstate: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Backpropagate dhs = dL/dh_t (T, B, H) and dstate = dL/dh_T (B, H) through time.

        Adds dW_ih, dW_hh, db_ih, db_hh into self.grads; returns dx (T, B, D) and dL/dh_0 (B, H).
        """
        T = dhs.shape[0]
        H, W_hh = self.hidden_size, self.params["W_hh"]
        dx_proj = np.empty_like(cache.gates)  # (T, B, 3H) dL/d(W_ih x_t + b_ih)
        dh_proj = np.empty_like(cache.gates)  # (T, B, 3H) dL/d(W_hh h_{t-1} + b_hh)
        dh = np.zeros_like(cache.hs[0]) if dstate is None else dstate.astype(self.dtype, copy=True)
        for t in reversed(range(T)):
            gate, h_prev = cache.gates[t], cache.hs[t]
            r, z, n = gate[:, :H], gate[:, H : 2 * H], gate[:, 2 * H :]
            dh += dhs[t]
            da_n = dh * (1.0 - z) * (1.0 - n * n)  # (B, H) dL/d(pre-tanh of n)
            dx_proj[t, :, 2 * H :] = da_n
            np.multiply(da_n, r, out=dh_proj[t, :, 2 * H :])
            dx_proj[t, :, :H] = da_n * cache.h_n[t] * r * (1.0 - r)  # dz_r
            dx_proj[t, :, H : 2 * H] = dh * (h_prev - n) * z * (1.0 - z)  # dz_z
            dh_proj[t, :, : 2 * H] = dx_proj[t, :, : 2 * H]  # r and z see x and h through one sum
            dh_prev = dh_proj[t] @ W_hh  # (B, H)
            dh_prev += dh * z  # the direct path h_t = ... + z ⊙ h_{t-1}
            dh = dh_prev
        self.grads["b_ih"] += dx_proj.sum(axis=(0, 1))
        self.grads["b_hh"] += dh_proj.sum(axis=(0, 1))
        self._recurrent_grads(dh_proj, cache.hs[:T])
        return self._input_grads(dx_proj, cache.x), dh
