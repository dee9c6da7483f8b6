"""Training the melody model: the data (pieces, a held-out split by piece, random Tx-step windows), the Task
the shared Trainer runs, and the run directory it fills.

The training pieces are joined into one stream with the boundary token between them, [|, piece 1, |, piece 2,
..., |], and every training example is a random window of Tx + 1 tokens cut from it: inputs the first Tx,
targets the last Tx. So x_1 is a real value (not a zero vector, as the seed notes), and windows that cross a
boundary teach the model how pieces begin and end. An epoch is ceil(tokens / Tx) windows.

A model trained with chords (`ModelConfig.chords`, `rnnkit music train --chords`) reads beside each token the
chord under the event it is to predict, as ImprovRNN does (the root one-hot and the 12 pitch classes), and where
in the beat that event starts (a one-hot of its sixteenth): 28 features (`chords.step_features`), all zero where
the piece ends. Its input at the boundary before a piece describes the piece's first event; so generation over a
progression asks for a note that fits the chord about to sound. The features travel as a second stream beside
the ids, cut by the same windows.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

import rnnkit
from rnnkit.config import TrainConfig
from rnnkit.engines.base import make_engine, model_dtype
from rnnkit.engines.batch import Batch
from rnnkit.engines.config import EngineConfig, resolve_engine
from rnnkit.engines.distributed import world_from_env
from rnnkit.errors import DataError, RnnkitError
from rnnkit.lm.batches import iter_eval_batches, pad_batch
from rnnkit.lm.config import ADDED_LATER
from rnnkit.lm.evaluate import mean_nll
from rnnkit.lm.model import TokenModel
from rnnkit.lm.vocab import BOUNDARY_ID
from rnnkit.music.chords import STEP_FEATURES, step_features
from rnnkit.music.config import DEFAULT_EPOCHS, ModelConfig
from rnnkit.music.generate import MelodyGenerator, format_events
from rnnkit.music.tokens import Melody, Vocabulary, transpose_to_c
from rnnkit.nn import cross_entropy
from rnnkit.rundir import CONFIG, RunDir
from rnnkit.schema import check_engine, check_fields, check_keys, check_value, config_from_dict
from rnnkit.training import Trainer

BACH = "bach"  # the bundled soprano lines of the Bach chorales
MELODIES = "melodies.npz"  # the user's melodies, kept with the run so eval and resume need not reread MIDI


@dataclass(frozen=True)
class DataConfig:
    data: tuple[str, ...] = (BACH,)  # "bach", prepared corpus files (.npz), MIDI files or folders
    track: int | None = None  # MIDI track of the melody (default: the highest non-drum track)
    val_fraction: float = 0.1  # share of the pieces held out (whole pieces, never windows)
    transpose: bool = True  # move every piece to C major / A minor
    tx: int = 30  # window length, the seed's Tx

    def validate(self) -> None:
        if not self.data:
            raise RnnkitError("--data needs at least one path")
        if not 0.0 < self.val_fraction < 1.0:
            raise RnnkitError(f"--val-fraction must be in (0, 1), got {self.val_fraction}")
        if self.tx < 1:
            raise RnnkitError(f"--tx must be >= 1, got {self.tx}")


# ------------------------------------------------------------------------------------------------- data


def read_melodies(data: DataConfig, warn=print) -> list[Melody]:
    """The melodies `data` names, in their own keys: the bundled chorales, .npz corpora, MIDI files/folders.

    Unreadable MIDI files inside folders are skipped; `warn` is told about each and how many there were.
    """
    from rnnkit.music.corpus import load_bundled_bach, load_corpus

    melodies: list[Melody] = []
    for source in data.data:
        if source == BACH:
            melodies += load_bundled_bach()
        elif source.endswith(".npz"):
            melodies += load_corpus(source)
        else:
            melodies += read_midi_sources([source], data.track, warn)
    return melodies


def read_midi_sources(paths: list[str], track: int | None = None, warn=print) -> list[Melody]:
    """Melodies of MIDI files and folders (see midi.read_midi_paths); skipped files go to `warn`, one line each."""
    import warnings

    from rnnkit.music.midi import read_midi_paths

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the skipped files are reported below, one plain line each
        found, skipped = read_midi_paths(paths, track=track)
    for _, reason in skipped:
        warn(f"warning: skipped {reason}")
    if skipped:
        warn(f"warning: skipped {len(skipped)} unreadable MIDI file(s); read {len(found)}")
    return found


def split_pieces(melodies: list[Melody], val_fraction: float, seed: int = 0) -> tuple[list[Melody], list[Melody]]:
    """Hold out round(val_fraction * N) whole pieces (at least 1), chosen by a seeded permutation: (train, val)."""
    n = len(melodies)
    if n < 2:
        raise DataError(f"need at least 2 pieces to hold some out, got {n}")
    n_val = min(n - 1, max(1, round(val_fraction * n)))
    held = set(np.random.default_rng(seed).permutation(n)[:n_val].tolist())
    train = [m for i, m in enumerate(melodies) if i not in held]
    val = [m for i, m in enumerate(melodies) if i in held]
    return train, val


def prepare_pieces(melodies: list[Melody], transpose: bool, warn=None) -> list[Melody]:
    """The melodies moved to C major / A minor (when `transpose`), dropping any that leave the MIDI range.

    `warn` is told about each piece dropped, and how many.
    """
    if not transpose:
        return list(melodies)
    out, dropped = [], 0
    for m in melodies:
        try:
            out.append(transpose_to_c(m))
        except ValueError as e:
            dropped += 1
            if warn is not None:
                warn(f"warning: skipped a piece: {e}")
    if dropped and warn is not None:
        warn(f"warning: {dropped} of {len(melodies)} pieces left the MIDI range when moved to C; trained on {len(out)}")
    return out


def stream(encoded: list[np.ndarray]) -> np.ndarray:
    """[|, piece 1, |, piece 2, ..., |] as one id array: (sum of lengths + N + 1,)."""
    parts = [np.array([BOUNDARY_ID])]
    for ids in encoded:
        parts += [ids, np.array([BOUNDARY_ID])]
    return np.concatenate(parts).astype(np.int64)


def piece_context(melody: Melody) -> np.ndarray:
    """The features of each input of a piece read from its boundary: (L + 1, 28) float32.

    Input i (the boundary, then event i - 1) predicts event i, so it reads the chord at event i's onset and
    that onset's place in the beat (`chords.step_features`); the last input predicts the end and reads zeros.
    """
    if melody.chords is None:
        raise DataError(f"{melody.piece_id or 'a melody'} has no chords")
    onsets = np.concatenate([[0.0], np.cumsum(melody.durations)[:-1]])  # (L,) each event's onset
    return np.concatenate([step_features(melody.chords, onsets), np.zeros((1, STEP_FEATURES), np.float32)])


def context_stream(contexts: list[np.ndarray]) -> np.ndarray:
    """The features beside `stream`'s ids: piece 1's (L1 + 1 rows from its boundary on), piece 2's, ..., and
    zeros for the final boundary: (len(stream), 28)."""
    return np.concatenate([*contexts, np.zeros((1, STEP_FEATURES), np.float32)])


class WindowBatcher:
    """Endless batches of random (Tx + 1)-token windows of one token stream, seeded and exactly resumable.

    Each batch is `batch_size` window starts drawn uniformly from np.random.default_rng(seed);
    `state_dict()` (JSON-serialisable) holds the generator's state, so after `load_state_dict` the next
    batches are those an uninterrupted batcher would have served.
    """

    def __init__(self, tokens: np.ndarray, tx: int, batch_size: int, seed: int = 0, context: np.ndarray | None = None):
        if context is not None and len(context) != len(tokens):
            raise DataError(f"{len(context)} rows of features for {len(tokens)} tokens")
        self.context = context  # (len(tokens), C) features beside the tokens, cut by the same windows, or None
        if len(tokens) < tx + 1:
            raise DataError(f"the training data has {len(tokens)} tokens, fewer than --tx {tx} + 1; lower --tx")
        if batch_size < 1:
            raise DataError(f"batch size must be at least 1, got {batch_size}")
        self.tokens, self.tx, self.batch_size = tokens, tx, batch_size
        self._rng = np.random.default_rng([seed, 3])
        self.batches = 0  # served so far

    @property
    def batches_per_epoch(self) -> int:
        """ceil(ceil(tokens / Tx) / batch_size): the batches that see about every token once."""
        return max(1, math.ceil(math.ceil(len(self.tokens) / self.tx) / self.batch_size))

    def next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        """inputs (Tx, B) and targets (Tx, B), the targets one step ahead of the inputs."""
        return self.next_context_batch()[:2]

    def next_context_batch(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """inputs (Tx, B), targets (Tx, B) and the inputs' features (Tx, B, C), or None without them."""
        starts = self._rng.integers(0, len(self.tokens) - self.tx, size=self.batch_size)  # (B,)
        positions = starts[:, None] + np.arange(self.tx + 1)  # (B, Tx+1)
        windows = self.tokens[positions]  # (B, Tx+1)
        self.batches += 1
        context = None if self.context is None else self.context[positions[:, :-1].T]  # (Tx, B, C)
        return windows[:, :-1].T.copy(), windows[:, 1:].T.copy(), context

    def state_dict(self) -> dict:
        return {
            "rng": self._rng.bit_generator.state,
            "batches": self.batches,
            "num_tokens": len(self.tokens),
            "tx": self.tx,
            "batch_size": self.batch_size,
        }

    def load_state_dict(self, state: dict) -> None:
        for key, mine in (("num_tokens", len(self.tokens)), ("tx", self.tx), ("batch_size", self.batch_size)):
            if state[key] != mine:
                raise DataError(f"cannot resume: the saved {key} is {state[key]}, now {mine} (has the data changed?)")
        self._rng.bit_generator.state = state["rng"]
        self.batches = int(state["batches"])


