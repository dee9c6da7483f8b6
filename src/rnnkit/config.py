"""Training settings, kept free of numpy so the command line can build its flags from them quickly."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

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
    max_steps: int | None = None  # None: until max_time (the schedule follows the clock), else DEFAULT_STEPS
    max_time: float | None = None  # seconds of training, all sessions of the run; with max_steps, whichever first
    eval_every: int = 500
    patience: int | None = None  # stop after this many evaluations without improvement
    seed: int = 0
    num_samples: int = 5  # samples printed at each evaluation

    def validate(self) -> None:
        """Refuse, naming the flag, any value the optimizer, the schedule or the loop cannot use."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise RnnkitError(f"{flag(f.name)} must be a finite number, got {value}")
        positive = {"lr": self.lr, "batch_size": self.batch_size, "eval_every": self.eval_every}
        for name, value in positive.items():
            if not value > 0:
                raise RnnkitError(f"{flag(name)} must be > 0, got {value}")
        for name in ("max_steps", "clip_norm", "clip_value", "max_time", "patience"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise RnnkitError(f"{flag(name)} must be > 0, got {value}")
        if self.lr > MAX_LR:
            raise RnnkitError(f"--lr must be at most {MAX_LR:g}, got {self.lr:g}")
        if self.max_time is not None and self.max_time > MAX_TIME:
            raise RnnkitError(f"--max-time must be at most {MAX_TIME:g} seconds (a year), got {self.max_time:g}")
        if self.optimizer not in ("adam", "sgd"):
            raise RnnkitError(f"--optimizer must be adam or sgd, got {self.optimizer!r}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise RnnkitError(f"--lr-schedule must be cosine or constant, got {self.lr_schedule!r}")
        for name in ("warmup_steps", "min_lr", "weight_decay", "decay", "num_samples"):
            if getattr(self, name) < 0:
                raise RnnkitError(f"{flag(name)} must be >= 0, got {getattr(self, name)}")
        for name in ("beta_1", "beta_2"):  # Adam divides by 1 - beta^t
            if not 0 <= getattr(self, name) < 1:
                raise RnnkitError(f"{flag(name)} must be in [0, 1), got {getattr(self, name)}")
        if self.lr_schedule == "cosine" and self.min_lr > self.lr:
            raise RnnkitError(f"--min-lr ({self.min_lr:g}) must not exceed --lr ({self.lr:g}): the cosine falls to it")
        if self.optimizer == "adam" and self.weight_decay * self.lr >= 1:  # p <- p (1 - lr wd) flips every weight
            raise RnnkitError(f"--weight-decay times --lr must be < 1, got {self.weight_decay:g} x {self.lr:g}")
        if self.num_samples > MAX_SAMPLES:
            raise RnnkitError(f"--num-samples must be at most {MAX_SAMPLES}, got {self.num_samples}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise RnnkitError(f"--ema-decay must be in [0, 1), got {self.ema_decay}")
        check_seed(self.seed)


def flag(name: str) -> str:
    """The command-line flag of a config field: max_time -> --max-time."""
    return "--" + name.replace("_", "-")


def check_seed(seed: int | None, name: str = "--seed") -> None:
    """A seed is None (fresh entropy) or an integer in 0..2^63 - 1, which every NumPy generator accepts."""
    if seed is not None and not 0 <= seed < 2**63:
        raise RnnkitError(f"{name} must be an integer in 0..2^63-1, got {seed}")


def check_temperature(temperature: float, name: str = "--temperature") -> None:
    """0 (greedy) or a finite temperature in [MIN_TEMPERATURE, MAX_TEMPERATURE]."""
    if temperature == 0:
        return
    if not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE:
        raise RnnkitError(
            f"{name} must be 0 (greedy) or between {MIN_TEMPERATURE:g} and {MAX_TEMPERATURE:g}, got {temperature}"
        )


MAX_TIME = 365 * 24 * 3600.0  # --max-time beyond a year is a typo
MAX_LR = 1e6  # beyond it any step sends these models to NaN at once
MAX_SAMPLES = 1000  # --num-samples printed at each evaluation
# below 0.01 the softmax is the argmax in float64 (use 0); above 100 it is uniform noise
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.01, 100.0


DEFAULT_STEPS = 5_000  # when neither --max-steps nor --max-time is given


def learning_rate(config: TrainConfig, step: int, max_steps: int | None, time_used: float = 0.0) -> float:
    """The rate for step `step` (0-based): linear warm-up, then a cosine from lr down to min_lr.

    The cosine spans max_steps; with max_steps None (a run given only --max-time) it follows the clock
    instead: `time_used` is the share of --max-time spent so far, 0 to 1, so the rate reaches min_lr when the
    time is up however fast the steps turn out to be.
    """
    if config.lr_schedule == "constant":
        return config.lr
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if max_steps is None:
        progress = min(1.0, max(0.0, time_used))
    else:
        span = max(1, max_steps - config.warmup_steps)
        progress = min(1.0, (step - config.warmup_steps) / span)
    return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1.0 + math.cos(math.pi * progress))
