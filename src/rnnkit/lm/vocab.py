"""A vocabulary of tokens with one boundary token that starts and ends every sequence.

Id 0 is the boundary; ids 1..n are the tokens in sorted order, so building from the same data in any order
gives the same ids. The boundary is a special token, not one of `tokens`: it can never be confused with a
token that looks like it. An application says what a token is (a character, a (pitch, duration) event) by
subclassing: `check_token` validates one, `token_to_json`/`token_from_json` save it, and `encode` is its own.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rnnkit.errors import DataError

BOUNDARY_ID = 0


@dataclass(frozen=True)
class TokenVocabulary:
    """Tokens of the training data, sorted, after the boundary token at id 0."""

    tokens: tuple[Hashable, ...]  # id i + 1 is tokens[i]; the boundary (id 0) is not in here
    _index: dict[Hashable, int] = field(init=False, repr=False, compare=False)

    BOUNDARY_SHOWN: ClassVar[str] = "."  # how the boundary is printed; display only
    JSON_KEY: ClassVar[str] = "tokens"  # the key of the token list in to_json
    WHAT: ClassVar[str] = ""  # what kind of vocabulary, for error messages ("music")

    def __post_init__(self) -> None:
        tokens = tuple(self.check_token(t) for t in self.tokens)
        if list(tokens) != sorted(set(tokens)):
            raise DataError(f"vocabulary {self.JSON_KEY} must be unique and sorted")
        object.__setattr__(self, "tokens", tokens)
        object.__setattr__(self, "_index", {t: i + 1 for i, t in enumerate(tokens)})

    @classmethod
    def check_token(cls, token: Any) -> Hashable:
        """`token` as the vocabulary stores it; raises DataError when it is not a token."""
        return token

    @property
    def bos(self) -> int:
        """Id that starts every sequence (the boundary)."""
        return BOUNDARY_ID

    @property
    def eos(self) -> int:
        """Id that ends every sequence (the same boundary)."""
        return BOUNDARY_ID

    def __len__(self) -> int:
        """Number of ids: the tokens plus the boundary."""
        return len(self.tokens) + 1

    def __contains__(self, token: object) -> bool:
        try:
            return self.check_token(token) in self._index
        except (TypeError, ValueError, DataError):  # not even a token
            return False

    def token(self, i: int) -> Hashable:
        """How id `i` is shown: its token, or BOUNDARY_SHOWN for the boundary."""
        return self.BOUNDARY_SHOWN if i == BOUNDARY_ID else self.tokens[i - 1]

    def decode(self, ids: Iterable[int]) -> list:
        """The tokens of `ids`; boundary ids are skipped."""
        out, size = [], len(self)
        for i in ids:
            i = int(i)
            if not 0 <= i < size:
                raise ValueError(f"id {i} is outside the vocabulary of {size} ids")
            if i != BOUNDARY_ID:
                out.append(self.tokens[i - 1])
        return out

    # -- saving ----------------------------------------------------------------------------------------------
    @staticmethod
    def token_to_json(token: Hashable) -> Any:
        return token

    @staticmethod
    def token_from_json(value: Any) -> Hashable:
        return value

    def to_json(self) -> dict:
        """A JSON-serialisable dict; `from_json` reads it back."""
        return {"boundary_id": BOUNDARY_ID, self.JSON_KEY: [self.token_to_json(t) for t in self.tokens]}

    @classmethod
    def from_json(cls, d: dict):
        """The vocabulary saved by `to_json`."""
        what = f"{cls.WHAT} " if cls.WHAT else ""
        if not isinstance(d, dict) or cls.JSON_KEY not in d or d.get("boundary_id", BOUNDARY_ID) != BOUNDARY_ID:
            raise DataError(f"not a saved {what}vocabulary: expected {{'boundary_id': 0, '{cls.JSON_KEY}': [...]}}")
        try:
            tokens = tuple(cls.token_from_json(t) for t in d[cls.JSON_KEY])
        except (TypeError, ValueError):
            raise DataError(f"not a saved {what}vocabulary: {cls.JSON_KEY} of the wrong kind") from None
        return cls(tokens)
