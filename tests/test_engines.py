"""The torch engine against the NumPy engine, the engine flags, and torch-trained runs on the NumPy engine.

Dropout masks are drawn differently by the two engines (NumPy's generator, torch's), so the agreement tests
train with dropout 0; the torch engine's own dropout is covered by its exact-resume test.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import interrupt_at

from rnnkit import cli
from rnnkit.config import TrainConfig, learning_rate
from rnnkit.engines.base import make_engine
from rnnkit.engines.batch import Batch
from rnnkit.engines.config import EngineConfig
from rnnkit.engines.distributed import World
from rnnkit.engines.torch_engine import TorchLM
from rnnkit.lm.batches import iter_eval_batches
from rnnkit.lm.config import ModelConfig
from rnnkit.lm.evaluate import stream_nll
from rnnkit.lm.model import TokenModel
from rnnkit.music.train import WindowBatcher
from rnnkit.rundir import RunDir
from rnnkit.text import train as text_train
from rnnkit.text.data import Batcher, load_surnames
from rnnkit.text.stream import StreamTask, TextGenerator
from rnnkit.text.vocab import Vocabulary

STEPS = 8
TORCH64 = EngineConfig(engine="torch", device="cpu", precision="fp64")
CARRIED_CONFIG = TrainConfig(lr=0.02, warmup_steps=2, clip_norm=1.0, weight_decay=0.0)


def _lines(batch_size: int):
    """Names: padded, masked batches from the Batcher, and validation batches."""
    names = load_surnames()[:300]
    vocab = Vocabulary.from_items(names)
    encoded = [vocab.encode(s) for s in names]
    batcher = Batcher(encoded[:250], batch_size, seed=3, sort_chunk=4)
    train = [Batch(*batcher.next_batch()) for _ in range(STEPS)]
    return len(vocab), train, [Batch(*b) for b in iter_eval_batches(encoded[250:], 16)]


def _music(batch_size: int):
    """Melody-like windows: random (Tx + 1)-token windows of one token stream, every target counting."""
    tokens = np.random.default_rng(5).integers(0, 20, size=600)
    windows = WindowBatcher(tokens, 12, batch_size, seed=4)
    train = [Batch(*windows.next_batch()) for _ in range(STEPS)]
    return 20, train, [Batch(*windows.next_batch()) for _ in range(2)]


def _stream_task(batch_size: int) -> StreamTask:
    """The real free-text Task over a pattern a model can learn: batch_size rows of 5 steps of 10, then a wrap;
    its validation stream read as 3 rows side by side, each past the first after a warm-up."""
    i = np.arange(batch_size * 50 + 1 + 200)
    tokens = 1 + (3 * i + i // 7) % 14  # (N,) ids 1..14 (a stream never uses the boundary, 0)
    vocab = Vocabulary(tuple("abcdefghijklmn"))
    model = TokenModel(ModelConfig("lstm", 12, 2, 6, 0.0), len(vocab), seed=7, dtype=np.float64)
    config = TrainConfig(batch_size=batch_size)
    train, val = tokens[:-200], tokens[-200:]
    return StreamTask(model, TextGenerator(model, vocab), train, val, config, seq_length=10, eval_rows=3)


def _stream(batch_size: int):
    """A stream's carried batches from StreamTask.next_batch (reset where the rows wrap), and its eval_batches."""
    task = _stream_task(batch_size)
    train = [task.next_batch() for _ in range(STEPS)]
    assert [b.carry for b in train] == [True] * STEPS and [s for s, b in enumerate(train) if b.reset] == [0, 5]
    return task.model.vocab_size, train, list(task.eval_batches())


