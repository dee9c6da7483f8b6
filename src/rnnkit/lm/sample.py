"""Choosing the next token from the model's logits: temperature, top-k and nucleus (top-p) filters, the draw.

Every application's sampler steps the model and calls `next_ids` on the logits of all its rows at once.
"""

from __future__ import annotations

import numpy as np

from rnnkit.nn import log_softmax


def filter_logits(logits: np.ndarray, temperature: float, top_k: int | None, top_p: float | None) -> np.ndarray:
    """Probabilities (B, V) from logits (B, V) after temperature, top-k and nucleus (top-p) filtering."""
    z = logits.astype(np.float64) / temperature
    if top_k is not None and top_k < z.shape[1]:
        kth = np.partition(z, -top_k, axis=1)[:, -top_k][:, None]
        z = np.where(z < kth, -np.inf, z)
    probs = np.exp(log_softmax(z))
    if top_p is not None and top_p < 1.0:
        order = np.argsort(-probs, axis=1)
        sorted_p = np.take_along_axis(probs, order, axis=1)
        # keep the smallest set of most likely tokens whose mass reaches top_p (always at least one)
        drop_sorted = np.cumsum(sorted_p, axis=1) - sorted_p >= top_p
        drop = np.zeros_like(drop_sorted)
        np.put_along_axis(drop, order, drop_sorted, axis=1)
        probs = np.where(drop, 0.0, probs)
        probs /= probs.sum(axis=1, keepdims=True)
    return probs


def draw(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One index per row of probs (B, V), by inverse CDF: (B,). Rows need not sum to 1, only be >= 0."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random((probs.shape[0], 1)) * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(axis=1), probs.shape[1] - 1)


def next_ids(logits, temperature, top_k, top_p, rng, greedy) -> np.ndarray:
    """The sampler's choice for each row of logits (B, V): (B,), the argmax when greedy."""
    if greedy:
        return logits.argmax(axis=1)
    if top_k is None and top_p is None:  # `draw` over exp(z / temperature - max), one compiled pass per row
        from rnnkit import kernels

        ids = np.empty(len(logits), dtype=np.int64)
        kernels.draw_from_logits(logits, float(temperature), rng.random(len(logits)), ids)
        return ids
    return draw(filter_logits(logits, temperature, top_k, top_p), rng)
