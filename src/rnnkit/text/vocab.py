"""A vocabulary of characters with one boundary token that starts and ends every item.

Id 0 is the boundary (shown as "." like makemore); ids 1..n are the characters in code-point order. The
boundary is a special token, not a character: it has no entry in `chars`, so a "." inside a name is an
ordinary character with its own id, and the boundary can never be confused with it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from rnnkit.errors import DataError

BOUNDARY_ID = 0
BOUNDARY_SHOWN = "."  # how the boundary is printed; display only, never compared against item text


def nfc(text: str) -> str:
    """Unicode NFC normal form, so "é" typed as e + combining acute is the same character as "é"."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


@dataclass(frozen=True)
class Vocabulary:
    """Characters of the training items, sorted, after the boundary token at id 0.

    Items are NFC-normalized before they are encoded, so the vocabulary holds single code points.
    """

    chars: tuple[str, ...]  # id i + 1 is chars[i]; the boundary (id 0) is not in here
    _stoi: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        chars = tuple(self.chars)
        if any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise DataError("vocabulary entries must be single characters")
        if list(chars) != sorted(set(chars)):
            raise DataError("vocabulary characters must be unique and sorted")
        object.__setattr__(self, "chars", chars)
        object.__setattr__(self, "_stoi", {c: i + 1 for i, c in enumerate(chars)})

    @classmethod
    def from_items(cls, items: Iterable[str]) -> Vocabulary:
        """Every character that occurs in `items`, sorted by code point."""
        chars: set[str] = set()
        for item in items:
            chars.update(nfc(item))
        if not chars:
            raise DataError("cannot build a vocabulary: the items contain no characters")
        return cls(tuple(sorted(chars)))

    @property
    def bos(self) -> int:
        """Id that starts every item (the boundary)."""
        return BOUNDARY_ID

    @property
    def eos(self) -> int:
        """Id that ends every item (the same boundary)."""
        return BOUNDARY_ID

    def __len__(self) -> int:
        """Number of ids: the characters plus the boundary."""
        return len(self.chars) + 1

    def token(self, i: int) -> str:
        """How id `i` is shown: its character, or "." for the boundary."""
        return BOUNDARY_SHOWN if i == BOUNDARY_ID else self.chars[i - 1]

    def unknown_chars(self, text: str) -> set[str]:
        """Characters of `text` (after NFC) that have no id."""
        return {c for c in nfc(text) if c not in self._stoi}

    def encode(self, item: str) -> np.ndarray:
        """Ids of the characters of `item`, without boundaries: (len(item),) int64.

        Raises DataError naming the characters that are not in the vocabulary.
        """
        item = nfc(item)
        try:
            return np.array([self._stoi[c] for c in item], dtype=np.int64)  # (n,)
        except KeyError:
            unknown = ", ".join(repr(c) for c in sorted(self.unknown_chars(item)))
            raise DataError(f"characters not in the vocabulary: {unknown} (in {item!r})") from None

    def decode(self, ids: Iterable[int]) -> str:
        """The text of `ids`; boundary ids are skipped, so decode(sampled ids up to EOS) is the name."""
        out, size = [], len(self)
        for i in ids:
            i = int(i)
            if not 0 <= i < size:
                raise ValueError(f"id {i} is outside the vocabulary of {size} ids")
            if i != BOUNDARY_ID:
                out.append(self.chars[i - 1])
        return "".join(out)

    def decode_rows(self, ids: np.ndarray, lengths: np.ndarray) -> list[str]:
        """decode(ids[r, :lengths[r]]) for every row r of ids (N, L) at once: a sampled batch's names.

        The ids become code points in one array whose rows, read as fixed-width strings, end at the first
        NUL: NumPy does the joining. Rows with a boundary id, or a vocabulary holding NUL, go through decode.
        """
        N, L = ids.shape
        written = np.arange(L) < lengths[:, None]  # (N, L)
        ids = np.where(written, ids, BOUNDARY_ID)
        if ids.min(initial=0) < 0 or ids.max(initial=0) >= len(self):
            raise ValueError(f"ids outside the vocabulary of {len(self)} ids")
        if "\x00" in self._stoi or (ids[written] == BOUNDARY_ID).any():
            return [self.decode(row[:n]) for row, n in zip(ids, lengths, strict=True)]
        if L == 0:
            return [""] * N
        points = np.array([0, *map(ord, self.chars)], dtype=np.uint32)  # id -> code point; the boundary -> NUL
        return points[ids].view(f"<U{L}")[:, 0].tolist()  # (N, L) uint32 -> N strings

    def to_json(self) -> dict:
        """A JSON-serialisable dict; `from_json` reads it back."""
        return {"boundary_id": BOUNDARY_ID, "chars": list(self.chars)}

    @classmethod
    def from_json(cls, d: dict) -> Vocabulary:
        """The vocabulary saved by `to_json`."""
        if not isinstance(d, dict) or "chars" not in d or d.get("boundary_id", BOUNDARY_ID) != BOUNDARY_ID:
            raise DataError("not a saved vocabulary: expected {'boundary_id': 0, 'chars': [...]}")
        return cls(tuple(d["chars"]))
