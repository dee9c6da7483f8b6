"""Atomic files: weights and training state in safetensors, settings in JSON, never pickle.

Every write goes to a temporary file in the same folder, is flushed to disk, then renamed over the target
(os.replace is atomic on POSIX), so a process killed at any moment leaves either the old file or the new one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.errors import RnnkitError

FORMAT_VERSION = 1  # bump when the layout of a run directory changes incompatibly


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; a run's files get the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RnnkitError(f"{path}: missing") from None
    except IsADirectoryError:
        raise RnnkitError(f"{path}: is a directory, not a JSON file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RnnkitError(f"{path}: not valid JSON ({e.__class__.__name__})") from None
    except RecursionError:
        raise RnnkitError(f"{path}: nested too deeply to be one of rnnkit's files") from None


def save_arrays(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any] | None = None) -> None:
    """Write arrays (and a JSON-able meta dict, kept in the safetensors header) atomically."""
    from safetensors.numpy import save

    header = {"rnnkit": json.dumps({"format": FORMAT_VERSION, **(meta or {})})}
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    write_bytes_atomic(path, save(arrays, metadata=header))


# the safetensors dtypes NumPy holds; bfloat16 and the float8 types have no NumPy dtype
READABLE_DTYPES = {"F16", "F32", "F64", "I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64", "BOOL"}


def load_arrays(path: Path, weights: bool = False) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read arrays and meta written by save_arrays; a clear RnnkitError for anything else.

    Floating-point arrays must be finite; with `weights`, every array must be floating point.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RnnkitError(f"{path}: missing") from None
    unreadable = f"{path}: not a readable safetensors file"
    try:
        header_len = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + header_len])
    except (ValueError, UnicodeDecodeError) as e:
        raise RnnkitError(f"{unreadable} ({e.__class__.__name__})") from None
    except RecursionError:
        raise RnnkitError(f"{unreadable} (its header is nested too deeply)") from None
    if len(data) < 8 or not isinstance(header, dict):
        raise RnnkitError(f"{unreadable} (no header)")
    for name, entry in header.items():
        dtype = entry.get("dtype") if isinstance(entry, dict) else None
        if name != "__metadata__" and isinstance(dtype, str) and dtype not in READABLE_DTYPES:
            raise RnnkitError(f"{path}: tensor {name} is {dtype}, which rnnkit cannot read (it writes F16/F32/F64)")
    try:
        arrays = load(data)
        meta = json.loads((header.get("__metadata__") or {}).get("rnnkit", "null"))
    except (SafetensorError, ValueError, UnicodeDecodeError, TypeError, KeyError, AttributeError) as e:
        raise RnnkitError(f"{unreadable} ({e.__class__.__name__})") from None
    except RecursionError:
        raise RnnkitError(f"{unreadable} (its metadata is nested too deeply)") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise RnnkitError(f"{path}: written by an incompatible rnnkit (format {found}, expected {FORMAT_VERSION})")
    for name, a in arrays.items():
        if weights and not np.issubdtype(a.dtype, np.floating):
            raise RnnkitError(f"{path}: tensor {name} is {a.dtype}; weights are floating point")
        if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
            raise RnnkitError(f"{path}: tensor {name} holds NaN or infinite values")
    return arrays, meta