@dataclass
class MusicData:
    """A run's pieces after transposition: training and held-out, encoded with the run's vocabulary."""

    train: list[Melody]
    val: list[Melody]
    vocab: Vocabulary
    train_ids: list[np.ndarray]
    val_ids: list[np.ndarray]
    val_unknown: int  # held-out events missing from the vocabulary, scored as their nearest token
    chords: bool = False  # whether the model reads chords (every piece then has them)

    def contexts(self, melodies: list[Melody]) -> list[np.ndarray] | None:
        """Each piece's chord features (see `piece_context`) for a chord model, else None."""
        return [piece_context(m) for m in melodies] if self.chords else None

    @property
    def train_tokens(self) -> int:
        return sum(len(m) for m in self.train)


def run_melodies(data: DataConfig, run: RunDir | None = None, warn=print) -> list[Melody]:
    """The melodies a run trains on: the copy it kept of the user's files (never the files again), or the
    bundled chorales; without a run, those `data` names."""
    if run is not None and any(s != BACH for s in data.data):
        from rnnkit.music.corpus import load_corpus

        path = run.path / MELODIES
        if not path.exists():
            raise RnnkitError(f"{path}: missing (the run's copy of its training data)")
        try:
            return load_corpus(path)
        except RnnkitError:
            raise
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, KeyError, TypeError, IndexError) as e:
            raise RnnkitError(f"{path}: not a readable melody corpus ({e.__class__.__name__})") from None
    return read_melodies(data, warn)


