"""Training the name model: the Task the shared Trainer runs, and the run directory it fills."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

import rnnkit
from rnnkit.config import TrainConfig
from rnnkit.engines.base import make_engine, model_dtype
from rnnkit.engines.batch import Batch
from rnnkit.engines.config import EngineConfig, resolve_engine
from rnnkit.engines.distributed import world_from_env
from rnnkit.errors import RnnkitError
from rnnkit.lm.batches import iter_eval_batches
from rnnkit.lm.config import ADDED_LATER, ModelConfig
from rnnkit.lm.ensemble import Ensemble
from rnnkit.lm.model import TokenModel
from rnnkit.lm.ngram import NGram, fit_weight
from rnnkit.rundir import CONFIG, RunDir
from rnnkit.schema import check_engine, check_keys, check_value, config_from_dict
from rnnkit.text.config import DATA_ADDED_LATER, DataConfig, check_stream
from rnnkit.text.data import SURNAMES, Batcher, read_items, resolve_items, split_train_val
from rnnkit.text.generate import NameGenerator
from rnnkit.text.vocab import Vocabulary
from rnnkit.training import Trainer

ITEMS = "items.txt.gz"  # the training items, kept with the run for `sample --novel` and --resume
VAL_ITEMS = "val-items.txt.gz"  # the validation items, kept for --resume
NGRAM_NAMES_ONLY = "--ngram mixes counts of names into a name model; a --stream run reads one long text"


class NameTask:
    """Minibatches of padded names, scored with the masked cross-entropy.

    world_size: data-parallel processes; each batch holds batch_size rows per process (the engine keeps its own).
    """

    def __init__(
        self,
        model: TokenModel,
        generator: NameGenerator,
        train: list[np.ndarray],
        val,
        config: TrainConfig,
        world_size: int = 1,
    ):
        self.model, self.generator = model, generator
        self.batcher = Batcher(train, config.batch_size * world_size, seed=config.seed, sort_chunk=8)
        self.val = val

    def next_batch(self) -> Batch:
        inputs, targets, mask = self.batcher.next_batch()  # (T, B) each
        return Batch(inputs, targets, mask)

    def eval_batches(self) -> Iterator[Batch] | None:
        if not self.val:
            return None
        return (Batch(*b) for b in iter_eval_batches(self.val, 512))

    def samples(self, n: int, rng: np.random.Generator) -> list[str]:
        self.model.eval()
        names = self.generator.sample(n, seed=int(rng.integers(2**31)))
        self.model.train()
        return names

    def data_state(self) -> dict[str, Any]:
        return self.batcher.state_dict()

    def load_data_state(self, state: dict[str, Any]) -> None:
        self.batcher.load_state_dict(state)


def _load_items(data: DataConfig) -> tuple[list[str], list[str]]:
    items = resolve_items(data.data, dedupe=data.dedupe)
    if data.val_data is not None:
        return items, read_items(data.val_data, dedupe=data.dedupe)
    if not 0 <= data.val_fraction < 1:
        raise RnnkitError(f"--val-fraction must be in [0, 1), got {data.val_fraction}")
    if data.max_val < 1:
        raise RnnkitError(f"--max-val must be >= 1, got {data.max_val}")
    return split_train_val(items, data.val_fraction, data.max_val, seed=0)


def check_memory(model: ModelConfig, train: TrainConfig, vocab_size: int, train_items, val_items) -> None:
    """Refuse a model or a batch that cannot fit in memory, with the estimate, before anything is allocated."""
    from rnnkit.memory import recurrent_batch_bytes, recurrent_model_bytes, require_memory

    weights = recurrent_model_bytes(model.cell, vocab_size, model.embedding_size, model.hidden_size, model.num_layers)
    longest = max(len(s) for s in train_items) + 1
    batch = recurrent_batch_bytes(
        model.cell, vocab_size, model.hidden_size, model.num_layers, longest, min(train.batch_size, len(train_items))
    )
    if val_items:  # evaluation reads the validation items 512 at a time
        val_longest = max(len(s) for s in val_items) + 1
        batch = max(
            batch,
            recurrent_batch_bytes(
                model.cell, vocab_size, model.hidden_size, model.num_layers, val_longest, min(512, len(val_items))
            ),
        )
    shape = f"{model.cell} {model.num_layers}x{model.hidden_size}, embedding {model.embedding_size}"
    require_memory(weights + batch, f"training {shape} on items of up to {longest - 1:,} characters")


def _saved_items(run: RunDir, data: DataConfig) -> tuple[list[str], list[str]]:
    """The training and validation items a run kept (the bundled surnames are split again, the same way)."""
    if data.data == SURNAMES and data.val_data is None:
        return _load_items(data)
    train = resolve_items(SURNAMES, dedupe=data.dedupe) if data.data == SURNAMES else run.read_lines(ITEMS)
    if not train:
        raise RnnkitError(f"{run.path / ITEMS}: holds no items")
    if not (run.path / VAL_ITEMS).exists():  # a run from before rnnkit kept its validation items
        return train, _load_items(data)[1]
    return train, run.read_lines(VAL_ITEMS)


def read_run_config(run: RunDir) -> dict[str, Any]:
    """config.json of a name-model run, every section and field checked (one error naming the field)."""
    config = run.read_config()
    where = str(run.path / CONFIG)
    if config.get("kind") != "text":
        raise RnnkitError(f"{run}: not a name-model run")
    check_keys(config, {"kind", "rnnkit", "model", "train", "data"}, where, optional={"engine", "stream"})
    check_value(config["rnnkit"], "str", f"{where}: rnnkit")
    for key, cls in (("model", ModelConfig), ("train", TrainConfig)):
        config_from_dict(cls, config[key], f"{where}: {key}", may_omit=ADDED_LATER)
    data = config_from_dict(DataConfig, config["data"], f"{where}: data", may_omit=ADDED_LATER | DATA_ADDED_LATER)
    check_engine(config.get("engine", {}), f"{where}: engine")
    if data.stream:
        check_stream(config, where)
    elif "stream" in config or data.seq_length is not None or data.shift_rows:  # a list's false or null
        raise RnnkitError(f"{where}: a stream section, data.seq_length or data.shift_rows, but data.stream is false")
    return config


def build(run: RunDir, config: dict[str, Any], vocab: Vocabulary | None = None, items=None):
    """Trainer, generator, vocabulary and training items from a resolved config.

    A fresh run builds its vocabulary from all the data, training and validation items alike (as makemore
    does), so a rare character that the split put on the validation side only still has an id; a resumed run
    passes the one it saved, and the (train, val) items it kept.
    """
    data, model_cfg = DataConfig(**config["data"]), ModelConfig(**config["model"])
    train_cfg = TrainConfig(**config["train"])
    engine_cfg = resolve_engine(config.get("engine"))
    train_items, val_items = items if items is not None else _load_items(data)
    vocab = vocab or Vocabulary.from_items([*train_items, *val_items])
    unknown = set().union(*(vocab.unknown_chars(v) for v in val_items)) if val_items else set()
    if unknown:
        chars = " ".join(repr(c) for c in sorted(unknown))
        raise RnnkitError(f"the validation data has characters the run's vocabulary lacks: {chars}")
    check_memory(model_cfg, train_cfg, len(vocab), train_items, val_items)
    model = TokenModel(model_cfg, len(vocab), seed=train_cfg.seed, dtype=model_dtype(engine_cfg))
    generator = NameGenerator(
        model, vocab, title_case=data.data == SURNAMES, training_items=train_items, reverse=data.reverse
    )
    engine = make_engine(engine_cfg, model, train_cfg)
    train_ids, val_ids = generator.encode_items(train_items), generator.encode_items(val_items)
    task = NameTask(model, generator, train_ids, val_ids, train_cfg, engine.world.size)
    trainer = Trainer(train_cfg, task, run, engine=engine)
    return trainer, generator, vocab, train_items


def train(
    out: str | Path,
    model: ModelConfig,
    train_config: TrainConfig,
    data: DataConfig,
    force: bool = False,
    progress: bool = True,
    log=print,
    engine: EngineConfig | None = None,
) -> dict[str, Any]:
    """Train a new name model into the run directory `out`; return the Trainer's summary."""
    model.validate()
    train_config.validate()
    engine = engine or EngineConfig()
    engine.validate()
    if data.stream:
        from rnnkit.text import stream

        with stream.start(out, model, train_config, data, engine, force=force, progress=progress, log=log) as (
            trainer,
            config,
        ):
            return _run(trainer, config, log, progress)
    if data.seq_length is not None or data.shift_rows is not None:
        shift = "--shift-rows" if data.shift_rows else "--no-shift-rows"
        flag = "--seq-length" if data.seq_length is not None else shift
        raise RnnkitError(f"{flag} is for --stream runs (a list of names is read one item at a time)")
    run = RunDir(out)
    config = {
        "kind": "text",
        "rnnkit": rnnkit.__version__,
        "model": asdict(model),
        "train": asdict(train_config),
        "data": asdict(data),
        "engine": asdict(engine),
    }
    items = _load_items(data)
    trainer, _, vocab, _ = build(run, config, items=items)  # validates the data before anything is written
    config["engine"]["world_size"] = trainer.engine.world.size  # --batch-size rows on each of them
    if not trainer.master:  # rank 0 alone writes the run directory
        trainer.begin()
        return _run(trainer, config, log, progress)
    if data.data != SURNAMES:
        from rnnkit.text.stream import prose_hint

        hint = prose_hint(items[0], data.data)
        if hint:
            log(hint)
    with run.create(force=force):  # locked while training
        run.write_vocab(vocab.to_json())
        if data.data != SURNAMES:
            run.write_lines(ITEMS, items[0])
        if data.data != SURNAMES or data.val_data is not None:
            run.write_lines(VAL_ITEMS, items[1])
        trainer.begin()
        run.write_config(config)  # last: a folder without config.json is a start that was killed
        return _run(trainer, config, log, progress)


