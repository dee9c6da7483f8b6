"""The LSTM layer over a whole sequence, gates in torch's order i, f, g, o.

    z_t = W_ih x_t + W_hh h_{t-1} + b                     (B, 4H)
    i, f, g, o = σ(z_i), σ(z_f), tanh(z_g), σ(z_o)        input, forget, candidate, output
    c_t = f ⊙ c_{t-1} + i ⊙ g
    h_t = o ⊙ tanh(c_t)

The seed writes the same cell with Γu = i, Γf = f, c̃ = g, Γo = o and weights acting on [a_{t-1}; x_t].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.nn.recurrent import Recurrent, sigmoid

LSTMState = tuple[np.ndarray, np.ndarray]  # (h, c), each (B, H)


@dataclass(frozen=True)
class LSTMCache:
    x: np.ndarray  # (T, B, D) the inputs
    hs: np.ndarray  # (T+1, B, H) h_0 .. h_T
    cs: np.ndarray  # (T+1, B, H) c_0 .. c_T
    gates: np.ndarray  # (T, B, 4H) activated i, f, g, o
    tanh_c: np.ndarray  # (T, B, H) tanh(c_t)


class LSTM(Recurrent):
    """One LSTM layer. params: W_ih (4H, D), W_hh (4H, H), b (4H,) (torch's b_ih + b_hh)."""

    gates = 4

    def initial_lstm_state(self, batch_size: int) -> LSTMState:
        return self.initial_state(batch_size), self.initial_state(batch_size)

    def forward(self, x: np.ndarray, state: LSTMState | None = None) -> tuple[np.ndarray, LSTMState, LSTMCache]:
        """Run the layer over x (T, B, D) from state = (h_0, c_0) or zeros.

        Returns hs (T, B, H), the final (h_T, c_T) and the cache backward needs.
        """
        self._check_input(x)
        T, B, _ = x.shape
        H, W_hh = self.hidden_size, self.params["W_hh"]
        hs = np.empty((T + 1, B, H), dtype=self.dtype)
        cs = np.empty((T + 1, B, H), dtype=self.dtype)
        hs[0], cs[0] = self.initial_lstm_state(B) if state is None else state
        gates = self._project_inputs(x, self.params["b"])  # (T, B, 4H), activated in place below
        tanh_c = np.empty((T, B, H), dtype=self.dtype)
        for t in range(T):
            z = gates[t]
            z += hs[t] @ W_hh.T  # (B, 4H)
            sigmoid(z[:, : 2 * H], out=z[:, : 2 * H])  # i, f
            np.tanh(z[:, 2 * H : 3 * H], out=z[:, 2 * H : 3 * H])  # g
            sigmoid(z[:, 3 * H :], out=z[:, 3 * H :])  # o
            i, f, g, o = z[:, :H], z[:, H : 2 * H], z[:, 2 * H : 3 * H], z[:, 3 * H :]
            c = cs[t + 1]
            np.multiply(f, cs[t], out=c)
            c += i * g
            np.tanh(c, out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=hs[t + 1])
        state = (hs[T].copy(), cs[T].copy())
        return hs[1:], state, LSTMCache(x, hs, cs, gates, tanh_c)

    def backward(
        self, dhs: np.ndarray, cache: LSTMCache, dstate: LSTMState | None = None
    ) -> tuple[np.ndarray, LSTMState]:
        """Backpropagate dhs = dL/dh_t (T, B, H) and dstate = (dL/dh_T, dL/dc_T) through time.

        Adds dW_ih, dW_hh, db into self.grads; returns dx (T, B, D) and (dL/dh_0, dL/dc_0).
        """
        T = dhs.shape[0]
        H, W_hh = self.hidden_size, self.params["W_hh"]
        dz = np.empty_like(cache.gates)  # (T, B, 4H) dL/dz_t
        if dstate is None:
            dh, dc = np.zeros_like(cache.hs[0]), np.zeros_like(cache.cs[0])
        else:
            dh, dc = (s.astype(self.dtype, copy=True) for s in dstate)
        for t in reversed(range(T)):
            gate = cache.gates[t]
            i, f, g, o = gate[:, :H], gate[:, H : 2 * H], gate[:, 2 * H : 3 * H], gate[:, 3 * H :]
            tc = cache.tanh_c[t]
            dh += dhs[t]
            dc += dh * o * (1.0 - tc * tc)  # through h_t = o ⊙ tanh(c_t)
            d = dz[t]
            np.multiply(dc, g * i * (1.0 - i), out=d[:, :H])  # dz_i = dc ⊙ g ⊙ σ'
            np.multiply(dc, cache.cs[t] * f * (1.0 - f), out=d[:, H : 2 * H])  # dz_f = dc ⊙ c_{t-1} ⊙ σ'
            np.multiply(dc, i * (1.0 - g * g), out=d[:, 2 * H : 3 * H])  # dz_g = dc ⊙ i ⊙ tanh'
            np.multiply(dh, tc * o * (1.0 - o), out=d[:, 3 * H :])  # dz_o = dh ⊙ tanh(c) ⊙ σ'
            dc *= f  # dL/dc_{t-1}
            dh = d @ W_hh  # (B, H) dL/dh_{t-1}
        self.grads["b"] += dz.sum(axis=(0, 1))
        self._recurrent_grads(dz, cache.hs[:T])
        return self._input_grads(dz, cache.x), (dh, dc)
