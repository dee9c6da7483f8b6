"""Training the name model: the Task the shared Trainer runs, and the run directory it fills."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

import rnnkit
from rnnkit.config import TrainConfig
from rnnkit.errors import RnnkitError
from rnnkit.lm.config import ModelConfig
from rnnkit.lm.evaluate import mean_nll
from rnnkit.lm.model import TokenModel
from rnnkit.nn import cross_entropy
from rnnkit.rundir import CONFIG, RunDir
from rnnkit.schema import check_keys, check_value, config_from_dict
from rnnkit.text.config import DataConfig
from rnnkit.text.data import SURNAMES, Batcher, read_items, resolve_items, split_train_val
from rnnkit.text.generate import NameGenerator
from rnnkit.text.vocab import Vocabulary
from rnnkit.training import Trainer

ITEMS = "items.txt.gz"  # the training items, kept with the run for `sample --novel` and --resume
VAL_ITEMS = "val-items.txt.gz"  # the validation items, kept for --resume


class NameTask:
    """Minibatches of padded names through the TokenModel with the masked cross-entropy."""

    def __init__(self, model: TokenModel, generator: NameGenerator, train: list[np.ndarray], val, config: TrainConfig):
        self.model, self.generator = model, generator
        self.params, self.grads = model.params, model.grads
        self.batcher = Batcher(train, config.batch_size, seed=config.seed, sort_chunk=8)
        self.val = val

    def train_step(self, rng: np.random.Generator) -> tuple[float, int]:
        self.model.train()
        self.model.zero_grad()
        inputs, targets, mask = self.batcher.next_batch()  # (T, B) each
        logits, _, cache = self.model.forward(inputs, None, rng)  # (T, B, V)
        loss, dlogits = cross_entropy(logits, targets, mask)
        self.model.backward(dlogits, cache)
        return loss, int(mask.sum())

    def evaluate(self) -> float | None:
        if not self.val:
            return None
        self.model.eval()
        nll, _ = mean_nll(self.model, self.val, 512)
        self.model.train()
        return nll

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
    check_keys(config, {"kind", "rnnkit", "model", "train", "data"}, where)
    check_value(config["rnnkit"], "str", f"{where}: rnnkit")
    for key, cls in (("model", ModelConfig), ("train", TrainConfig), ("data", DataConfig)):
        config_from_dict(cls, config[key], f"{where}: {key}")
    return config


def build(run: RunDir, config: dict[str, Any], vocab: Vocabulary | None = None, items=None):
    """Trainer, generator, vocabulary and training items from a resolved config.

    A fresh run builds its vocabulary from the training items; a resumed run passes the one it saved, and
    the (train, val) items it kept.
    """
    data, model_cfg = DataConfig(**config["data"]), ModelConfig(**config["model"])
    train_cfg = TrainConfig(**config["train"])
    train_items, val_items = items if items is not None else _load_items(data)
    vocab = vocab or Vocabulary.from_items(train_items)
    unknown = set().union(*(vocab.unknown_chars(v) for v in val_items)) if val_items else set()
    if unknown:
        chars = " ".join(repr(c) for c in sorted(unknown))
        raise RnnkitError(f"the validation data has characters the training data lacks: {chars}")
    model = TokenModel(model_cfg, len(vocab), seed=train_cfg.seed)
    generator = NameGenerator(model, vocab, title_case=data.data == SURNAMES, training_items=train_items)
    encode = lambda items: [vocab.encode(s) for s in items]  # noqa: E731
    task = NameTask(model, generator, encode(train_items), encode(val_items), train_cfg)
    trainer = Trainer(train_cfg, task, run)
    return trainer, generator, vocab, train_items


def train(
    out: str | Path,
    model: ModelConfig,
    train_config: TrainConfig,
    data: DataConfig,
    force: bool = False,
    progress: bool = True,
    log=print,
) -> dict[str, Any]:
    """Train a new name model into the run directory `out`; return the Trainer's summary."""
    model.validate()
    train_config.validate()
    run = RunDir(out)
    config = {
        "kind": "text",
        "rnnkit": rnnkit.__version__,
        "model": asdict(model),
        "train": asdict(train_config),
        "data": asdict(data),
    }
    items = _load_items(data)
    trainer, _, vocab, _ = build(run, config, items=items)  # validates the data before anything is written
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
) -> dict[str, Any]:
    """Continue the run in `out` from its last checkpoint, on the data it kept (see Trainer.extend for
    max_steps and max_time, which carry it beyond its saved end)."""
    run = RunDir(out)
    with run.open_for_training():  # locked while training
        config = read_run_config(run)
        items = _saved_items(run, DataConfig(**config["data"]))
        trainer, _, _, _ = build(run, config, run.parse_vocab(Vocabulary.from_json), items)
        trainer.resume()
        if max_steps is not None or max_time is not None:
            trainer.extend(max_steps, max_time)
            config["train"]["max_steps"] = trainer.max_steps
            run.write_config(config)
        log(f"resuming {run} at step {trainer.step}")
        return _run(trainer, config, log, progress)


def _run(trainer: Trainer, config: dict[str, Any], log, progress: bool) -> dict[str, Any]:
    import json

    log(json.dumps(config, indent=2))
    trainer.progress = progress
    trainer.log = log
    summary = trainer.train()
    trainer.run.plot(title=f"{config['model']['cell']} {config['model']['hidden_size']} on {config['data']['data']}")
    return summary


def load(run: str | Path | None = None) -> NameGenerator:
    """The NameGenerator of a run directory (its best weights), or of the pretrained surnames model."""
    path = Path(run) if run is not None else pretrained_path()
    rd = RunDir(path)
    config = read_run_config(rd)
    model_cfg, data = ModelConfig(**config["model"]), DataConfig(**config["data"])
    vocab = rd.parse_vocab(Vocabulary.from_json)
    arrays, _ = rd.load_model()
    model = TokenModel(model_cfg, len(vocab))
    model.load_params(arrays)
    if data.data == SURNAMES:
        items = resolve_items(SURNAMES)
    elif (rd.path / ITEMS).exists():
        items = rd.read_lines(ITEMS)
    else:
        items = []
    return NameGenerator(model, vocab, title_case=data.data == SURNAMES, training_items=items)


def pretrained_path() -> Path:
    from importlib.resources import files

    return Path(str(files("rnnkit").joinpath("data", "pretrained", "surnames")))
