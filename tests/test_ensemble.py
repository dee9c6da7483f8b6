"""Ensembles of runs: the mixture of the members' next-character distributions, through the API and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_cli, train_tiny

from rnnkit import cli
from rnnkit.lm.ensemble import Ensemble
from rnnkit.nn import log_softmax
from rnnkit.text import train as text_train

NAMES = ["smith", "anna", "jones", "lee", "garcia", "zz"]


@pytest.fixture(scope="module")
def second_run(tmp_path_factory, names_file):
    """A second name model on names_file (another seed, fewer steps): the same vocabulary as tiny_run's."""
    out = tmp_path_factory.mktemp("runs") / "second"
    train_tiny(out, names_file, 20, "--seed", "1")
    return out


@pytest.fixture(scope="module")
def second_stream_run(tmp_path_factory, stream_text_run):
    """A second --stream model on stream_text_run's text, with another seed."""
    data = json.loads((stream_text_run / "config.json").read_text())["data"]["data"]
    out = tmp_path_factory.mktemp("runs") / "words2"
    train_tiny(out, data, 10, "--stream", "--seq-length", "16", "--seed", "1")
    return out


def _member_char_log_probs(run, name: str) -> np.ndarray:
    """log p_k(c_t | c_<t) of each character of `name`, then the end's, from member k loaded alone: (L+1,)."""
    return np.array(text_train.load(run).char_log_probs(name).log_probs)


def _naive_mixture(per_member: list[np.ndarray]) -> np.ndarray:
    """log((1/K) sum_k exp(logp_k)), elementwise, written the plain way."""
    return np.log(np.mean(np.exp(np.stack(per_member)), axis=0))


def test_mixture_of_one_model_is_its_log_softmax():
    """The mixture of one member is that member's log-softmax: the same distribution as its logits."""
    from rnnkit.lm.ensemble import mixture_log_probs

    z = np.random.default_rng(0).normal(size=(3, 4, 7)).astype(np.float32)
    np.testing.assert_allclose(mixture_log_probs([z]), log_softmax(z.astype(np.float64)), atol=1e-12)


def test_a_one_member_ensemble_is_the_model(tiny_run, names_file):
    """load([run]) samples (with a seed, greedy, a prefix, a beam), scores and evaluates exactly like load(run)."""
    single, ens = text_train.load(tiny_run), text_train.load([tiny_run])
    assert isinstance(ens.model, Ensemble) and len(ens.model) == 1
    assert ens.sample(30, seed=4) == single.sample(30, seed=4)
    assert ens.sample(10, seed=4, prefix="ma", top_k=5, top_p=0.9) == single.sample(
        10, seed=4, prefix="ma", top_k=5, top_p=0.9
    )
    assert ens.sample(1, greedy=True) == single.sample(1, greedy=True)
    assert [s.name for s in ens.beam(5)] == [s.name for s in single.beam(5)]
    np.testing.assert_allclose([s.log_prob for s in ens.score(NAMES)], [s.log_prob for s in single.score(NAMES)])
    items = names_file.read_text().split()
    assert ens.evaluate(items)["nll"] == pytest.approx(single.evaluate(items)["nll"], rel=1e-9)


def test_two_member_scores_are_the_mixture_of_the_members_own_log_probs(tiny_run, second_run):
    """Each character's log-probability is log(mean_k p_k), from each member alone; a name's score is their sum."""
    ens = text_train.load([tiny_run, second_run])
    for name in NAMES:
        members = [_member_char_log_probs(run, name) for run in (tiny_run, second_run)]
        assert not np.allclose(members[0], members[1])  # the members differ, so the mixture is no copy of one
        naive = _naive_mixture(members)
        np.testing.assert_allclose(ens.char_log_probs(name).log_probs, naive, atol=1e-9)
        assert ens.score([name])[0].log_prob == pytest.approx(naive.sum(), abs=1e-9)


