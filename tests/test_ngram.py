"""The n-gram mixed into name models: Kneser-Ney against the formula written out, the Ensemble calls, the fitted
weight, and `--ngram` through load, the sampler and the command line."""

from __future__ import annotations

import collections
import itertools
import json

import numpy as np
import pytest
from conftest import run_cli, train_tiny

from rnnkit.errors import RnnkitError
from rnnkit.lm.ensemble import Ensemble, mixture_log_probs
from rnnkit.lm.ngram import NGram, fit_weight
from rnnkit.nn import log_softmax
from rnnkit.rundir import RunDir
from rnnkit.text import train as text_train
from rnnkit.text.config import DataConfig
from rnnkit.text.data import read_items

V = 5  # tokens 0 (the boundary) .. 4


def saved_items(run) -> tuple[list[str], list[str]]:
    """The training and validation names a run kept."""
    rd = RunDir(run)
    return text_train._saved_items(rd, DataConfig(**text_train.read_run_config(rd)["data"]))


def toy_sequences(seed: int = 0, n: int = 60) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(1, V, size=rng.integers(1, 6)) for _ in range(n)]


class PlainKneserNey:
    """Interpolated modified Kneser-Ney, the way the textbook writes it: dictionaries of counts, one loop each."""

    def __init__(self, sequences, order: int):
        self.order = order
        counts = [collections.defaultdict(collections.Counter) for _ in range(order)]  # [k][context][token]
        for s in sequences:
            padded = [0] * (order - 1) + list(s) + [0]
            for i in range(order - 1, len(padded)):
                counts[order - 1][tuple(padded[i - order + 1 : i])][padded[i]] += 1
        for k in reversed(range(order - 1)):  # continuation counts: distinct longer contexts
            for context, followers in counts[k + 1].items():
                for token in followers:
                    counts[k][context[1:]][token] += 1
        self.counts = counts
        self.D = []
        for k in range(order):
            n = collections.Counter(min(c, 5) for followers in counts[k].values() for c in followers.values())
            if not n[1] or not n[2]:
                self.D.append([0.0, 0.5, 1.0, 1.5])
                continue
            Y = n[1] / (n[1] + 2 * n[2])
            D = [j - (j + 1) * Y * n[j + 1] / n[j] if n[j] else j / 2 for j in (1, 2, 3)]
            self.D.append([0.0] + [min(max(d, 0.05), j) for d, j in zip(D, (1, 2, 3), strict=True)])

    def prob(self, context: tuple, token: int) -> float:
        p = 1.0 / V
        for k in range(self.order):
            followers = self.counts[k].get(tuple(context[len(context) - k :]) if k else ())
            if not followers:
                continue
            total = sum(followers.values())
            D = self.D[k]
            gamma = sum(D[min(c, 3)] for c in followers.values()) / total
            c = followers.get(token, 0)
            p = max(c - D[min(c, 3)], 0.0) / total + gamma * p
        return p


@pytest.mark.parametrize("order", [2, 3, 4])
def test_kneser_ney_is_the_formula_written_out_and_each_row_sums_to_one(order):
    sequences = toy_sequences()
    ngram, plain = NGram(sequences, V, order), PlainKneserNey(sequences, order)
    contexts = np.array(list(itertools.product(range(V), repeat=order - 1)))  # every context, seen or not
    p = ngram.probs(contexts)  # (V^(n-1), V)
    want = np.array([[plain.prob(tuple(c), w) for w in range(V)] for c in contexts])
    np.testing.assert_allclose(p, want, rtol=1e-12, atol=0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    assert (p > 0).all()  # every token keeps some mass, after any context


def test_forward_over_a_batch_is_stepping_through_it():
    ngram = NGram(toy_sequences(), V, 3)
    ids = np.random.default_rng(1).integers(0, V, size=(7, 4))  # (T, B)
    logp, final, _ = ngram.forward(ids)  # (T, B, V)
    state = None
    for t in range(len(ids)):
        step, state = ngram.step_logits(ids[t], state)
        np.testing.assert_array_equal(step, logp[t])
    np.testing.assert_array_equal(state, final)
    rows = np.array([2, 2, 0])  # rows that continue other rows' states, as a sampler's names that share a prefix
    step, new = ngram.step_logits(np.array([1, 2, 3]), final, rows=rows)
    assert new[:, :-1].tolist() == final[rows, 1:].tolist() and new[:, -1].tolist() == [1, 2, 3]


def test_weighted_ensemble_is_the_weighted_mixture_and_bad_weights_are_refused():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, V)), rng.normal(size=(3, V))
    want = np.log(0.3 * np.exp(log_softmax(a)) + 0.7 * np.exp(log_softmax(b)))
    np.testing.assert_allclose(mixture_log_probs([a, b], np.array([0.3, 0.7])), want, rtol=1e-12)
    ngram = NGram(toy_sequences(), V, 2)
    for weights in ([0.5], [0.6, 0.6], [-0.1, 1.1]):
        with pytest.raises(RnnkitError, match="weights"):
            Ensemble([ngram, ngram], weights)