def load_data(
    data: DataConfig, melodies: list[Melody], vocab: Vocabulary | None = None, chords: bool = False, warn=None
) -> MusicData:
    """Transpose and split the pieces; build the vocabulary from the training pieces unless given.

    With `chords` every piece must carry its chords (raises RnnkitError naming how many do not). `warn` is told
    about pieces that transposing drops.
    """
    if chords:
        missing = [m.piece_id or str(i) for i, m in enumerate(melodies) if m.chords is None]
        if missing:
            raise RnnkitError(
                f"--chords: {len(missing)} of the {len(melodies)} pieces have no chords (e.g. {missing[0]}); "
                "they come from a score's other parts or a MIDI file's other tracks (`rnnkit music prepare`)"
            )
    train, val = split_pieces(prepare_pieces(melodies, data.transpose, warn), data.val_fraction)
    vocab = vocab or Vocabulary.from_melodies(train)
    val_ids = [vocab.encode(m, unknown="nearest") for m in val]
    unknown = sum(sum(e not in vocab for e in m.events) for m in val)
    return MusicData(train, val, vocab, [vocab.encode(m) for m in train], val_ids, unknown, chords)


# ------------------------------------------------------------------------------------------------- task


class MusicTask:
    """Random Tx-step windows, scored with the cross-entropy at every step; whole held-out pieces for validation.

    world_size: data-parallel processes; each batch holds batch_size windows per process.
    """

    def __init__(
        self,
        model: TokenModel,
        generator: MelodyGenerator,
        data: MusicData,
        tx: int,
        config: TrainConfig,
        world_size: int = 1,
    ):
        self.model, self.generator, self.data = model, generator, data
        contexts = data.contexts(data.train)
        context = None if contexts is None else context_stream(contexts)  # (len(stream), 28)
        self.batcher = WindowBatcher(stream(data.train_ids), tx, config.batch_size * world_size, config.seed, context)
        self.val_contexts = data.contexts(data.val)

    def next_batch(self) -> Batch:
        inputs, targets, context = self.batcher.next_context_batch()  # (Tx, B) each, (Tx, B, 28) or None
        return Batch(inputs, targets, context=context)

    def eval_batches(self) -> Iterator[Batch]:
        """The held-out pieces from their start, as `negative_log_likelihood` reads them."""
        if not self.data.val_ids:
            raise RnnkitError("no held-out pieces to evaluate")
        return eval_batches(self.data.val_ids, 256, self.val_contexts)

    def samples(self, n: int, rng: np.random.Generator) -> list[str]:
        self.model.eval()
        seed = int(rng.integers(2**31))
        if self.data.chords:  # over the first bars of a held-out piece's chords
            chords = self.data.val[0].chords
            rows = self.generator.generate_over_ids(chords.head(8), n, seed=seed)
        else:
            rows = self.generator.generate_ids(n, 12, seed=seed)
        self.model.train()
        return ["[" + format_events(self.data.vocab.decode(row)) + "]" for row in rows]

    def data_state(self) -> dict[str, Any]:
        return self.batcher.state_dict()

    def load_data_state(self, state: dict[str, Any]) -> None:
        self.batcher.load_state_dict(state)