def test_two_member_eval_is_the_mixture_nll(tiny_run, second_run, names_file, capsys):
    """eval over two runs: the mean over every character of -log(mean_k p_k), each member's log-probs its own."""
    items = names_file.read_text().split()[:120]
    data = names_file.parent / "ensemble-eval.txt"
    data.write_text("\n".join(items) + "\n", encoding="utf-8")
    total = -sum(
        _naive_mixture([_member_char_log_probs(run, s) for run in (tiny_run, second_run)]).sum() for s in items
    )
    code, out, _ = run_cli(capsys, "text", "eval", tiny_run, second_run, "--data", data, "--json")
    result = json.loads(out)
    assert code == 0 and result["runs"] == [str(tiny_run), str(second_run)]
    assert result["chars"] == sum(len(s) + 1 for s in items)
    assert result["nll"] == pytest.approx(total / result["chars"], rel=1e-9)
    members = [
        json.loads(run_cli(capsys, "text", "eval", r, "--data", data, "--json")[1]) for r in (tiny_run, second_run)
    ]
    assert members[0]["runs"] == [str(tiny_run)]
    assert result["nll"] != pytest.approx(members[0]["nll"]) and result["nll"] != pytest.approx(members[1]["nll"])


def test_beam_over_an_ensemble_gives_the_log_probs_score_gives(tiny_run, second_run, capsys):
    """--beam over two runs: names sorted by log-probability, each the number `score` over the same runs gives."""
    code, out, _ = run_cli(capsys, "text", "sample", tiny_run, second_run, "--beam", "6", "--prefix", "ma")
    rows = [line.split("\t") for line in out.strip().split("\n")]
    assert code == 0 and len(rows) == 6 and all(name.startswith("ma") for name, _ in rows)
    log_probs = [float(lp) for _, lp in rows]
    assert log_probs == sorted(log_probs, reverse=True)
    code, out, _ = run_cli(capsys, "text", "score", tiny_run, second_run, *[name for name, _ in rows])
    scored = [float(line.split("\t")[1]) for line in out.strip().split("\n")]
    assert code == 0
    np.testing.assert_allclose(scored, log_probs, atol=1e-4)


def test_sampling_an_ensemble_with_a_seed_is_reproducible(tiny_run, second_run, capsys):
    """The same seed gives the same names over two runs; another seed, or one member alone, gives others."""
    argv = ["text", "sample", tiny_run, second_run, "-n", "20"]
    a = run_cli(capsys, *argv, "--seed", "5")[1]
    assert a == run_cli(capsys, *argv, "--seed", "5")[1]
    assert a != run_cli(capsys, *argv, "--seed", "6")[1]
    assert a != run_cli(capsys, "text", "sample", second_run, "-n", "20", "--seed", "5")[1]
    assert len(a.split()) == 20


def test_cli_over_an_ensemble(tiny_run, second_run, names_file, capsys):
    """sample (--novel, --prefix, --greedy), score (--chars) and eval all run over two runs; --help says how."""
    training = set(text_train.load(tiny_run).training_items) | set(text_train.load(second_run).training_items)
    code, out, _ = run_cli(capsys, "text", "sample", tiny_run, second_run, "-n", "15", "--novel", "--seed", "1")
    assert code == 0 and len(out.split()) == 15 and not set(out.split()) & training
    code, out, _ = run_cli(capsys, "text", "sample", tiny_run, second_run, "--prefix", "jo", "-n", "5", "--seed", "2")
    assert code == 0 and all(name.startswith("jo") for name in out.split())
    code, out, _ = run_cli(capsys, "text", "sample", tiny_run, second_run, "--greedy")
    assert code == 0 and out.split() == text_train.load([tiny_run, second_run]).sample(1, greedy=True)
    code, out, _ = run_cli(capsys, "text", "score", "--chars", tiny_run, second_run, "smith")
    assert code == 0 and out.startswith("smith\t") and "<end>:" in out
    code, out, _ = run_cli(capsys, "text", "eval", tiny_run, second_run, "--data", names_file)
    assert code == 0 and out.startswith("ensemble of 2 runs: 400 items")
    for action in ("sample", "score", "eval"):
        assert cli.main(["text", action, "--help"]) == 0
        assert "ensemble" in capsys.readouterr().out


def test_runs_that_do_not_match_are_refused_naming_the_run(tiny_run, stream_text_run, tmp_path, names_file, capsys):
    """A member with another vocabulary, or of another kind (a --stream run), ends with one line naming it: exit 2."""
    small = tmp_path / "abc.txt"
    rng = np.random.default_rng(0)
    small.write_text("\n".join("".join(rng.choice(list("abc"), size=4)) for _ in range(80)) + "\n", encoding="utf-8")
    other = tmp_path / "abc-run"
    train_tiny(other, small, 2)
    capsys.readouterr()
    for argv, message in [
        (["sample", tiny_run, other], f"{other}: its vocabulary differs"),
        (["score", tiny_run, other, "abc"], f"{other}: its vocabulary differs"),
        (["eval", tiny_run, other, "--data", names_file], f"{other}: its vocabulary differs"),
        (["eval", tiny_run, stream_text_run, "--data", names_file], f"{stream_text_run}: a --stream run"),
    ]:
        code, out, err = run_cli(capsys, "text", *argv)
        assert code == 2 and out == "", argv
        assert err.count("\n") == 1 and message in err and "Traceback" not in err, argv


