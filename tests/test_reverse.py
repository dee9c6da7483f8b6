"""Name models that read names right to left (--reverse), and ensembles of runs read both ways (NameMixture)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from conftest import TINY, run_cli, train_tiny
from safetensors.numpy import load_file

from rnnkit.lm.evaluate import token_log_probs
from rnnkit.text import train as text_train
from rnnkit.text.mixture import NameMixture

NAMES = ["smith", "anna", "jones", "lee", "garcia", "zz"]


@pytest.fixture(scope="module")
def reversed_file(names_file, tmp_path_factory):
    """names_file with every name written backwards."""
    path = tmp_path_factory.mktemp("data") / "names-reversed.txt"
    path.write_text("\n".join(s[::-1] for s in names_file.read_text().split()) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reverse_run(tmp_path_factory, names_file):
    out = tmp_path_factory.mktemp("runs") / "reverse"
    train_tiny(out, names_file, 30, "--reverse")
    return out


@pytest.fixture(scope="module")
def run_on_reversed_file(tmp_path_factory, reversed_file):
    out = tmp_path_factory.mktemp("runs") / "on-reversed-file"
    train_tiny(out, reversed_file, 30)
    return out


def test_reverse_trains_what_the_reversed_file_trains(reverse_run, run_on_reversed_file):
    """--reverse on a file gives the weights, bit for bit, of a plain run on the file with every name backwards."""
    a, b = load_file(reverse_run / "model.safetensors"), load_file(run_on_reversed_file / "model.safetensors")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert json.loads((reverse_run / "config.json").read_text())["data"]["reverse"] is True


def test_a_reversed_model_takes_and_gives_names_as_written(reverse_run, run_on_reversed_file):
    """Its samples, beams and scores are the reversed file's run's, with every name turned round."""
    rev, plain = text_train.load(reverse_run), text_train.load(run_on_reversed_file)
    assert rev.sample(40, seed=3) == [s[::-1] for s in plain.sample(40, seed=3)]
    assert rev.sample(1, greedy=True) == [plain.sample(1, greedy=True)[0][::-1]]
    assert [(s.name, s.log_prob) for s in rev.beam(5)] == [(s.name[::-1], s.log_prob) for s in plain.beam(5)]
    np.testing.assert_allclose(
        [s.log_prob for s in rev.score(NAMES)], [s.log_prob for s in plain.score([n[::-1] for n in NAMES])]
    )
    assert not np.allclose(  # reading the other way round is another model, not a no-op
        [s.log_prob for s in rev.score(NAMES)], [s.log_prob for s in plain.score(NAMES)]
    )


def test_a_reversed_models_character_scores_are_listed_in_the_names_order(reverse_run):
    """char_log_probs: the i-th value is log P(c_i | the characters after it), the last the start's; they add up."""
    gen = text_train.load(reverse_run)
    for name in ("garcia", "lee"):
        scores = gen.char_log_probs(name)
        read = token_log_probs(gen.model, gen.vocab.encode(name[::-1]))  # (L+1,): c_L, ..., c_1, then the start
        assert scores.chars == tuple(name)
        np.testing.assert_allclose(scores.log_probs, [*read[-2::-1], read[-1]], atol=1e-12)
        assert scores.log_prob == pytest.approx(gen.score([name])[0].log_prob, abs=1e-9)


def test_score_chars_puts_a_reversed_models_start_first(reverse_run, tiny_run, capsys):
    """`score --chars`: a reversed run's boundary prediction is where the name starts, and is shown first."""
    code, out, _ = run_cli(capsys, "text", "score", "--chars", reverse_run, "lee")
    name, log_prob, cells = out.strip().splitlines()[-1].split("\t")  # after any fixture's training log
    scores = text_train.load(reverse_run).char_log_probs("lee")
    start_first = (scores.log_probs[-1], *scores.log_probs[:-1])
    shown = [f"{c}:{np.exp(lp):.3f}" for c, lp in zip(("<start>", *"lee"), start_first, strict=True)]
    assert code == 0 and cells.split() == shown
    code, out, _ = run_cli(capsys, "text", "score", "--chars", tiny_run, "lee")
    cells = out.strip().splitlines()[-1].split("\t")[2].split()
    assert code == 0 and cells[0].startswith("l:") and cells[-1].startswith("<end>:")


