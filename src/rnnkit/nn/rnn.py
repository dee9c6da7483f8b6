"""The plain (Elman) recurrent layer with tanh, over a whole sequence.

    h_t = tanh(W_ih x_t + W_hh h_{t-1} + b)

This is the seed's RNN cell, a<t> = tanh(Waa a<t-1> + Wax x<t> + ba), with W_ih = Wax, W_hh = Waa, b = ba and
the batch as rows (see docs/notation.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.nn.recurrent import Recurrent


@dataclass(frozen=True)
class RNNCache:
    x: np.ndarray  # (T, B, D) the inputs
    hs: np.ndarray  # (T+1, B, H) h_0 .. h_T


class RNN(Recurrent):
    """One tanh RNN layer. params: W_ih (H, D), W_hh (H, H), b (H,) (torch's b_ih + b_hh)."""

    gates = 1

    def forward(self, x: np.ndarray, state: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, RNNCache]:
        """Run the layer over x (T, B, D) from h_0 = state (B, H) or zeros.

        Returns hs (T, B, H), the final h_T (B, H) and the cache backward needs.
        """
        self._check_input(x)
        T, B, _ = x.shape
        W_hh = self.params["W_hh"]
        hs = np.empty((T + 1, B, self.hidden_size), dtype=self.dtype)  # (T+1, B, H)
        hs[0] = self.initial_state(B) if state is None else state
        hs[1:] = self._project_inputs(x, self.params["b"])  # x_proj, overwritten step by step by h_t
        for t in range(T):
            h = hs[t + 1]
            h += hs[t] @ W_hh.T  # (B, H)
            np.tanh(h, out=h)
        return hs[1:], hs[T].copy(), RNNCache(x, hs)

    def backward(
        self, dhs: np.ndarray, cache: RNNCache, dstate: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Backpropagate dhs = dL/dh_t (T, B, H) and dstate = dL/dh_T (B, H) through time.

        Adds dW_ih, dW_hh, db into self.grads; returns dx (T, B, D) and dL/dh_0 (B, H).
        """
        hs, W_hh = cache.hs, self.params["W_hh"]
        T = dhs.shape[0]
        dz = np.empty_like(dhs)  # (T, B, H) dL/d(pre-activation)
        dh = np.zeros_like(hs[0]) if dstate is None else dstate.astype(self.dtype, copy=True)
        for t in reversed(range(T)):
            dh += dhs[t]
            h = hs[t + 1]
            np.multiply(dh, 1.0 - h * h, out=dz[t])  # tanh' = 1 - h^2
            dh = dz[t] @ W_hh  # (B, H) dL/dh_{t-1}
        self.grads["b"] += dz.sum(axis=(0, 1))
        self._recurrent_grads(dz, hs[:T])
        return self._input_grads(dz, cache.x), dh
