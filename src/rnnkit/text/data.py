"""Lists of names: reading them, splitting them, and batching them time-major for training.

An item is one line of a text file (a name). Encoded items are int arrays of character ids without the
boundary; the batches add it: inputs = [BOS, c1..cn], targets = [c1..cn, EOS].
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterator, Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import BinaryIO

import numpy as np

from rnnkit.errors import DataError
from rnnkit.lm.batches import Batch, pad_batch
from rnnkit.text.config import SURNAMES  # 88,799 US Census 1990 surnames, lowercase, rank order
from rnnkit.text.vocab import nfc

SURNAMES_COUNT = 88_799


def open_data_file(path: str | Path) -> tuple[Path, BinaryIO]:
    """The data file at `path`, opened to read bytes; a one-line DataError when it is missing, a directory or
    unreadable (the checks every reader of a --data file makes first)."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"data file not found: {p}")
    if p.is_dir():
        raise DataError(f"data path is a directory, not a file: {p}")
    try:
        return p, open(p, "rb")
    except OSError as e:
        raise DataError(f"cannot read data file {p}: {e.strerror or e}") from None


def read_items(path: str | os.PathLike, dedupe: bool = False) -> list[str]:
    """Items of a UTF-8 text file, one per line.

    Ends of lines are stripped of whitespace (so CRLF works), blank lines are skipped, each item is
    NFC-normalized. Duplicates are kept unless `dedupe`, which keeps first occurrences in order.
    Raises DataError, with a one-line message naming the file, when the file is missing, a directory,
    unreadable, binary (has NUL bytes), not UTF-8, or has no items.
    """
    p, f = open_data_file(path)
    with f:
        raw = f.read()
    nul = raw.find(b"\0")
    if nul >= 0:
        raise DataError(f"data file looks binary (NUL byte at offset {nul}), expected UTF-8 text: {p}")
    try:
        text = raw.decode("utf-8-sig")  # -sig: a byte-order mark from a Windows editor is not part of item 1
    except UnicodeDecodeError as e:
        bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
        bad = raw[bom + e.start : bom + e.start + 1].hex()
        raise DataError(f"data file is not UTF-8 (byte 0x{bad} at offset {bom + e.start}): {p}") from None
    items = [nfc(s) for line in text.splitlines() if (s := line.strip())]
    if not items:
        raise DataError(f"data file has no items (it is empty or only blank lines): {p}")
    return list(dict.fromkeys(items)) if dedupe else items


@cache
def _surnames() -> tuple[str, ...]:
    raw = files("rnnkit").joinpath("data", "surnames.txt.gz").read_bytes()
    return tuple(gzip.decompress(raw).decode("ascii").split())


def load_surnames() -> list[str]:
    """The bundled 88,799 US Census 1990 surnames, lowercase, most common first ("smith")."""
    return list(_surnames())


def resolve_items(data: str | os.PathLike, dedupe: bool = False) -> list[str]:
    """Items of `data`: "surnames" is the bundled data set, anything else a path given to `read_items`.

    A file literally named surnames is reached as ./surnames.
    """
    if isinstance(data, str) and data == SURNAMES:
        items = load_surnames()
        return list(dict.fromkeys(items)) if dedupe else items
    return read_items(data, dedupe=dedupe)


_WORD_START = re.compile(r"(?:^|(?<=[\s'’\-]))(\w)")
_MC = re.compile(r"(?:^|(?<=[\s'’\-]))(Mc)([a-z])")


def display_name(item: str, title_case: bool) -> str:
    """`item` as shown to people: with `title_case`, each word's first letter is capitalised.

    Words start at the beginning and after whitespace, a hyphen or an apostrophe, so "o'brien" -> "O'Brien",
    "smith-jones" -> "Smith-Jones", and a word that starts with Mc takes a capital after it: "mccall" ->
    "McCall". Nothing else is guessed: the Census list is lowercase and drops apostrophes ("obrien"), and
    Mac is as often no prefix (Mack, Macias, Machado) as one, so "obrien" -> "Obrien", "macdonald" ->
    "Macdonald". Other letters are left as they are.
    """
    if not title_case:
        return item
    titled = _WORD_START.sub(lambda m: m.group(1).title(), item)
    return _MC.sub(lambda m: m.group(1) + m.group(2).upper(), titled)


