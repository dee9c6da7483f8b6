"""Melody collections on disk: one compressed .npz of flat arrays, readable with numpy alone (no pickle).

Layout of a corpus file (N melodies, T events in all):
    offsets (N + 1,) int64      melody i is events offsets[i]:offsets[i + 1]
    pitches (T,) int8           MIDI 0..127, REST = -1
    durations (T,) float64      quarter lengths
    key_tonic (N,) int8, key_mode (N,) str, time_signature (N, 2) int16, piece_id (N,) str,
    tempo_bpm (N,) float64 (NaN: not recorded), transposition (N,) int16
    chord_offsets (N + 1,) int64, chord_roots (B,) int8, chord_masks (B,) int16    only when every melody has
                                chords: melody i's beats are chord_offsets[i]:chord_offsets[i + 1] (see chords.py)
    chord_basses (B,) int8      only when some beat's bass is not its root (a slash chord, G/B)
    meta () str                 JSON: format, source, and whatever the writer adds (music21 version ...)
Melodies are stored as read, in their own keys; transposing to C happens when training data is built.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from rnnkit.errors import DataError
from rnnkit.music.chords import Progression
from rnnkit.music.tokens import Key, Melody

FORMAT = "rnnkit-melodies-1"
BACH_FILE = "bach_soprano.npz"  # in rnnkit/data/, made by scripts/prepare_bach.py
_ARRAYS = ("offsets", "pitches", "durations", "key_tonic", "key_mode", "time_signature", "piece_id")


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> None:
    """Call write(binary file) on a temporary file next to `path`, then rename it into place.

    A crash or an error midway leaves any earlier file at `path` untouched.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_corpus(melodies: Sequence[Melody], path: str | os.PathLike, meta: dict | None = None) -> Path:
    """Write `melodies` to `path` (an .npz file, atomically); `meta` is stored as JSON next to them."""
    if not melodies:
        raise DataError("cannot save an empty corpus")
    lengths = [len(m) for m in melodies]
    arrays = {
        "offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),  # (N + 1,)
        "pitches": np.concatenate([m.pitches for m in melodies]).astype(np.int8),  # (T,)
        "durations": np.concatenate([m.durations for m in melodies]).astype(np.float64),  # (T,)
        "key_tonic": np.array([m.key.tonic for m in melodies], dtype=np.int8),  # (N,)
        "key_mode": np.array([m.key.mode for m in melodies], dtype=np.str_),  # (N,)
        "time_signature": np.array([m.time_signature for m in melodies], dtype=np.int16),  # (N, 2)
        "piece_id": np.array([m.piece_id for m in melodies], dtype=np.str_),  # (N,)
        "tempo_bpm": np.array([np.nan if m.tempo_bpm is None else m.tempo_bpm for m in melodies]),  # (N,)
        "transposition": np.array([m.transposition for m in melodies], dtype=np.int16),  # (N,)
        "meta": np.array(json.dumps({"format": FORMAT, **(meta or {})}, sort_keys=True)),  # ()
    }
    if all(m.chords is not None for m in melodies):
        beats = [len(m.chords) for m in melodies]
        arrays["chord_offsets"] = np.concatenate([[0], np.cumsum(beats)]).astype(np.int64)  # (N + 1,)
        arrays["chord_roots"] = np.concatenate([m.chords.roots for m in melodies]).astype(np.int8)  # (B,)
        arrays["chord_masks"] = np.concatenate([m.chords.masks for m in melodies]).astype(np.int16)  # (B,)
        basses = np.concatenate([m.chords.basses for m in melodies]).astype(np.int8)  # (B,)
        if np.any(basses != arrays["chord_roots"]):
            arrays["chord_basses"] = basses
    write_atomic(path, lambda fh: np.savez_compressed(fh, **arrays))
    return Path(path)