def test_reverse_refuses_what_it_cannot_do(reverse_run, names_file, tmp_path, capsys):
    """A prefix, a --stream run, and character scores over a mixture are refused in one line with exit 2."""
    code, _, err = run_cli(capsys, "text", "sample", reverse_run, "--prefix", "ma")
    assert code == 2 and "--prefix needs a model that reads names left to right" in err
    assert "Traceback" not in err
    code, _, err = run_cli(capsys, "text", "sample", reverse_run, "--beam", "3", "--prefix", "ma")
    assert code == 2 and "--reverse" in err
    argv = ["text", "train", "--data", names_file, "--stream", "--reverse", "--out", tmp_path / "s", *TINY]
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "--reverse reads each name of a list" in err and not (tmp_path / "s").exists()


# -- mixtures of runs read both ways -----------------------------------------------------------------------------
def _log_probs(run_or_runs, names: list[str]) -> np.ndarray:
    return np.array([s.log_prob for s in text_train.load(run_or_runs).score(names)])


def test_runs_read_both_ways_mix_name_by_name(tiny_run, reverse_run, names_file):
    """P(name) = (1/2) P_forward(name) + (1/2) P_reverse(name), each run loaded alone; eval's NLL follows."""
    mix = text_train.load([tiny_run, reverse_run])
    assert isinstance(mix, NameMixture)
    naive = np.log(0.5 * np.exp(_log_probs(tiny_run, NAMES)) + 0.5 * np.exp(_log_probs(reverse_run, NAMES)))
    np.testing.assert_allclose([s.log_prob for s in mix.score(NAMES)], naive, atol=1e-9)
    items = names_file.read_text().split()[:100]
    naive_items = np.log(0.5 * np.exp(_log_probs(tiny_run, items)) + 0.5 * np.exp(_log_probs(reverse_run, items)))
    result = mix.evaluate(items)
    assert result["chars"] == sum(len(s) + 1 for s in items)
    assert result["nll"] == pytest.approx(-naive_items.sum() / result["chars"], rel=1e-9)


def test_a_mixture_weighs_each_way_by_its_runs(tiny_run, reverse_run, tmp_path_factory, names_file):
    """Two forward runs and one reversed: (2/3) P of the forward runs' ensemble + (1/3) P of the reversed run."""
    second = tmp_path_factory.mktemp("runs") / "second-forward"
    train_tiny(second, names_file, 20, "--seed", "1")
    mix = text_train.load([tiny_run, reverse_run, second])
    forward = _log_probs([tiny_run, second], NAMES)  # their character-by-character ensemble
    naive = np.log(2 / 3 * np.exp(forward) + 1 / 3 * np.exp(_log_probs(reverse_run, NAMES)))
    np.testing.assert_allclose([s.log_prob for s in mix.score(NAMES)], naive, atol=1e-9)


@pytest.fixture(scope="module")
def ab_runs(tmp_path_factory):
    """A forward and a reversed model of short names over the letters a and b, to enumerate every name."""
    data = tmp_path_factory.mktemp("data") / "ab.txt"
    data.write_text("\n".join(["a", "ab", "abb", "ba", "b", "aab", "ab", "bb", "a"] * 30) + "\n", encoding="utf-8")
    runs = tmp_path_factory.mktemp("runs")
    train_tiny(runs / "ab", data, 60, "--val-fraction", "0.1")
    train_tiny(runs / "ab-reverse", data, 60, "--val-fraction", "0.1", "--reverse", "--seed", "2")
    return runs / "ab", runs / "ab-reverse"


