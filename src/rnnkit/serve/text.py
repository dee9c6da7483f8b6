"""The text tab's hook: a generator function that yields the text in chunks as it is sampled.

The page's text tab is shown only when the server has one: `rnnkit serve --text RUN` with a run trained in the
free-text stream mode (`rnnkit text train --stream`), whose TextGenerator draws the characters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rnnkit.errors import RnnkitError

if TYPE_CHECKING:
    from rnnkit.text.stream import TextGenerator

# stream(prime, length, temperature, seed) -> the `length` characters after `prime`, in chunks (prime excluded)
TextStream = Callable[[str, int, float, int | None], Iterator[str]]
CHUNK_CHARS = 32  # at most this many characters per chunk; a chunk also ends after a space or a newline


def load_text_stream(run: str | Path) -> TextStream:
    """The chunked sampler of a free-text (--stream) run, for `rnnkit serve --text RUN`."""
    from rnnkit.rundir import RunDir
    from rnnkit.text.train import load

    rd = RunDir(run)
    config = rd.read_config()  # a folder that is no run: one line naming the missing file
    if config.get("kind") != "text" or not isinstance(config.get("data"), dict):
        raise RnnkitError(f"--text {rd}: not a text run")
    if not config["data"].get("stream"):
        raise RnnkitError(
            f"--text {rd}: a name-model run; --text needs a run trained with `rnnkit text train --stream`"
        )
    generator: TextGenerator = load(rd.path)  # config.json and the weights checked as every run's

    def stream(prime: str, length: int, temperature: float, seed: int | None) -> Iterator[str]:
        chars = generator.stream(prime, length, temperature, seed=seed)  # a bad prime is refused here

        def chunks() -> Iterator[str]:
            chunk = ""
            for c in chars:
                chunk += c
                if c in " \n" or len(chunk) >= CHUNK_CHARS:
                    yield chunk
                    chunk = ""
            if chunk:
                yield chunk

        return chunks()

    return stream
