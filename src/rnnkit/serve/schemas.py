"""What each endpoint accepts: one pydantic model per request, with bounds on every number and length.

app.parse validates a request's JSON body against its model before the handler runs, so a handler only ever sees
values that are in range; anything else is answered 422 with one line naming the field (see app.py). Unknown fields are
refused rather than ignored. The bounds keep one request to a few seconds of work on a laptop.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_NAMES = 10_000  # names per request (the sampler's batch: one pass)
MAX_BEAM = 100
MAX_NAME_LENGTH = 100  # characters of a generated or scored name, and of a prefix
MAX_TEXT = 20_000  # characters of streamed text per request
MAX_PRIME = 2_000  # characters of a text prime
MAX_STEPS = 2_000  # events of a melody
MAX_CHORDS_TEXT = 2_000  # characters of a chord progression
MAX_CHORD_BEATS = 512  # beats of a progression (128 bars of 4/4): at most 2,048 sixteenths to draw, as MAX_STEPS
MAX_BEATS_PER_CHORD = 16
MAX_UPLOAD = 1_000_000  # bytes of a primer .mid
MAX_BODY = 2 * MAX_UPLOAD  # bytes of any request body (the primer arrives base64-encoded: 4/3 of its size)
MAX_SEED = 2**32 - 1

Temperature = Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)]
Seed = Annotated[int | None, Field(default=None, ge=0, le=MAX_SEED)]
TopK = Annotated[int | None, Field(default=None, ge=1, le=1_000)]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=MAX_UPLOAD * 2)


class NamesSample(Request):
    n: int = Field(20, ge=1, le=MAX_NAMES)
    temperature: Temperature = 1.0
    top_k: TopK = None
    top_p: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    prefix: str = Field("", max_length=MAX_NAME_LENGTH)
    novel: bool = False
    seed: Seed = None
    max_length: int = Field(50, ge=1, le=MAX_NAME_LENGTH)


class NamesBeam(Request):
    k: int = Field(10, ge=1, le=MAX_BEAM)
    prefix: str = Field("", max_length=MAX_NAME_LENGTH)
    max_length: int = Field(50, ge=1, le=MAX_NAME_LENGTH)


class NameScore(Request):
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)


class TextStream(Request):
    prime: str = Field("", max_length=MAX_PRIME)
    length: int = Field(500, ge=1, le=MAX_TEXT)
    temperature: Temperature = 1.0
    seed: Seed = None


class Melody(Request):
    steps: int = Field(64, ge=1, le=MAX_STEPS)  # without chords; over chords the melody lasts as long as they do
    temperature: Temperature | None = None  # None: the model's default (1; over chords, the chord model's)
    top_k: TopK = None
    key: str | None = Field(None, max_length=32)  # e.g. G, 'F# minor', Bbm; None: C / Am, or the primer's key
    tempo: float | None = Field(None, ge=20, le=400, allow_inf_nan=False)  # quarter notes per minute
    instrument: str = Field("piano", min_length=1, max_length=40)  # General MIDI name or program 0..127
    seed: Seed = None
    primer: str | None = Field(None, description="a .mid file, base64-encoded")
    track: int | None = Field(None, ge=0, le=255)  # MIDI track of the primer's melody
    chords: str | None = Field(None, max_length=MAX_CHORDS_TEXT)  # 'C G/B Am F | Dm G C C', as --chords reads it
    beats_per_chord: int | None = Field(None, ge=1, le=MAX_BEATS_PER_CHORD)  # None: a bar per chord
    chord_instrument: str = Field("strings", min_length=1, max_length=40)  # of the chord track

    @field_validator("chords")
    @classmethod
    def _chords(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else value

    @field_validator("key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        from rnnkit.music.tokens import Key

        if value is None or not value.strip():
            return None
        Key.parse(value)  # ValueError -> 422 with its message
        return value

    @field_validator("instrument", "chord_instrument")
    @classmethod
    def _instrument(cls, value: str) -> str:
        from rnnkit.music.midi import instrument_program

        instrument_program(value)
        return value

    @field_validator("primer")
    @classmethod
    def _primer(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if len(value) > (MAX_UPLOAD + 2) // 3 * 4:
            raise ValueError(f"the primer file is larger than {MAX_UPLOAD // 1000:,} kB")
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the primer is not base64-encoded") from None
        return value

    def primer_bytes(self) -> bytes | None:
        return None if self.primer is None else base64.b64decode(self.primer)
