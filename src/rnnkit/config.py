"""Training settings, kept free of numpy so the command line can build its flags from them quickly."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rnnkit.errors import RnnkitError


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = "adam"  # adam | sgd
    lr: float = 3e-3  # peak learning rate
    lr_schedule: str = "cosine"  # cosine | constant
    warmup_steps: int = 100  # linear warm-up from 0 (cosine only)
    min_lr: float = 1e-4  # where the cosine ends
    beta_1: float = 0.9
    beta_2: float = 0.999
    decay: float = 0.0  # Keras-style lr decay, lr / (1 + decay t), the seed's music optimizer
    weight_decay: float = 0.1  # decoupled (AdamW): p <- p - lr * weight_decay * p each step
    ema_decay: float = 0.0  # evaluate and save an exponential moving average of the weights (0: off)
    clip_norm: float | None = 1.0  # clip the global gradient norm (default)
    clip_value: float | None = None  # or clip every entry, the seed's clip
    batch_size: int = 64
    max_steps: int | None = None  # None: fitted to max_time after a short timing, else DEFAULT_STEPS
    max_time: float | None = None  # seconds of training; with max_steps too, whichever comes first
    eval_every: int = 500
    patience: int | None = None  # stop after this many evaluations without improvement
    seed: int = 0
    num_samples: int = 5  # samples printed at each evaluation

    def validate(self) -> None:
        positive = {"lr": self.lr, "batch_size": self.batch_size, "eval_every": self.eval_every}
        for name, value in positive.items():
            if not value > 0:
                raise RnnkitError(f"--{name.replace('_', '-')} must be > 0, got {value}")
        for name in ("max_steps", "clip_norm", "clip_value", "max_time", "patience"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise RnnkitError(f"--{name.replace('_', '-')} must be > 0, got {value}")
        if self.optimizer not in ("adam", "sgd"):
            raise RnnkitError(f"--optimizer must be adam or sgd, got {self.optimizer!r}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise RnnkitError(f"--lr-schedule must be cosine or constant, got {self.lr_schedule!r}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise RnnkitError(f"--ema-decay must be in [0, 1), got {self.ema_decay}")
        if self.warmup_steps < 0 or self.min_lr < 0 or self.weight_decay < 0 or self.decay < 0:
            raise RnnkitError("--warmup-steps, --min-lr, --weight-decay and --decay must be >= 0")


DEFAULT_STEPS = 5_000  # when neither --max-steps nor --max-time is given
CALIBRATION_STEPS = 30  # steps timed to fit max_steps to max_time


def learning_rate(config: TrainConfig, step: int, max_steps: int) -> float:
    """The rate for step `step` (0-based): linear warm-up, then a cosine from lr down to min_lr at max_steps."""
    if config.lr_schedule == "constant":
        return config.lr
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    span = max(1, max_steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1.0 + math.cos(math.pi * progress))
