"""A run directory: everything needed to continue training or to sample, in plain files.

    .rnnkit.lock              held (flock) by the one process training or resuming the run
    config.json               the resolved configuration (also printed at the start of training)
    vocab.json                the vocabulary the model was trained with
    model.safetensors         the best weights so far (what sample, eval and score load)
    checkpoint.safetensors    the last checkpoint: weights, optimizer state, step, RNG and data-order state
    metrics.jsonl             one JSON object per evaluation
    loss.png                  train and validation loss curves
    items.txt.gz, ...         the application's copy of its training data (what --resume reads)

Each file is written atomically; a killed process leaves the last good version of each. A new run writes its
first checkpoint and weights before config.json, so a folder is a run (samples, resumes) once config.json is
there, and a folder with rnnkit's lock but no config.json is a start that was killed: training into it again
needs no --force.
"""

from __future__ import annotations

import errno
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.checkpoint import load_arrays, read_json, save_arrays, write_bytes_atomic, write_json_atomic
from rnnkit.errors import RnnkitError
from rnnkit.outputs import refuse_package_path

CONFIG, VOCAB, MODEL, CHECKPOINT, METRICS, PLOT = (
    "config.json",
    "vocab.json",
    "model.safetensors",
    "checkpoint.safetensors",
    "metrics.jsonl",
    "loss.png",
)
LOCK = ".rnnkit.lock"
KINDS = ("text", "music")  # config.json's "kind": what marks a folder as one of rnnkit's runs
# everything rnnkit may write into a run directory: all that --force removes (the applications add theirs)
OWN_FILES = {CONFIG, VOCAB, MODEL, CHECKPOINT, METRICS, PLOT, "items.txt.gz", "val-items.txt.gz", "melodies.npz"}


def _is_own_temp(name: str) -> bool:
    """A temporary file of an atomic write (.NAME.XXXX.tmp) of one of rnnkit's run files."""
    return name.startswith(".") and name.endswith(".tmp") and any(name.startswith(f".{own}.") for own in OWN_FILES)


