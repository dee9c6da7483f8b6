"""An ensemble of name models that read names in different orders: the mixture of the names' probabilities.

Runs that read names the same way are mixed character by character (`rnnkit.lm.ensemble.Ensemble`): the next
character's distribution is the mean of theirs. A run trained with `--reverse` reads a name from its end, so its
next character is another one, and the two kinds cannot be mixed that way. They are mixed name by name instead:

    P(name) = sum_g w_g P_g(name),    w_g = (runs in group g) / (all runs)

where group g is the character-level ensemble of the runs that read one way. That is a distribution over names
as much as each P_g is (each sums to 1 over all names), so it is scored, sampled and searched like one model:
a name is drawn by drawing its group with probability w_g, then the name from that group.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.text.generate import NameGenerator, Scored


class NameMixture:
    """`NameGenerator`'s sample, beam, score and evaluate over groups of runs that read names in different orders.

    groups : one NameGenerator per reading order (each may hold a character-level ensemble)
    runs : how many runs each group holds: the mixture's weights are in proportion
    """

    def __init__(self, groups: Sequence[NameGenerator], runs: Sequence[int]):
        if len(groups) != len(runs) or not groups:
            raise ValueError("one run count per group, and at least one group")
        self.groups = list(groups)
        self.log_weights = np.log(np.asarray(runs, dtype=np.float64) / sum(runs))  # (G,)
        self.title_case = groups[0].title_case
        self.training_items = frozenset().union(*(g.training_items for g in self.groups))  # for `novel`

    def is_training_item(self, name: str) -> bool:
        return any(g.is_training_item(name) for g in self.groups)

    def _log_probs(self, names: list[str]) -> np.ndarray:
        """log P(name) under the mixture for each name: log sum_g w_g P_g(name), (N,)."""
        per_group = np.array([[s.log_prob for s in g.score(names)] for g in self.groups])  # (G, N)
        weighted = per_group + self.log_weights[:, None]
        top = weighted.max(axis=0)  # (N,) log-sum-exp, kept finite
        return top + np.log(np.exp(weighted - top).sum(axis=0))

    def score(self, names: Iterable[str]) -> list[Scored]:
        """The natural-log probability of each name (its characters and the end) under the mixture."""
        names = list(names)
        return [Scored(n, float(lp)) for n, lp in zip(names, self._log_probs(names), strict=True)]

    def evaluate(self, items: Sequence[str]) -> dict[str, float | int]:
        """Mean negative log-likelihood per character (each item counts len + 1 predictions), as NameGenerator's."""
        items = list(items)
        if not items:
            raise RnnkitError("nothing to evaluate")
        chars = self.groups[0].predictions(items)
        nll = -self._log_probs(items).sum() / chars
        return {"nll": nll, "bpc": nll / math.log(2), "perplexity": math.exp(nll), "items": len(items), "chars": chars}

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
        """n names from the mixture, as NameGenerator.sample: each drawn from group g with probability w_g.

        temperature, top_k and top_p shape each group's own distribution; novel keeps the n names distinct across
        the groups too. greedy gives, of the groups' greedy names, the most probable under the mixture.
        """
        from rnnkit.config import check_seed

        check_seed(seed)
        shared = dict(temperature=temperature, top_k=top_k, top_p=top_p, prefix=prefix, max_length=max_length)
        if greedy or temperature == 0:
            found = [g.sample(n, seed=seed, greedy=True, **shared)[0] for g in self.groups]  # refuses n > 1
            return [max(self.score(found), key=lambda s: s.log_prob).name]
        if n < 1:
            raise RnnkitError(f"-n must be >= 1, got {n}")
        rng = np.random.default_rng(seed)
        names: list[str] = []
        for _ in range(100):  # names that another group had found already are drawn again
            counts = rng.multinomial(n - len(names), np.exp(self.log_weights))  # (G,) names from each group
            for group, k in zip(self.groups, counts, strict=True):
                if k:
                    seed_k = int(rng.integers(2**63))
                    names += group.sample(int(k), seed=seed_k, novel=novel, progress=progress, **shared)
            if novel:
                names = list(dict.fromkeys(names))
            if len(names) == n:
                break
        return [names[i] for i in rng.permutation(len(names))]

    def beam(self, k: int = 10, prefix: str = "", max_length: int = 50) -> list[Scored]:
        """The k most probable names under the mixture among each group's k best (a beam search of width k each)."""
        found = list(dict.fromkeys(s.name for g in self.groups for s in g.beam(k, prefix, max_length)))
        return sorted(self.score(found), key=lambda s: -s.log_prob)[:k]

    def char_log_probs(self, name: str):
        raise RnnkitError(
            "character scores need runs that all read names one way; this ensemble mixes --reverse runs with others"
        )
