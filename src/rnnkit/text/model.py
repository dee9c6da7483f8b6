"""The character-level language model: Embedding -> recurrent stack -> dropout -> Linear -> softmax.

At every step the network reads the previous character and predicts the next one (the seed's part 1), over a
minibatch of padded names at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit import nn
from rnnkit.errors import RnnkitError


@dataclass(frozen=True)
class ModelConfig:
    cell: str = "lstm"  # rnn | lstm | gru
    hidden_size: int = 512  # units in h (and c)
    num_layers: int = 1
    embedding_size: int = 64
    dropout: float = 0.3  # between layers and before the output layer, while training

    def validate(self) -> None:
        if self.cell not in nn.CELLS:
            raise RnnkitError(f"--cell must be one of {', '.join(nn.CELLS)}, got {self.cell!r}")
        for name in ("hidden_size", "num_layers", "embedding_size"):
            if getattr(self, name) < 1:
                raise RnnkitError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise RnnkitError(f"--dropout must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class CharModelCache:
    ids: np.ndarray  # (T, B)
    rnn: nn.StackCache
    top: np.ndarray  # (T, B, H) the stack's output after dropout, the head's input
    mask: np.ndarray | None  # (T, B, H) the dropout mask before the head, or None


class CharModel:
    """params/grads: flat dicts "embed.W", "rnn.<layer>.<name>", "head.W", "head.b"."""

    def __init__(self, config: ModelConfig, vocab_size: int, seed: int = 0, dtype=np.float32):
        config.validate()
        rng = np.random.default_rng(seed)
        self.config, self.vocab_size, self.dtype = config, vocab_size, np.dtype(dtype)
        self.embed = nn.Embedding(vocab_size, config.embedding_size, rng=rng, dtype=dtype)
        self.rnn = nn.RecurrentStack(
            config.cell, config.embedding_size, config.hidden_size, config.num_layers, config.dropout, rng, dtype
        )
        self.head = nn.Linear(config.hidden_size, vocab_size, rng=rng, dtype=dtype)
        self.params, self.grads = {}, {}
        for prefix, part in (("embed", self.embed), ("rnn", self.rnn), ("head", self.head)):
            self.params.update({f"{prefix}.{k}": v for k, v in part.params.items()})
            self.grads.update({f"{prefix}.{k}": v for k, v in part.grads.items()})

    @property
    def training(self) -> bool:
        return self.rnn.training

    def train(self) -> None:
        self.rnn.train()

    def eval(self) -> None:
        self.rnn.eval()

    def zero_grad(self) -> None:
        for g in self.grads.values():
            g.fill(0)

    def load_params(self, arrays: dict[str, np.ndarray]) -> None:
        """Copy weights in (shapes must match), keeping the arrays the layers hold."""
        if arrays.keys() != self.params.keys():
            raise RnnkitError("weights do not match the model's configuration")
        for k, p in self.params.items():
            if arrays[k].shape != p.shape:
                raise RnnkitError(f"weight {k} has shape {arrays[k].shape}, the model expects {p.shape}")
            p[...] = arrays[k]

    def forward(
        self, ids: np.ndarray, states: list | None = None, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, list, CharModelCache]:
        """ids (T, B) -> logits (T, B, V), the final states of every layer, the cache."""
        x, _ = self.embed.forward(ids)  # (T, B, E)
        hs, states, rnn_cache = self.rnn.forward(x, states, rng)  # (T, B, H)
        mask = None
        if self.training and self.config.dropout > 0:
            mask = nn.dropout_mask(hs.shape, self.config.dropout, rng, self.dtype)
            hs = hs * mask
        logits, _ = self.head.forward(hs)  # (T, B, V)
        return logits, states, CharModelCache(ids, rnn_cache, hs, mask)

    def backward(self, dlogits: np.ndarray, cache: CharModelCache) -> None:
        """Add the gradients of every parameter, given dL/dlogits (T, B, V)."""
        dhs = self.head.backward(dlogits, cache.top)  # (T, B, H)
        if cache.mask is not None:
            dhs *= cache.mask
        dx, _ = self.rnn.backward(dhs, cache.rnn)  # (T, B, E)
        self.embed.backward(dx, cache.ids)

    def step_logits(self, ids: np.ndarray, states: list | None) -> tuple[np.ndarray, list]:
        """One step for generation: ids (B,) -> logits (B, V), carrying the states (never re-running a prefix)."""
        logits, states, _ = self.forward(ids[None, :], states)
        return logits[0], states
