"""A run directory: everything needed to continue training or to sample, in plain files.

    config.json               the resolved configuration (also printed at the start of training)
    vocab.json                the vocabulary the model was trained with
    model.safetensors         the best weights so far (what sample, eval and score load)
    checkpoint.safetensors    the last checkpoint: weights, optimizer state, step, RNG and data-order state
    metrics.jsonl             one JSON object per evaluation
    loss.png                  train and validation loss curves

Each file is written atomically; a killed process leaves the last good version of each.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.checkpoint import load_arrays, read_json, save_arrays, write_bytes_atomic, write_json_atomic
from rnnkit.errors import RnnkitError

CONFIG, VOCAB, MODEL, CHECKPOINT, METRICS, PLOT = (
    "config.json",
    "vocab.json",
    "model.safetensors",
    "checkpoint.safetensors",
    "metrics.jsonl",
    "loss.png",
)


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    # -- opening ---------------------------------------------------------------------------------------------
    def is_run(self) -> bool:
        return (self.path / CONFIG).exists()

    def create(self, force: bool = False) -> None:
        """Make the folder for a new run; refuse one that holds another run unless force (then start afresh)."""
        if self.path.exists() and not self.path.is_dir():
            raise RnnkitError(f"--out {self.path}: exists and is not a directory")
        if self.is_run() and not force:
            raise RnnkitError(f"--out {self.path}: holds another run; use --resume {self.path} or --force")
        if self.path.is_dir() and any(self.path.iterdir()) and not self.is_run() and not force:
            raise RnnkitError(f"--out {self.path}: is a non-empty directory that is not a run; use --force")
        self.path.mkdir(parents=True, exist_ok=True)
        if force:
            for name in (CONFIG, VOCAB, MODEL, CHECKPOINT, METRICS, PLOT):
                (self.path / name).unlink(missing_ok=True)

    def require(self, *names: str) -> None:
        if not self.path.is_dir():
            raise RnnkitError(f"{self.path}: no such run directory")
        missing = [n for n in names if not (self.path / n).exists()]
        if missing:
            raise RnnkitError(f"{self.path}: not a complete run (missing {', '.join(missing)})")

    # -- json ------------------------------------------------------------------------------------------------
    def write_config(self, config: dict[str, Any]) -> None:
        write_json_atomic(self.path / CONFIG, config)

    def read_config(self) -> dict[str, Any]:
        self.require(CONFIG)
        return read_json(self.path / CONFIG)

    def write_vocab(self, vocab: dict[str, Any]) -> None:
        write_json_atomic(self.path / VOCAB, vocab)

    def read_vocab(self) -> dict[str, Any]:
        self.require(VOCAB)
        return read_json(self.path / VOCAB)

    # -- arrays ----------------------------------------------------------------------------------------------
    def save_model(self, params: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        save_arrays(self.path / MODEL, params, meta)

    def load_model(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self.require(MODEL)
        return load_arrays(self.path / MODEL)

    def save_checkpoint(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        save_arrays(self.path / CHECKPOINT, arrays, meta)

    def load_checkpoint(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self.require(CONFIG, CHECKPOINT)
        return load_arrays(self.path / CHECKPOINT)

    # -- metrics ---------------------------------------------------------------------------------------------
    def append_metrics(self, row: dict[str, Any]) -> None:
        with open(self.path / METRICS, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        path = self.path / METRICS
        if not path.exists():
            return []
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break  # a line cut short by a kill: everything before it is good
        return rows

    def truncate_metrics(self, step: int) -> None:
        """Drop rows written after the checkpoint at `step` (a resumed run writes them again)."""
        rows = [r for r in self.read_metrics() if r["step"] <= step]
        write_bytes_atomic(self.path / METRICS, "".join(json.dumps(r) + "\n" for r in rows).encode())

    def plot(self, title: str = "") -> Path:
        """Draw train and validation loss against step into loss.png."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = self.read_metrics()
        fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
        steps = [r["step"] for r in rows]
        ax.plot(steps, [r["train_loss"] for r in rows], label="train", marker=".")
        val = [(r["step"], r["val_loss"]) for r in rows if r.get("val_loss") is not None]
        if val:
            ax.plot(*zip(*val, strict=True), label="validation", marker=".")
        ax.set_xlabel("step")
        ax.set_ylabel("loss (nats per token)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        tmp = self.path / f".{PLOT}.tmp.png"
        fig.savefig(tmp)
        plt.close(fig)
        tmp.replace(self.path / PLOT)
        return self.path / PLOT