def split_train_val(
    items: Sequence[str], val_fraction: float = 0.1, max_val: int = 1000, seed: int = 0
) -> tuple[list[str], list[str]]:
    """Hold out a seeded random validation set: (train, val), each in the items' original order.

    The validation set has min(max_val, round(val_fraction * len(items))) items, at least 1 when
    val_fraction > 0; val_fraction == 0 gives val = []. Duplicate items may land on both sides.
    Raises DataError when val_fraction is outside [0, 1), max_val < 1, or there are too few items to
    leave both sides non-empty.
    """
    n = len(items)
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"validation fraction must be in [0, 1), got {val_fraction}")
    if max_val < 1:
        raise DataError(f"the validation cap must be at least 1, got {max_val}")
    if n == 0:
        raise DataError("no items to train on")
    if val_fraction == 0.0:
        return list(items), []
    if n < 2:
        raise DataError(f"need at least 2 items to hold out a validation set, got {n}")
    n_val = max(1, min(max_val, round(val_fraction * n)))
    if n_val >= n:
        raise DataError(f"a validation fraction of {val_fraction} leaves no training items out of {n}")
    rng = np.random.default_rng(seed)
    is_val = np.zeros(n, dtype=bool)
    is_val[rng.permutation(n)[:n_val]] = True
    train = [item for item, v in zip(items, is_val, strict=True) if not v]
    val = [item for item, v in zip(items, is_val, strict=True) if v]
    return train, val


def count_predictions(items: Sequence[Sequence]) -> int:
    """Predictions the model makes over `items`: each item's length plus its end token (makemore)."""
    return sum(len(item) + 1 for item in items)


class Batcher:
    """Endless shuffled minibatches of encoded items, exactly resumable.

    Each epoch shuffles the items with np.random.default_rng(seed) and cuts them into batches of
    `batch_size` (the last one may be smaller), so every item appears once per epoch. With `sort_chunk`
    k > 1, each run of k batches' worth of shuffled items is sorted by length before cutting, and those k
    batches are then served in shuffled order: less padding, still random and still reproducible.

    `state_dict()` is JSON-serialisable (epoch, position, and the rng state at the start of the epoch);
    after `load_state_dict`, `next_batch` yields the same batches an uninterrupted Batcher would.
    """

    def __init__(self, encoded: Sequence[np.ndarray], batch_size: int, seed: int = 0, sort_chunk: int = 1):
        if len(encoded) == 0:
            raise DataError("no items to batch")
        if batch_size < 1:
            raise DataError(f"batch size must be at least 1, got {batch_size}")
        if sort_chunk < 1:
            raise DataError(f"sort chunk must be at least 1, got {sort_chunk}")
        self.encoded = encoded
        self.batch_size = batch_size
        self.sort_chunk = sort_chunk
        self._lengths = np.array([len(s) for s in encoded], dtype=np.int64)  # (N,)
        self._rng = np.random.default_rng(seed)
        self.epoch = 0  # epochs started so far minus one: the epoch the next batch comes from
        self._start_epoch()

    @property
    def batches_per_epoch(self) -> int:
        """Batches in one pass over the items."""
        return -(-len(self.encoded) // self.batch_size)

    @property
    def position(self) -> int:
        """Batches already served from the current epoch."""
        return self._position

    def _start_epoch(self) -> None:
        self._epoch_rng_state = self._rng.bit_generator.state
        perm = self._rng.permutation(len(self.encoded))  # (N,)
        chunk = self.batch_size * self.sort_chunk
        batches: list[np.ndarray] = []
        for start in range(0, len(perm), chunk):
            part = perm[start : start + chunk]
            if self.sort_chunk > 1:
                part = part[np.argsort(self._lengths[part], kind="stable")]
            cut = [part[i : i + self.batch_size] for i in range(0, len(part), self.batch_size)]
            if self.sort_chunk > 1:
                cut = [cut[i] for i in self._rng.permutation(len(cut))]
            batches.extend(cut)
        self._batches = batches
        self._position = 0

    def next_batch(self) -> Batch:
        """The next (inputs, targets, mask) batch, each (T, B); a new epoch starts when one ends."""
        if self._position == len(self._batches):
            self.epoch += 1
            self._start_epoch()
        idx = self._batches[self._position]
        self._position += 1
        return pad_batch([self.encoded[i] for i in idx])

    def __iter__(self) -> Iterator[Batch]:
        while True:
            yield self.next_batch()

    def state_dict(self) -> dict:
        """Where the batcher is: a JSON-serialisable dict for `load_state_dict`."""
        return {
            "epoch": self.epoch,
            "position": self._position,
            "rng_state": self._epoch_rng_state,
            "num_items": len(self.encoded),
            "batch_size": self.batch_size,
            "sort_chunk": self.sort_chunk,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from `state`, saved by a Batcher over the same items with the same settings."""
        for key, mine in (
            ("num_items", len(self.encoded)),
            ("batch_size", self.batch_size),
            ("sort_chunk", self.sort_chunk),
        ):
            if state[key] != mine:
                raise DataError(f"cannot resume batching: saved {key} is {state[key]}, now {mine}")
        self._rng.bit_generator.state = state["rng_state"]
        self.epoch = int(state["epoch"])
        self._start_epoch()  # replays the epoch's shuffle from its starting rng state
        if not 0 <= state["position"] <= len(self._batches):
            raise DataError(f"cannot resume batching: position {state['position']} is outside the epoch")
        self._position = int(state["position"])
