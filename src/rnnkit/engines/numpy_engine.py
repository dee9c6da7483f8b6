"""The NumPy engine: rnnkit's own layers with their hand-written backward passes, and rnnkit.optim."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from rnnkit import nn, optim
from rnnkit.config import TrainConfig
from rnnkit.engines.batch import Batch
from rnnkit.engines.distributed import World

Arrays = dict[str, np.ndarray]


def make_optimizer(config: TrainConfig, params: Arrays):
    if config.optimizer == "sgd":
        return optim.SGD(params, lr=config.lr)
    return optim.Adam(
        params,
        lr=config.lr,
        beta_1=config.beta_1,
        beta_2=config.beta_2,
        decay=config.decay,
        weight_decay=config.weight_decay,
    )


def state_arrays(states: list | None) -> Arrays:
    """A stack's states (h, or (h, c) per layer) as flat arrays "h.<layer>", "c.<layer>"."""
    out: Arrays = {}
    for l, s in enumerate(states or []):
        h, c = s if isinstance(s, tuple) else (s, None)
        out[f"h.{l}"] = h
        if c is not None:
            out[f"c.{l}"] = c
    return out


def arrays_state(arrays: Arrays) -> list | None:
    """The inverse of `state_arrays`."""
    layers = sorted(int(k[2:]) for k in arrays if k.startswith("h."))
    if not layers:
        return None
    return [(arrays[f"h.{l}"], arrays[f"c.{l}"]) if f"c.{l}" in arrays else arrays[f"h.{l}"] for l in layers]


class NumpyEngine:
    """The model's own params and grads, updated in place: the weights the NumPy model samples with."""

    world = World()

    def __init__(self, model, config: TrainConfig):
        self.model, self.config = model, config
        self.opt = make_optimizer(config, model.params)
        self.rng = np.random.default_rng([config.seed, 1])  # dropout masks
        self.carry: list | None = None  # the state a stream's last batch left

    def forward_backward(self, batch: Batch, step: int) -> tuple[float, int]:
        model = self.model
        model.train()
        model.zero_grad()
        state = self.carry if batch.carry and not batch.reset else None
        logits, final, cache = model.forward(batch.inputs, state, self.rng, batch.context)  # (T, B, V)
        loss, dlogits = nn.cross_entropy(logits, batch.targets, batch.mask)
        model.backward(dlogits, cache)
        if batch.carry:
            self.carry = final  # arrays, so nothing flows back through them: the gradient stops here
        return loss, batch.targets_counted

    def update(self, lr: float) -> None:
        c = self.config
        if c.clip_value is not None:
            optim.clip_grad_value(self.model.grads, c.clip_value)
        elif c.clip_norm is not None:
            optim.clip_grad_norm(self.model.grads, c.clip_norm)
        self.opt.lr = lr
        self.opt.step(self.model.grads)

    def evaluate(self, batches: Iterable[Batch]) -> float | None:
        model = self.model
        model.eval()
        total, count, state = 0.0, 0, None
        for batch in batches:
            start = state if batch.carry and not batch.reset else None
            logits, final, _ = model.forward(batch.inputs, start, None, batch.context)  # (T, B, V)
            state = final
            loss, _ = nn.cross_entropy(logits.astype(np.float64), batch.targets, batch.mask)
            total += loss * batch.targets_counted
            count += batch.targets_counted
        model.train()
        return total / count if count else None

    def export_params(self) -> Arrays:
        return dict(self.model.params)

    def import_params(self, arrays: Arrays) -> None:
        self.model.load_params(arrays)

    def export_optimizer(self) -> Arrays:
        return self.opt.state_dict()

    def import_optimizer(self, arrays: Arrays) -> None:
        self.opt.load_state_dict(arrays)

    def rng_state(self) -> dict:
        return self.rng.bit_generator.state

    def load_rng_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state

    def carried_state(self) -> Arrays:
        return state_arrays(self.carry)

    def load_carried_state(self, arrays: Arrays) -> None:
        dtype = self.model.dtype
        self.carry = arrays_state({k: np.asarray(v, dtype=dtype) for k, v in arrays.items()})

    def sync_model(self) -> None:
        pass  # the model's arrays are the weights

    def any_rank(self, flag: bool) -> bool:
        return flag

    def from_master(self, value: float) -> float:
        return value

    def describe(self) -> str:
        return f"engine: numpy ({self.model.dtype}) on the CPU"

    def close(self, wait: bool = True) -> None:
        pass