def resume(
    out: str | Path,
    max_steps: int | None = None,
    max_time: float | None = None,
    progress: bool = True,
    log=print,
    engine: dict | None = None,
) -> dict[str, Any]:
    """Continue the run in `out` from its last checkpoint, on the data it kept (see Trainer.extend for
    max_steps and max_time, which carry it beyond its saved end), optionally on another engine: `engine`
    holds the --engine, --device, --precision flags given."""
    run = RunDir(out)
    with run.open_for_training() if world_from_env().master else nullcontext():  # rank 0 holds the lock
        saved = read_run_config(run)
        config = copy.deepcopy(saved)
        stored = config.get("engine", {})
        config["engine"] = {**stored, **asdict(resolve_engine(stored, engine))}
        vocab = run.parse_vocab(Vocabulary.from_json)
        if config["data"].get("stream"):
            from rnnkit.text import stream

            trainer = stream.resume(run, config, vocab)
        else:
            items = _saved_items(run, DataConfig(**config["data"]))
            trainer, _, _, _ = build(run, config, vocab, items)
            trainer.resume()
        if max_steps is not None or max_time is not None:
            trainer.extend(max_steps, max_time)
            config["train"]["max_steps"] = trainer.max_steps
        if trainer.master:
            log(f"resuming {run} at step {trainer.step}")
            if config != saved:  # extended, or on another engine, device or precision: the run records it
                run.write_config(config)
        return _run(trainer, config, log, progress)


