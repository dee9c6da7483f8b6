"""Token ids -> vectors, a row lookup whose backward is a scatter-add."""

from __future__ import annotations

import numpy as np

ONE_HOT_LIMIT = 1 << 22  # entries of the (V, N) one-hot matrix beyond which sum_rows falls back to np.add.at


def sum_rows(ids: np.ndarray, d: np.ndarray, num_rows: int) -> np.ndarray:
    """out[v] = sum of d[k] over the positions k where ids[k] == v: (num_rows, K), for ids (...) and d (..., K).

    The backward of a row lookup. It runs as one GEMM with a one-hot (num_rows, N) matrix, far faster than
    np.add.at for the small vocabularies of character models.
    """
    flat = ids.reshape(-1)
    d2 = d.reshape(flat.size, -1)  # (N, K)
    if num_rows * flat.size > ONE_HOT_LIMIT:
        out = np.zeros((num_rows, d2.shape[1]), dtype=d.dtype)
        np.add.at(out, flat, d2)
        return out
    one_hot = np.equal.outer(np.arange(num_rows), flat).astype(d.dtype)  # (V, N)
    return one_hot @ d2  # (V, K)


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
        """Add dL/dW: row ids[k] receives dout[k], summed over repeats."""
        self.grads["W"] += sum_rows(ids, dout, self.params["W"].shape[0])
