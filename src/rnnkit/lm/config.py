"""The token model's shape, kept free of numpy so the command line can build its flags from it quickly."""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.errors import RnnkitError

CELLS = ("rnn", "lstm", "gru")  # the recurrent layers rnnkit.nn provides (rnnkit.nn.CELLS)


@dataclass(frozen=True)
class ModelConfig:
    """The shape of the network: Embedding (embedding_size) -> num_layers x cell (hidden_size) -> Linear."""

    cell: str = "lstm"  # rnn | lstm | gru
    hidden_size: int = 512  # units in h (and c)
    num_layers: int = 1
    embedding_size: int = 64
    dropout: float = 0.3  # between layers and before the output layer, while training

    def validate(self) -> None:
        if self.cell not in CELLS:
            raise RnnkitError(f"--cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        for name in ("hidden_size", "num_layers", "embedding_size"):
            if getattr(self, name) < 1:
                raise RnnkitError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise RnnkitError(f"--dropout must be in [0, 1), got {self.dropout}")
