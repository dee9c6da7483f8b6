"""A vocabulary of characters with one boundary token that starts and ends every item.

Id 0 is the boundary (shown as "." like makemore); ids 1..n are the characters in code-point order. The
boundary is a special token, not a character: it has no entry in `tokens`, so a "." inside a name is an
ordinary character with its own id, and the boundary can never be confused with it. The ids, the boundary
and saving are the core's (`rnnkit.lm.vocab`); what is the text's own is here: characters, NFC, strings.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import numpy as np

from rnnkit.errors import DataError
from rnnkit.lm.vocab import BOUNDARY_ID, TokenVocabulary


def nfc(text: str) -> str:
    """Unicode NFC normal form, so "é" typed as e + combining acute is the same character as "é"."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


class Vocabulary(TokenVocabulary):
    """Characters of the training items, sorted, after the boundary token at id 0.

    Items are NFC-normalized before they are encoded, so the vocabulary holds single code points.
    `tokens[i]` is the character of id i + 1.
    """

    JSON_KEY = "chars"

    @classmethod
    def check_token(cls, token) -> str:
        if not isinstance(token, str) or len(token) != 1:
            raise DataError("vocabulary entries must be single characters")
        return token

    @classmethod
    def from_items(cls, items: Iterable[str]) -> Vocabulary:
        """Every character that occurs in `items`, sorted by code point."""
        chars: set[str] = set()
        for item in items:
            chars.update(nfc(item))
        if not chars:
            raise DataError("cannot build a vocabulary: the items contain no characters")
        return cls(tuple(sorted(chars)))

    def unknown_chars(self, text: str) -> set[str]:
        """Characters of `text` (after NFC) that have no id."""
        return {c for c in nfc(text) if c not in self._index}

    def encode(self, item: str) -> np.ndarray:
        """Ids of the characters of `item`, without boundaries: (len(item),) int64.

        Raises DataError naming the characters that are not in the vocabulary.
        """
        item = nfc(item)
        try:
            return np.array([self._index[c] for c in item], dtype=np.int64)  # (n,)
        except KeyError:
            unknown = ", ".join(repr(c) for c in sorted(self.unknown_chars(item)))
            raise DataError(f"characters not in the vocabulary: {unknown} (in {item!r})") from None

    def decode(self, ids: Iterable[int]) -> str:
        """The text of `ids`; boundary ids are skipped, so decode(sampled ids up to EOS) is the name."""
        return "".join(super().decode(ids))

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
        if "\x00" in self._index or (ids[written] == BOUNDARY_ID).any():
            return [self.decode(row[:n]) for row, n in zip(ids, lengths, strict=True)]
        if L == 0:
            return [""] * N
        points = np.array([0, *map(ord, self.tokens)], dtype=np.uint32)  # id -> code point; the boundary -> NUL
        return points[ids].view(f"<U{L}")[:, 0].tolist()  # (N, L) uint32 -> N strings
