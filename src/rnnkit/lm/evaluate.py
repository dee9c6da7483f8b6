"""How well a token model predicts its data: log-likelihoods, and the mean in nats per token.

Whole sequences are read from the boundary and scored on their tokens and their end (the boundary again), as
the batches of `rnnkit.lm.batches` frame them; a stream is read with its state carried (`stream_nll`). The
model should be in eval mode; an `rnnkit.lm.ensemble.Ensemble` is read the same way (its forward gives the
mixture's log-probabilities, which stand in for logits).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnkit.lm.batches import WARMUP, iter_eval_batches, pad_batch, stream_eval_batches
from rnnkit.lm.ensemble import Ensemble
from rnnkit.lm.model import TokenModel
from rnnkit.nn import cross_entropy, log_softmax


def check_batch_memory(model: TokenModel | Ensemble, encoded: Sequence[np.ndarray], batch_size: int) -> None:
    """Refuse, with the estimate, sequences too long to read `batch_size` at a time (a 1 MB line, say)."""
    from rnnkit.memory import recurrent_batch_bytes, require_memory

    if not len(encoded):
        return
    longest, batch = max(len(e) for e in encoded) + 1, min(batch_size, len(encoded))
    need = sum(  # an ensemble holds every member's batch at once
        recurrent_batch_bytes(m.config.cell, m.vocab_size, m.config.hidden_size, m.config.num_layers, longest, batch)
        for m in getattr(model, "members", [model])
        if hasattr(m, "config")  # a recurrent member; a count model holds little per position
    )
    require_memory(need, f"reading sequences of up to {longest - 1:,} tokens")


def sequence_log_probs(
    model: TokenModel | Ensemble, encoded: Sequence[np.ndarray], batch_size: int = 512
) -> np.ndarray:
    """log P(sequence, end) for every encoded sequence, in the given order: (N,)."""
    check_batch_memory(model, encoded, batch_size)
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


def token_log_probs(model: TokenModel | Ensemble, ids: np.ndarray) -> np.ndarray:
    """log P(token_t | the tokens before it) for each token of one encoded sequence, then the end's: (L+1,).

    They add up to the sequence's `sequence_log_probs`; the page of `rnnkit serve` colours a name by them.
    """
    inputs, targets, _ = pad_batch([ids])  # (L+1, 1) each
    logits, _, _ = model.forward(inputs)  # (L+1, 1, V)
    logp = log_softmax(logits[:, 0].astype(np.float64))  # (L+1, V)
    return logp[np.arange(len(targets)), targets[:, 0]]  # (L+1,)


def mean_nll(model: TokenModel | Ensemble, encoded: Sequence[np.ndarray], batch_size: int = 512) -> tuple[float, int]:
    """The mean negative log-likelihood per prediction (nats) over the sequences, and how many predictions."""
    check_batch_memory(model, encoded, batch_size)
    total, count = 0.0, 0
    for inputs, targets, mask in iter_eval_batches(encoded, batch_size):  # (T, B) each
        logits, _, _ = model.forward(inputs)  # (T, B, V)
        loss, _ = cross_entropy(logits.astype(np.float64), targets, mask)
        total += loss * mask.sum()
        count += int(mask.sum())
    return total / count, count


def stream_nll(
    model: TokenModel | Ensemble, ids: np.ndarray, rows: int | None = None, warmup: int = WARMUP
) -> tuple[float, int]:
    """The mean negative log-likelihood per prediction (nats) of a stream read with its state carried, and how many.

    Token t + 1 is predicted from the tokens before it: N tokens make N - 1 predictions, read in chunks with the
    state carried from chunk to chunk, never in independent windows. With rows = 1 that is the whole stream
    from one fresh state, exactly. A long stream is faster read as `rows` contiguous rows side by side (default
    `stream_layout`), each row past the first after the `warmup` tokens before it (`stream_eval_batches`, which
    the Trainer's evaluation of a stream run reads too).
    """
    total, count, states = 0.0, 0, None
    for inputs, targets, mask in stream_eval_batches(ids, model.floats_per_position(), rows, warmup):  # (T, R) each
        logits, states, _ = model.forward(inputs, states)  # (T, R, V)
        loss, _ = cross_entropy(logits.astype(np.float64), targets, mask)
        total += loss * mask.sum()
        count += int(mask.sum())
    return total / count, count
