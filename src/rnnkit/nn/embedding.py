"""Token ids -> vectors, a row lookup whose backward is a scatter-add."""

from __future__ import annotations

import numpy as np


class Embedding:
    """A table W (V, E); forward(ids) = W[ids]. params: W, initialised N(0, 1) as torch does."""

    def __init__(
        self, num_embeddings: int, embedding_dim: int, rng: np.random.Generator | None = None, dtype=np.float32
    ):
        if num_embeddings < 1 or embedding_dim < 1:
            raise ValueError(f"sizes must be >= 1, got {num_embeddings}, {embedding_dim}")
        rng = np.random.default_rng(0) if rng is None else rng
        self.params = {"W": rng.standard_normal((num_embeddings, embedding_dim)).astype(dtype)}
        self.grads = {"W": np.zeros_like(self.params["W"])}

    def zero_grad(self) -> None:
        self.grads["W"].fill(0)

    def forward(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ids (...) int -> vectors (..., E); the cache is the ids."""
        return self.params["W"][ids], ids

    def backward(self, dout: np.ndarray, ids: np.ndarray) -> None:
        """Add dL/dW: row ids[k] receives dout[k], summed over repeats (np.add.at)."""
        E = self.params["W"].shape[1]
        np.add.at(self.grads["W"], ids.ravel(), dout.reshape(-1, E))
