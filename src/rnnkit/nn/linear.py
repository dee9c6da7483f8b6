"""A fully connected layer y = x W^T + b over any leading axes (or y = x W^T, without the bias)."""

from __future__ import annotations

import numpy as np


class Linear:
    """params: W (out, in), b (out,) unless bias=False, initialised U(-1/sqrt(in), 1/sqrt(in)) as torch does."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        rng: np.random.Generator | None = None,
        dtype=np.float32,
        bias: bool = True,
    ):
        if in_features < 1 or out_features < 1:
            raise ValueError(f"sizes must be >= 1, got {in_features}, {out_features}")
        rng = np.random.default_rng(0) if rng is None else rng
        k = 1.0 / np.sqrt(in_features)
        self.params = {
            "W": rng.uniform(-k, k, size=(out_features, in_features)).astype(dtype),
        }
        if bias:
            self.params["b"] = rng.uniform(-k, k, size=out_features).astype(dtype)
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

    def zero_grad(self) -> None:
        for g in self.grads.values():
            g.fill(0)

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x (..., in) -> y (..., out); the cache is x."""
        y = x @ self.params["W"].T  # (..., out)
        if "b" in self.params:
            y += self.params["b"]
        return y, x

    def backward(self, dy: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Add dW = dy^T x and db = sum dy (with a bias); return dx = dy W  (..., in)."""
        n_out, n_in = self.params["W"].shape
        dy2, x2 = dy.reshape(-1, n_out), x.reshape(-1, n_in)  # (N, out), (N, in)
        self.grads["W"] += dy2.T @ x2
        if "b" in self.grads:
            self.grads["b"] += dy2.sum(axis=0)
        return dy @ self.params["W"]  # (..., in)