def _train_both(cell: str, data, config: TrainConfig, num_layers: int):
    vocab_size, train, val = data
    model_cfg = ModelConfig(cell=cell, hidden_size=12, num_layers=num_layers, embedding_size=6, dropout=0.0)
    engines = {}
    for name, engine_cfg in (("numpy", EngineConfig(precision="fp64")), ("torch", TORCH64)):
        model = TokenModel(model_cfg, vocab_size, seed=7, dtype=np.float64)  # the same initial weights for both
        engines[name] = make_engine(engine_cfg, model, config, World())
    losses = {name: [] for name in engines}
    for step, batch in enumerate(train):
        lr = learning_rate(config, step, STEPS)
        for name, engine in engines.items():
            loss, n = engine.forward_backward(batch, step)
            engine.update(lr)
            losses[name].append(loss)
            assert n == batch.targets_counted
    return engines, losses, val


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("data", ["lines", "music", "stream"])
def test_engines_agree_step_for_step_in_float64(cell, data):
    """From the same weights and batches, both engines give the same losses, weights, moments and evaluation."""
    make = {"lines": _lines, "music": _music, "stream": _stream}[data]
    # names: AdamW, warm-up and cosine, norm clipping; music: the seed's Keras decay and value clipping
    config = {
        "lines": TrainConfig(lr=0.02, warmup_steps=3, clip_norm=0.5, weight_decay=0.1),
        "music": TrainConfig(lr=0.01, lr_schedule="constant", decay=0.01, clip_norm=None, clip_value=0.05),
        "stream": CARRIED_CONFIG,
    }[data]
    engines, losses, val = _train_both(cell, make(8), config, num_layers=2 if data != "music" else 1)
    np.testing.assert_allclose(losses["torch"], losses["numpy"], rtol=0, atol=1e-9)
    assert losses["numpy"][-1] < losses["numpy"][0]  # it trained
    ours, theirs = engines["numpy"].export_params(), engines["torch"].export_params()
    assert ours.keys() == theirs.keys()
    for k in ours:
        np.testing.assert_allclose(theirs[k], ours[k], rtol=1e-9, atol=1e-11, err_msg=k)
    m_ours, m_theirs = engines["numpy"].export_optimizer(), engines["torch"].export_optimizer()
    assert m_ours.keys() == m_theirs.keys() and m_ours["t"][0] == m_theirs["t"][0] == STEPS
    for k in m_ours:
        np.testing.assert_allclose(m_theirs[k], m_ours[k], rtol=1e-8, atol=1e-14, err_msg=k)
    assert abs(engines["torch"].evaluate(val) - engines["numpy"].evaluate(val)) < 1e-9
    if data == "stream":  # the Trainer's evaluation of a stream is the one `rnnkit text eval` reports
        nll, _ = stream_nll(engines["numpy"].model, _stream_task(8).val, rows=3)
        assert abs(engines["numpy"].evaluate(val) - nll) < 1e-12
        a, b = engines["numpy"].carried_state(), engines["torch"].carried_state()
        assert a.keys() == b.keys() and a
        for k in a:
            np.testing.assert_allclose(b[k], a[k], rtol=0, atol=1e-10, err_msg=k)


def test_sgd_steps_agree():
    """The seed's plain gradient descent with value clipping agrees across the engines too."""
    config = TrainConfig(optimizer="sgd", lr=0.5, lr_schedule="constant", clip_norm=None, clip_value=1.0)
    engines, losses, _ = _train_both("lstm", _lines(8), config, num_layers=1)
    np.testing.assert_allclose(losses["torch"], losses["numpy"], rtol=0, atol=1e-9)
    assert engines["torch"].export_optimizer() == engines["numpy"].export_optimizer() == {}


def test_weights_round_trip_with_rnnkit_bias_in_b_ih():
    """import/export keep rnnkit's arrays; the LSTM's one bias sits in b_ih and b_hh stays a frozen zero."""
    model = TokenModel(ModelConfig(cell="lstm", hidden_size=5, embedding_size=3, num_layers=2), 7, seed=1)
    engine = make_engine(EngineConfig(engine="torch", device="cpu"), model, TrainConfig(), World())
    out = engine.export_params()
    assert out.keys() == model.params.keys()
    for k, v in model.params.items():
        np.testing.assert_array_equal(out[k], v)
    np.testing.assert_array_equal(engine.net.rnn.bias_ih_l1.detach().numpy(), model.params["rnn.1.b"])
    assert not engine.net.rnn.bias_hh_l0.requires_grad and not engine.net.rnn.bias_hh_l0.any()


# -- through the command line -------------------------------------------------------------------------------
TINY = ["--hidden-size", "16", "--embedding-size", "8", "--num-samples", "1", "--quiet"]


def _train(out, names_file, steps: int, *extra) -> int:
    argv = ["text", "train", "--data", names_file, "--out", out, "--max-steps", steps, "--eval-every", "5"]
    return cli.main([str(a) for a in [*argv, "--batch-size", "16", *TINY, *extra]])


