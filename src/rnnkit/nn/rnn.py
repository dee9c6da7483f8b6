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
    x: np.ndarray | None  # (T, B, D) the inputs, or None when forward was given x_proj
    hs: np.ndarray  # (T+1, B, H) h_0 .. h_T


class RNN(Recurrent):
    """One tanh RNN layer. params: W_ih (H, D), W_hh (H, H), b (H,) (torch's b_ih + b_hh)."""

    gates = 1

    def forward(
        self, x: np.ndarray | None, state: np.ndarray | None = None, *, x_proj: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, RNNCache]:
        """Run the layer over x (T, B, D) from h_0 = state (B, H) or zeros.

        x_proj (T, B, H) or `TableRows`, when given, stands for x W_ih^T + b (see `input_table`) and x may be None.
        Returns hs (T, B, H), the final h_T (B, H) and the cache backward needs.
        """
        T, B = self._steps(x, x_proj)
        hs = np.empty((T + 1, B, self.hidden_size), dtype=self.dtype)  # (T+1, B, H)
        _, source = self._inputs(x, x_proj, out=hs[1:])  # x W_ih^T + b, overwritten step by step by h_t
        hs[0] = self._initial(state, B)
        W = np.ascontiguousarray(self.params["W_hh"].T)  # (H, H)
        rec = np.empty_like(hs[0])
        for t in range(T):
            h = hs[t + 1]
            np.matmul(hs[t], W, out=rec)  # (B, H)
            np.add(rec, h if source is None else source[t], out=h)
            np.tanh(h, out=h)
        return hs[1:], hs[T].copy(), RNNCache(x if x_proj is None else None, hs)

    def step(
        self, x_proj: np.ndarray, state: np.ndarray, rows: np.ndarray | None = None, x_rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One step for generation, keeping nothing for backward: x_proj (B, H) = W_ih x_t + b -> h_t, h_t.

        rows (B,): the state row each new row continues (default: row b continues row b). x_rows (B,): row b's
        input is x_proj[x_rows[b]], for x_proj a lookup table (`input_table`).
        """
        x_proj, h = self._step_inputs(x_proj, x_rows, state, rows)  # (B, H) each
        h += x_proj
        np.tanh(h, out=h)
        return h, h

    def backward(
        self, dhs: np.ndarray, cache: RNNCache, dstate: np.ndarray | None = None, state_grads: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Backpropagate dhs = dL/dh_t (T, B, H) and dstate = dL/dh_T (B, H) through time.

        Adds dW_ih, dW_hh, db into self.grads; returns dx (T, B, D) (dL/dx_proj (T, B, H) when forward was
        given x_proj, whose W_ih and b gradients are then the caller's) and dL/dh_0 (B, H), or None with
        state_grads=False, which skips the last step's product (a caller that truncates there).
        """
        hs, W_hh = cache.hs, self.params["W_hh"]
        T, B, H = dhs.shape
        dz = np.multiply(hs[1:], hs[1:])  # (T, B, H) dL/d(pre-activation), starting as h²
        np.subtract(1.0, dz, out=dz)  # tanh' = 1 - h², for every step at once
        dh = np.zeros((B, H), dtype=self.dtype) if dstate is None else np.array(dstate, dtype=self.dtype)
        for t in reversed(range(T)):
            dh += dhs[t]
            dz[t] *= dh
            if t > 0 or state_grads:
                np.matmul(dz[t], W_hh, out=dh)  # (B, H) dL/dh_{t-1}
        return self._weight_grads(dz, cache.x, hs[:T]), dh if state_grads else None