def _open(path: Path):
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{path}: no such corpus file") from None
    except (OSError, ValueError, EOFError):
        raise DataError(f"{path}: not a melody corpus file (expected an .npz written by save_corpus)") from None
    missing = [k for k in (*_ARRAYS, "meta") if k not in getattr(data, "files", ())]
    if missing:
        raise DataError(f"{path}: not a melody corpus file (missing {', '.join(missing)})")
    return data


def _read_meta(path: Path, raw) -> dict:
    try:
        meta = json.loads(str(raw))
    except (ValueError, RecursionError):
        raise DataError(f"{path}: field meta is not JSON text") from None
    if not isinstance(meta, dict):
        raise DataError(f"{path}: field meta is not a JSON object")
    return meta


def corpus_meta(path: str | os.PathLike) -> dict:
    """The JSON metadata stored with a corpus (format, source, versions, counts)."""
    path = Path(path)
    with _open(path) as data:
        return _read_meta(path, _field(path, data, "meta", "U", ()))


# field -> (dtype kinds accepted, shape with N for melodies and T for events)
_FIELDS = {
    "offsets": ("iu", ("N+1",)),
    "pitches": ("iu", ("T",)),
    "durations": ("fiu", ("T",)),
    "key_tonic": ("iu", ("N",)),
    "key_mode": ("U", ("N",)),
    "time_signature": ("iu", ("N", 2)),
    "piece_id": ("U", ("N",)),
    "tempo_bpm": ("fiu", ("N",)),
    "transposition": ("iu", ("N",)),
}


def _field(path: Path, data, name: str, kinds: str, shape: tuple) -> np.ndarray:
    """One array of the file, checked to be of a plain dtype and of `shape` (ints, or None for any size)."""
    try:
        a = data[name]
    except ValueError:  # an object array: np.load refuses to unpickle it
        raise DataError(f"{path}: field {name} is an object array (pickled); expected plain numbers or text") from None
    if a.dtype.kind not in kinds:
        raise DataError(f"{path}: field {name} has dtype {a.dtype}; expected {'text' if kinds == 'U' else 'numbers'}")
    if a.ndim != len(shape) or any(want is not None and got != want for got, want in zip(a.shape, shape, strict=False)):
        raise DataError(f"{path}: field {name} has shape {a.shape}")
    return a


