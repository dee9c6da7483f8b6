"""An ensemble of token models: the mixture of their next-token distributions, each member with its own state.

    p(y_t | y_<t) = sum_k w_k p_k(y_t | y_<t)          w_k = 1/K unless weights are given
    log p         = logsumexp_k(log p_k + log w_k)

Every member reads the same tokens and carries its own recurrent state; only their distributions are mixed.
The mixture's log-probabilities stand in for a model's logits: softmax(log p) = p, so temperature, top-k,
top-p, greedy and beam search (`rnnkit.lm.sample`, the applications' samplers) and the evaluation
(`rnnkit.lm.evaluate`) read them unchanged. An `Ensemble` offers the calls those make on a `TokenModel` in eval
mode (`forward`, `step_logits`, `input_table`, `vocab_size`), so one model and several go through the same code.
A member may also be a count model (`rnnkit.lm.ngram.NGram`), which offers the same calls.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.lm.model import TokenModel
from rnnkit.nn import log_softmax


def mixture_log_probs(member_logits: Sequence[np.ndarray], weights: np.ndarray | None = None) -> np.ndarray:
    """log(sum_k w_k softmax(logits_k)) over the last axis, in float64, from K arrays of logits (..., V).

    weights (K,), summing to 1: w_k = 1/K when None.
    """
    logp = np.stack([log_softmax(z.astype(np.float64)) for z in member_logits])  # (K, ..., V)
    top = logp.max(axis=0)  # (..., V) the largest member log-probability, for a stable logsumexp
    top_safe = np.where(np.isfinite(top), top, 0.0)
    p = np.exp(logp - top_safe)  # (K, ..., V)
    mean = p.mean(axis=0) if weights is None else np.tensordot(weights, p, axes=1)  # (..., V)
    return top_safe + np.log(mean)  # (..., V)


class Ensemble:
    """K token models over one vocabulary, read as one: their next-token distributions averaged.

    The states are a list of K members' states (each as `TokenModel.forward` returns them); None starts every
    member from zeros. The members are used in eval mode and never trained through the ensemble.
    """

    def __init__(self, members: Sequence[TokenModel], weights: Sequence[float] | None = None):
        members = list(members)
        if not members:
            raise RnnkitError("an ensemble needs at least one model")
        sizes = {m.vocab_size for m in members}
        if len(sizes) > 1:
            raise RnnkitError(f"the models of an ensemble share one vocabulary; got sizes {sorted(sizes)}")
        if weights is not None:
            weights = np.asarray(weights, dtype=np.float64)
            if weights.shape != (len(members),) or np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
                raise RnnkitError(f"an ensemble's weights are {len(members)} numbers >= 0 that sum to 1")
        self.members, self.weights = members, weights
        self.vocab_size = members[0].vocab_size
        self.dtype = np.dtype(np.float64)  # the mixture's log-probabilities

    def __len__(self) -> int:
        return len(self.members)

    @property
    def training(self) -> bool:
        return False

    def eval(self) -> None:
        for m in self.members:
            m.eval()

    def _states(self, states: list | None) -> list:
        return [None] * len(self.members) if states is None else states

    def forward(
        self,
        ids: np.ndarray,
        states: list | None = None,
        rng: np.random.Generator | None = None,
        context: np.ndarray | None = None,
    ) -> tuple[np.ndarray, list, None]:
        """ids (T, B) -> the mixture's log-probabilities (T, B, V), every member's final states, no cache."""
        outs = [m.forward(ids, s, rng, context) for m, s in zip(self.members, self._states(states), strict=True)]
        return mixture_log_probs([logits for logits, _, _ in outs], self.weights), [s for _, s, _ in outs], None

    def floats_per_position(self) -> int:
        """Every member's, and the mixture's log-probabilities (see `TokenModel.floats_per_position`)."""
        return sum(m.floats_per_position() for m in self.members) + self.vocab_size

    def input_table(self) -> list[np.ndarray]:
        """Each member's `input_table()`: (V, G*H) each, for `step_logits`."""
        return [m.input_table() for m in self.members]

    def step_logits(
        self,
        ids: np.ndarray,
        states: list | None,
        table: list[np.ndarray] | None = None,
        rows: np.ndarray | None = None,
        context: np.ndarray | None = None,
    ) -> tuple[np.ndarray, list]:
        """One step: ids (B,) -> the mixture's log-probabilities (B, V) and the new states (as `TokenModel`'s)."""
        tables = [None] * len(self.members) if table is None else table
        outs = [
            m.step_logits(ids, s, t, rows, context)
            for m, s, t in zip(self.members, self._states(states), tables, strict=True)
        ]
        return mixture_log_probs([logits for logits, _ in outs], self.weights), [s for _, s in outs]