def test_the_fitted_weight_gives_the_held_out_sequences_the_lowest_nll():
    """Two models that each know half of the held-out sequences (one counted only tokens 1 and 2, the other
    only 3 and 4): the weight fitted on them beats its neighbours and both ends."""
    rng = np.random.default_rng(0)
    low, high = ([rng.integers(a, a + 2, size=rng.integers(1, 6)) for _ in range(80)] for a in (1, 3))
    model, ngram = NGram(low[:40], V, 3), NGram(high[:40], V, 2)
    held_out = low[40:] + high[40:]
    w = fit_weight(model, ngram, held_out)

    def nll(weight: float) -> float:
        mixed, total = Ensemble([model, ngram], [1 - weight, weight]), 0.0
        for s in held_out:
            logp, _, _ = mixed.forward(np.concatenate([[0], s])[:, None])  # (L+1, 1, V)
            total -= logp[np.arange(len(s) + 1), 0, [*s, 0]].sum()
        return total

    assert 0.05 < w < 0.95
    assert nll(w) < min(nll(w - 0.02), nll(w + 0.02), nll(0.0), nll(1.0))


def test_load_with_ngram_scores_each_character_as_the_mixture_of_the_model_and_the_counts(tiny_run):
    names = ["smith", "anna", "lee"]
    plain, mixed = text_train.load(tiny_run), text_train.load(tiny_run, ngram=3)
    ngram, (w_model, w) = mixed.model.members[-1], mixed.model.weights
    assert w_model == pytest.approx(1 - w)
    for name, scored in zip(names, mixed.score(names), strict=True):
        ids = plain.encode_items([name])[0]
        p_model = np.exp(plain.char_log_probs(name).log_probs)  # (L+1,)
        inputs = np.concatenate([[0], ids])[:, None]  # (L+1, 1): the boundary, then the name
        p_counts = np.exp(ngram.forward(inputs)[0][:, 0, :])[np.arange(len(ids) + 1), [*ids, 0]]  # (L+1,)
        assert scored.log_prob == pytest.approx(np.log((1 - w) * p_model + w * p_counts).sum(), rel=1e-9)


def test_the_counts_leave_out_the_names_the_weight_is_fitted_on():
    """An ensemble counts every member's training items, which for the bundled surnames are the whole list, its
    validation names too: the n-gram counts every other name's characters and its end, once each."""
    bundled = text_train.pretrained_path()
    _, val = saved_items(bundled)
    everything = text_train.load(bundled).training_items  # what the ensemble's members were given: all 88,799
    assert set(val) <= everything and len(val) == 1000
    counts = text_train.load([bundled, bundled], ngram=3).model.members[-1].counts[-1]  # the top order's
    held_out = set(val)
    assert counts.sum() == sum(len(name) + 1 for name in everything if name not in held_out)


def test_sampling_with_ngram_draws_first_letters_with_the_mixtures_probabilities(tiny_run):
    """20,000 names: each first letter's share is the mixture's P(first letter), within four binomial sd."""
    gen = text_train.load(tiny_run, ngram=3)
    n = 20_000
    firsts = collections.Counter(name[0] for name in gen.sample(n, seed=0))
    logp, _, _ = gen.model.forward(np.zeros((1, 1), dtype=np.int64))  # (1, 1, V) after the boundary
    p = np.exp(logp[0, 0])
    for char, count in firsts.items():
        q = p[gen.vocab.encode(char)[0]]
        assert abs(count / n - q) <= 4 * np.sqrt(q * (1 - q) / n) + 1e-9, (char, count / n, q)
    assert gen.sample(5, seed=3) == text_train.load(tiny_run, ngram=3).sample(5, seed=3)  # reproducible


