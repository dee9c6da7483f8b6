"""Free text (--stream): reading a stream, batching it for truncated BPTT, resuming, evaluating and sampling."""

from __future__ import annotations

import json
import os
import unicodedata

import numpy as np
import pytest
from conftest import interrupt_at

from rnnkit import cli
from rnnkit.errors import DataError
from rnnkit.lm.batches import StreamBatcher
from rnnkit.lm.evaluate import stream_nll
from rnnkit.nn import log_softmax
from rnnkit.rundir import RunDir
from rnnkit.text import stream
from rnnkit.text import train as text_train

TINY = ["--hidden-size", "16", "--embedding-size", "8", "--num-samples", "1", "--quiet"]
WORDS = ["romeo", "juliet", "the", "night", "love", "thou", "art", "my", "star", "and", "fair", "ROMEO:", "JULIET:"]


def _prose(lines: int = 300, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    return "\n".join(" ".join(rng.choice(WORDS, size=rng.integers(3, 9))) for _ in range(lines)) + "\n"


@pytest.fixture(scope="module")
def prose_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("stream") / "play.txt"
    path.write_text(_prose(), encoding="utf-8")
    return path


def _train(out, data, steps, *extra):
    argv = ["text", "train", "--data", str(data), "--stream", "--out", str(out), "--max-steps", str(steps)]
    return cli.main([*argv, "--eval-every", "5", "--batch-size", "4", "--seq-length", "16", *TINY, *extra])


@pytest.fixture(scope="module")
def stream_run(tmp_path_factory, prose_file):
    out = tmp_path_factory.mktemp("runs") / "play"
    assert _train(out, prose_file, 30) == 0
    return out


# -- batching ----------------------------------------------------------------------------------------------------


def test_stream_batches_are_contiguous_rows_that_continue_step_to_step_and_wrap():
    """Row b reads stream[b L:], each batch the next T tokens after the last, targets one ahead; then it wraps."""
    tokens = np.arange(1000) % 251  # (N,), each value tells its position mod 251
    B, T = 3, 10
    batcher = StreamBatcher(tokens, B, T)
    L = (1000 - 1) // B
    assert (L, L // T) == (batcher.row_length, batcher.steps_per_epoch)
    for epoch in range(2):
        for s in range(batcher.steps_per_epoch):
            inputs, targets, reset = batcher.next_batch()
            assert reset == (s == 0)
            for b in range(B):
                start = b * L + s * T
                assert tokens[start : start + T].tolist() == inputs[:, b].tolist()
                assert tokens[start + 1 : start + T + 1].tolist() == targets[:, b].tolist()
        assert epoch == batcher.epoch


def test_stream_batcher_resumes_where_it_stopped():
    """After load_state_dict, a new batcher serves the batches the first would have served next."""
    tokens = np.arange(500) % 97
    a = StreamBatcher(tokens, 2, 7)
    for _ in range(40):  # past one epoch (35 steps)
        a.next_batch()
    b = StreamBatcher(tokens, 2, 7)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    for _ in range(10):
        for x, y in zip(a.next_batch(), b.next_batch(), strict=True):
            assert np.array_equal(x, y)


def test_shifted_rows_start_at_a_new_offset_each_epoch_and_read_the_tokens_as_a_ring():
    """--shift-rows: epoch 0 is the plain layout; epoch e starts row b at b L + o_e (o_e in [0, T), from the seed and
    e), rows still continue step to step, the last one runs over the end into the start; and it resumes exactly."""
    tokens = np.arange(1000)  # each value is its position
    B, T = 3, 10
    plain, shifted = StreamBatcher(tokens, B, T), StreamBatcher(tokens, B, T, shift_seed=7)
    ring = B * plain.row_length + 1  # the tokens a layout reads
    offsets = []
    for epoch in range(6):
        for s in range(plain.steps_per_epoch):
            a, (inputs, targets, reset) = plain.next_batch(), shifted.next_batch()
            assert reset == a[2] == (s == 0)
            if epoch == 0:
                assert np.array_equal(a[0], inputs) and np.array_equal(a[1], targets)
            if s == 0:
                offsets.append(int(inputs[0, 0]))
            o = offsets[-1]
            for b in range(B):
                start = b * plain.row_length + o + s * T
                assert inputs[:, b].tolist() == [(start + t) % ring for t in range(T)]
                assert targets[:, b].tolist() == [(start + t + 1) % ring for t in range(T)]
    assert offsets[0] == 0 and all(0 <= o < T for o in offsets) and len(set(offsets[1:])) > 1
    again = StreamBatcher(tokens, B, T, shift_seed=7)
    again.load_state_dict(json.loads(json.dumps(shifted.state_dict())))
    for x, y in zip(shifted.next_batch(), again.next_batch(), strict=True):
        assert np.array_equal(x, y)
    with pytest.raises(DataError, match="shift_seed"):
        StreamBatcher(tokens, B, T).load_state_dict(shifted.state_dict())
    old_state = StreamBatcher(tokens, B, T).state_dict()
    del old_state["shift_seed"]  # saved before shifting existed: fixed rows
    StreamBatcher(tokens, B, T).load_state_dict(old_state)
    with pytest.raises(DataError, match="saved shift_seed is None, now 7"):
        StreamBatcher(tokens, B, T, shift_seed=7).load_state_dict(old_state)


def test_a_stream_run_shifts_its_rows_by_default_records_it_and_lists_refuse_the_flag(tmp_path, prose_file, capsys):
    """--stream shifts the rows unless --no-shift-rows, and the run records the choice; a run written before the
    flag existed keeps its fixed rows on resume; a list of names refuses both flags."""

    def batcher_seed(name, drop_flag=False):
        run = RunDir(tmp_path / name)
        config, vocab = run.read_config(), text_train.load(run.path).vocab
        if drop_flag:
            del config["data"]["shift_rows"]
        return stream.build(run, config, vocab, *stream.cached_streams(run, config, vocab)).task.batcher.shift_seed

    for name, flags, shifted in (("default", [], True), ("fixed", ["--no-shift-rows"], False)):
        assert _train(tmp_path / name, prose_file, 3, "--seed", "5", *flags) == 0
        assert RunDir(tmp_path / name).read_config()["data"]["shift_rows"] is shifted
        assert batcher_seed(name) == (5 if shifted else None)
    assert batcher_seed("default", drop_flag=True) is None
    for flag in ("--shift-rows", "--no-shift-rows"):
        argv = ["text", "train", "--data", str(prose_file), "--out", str(tmp_path / "lines"), flag]
        assert cli.main([*argv, *TINY]) == 2
        assert f"{flag} is for --stream runs" in capsys.readouterr().err
    argv = ["text", "train", "--data", str(prose_file), "--out", str(tmp_path / "lines"), "--max-steps", "2"]
    assert cli.main([*argv, *TINY]) == 0
    config_path = tmp_path / "lines" / "config.json"
    config = json.loads(config_path.read_text())
    for value, loads in ((None, True), (False, True), (True, False)):  # false: lists written while it defaulted so
        config["data"]["shift_rows"] = value
        config_path.write_text(json.dumps(config))
        if loads:
            text_train.load(tmp_path / "lines")
        else:
            with pytest.raises(Exception, match="data.shift_rows"):
                text_train.load(tmp_path / "lines")


def test_a_stream_run_defaults_to_the_stream_batch_size_and_given_flags_win(tmp_path):
    """--stream takes STREAM_DEFAULTS (32 rows) where the command line says nothing; --batch-size, and a list,
    keep their own."""
    from rnnkit.text.config import STREAM_DEFAULTS

    def batch_size(*argv):
        args = cli.build_parser().parse_args(["text", "train", "--data", "x.txt", *argv])
        args.given_options = cli.given_options(cli.build_parser(), ["text", "train", "--data", "x.txt", *argv])
        return cli.text_configs(args)[1].batch_size

    assert batch_size("--stream") == STREAM_DEFAULTS["train"]["batch_size"] == 32
    assert batch_size("--stream", "--batch-size", "64") == 64
    assert batch_size("--stream", "--preset", "best") == 32  # the preset sets no batch size
    assert batch_size() == 64


def test_a_stream_too_short_for_one_batch_is_refused():
    """B rows of T + 1 tokens must fit, else a DataError says which settings to lower."""
    with pytest.raises(DataError, match="too few for one batch"):
        StreamBatcher(np.arange(40), 4, 10)
    StreamBatcher(np.arange(41), 4, 10)


def test_training_carries_the_state_from_step_to_step_and_resets_it_when_the_rows_wrap(stream_run):
    """Each step starts from the state the previous step ended with; the first step of an epoch from zeros."""
    from rnnkit.config import TrainConfig
    from rnnkit.engines.numpy_engine import NumpyEngine

    gen = text_train.load(stream_run)
    ids = stream.load_ids(stream_run / stream.TRAIN_IDS)
    config = TrainConfig(batch_size=4)
    task = stream.StreamTask(gen.model, gen, ids, ids[:0], config, 16)
    engine = NumpyEngine(gen.model, config)
    seen, ended = [], []
    forward = gen.model.forward

    def spy(inputs, states=None, rng=None, context=None):
        seen.append(states)
        out = forward(inputs, states, rng, context)
        ended.append(out[1])
        return out

    gen.model.forward = spy
    batches = [task.next_batch() for _ in range(task.batcher.steps_per_epoch + 2)]
    for step, batch in enumerate(batches):
        assert batch.carry and batch.reset == (step in (0, task.batcher.steps_per_epoch))
        engine.forward_backward(batch, step)
    after_first = task.batcher.steps_per_epoch
    assert seen[0] is None and seen[after_first] is None
    assert all(seen[i] is ended[i - 1] for i in range(1, len(seen)) if i != after_first)
    assert task.eval_batches() is None  # no validation stream


# -- runs ----------------------------------------------------------------------------------------------------------


def test_a_stream_run_records_its_mode_and_caches_the_encoded_text(stream_run, prose_file):
    """config.json says stream; the ids are cached as compact arrays; the vocabulary is the whole file's."""
    config = RunDir(stream_run).read_config()
    assert config["data"]["stream"] is True and config["data"]["seq_length"] == 16
    train_ids = stream.load_ids(stream_run / stream.TRAIN_IDS)
    val_ids = stream.load_ids(stream_run / stream.VAL_IDS)
    assert np.uint8 == train_ids.dtype
    text = prose_file.read_text(encoding="utf-8")
    assert int(len(text) * 0.9) == len(train_ids) and len(text) == len(train_ids) + len(val_ids)
    vocab = text_train.load(stream_run).vocab
    assert tuple(sorted(set(text))) == vocab.tokens
    assert text == vocab.decode(np.concatenate([train_ids, val_ids]))
    mask = os.umask(0)
    os.umask(mask)
    for name in (stream.TRAIN_IDS, stream.VAL_IDS):
        assert (stream_run / name).stat().st_mode & 0o777 == 0o666 & ~mask, name


def test_resume_of_a_stream_run_continues_exactly_like_an_uninterrupted_run(tmp_path, prose_file, monkeypatch):
    """Ctrl-C at step 12 (exit 130, saved), then --resume: the same weights, optimizer, carried state and metrics
    as a straight run, though the --data file has changed meanwhile (a resume reads the run's cached streams)."""
    data = tmp_path / "play.txt"
    data.write_bytes(prose_file.read_bytes())
    assert _train(tmp_path / "straight", data, 30) == 0
    interrupt_at(monkeypatch, stream.StreamTask, 12)
    assert _train(tmp_path / "split", data, 30) == 130
    split = RunDir(tmp_path / "split")
    assert [5, 10, 12] == [r["step"] for r in split.read_metrics()]
    b, _ = split.load_checkpoint()
    assert {"carry.h.0", "carry.c.0"} <= b.keys()  # the LSTM's carried h and c
    data.write_text("something else entirely\n", encoding="utf-8")
    assert cli.main(["text", "train", "--resume", str(split.path), "--quiet"]) == 0

    a, meta_a = RunDir(tmp_path / "straight").load_checkpoint()
    b, meta_b = split.load_checkpoint()
    assert 30 == meta_a["step"] == meta_b["step"] and meta_a["data"] == meta_b["data"]
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    rows_a = {r["step"]: r for r in RunDir(tmp_path / "straight").read_metrics()}
    rows_b = {r["step"]: r for r in split.read_metrics()}
    for step in (5, 10, 15, 20, 25, 30):
        assert rows_a[step]["val_loss"] == rows_b[step]["val_loss"]


# -- evaluation -----------------------------------------------------------------------------------------------------


def _naive_nll_sum(model, ids, context=()) -> float:
    """-sum log P(ids[t+1] | ids[..t]) one character at a time at batch 1, after reading `context` unscored."""
    states, logits = None, None
    for c in context:
        logits, states = model.step_logits(np.array([c]), states)
    total = 0.0
    for t in range(len(ids) - 1):
        logits, states = model.step_logits(np.array([ids[t]]), states)  # (1, V)
        total -= log_softmax(logits.astype(np.float64))[0, ids[t + 1]]
    return total


def test_evaluation_chunks_keep_what_the_model_holds_within_the_budget():
    """A long stream read as 64 rows comes in chunks of T steps with T R width <= EVAL_FLOATS, every prediction
    scored once, so evaluating the default LSTM 512 holds tens of MB rather than the 700 MB a 496-step chunk did."""
    from rnnkit.lm.batches import EVAL_FLOATS, stream_eval_batches
    from rnnkit.lm.config import ModelConfig
    from rnnkit.lm.model import TokenModel

    width = TokenModel(ModelConfig(), 66).floats_per_position()
    assert width == 66 + 2 * 4 * 512 + 4 * 512
    tokens = np.arange(600_000) % 66
    chunks = list(stream_eval_batches(tokens, width, rows=64))
    assert all(x.shape[1] == 64 and x.shape[0] * 64 * width <= EVAL_FLOATS for x, _, _ in chunks)
    assert chunks[0][0].shape[0] == EVAL_FLOATS // (64 * width) and sum(m.sum() for _, _, m in chunks) == 599_999


def test_stream_eval_equals_the_naive_sum_of_per_character_losses(stream_run, prose_file):
    """eval reads the whole stream with its state carried: the mean of the char-by-char losses from one state."""
    gen = text_train.load(stream_run)
    text = prose_file.read_text(encoding="utf-8")[:700]
    ids = gen.vocab.encode(text)
    result = gen.evaluate(text)
    assert (700, 699) == (result["chars"], result["predictions"])
    naive = _naive_nll_sum(gen.model, ids)
    assert naive / 699 == pytest.approx(result["nll"], rel=1e-5)
    assert result["bpc"] == pytest.approx(result["nll"] / np.log(2))


def test_stream_eval_in_rows_reads_each_row_after_its_warm_up(stream_run, prose_file):
    """Rows side by side: row 0 from a fresh state, row r after the `warmup` tokens before it, none scored twice."""
    gen = text_train.load(stream_run)
    ids = gen.vocab.encode(prose_file.read_text(encoding="utf-8")[:301])  # 300 predictions: rows of 100
    nll, count = stream_nll(gen.model, ids, rows=3, warmup=7)
    assert 300 == count
    naive = sum(
        _naive_nll_sum(gen.model, ids[r * 100 : r * 100 + 101], ids[max(0, r * 100 - 7) : r * 100]) for r in range(3)
    )
    assert naive / 300 == pytest.approx(nll, rel=1e-5)


def test_eval_of_a_stream_run_prints_nats_and_bits_per_character(stream_run, prose_file, capsys):
    """`rnnkit text eval RUN --data FILE --json` needs no flag to know the run is a stream run."""
    assert cli.main(["text", "eval", str(stream_run), "--data", str(prose_file), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(prose_file.read_text(encoding="utf-8")) == result["chars"]
    assert result["perplexity"] == pytest.approx(np.exp(result["nll"]))
    assert result["bpc"] == pytest.approx(result["nll"] / np.log(2))


# -- sampling -------------------------------------------------------------------------------------------------------


def test_sampling_with_a_prime_starts_with_it_and_is_reproducible_from_a_seed(stream_run, capsys):
    """`sample --prime ROMEO: --seed S` prints the prime, then --length characters, the same for the same seed."""
    argv = ["text", "sample", str(stream_run), "--prime", "ROMEO:", "--length", "120", "--seed", "3"]
    assert cli.main(argv) == 0
    first = capsys.readouterr().out
    assert cli.main(argv) == 0
    assert first == capsys.readouterr().out
    assert first.startswith("ROMEO:") and len("ROMEO:") + 120 + 1 == len(first)
    assert cli.main([*argv[:-1], "4"]) == 0
    assert first != capsys.readouterr().out
    texts = text_train.load(stream_run).sample(prime="ROMEO:", length=120, seed=3)
    assert [first[:-1]] == texts


def test_sampling_streams_each_character_as_it_is_drawn(stream_run):
    """write sees the prime, then one character per step; --prefix and --prime are one option; -n N texts."""
    gen = text_train.load(stream_run)
    pieces = []
    texts = gen.sample(prime="thou", length=25, n=2, seed=0, write=lambda i, s: pieces.append((i, s)))
    assert [(0, "thou")] == pieces[:1] and 2 * 26 == len(pieces)
    assert texts == ["".join(s for i, s in pieces if i == r) for r in range(2)]
    greedy = gen.sample(length=40, greedy=True)[0]
    assert greedy == gen.sample(length=40, temperature=0)[0] and 40 == len(greedy)
    assert gen.sample(prime="the", length=30, seed=5, top_k=3, top_p=0.9) == gen.sample(
        prime="the", length=30, seed=5, top_k=3, top_p=0.9
    )


# -- text, unicode, bad input -----------------------------------------------------------------------------------------


UNICODE = "Ça va? Straße, Жизнь — 東京 🎭 naïve\nλόγος ☃ café\n"


@pytest.mark.parametrize("chunk", [3, 7, 1 << 22])
def test_unicode_streams_round_trip_whatever_the_chunks(tmp_path, monkeypatch, chunk):
    """Any script, characters past the BMP and decomposed accents read back as the NFC text, chunk edges or not."""
    monkeypatch.setattr(stream, "CHUNK", chunk)
    text = UNICODE * 20 + unicodedata.normalize("NFD", "é è ñ ü Å") * 5  # combining marks cut at chunk edges
    path = tmp_path / "u.txt"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))  # with a byte-order mark, which is not text
    ids, vocab = stream.read_stream(path)
    assert unicodedata.normalize("NFC", text) == vocab.decode(ids)
    assert np.uint8 == ids.dtype and vocab.tokens == tuple(sorted(set(unicodedata.normalize("NFC", text))))


def test_a_vocabulary_of_more_than_255_characters_uses_16_bit_ids(tmp_path, monkeypatch):
    """ids are uint8 up to 255 characters and uint16 beyond, switched while reading."""
    monkeypatch.setattr(stream, "CHUNK", 64)
    text = "ab" * 100 + "".join(chr(0x4E00 + i) for i in range(300)) + "z"
    path = tmp_path / "cjk.txt"
    path.write_text(text, encoding="utf-8")
    ids, vocab = stream.read_stream(path)
    assert np.uint16 == ids.dtype and 303 + 1 == len(vocab)
    assert text == vocab.decode(ids)


def test_a_unicode_stream_trains_samples_and_evaluates(tmp_path, capsys):
    """A stream of mixed scripts trains end to end, and its samples are made of its characters."""
    path = tmp_path / "u.txt"
    path.write_text(UNICODE * 40, encoding="utf-8")
    assert _train(tmp_path / "run", path, 6) == 0
    capsys.readouterr()
    assert cli.main(["text", "sample", str(tmp_path / "run"), "--prime", "Жизнь", "--length", "50", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Жизнь") and set(out) <= set(UNICODE)


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert 1 == len(err.strip().splitlines()) and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"abc\x00def" * 50, "binary"),
        (b"caf\xe9 au lait " * 50, "not UTF-8 (byte 0xe9 at offset 3)"),
        (b"too short for a batch", "too few for one batch"),
    ],
)
def test_bad_streams_give_one_line_errors(tmp_path, capsys, content, message):
    """Empty, binary, non-UTF-8 and too-short streams end with one line on stderr and exit 2, nothing written."""
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    assert 2 == _train(tmp_path / "run", path, 5)
    assert message in _error(capsys)
    assert not (tmp_path / "run").exists()


def test_bad_sampling_and_mode_flags_are_refused(stream_run, tiny_run, tmp_path, capsys):
    """Unknown prime characters, name-only flags on a stream run and stream-only flags on a name run: exit 2."""
    odd = tmp_path / "odd.txt"
    odd.write_text("thou ZZ art € fair\n", encoding="utf-8")
    plain = tmp_path / "plain.txt"
    plain.write_text("thou art fair\n" * 20, encoding="utf-8")
    for argv, message in [
        (["sample", str(stream_run), "--prime", "ROMEO€"], "characters the model never saw: '€'"),
        (["sample", str(stream_run), "--beam", "3"], "--beam is for name models"),
        (["sample", str(stream_run), "--greedy", "-n", "2"], "--greedy writes one text"),
        (["sample", str(stream_run), "--length", "0"], "--length must be >= 1"),
        (["sample", str(stream_run), "--temperature", "200"], "--temperature must be 0 (greedy) or between"),
        (["sample", str(stream_run), "--seed", "-1"], "--seed must be an integer"),
        (["train", "--data", str(plain), "--stream", "--max-val", "5", "--out", "x"], "--max-val caps"),
        (["score", str(stream_run), "abc"], "is a --stream run"),
        (["eval", str(stream_run), "--data", str(odd)], "characters the model never saw: 'Z' '€'"),
        (["train", "--data", str(plain), "--stream", "--val-data", str(odd), "--out", "x"], "training data lacks"),
        (["sample", str(tiny_run), "--length", "10"], "--length is for --stream runs"),
        (["train", "--data", "surnames", "--stream", "--out", "x"], "needs a text file"),
        (["train", "--data", "surnames", "--seq-length", "9", "--out", "x"], "--seq-length is for --stream"),
    ]:
        assert 2 == cli.main(["text", *argv]), argv
        assert message in _error(capsys), argv


def test_a_lines_file_that_looks_like_prose_gets_a_hint_to_use_stream(tmp_path, capsys):
    """Long lines in a names run: one line suggests --stream; a list of names gets no such hint."""
    path = tmp_path / "prose.txt"
    path.write_text("\n".join(" ".join(WORDS) + f" {i}" for i in range(60)), encoding="utf-8")
    argv = ["text", "train", "--data", str(path), "--max-steps", "1", "--out", str(tmp_path / "r"), *TINY]
    assert cli.main(argv) == 0
    assert 1 == capsys.readouterr().out.count("add --stream")
    assert stream.prose_hint(["smith", "jones", "mcdonald"], "names.txt") is None


# -- the run directory's guarantees ------------------------------------------------------------------------------


def _copy_run(src, dst):
    import shutil

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".rnnkit.lock"))
    return dst


