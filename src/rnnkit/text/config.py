"""The name model's data settings, kept free of numpy so the command line can build its flags from them quickly.

The network's shape is the core's `rnnkit.lm.config.ModelConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rnnkit.errors import RnnkitError
from rnnkit.schema import check_fields

SURNAMES = "surnames"  # the bundled data set


@dataclass(frozen=True)
class DataConfig:
    data: str = SURNAMES  # "surnames" (bundled) or a path to a UTF-8 file, one item per line
    val_data: str | None = None  # a separate validation file, instead of a split
    val_fraction: float = 0.1  # of the data held out for validation (at most max_val items)
    max_val: int = 1000
    dedupe: bool = False
    stream: bool = False  # read the file as one stream of characters (truncated BPTT), not one item per line
    seq_length: int | None = None  # --stream: characters per row and step (None: rnnkit.text.stream.SEQ_LENGTH)
    shift_rows: bool | None = None  # --stream: rows start at a random offset each epoch (None: yes in a stream run)
    reverse: bool = False  # read each item right to left: the model learns P(last char), then the one before ...


# data fields added with --stream and --reverse: runs written before may lack them
DATA_ADDED_LATER = {"stream", "seq_length", "shift_rows", "reverse"}
# config.json's "stream" section of a --stream run: the lengths of its cached streams and its vocabulary size
STREAM_SECTION = {"train_chars": "int", "val_chars": "int", "vocab_size": "int"}


def check_stream(config: dict[str, Any], where: str) -> dict[str, Any]:
    """The data fields and "stream" section of a --stream run's config.json (`where` names the file)."""
    data = config["data"]
    if data["data"] == SURNAMES or data.get("dedupe"):
        raise RnnkitError(f"{where}: data: a stream run reads a text file as it is (not surnames, no dedupe)")
    if not isinstance(data.get("seq_length"), int) or data["seq_length"] < 1:
        raise RnnkitError(
            f"{where}: data.seq_length: expected an int >= 1 in a stream run, got {data.get('seq_length')!r:.40}"
        )
    if "stream" not in config:
        raise RnnkitError(f"{where}: missing stream (a --stream run's section)")
    section = check_fields(config["stream"], STREAM_SECTION, f"{where}: stream")
    if section["train_chars"] < 2 or section["val_chars"] < 0 or section["vocab_size"] < 2:
        raise RnnkitError(
            f"{where}: stream: train_chars >= 2, val_chars >= 0 and vocab_size >= 2 expected, got {section}"
        )
    return section


# The defaults of a --stream run where they differ from a list's, put over ModelConfig's and TrainConfig's like a
# preset (flags given, and a --preset's settings, still win). Measured: README, Free text, "Choosing the defaults".
STREAM_DEFAULTS: dict[str, dict] = {"train": {"batch_size": 32}}

# Named presets for `rnnkit text train --preset NAME`: settings put over the defaults of ModelConfig and TrainConfig
# (flags given explicitly still win). The README's Quality section has the runs behind them.
PRESETS: dict[str, dict[str, dict]] = {
    "best": {"model": {"weight_drop": 0.3}, "train": {"ema_decay": 0.999}},
}
