"""Whole sequences as padded time-major batches: each sequence framed by the boundary token.

Encoded sequences are int arrays of token ids without the boundary; a batch adds it: inputs = [BOS, t1..tn],
targets = [t1..tn, EOS], and a mask on the n + 1 real predictions of each column.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from rnnkit.errors import DataError
from rnnkit.lm.vocab import BOUNDARY_ID

# inputs (T, B) int64, targets (T, B) int64, mask (T, B) bool
Batch = tuple[np.ndarray, np.ndarray, np.ndarray]


def pad_batch(seqs: Sequence[np.ndarray]) -> Batch:
    """Time-major padded batch of encoded items (without boundaries).

    Returns inputs (T, B) = [BOS, c1..cn], targets (T, B) = [c1..cn, EOS], mask (T, B) True on the n + 1
    real positions of each column; T = longest item + 1, padding is the boundary id.
    """
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)  # (B,)
    T, B = int(lengths.max()) + 1, len(seqs)
    inputs = np.full((T, B), BOUNDARY_ID, dtype=np.int64)  # (T, B)
    targets = np.full((T, B), BOUNDARY_ID, dtype=np.int64)  # (T, B)
    for b, s in enumerate(seqs):
        inputs[1 : len(s) + 1, b] = s
        targets[: len(s), b] = s  # targets[len(s), b] stays BOUNDARY_ID: the EOS
    mask = np.arange(T)[:, None] <= lengths[None, :]  # (T, B)
    return inputs, targets, mask


def iter_eval_batches(encoded: Sequence[np.ndarray], batch_size: int) -> Iterator[Batch]:
    """Every item exactly once, unshuffled, sorted by length to cut padding; (T, B) batches as `pad_batch`."""
    if batch_size < 1:
        raise DataError(f"batch size must be at least 1, got {batch_size}")
    order = np.argsort([len(s) for s in encoded], kind="stable")
    for start in range(0, len(order), batch_size):
        yield pad_batch([encoded[i] for i in order[start : start + batch_size]])