def test_torch_engine_resumes_exactly_on_the_cpu(tmp_path, names_file, monkeypatch):
    """Ctrl-C at step 7 on the torch engine (with dropout), then --resume: bit-identical to a straight run."""
    torch_flags = ["--engine", "torch", "--device", "cpu", "--dropout", "0.2"]
    assert _train(tmp_path / "straight", names_file, 15, *torch_flags) == 0
    interrupt_at(monkeypatch, text_train.NameTask, 7)
    assert _train(tmp_path / "split", names_file, 15, *torch_flags) == 130  # saved, exit 128 + SIGINT
    assert [r["step"] for r in RunDir(tmp_path / "split").read_metrics()] == [5, 7]
    assert cli.main(["text", "train", "--resume", str(tmp_path / "split"), "--quiet"]) == 0
    a, meta_a = RunDir(tmp_path / "straight").load_checkpoint()
    b, meta_b = RunDir(tmp_path / "split").load_checkpoint()
    assert a.keys() == b.keys() and meta_a["step"] == meta_b["step"] == 15
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    config = RunDir(tmp_path / "split").read_config()
    assert config["engine"] == {"engine": "torch", "device": "cpu", "precision": "fp32", "world_size": 1}


def test_a_torch_trained_run_samples_on_numpy_as_torch_logits_say(tmp_path, names_file):
    """The NumPy engine's logits, scores and greedy names from a torch-trained run are torch's own."""
    assert _train(tmp_path / "run", names_file, 20, "--engine", "torch", "--device", "cpu", "--lr", "0.03") == 0
    gen = text_train.load(tmp_path / "run")  # the NumPy model, as `rnnkit text sample` loads it
    arrays, _ = RunDir(tmp_path / "run").load_model()
    c = gen.model.config
    net = TorchLM(c.cell, gen.model.vocab_size, c.embedding_size, c.hidden_size, c.num_layers, c.dropout).eval()
    with torch.no_grad():
        net.embed.weight.copy_(torch.from_numpy(arrays["embed.W"]))
        net.head.weight.copy_(torch.from_numpy(arrays["head.W"]))
        net.head.bias.copy_(torch.from_numpy(arrays["head.b"]))
        net.rnn.weight_ih_l0.copy_(torch.from_numpy(arrays["rnn.0.W_ih"]))
        net.rnn.weight_hh_l0.copy_(torch.from_numpy(arrays["rnn.0.W_hh"]))
        net.rnn.bias_ih_l0.copy_(torch.from_numpy(arrays["rnn.0.b"]))

    names = ["smith", "johnson", "garcia", "lee"]
    batch = next(iter_eval_batches([gen.vocab.encode(n) for n in names], 8))
    with torch.no_grad():
        theirs, _ = net(torch.from_numpy(batch[0]))  # (T, B, V)
    ours, _, _ = gen.model.forward(batch[0])
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-4, atol=1e-5)

    logp = torch.log_softmax(theirs.double(), -1).numpy()  # (T, B, V)
    t, b = np.nonzero(batch[2])
    expected = np.bincount(b, weights=logp[t, b, batch[1][t, b]])  # (B,) per name, its end included
    # order of iter_eval_batches: by length, stable
    order = np.argsort([len(n) for n in names], kind="stable")
    scored = {s.name: s.log_prob for s in gen.score(names)}
    for col, i in enumerate(order):
        assert scored[names[i]] == pytest.approx(expected[col], abs=1e-4)

    ids, state = [gen.vocab.bos], None  # greedy decoding with torch's logits
    with torch.no_grad():
        for _ in range(20):
            logits, state = net(torch.tensor([[ids[-1]]]), state)
            ids.append(int(logits[0, 0].argmax()))
            if ids[-1] == gen.vocab.eos:
                break
    expected_name = gen.vocab.decode(ids[1:-1] if ids[-1] == gen.vocab.eos else ids[1:])
    assert gen.sample(1, greedy=True, max_length=20) == [expected_name]


def test_a_torch_trained_run_resumes_on_the_numpy_engine(tmp_path, names_file, monkeypatch):
    """--resume DIR --engine numpy continues a torch run: weights and Adam moments carry over, config records it."""
    out = tmp_path / "run"
    interrupt_at(monkeypatch, text_train.NameTask, 6)
    assert _train(out, names_file, 10, "--engine", "torch", "--device", "cpu") == 130  # saved, 128 + SIGINT
    arrays, meta = RunDir(out).load_checkpoint()
    assert meta["step"] == int(arrays["optim.t"][0]) == 6
    assert cli.main(["text", "train", "--resume", str(out), "--engine", "numpy", "--quiet"]) == 0
    arrays, meta = RunDir(out).load_checkpoint()
    assert meta["step"] == int(arrays["optim.t"][0]) == 10
    assert RunDir(out).read_config()["engine"]["engine"] == "numpy"


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    """About 10,800 characters of text: surnames as lines of words."""
    names = [n.lower() for n in load_surnames()[:1500]]
    path = tmp_path_factory.mktemp("text") / "text.txt"
    path.write_text("\n".join(" ".join(names[i : i + 8]) for i in range(0, len(names), 8)) + "\n", encoding="utf-8")
    return path


