"""Free text: one stream of characters learned with truncated BPTT (char-rnn's job), on the core's token model.

The file is read once, in chunks, into a compact array of character ids (uint8 up to 255 characters, else
uint16) with a progress bar, never a Python list; the vocabulary is every character of the whole file after
the core's boundary id 0, which a stream never uses. Validation is the last --val-fraction of the stream
(nanoGPT's split) or --val-data. Both arrays are cached in the run directory, so a resume does not read the
text again.

Training cuts the training stream into --batch-size contiguous rows and takes the next --seq-length characters
of each at every step (`rnnkit.lm.batches.StreamBatcher`): carried batches (`rnnkit.engines.batch.Batch`), whose
hidden state the engine keeps from step to step, reset when the rows start over. Under torchrun the global batch
has --batch-size rows per process, row i always stream i, so each rank keeps its own streams' state. The
checkpoint holds the carried state (the Trainer's) with the batcher's position, so an interrupted run resumes
exactly. Evaluation reads the whole validation stream with its state carried (`stream_eval_batches`, as
`rnnkit.lm.evaluate.stream_nll` does); sampling feeds a prime once and then draws one character at a time.
"""

from __future__ import annotations

import codecs
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

import rnnkit
from rnnkit.config import TrainConfig, check_seed, check_temperature
from rnnkit.engines.base import make_engine, model_dtype
from rnnkit.engines.batch import Batch
from rnnkit.engines.config import EngineConfig, resolve_engine
from rnnkit.engines.distributed import world_from_env
from rnnkit.errors import DataError, RnnkitError
from rnnkit.lm.batches import StreamBatcher, stream_eval_batches, stream_layout
from rnnkit.lm.config import ModelConfig
from rnnkit.lm.ensemble import Ensemble
from rnnkit.lm.evaluate import stream_nll
from rnnkit.lm.model import TokenModel
from rnnkit.lm.sample import continue_ids
from rnnkit.lm.vocab import BOUNDARY_ID
from rnnkit.rundir import VOCAB, RunDir
from rnnkit.text.config import SURNAMES, DataConfig
from rnnkit.text.data import open_data_file
from rnnkit.text.vocab import Vocabulary, nfc
from rnnkit.training import Trainer

SEQ_LENGTH = 100  # --seq-length when not given: characters per row and step (torch-rnn's and char-rnn's 100)
SHIFT_ROWS = True  # --shift-rows when not given: each epoch cuts the rows elsewhere (measured: README, Free text)
CHUNK = 1 << 22  # bytes read at a time
TRAIN_IDS, VAL_IDS = "stream-train.npy", "stream-val.npy"  # the encoded streams, cached in the run directory
SAMPLE_CHARS_EACH = 60  # characters printed at each evaluation per --num-samples
PROSE_LINE = 60  # median line length from which a list of items looks like prose


# ------------------------------------------------------------------------------------------------ reading


