"""Using a trained name model: sample, beam search, score and evaluate.

Generation is batched and carries the recurrent state step by step: the prefix is read once, then every step
feeds only the last drawn character of each unfinished name.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.lm.ensemble import Ensemble
from rnnkit.lm.evaluate import sequence_log_probs, token_log_probs
from rnnkit.lm.model import TokenModel
from rnnkit.lm.sample import next_ids
from rnnkit.nn import log_softmax
from rnnkit.text.data import count_predictions, display_name
from rnnkit.text.vocab import Vocabulary

SAMPLE_BATCH = 10_000  # names drawn together at most: the sampler holds about 150 MB however many are asked for
SAMPLE_IDS_BYTES = 80 << 20  # the ids a batch writes at most: with a --max-length over 1,000 the batches shrink
NAME_BYTES = 64  # a short str in the list of names returned


@dataclass(frozen=True)
class Scored:
    name: str
    log_prob: float  # natural log of P(name, then the end of the name): the whole name's, prefix included


@dataclass(frozen=True)
class CharScores:
    """How likely the model finds each character of a name, given the characters before it."""

    name: str  # as shown
    chars: tuple[str, ...]  # the name's characters, as shown
    log_probs: tuple[float, ...]  # log P(char_t | chars before t) for each char, then log P(end | the name)

    @property
    def log_prob(self) -> float:
        """log P(name, then the end of the name): the sum, as `score` gives it."""
        return float(sum(self.log_probs))


def progress_bar(total: int, unit: str):
    """A tqdm bar on stderr, shown only on a terminal and cleared when done."""
    from tqdm import tqdm

    return tqdm(total=total, unit=f" {unit}", leave=False, disable=None)


class NameGenerator:
    """A trained character model with its vocabulary.

    Parameters
    ----------
    model : TokenModel, or an `rnnkit.lm.ensemble.Ensemble` of several (read the same way: its log-probabilities
        stand in for the logits)
    vocab : Vocabulary
    title_case : show names in Title case and read given names case-insensitively (the surnames data set)
    training_items : the training data, for `novel` sampling (may be empty)
    reverse : the model reads names right to left (`rnnkit text train --reverse`): it is given and writes
        each name last character first, and the names going in and coming out are turned round here, so
        every method still takes and gives names as written. A prefix cannot be given to such a model.
    """

    def __init__(
        self,
        model: TokenModel | Ensemble,
        vocab: Vocabulary,
        title_case: bool = False,
        training_items=(),
        reverse: bool = False,
    ):
        self.model, self.vocab, self.title_case, self.reverse = model, vocab, title_case, reverse
        self.training_items = frozenset(training_items)
        model.eval()

    def encode_items(self, items: Iterable[str]) -> list[np.ndarray]:
        """Each item's ids in the order the model reads them (turned round when `reverse`), as training feeds them."""
        return [self._reading_order(self.vocab.encode(item)) for item in items]

    # -- helpers ---------------------------------------------------------------------------------------------
    def _reading_order(self, ids: np.ndarray) -> np.ndarray:
        """ids as written -> ids as the model reads them (and back: turning round twice is the identity)."""
        return ids[::-1].copy() if self.reverse else ids

    def _as_written(self, name: str) -> str:
        return name[::-1] if self.reverse else name

    def _normalize(self, text: str) -> str:
        return text.lower() if self.title_case else text

    def _encode(self, text: str, what: str) -> np.ndarray:
        text = self._normalize(text)
        unknown = self.vocab.unknown_chars(text)
        if unknown:
            chars = " ".join(repr(c) for c in sorted(unknown))
            raise RnnkitError(f"{what} {text!r} has characters the model never saw: {chars}")
        return self._reading_order(self.vocab.encode(text))

    def _check_prefix(self, prefix: str, max_length: int) -> np.ndarray:
        """The prefix's ids; a prefix longer than max_length is refused (no name could respect both), and so is
        any prefix given to a model that reads names right to left (it writes a name's start last)."""
        if prefix and self.reverse:
            raise RnnkitError(
                "--prefix needs a model that reads names left to right; this one was trained with --reverse"
            )
        ids = self._encode(prefix, "prefix")
        if len(ids) > max_length:
            raise RnnkitError(f"--prefix has {len(ids)} characters, more than --max-length {max_length}")
        return ids

    def show(self, item: str) -> str:
        return display_name(item, self.title_case)

    def is_training_item(self, name: str) -> bool:
        """Whether `name`, as a person writes it (any case for the surnames), is one of the training items."""
        return self._normalize(name) in self.training_items

    def _read_prefix(self, prefix_ids: np.ndarray) -> tuple[np.ndarray, list]:
        """Run BOS + prefix once (batch 1): the last logits (1, V) and the states after it."""
        ids = np.concatenate([[self.vocab.bos], prefix_ids]).astype(np.int64)[:, None]  # (P+1, 1)
        logits, states, _ = self.model.forward(ids)
        return logits[-1], states

    # -- sampling --------------------------------------------------------------------------------------------
    def sample(
        self,
        n: int = 20,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        prefix: str = "",
        seed: int | None = None,
        max_length: int = 50,
        novel: bool = False,
        greedy: bool = False,
        progress: bool = False,
    ) -> list[str]:
        """n names drawn from the model (or the single most likely path with greedy=True), prefix included.

        novel drops names that occur in the training data (and draws more until there are n). Names are drawn
        SAMPLE_BATCH at a time; progress shows a bar on a terminal when that takes more than one batch.
        """
        from rnnkit.config import check_seed, check_temperature
        from rnnkit.memory import require_memory

        if n < 1 or max_length < 1:
            raise RnnkitError(f"-n and --max-length must be >= 1, got {n} and {max_length}")
        check_temperature(temperature)
        if top_k is not None and top_k < 1:
            raise RnnkitError(f"--top-k must be >= 1, got {top_k}")
        if top_p is not None and not 0 < top_p <= 1:
            raise RnnkitError(f"--top-p must be in (0, 1], got {top_p}")
        check_seed(seed)
        greedy = greedy or temperature == 0
        prefix_ids = self._check_prefix(prefix, max_length)
        if greedy and n > 1:
            raise RnnkitError(f"greedy sampling gives one name, the single most likely path; -n {n} cannot apply")
        width = max(len(prefix_ids), max_length)  # ids each row may write
        batch_cap = max(1, min(SAMPLE_BATCH, SAMPLE_IDS_BYTES // (8 * width)))
        require_memory(n * NAME_BYTES + 2 * batch_cap * width * 8, f"-n {n} names of up to {width:,} characters")
        rng = np.random.default_rng(seed)
        names: list[str] = []
        seen: set[str] = set()
        stalled = 0  # rounds in a row that found no new name (only `novel` can stall)
        bar = progress_bar(n, "names") if progress and n > batch_cap else None
        while len(names) < n and stalled < 100:
            want = n - len(names)
            batch = min(want if not novel else max(2 * want, 64), batch_cap)
            found = len(names)
            for name in self._sample_batch(batch, temperature, top_k, top_p, prefix_ids, rng, max_length, greedy):
                if novel and (name in self.training_items or name in seen):
                    continue
                seen.add(name)
                names.append(name)
                if len(names) == n:
                    break
            stalled = stalled + 1 if len(names) == found else 0
            if bar is not None:
                bar.update(len(names) - found)
        if bar is not None:
            bar.close()
        if not names:
            raise RnnkitError("could not sample any novel names (the model reproduces its training data)")
        return [self.show(s) for s in names]

    def _sample_batch(self, batch, temperature, top_k, top_p, prefix_ids, rng, max_length, greedy) -> list[str]:
        """`batch` names drawn together. Rows that have written the same characters so far share one state.

        A state depends only on the characters read, so the network steps once per distinct prefix, not once
        per row: `node[r]` is row r's prefix among the U distinct ones the last step computed. Every row still
        draws its own next character. For 10,000 surnames that is about 32,000 prefix states for 74,000 draws
        (benchmarks/engine.py counts them), less than half the work of stepping every row. The recurrent
        product h W_hh^T is shared once more: prefixes that extend the same parent read the parent's, so
        the matrix product has one row per prefix that goes on (about 23,000), not one per new prefix.
        """
        logits, states = self._read_prefix(prefix_ids)  # (U=1, V): every row starts from the same prefix
        node = np.zeros(batch, dtype=np.int64)  # (A,) each active row's state among the U
        table = self.model.input_table()  # the weights stay fixed while sampling: look the inputs up
        P = len(prefix_ids)
        out = np.empty((batch, max(P, max_length)), dtype=np.int64)  # each row's ids, prefix first
        out[:, :P] = prefix_ids
        length = np.full(batch, P)  # ids written per row
        active = np.arange(batch)  # rows still writing
        if P == 0:
            logits[:, self.vocab.eos] = -np.inf  # a name has at least one character
        V = self.model.vocab_size
        for _ in range(max(0, max_length - P)):
            ids = next_ids(logits[node], temperature, top_k, top_p, rng, greedy)  # (A,)
            going = ids != self.vocab.eos
            active, ids, node = active[going], ids[going], node[going]
            out[active, length[active]] = ids
            length[active] += 1
            if active.size == 0:
                break
            prefixes, node = np.unique(node * V + ids, return_inverse=True)  # (U,): parent state, character
            logits, states = self.model.step_logits(prefixes % V, states, table, rows=prefixes // V)  # (U, V)
        rows = self.vocab.decode_rows(out[:, : length.max()], length)  # only the columns written
        return [self._as_written(row) for row in rows]

    # -- beam search -----------------------------------------------------------------------------------------
    def beam(self, k: int = 10, prefix: str = "", max_length: int = 50) -> list[Scored]:
        """The k most probable complete names (beam search of width k), most probable first.

        Each log-probability is the whole name's, log P(prefix, rest, end), the number `score` gives.
        """
        from rnnkit.memory import require_memory

        if k < 1:
            raise RnnkitError(f"--beam must be >= 1, got {k}")
        if max_length < 1:
            raise RnnkitError(f"--max-length must be >= 1, got {max_length}")
        prefix_ids = self._check_prefix(prefix, max_length)
        require_memory(3 * 8 * k * self.model.vocab_size + k * 8 * max_length, f"--beam {k}")
        logits, states = self._read_prefix(prefix_ids)
        beams = [(self._prefix_log_prob(prefix_ids), list(prefix_ids))]  # (log prob, ids), aligned with states
        finished: list[tuple[float, list[int]]] = []
        while beams:
            logp = log_softmax(logits.astype(np.float64))  # (A, V)
            scores = np.array([b[0] for b in beams])[:, None] + logp  # (A, V)
            # every live hypothesis may end here; keep the k best endings seen so far
            finished.extend((float(scores[row, self.vocab.eos]), ids) for row, (_, ids) in enumerate(beams) if ids)
            finished = heapq.nlargest(k, finished, key=lambda f: f[0])
            scores[:, self.vocab.eos] = -np.inf
            scores[[len(ids) >= max_length for _, ids in beams]] = -np.inf
            flat = [int(f) for f in np.argsort(-scores, axis=None)[:k] if np.isfinite(scores.flat[f])]
            # stop when no live hypothesis can still beat the k-th ending (log probs only fall)
            if not flat or (len(finished) == k and scores.flat[flat[0]] <= finished[-1][0]):
                break
            rows, toks = np.divmod(np.array(flat), logp.shape[1])
            beams = [(float(scores[r, t]), beams[r][1] + [int(t)]) for r, t in zip(rows, toks, strict=True)]
            logits, states = self.model.step_logits(toks, states, rows=rows)
        return [Scored(self.show(self._as_written(self.vocab.decode(ids))), lp) for lp, ids in finished]

    def _prefix_log_prob(self, prefix_ids: np.ndarray) -> float:
        """log P(prefix) read from the boundary: the start every beam hypothesis shares."""
        if len(prefix_ids) == 0:
            return 0.0
        ids = np.concatenate([[self.vocab.bos], prefix_ids]).astype(np.int64)[:, None]  # (P+1, 1)
        logits, _, _ = self.model.forward(ids[:-1])  # (P, 1, V)
        logp = log_softmax(logits[:, 0].astype(np.float64))  # (P, V)
        return float(logp[np.arange(len(prefix_ids)), prefix_ids].sum())

    # -- scoring ---------------------------------------------------------------------------------------------
    def score(self, names: Iterable[str]) -> list[Scored]:
        """The natural-log probability of each name (its characters and the end token) under the model."""
        names = list(names)
        if any(not self._normalize(name) for name in names):
            raise RnnkitError("cannot score an empty name: a name has at least one character")
        encoded = [self._encode(name, "name") for name in names]
        return [Scored(n, float(lp)) for n, lp in zip(names, sequence_log_probs(self.model, encoded), strict=True)]

    def char_log_probs(self, name: str) -> CharScores:
        """Each character's log-probability under the model, then the end token's (len(name) + 1 values).

        A model that reads right to left gives each character's given the characters after it, and last the
        log-probability that the name starts there (its end token); the characters' are listed in the name's
        order, and all add up to the same log P(name).
        """
        ids = self._encode(name, "name")
        picked = token_log_probs(self.model, ids)  # (L+1,) in reading order, the end token's last
        if self.reverse:
            picked = np.concatenate([picked[-2::-1], picked[-1:]])  # the characters' back in the name's order
            ids = self._reading_order(ids)
        shown = self.show(self._normalize(name))
        chars = tuple(shown) if len(shown) == len(ids) else tuple(self.vocab.decode(ids))
        return CharScores(shown, chars, tuple(float(x) for x in picked))

    def predictions(self, items: Sequence[str]) -> int:
        """How many predictions scoring the items makes: each one's characters, and its end."""
        return count_predictions([self._encode(item, "item") for item in items])

    def evaluate(self, items: Sequence[str]) -> dict[str, float | int]:
        """Mean negative log-likelihood per character (each item counts len + 1 predictions), as makemore."""
        encoded = [self._encode(item, "item") for item in items]
        if not encoded:
            raise RnnkitError("nothing to evaluate")
        total = -sequence_log_probs(self.model, encoded).sum()
        chars = count_predictions(encoded)
        nll = total / chars
        return {"nll": nll, "bpc": nll / math.log(2), "perplexity": math.exp(nll), "items": len(items), "chars": chars}
