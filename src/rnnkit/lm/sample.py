"""Choosing the next token from the model's logits: temperature, top-k and nucleus (top-p) filters, the draw.

Every application's sampler steps the model and calls `next_ids` on the logits of all its rows at once;
`continue_ids` is the whole loop for rows that all continue one start (melodies, free text).
"""

from __future__ import annotations

from collections.abc import Iterator

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


def continue_ids(
    model,
    start: np.ndarray,
    n: int,
    steps: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    rng: np.random.Generator | None = None,
    greedy: bool = False,
    banned: tuple[int, ...] = (),
) -> Iterator[np.ndarray]:
    """Read `start` (P,) once, then draw `steps` ids for each of n rows, feeding each back: yields ids (n,) per step.

    The model (a `rnnkit.lm.model.TokenModel` in eval mode, or an `rnnkit.lm.ensemble.Ensemble`) carries its
    state from step to step, never re-reading what came before. All n rows continue the one state after `start`
    (x_t = y_{t-1}); ids in `banned` are never drawn.
    """
    rng = np.random.default_rng() if rng is None else rng
    logits, states, _ = model.forward(np.asarray(start, dtype=np.int64)[:, None])  # (P, 1, V), read once
    logits = np.repeat(logits[-1], n, axis=0)  # (n, V)
    rows = np.zeros(n, dtype=np.int64)  # the first step: all n rows continue the start's one state
    table = model.input_table()  # the weights stay fixed while generating: look the inputs up
    banned = list(banned)
    for t in range(steps):
        if banned:
            logits[:, banned] = -np.inf
        ids = next_ids(logits, temperature, top_k, top_p, rng, greedy)  # (n,)
        yield ids
        if t + 1 < steps:
            logits, states = model.step_logits(ids, states, table, rows)  # (n, V)
            rows = None  # from now on row b continues state row b
