"""How well a token model predicts whole sequences: log-likelihoods, and the mean in nats per token.

Each sequence is read from the boundary and scored on its tokens and its end (the boundary again), as the
batches of `rnnkit.lm.batches` frame it; the model should be in eval mode.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnkit.lm.batches import iter_eval_batches, pad_batch
from rnnkit.lm.model import TokenModel
from rnnkit.nn import cross_entropy, log_softmax


def sequence_log_probs(model: TokenModel, encoded: Sequence[np.ndarray], batch_size: int = 512) -> np.ndarray:
    """log P(sequence, end) for every encoded sequence, in the given order: (N,)."""
    order = np.argsort([len(e) for e in encoded], kind="stable")
    out = np.empty(len(encoded))
    start = 0
    for inputs, targets, mask in iter_eval_batches([encoded[i] for i in order], batch_size):
        logits, _, _ = model.forward(inputs)  # (T, B, V)
        logp = log_softmax(logits.astype(np.float64))
        picked = np.take_along_axis(logp, targets[..., None], axis=2)[..., 0]  # (T, B)
        sums = np.where(mask, picked, 0.0).sum(axis=0)  # (B,)
        out[order[start : start + len(sums)]] = sums
        start += len(sums)
    return out


def token_log_probs(model: TokenModel, ids: np.ndarray) -> np.ndarray:
    """log P(token_t | the tokens before it) for each token of one encoded sequence, then the end's: (L+1,).

    They add up to the sequence's `sequence_log_probs`; the page of `rnnkit serve` colours a name by them.
    """
    inputs, targets, _ = pad_batch([ids])  # (L+1, 1) each
    logits, _, _ = model.forward(inputs)  # (L+1, 1, V)
    logp = log_softmax(logits[:, 0].astype(np.float64))  # (L+1, V)
    return logp[np.arange(len(targets)), targets[:, 0]]  # (L+1,)


def mean_nll(model: TokenModel, encoded: Sequence[np.ndarray], batch_size: int = 512) -> tuple[float, int]:
    """The mean negative log-likelihood per prediction (nats) over the sequences, and how many predictions."""
    total, count = 0.0, 0
    for inputs, targets, mask in iter_eval_batches(encoded, batch_size):  # (T, B) each
        logits, _, _ = model.forward(inputs)  # (T, B, V)
        loss, _ = cross_entropy(logits.astype(np.float64), targets, mask)
        total += loss * mask.sum()
        count += int(mask.sum())
    return total / count, count
