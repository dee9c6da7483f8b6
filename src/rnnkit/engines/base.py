"""The engine interface the Trainer drives, and the factory that picks an engine (see rnnkit.engines)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import numpy as np

from rnnkit.config import TrainConfig
from rnnkit.engines.batch import Batch
from rnnkit.engines.config import TORCH_MISSING, EngineConfig
from rnnkit.engines.distributed import World, world_from_env
from rnnkit.errors import RnnkitError

Arrays = dict[str, np.ndarray]


class Engine(Protocol):
    """What the Trainer drives. `step` is the Trainer's step count (0-based), which seeds the torch dropout."""

    world: World  # this process's rank among the data-parallel processes (one process: rank 0 of 1)

    def forward_backward(self, batch: Batch, step: int) -> tuple[float, int]:
        """Forward and backward this rank's share of a global batch; the global mean loss and target count."""

    def update(self, lr: float) -> None:
        """Clip the gradients and take one optimizer step at learning rate lr (the schedule's, before Keras decay)."""

    def evaluate(self, batches: Iterable[Batch]) -> float | None:
        """Mean loss per target over every batch (sharded over ranks, all-reduced); None without batches."""

    def export_params(self) -> Arrays:
        """The weights as the NumPy model's arrays, under its names ("embed.W", "rnn.0.W_ih", ...)."""

    def import_params(self, arrays: Arrays) -> None: ...

    def export_optimizer(self) -> Arrays:
        """The optimizer's state as rnnkit.optim writes it: "t", "m.<name>", "v.<name>" (Adam), nothing (SGD)."""

    def import_optimizer(self, arrays: Arrays) -> None: ...

    def rng_state(self) -> dict: ...

    def load_rng_state(self, state: dict) -> None: ...

    def carried_state(self) -> Arrays:
        """A stream's carried state, "h.<layer>" and "c.<layer>" (B, H) each; empty when nothing is carried."""

    def load_carried_state(self, arrays: Arrays) -> None: ...

    def sync_model(self) -> None:
        """Copy the weights into the NumPy model, which samples during training."""

    def any_rank(self, flag: bool) -> bool:
        """True on every rank when `flag` is True on any (so all ranks stop together)."""

    def from_master(self, value: float) -> float:
        """Rank 0's value (an int or a float, returned as the same type), on every rank."""

    def describe(self) -> str:
        """One line for the log: the engine, its device and precision, the processes."""

    def close(self, wait: bool = True) -> None:
        """Leave the process group. wait: first wait until every rank is done (a normal end), so no rank tears
        its connections down under another; False when this rank leaves on an error, which the others may not
        share (they would wait for it in a collective that never comes)."""


def make_engine(config: EngineConfig, model, train: TrainConfig, world: World | None = None) -> Engine:
    """The engine `config` names, holding `model`'s current weights. torch is imported only for --engine torch."""
    config.validate()
    world = world_from_env() if world is None else world
    if config.engine == "numpy":
        if world.size > 1:
            raise RnnkitError(f"torchrun started {world.size} processes, but only --engine torch trains across them")
        from rnnkit.engines.numpy_engine import NumpyEngine

        return NumpyEngine(model, train)
    m = model.config
    regularisers = {
        "--weight-drop": m.weight_drop,
        "--input-dropout": m.input_dropout,
        "--embed-dropout": m.embed_dropout,
    }
    given = [flag for flag, value in regularisers.items() if value] + (["--locked-dropout"] if m.locked_dropout else [])
    if given:
        raise RnnkitError(f"{', '.join(given)}: the NumPy engine's regularisers; --engine torch does not have them yet")
    try:
        import torch  # noqa: F401
    except ImportError:
        raise RnnkitError(TORCH_MISSING) from None
    from rnnkit.engines.torch_engine import TorchEngine

    return TorchEngine(model, train, config, world)


def model_dtype(config: EngineConfig) -> type:
    """The NumPy model's dtype: float64 for --precision fp64, else float32."""
    return np.float64 if config.precision == "fp64" else np.float32
