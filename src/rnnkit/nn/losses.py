"""Softmax cross-entropy over (T, B, V) logits that skips padded positions."""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """log p = z - max z - log sum exp(z - max z): stable for any logits."""
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = logits - logits.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def cross_entropy(logits: np.ndarray, targets: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Mean of -log softmax(logits)[target] over the positions where mask is True.

    Parameters
    ----------
    logits : (..., V) float, e.g. (T, B, V)
    targets : (...) int, the index of the right class at each position
    mask : (...) bool, True where a position counts (False on padding); None counts every position

    Returns
    -------
    loss : the mean over counted positions (as torch's cross_entropy with ignore_index)
    dlogits : (..., V) dloss/dlogits = (softmax - onehot(target)) * mask / count
    """
    V = logits.shape[-1]
    z = logits.reshape(-1, V)  # (N, V)
    t = targets.reshape(-1)
    m = np.ones(t.shape, dtype=bool) if mask is None else mask.reshape(-1).astype(bool)
    count = int(m.sum())
    if count == 0:
        return 0.0, np.zeros_like(logits)
    t_safe = np.where(m, t, 0)  # padded targets may be anything (e.g. -1); point them somewhere valid
    rows = np.arange(z.shape[0])
    log_probs = log_softmax(z)  # (N, V)
    loss = -log_probs[rows, t_safe][m].sum() / count
    dz = np.exp(log_probs, out=log_probs)  # the probabilities, reusing the buffer
    dz[rows, t_safe] -= 1.0
    dz *= (m / count).astype(z.dtype)[:, None]
    return float(loss), dz.reshape(logits.shape)
