"""How well a token model predicts its data: log-likelihoods, and the mean in nats per token.

Whole sequences are read from the boundary and scored on their tokens and their end (the boundary again), as
the batches of `rnnkit.lm.batches` frame them; a stream is read with its state carried (`stream_nll`). The
model should be in eval mode.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnkit.errors import DataError
from rnnkit.lm.batches import iter_eval_batches
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


def mean_nll(model: TokenModel, encoded: Sequence[np.ndarray], batch_size: int = 512) -> tuple[float, int]:
    """The mean negative log-likelihood per prediction (nats) over the sequences, and how many predictions."""
    total, count = 0.0, 0
    for inputs, targets, mask in iter_eval_batches(encoded, batch_size):  # (T, B) each
        logits, _, _ = model.forward(inputs)  # (T, B, V)
        loss, _ = cross_entropy(logits.astype(np.float64), targets, mask)
        total += loss * mask.sum()
        count += int(mask.sum())
    return total / count, count


ROW_TOKENS = 4096  # predictions per row, at least, when a long stream is read as rows side by side
MAX_ROWS = 64
WARMUP = 256  # tokens a row past the first reads before its first scored prediction, to warm its state


def stream_layout(predictions: int, rows: int | None = None) -> tuple[int, int]:
    """How `stream_nll` reads a stream: (rows side by side, predictions per row, the last row's may be fewer).

    By default one row per ROW_TOKENS predictions, 1 to MAX_ROWS.
    """
    rows = max(1, min(MAX_ROWS, predictions // ROW_TOKENS)) if rows is None else rows
    L = -(-predictions // min(predictions, rows))
    return -(-predictions // L), L  # no row left empty


def _with_zero_row(state):
    """A layer's state (R, H), or (h, c), with a zero row put first."""
    if isinstance(state, tuple):
        return tuple(_with_zero_row(s) for s in state)
    return np.concatenate([np.zeros_like(state[:1]), state])  # (R + 1, H)


def stream_nll(model: TokenModel, ids: np.ndarray, rows: int | None = None, warmup: int = WARMUP) -> tuple[float, int]:
    """The mean negative log-likelihood per prediction (nats) of a stream read with its state carried, and how many.

    Token t + 1 is predicted from the tokens before it: N tokens make N - 1 predictions, read in chunks with the
    state carried from chunk to chunk, never in independent windows. With rows = 1 that is the whole stream
    from one fresh state, exactly. A long stream is faster read as `rows` contiguous rows side by side (default
    `stream_layout`): the first row starts fresh at token 0; every other row first reads the `warmup` tokens
    before its own first prediction, unscored, so its state starts with that context rather than from nothing.
    """
    n = len(ids) - 1  # predictions
    if n < 1:
        raise DataError(f"a stream of {len(ids)} token(s) has nothing to predict; it needs at least 2")
    rows, L = stream_layout(n, rows)
    starts = np.arange(rows) * L  # (R,)
    states = None
    w = min(warmup, L)
    if rows > 1 and w > 0:
        pos = starts[1:] - w + np.arange(w)[:, None]  # (w, R-1) the tokens before rows 1..R-1
        _, warm, _ = model.forward(np.asarray(ids[pos], dtype=np.int64))
        states = [_with_zero_row(s) for s in warm]  # row 0 starts fresh at the start of the stream
    chunk = max(1, min(1024, (1 << 21) // (rows * model.vocab_size)))  # steps per forward: logits stay ~16 MB
    total, count = 0.0, 0
    for t0 in range(0, L, chunk):
        pos = starts + np.arange(t0, min(t0 + chunk, L))[:, None]  # (T, R) the positions read
        mask = pos < n  # (T, R)
        pos = np.minimum(pos, n - 1)
        inputs = np.asarray(ids[pos], dtype=np.int64)  # (T, R)
        targets = np.asarray(ids[pos + 1], dtype=np.int64)  # (T, R)
        logits, states, _ = model.forward(inputs, states)  # (T, R, V)
        loss, _ = cross_entropy(logits.astype(np.float64), targets, mask)
        total += loss * mask.sum()
        count += int(mask.sum())
    return total / count, count
