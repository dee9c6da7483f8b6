"""A count-based n-gram model of the same tokens (interpolated modified Kneser-Ney), to mix with a recurrent one.

A recurrent model of names generalises; counts remember. Mixed token by token,

    p(y_t | y_<t) = (1 - w) p_rnn(y_t | y_<t) + w p_ngram(y_t | the n-1 tokens before it)

the two make a better model than either: on makemore's names split a 6-gram with its weight w fitted on the
held-out names takes a `--preset best` run from 1.868 to 1.857 nats per character (README, "Mixing in counts").
The n-gram is one more member of an `rnnkit.lm.ensemble.Ensemble`, with the calls a `TokenModel` offers there
(`forward`, `step_logits`), so sampling, beam search, scoring and evaluation read it unchanged.

Interpolated modified Kneser-Ney (Chen and Goodman 1998), for a context u of k tokens (k = n-1 at the top):

    p_k(w | u) = max(c_k(u w) - D_k(c_k(u w)), 0) / c_k(u) + γ_k(u) p_{k-1}(w | u minus its first token)
    γ_k(u)     = (D_k(1) N_1(u) + D_k(2) N_2(u) + D_k(3+) N_3+(u)) / c_k(u)

c_{n-1} counts the n-grams themselves; a lower order counts in how many different contexts a (k+1)-gram was seen
to continue (its continuation count), so that a token seen often but after one context only ("y" after "ll")
gets little mass there. N_j(u) is how many tokens follow u with count j (3+: three or more), c_k(u) their total;
a context never seen gives all its mass to the order below, and below order 0 is the uniform 1/V. The three
discounts of each order come from its counts of counts n_j: Y = n_1 / (n_1 + 2 n_2), D(j) = j - (j+1) Y n_{j+1}/n_j,
kept in [0.05, j].
Every sequence is read from n-1 boundary tokens, as the recurrent model reads it from one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.lm.vocab import BOUNDARY_ID

MAX_ORDER = 10


class NGram:
    """Interpolated modified Kneser-Ney over token ids 0 .. V-1 (the boundary, BOUNDARY_ID, starts and ends).

    Built from encoded sequences (without boundaries, as `rnnkit.lm.batches.pad_batch` takes them). Each order's
    counts are a sorted array of keys, each (k+1)-gram written as one integer in base V, and their counts.
    """

    def __init__(self, sequences: Sequence[np.ndarray], vocab_size: int, order: int):
        if not 2 <= order <= MAX_ORDER:
            raise RnnkitError(f"an n-gram's order is 2 to {MAX_ORDER}, got {order}")
        if float(vocab_size) ** order >= 2.0**62:
            raise RnnkitError(f"order {order} is too high for {vocab_size} tokens (the keys would overflow)")
        if not len(sequences):
            raise RnnkitError("an n-gram needs at least one sequence to count")
        self.order, self.vocab_size = order, vocab_size
        grams = self._ngrams(sequences)  # (N, n) every n-gram read, boundaries included
        self.keys: list[np.ndarray] = []  # per order k: the sorted keys of the (k+1)-grams seen
        self.counts: list[np.ndarray] = []  # per order k: their counts (raw at the top, continuation below)
        top, top_counts = np.unique(self._key(grams), return_counts=True)
        for k in reversed(range(order)):  # k = context length
            if k == order - 1:
                keys, counts = top, top_counts
            else:  # continuation: how many distinct (k+2)-grams end in this (k+1)-gram
                keys, counts = np.unique(self.keys[0] % vocab_size ** (k + 1), return_counts=True)
            self.keys.insert(0, keys)
            self.counts.insert(0, counts)
        self.discounts = np.array([self._discounts(c) for c in self.counts])  # (n, 4): D(0) = 0, D(1), D(2), D(3+)

    def _ngrams(self, sequences: Sequence[np.ndarray]) -> np.ndarray:
        """(N, n): every n-gram of every sequence read from n-1 boundaries and ended by one."""
        n = self.order
        pad = np.full(n - 1, BOUNDARY_ID, dtype=np.int64)
        blocks = [x for s in sequences for x in (pad, np.asarray(s, dtype=np.int64), pad[:1])]
        stream = np.concatenate(blocks)  # each sequence as n-1 boundaries, its tokens, one boundary
        lengths = np.array([len(s) for s in sequences])  # (S,)
        block_starts = np.concatenate([[0], np.cumsum(lengths + n)[:-1]])  # (S,)
        starts = _ranges(block_starts, lengths + 1)  # (N,) a sequence of L tokens starts L + 1 n-grams
        return stream[starts[:, None] + np.arange(n)]  # (N, n)

    def _key(self, tokens: np.ndarray) -> np.ndarray:
        """(..., m) token ids -> (...,) one integer each, base V, the last token lowest."""
        key = np.zeros(tokens.shape[:-1], dtype=np.int64)
        for j in range(tokens.shape[-1]):
            key = key * self.vocab_size + tokens[..., j]
        return key

    @staticmethod
    def _discounts(counts: np.ndarray) -> np.ndarray:
        n = np.bincount(np.minimum(counts, 5), minlength=6).astype(np.float64)  # n[j]: (k+1)-grams seen j times
        if n[1] == 0 or n[2] == 0:
            return np.array([0.0, 0.5, 1.0, 1.5])  # too few counts to estimate: the usual values
        Y = n[1] / (n[1] + 2 * n[2])
        D = [0.0] + [j - (j + 1) * Y * n[j + 1] / n[j] if n[j] else j / 2 for j in (1, 2, 3)]
        return np.clip(D, [0, 0.05, 0.05, 0.05], [0, 1, 2, 3])  # D > 0 keeps mass for the orders below

    def _followers(self, k: int, contexts: np.ndarray) -> np.ndarray:
        """c_k(u w) for every token w after each context u (N, k): (N, V), 0 for what was never seen.

        The keys of u's followers, u V + w, lie side by side in the sorted table: two searches per context find
        them all, and they are spread into their rows.
        """
        table, counts, V = self.keys[k], self.counts[k], self.vocab_size
        base = self._key(contexts) * V  # (N,) the key of (u, token 0)
        lo, hi = np.searchsorted(table, base), np.searchsorted(table, base + V)  # (N,) each context's slice
        rows = np.repeat(np.arange(len(contexts)), hi - lo)  # (F,) the row of each follower found
        at = _ranges(lo, hi - lo)  # (F,) where each follower is in the table
        out = np.zeros((len(contexts), V))
        out[rows, table[at] - base[rows]] = counts[at]
        return out

    def probs(self, contexts: np.ndarray) -> np.ndarray:
        """contexts (N, n-1) token ids, the most recent last -> p(next | context) (N, V), each row summing to 1."""
        N, V = len(contexts), self.vocab_size
        p = np.full((N, V), 1.0 / V)  # below order 0: uniform
        for k in range(self.order):
            c = self._followers(k, contexts[:, contexts.shape[1] - k :])  # (N, V) c_k(u w), u the last k tokens
            total = c.sum(axis=1, keepdims=True)  # (N, 1) c_k(u)
            D = self.discounts[k][np.minimum(c, 3).astype(np.int64)]  # (N, V) the discount of each count
            seen = total[:, 0] > 0
            safe = np.where(total > 0, total, 1.0)
            gamma = D.sum(axis=1, keepdims=True) / safe  # (N, 1): D(1) N_1 + D(2) N_2 + D(3+) N_3+, over c_k(u)
            p = np.where(seen[:, None], np.maximum(c - D, 0.0) / safe + gamma * p, p)
        return p

    def log_probs(self, contexts: np.ndarray) -> np.ndarray:
        """log `probs`: (N, n-1) -> (N, V), computed once per distinct context (a sampler's rows share many)."""
        contexts = np.asarray(contexts, dtype=np.int64)
        _, first, which = np.unique(self._key(contexts), return_index=True, return_inverse=True)
        return np.log(self.probs(contexts[first]))[which]  # (N, V)

    # -- the calls an Ensemble makes on its members; the state is each row's last n-1 tokens (B, n-1) -------------
    def _start(self, states: np.ndarray | None, B: int) -> np.ndarray:
        return np.full((B, self.order - 1), BOUNDARY_ID, dtype=np.int64) if states is None else states

    def forward(self, ids: np.ndarray, states=None, rng=None, context=None) -> tuple[np.ndarray, np.ndarray, None]:
        """ids (T, B) -> log p(next | the n-1 tokens up to and with ids[t]) (T, B, V), the last n-1 tokens, None."""
        T, B = ids.shape
        history = np.concatenate([self._start(states, B).T, ids], axis=0)  # (n-1+T, B)
        windows = np.lib.stride_tricks.sliding_window_view(history, self.order - 1, axis=0)[1:]  # (T, B, n-1)
        logp = self.log_probs(windows.reshape(T * B, -1)).reshape(T, B, -1)  # (T, B, V)
        return logp, history[-(self.order - 1) :].T.copy(), None

    def step_logits(self, ids, states, table=None, rows=None, context=None) -> tuple[np.ndarray, np.ndarray]:
        """One step: ids (B,) -> log p(next | ...) (B, V) and the new state (B, n-1); rows as `TokenModel`'s."""
        ids = np.asarray(ids, dtype=np.int64)
        history = self._start(states, len(ids))
        if states is not None and rows is not None:
            history = history[rows]  # (B, n-1) the state each row continues
        history = np.concatenate([history[:, 1:], ids[:, None]], axis=1)  # (B, n-1)
        return self.log_probs(history), history

    def input_table(self) -> None:
        return None

    def floats_per_position(self) -> int:
        return self.vocab_size

    def eval(self) -> None:
        pass


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """starts[i] + 0 .. lengths[i]-1 for every i, one after the other: (sum(lengths),)."""
    first = np.cumsum(lengths) - lengths  # where each range begins in the result
    return np.repeat(starts, lengths) + np.arange(lengths.sum()) - np.repeat(first, lengths)


def fit_weight(model, ngram: NGram, encoded: Sequence[np.ndarray], batch_size: int = 512) -> float:
    """The n-gram's weight w in (1 - w) p_model + w p_ngram that gives `encoded` the lowest NLL.

    The NLL, -sum_t log((1 - w) p_model(y_t) + w p_ngram(y_t)), is convex in w, so a golden-section search on
    [0, 1] finds its minimum; model is a TokenModel or an Ensemble in eval mode.
    """
    from rnnkit.lm.batches import iter_eval_batches
    from rnnkit.nn import log_softmax

    if not len(encoded):
        raise RnnkitError("fitting an n-gram's weight needs held-out sequences")
    picked: tuple[list, list] = ([], [])  # the two models' log p of every counted target
    for inputs, targets, mask in iter_eval_batches(encoded, batch_size):  # (T, B) each
        for source, out in zip((model, ngram), picked, strict=True):
            logits, _, _ = source.forward(inputs)  # (T, B, V)
            logp = log_softmax(logits.astype(np.float64))
            out.append(np.take_along_axis(logp, targets[..., None], axis=2)[..., 0][mask])  # (counted,)
    a, b = (np.concatenate(p) for p in picked)

    def nll(w: float) -> float:
        return -float(np.logaddexp(np.log1p(-w) + a, np.log(w) + b).sum())

    lo, hi, ratio = 1e-6, 1 - 1e-6, (np.sqrt(5) - 1) / 2
    for _ in range(60):  # the bracket shrinks to 0.618^60 of [0, 1]
        x1, x2 = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if nll(x1) <= nll(x2):
            hi = x2
        else:
            lo = x1
    return round((lo + hi) / 2, 4)
