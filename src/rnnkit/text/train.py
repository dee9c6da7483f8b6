"""Training the name model: the Task the shared Trainer runs, and the run directory it fills."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

import rnnkit
from rnnkit.config import TrainConfig
from rnnkit.engines.base import make_engine, model_dtype
from rnnkit.engines.batch import Batch
from rnnkit.engines.config import EngineConfig, resolve_engine
from rnnkit.errors import RnnkitError
from rnnkit.lm.batches import iter_eval_batches
from rnnkit.lm.config import ModelConfig
from rnnkit.lm.model import TokenModel
from rnnkit.rundir import RunDir
from rnnkit.text.config import DataConfig
from rnnkit.text.data import SURNAMES, Batcher, read_items, resolve_items, split_train_val
from rnnkit.text.generate import NameGenerator
from rnnkit.text.vocab import Vocabulary
from rnnkit.training import Trainer

ITEMS = "items.txt.gz"  # the training items, kept with the run for `sample --novel`


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
    return split_train_val(items, data.val_fraction, data.max_val, seed=0)


def build(run: RunDir, config: dict[str, Any], vocab: Vocabulary | None = None):
    """Trainer, generator, vocabulary and training items from a resolved config.

    A fresh run builds its vocabulary from the training items; a resumed run passes the one it saved.
    """
    data, model_cfg = DataConfig(**config["data"]), ModelConfig(**config["model"])
    train_cfg = TrainConfig(**config["train"])
    engine_cfg = resolve_engine(config.get("engine"))
    train_items, val_items = _load_items(data)
    vocab = vocab or Vocabulary.from_items(train_items)
    unknown = set().union(*(vocab.unknown_chars(v) for v in val_items)) if val_items else set()
    if unknown:
        chars = " ".join(repr(c) for c in sorted(unknown))
        raise RnnkitError(f"the validation data has characters the training data lacks: {chars}")
    model = TokenModel(model_cfg, len(vocab), seed=train_cfg.seed, dtype=model_dtype(engine_cfg))
    generator = NameGenerator(model, vocab, title_case=data.data == SURNAMES, training_items=train_items)
    encode = lambda items: [vocab.encode(s) for s in items]  # noqa: E731
    engine = make_engine(engine_cfg, model, train_cfg)
    task = NameTask(model, generator, encode(train_items), encode(val_items), train_cfg, engine.world.size)
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
    run = RunDir(out)
    config = {
        "kind": "text",
        "rnnkit": rnnkit.__version__,
        "model": asdict(model),
        "train": asdict(train_config),
        "data": asdict(data),
        "engine": asdict(engine),
    }
    trainer, _, vocab, train_items = build(run, config)  # validates the data before anything is written
    config["engine"]["world_size"] = trainer.engine.world.size  # --batch-size rows on each of them
    if not trainer.master:  # rank 0 alone writes the run directory
        return _run(trainer, config, log, progress)
    run.create(force=force)
    run.write_vocab(vocab.to_json())
    run.write_config(config)
    if data.data != SURNAMES:
        (run.path / ITEMS).write_bytes(gzip.compress("\n".join(train_items).encode("utf-8"), mtime=0))
    return _run(trainer, config, log, progress)


def resume(
    out: str | Path, max_time: float | None = None, progress: bool = True, log=print, engine: dict | None = None
) -> dict[str, Any]:
    """Continue the run in `out` from its last checkpoint (optionally with a new --max-time, or on another
    engine: `engine` holds the --engine, --device, --precision flags given)."""
    run = RunDir(out)
    config = run.read_config()
    if config.get("kind") != "text":
        raise RnnkitError(f"{run}: not a name-model run")
    if max_time is not None:
        config["train"]["max_time"] = max_time
    stored = config.get("engine", {})
    config["engine"] = {**stored, **asdict(resolve_engine(stored, engine))}
    trainer, _, _, _ = build(run, config, Vocabulary.from_json(run.read_vocab()))
    trainer.resume()
    if trainer.master:
        log(f"resuming {run} at step {trainer.step}")
        if config["engine"] != stored:  # resumed on another engine, device or precision: the run records it
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


def load(run: str | Path | None = None) -> NameGenerator:
    """The NameGenerator of a run directory (its best weights), or of the pretrained surnames model."""
    path = Path(run) if run is not None else pretrained_path()
    rd = RunDir(path)
    config = rd.read_config()
    if config.get("kind") != "text":
        raise RnnkitError(f"{rd}: not a name-model run")
    try:
        model_cfg, data = ModelConfig(**config["model"]), DataConfig(**config["data"])
        vocab = Vocabulary.from_json(rd.read_vocab())
    except (KeyError, TypeError, ValueError) as e:
        raise RnnkitError(f"{rd}: config.json or vocab.json is from an incompatible version ({e})") from None
    arrays, _ = rd.load_model()
    model = TokenModel(model_cfg, len(vocab))
    model.load_params(arrays)
    if data.data == SURNAMES:
        items = resolve_items(SURNAMES)
    elif (rd.path / ITEMS).exists():
        items = gzip.decompress((rd.path / ITEMS).read_bytes()).decode("utf-8").split("\n")
    else:
        items = []
    return NameGenerator(model, vocab, title_case=data.data == SURNAMES, training_items=items)


def pretrained_path() -> Path:
    from importlib.resources import files

    return Path(str(files("rnnkit").joinpath("data", "pretrained", "surnames")))