def test_a_stream_run_resumes_only_from_its_own_cached_streams(stream_run, tmp_path, capsys):
    """No cached streams, or a corrupted, truncated, mislabelled one: one line naming the file, exit 2."""
    resume = lambda run: cli.main(["text", "train", "--resume", str(run), "--quiet"])  # noqa: E731
    run = _copy_run(stream_run, tmp_path / "garbage")
    (run / stream.TRAIN_IDS).write_bytes(b"\x93NUMPY not really an array" * 10)
    assert resume(run) == 2
    assert "stream-train.npy: not a readable cached stream" in _error(capsys)

    run = _copy_run(stream_run, tmp_path / "missing")
    (run / stream.VAL_IDS).unlink()
    assert resume(run) == 2
    assert "stream-val.npy: missing" in _error(capsys)

    run = _copy_run(stream_run, tmp_path / "short")
    ids = np.load(run / stream.TRAIN_IDS)
    np.save(run / stream.TRAIN_IDS, ids[:-7])
    assert resume(run) == 2
    assert "but config.json's stream.train_chars is" in _error(capsys)

    run = _copy_run(stream_run, tmp_path / "outside")
    np.save(run / stream.TRAIN_IDS, np.full_like(ids, 250))
    assert resume(run) == 2
    assert "ids outside the vocabulary" in _error(capsys)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.pop("stream"), "missing stream"),
        (lambda c: c["stream"].update(train_chars="8064"), "stream.train_chars: expected int"),
        (lambda c: c["stream"].pop("vocab_size"), "stream: missing vocab_size"),
        (lambda c: c["data"].update(seq_length=0), "data.seq_length"),
        (lambda c: c["data"].update(stream=False), "but data.stream is false"),
    ],
)
def test_a_hand_edited_stream_config_is_refused_naming_the_field(stream_run, tmp_path, capsys, edit, message):
    run = _copy_run(stream_run, tmp_path / "edited")
    config = json.loads((run / "config.json").read_text())
    edit(config)
    (run / "config.json").write_text(json.dumps(config))
    assert cli.main(["text", "sample", str(run), "--length", "5"]) == 2
    assert message in _error(capsys)
    assert cli.main(["text", "train", "--resume", str(run), "--quiet"]) == 2
    assert message in _error(capsys)