def test_a_mixture_of_both_ways_mixes_each_way_with_its_own_counts(tmp_path, names_file):
    forward, backward = tmp_path / "fwd", tmp_path / "rev"
    train_tiny(forward, names_file, 20)
    train_tiny(backward, names_file, 20, "--reverse")
    both = text_train.load([forward, backward], ngram=3)
    names = ["smith", "anna"]
    alone = [np.array([s.log_prob for s in text_train.load(r, ngram=3).score(names)]) for r in (forward, backward)]
    want = np.log(0.5 * np.exp(alone[0]) + 0.5 * np.exp(alone[1]))
    np.testing.assert_allclose([s.log_prob for s in both.score(names)], want, rtol=1e-9)
    reversed_counts = both.groups[1].model.members[-1]
    assert reversed_counts.probs(np.array([[0, 0]]))[0].argmax() != 0  # reads names from their last letter


def test_cli_ngram_scores_samples_and_evaluates_and_refuses_what_it_cannot_do(
    tiny_run, stream_text_run, names_file, capsys
):
    code, out, err = run_cli(capsys, "text", "score", tiny_run, "--ngram", "3", "smith")
    weight = text_train.load(tiny_run, ngram=3).model.weights[-1]
    assert code == 0 and f"mixing in a 3-gram of the training names, weight {weight:.3f}" in err
    want = text_train.load(tiny_run, ngram=3).score(["smith"])[0].log_prob
    assert float(out.split("\t")[1]) == pytest.approx(want, abs=1e-4)
    code, out, _ = run_cli(capsys, "text", "sample", tiny_run, "--ngram", "3", "-n", "4", "--seed", "0")
    assert code == 0 and len(out.split()) == 4
    code, out, _ = run_cli(capsys, "text", "eval", tiny_run, "--ngram", "3", "--data", names_file, "--json")
    report = json.loads(out)
    assert code == 0 and report["ngram"] == {"order": 3, "weights": [weight]}
    assert report["nll"] == pytest.approx(text_train.load(tiny_run, ngram=3).evaluate(read_items(names_file))["nll"])
    for argv, fragment in (
        (["text", "score", tiny_run, "--ngram", "11", "smith"], "--ngram must be between 2 and 10"),
        (["text", "eval", stream_text_run, "--ngram", "3", "--data", names_file], "a --stream run"),
    ):
        code, _, err = run_cli(capsys, *argv)
        assert code == 2 and fragment in err and "Traceback" not in err


def test_names_quality_reports_the_ngrams_gain_on_the_same_names(tiny_run, names_file, capsys):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import names_quality

    assert names_quality.main(["--test", str(names_file), "--members", str(tiny_run), "--ngram", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    items = read_items(str(names_file))
    with_counts = text_train.load(tiny_run, ngram=3).evaluate(items)["nll"]
    plain = text_train.load(tiny_run).evaluate(items)["nll"]
    assert report["ngram"] == 3 and report["members"][0]["test_nll"] == pytest.approx(with_counts, abs=1e-4)
    assert report["ensemble"]["ngram_gain"]["nll_diff"] == pytest.approx(with_counts - plain, abs=2e-4)


def test_serve_mixes_the_ngram_into_its_name_model(tiny_run, capsys):
    from rnnkit.serve.server import load_models

    models = load_models(names_run=tiny_run, ngram=3)
    assert models["labels"]["names"] == f"{tiny_run.name} + 3-gram"
    want = text_train.load(tiny_run, ngram=3).score(["smith"])[0].log_prob
    assert models["names"].score(["smith"])[0].log_prob == pytest.approx(want, rel=1e-12)
    code, _, err = run_cli(capsys, "serve", "--port", "0", "--ngram", "1")
    assert code == 2 and "--ngram must be between 2 and 10" in err