def _run(trainer: Trainer, config: dict[str, Any], log, progress: bool) -> dict[str, Any]:
    import json

    log = log if trainer.master else _quiet
    log(json.dumps(config, indent=2))
    trainer.progress = progress
    trainer.log = log
    summary = trainer.train()
    if trainer.master:
        trainer.run.plot(
            title=f"{config['model']['cell']} {config['model']['hidden_size']} on {config['data']['data']}"
        )
    return summary


def _quiet(*args, **kwargs) -> None:
    """The log of a rank other than 0: silent."""


def load(run: str | Path | Sequence[str | Path] | None = None, ngram: int | None = None):
    """The generator of a run directory (its best weights), or of the pretrained surnames model.

    A NameGenerator for a list of names; a `rnnkit.text.stream.TextGenerator` for a --stream run. Given a list
    of run directories, the same generator over their ensemble (`rnnkit.lm.ensemble.Ensemble`, the mixture of
    the members' distributions): the runs must share one vocabulary and one kind (names or --stream, the
    bundled surnames' title case or not), or a one-line error names the first that does not. Runs that read
    names both ways (some with --reverse) give a `rnnkit.text.mixture.NameMixture`: the mixture, name by
    name, of the ensembles of each way.

    ngram: an order n (2 to 10) mixes an n-gram of the training names into each way's model, character by
    character (`mix_ngram`); None: the models alone.
    """
    if run is not None and not isinstance(run, str | os.PathLike):
        return _load_ensemble(list(run), ngram)
    path = Path(run) if run is not None else pretrained_path()
    model, vocab, data, items = _read_run(path)
    gen = _generator(model, vocab, data, items)
    if ngram is None:
        return gen
    if data.stream:
        raise RnnkitError(NGRAM_NAMES_ONLY)
    return mix_ngram(gen, ngram, *_saved_items(RunDir(path), data))