def _train_stream(out, text_file, steps: int, *extra) -> int:
    """A --stream run of 16 rows x 32 characters: 18 batches an epoch, so the rows wrap after step 18."""
    argv = ["text", "train", "--data", text_file, "--stream", "--out", out, "--max-steps", steps, "--eval-every", 5]
    return cli.main([str(a) for a in [*argv, "--batch-size", "16", "--seq-length", "32", *TINY, *extra]])


def test_a_stream_run_on_the_torch_engine_resumes_exactly_and_samples_on_numpy(tmp_path, text_file, monkeypatch):
    """--stream --engine torch with dropout, Ctrl-C at step 10, --resume past the wrap: bit-identical to a
    straight run (weights, moments, carried state, position, metrics); the run samples on the NumPy engine."""
    from rnnkit.text import stream

    torch_flags = ["--engine", "torch", "--device", "cpu", "--dropout", "0.2", "--threads", "1"]
    assert _train_stream(tmp_path / "straight", text_file, 24, *torch_flags) == 0
    interrupt_at(monkeypatch, stream.StreamTask, 10)
    assert _train_stream(tmp_path / "split", text_file, 24, *torch_flags) == 130  # 128 + SIGINT: saved
    split = RunDir(tmp_path / "split")
    assert [r["step"] for r in split.read_metrics()] == [5, 10]
    assert cli.main(["text", "train", "--resume", str(split.path), "--quiet"]) == 0
    a, meta_a = RunDir(tmp_path / "straight").load_checkpoint()
    b, meta_b = split.load_checkpoint()
    assert meta_a["step"] == meta_b["step"] == 24 and meta_a["data"] == meta_b["data"]
    assert meta_b["data"]["epoch"] == 1 and {"carry.h.0", "carry.c.0"} <= b.keys()
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    losses = lambda run: [(r["step"], r["train_loss"], r["val_loss"]) for r in run.read_metrics()]  # noqa: E731
    assert losses(RunDir(tmp_path / "straight")) == losses(split)
    gen = text_train.load(split.path)
    assert gen.sample(prime="smith", length=20, seed=1)[0].startswith("smith")


def test_two_gloo_processes_train_a_stream_like_one_with_twice_the_rows_and_resume(tmp_path, text_file):
    """--stream under torchrun, 2 ranks x 8 rows, Ctrl-C at step 5, --resume: 1 process x 16 rows (float64)."""
    flags = ["--engine", "torch", "--device", "cpu", "--precision", "fp64", "--dropout", "0", "--lr", "0.02"]
    flags += ["--threads", "1"]
    assert _train_stream(tmp_path / "one", text_file, 8, *flags, "--eval-every", "4") == 0
    two = tmp_path / "two"
    argv = ["text", "train", "--data", text_file, "--stream", "--out", two, "--max-steps", 8, "--eval-every", 4]
    argv += ["--seq-length", 32, *TINY, *flags]
    done = _torchrun(*argv, "--batch-size", 8, stop_at=5)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "stopped (interrupted by SIGINT; checkpoint saved) at step 5" in done.stdout
    assert done.stdout.count("stopped (") == 1  # rank 0 alone
    done = _torchrun("text", "train", "--resume", two, "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]
    a, meta_a = RunDir(tmp_path / "one").load_checkpoint()
    b, meta_b = RunDir(two).load_checkpoint()
    assert meta_a["step"] == meta_b["step"] == 8 and meta_a["data"] == meta_b["data"]
    assert a.keys() == b.keys() and "carry.h.0" in a  # the carried rows gathered in the global batch's order
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-9, atol=1e-12, err_msg=k)
    rows_a, rows_b = RunDir(tmp_path / "one").read_metrics(), RunDir(two).read_metrics()
    assert [r["step"] for r in rows_b] == [4, 5, 8]
    for ra, rb in zip(rows_a, [rows_b[0], rows_b[2]], strict=True):
        assert rb["val_loss"] == pytest.approx(ra["val_loss"], abs=1e-10)  # evaluation sharded and all-reduced


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--engine", "jax"], "--engine must be numpy or torch"),
        (["--device", "gpu"], "--device must be auto, cpu, cuda or cuda:N"),
        (["--precision", "fp16"], "--precision must be fp32, bf16 or fp64"),
        (["--device", "cuda"], "needs --engine torch"),
        (["--precision", "bf16"], "needs --engine torch"),
        (["--engine", "torch", "--device", "cpu", "--precision", "bf16"], "CUDA only"),
    ],
)
def test_bad_engine_flags_exit_2_with_one_line(tmp_path, names_file, capsys, flags, message):
    """Each bad --engine/--device/--precision is refused with one line, before a run directory is made."""
    assert _train(tmp_path / "run", names_file, 2, *flags) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnkit: error:") and message in err and "\n" not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="asks for CUDA where there is none")
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--device", "cuda:0"], "--device cuda:0: no CUDA device is visible to torch"),
        (["--precision", "bf16"], "--precision bf16 runs on CUDA only"),  # --device auto found only the CPU
    ],
)
def test_cuda_flags_without_a_gpu_exit_2_with_one_line(tmp_path, names_file, capsys, flags, message):
    """--engine torch asked for CUDA on a machine without it: one line, exit 2, nothing written."""
    assert _train(tmp_path / "run", names_file, 2, "--engine", "torch", *flags) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnkit: error:") and message in err and "\n" not in err
    assert not (tmp_path / "run").exists()


