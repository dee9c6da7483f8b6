"""Files rnnkit writes for the user: never over an input, never two outputs on one path, never over an
existing file without --force, never inside the installed package (whose data/ holds the shipped models)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from rnnkit.errors import RnnkitError


def package_dir() -> Path:
    """The installed rnnkit package: nothing rnnkit does writes into it."""
    import rnnkit

    return Path(rnnkit.__file__).resolve().parent


def refuse_package_path(path: str | os.PathLike, flag: str) -> None:
    """A one-line error when `path` lies inside the installed package (there is no --force for this)."""
    resolved, package = Path(os.path.abspath(path)).resolve(), package_dir()
    if resolved == package or package in resolved.parents:
        raise RnnkitError(
            f"{flag} {path}: inside the installed rnnkit package ({package}), which holds the shipped "
            "pretrained models; choose a folder of your own"
        )


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(
    outputs: Iterable[tuple[str, str | os.PathLike]],
    inputs: Iterable[tuple[str, str | os.PathLike]] = (),
    force: bool = False,
) -> None:
    """Refuse, before anything is written, outputs (flag, path) that would overwrite an input (flag, path),
    collide with each other, replace an existing file (unless force) or land inside the package."""
    inputs = [(flag, Path(p)) for flag, p in inputs]
    seen: dict[str, tuple[str, Path]] = {}
    for flag, path in outputs:
        path = Path(path)
        refuse_package_path(path, flag)
        for in_flag, in_path in inputs:
            if _same_file(path, in_path):
                raise RnnkitError(f"{flag} {path}: is the input {in_flag} {in_path}; rnnkit never writes over an input")
        key = os.path.realpath(path)
        if key in seen:
            other_flag, other = seen[key]
            raise RnnkitError(f"{flag} {path} and {other_flag} {other} are the same file; give each output its own")
        seen[key] = (flag, path)
        if path.is_dir():
            raise RnnkitError(f"{flag} {path}: is a directory")
        if path.exists() and not force:
            raise RnnkitError(f"{flag} {path}: exists; use --force to replace it")