def test_a_stream_run_is_locked_written_config_last_and_extended_on_resume(stream_run, tmp_path, capsys, monkeypatch):
    """The cached streams are the run's files (--force replaces them); config.json comes after the first
    checkpoint; a locked run is refused; --max-steps and --max-time extend a finished run; flags resume cannot
    honour are refused by name."""
    from rnnkit.rundir import OWN_FILES, RunLock

    assert {stream.TRAIN_IDS, stream.VAL_IDS} <= OWN_FILES
    run = _copy_run(stream_run, tmp_path / "run")
    written = []
    original = RunDir.write_config
    monkeypatch.setattr(
        RunDir, "write_config", lambda self, c: (written.append(sorted(os.listdir(self.path))), original(self, c))[1]
    )
    prose = tmp_path / "p.txt"
    prose.write_text(_prose(200, seed=3), encoding="utf-8")
    assert _train(run, prose, 3, "--force") == 0
    assert {"checkpoint.safetensors", "model.safetensors", stream.TRAIN_IDS, stream.VAL_IDS} <= set(written[0])
    assert "config.json" not in written[0]
    monkeypatch.setattr(RunDir, "write_config", original)
    with RunLock(RunDir(run)):
        assert cli.main(["text", "train", "--resume", str(run), "--max-steps", "6", "--quiet"]) == 2
        assert "another rnnkit process is training this run" in _error(capsys)
    assert cli.main(["text", "train", "--resume", str(run), "--max-steps", "6", "--quiet"]) == 0
    capsys.readouterr()
    assert RunDir(run).load_checkpoint()[1]["step"] == 6
    assert json.loads((run / "config.json").read_text())["train"]["max_steps"] == 6
    assert cli.main(["text", "train", "--resume", str(run), "--seq-length", "8", "--quiet"]) == 2
    assert "--seq-length cannot apply" in _error(capsys)
