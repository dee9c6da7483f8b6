"""Inverted dropout: zero each unit with probability p and scale the survivors by 1/(1-p) while training,
so nothing changes at evaluation time."""

from __future__ import annotations

import numpy as np


def dropout_mask(shape: tuple[int, ...], p: float, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """A mask of 0 and 1/(1-p) to multiply activations by; its backward is the same multiplication."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {p}")
    dtype = np.dtype(dtype)
    keep = rng.random(shape, dtype=np.float32 if dtype == np.float32 else np.float64) >= p
    scale = np.asarray(1.0, dtype=dtype) / np.asarray(1.0 - p, dtype=dtype)  # the value keep / (1 - p) takes
    return np.multiply(keep, scale, dtype=dtype)
