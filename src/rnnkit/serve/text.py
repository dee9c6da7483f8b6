"""The text tab's hook: a generator function that yields the text in chunks as it is sampled.

The page's text tab is shown only when the server has one. `rnnkit serve --text RUN` needs a run trained in
the free-text stream mode; until that mode exists in rnnkit, `load_text_stream` says so in one line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from rnnkit.errors import RnnkitError

# stream(prime, length, temperature, seed) -> the `length` characters after `prime`, in chunks (prime excluded)
TextStream = Callable[[str, int, float, int | None], Iterator[str]]


def load_text_stream(run: str | Path) -> TextStream:
    """The chunked sampler of a free-text run, for `rnnkit serve --text RUN`."""
    from rnnkit.rundir import RunDir

    rd = RunDir(run)
    config = rd.read_config()  # a folder that is no run: one line naming the missing file
    if config.get("kind") != "text":
        raise RnnkitError(f"--text {rd}: not a text run")
    raise RnnkitError(f"--text {rd}: text runs need the stream mode, which this version of rnnkit does not have yet")