def test_an_ensemble_of_stream_runs_continues_a_prime_and_evaluates_with_each_state_carried(
    stream_text_run, second_stream_run, capsys
):
    """Two --stream runs: eval is -log(mean_k p_k) over the stream, each member reading it from its own state."""
    text = "the of and to in that it is\nwas he for on are as with his\n" * 3
    ens = text_train.load([stream_text_run, second_stream_run])
    per_member = []
    for run in (stream_text_run, second_stream_run):
        gen = text_train.load(run)
        ids = gen.vocab.encode(text)
        logits, _, _ = gen.model.forward(ids[:-1, None])  # (N-1, 1, V): the whole text from one zero state
        logp = log_softmax(logits[:, 0].astype(np.float64))  # (N-1, V)
        per_member.append(logp[np.arange(len(ids) - 1), ids[1:]])
    naive = -_naive_mixture(per_member).mean()
    result = ens.evaluate(text)
    assert result["rows"] == 1 and result["nll"] == pytest.approx(naive, rel=1e-9)
    single = text_train.load([stream_text_run])
    assert single.sample("the ", length=40, seed=3) == text_train.load(stream_text_run).sample(
        "the ", length=40, seed=3
    )
    argv = ["text", "sample", stream_text_run, second_stream_run, "--prime", "the ", "--length", "40"]
    code, a, _ = run_cli(capsys, *argv, "--seed", "7")
    assert code == 0 and a.startswith("the ") and len(a) == len("the ") + 40 + 1
    assert a == run_cli(capsys, *argv, "--seed", "7")[1]


def test_names_quality_reports_each_members_and_the_ensembles_test_nll(tiny_run, second_run, names_file, capsys):
    """benchmarks/names_quality.py --members trains nothing and prints each run's test NLL and their ensemble's."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import names_quality

    runs = [str(tiny_run), str(second_run)]
    assert names_quality.main(["--test", str(names_file), "--members", *runs]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    items = names_file.read_text().split()
    alone = [text_train.load(run).evaluate(items)["nll"] for run in runs]
    assert [m["run"] for m in result["members"]] == runs and result["ensemble"]["runs"] == runs
    assert [m["test_nll"] for m in result["members"]] == [round(x, 4) for x in alone]
    assert result["ensemble"]["test_nll"] == round(text_train.load(runs).evaluate(items)["nll"], 4)
    assert result["members"][1]["steps"] == 20
    # each figure's standard error over the names: the ratio sum_i L_i / sum_i n_i's, from each name's characters
    n = np.array([len(item) + 1 for item in items])
    losses = []
    for member, run in zip(result["members"], runs, strict=True):
        L = np.array([-text_train.load(run).char_log_probs(item).log_prob for item in items])
        nll = L.sum() / n.sum()
        se = np.sqrt(len(L) / (len(L) - 1) * np.sum((L - nll * n) ** 2)) / n.sum()
        assert member["test_nll_se"] == pytest.approx(se, abs=1e-4) and se > 0
        losses.append(L)
    assert result["ensemble"]["test_nll_se"] > 0
    # the second run against the first on the same names: the difference of the NLLs, and its own standard error
    d = losses[1] - losses[0]
    diff = d.sum() / n.sum()
    se = np.sqrt(len(d) / (len(d) - 1) * np.sum((d - diff * n) ** 2)) / n.sum()
    assert "vs_first" not in result["members"][0]
    assert result["members"][1]["vs_first"] == {
        "nll_diff": pytest.approx(diff, abs=1e-4),
        "se": pytest.approx(se, abs=1e-4),
    }
    assert diff == pytest.approx(alone[1] - alone[0], abs=1e-9) and se > 0
    # -log mean_k p_k <= mean_k -log p_k at every character (Jensen), so the mixture beats the members' mean
    assert result["ensemble"]["test_nll"] <= np.mean(alone) + 1e-4
    with pytest.raises(SystemExit) as stop:  # argparse's usage error
        names_quality.main(["--test", str(names_file), "--members", *runs, "--train", str(names_file)])
    assert stop.value.code == 2
    assert "--train cannot apply with --members" in capsys.readouterr().err
