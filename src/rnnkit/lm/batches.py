"""Token batches, time-major: whole sequences padded, or one long stream read as rows with the state carried.

Encoded sequences are int arrays of token ids without the boundary; a batch adds it: inputs = [BOS, t1..tn],
targets = [t1..tn, EOS], and a mask on the n + 1 real predictions of each column. A stream is served as
contiguous rows, each batch continuing the last (`StreamBatcher` to train, `stream_eval_batches` to evaluate).
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


class StreamBatcher:
    """One long token stream as B contiguous rows, served T steps at a time (truncated BPTT), exactly resumable.

    The stream (N,) is cut into B rows of L = (N - 1) // B tokens; row b is stream[b L : (b + 1) L + 1] (the
    last N - 1 - B L tokens are not used). Step s of an epoch serves the next T tokens of every row as inputs
    and the same T tokens one ahead as targets, so a row's batch s + 1 continues exactly where batch s ended
    and the caller carries the recurrent state from one to the next (char-rnn, torch-rnn). An epoch is L // T
    steps; then the rows start over, and `next_batch` says so, so the caller resets the carried state.

    shift_seed: when given, every epoch after the first starts its rows o tokens later, o drawn in [0, T) from
    (shift_seed, epoch), and reads the B L + 1 tokens it uses as a ring, so the cuts of truncated BPTT fall in other
    places each epoch while the steps per epoch stay L // T (the last row runs over the end into the start).

    `state_dict()` is JSON-serialisable; after `load_state_dict` the next batches are those an uninterrupted
    batcher would have served. `tokens` may be a read-only memory map: only the served windows are read.
    """

    def __init__(self, tokens: np.ndarray, batch_size: int, seq_length: int, shift_seed: int | None = None):
        if batch_size < 1 or seq_length < 1:
            raise DataError(f"batch size and sequence length must be >= 1, got {batch_size} and {seq_length}")
        N = len(tokens)
        if N - 1 < batch_size * seq_length:
            raise DataError(
                f"the training stream has {N:,} characters, too few for one batch of --batch-size {batch_size} "
                f"rows x --seq-length {seq_length} (+ 1); lower them or give more text"
            )
        self.tokens, self.batch_size, self.seq_length = tokens, batch_size, seq_length
        self.shift_seed = shift_seed
        self.row_length = (N - 1) // batch_size  # L
        self.steps_per_epoch = self.row_length // seq_length
        self.epoch = 0  # the epoch the next batch comes from
        self.position = 0  # batches already served from it

    def next_batch(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """inputs (T, B) and targets (T, B) int64, and whether this batch starts the rows over (reset the state)."""
        if self.position == self.steps_per_epoch:
            self.epoch += 1
            self.position = 0
        T, L = self.seq_length, self.row_length
        starts = np.arange(self.batch_size) * L + self.offset() + self.position * T  # (B,)
        index = np.arange(T + 1)[:, None] + starts  # (T+1, B)
        if self.shift_seed is not None:
            index %= self.batch_size * L + 1  # the ring of the tokens read: the last row goes on at the start
        window = np.asarray(self.tokens[index], dtype=np.int64)  # (T+1, B)
        reset = self.position == 0
        self.position += 1
        return window[:-1], window[1:], reset

    def offset(self) -> int:
        """Where this epoch's rows start, past b L: 0 unless shifting, and always 0 in the first epoch."""
        if self.shift_seed is None or self.epoch == 0:
            return 0
        return int(np.random.default_rng([self.shift_seed, self.epoch]).integers(self.seq_length))

    def state_dict(self) -> dict:
        return {
            "epoch": self.epoch,
            "position": self.position,
            "num_tokens": len(self.tokens),
            "batch_size": self.batch_size,
            "seq_length": self.seq_length,
            "shift_seed": self.shift_seed,
        }

    def load_state_dict(self, state: dict) -> None:
        for key, mine in (
            ("num_tokens", len(self.tokens)),
            ("batch_size", self.batch_size),
            ("seq_length", self.seq_length),
            ("shift_seed", self.shift_seed),
        ):
            saved = state.get(key)  # get: a state saved before shifting existed has no shift_seed (None)
            if saved != mine:
                raise DataError(f"cannot resume: the saved {key} is {saved}, now {mine} (has the data changed?)")
        if not 0 <= state["position"] <= self.steps_per_epoch:
            raise DataError(f"cannot resume batching: position {state['position']} is outside the epoch")
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


ROW_TOKENS = 4096  # predictions per row, at least, when a long stream is evaluated as rows side by side
MAX_ROWS = 64
WARMUP = 256  # tokens a row past the first reads before its first scored prediction, to warm its state


def stream_layout(predictions: int, rows: int | None = None) -> tuple[int, int]:
    """How a stream is evaluated: (rows side by side, predictions per row; the last row's may be fewer).

    By default one row per ROW_TOKENS predictions, 1 to MAX_ROWS.
    """
    rows = max(1, min(MAX_ROWS, predictions // ROW_TOKENS)) if rows is None else rows
    L = -(-predictions // min(predictions, rows))
    return -(-predictions // L), L  # no row left empty


EVAL_FLOATS = 1 << 24  # numbers (64 MB of float32) an evaluation chunk may make the model hold


def stream_eval_batches(
    tokens: np.ndarray, width: int, rows: int | None = None, warmup: int = WARMUP
) -> Iterator[Batch]:
    """A stream (N,) to score, as consecutive chunks of rows side by side: carry the state from one to the next.

    The N - 1 predictions are cut into R rows of L (`stream_layout`), every row starting from a zero state.
    Row 0 reads from token 0 and scores predictions 0 .. L-1. Row r > 0 first reads the w = min(warmup, L)
    tokens before its own first prediction r L, unscored, so its state starts with that context, then scores
    r L .. r L + L-1. Every prediction is scored once (mask True); a row that has finished reads on, unscored.
    With rows = 1 that is the whole stream from one fresh state, exactly. `width`: the numbers the model holds
    per position (`TokenModel.floats_per_position`); chunks are short enough that T R width stays within
    EVAL_FLOATS (for the default LSTM 512 over 64 rows, 42 steps and about 64 MB). `tokens` may be a read-only
    memory map.
    """
    n = len(tokens) - 1  # predictions
    if n < 1:
        raise DataError(f"a stream of {len(tokens)} token(s) has nothing to predict; it needs at least 2")
    rows, L = stream_layout(n, rows)
    first = np.arange(rows) * L  # (R,) each row's first scored prediction
    lead = np.where(np.arange(rows) > 0, min(warmup, L), 0)  # (R,) tokens read before it
    end = np.minimum(first + L, n)  # (R,) one past each row's last scored prediction
    steps = int((end - first + lead).max())
    chunk = max(1, min(1024, EVAL_FLOATS // (rows * width)))
    for t0 in range(0, steps, chunk):
        pos = first - lead + np.arange(t0, min(t0 + chunk, steps))[:, None]  # (T, R) the positions read
        mask = (pos >= first) & (pos < end)  # (T, R)
        pos = np.minimum(pos, n - 1)
        inputs = np.asarray(tokens[pos], dtype=np.int64)  # (T, R)
        targets = np.asarray(tokens[pos + 1], dtype=np.int64)  # (T, R)
        yield inputs, targets, mask
