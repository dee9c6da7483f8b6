"""Dropout for recurrent nets, all inverted: zero with probability p, scale the survivors by 1/(1-p) while
training, so nothing changes at evaluation time.

- `dropout_mask` of an activation's shape: a fresh choice for every unit at every step (standard dropout);
- `locked_mask` (variational dropout, Gal & Ghahramani 2016): one mask per sequence, (1, B, H), the same units
  dropped at every time step of that sequence;
- `row_mask` (embedding dropout, Merity et al. 2017): whole rows of a table (V, 1), a character's vector dropped
  everywhere it occurs in the batch.
Each mask's backward is the same multiplication. Weight drop, the mask on W_hh, is `rnnkit.nn.weight_drop`.
"""

from __future__ import annotations

import numpy as np

LEVELS = 1 << 16  # each unit's draw: a uniform 16-bit integer, dropped below round(p * LEVELS)


def dropout_mask(shape: tuple[int, ...], p: float, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """A mask of 0 and 1/(1-p) to multiply activations by; its backward is the same multiplication.

    Each unit is dropped with probability p rounded to a multiple of 2^-16 (at most 1 - 2^-16): its draw is
    16 bits of the generator's raw 64-bit output, four units a word, which costs less than `rng.integers`'
    16-bit draws or float32 uniforms (`benchmarks/step_profile.py --threads 1`: 1.9 ms a 32-row stream step
    against 2.3 with `rng.integers`).
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {p}")
    dtype = np.dtype(dtype)
    size = int(np.prod(shape))
    words = rng.bit_generator.random_raw(-(-size // 4))  # (ceil(size / 4),) uint64: four 16-bit draws each
    draws = words.view(np.uint16)[:size].reshape(shape)  # uniform on 0 .. LEVELS - 1
    keep = draws >= min(round(p * LEVELS), LEVELS - 1)
    scale = np.asarray(1.0, dtype=dtype) / np.asarray(1.0 - p, dtype=dtype)  # the value keep / (1 - p) takes
    return np.multiply(keep, scale, dtype=dtype)


def locked_mask(shape: tuple[int, ...], p: float, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """For activations of shape (T, B, H): a mask (1, B, H) that broadcasts over time, one per sequence."""
    return dropout_mask((1, *shape[1:]), p, rng, dtype)


def row_mask(num_rows: int, p: float, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """For a table (V, E): a mask (V, 1) that keeps or drops each row whole."""
    return dropout_mask((num_rows, 1), p, rng, dtype)
