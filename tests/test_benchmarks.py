"""benchmarks/engine.py: the two engines it races start alike, and its sampling and table code runs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import engine  # noqa: E402


@pytest.mark.parametrize("row_name", ["lstm-128", "lstm-128x2", "gru-256", "rnn-256"])  # the rows without dropout
def test_the_torch_twin_starts_from_rnnkits_weights(row_name):
    """Same weights, same batch: both engines' first losses agree, and so do their second (after one Adam step)."""
    row = next(r for r in engine.rows() if r.name == row_name)
    vocab, _ = engine.name_vocab()
    data = engine.batches(row, len(vocab), count=2, seed=3)
    ours, theirs = engine.RnnkitTrainer(row, len(vocab)), engine.TorchTrainer(row, len(vocab))
    for batch in data:
        np.testing.assert_allclose(ours.step(batch), theirs.step(batch), rtol=1e-4)


def test_sampling_counts_its_work_and_the_table_shows_it():
    result = {
        "machine": engine.machine(),
        "training": [],
        "sampling": [engine.sampling(1, names=300, chars=50, repeats=1)],
    }
    s = result["sampling"][0]
    assert s["names_s"] > 0 and s["batch1_chars_s"] > 0 and s["batch1_product_us"] > 0
    # every prefix that goes on is a state, and every state but the first took a draw to reach
    assert 0 < s["extended_prefixes"] < s["prefix_states"] <= s["chars"]
    line = engine.table(result).splitlines()[-1]
    assert f"{s['prefix_states']:,} prefix states" in line and "chars/s at batch 1" in line