def eval_batches(
    encoded: list[np.ndarray], batch_size: int, contexts: list[np.ndarray] | None = None
) -> Iterator[Batch]:
    """Whole pieces from their start as padded batches (`lm.batches.iter_eval_batches`), each with its pieces'
    features (T, B, C) when `contexts` gives them (see `piece_context`; zeros on the padding)."""
    if contexts is None:
        yield from (Batch(*b) for b in iter_eval_batches(encoded, batch_size))
        return
    order = np.argsort([len(s) for s in encoded], kind="stable")  # as iter_eval_batches, to cut padding
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        inputs, targets, mask = pad_batch([encoded[i] for i in chunk])  # (T, B) each
        context = np.zeros((*inputs.shape, contexts[0].shape[1]), dtype=np.float32)  # (T, B, C)
        for b, i in enumerate(chunk):
            context[: len(contexts[i]), b] = contexts[i]
        yield Batch(inputs, targets, mask, context=context)


def negative_log_likelihood(
    model: TokenModel, encoded: list[np.ndarray], batch_size: int = 256, contexts: list[np.ndarray] | None = None
) -> dict[str, Any]:
    """Mean NLL per token of whole pieces read from their start; the end of each piece counts as a token.

    contexts: each piece's features (L + 1, C) for a model that reads them (see `piece_context`).
    """
    if not encoded:
        raise RnnkitError("no held-out pieces to evaluate")
    if contexts is None:
        nll, count = mean_nll(model, encoded, batch_size)
        return {"nll": nll, "tokens": count, "pieces": len(encoded)}
    total, count = 0.0, 0
    for batch in eval_batches(encoded, batch_size, contexts):
        logits, _, _ = model.forward(batch.inputs, None, None, batch.context)  # (T, B, V)
        loss, _ = cross_entropy(logits.astype(np.float64), batch.targets, batch.mask)
        total += loss * batch.targets_counted
        count += batch.targets_counted
    return {"nll": total / count, "tokens": count, "pieces": len(encoded)}