def mix_ngram(gen: NameGenerator, order: int, train: Sequence[str], val: Sequence[str]) -> NameGenerator:
    """The generator over (1 - w) its model + w an n-gram of the `train` names (`rnnkit.lm.ngram`), per character.

    The n-gram counts the names as the model reads them (turned round for a --reverse run), leaving out the
    `val` names, and w is fitted on those: the weight that gives them the lowest NLL.
    """
    if not val:
        raise RnnkitError("--ngram fits the n-gram's weight on the run's validation names, and this run has none")
    held_out = set(val)
    counted = gen.encode_items(item for item in train if item not in held_out)
    ngram = NGram(counted, gen.model.vocab_size, order)
    members = gen.model.members if isinstance(gen.model, Ensemble) else [gen.model]
    shares = gen.model.weights if isinstance(gen.model, Ensemble) else None
    shares = np.full(len(members), 1 / len(members)) if shares is None else shares
    w = fit_weight(gen.model, ngram, gen.encode_items(val))
    mixed = Ensemble([*members, ngram], [*((1 - w) * shares), w])
    return NameGenerator(
        mixed, gen.vocab, title_case=gen.title_case, training_items=gen.training_items, reverse=gen.reverse
    )


def _read_run(path: Path) -> tuple[TokenModel, Vocabulary, DataConfig, Callable[[], list[str]]]:
    """A run's model (its best weights), vocabulary, data settings, and how to read its training items."""
    rd = RunDir(path)
    config = read_run_config(rd)
    model_cfg, data = ModelConfig(**config["model"]), DataConfig(**config["data"])
    vocab = rd.parse_vocab(Vocabulary.from_json)
    arrays, _ = rd.load_model()
    model = TokenModel(model_cfg, len(vocab))
    model.load_params(arrays)

    def items() -> list[str]:
        if data.data == SURNAMES:
            return resolve_items(SURNAMES)
        return rd.read_lines(ITEMS) if (rd.path / ITEMS).exists() else []

    return model, vocab, data, items


def _generator(model, vocab: Vocabulary, data: DataConfig, items: Callable[[], list[str]]):
    if data.stream:
        from rnnkit.text.stream import TextGenerator

        return TextGenerator(model, vocab)
    return NameGenerator(model, vocab, title_case=data.data == SURNAMES, training_items=items(), reverse=data.reverse)


def _load_ensemble(runs: list[str | Path], ngram: int | None = None):
    """The generator over the ensemble of `runs`; `novel` sampling avoids every member's training items.

    With ngram, each way's ensemble mixes in an n-gram of every member's training items, fitted on the first
    run's validation items (`mix_ngram`)."""
    if not runs:
        raise RnnkitError("an ensemble needs at least one run directory")
    read = [_read_run(Path(r)) for r in runs]
    _, vocab, data, _ = read[0]
    first = f"the first run's ({runs[0]})"
    for r, (_, v, d, _) in zip(runs[1:], read[1:], strict=True):
        if d.stream != data.stream:
            kind = lambda stream: "a --stream run" if stream else "a name-model run"  # noqa: E731
            raise RnnkitError(
                f"{r}: {kind(d.stream)}, but {runs[0]} is {kind(data.stream)}; an ensemble's runs are one kind"
            )
        if v != vocab:
            raise RnnkitError(f"{r}: its vocabulary differs from {first}; an ensemble's runs share one vocabulary")
        if (d.data == SURNAMES) != (data.data == SURNAMES):
            raise RnnkitError(
                f"{r}: {'is' if d.data == SURNAMES else 'is not'} on the bundled surnames (shown in title case), "
                f"unlike {runs[0]}; an ensemble's runs show names one way"
            )
    if data.stream:
        if ngram is not None:
            raise RnnkitError(NGRAM_NAMES_ONLY)
        return _generator(Ensemble([model for model, _, _, _ in read]), vocab, data, list)
    every_item = list(dict.fromkeys(item for _, _, _, member_items in read for item in member_items()))
    by_order = {}  # reverse -> the models that read names that way
    for model, _, d, _ in read:
        by_order.setdefault(d.reverse, []).append(model)
    groups = {
        reverse: _generator(Ensemble(models), vocab, replace(data, reverse=reverse), lambda: every_item)
        for reverse, models in by_order.items()
    }
    if ngram is not None:
        val = _saved_items(RunDir(Path(runs[0])), data)[1]
        groups = {reverse: mix_ngram(g, ngram, every_item, val) for reverse, g in groups.items()}
    if len(groups) == 1:
        return groups[data.reverse]
    from rnnkit.text.mixture import NameMixture

    return NameMixture(list(groups.values()), [len(models) for models in by_order.values()])


def pretrained_path() -> Path:
    from importlib.resources import files

    return Path(str(files("rnnkit").joinpath("data", "pretrained", "surnames")))
