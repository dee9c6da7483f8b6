"""The melody model's settings and its two presets, kept free of numpy so the command line starts quickly.

The melody model is the core's token model (`rnnkit.lm.model.TokenModel`), so its ModelConfig is the core's with
other defaults. `preset_configs` resolves a preset plus explicit flags into the two configs a run saves.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from rnnkit.config import TrainConfig
from rnnkit.errors import RnnkitError
from rnnkit.lm import config as lm_config

# The default temperature of a model that reads chords. Measured on the bundled one over the 35 held-out
# chorales' progressions (README, "Melodies over chords"): at 1 its on-beat chord-tone share is 0.045 below
# Bach's, at 0.8 within 0.03 of it (3 seeds) with every other target met; 0.85 misses on one seed of 3.
CHORD_TEMPERATURE = 0.8


@dataclass(frozen=True)
class ModelConfig(lm_config.ModelConfig):
    """The melody model's shape; the defaults are the `default` preset's."""

    cell: str = "lstm"  # rnn | lstm | gru
    hidden_size: int = 256  # the seed's n_a (64 in the seed preset)
    num_layers: int = 1
    embedding_size: int = 32  # size of the learned token vectors
    dropout: float = 0.3  # before the output layer (and between layers) while training
    chords: bool = False  # also read the chord under the next event at every step (`train --chords`)


# The two presets. `seed` is the original djmodel: LSTM(64), Adam(lr 0.01, 0.9, 0.999, decay 0.01), m = 60
# windows per step, a constant rate and no clipping. `default` is what measured best on the held-out chorales
# (see benchmarks/music_eval.py and the README); explicit flags override either.
PRESETS: dict[str, dict[str, dict]] = {
    "seed": {
        "model": {"cell": "lstm", "hidden_size": 64, "num_layers": 1, "embedding_size": 32, "dropout": 0.0},
        "train": {
            "optimizer": "adam",
            "lr": 0.01,
            "beta_1": 0.9,
            "beta_2": 0.999,
            "decay": 0.01,
            "lr_schedule": "constant",
            "warmup_steps": 0,
            "clip_norm": None,
            "clip_value": None,
            "batch_size": 60,
            "weight_decay": 0.0,
            "num_samples": 2,
        },
    },
    "default": {
        "model": {},  # ModelConfig's defaults
        "train": {
            "lr": 3e-3,
            "lr_schedule": "cosine",
            "warmup_steps": 50,
            "min_lr": 1e-4,
            "clip_norm": 1.0,
            "batch_size": 64,
            "weight_decay": 0.0,
            "eval_every": 100,
            "num_samples": 2,
        },
    },
}
DEFAULT_EPOCHS = {"seed": 100, "default": 100}  # the seed fit its 60 windows for 100 epochs


def preset_configs(
    preset: str, model: dict | None = None, train: dict | None = None
) -> tuple[ModelConfig, TrainConfig]:
    """The preset's ModelConfig and TrainConfig with the given fields (those not None) put over it."""
    if preset not in PRESETS:
        raise RnnkitError(f"--preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    chosen = PRESETS[preset]
    m = {**chosen["model"], **{k: v for k, v in (model or {}).items() if v is not None}}
    t = {**chosen["train"], **{k: v for k, v in (train or {}).items() if v is not None}}
    unknown = (m.keys() - {f.name for f in fields(ModelConfig)}) | (t.keys() - {f.name for f in fields(TrainConfig)})
    if unknown:
        raise RnnkitError(f"unknown settings: {', '.join(sorted(unknown))}")
    return ModelConfig(**m), TrainConfig(**t)
