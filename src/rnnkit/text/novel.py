"""New names: a name model conditioned on the name not being one of its training names.

A name model spreads its probability over every string, its training names S among them, and a model that has
learnt its list well gives those a large share, M = sum_{s in S} P(s) (about a quarter for an LSTM on the
surnames). A new name, one that is not in the list, comes from the model restricted to the other strings:

    P(name | new) = P(name) / (1 - M)      for a name not in S,      0 for a name in S

which sums to 1 over all strings, as P does. `sample --novel` already draws from it: drawing from P and
dropping the training names is rejection sampling of it. `score --novel` and `eval --novel` score under it,
where every new name's log-probability rises by the same -log(1 - M). It is the right model for names known
to be new: invented ones, or the test part of a list of distinct names (the surnames, where no name repeats).
A list that repeats names is not one (makemore's names, whose test split holds 153 of its training names).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from rnnkit.errors import RnnkitError
from rnnkit.text.generate import NameGenerator, Scored, progress_bar
from rnnkit.text.mixture import NameMixture

NO_TRAINING_ITEMS = "--novel needs the run's training names, and this run kept none"
SCORE_CHUNK = 8192  # training names scored at a time, between updates of the progress bar


class NovelNames:
    """`score` and `evaluate` of a NameGenerator or NameMixture, conditioned on the names being new.

    Building it scores every training name once, to find M (`training_mass`); progress shows a bar on a terminal.
    """

    def __init__(self, gen: NameGenerator | NameMixture, progress: bool = False):
        if not gen.training_items:
            raise RnnkitError(NO_TRAINING_ITEMS)
        self.gen = gen
        training = sorted(gen.training_items)  # one order, though math.fsum's sum does not depend on it
        bar = progress_bar(len(training), "training names") if progress else None
        probs = []
        for start in range(0, len(training), SCORE_CHUNK):
            chunk = training[start : start + SCORE_CHUNK]
            probs += [math.exp(s.log_prob) for s in gen.score(chunk)]
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
        self.training_mass = math.fsum(probs)  # M
        self.log_gain = -math.log1p(-self.training_mass)  # -log(1 - M), what each new name's log P gains

    def score(self, names: Iterable[str]) -> list[Scored]:
        """log P(name | new): log P(name) - log(1 - M), or -inf for a training name."""
        names = list(names)
        return [
            Scored(s.name, -math.inf if self.gen.is_training_item(name) else s.log_prob + self.log_gain)
            for name, s in zip(names, self.gen.score(names), strict=True)
        ]

    def check_new(self, items: Sequence[str]) -> None:
        """Refuse items that are training names: a model of new names gives them probability 0."""
        seen = [item for item in items if self.gen.is_training_item(item)]
        if seen:
            raise RnnkitError(
                f"--novel: {len(seen):,} of the {len(items):,} items are training names (the first: {seen[0]!r}), "
                "which a model of new names gives probability 0; evaluate them without --novel"
            )

    def evaluate(self, items: Sequence[str]) -> dict[str, float | int]:
        """The generator's figures for new names; training names among the items are refused (`check_new`)."""
        items = list(items)
        self.check_new(items)
        result = dict(self.gen.evaluate(items))
        nll = result["nll"] - len(items) * self.log_gain / result["chars"]  # each item gains log_gain
        result.update(nll=nll, bpc=nll / math.log(2), perplexity=math.exp(nll))
        return result