# ------------------------------------------------------------------------------------------------- runs


def _stats(data: MusicData) -> dict[str, Any]:
    from collections import Counter

    tempos = [m.tempo_bpm for m in data.train if m.tempo_bpm]
    signature = Counter(m.time_signature for m in data.train).most_common(1)[0][0]
    return {
        "train_pieces": len(data.train),
        "val_pieces": len(data.val),
        "train_tokens": data.train_tokens,
        "val_tokens": sum(len(m) for m in data.val),
        "vocab_size": len(data.vocab),
        "tempo_bpm": float(np.median(tempos)) if tempos else 100.0,
        "time_signature": list(signature),
    }


def _context_size(model: ModelConfig) -> int:
    return STEP_FEATURES if model.chords else 0


def _data_config(d: dict[str, Any]) -> DataConfig:
    return DataConfig(**{**d, "data": tuple(d["data"])})


def build(run: RunDir, config: dict[str, Any], data: MusicData) -> Trainer:
    """The Trainer (with its task, model, engine and generator) of a resolved config and the data it names."""
    data_cfg = _data_config(config["data"])
    model_cfg, train_cfg = ModelConfig(**config["model"]), TrainConfig(**config["train"])
    engine_cfg = resolve_engine(config.get("engine"))
    model = TokenModel(
        model_cfg,
        len(data.vocab),
        seed=train_cfg.seed,
        dtype=model_dtype(engine_cfg),
        context_size=_context_size(model_cfg),
    )
    stats = config.get("stats") or _stats(data)
    generator = MelodyGenerator(model, data.vocab, data_cfg.transpose, stats["tempo_bpm"], stats["time_signature"])
    engine = make_engine(engine_cfg, model, train_cfg)
    task = MusicTask(model, generator, data, data_cfg.tx, train_cfg, engine.world.size)
    return Trainer(train_cfg, task, run, engine=engine)


def train(
    out: str | Path,
    model: ModelConfig,
    train_config: TrainConfig,
    data: DataConfig,
    preset: str = "default",
    epochs: float | None = None,
    force: bool = False,
    progress: bool = True,
    log=print,
    engine: EngineConfig | None = None,
) -> dict[str, Any]:
    """Train a new melody model into the run directory `out`; return the Trainer's summary.

    The length of training is `epochs` (ceil(tokens / Tx) windows each), or train_config.max_steps, or
    train_config.max_time; with none of them, the preset's number of epochs.
    """
    model.validate()
    train_config.validate()
    data.validate()
    engine = engine or EngineConfig()
    engine.validate()
    if epochs is not None and train_config.max_steps is not None:
        raise RnnkitError("give --epochs or --max-steps, not both")
    if epochs is not None and not (math.isfinite(epochs) and epochs > 0):
        raise RnnkitError(f"--epochs must be a finite number > 0, got {epochs}")
    run = RunDir(out)
    melodies = read_melodies(data, warn=log)
    loaded = load_data(data, melodies, chords=model.chords, warn=log)  # validates the data before anything is written
    check_memory(model, train_config, loaded, data.tx)
    if epochs is None and train_config.max_steps is None and train_config.max_time is None:
        epochs = DEFAULT_EPOCHS.get(preset, 100)
    if epochs is not None:
        windows = WindowBatcher(stream(loaded.train_ids), data.tx, train_config.batch_size)
        train_config = dataclasses.replace(train_config, max_steps=max(1, round(epochs * windows.batches_per_epoch)))
    config = {
        "kind": "music",
        "rnnkit": rnnkit.__version__,
        "preset": preset,
        "epochs": epochs,
        "model": asdict(model),
        "train": asdict(train_config),
        "data": {**asdict(data), "data": list(data.data)},
        "stats": _stats(loaded),
        "engine": asdict(engine),
    }
    trainer = build(run, config, loaded)  # the engine is ready (torch found, device valid) before anything is written
    config["engine"]["world_size"] = trainer.engine.world.size  # --batch-size windows on each of them
    if not trainer.master:  # rank 0 alone writes the run directory
        trainer.begin()
        return _run(trainer, config, loaded, log, progress)
    with run.create(force=force):  # locked while training
        if any(s != BACH for s in data.data):
            from rnnkit.music.corpus import save_corpus

            save_corpus(melodies, run.path / MELODIES, {"source": list(data.data)})
        run.write_vocab(loaded.vocab.to_json())
        trainer.begin()
        run.write_config(config)  # last: a folder without config.json is a start that was killed
        return _run(trainer, config, loaded, log, progress)