def ids_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned integer type that holds ids 0..vocab_size - 1."""
    for dtype in (np.uint8, np.uint16):
        if vocab_size <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    return np.dtype(np.uint32)


def _settled(text: str, final: bool) -> tuple[str, str]:
    """NFC of the part of `text` that text still to come cannot change, and the rest, to carry on.

    No character composes with an ASCII character before it, nor reorders across one, so NFC of a string
    cut just before an ASCII character is the NFC of the two parts joined.
    """
    if text.isascii():
        return text, ""
    if final:
        return nfc(text), ""
    k = max(text.rfind("\n"), text.rfind(" "))
    if k < 0:
        k = next((i for i in range(len(text) - 1, -1, -1) if text[i] < "\x80"), -1)
    if k < 0:
        return ("", text) if len(text) < CHUNK else (nfc(text), "")  # a very long run without ASCII: cut anyway
    return nfc(text[:k]), text[k:]


def _code_points(text: str) -> np.ndarray:
    """The code points of `text`: (len(text),) uint8 for ASCII, else uint32."""
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def read_stream(
    path: str | os.PathLike, vocab: Vocabulary | None = None, progress: bool = False
) -> tuple[np.ndarray, Vocabulary]:
    """The characters of a UTF-8 file as ids (N,) in one pass, with the vocabulary of every character in it.

    With `vocab`, the file is encoded with it instead, and a character it lacks is a DataError naming it.
    The text is NFC-normalized as it is read, in chunks. Raises DataError with a one-line message for a
    missing, empty, binary (NUL bytes) or non-UTF-8 file.
    """
    p, f = open_data_file(path)  # closed by the `with` below
    size = os.fstat(f.fileno()).st_size
    table = np.zeros(0x110000, dtype=np.int32)  # code point -> id; 0: not met (no character has the boundary's id)
    seen: list[int] = []  # a fresh vocabulary's code points, in the order first met (ids 1, 2, ...)
    if vocab is not None:
        table[[ord(c) for c in vocab.tokens]] = np.arange(1, len(vocab))
    out = np.empty(size, dtype=ids_dtype(len(vocab) if vocab is not None else 256))  # >= 1 byte per character
    n = offset = 0
    decoder = codecs.getincrementaldecoder("utf-8-sig")()  # a byte-order mark is not part of the text
    carry = ""
    from tqdm import tqdm

    bar = tqdm(total=size, unit="B", unit_scale=True, desc=f"reading {p.name}", leave=False, disable=None)
    with f, bar:
        if not progress:
            bar.disable = True
        while True:
            raw = f.read(CHUNK)
            final = not raw
            nul = raw.find(b"\0")
            if nul >= 0:
                raise DataError(f"data file looks binary (NUL byte at offset {offset + nul}), expected UTF-8 text: {p}")
            pending = decoder.getstate()[0]
            bom = 3 if offset == 0 and raw.startswith(codecs.BOM_UTF8) else 0
            try:
                text = decoder.decode(raw, final)
            except UnicodeDecodeError as e:
                bad = (pending + raw[bom:])[e.start : e.start + 1].hex()
                at = offset - len(pending) + bom + e.start
                raise DataError(f"data file is not UTF-8 (byte 0x{bad} at offset {at}): {p}") from None
            offset += len(raw)
            text, carry = _settled(carry + text, final)
            if text:
                cps = _code_points(text)  # (m,)
                ids = table[cps]  # (m,)
                if not ids.all():  # characters not met before
                    new = np.unique(cps[ids == 0]).tolist()
                    if vocab is not None:
                        chars = " ".join(repr(chr(c)) for c in new[:10]) + (" ..." if len(new) > 10 else "")
                        raise DataError(f"{p} has characters the model never saw: {chars}")
                    for c in new:
                        seen.append(c)
                        table[c] = len(seen)
                    if ids_dtype(len(seen) + 1) != out.dtype:
                        out = out.astype(ids_dtype(len(seen) + 1))
                    ids = table[cps]
                out[n : n + len(ids)] = ids
                n += len(ids)
            bar.update(len(raw))
            if final:
                break
    if n == 0:
        raise DataError(f"data file is empty: {p}")
    out.resize(n, refcheck=False)  # in place: never a second copy of a large stream
    if vocab is None:
        order = np.argsort(seen)  # first-met index -> sorted position
        vocab = Vocabulary(tuple(chr(seen[i]) for i in order))
        remap = np.zeros(len(seen) + 1, dtype=out.dtype)  # first-met id -> sorted id
        remap[order + 1] = np.arange(1, len(seen) + 1)
        for i in range(0, n, CHUNK):  # in place, a chunk at a time (indexing makes 8-byte copies of the ids)
            out[i : i + CHUNK] = remap[out[i : i + CHUNK]]
    return out, vocab


def save_ids(path: Path, ids: np.ndarray) -> None:
    """Write ids as a .npy file atomically (a temporary file renamed over the target)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, np.ascontiguousarray(ids))
            f.flush()
            os.fsync(f.fileno())
        mask = os.umask(0)  # reading the umask means setting it: put it straight back
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600 files; a run's files get the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_ids(path: Path) -> np.ndarray:
    """The ids saved by `save_ids`, as a read-only memory map: a large stream is never read whole."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise RnnkitError(f"{path}: not a readable cached stream ({e.__class__.__name__})") from None


def read_streams(data: DataConfig, progress: bool = False) -> tuple[np.ndarray, np.ndarray, Vocabulary]:
    """The training and validation ids of a stream run, and the vocabulary of the whole --data file."""
    ids, vocab = read_stream(data.data, progress=progress)
    if data.val_data is not None:
        try:
            val, _ = read_stream(data.val_data, vocab, progress=progress)
        except DataError as e:
            if "never saw" not in str(e):
                raise
            raise DataError(f"the validation data has characters the training data lacks: {e}") from None
        return ids, val, vocab
    split = int(len(ids) * (1 - data.val_fraction))  # nanoGPT's: the first 90% to train, the rest to validate
    if data.val_fraction > 0 and len(ids) - split < 2:
        raise DataError(
            f"a validation fraction of {data.val_fraction} of {len(ids):,} characters leaves fewer than 2 to "
            "validate on; give more text, a larger --val-fraction, or --val-data"
        )
    return ids[:split], ids[split:], vocab


def prose_hint(items: list[str], path: str) -> str | None:
    """A one-line hint to use --stream when the lines of a list look like prose rather than items."""
    lengths = sorted(len(s) for s in items)
    median = lengths[len(lengths) // 2]
    if median < PROSE_LINE:
        return None
    return (
        f"hint: the lines of {path} look like prose (median {median} characters); to learn it as one stream of "
        "text, carrying the state across lines, add --stream"
    )


# ------------------------------------------------------------------------------------------------ the task


class StreamTask:
    """Truncated BPTT over contiguous rows: carried batches, the rows reset when they start over.

    Each batch continues the state the previous one left (the engine carries it, detached); the first batch of
    every epoch starts from zeros. world_size: data-parallel processes; the global batch holds batch_size rows
    per process, row i always stream i, so each rank keeps its own rows, and their state, from step to step.
    eval_rows: rows the validation stream is read as side by side (None: `stream_layout`'s choice).
    """

    def __init__(
        self,
        model: TokenModel,
        generator: TextGenerator,
        train: np.ndarray,
        val: np.ndarray,
        config: TrainConfig,
        seq_length: int,
        world_size: int = 1,
        eval_rows: int | None = None,
        shift_rows: bool = False,
    ):
        self.model, self.generator = model, generator
        shift_seed = config.seed if shift_rows else None
        self.batcher = StreamBatcher(train, config.batch_size * world_size, seq_length, shift_seed)
        self.val, self.eval_rows = val, eval_rows

    def next_batch(self) -> Batch:
        inputs, targets, reset = self.batcher.next_batch()  # (T, B) each
        return Batch(inputs, targets, carry=True, reset=reset)

    def eval_batches(self) -> Iterator[Batch] | None:
        if len(self.val) < 2:
            return None
        chunks = stream_eval_batches(self.val, self.model.floats_per_position(), self.eval_rows)  # (T, R) each
        return (Batch(inputs, targets, mask, carry=True) for inputs, targets, mask in chunks)

    def samples(self, n: int, rng: np.random.Generator) -> list[str]:
        self.model.eval()
        text = self.generator.sample(length=SAMPLE_CHARS_EACH * n, seed=int(rng.integers(2**31)))[0]
        self.model.train()
        return [f"\n{text.strip()}\n"]

    def data_state(self) -> dict[str, Any]:
        return self.batcher.state_dict()

    def load_data_state(self, state: dict[str, Any]) -> None:
        self.batcher.load_state_dict(state)


# ------------------------------------------------------------------------------------------------ using a model


class TextGenerator:
    """A model trained on a stream, with its vocabulary: continue a prime, and score text with the state carried.

    The model may be an `rnnkit.lm.ensemble.Ensemble` of several, each member carrying its own state.
    """

    def __init__(self, model: TokenModel | Ensemble, vocab: Vocabulary):
        self.model, self.vocab = model, vocab
        model.eval()

    def _encode(self, text: str, what: str) -> np.ndarray:
        unknown = self.vocab.unknown_chars(text)
        if unknown:
            chars = " ".join(repr(c) for c in sorted(unknown))
            raise RnnkitError(f"{what} {text!r} has characters the model never saw: {chars}")
        return self.vocab.encode(text)

    def _checked_prime(self, prime, length, temperature, top_k, top_p) -> tuple[str, np.ndarray]:
        """The prime (NFC) and the ids to read before drawing, every argument checked."""
        if length < 1:
            raise RnnkitError(f"--length must be >= 1, got {length}")
        check_temperature(temperature)
        if top_k is not None and top_k < 1:
            raise RnnkitError(f"--top-k must be >= 1, got {top_k}")
        if top_p is not None and not 0 < top_p <= 1:
            raise RnnkitError(f"--top-p must be in (0, 1], got {top_p}")
        if prime:
            prime = nfc(prime)
            return prime, self._encode(prime, "prime")
        return "", self.vocab.encode("\n") if "\n" in self.vocab else np.array([BOUNDARY_ID])

    def _draw(self, start, length, temperature, top_k, top_p, rng, greedy) -> Iterator[str]:
        chars = ("", *self.vocab.tokens)  # id -> character
        for ids in continue_ids(self.model, start, 1, length, temperature, top_k, top_p, rng, greedy, (BOUNDARY_ID,)):
            yield chars[ids[0]]

    def stream(
        self,
        prime: str | None = None,
        length: int = 1000,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        """The `length` characters drawn after the prime (not included), one at a time as they are drawn.

        The arguments are checked, and the prime read, when the iterator is made: a bad prime fails there.
        """
        _, start = self._checked_prime(prime, length, temperature, top_k, top_p)
        check_seed(seed)
        return self._draw(start, length, temperature, top_k, top_p, np.random.default_rng(seed), temperature == 0)

    def sample(
        self,
        prime: str | None = None,
        length: int = 1000,
        n: int = 1,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        greedy: bool = False,
        write: Callable[[int, str], Any] | None = None,
    ) -> list[str]:
        """n texts, each the prime and `length` characters drawn after it (the most likely ones with greedy).

        The prime is read in one pass, then characters are drawn one at a time with the state carried. Without
        a prime the text starts after a newline (not included). `write`, when given, is called with the text's
        index and its prime, then with the index and each character as it is drawn, so a caller can show the
        texts as they appear.
        """
        if n < 1:
            raise RnnkitError(f"-n must be >= 1, got {n}")
        prime, start = self._checked_prime(prime, length, temperature, top_k, top_p)
        check_seed(seed)
        greedy = greedy or temperature == 0
        if greedy and n > 1:
            raise RnnkitError("--greedy writes one text (it is deterministic); drop -n")
        rng = np.random.default_rng(seed)
        texts = []
        for r in range(n):
            if write is not None:
                write(r, prime)
            drawn = []
            for c in self._draw(start, length, temperature, top_k, top_p, rng, greedy):
                drawn.append(c)
                if write is not None:
                    write(r, c)
            texts.append(prime + "".join(drawn))
        return texts

    def evaluate_ids(self, ids: np.ndarray) -> dict[str, float | int]:
        """nll (nats per character), bpc, perplexity over a stream of ids (N,) read with its state carried."""
        nll, count = stream_nll(self.model, ids)
        return {
            "nll": nll,
            "bpc": nll / math.log(2),
            "perplexity": math.exp(nll),
            "chars": len(ids),
            "predictions": count,
            "rows": stream_layout(count)[0],  # read side by side, each row's state carried (lm.evaluate.stream_nll)
        }

    def evaluate(self, text: str) -> dict[str, float | int]:
        """`evaluate_ids` of a text: every character after the first is predicted from all before it."""
        return self.evaluate_ids(self._encode(text, "text"))

    def evaluate_file(self, path: str | os.PathLike, progress: bool = False) -> dict[str, float | int]:
        """`evaluate_ids` of a UTF-8 file, read as a stream with the model's vocabulary."""
        ids, _ = read_stream(path, self.vocab, progress=progress)
        return self.evaluate_ids(ids)


# ------------------------------------------------------------------------------------------------ runs


def _check(data: DataConfig) -> DataConfig:
    if data.data == SURNAMES:
        raise RnnkitError("--stream needs a text file as --data (the bundled surnames are a list of names)")
    if data.dedupe:
        raise RnnkitError("--dedupe drops repeated lines of a list; a --stream run reads the text as it is")
    if data.reverse:
        raise RnnkitError("--reverse reads each name of a list right to left; a --stream run reads the text forwards")
    if not 0 <= data.val_fraction < 1:
        raise RnnkitError(f"--val-fraction must be in [0, 1), got {data.val_fraction}")
    seq_length = SEQ_LENGTH if data.seq_length is None else data.seq_length
    if seq_length < 1:
        raise RnnkitError(f"--seq-length must be >= 1, got {seq_length}")
    shift_rows = SHIFT_ROWS if data.shift_rows is None else data.shift_rows
    return replace(data, seq_length=seq_length, shift_rows=shift_rows)


def build(run: RunDir, config: dict[str, Any], vocab: Vocabulary, train_ids, val_ids) -> Trainer:
    """The Trainer of a stream run (its task, model, generator and engine) from a resolved config and its streams.

    The task comes before the engine, so a stream too short for one batch is refused before torch starts.
    """
    model_cfg, train_cfg = ModelConfig(**config["model"]), TrainConfig(**config["train"])
    engine_cfg, world = resolve_engine(config.get("engine")), world_from_env()
    model = TokenModel(model_cfg, len(vocab), seed=train_cfg.seed, dtype=model_dtype(engine_cfg))
    generator = TextGenerator(model, vocab)
    seq_length = config["data"]["seq_length"]
    shift_rows = config["data"].get("shift_rows", False)  # get: runs from before --shift-rows
    task = StreamTask(model, generator, train_ids, val_ids, train_cfg, seq_length, world.size, shift_rows=shift_rows)
    engine = make_engine(engine_cfg, model, train_cfg, world)
    return Trainer(train_cfg, task, run, engine=engine)


@contextmanager
def start(
    out: str | Path,
    model: ModelConfig,
    train_config: TrainConfig,
    data: DataConfig,
    engine: EngineConfig | None = None,
    force=False,
    progress=True,
    log=print,
) -> Iterator[tuple[Trainer, dict[str, Any]]]:
    """A new stream run in `out`, ready to train while the context lasts (rank 0 holds the run's lock).

    The text is read and checked before anything is written; then, like every run (`RunDir.create`), the
    cached streams, the vocabulary and the step-0 checkpoint, and config.json last. Under torchrun every rank
    reads the text and calls Trainer.begin; rank 0 alone writes the run directory.
    """
    data = _check(data)
    run = RunDir(out)
    master = world_from_env().master
    train_ids, val_ids, vocab = read_streams(data, progress and master)
    config = {
        "kind": "text",
        "rnnkit": rnnkit.__version__,
        "model": asdict(model),
        "train": asdict(train_config),
        "data": asdict(data),
        "engine": asdict(engine or EngineConfig()),
        "stream": {"train_chars": len(train_ids), "val_chars": len(val_ids), "vocab_size": len(vocab)},
    }
    trainer = build(run, config, vocab, train_ids, val_ids)  # refuses a stream too short before anything is written
    config["engine"]["world_size"] = trainer.engine.world.size  # --batch-size rows on each of them
    if not trainer.master:
        trainer.begin()
        yield trainer, config
        return
    log(
        f"{data.data}: {len(train_ids) + (0 if data.val_data else len(val_ids)):,} characters, {len(vocab) - 1} "
        f"distinct; training on {len(train_ids):,}, validating on {len(val_ids):,}"
    )
    with run.create(force=force):  # locked while training
        save_ids(run.path / TRAIN_IDS, train_ids)
        save_ids(run.path / VAL_IDS, val_ids)
        run.write_vocab(vocab.to_json())
        trainer.begin()
        run.write_config(config)  # last: a folder without config.json is a start that was killed
        yield trainer, config


def cached_streams(run: RunDir, config: dict[str, Any], vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    """The training and validation ids a stream run cached, checked against its config and vocabulary.

    A resume reads these, never the --data file again (which may have changed or gone since).
    """
    section = config["stream"]
    if section["vocab_size"] != len(vocab):
        raise RnnkitError(
            f"{run.path / VOCAB}: {len(vocab)} tokens, but config.json's stream.vocab_size is {section['vocab_size']}"
        )
    streams = []
    for name, key in ((TRAIN_IDS, "train_chars"), (VAL_IDS, "val_chars")):
        path = run.path / name
        if not path.exists():
            raise RnnkitError(f"{path}: missing (a stream run resumes from the streams it cached)")
        ids = load_ids(path)
        if ids.ndim != 1 or ids.dtype.kind != "u":
            raise RnnkitError(f"{path}: expected a 1-D array of unsigned ids, got {ids.dtype} {ids.shape}")
        if len(ids) != section[key]:
            raise RnnkitError(f"{path}: {len(ids):,} ids, but config.json's stream.{key} is {section[key]:,}")
        if len(ids) and not (1 <= int(ids.min()) and int(ids.max()) < len(vocab)):
            raise RnnkitError(f"{path}: ids outside the vocabulary (1..{len(vocab) - 1})")
        streams.append(ids)
    return streams[0], streams[1]


def resume(run: RunDir, config: dict[str, Any], vocab: Vocabulary) -> Trainer:
    """The Trainer of the stream run in `run` (config.json checked), at its last checkpoint, on its cached streams."""
    train_ids, val_ids = cached_streams(run, config, vocab)
    trainer = build(run, config, vocab, train_ids, val_ids)
    trainer.resume()
    return trainer