def test_torch_engine_without_torch_says_how_to_install_it(tmp_path, names_file, capsys, monkeypatch):
    """With torch missing, --engine torch ends with one line naming pip install 'rnnkit[torch]'."""
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    assert _train(tmp_path / "run", names_file, 2, "--engine", "torch") == 2
    err = capsys.readouterr().err.strip()
    assert err == "rnnkit: error: --engine torch needs PyTorch, which is not installed: pip install 'rnnkit[torch]'"
    assert not (tmp_path / "run").exists()


def test_music_trains_on_the_torch_engine(tmp_path):
    """`rnnkit music train --engine torch` runs the same Trainer and writes a run the NumPy engine loads."""
    from rnnkit.music.train import load

    out = tmp_path / "melody"
    argv = ["music", "train", "--out", out, "--max-steps", "4", "--eval-every", "2", "--engine", "torch"]
    argv += ["--device", "cpu", "--hidden-size", "16", "--embedding-size", "8", "--batch-size", "8", "--tx", "12"]
    assert cli.main([str(a) for a in [*argv, "--num-samples", "1", "--quiet"]]) == 0
    assert RunDir(out).read_config()["engine"]["engine"] == "torch"
    assert [r["step"] for r in RunDir(out).read_metrics()] == [2, 4]
    assert load(out).generate_ids(1, 5, seed=0).shape == (1, 5)


