"""The name model's data settings, kept free of numpy so the command line can build its flags from them quickly.

The network's shape is the core's `rnnkit.lm.config.ModelConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass

SURNAMES = "surnames"  # the bundled data set


@dataclass(frozen=True)
class DataConfig:
    data: str = SURNAMES  # "surnames" (bundled) or a path to a UTF-8 file, one item per line
    val_data: str | None = None  # a separate validation file, instead of a split
    val_fraction: float = 0.1  # of the data held out for validation (at most max_val items)
    max_val: int = 1000
    dedupe: bool = False


# Named presets for `rnnkit text train --preset NAME`: settings put over the defaults of ModelConfig and TrainConfig
# (flags given explicitly still win). The README's Quality section has the runs behind them.
PRESETS: dict[str, dict[str, dict]] = {
    "best": {"model": {"weight_drop": 0.3}, "train": {"ema_decay": 0.999}},
}