def resume(
    out: str | Path,
    max_steps: int | None = None,
    max_time: float | None = None,
    progress: bool = True,
    log=print,
    engine: dict | None = None,
) -> dict[str, Any]:
    """Continue the run in `out` from its last checkpoint, on the melodies it kept (see Trainer.extend for
    max_steps and max_time, which carry it beyond its saved end), optionally on another engine: `engine`
    holds the --engine, --device, --precision flags given."""
    run = RunDir(out)
    with run.open_for_training() if world_from_env().master else nullcontext():  # rank 0 holds the lock
        saved = _music_config(run)
        config = copy.deepcopy(saved)
        stored = config.get("engine", {})
        config["engine"] = {**stored, **asdict(resolve_engine(stored, engine))}
        data_cfg = _data_config(config["data"])
        vocab = run.parse_vocab(Vocabulary.from_json)
        chords = bool(config["model"].get("chords", False))
        data = load_data(data_cfg, run_melodies(data_cfg, run, log), vocab, chords)
        trainer = build(run, config, data)
        trainer.resume()
        if max_steps is not None or max_time is not None:
            trainer.extend(max_steps, max_time)
            config["train"]["max_steps"] = trainer.max_steps
        if trainer.master:
            log(f"resuming {run} at step {trainer.step}")
            if config != saved:  # extended, or on another engine, device or precision: the run records it
                run.write_config(config)
        return _run(trainer, config, data, log, progress)


def check_memory(model: ModelConfig, train: TrainConfig, data: MusicData, tx: int) -> None:
    """Refuse a model or a batch that cannot fit in memory, with the estimate, before anything is allocated."""
    from rnnkit.memory import recurrent_batch_bytes, recurrent_model_bytes, require_memory

    V = len(data.vocab)
    need = recurrent_model_bytes(model.cell, V, model.embedding_size, model.hidden_size, model.num_layers)
    longest = max(len(m) for m in data.val) + 1  # held-out pieces are read whole, 256 at a time
    need += max(
        recurrent_batch_bytes(model.cell, V, model.hidden_size, model.num_layers, tx, train.batch_size),
        recurrent_batch_bytes(model.cell, V, model.hidden_size, model.num_layers, longest, min(256, len(data.val))),
    )
    shape = f"{model.cell} {model.num_layers}x{model.hidden_size}, embedding {model.embedding_size}"
    require_memory(need, f"training {shape} with --batch-size {train.batch_size}")


def _run(trainer: Trainer, config: dict[str, Any], data: MusicData, log, progress: bool) -> dict[str, Any]:
    log = log if trainer.master else (lambda *a, **k: None)  # rank 0 alone prints
    log(json.dumps(config, indent=2))
    if data.val_unknown:
        log(f"note: {data.val_unknown} held-out events are not in the vocabulary; they are scored as their nearest")
    trainer.progress = progress
    trainer.log = log
    summary = trainer.train()
    m = config["model"]
    if trainer.master:
        trainer.run.plot(title=f"{m['cell']} {m['hidden_size']} on {', '.join(config['data']['data'])}")
    return summary