def test_help_does_not_import_torch():
    """`rnnkit text train --help` and `python -m rnnkit` never import torch."""
    code = "import sys, rnnkit.cli as c; c.build_parser().format_help(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
    result = subprocess.run([sys.executable, "-m", "rnnkit", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("rnnkit ")


# -- data-parallel: two gloo processes started by torchrun ----------------------------------------------------
def _torchrun(*argv, stop_at: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RNNKIT_TEST_STOP_AT": str(stop_at)}
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(cli.__file__).rsplit(os.sep, 1)[0], env.get("PYTHONPATH", "")])
    worker = os.path.join(os.path.dirname(__file__), "ddp_worker.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", worker]
    return subprocess.run([*command, *map(str, argv)], env=env, capture_output=True, text=True, timeout=300)


def test_two_gloo_processes_train_like_one_with_twice_the_batch_and_resume(tmp_path, names_file):
    """torchrun, 2 ranks x batch 8, Ctrl-C at step 5, --resume: the weights of 1 process x batch 16 (float64)."""
    flags = ["--engine", "torch", "--device", "cpu", "--precision", "fp64", "--dropout", "0", "--lr", "0.02"]
    assert _train(tmp_path / "one", names_file, 8, *flags, "--batch-size", "16", "--eval-every", "4") == 0
    two = tmp_path / "two"
    argv = ["text", "train", "--data", names_file, "--out", two, "--max-steps", 8, "--eval-every", 4, *TINY, *flags]
    done = _torchrun(*argv, "--batch-size", 8, stop_at=5)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "stopped (interrupted by SIGINT; checkpoint saved) at step 5" in done.stdout
    assert done.stdout.count("stopped (") == 1  # rank 0 alone
    assert [r["step"] for r in RunDir(two).read_metrics()] == [4, 5]
    assert RunDir(two).read_config()["engine"]["world_size"] == 2
    done = _torchrun("text", "train", "--resume", two, "--quiet")
    assert done.returncode == 0, done.stderr[-3000:]

    a, meta_a = RunDir(tmp_path / "one").load_checkpoint()
    b, meta_b = RunDir(two).load_checkpoint()
    assert meta_a["step"] == meta_b["step"] == 8 and meta_b["world_size"] == 2
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-9, atol=1e-12, err_msg=k)
    rows_a, rows_b = RunDir(tmp_path / "one").read_metrics(), RunDir(two).read_metrics()
    assert [r["step"] for r in rows_b] == [4, 5, 8]
    for ra, rb in zip(rows_a, [rows_b[0], rows_b[2]], strict=True):
        assert rb["val_loss"] == pytest.approx(ra["val_loss"], abs=1e-10)  # evaluation sharded and all-reduced
    assert rows_b[0]["train_loss"] == pytest.approx(rows_a[0]["train_loss"], abs=1e-10)
    assert cli.main(["text", "train", "--resume", str(two), "--quiet"]) == 2  # on 1 process: refused, one line


def test_the_engines_benchmark_steps_both_engines_and_tabulates_them():
    """benchmarks/engines.py times each engine through the Trainer's interface; its table shows every row."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks"))
    import engines as bench

    rows = bench.cpu_rows(1, 1, 0.0, ModelConfig(hidden_size=8, embedding_size=4), batches=4)
    assert [r["engine"] for r in rows] == ["numpy", "torch"] and all(r["chars_s"] > 0 for r in rows)
    streams = bench.cpu_rows(1, 1, 0.0, ModelConfig(hidden_size=8, embedding_size=4), batches=4, config="stream")
    assert [r["config"] for r in streams] == ["stream"] * 2 and all(r["chars_s"] > 0 for r in streams)
    _, carried = bench.stream_batches(4, 3)
    assert all(b.carry and b.mask is None and b.inputs.shape == (100, 4) for b in carried)
    machine = {"date": "today", "cpu": "a CPU", "cores": 2, "blas": [], "numpy": "2", "torch": "2.13.0"}
    text = bench.table({"machine": machine, "cpu": rows})
    assert f"| names | torch | cpu | 1 | {rows[1]['chars_s']:,.0f} |" in text and "wait for one" in text
    vocab_size, data = bench.name_batches(4, 2)
    bare = bench.BareLSTM(ModelConfig(hidden_size=8, embedding_size=4), vocab_size, "cpu")
    assert bench.timed(bare, data, 0.0) > 0


def test_two_gloo_processes_carry_a_streams_state_on_their_own_rows(tmp_path):
    """A stream over 2 ranks x 4 rows (a wrap at step 5), its state gathered and handed back midway, its
    validation sharded: as 1 process x 8 rows."""
    done = _torchrun("--carried", tmp_path / "ddp.npz")
    assert done.returncode == 0, done.stderr[-3000:]
    ddp = np.load(tmp_path / "ddp.npz")
    vocab_size, batches, val = _stream(8)
    model = TokenModel(ModelConfig("lstm", 12, 2, 6, 0.0), vocab_size, seed=7, dtype=np.float64)
    engine = make_engine(EngineConfig(precision="fp64"), model, CARRIED_CONFIG, World())  # the NumPy engine
    losses = []
    for step, batch in enumerate(batches):
        losses.append(engine.forward_backward(batch, step)[0])
        engine.update(0.02)
    np.testing.assert_allclose(ddp["losses"], losses, rtol=0, atol=1e-9)
    assert abs(float(ddp["val"]) - engine.evaluate(val)) < 1e-9
    expected = {**engine.export_params(), **{f"carry.{k}": v for k, v in engine.carried_state().items()}}
    assert set(expected) == set(ddp.files) - {"losses", "val"}
    for k, v in expected.items():
        np.testing.assert_allclose(ddp[k], v, rtol=1e-9, atol=1e-11, err_msg=k)
