"""What RNN, LSTM and GRU share: weights shaped like torch's, and the two big matrix products.

A recurrent layer spends its time in three places. Two of them do not depend on the recurrence and are done
once for the whole sequence, as one matrix product each:
- the input projection  x_proj = x W_ih^T + b            (T*B, D) @ (D, G*H) -> (T*B, G*H)
- the weight gradients  dW_ih = sum_t dz_t^T x_t,  dW_hh = sum_t dz_t^T h_{t-1}
The third, h_{t-1} @ W_hh^T at each step, is the recurrence itself and stays in the time loop.
"""

from __future__ import annotations

import numpy as np


class Recurrent:
    """Base of the sequence layers: owns `params` and `grads` (dicts with the same keys), keeps no state.

    Weights are initialised as torch does, U(-1/sqrt(H), 1/sqrt(H)), so a layer and its torch twin start alike.
    """

    gates = 1  # G: how many H-sized blocks the pre-activation z has (RNN 1, GRU 3, LSTM 4)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        rng: np.random.Generator | None = None,
        dtype: type = np.float32,
    ):
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"input_size and hidden_size must be >= 1, got {input_size}, {hidden_size}")
        rng = np.random.default_rng(0) if rng is None else rng
        self.input_size, self.hidden_size, self.dtype = input_size, hidden_size, np.dtype(dtype)
        GH, D, H = self.gates * hidden_size, input_size, hidden_size
        k = 1.0 / np.sqrt(hidden_size)

        def uniform(*shape: int) -> np.ndarray:
            return rng.uniform(-k, k, size=shape).astype(self.dtype)

        self.params: dict[str, np.ndarray] = {"W_ih": uniform(GH, D), "W_hh": uniform(GH, H)}
        for name in self.bias_names():
            self.params[name] = uniform(GH)
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

    def bias_names(self) -> tuple[str, ...]:
        return ("b",)

    def zero_grad(self) -> None:
        for g in self.grads.values():
            g.fill(0)

    def initial_state(self, batch_size: int) -> np.ndarray:
        return np.zeros((batch_size, self.hidden_size), dtype=self.dtype)

    def _check_input(self, x: np.ndarray) -> None:
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"expected x of shape (T, B, {self.input_size}), got {x.shape}")

    def _project_inputs(self, x: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """All input projections in one GEMM: (T, B, D) -> (T, B, G*H)."""
        T, B, D = x.shape
        x_proj = x.reshape(T * B, D) @ self.params["W_ih"].T  # (T*B, G*H)
        x_proj += bias
        return x_proj.reshape(T, B, -1)  # (T, B, G*H)

    def _input_grads(self, dz: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Given dz = dL/dx_proj (T, B, G*H): add dW_ih, return dx = dz W_ih  (T, B, D)."""
        T, B, GH = dz.shape
        dz2 = dz.reshape(T * B, GH)
        self.grads["W_ih"] += dz2.T @ x.reshape(T * B, -1)  # (G*H, D)
        return (dz2 @ self.params["W_ih"]).reshape(T, B, -1)  # (T, B, D)

    def _recurrent_grads(self, dz_h: np.ndarray, h_prev: np.ndarray) -> None:
        """Given dz_h = dL/d(h_{t-1} W_hh^T) for every t (T, B, G*H) and h_prev (T, B, H): add dW_hh."""
        T, B, GH = dz_h.shape
        self.grads["W_hh"] += dz_h.reshape(T * B, GH).T @ h_prev.reshape(T * B, -1)  # (G*H, H)


def sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """σ(z) = 1 / (1 + e^-z), computed as (1 + tanh(z/2)) / 2: no overflow for any z, in place when out is z."""
    out = np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out
