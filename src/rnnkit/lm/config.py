"""The token model's shape, kept free of numpy so the command line can build its flags from it quickly."""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.errors import RnnkitError

CELLS = ("rnn", "lstm", "gru")  # the recurrent layers rnnkit.nn provides (rnnkit.nn.CELLS)
# settings added after runs were first written: a config.json without them takes their defaults (off)
ADDED_LATER = frozenset({"locked_dropout", "input_dropout", "embed_dropout", "weight_drop", "ema_decay"})


@dataclass(frozen=True)
class ModelConfig:
    """The shape of the network: Embedding (embedding_size) -> num_layers x cell (hidden_size) -> Linear."""

    cell: str = "lstm"  # rnn | lstm | gru
    hidden_size: int = 512  # units in h (and c)
    num_layers: int = 1
    embedding_size: int = 64
    dropout: float = 0.3  # between layers and before the output layer, while training
    locked_dropout: bool = False  # one dropout mask per sequence, shared over time (variational dropout)
    input_dropout: float = 0.0  # locked dropout on the embedding vectors, the first layer's inputs
    embed_dropout: float = 0.0  # drop whole characters' embedding rows, one choice per batch
    weight_drop: float = 0.0  # dropout on each layer's W_hh, one mask per batch for the whole sequence

    def validate(self) -> None:
        if self.cell not in CELLS:
            raise RnnkitError(f"--cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        for name in ("hidden_size", "num_layers", "embedding_size"):
            if getattr(self, name) < 1:
                raise RnnkitError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        for name in ("dropout", "input_dropout", "embed_dropout", "weight_drop"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise RnnkitError(f"--{name.replace('_', '-')} must be in [0, 1), got {getattr(self, name)}")
