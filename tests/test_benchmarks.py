"""benchmarks/engine.py: the two engines it races start alike, and its sampling and table code runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
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


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_the_torch_cells_step_like_rnnkit(cell):
    """The torch.nn cells the sampling benchmark steps hold rnnkit's weights: the same logits, step by step."""
    import torch

    from rnnkit.lm.config import ModelConfig

    model = engine.TokenModel(ModelConfig(cell, 24, 2, 8, 0.0), 11, seed=4)
    model.eval()
    embed, rnn, head = engine.torch_twin(model)
    cells = engine.torch_cells(rnn)
    states, torch_states = None, [None] * len(cells)
    with torch.inference_mode():
        for x in [3, 0, 7, 7, 10]:
            ours, states = model.step_logits(np.array([x]), states)  # (1, V)
            theirs = head(engine.torch_step(cells, embed(torch.tensor([x])), torch_states))  # (1, V)
            np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-4, atol=1e-5)


def test_sampling_counts_its_work_and_the_table_shows_it():
    result = {
        "machine": engine.machine(),
        "training": [],
        "sampling": [engine.sampling(1, names=300, chars=50, repeats=1)],
    }
    s = result["sampling"][0]
    rates = ("names_s", "torch_names_s", "batch1_chars_s", "batch1_torch_chars_s", "batch1_product_us")
    assert all(s[k] > 0 for k in rates)
    # every prefix that goes on is a state, and every state but the first took a draw to reach
    assert 0 < s["extended_prefixes"] < s["prefix_states"] <= s["chars"]
    text = engine.table(result)
    assert f"| 300 names, names/s | 1 | {s['names_s']:,.0f} | {s['torch_names_s']:,.0f} |" in text
    assert f"| one sequence at batch 1, chars/s | 1 | {s['batch1_chars_s']:,.0f} |" in text
    assert f"{s['prefix_states']:,} prefix states" in text


def test_the_table_shows_how_fast_rnnkit_help_starts():
    result = {"machine": engine.machine(), "help_startup_s": engine.help_startup_s(repeats=1), "training": []}
    assert 0 < result["help_startup_s"] < 30
    assert f"rnnkit --help: {result['help_startup_s']:.2f} s" in engine.table(result)