def _read_fields(path: Path, data) -> dict[str, np.ndarray]:
    """Every field of a corpus file, validated: one DataError naming the file and the field otherwise."""
    a = {"meta": _field(path, data, "meta", "U", ())}
    n = len(_field(path, data, "piece_id", "U", (None,)))
    t = len(_field(path, data, "pitches", "iu", (None,)))
    sizes = {"N": n, "N+1": n + 1, "T": t}
    for name, (kinds, shape) in _FIELDS.items():
        if name in ("tempo_bpm", "transposition") and name not in data.files:
            continue  # older files
        a[name] = _field(path, data, name, kinds, tuple(sizes.get(d, d) for d in shape))
    off = a["offsets"].astype(np.int64)
    if off[0] != 0 or off[-1] != t or np.any(np.diff(off) < 0):
        raise DataError(f"{path}: field offsets must rise from 0 to the {t} events")
    pitches = a["pitches"].astype(np.int64)
    if np.any((pitches < -1) | (pitches > 127)):
        bad = int(pitches[(pitches < -1) | (pitches > 127)][0])
        raise DataError(f"{path}: field pitches holds {bad}; expected MIDI 0..127 or -1 for a rest")
    durations = a["durations"].astype(np.float64)
    if not np.all(np.isfinite(durations) & (durations > 0)):
        bad = durations[~(np.isfinite(durations) & (durations > 0))][0]
        raise DataError(f"{path}: field durations holds {bad}; expected positive quarter lengths")
    if not set(np.unique(a["key_mode"]).tolist()) <= {"major", "minor"}:
        raise DataError(f"{path}: field key_mode must hold 'major' or 'minor'")
    signatures = a["time_signature"].astype(np.int64)
    if np.any(signatures < 1) or np.any(signatures > 64) or np.any(signatures[:, 1] & (signatures[:, 1] - 1)):
        raise DataError(f"{path}: field time_signature must hold n/2^k signatures (1..64 each)")
    if "tempo_bpm" in a:
        tempo = a["tempo_bpm"].astype(np.float64)
        if np.any(~np.isnan(tempo) & ~((tempo > 0) & np.isfinite(tempo))):
            raise DataError(f"{path}: field tempo_bpm must hold positive tempos (NaN: not recorded)")
    if "transposition" in a and np.any(np.abs(a["transposition"].astype(np.int64)) > 127):
        raise DataError(f"{path}: field transposition must be within -127..127 semitones")
    if "chord_offsets" in data.files:
        beats = len(_field(path, data, "chord_roots", "iu", (None,)))
        a["chord_offsets"] = _field(path, data, "chord_offsets", "iu", (n + 1,))
        a["chord_roots"] = _field(path, data, "chord_roots", "iu", (beats,))
        a["chord_masks"] = _field(path, data, "chord_masks", "iu", (beats,))
        if "chord_basses" in data.files:
            a["chord_basses"] = _field(path, data, "chord_basses", "iu", (beats,))
        co = a["chord_offsets"].astype(np.int64)
        if co[0] != 0 or co[-1] != beats or np.any(np.diff(co) < 0):
            raise DataError(f"{path}: field chord_offsets must rise from 0 to the {beats} beats")
        try:
            Progression(a["chord_roots"], a["chord_masks"], a.get("chord_basses"))
        except ValueError as e:
            raise DataError(f"{path}: field chord_roots / chord_masks / chord_basses: {e}") from None
    return a


def load_corpus(path: str | os.PathLike) -> list[Melody]:
    """The melodies saved by `save_corpus`, in order; raises DataError naming the file and field that is wrong."""
    path = Path(path)
    with _open(path) as data:
        a = _read_fields(path, data)
    meta = _read_meta(path, a["meta"])
    if meta.get("format") != FORMAT:
        raise DataError(f"{path}: corpus format {meta.get('format')!r}, expected {FORMAT!r}")
    n = len(a["piece_id"])
    tempo = a.get("tempo_bpm", np.full(n, np.nan))
    shift = a.get("transposition", np.zeros(n, dtype=np.int16))
    off = a["offsets"]
    chords = [None] * n
    if "chord_offsets" in a:
        co = a["chord_offsets"]
        roots, masks = a["chord_roots"], a["chord_masks"]
        basses = a.get("chord_basses", roots)
        chords = [Progression(*(x[co[i] : co[i + 1]] for x in (roots, masks, basses))) for i in range(n)]
    return [
        Melody(
            a["pitches"][off[i] : off[i + 1]],
            a["durations"][off[i] : off[i + 1]],
            key=Key(int(a["key_tonic"][i]), str(a["key_mode"][i])),
            time_signature=tuple(int(x) for x in a["time_signature"][i]),
            piece_id=str(a["piece_id"][i]),
            tempo_bpm=None if np.isnan(tempo[i]) else float(tempo[i]),
            transposition=int(shift[i]),
            chords=chords[i],
        )
        for i in range(n)
    ]


def bundled_bach_path() -> Traversable:
    """Where the bundled Bach soprano corpus lives inside the installed package."""
    return resources.files("rnnkit") / "data" / BACH_FILE


def load_bundled_bach() -> list[Melody]:
    """The soprano lines of the 371 Bach chorales shipped with rnnkit (music21's corpus, public domain)."""
    ref = bundled_bach_path()
    if not ref.is_file():
        raise DataError(f"the bundled corpus {BACH_FILE} is missing; rebuild it with scripts/prepare_bach.py")
    with resources.as_file(ref) as path:
        return load_corpus(path)