STATS = {
    "train_pieces": "int",
    "val_pieces": "int",
    "train_tokens": "int",
    "val_tokens": "int",
    "vocab_size": "int",
    "tempo_bpm": "float",
    "time_signature": "list",
}


def _music_config(run: RunDir) -> dict[str, Any]:
    """config.json of a melody-model run, every section and field checked (one error naming the field)."""
    config = run.read_config()
    where = str(run.path / CONFIG)
    if config.get("kind") != "music":
        raise RnnkitError(f"{run}: not a melody-model run")
    check_keys(config, {"kind", "rnnkit", "preset", "epochs", "model", "train", "data", "stats"}, where, {"engine"})
    check_value(config["rnnkit"], "str", f"{where}: rnnkit")
    check_value(config["preset"], "str", f"{where}: preset")
    check_value(config["epochs"], "float | None", f"{where}: epochs")
    for key, cls in (("model", ModelConfig), ("train", TrainConfig), ("data", DataConfig)):
        config_from_dict(cls, config[key], f"{where}: {key}", may_omit={"chords", *ADDED_LATER})  # added after format 1
    stats = check_fields(config["stats"], STATS, f"{where}: stats")
    check_engine(config.get("engine", {}), f"{where}: engine")
    signature = stats["time_signature"]
    if not (len(signature) == 2 and all(type(x) is int and x >= 1 for x in signature)) or not stats["tempo_bpm"] > 0:
        raise RnnkitError(f"{where}: stats: time_signature must be [beats, unit] and tempo_bpm > 0")
    return config


# ------------------------------------------------------------------------------------------------ loading


@dataclass
class LoadedRun:
    """A trained run: its generator (model, vocabulary) and resolved config."""

    generator: MelodyGenerator
    config: dict[str, Any]
    path: Path

    @property
    def data_config(self) -> DataConfig:
        return _data_config(self.config["data"])

    def data(self, warn=print) -> MusicData:
        """The run's training and held-out pieces, as it split them."""
        melodies = run_melodies(self.data_config, RunDir(self.path), warn)
        return load_data(self.data_config, melodies, self.generator.vocab, self.generator.chords)


def load_run(run: str | Path | None = None, chords: bool = False) -> LoadedRun:
    """A run directory with its best weights (when `run` is None the pretrained Bach model, with `chords` the
    one trained over chords)."""
    rd = RunDir(Path(run) if run is not None else pretrained_path(chords))
    if run is None and not rd.is_run():
        raise RnnkitError(f"the pretrained melody model is missing from {rd}; train one with `rnnkit music train`")
    config = _music_config(rd)
    model_cfg = ModelConfig(**config["model"])
    vocab = rd.parse_vocab(Vocabulary.from_json)
    stats = config["stats"]
    arrays, _ = rd.load_model()
    model = TokenModel(model_cfg, len(vocab), context_size=_context_size(model_cfg))
    model.load_params(arrays)
    transposed = bool(config["data"]["transpose"])
    generator = MelodyGenerator(model, vocab, transposed, stats["tempo_bpm"], tuple(stats["time_signature"]))
    return LoadedRun(generator, config, rd.path)


def load(run: str | Path | None = None, chords: bool = False) -> MelodyGenerator:
    """The MelodyGenerator of a run directory, or of the pretrained Bach model (with `chords`: over chords)."""
    return load_run(run, chords).generator


def pretrained_path(chords: bool = False) -> Path:
    """Where the shipped Bach model lives: `bach`, or `bach-chords` for the one trained with --chords."""
    from importlib.resources import files

    return Path(str(files("rnnkit").joinpath("data", "pretrained", "bach-chords" if chords else "bach")))


# ------------------------------------------------------------------------------------------------- eval