def test_the_text_benchmarks_run_and_report_what_they_measured(tmp_path, capsys):
    """text_quality.py trains on the first 90% and tests on the rest; text_stream.py times reading and sampling."""
    import json

    import text_quality
    import text_stream

    text = "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(200))
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    tiny = [
        "--hidden-size",
        "16",
        "--embedding-size",
        "8",
        "--batch-size",
        "4",
        "--seq-length",
        "16",
        "--max-steps",
        "5",
    ]
    args = [str(path), "--max-time", "60", "--out", str(tmp_path / "run"), "--sample-length", "30", "--", *tiny]
    assert text_quality.main(args) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (int(len(text) * 0.9), len(text) - int(len(text) * 0.9)) == (result["train_chars"], result["test_chars"])
    assert 5 == result["steps"] and np.isfinite(result["test_nll"]) and 1 + 30 == len(result["sample"])
    assert text_stream.main([str(path), "--mb", "0.05", "--chars", "20", "--repeats", "1", "--train-steps", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert 50_000 == result["preprocessing"]["chars"] and "uint8" == result["preprocessing"]["dtype"]
    assert 2 == result["preprocessing"]["training"]["steps"] and result["preprocessing"]["training"]["peak_rss_mb"] > 50
    assert 20 == result["generation"]["chars"] and result["generation"]["chars_per_s"] > 0


def test_text_quality_reports_the_moving_average_when_the_run_keeps_one(tmp_path, capsys):
    """With --ema-decay the final weights are the average (what the run evaluates and saves), not the raw ones."""
    import json

    import text_quality

    from rnnkit.rundir import RunDir
    from rnnkit.text.stream import read_stream
    from rnnkit.text.train import load

    def test_part(text: str, vocab):  # the benchmark's test part, the last 10% of the text, as ids
        part = tmp_path / "test-part.txt"
        part.write_text(text[int(len(text) * 0.9) :], encoding="utf-8")
        return read_stream(part, vocab)[0]

    text = "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(200))
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    tiny = "--hidden-size 16 --embedding-size 8 --batch-size 4 --seq-length 16 --max-steps 6 --eval-every 6".split()
    args = [str(path), "--max-time", "0", "--out", str(tmp_path / "run"), "--", *tiny, "--ema-decay", "0.5"]
    assert text_quality.main(args) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    test_ids = test_part(text, load(tmp_path / "run").vocab)
    arrays, _ = RunDir(tmp_path / "run").load_checkpoint()
    nll = {}
    for prefix in ("ema.average.", "model."):
        gen = load(tmp_path / "run")
        gen.model.load_params({k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)})
        nll[prefix] = round(gen.evaluate_ids(test_ids)["nll"], 4)
    assert nll["ema.average."] != nll["model."]  # the two differ, so the check below can fail
    assert result["test_nll"] == nll["ema.average."] and result["test_nll_raw"] == nll["model."]


def test_the_benchmark_runs_without_the_machines_openblas_overrides():
    """With OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE set, engine.py runs itself again without them."""
    env = {**os.environ, "OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "1048576"}
    script = Path(engine.__file__)
    proc = subprocess.run(
        [sys.executable, str(script), "--blas"], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    info = json.loads(proc.stdout)
    assert info["library"] == "openblas" and info["kernel"] and info["overrides"] == {}


def test_the_bare_layer_rows_race_torch_and_the_table_names_the_blas_kernel():
    """A bare-layer row times both engines on the same layer; the table shows it beside the BLAS line."""
    row = engine.layer_row(16, rounds=1, seconds=0.01)
    assert row["rnnkit_ms"] > 0 and row["torch_ms"] > 0
    assert row["ratio"] == pytest.approx(row["torch_ms"] / row["rnnkit_ms"])
    result = {"machine": engine.machine(), "training": [], "layers": [row]}
    text = engine.table(result)
    assert f"BLAS: openblas {result['machine']['blas']['version']}, kernel " in text
    assert f"| H=16 | 1 | {row['rnnkit_ms']:.2f} | {row['torch_ms']:.2f} | {row['ratio']:.2f} |" in text


def test_the_step_profile_lists_the_kernels_and_times_both_products(capsys):
    """step_profile.py shows per-step time by function (the compiled gate kernels among them) and, with
    --products, the backward's and the forward's products both ways."""
    import step_profile

    assert step_profile.main(["--config", "names", "--steps", "2", "--top", "40"]) == 0
    out = capsys.readouterr().out
    assert "ms a step under cProfile" in out
    assert "lstm_forward_step" in out and "lstm_backward_step" in out and "add_rows" in out
    assert step_profile.main(["--products"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"dz W_hh \d+ us, W_hh\^T dz\^T \d+ us", out)
    assert len(re.findall(r"h W_hh\^T \d+ us, W_hh h\^T \d+ us \+ transpose \d+ us", out)) == 2  # 32, 64 rows
    assert len(re.findall(r": numpy \d+ us, torch \d+ us \(1 thread", out)) == 3  # the three products, beside torch


def test_text_quality_members_reads_each_runs_final_weights_and_their_ensemble(tmp_path, capsys):
    """--members trains nothing: each run's test NLL is the one its own benchmark run reported (the final
    weights), and the ensemble's is below the members' mean (Jensen: -log mean p <= mean -log p)."""
    import json

    import text_quality

    text = "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(200))
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    tiny = "--hidden-size 16 --embedding-size 8 --batch-size 4 --seq-length 16 --max-steps 6 --eval-every 3".split()
    reported = []
    for seed in (0, 1):
        args = [str(path), "--max-time", "0", "--out", str(tmp_path / f"s{seed}"), "--", *tiny, "--seed", str(seed)]
        assert text_quality.main(args) == 0
        reported.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["test_nll"])
    runs = [str(tmp_path / "s0"), str(tmp_path / "s1")]
    assert text_quality.main([str(path), "--members", *runs]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [m["run"] for m in result["members"]] == runs and result["ensemble"]["runs"] == runs
    assert [m["test_nll"] for m in result["members"]] == reported and reported[0] != reported[1]
    assert result["ensemble"]["test_nll"] <= np.mean(reported) + 1e-4
    assert result["ensemble"]["test_nll"] not in reported
    with pytest.raises(SystemExit) as stop:  # argparse's usage error
        text_quality.main([str(path), "--members", *runs, "--out", str(tmp_path / "x")])
    assert stop.value.code == 2