class RunLock:
    """An exclusive flock on DIR/.rnnkit.lock; the kernel drops it when the process ends, however it ends."""

    def __init__(self, run: RunDir):
        import fcntl

        self.path = run.path / LOCK
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(self.fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RnnkitError(
                    f"{run}: another rnnkit process is training this run (it holds {self.path}); "
                    "wait for it to finish or choose another folder"
                ) from None
            raise
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode())  # for people: who holds it (the flock is what counts)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing drops the flock; the file stays (deleting it would race a new locker)
            self.fd = -1

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class RunDir:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    # -- what a folder holds ---------------------------------------------------------------------------------
    def is_run(self) -> bool:
        """True when config.json is one rnnkit wrote (a JSON object with rnnkit's "kind" and "rnnkit" keys)."""
        try:
            config = json.loads((self.path / CONFIG).read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return False
        return isinstance(config, dict) and config.get("kind") in KINDS and "rnnkit" in config

    def is_unfinished(self) -> bool:
        """A start that was killed: rnnkit's lock and files, no config.json yet."""
        return (self.path / LOCK).exists() and not (self.path / CONFIG).exists() and self._only_own_files()

    def _only_own_files(self) -> bool:
        return all(p.name in OWN_FILES or p.name == LOCK or _is_own_temp(p.name) for p in self.path.iterdir())

    def _remove_own_files(self) -> None:
        for p in self.path.iterdir():
            if (p.name in OWN_FILES or _is_own_temp(p.name)) and not p.is_dir():
                p.unlink(missing_ok=True)

    def remove_temp_files(self) -> None:
        """Delete what an atomic write killed halfway left (.NAME.XXXX.tmp); call it holding the lock."""
        for p in self.path.iterdir():
            if _is_own_temp(p.name) and not p.is_dir():
                p.unlink(missing_ok=True)

    # -- opening ---------------------------------------------------------------------------------------------
    def create(self, force: bool = False) -> RunLock:
        """Make the folder for a new run and lock it; return the lock (hold it while training).

        An empty or missing folder, or an unfinished start, is used as it is; one that holds an rnnkit run
        only with force (which removes rnnkit's files and nothing else); any other non-empty folder never.
        """
        refuse_package_path(self.path, "--out")
        if self.path.exists() and not self.path.is_dir():
            raise RnnkitError(f"--out {self.path}: exists and is not a directory")
        self._check_replaceable(force)  # before anything is written into a folder that may be the user's
        self.path.mkdir(parents=True, exist_ok=True)
        lock = RunLock(self)
        try:
            self._check_replaceable(force)  # again, now that no other rnnkit process can change it
            self._remove_own_files()  # an unfinished start, or the old run that force replaces
        except BaseException:
            lock.release()
            raise
        return lock

    def _check_replaceable(self, force: bool) -> None:
        if not self.path.is_dir() or not any(self.path.iterdir()) or self.is_unfinished():
            return
        damaged = (self.path / LOCK).exists() and self._only_own_files()  # rnnkit's, config.json unreadable
        if self.is_run() or damaged:
            if not force:
                raise RnnkitError(f"--out {self.path}: holds another run; use --resume {self.path} or --force")
            return
        raise RnnkitError(
            f"--out {self.path}: is a folder that is not empty and holds no rnnkit run; choose an empty or new folder"
        )

    def open_for_training(self) -> RunLock:
        """Lock an existing run to resume it and clean up what a crash left; return the lock."""
        refuse_package_path(self.path, "--resume")
        self.require(CONFIG)  # before the lock file is made: a folder that holds no run is left as it is
        if not self.is_run():
            self.read_config()  # says what is wrong with it, if anything is
            raise RnnkitError(f"{self.path / CONFIG}: not written by rnnkit (no 'kind' and 'rnnkit' keys)")
        lock = RunLock(self)
        try:
            self.remove_temp_files()
        except BaseException:
            lock.release()
            raise
        return lock

    def require_run(self) -> None:
        if not self.path.is_dir():
            raise RnnkitError(f"{self.path}: no such run directory")
        if not (self.path / CONFIG).exists() and (self.path / LOCK).exists():
            raise RnnkitError(
                f"{self.path}: an unfinished run (stopped before its first checkpoint was complete); "
                f"train it again with --out {self.path}"
            )

    def require(self, *names: str) -> None:
        self.require_run()
        missing = [n for n in names if not (self.path / n).exists()]
        if missing:
            raise RnnkitError(f"{self.path}: not a complete run (missing {', '.join(missing)})")

    # -- json ------------------------------------------------------------------------------------------------
    def write_config(self, config: dict[str, Any]) -> None:
        write_json_atomic(self.path / CONFIG, config)

    def read_config(self) -> dict[str, Any]:
        self.require(CONFIG)
        config = read_json(self.path / CONFIG)
        if not isinstance(config, dict):
            raise RnnkitError(f"{self.path / CONFIG}: expected a JSON object, got {type(config).__name__}")
        return config

    def write_vocab(self, vocab: dict[str, Any]) -> None:
        write_json_atomic(self.path / VOCAB, vocab)

    def read_vocab(self) -> dict[str, Any]:
        self.require(VOCAB)
        return read_json(self.path / VOCAB)

    def parse_vocab(self, from_json):
        """The vocabulary object `from_json` makes of vocab.json, any failure one error naming the file."""
        d = self.read_vocab()
        try:
            return from_json(d)
        except (RnnkitError, KeyError, TypeError, ValueError, AttributeError) as e:
            raise RnnkitError(f"{self.path / VOCAB}: {e}") from None

    # -- plain data ------------------------------------------------------------------------------------------
    def write_lines(self, name: str, lines: list[str]) -> None:
        """A gzip file of lines (a copy of the training data), atomically."""
        import gzip

        write_bytes_atomic(self.path / name, gzip.compress("\n".join(lines).encode("utf-8"), mtime=0))

    def read_lines(self, name: str) -> list[str]:
        import gzip
        import zlib

        path = self.path / name
        try:
            text = gzip.decompress(path.read_bytes()).decode("utf-8")
        except FileNotFoundError:
            raise RnnkitError(f"{path}: missing") from None
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
            raise RnnkitError(f"{path}: not a readable gzip file of UTF-8 lines ({e.__class__.__name__})") from None
        return text.split("\n") if text else []

    # -- arrays ----------------------------------------------------------------------------------------------
    def save_model(self, params: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        save_arrays(self.path / MODEL, params, meta)

    def load_model(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self.require(MODEL)
        return load_arrays(self.path / MODEL, weights=True)

    def save_checkpoint(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        save_arrays(self.path / CHECKPOINT, arrays, meta)

    def load_checkpoint(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self.require(CONFIG, CHECKPOINT)
        return load_arrays(self.path / CHECKPOINT)

    # -- metrics ---------------------------------------------------------------------------------------------
    def append_metrics(self, row: dict[str, Any]) -> None:
        with open(self.path / METRICS, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")

    def read_metrics(self, warn=None) -> list[dict[str, Any]]:
        """The rows of metrics.jsonl; a line that is no row (cut short by a kill, edited) is skipped and
        reported to `warn` by its number, and the rows after it are kept."""
        path = self.path / METRICS
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return []
        rows, bad = [], []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (ValueError, RecursionError):
                row = None
            if _is_row(row):
                rows.append(row)
            else:
                bad.append(number)
        if bad and warn is not None:
            lines = ", ".join(map(str, bad[:10])) + (" ..." if len(bad) > 10 else "")
            warn(f"warning: {path}: skipped line(s) {lines}, not metrics rows")
        return rows

    def truncate_metrics(self, step: int, warn=None) -> None:
        """Keep the rows up to the checkpoint at `step` (a resumed run writes the later ones again)."""
        rows = [r for r in self.read_metrics(warn) if r["step"] <= step]
        write_bytes_atomic(self.path / METRICS, "".join(json.dumps(r) + "\n" for r in rows).encode())

    def plot(self, title: str = "") -> Path:
        """Draw train and validation loss against step into loss.png (atomically, like every run file)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        rows = self.read_metrics()
        fig = Figure(figsize=(7, 4), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
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
        png = io.BytesIO()
        fig.savefig(png, format="png")
        write_bytes_atomic(self.path / PLOT, png.getvalue())
        return self.path / PLOT


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _is_row(row: Any) -> bool:
    """A metrics row as the Trainer writes it: an int step, a number train loss, val loss a number or null."""
    return (
        isinstance(row, dict)
        and isinstance(row.get("step"), int)
        and not isinstance(row["step"], bool)
        and _number(row.get("train_loss"))
        and (row.get("val_loss") is None or _number(row["val_loss"]))
    )