def test_sampling_a_mixture_draws_each_name_with_its_probability(ab_runs):
    """The share of each name among 20,000 drawn is (1/2) sum_g P_g(name) / (1 - P_g(empty name)), within four
    binomial standard deviations: each run is drawn from half the time, and a drawn name is never empty."""
    mix = text_train.load(list(ab_runs))
    n = 20_000
    names = mix.sample(n, seed=0, max_length=6)
    assert names == mix.sample(n, seed=0, max_length=6) and names != mix.sample(n, seed=1, max_length=6)
    counts = {name: names.count(name) for name in ("a", "ab", "b", "ba", "abb", "bb")}
    p = 0
    for run in ab_runs:
        alone = text_train.load(run)
        empty = np.exp(token_log_probs(alone.model, np.zeros(0, dtype=np.int64))[0])  # P(end | start)
        p = p + 0.5 * np.exp(_log_probs(run, list(counts))) / (1 - empty)
    observed = np.array(list(counts.values())) / n
    assert np.all(np.abs(observed - p) < 4 * np.sqrt(p * (1 - p) / n) + 1e-9), (observed, p)


def test_beam_over_a_mixture_finds_its_most_probable_names(ab_runs):
    """Of every name of up to four letters, the mixture's three most probable are the beam's, with its scores."""
    mix = text_train.load(list(ab_runs))
    every = ["".join(t) for k in range(1, 5) for t in itertools.product("ab", repeat=k)]
    ranked = sorted(mix.score(every), key=lambda s: -s.log_prob)[:3]
    found = mix.beam(3, max_length=4)
    assert [s.name for s in found] == [s.name for s in ranked]
    np.testing.assert_allclose([s.log_prob for s in found], [s.log_prob for s in ranked], atol=1e-9)


def test_a_mixture_through_the_cli(tiny_run, reverse_run, names_file, capsys):
    """sample (--novel, --greedy), score and eval run over both ways; --chars and a prefix are refused."""
    runs = [tiny_run, reverse_run]
    code, out, _ = run_cli(capsys, "text", "sample", *runs, "-n", "30", "--novel", "--seed", "1")
    names = out.split()
    training = set(names_file.read_text().split())
    assert code == 0 and len(names) == 30 and len(set(names)) == 30 and not training & set(names)
    code, out, _ = run_cli(capsys, "text", "sample", *runs, "--greedy")
    assert code == 0 and len(out.split()) == 1
    code, out, _ = run_cli(capsys, "text", "score", *runs, "smith")
    assert code == 0 and float(out.split("\t")[1]) == pytest.approx(text_train.load(runs).score(["smith"])[0].log_prob)
    code, out, _ = run_cli(capsys, "text", "eval", *runs, "--data", names_file, "--json")
    assert code == 0 and json.loads(out)["nll"] == pytest.approx(
        text_train.load(runs).evaluate(names_file.read_text().split())["nll"], rel=1e-9
    )
    refusals = {
        ("score", "--chars", *runs, "smith"): "character scores need runs that all read names one way",
        ("sample", *runs, "--prefix", "ma"): "--prefix needs a model that reads names left to right",
    }
    for argv, message in refusals.items():
        code, _, err = run_cli(capsys, "text", *argv)
        assert code == 2 and message in err and "Traceback" not in err


def test_the_page_scores_a_reversed_run_in_the_names_order(reverse_run):
    """/api/names/score over a reversed run: its probabilities in the name's order, flagged reverse; a prefix 400s."""
    from starlette.testclient import TestClient

    from rnnkit.serve.app import create_app

    gen = text_train.load(reverse_run)
    with TestClient(create_app(names=gen)) as client:
        s = client.post("/api/names/score", json={"name": "garcia"}).json()
        expected = np.exp(gen.char_log_probs("garcia").log_probs)
        assert s["reverse"] is True and s["chars"] == list("garcia")
        np.testing.assert_allclose([*s["probs"], s["end"]], expected, rtol=1e-12)
        r = client.post("/api/names/sample", json={"n": 3, "prefix": "ga"})
        assert r.status_code == 400 and "--reverse" in r.json()["error"]