def evaluate(
    loaded: LoadedRun,
    num_pieces: int = 100,
    temperature: float | None = None,
    top_k: int | None = None,
    seed: int = 0,
    held_out: list[Melody] | None = None,
    warn=print,
) -> dict[str, Any]:
    """Held-out NLL per token, and the metrics of generated pieces against the held-out ones (see metrics).

    `num_pieces` melodies are generated from the start token, their lengths those of the held-out pieces in
    turn. The reference row is the held-out pieces measured against the training pieces: what a model
    should approach. `held_out` replaces the run's held-out split (melodies in their own keys).

    When the held-out pieces have chords, `num_pieces` melodies are also generated over their progressions in
    turn, each as long as its piece (`MelodyGenerator.generate_over_ids`), and "chord_tones" holds the share of
    their notes that are chord tones (`chords.chord_tone_ratios`, pooled over notes) beside the held-out pieces'
    own share against their chords. A model trained with chords is measured on these melodies alone (every
    metric); one without is the baseline: it fills the same beats deaf to the chords. `temperature` None: the
    generator's default (`MelodyGenerator.default_temperature`: lower for a model that reads chords).
    """
    from rnnkit.config import check_seed, check_temperature
    from rnnkit.memory import require_memory
    from rnnkit.music import metrics
    from rnnkit.music.chords import pooled_chord_tone_ratios
    from rnnkit.music.generate import EVENT_BYTES

    if num_pieces < 1:
        raise RnnkitError(f"-n must be >= 1, got {num_pieces}")
    temperature = loaded.generator.default_temperature if temperature is None else temperature
    check_temperature(temperature)
    check_seed(seed)
    if top_k is not None and top_k < 1:
        raise RnnkitError(f"--top-k must be >= 1, got {top_k}")
    data = loaded.data(warn)
    gen = loaded.generator
    held = data.val if held_out is None else prepare_pieces(held_out, loaded.data_config.transpose, warn)
    if not held:
        raise RnnkitError("no held-out pieces to evaluate")
    require_memory(num_pieces * max(len(m) for m in held) * EVENT_BYTES, f"-n {num_pieces} generated pieces")
    with_chords = all(m.chords is not None for m in held)
    if gen.chords and not with_chords:
        raise RnnkitError("this model reads chords, and some of the pieces to evaluate have none")
    encoded = [gen.vocab.encode(m, unknown="nearest") for m in held]
    unknown = sum(sum(e not in gen.vocab for e in m.events) for m in held)
    contexts = [piece_context(m) for m in held] if gen.chords else None
    nll = negative_log_likelihood(gen.model, encoded, contexts=contexts)
    chord_tones = None
    if with_chords:
        over, progressions = [], []
        for j, piece in enumerate(held):  # piece j's progression for melodies j, j + len(held), ...
            count = len(range(j, num_pieces, len(held)))
            if count:
                rows = gen.generate_over_ids(piece.chords, count, temperature, False, top_k, seed=[seed, j])
                over += [Melody.from_events(gen.vocab.decode(row)) for row in rows]
                progressions += [piece.chords] * count
        chord_tones = {
            "model": pooled_chord_tone_ratios(over, progressions),
            "reference": pooled_chord_tone_ratios(held, [m.chords for m in held]),
        }
    if gen.chords:
        generated = over
    else:
        lengths = np.array([len(held[i % len(held)]) for i in range(num_pieces)])  # (N,)
        ids = gen.generate_ids(num_pieces, int(lengths.max()), temperature=temperature, top_k=top_k, seed=seed)
        generated = [Melody.from_events(gen.vocab.decode(row[:n])) for row, n in zip(ids, lengths, strict=True)]
    return {
        "run": str(loaded.path),
        "held_out": {"pieces": len(held), "tokens": nll["tokens"], "unknown_events": unknown},
        "nll": nll["nll"],
        "perplexity": math.exp(nll["nll"]),
        "generated": {"pieces": num_pieces, "temperature": temperature, "top_k": top_k, "seed": seed},
        "model": metrics.compare(generated, held, data.train),
        "reference": metrics.compare(held, data.train, data.train),
        "chords": gen.chords,
        "chord_tones": chord_tones,
    }
