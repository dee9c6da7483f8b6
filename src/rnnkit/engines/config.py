"""Which engine trains, on which device, in which precision: settings kept free of numpy and torch.

The command line builds its --engine, --device and --precision flags from here, and `rnnkit --help` stays quick
because nothing here imports a numerical library.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, fields

from rnnkit.errors import RnnkitError

ENGINES = ("numpy", "torch")
PRECISIONS = ("fp32", "bf16", "fp64")
TORCH_MISSING = "--engine torch needs PyTorch, which is not installed: pip install 'rnnkit[torch]'"

HELP = {
    "engine": "numpy (rnnkit's own, any CPU) or torch (torch.nn on a GPU or CPU; data-parallel under torchrun)",
    "device": "torch engine: auto (a GPU when one is visible), cpu, cuda (under torchrun: cuda:LOCAL_RANK) or cuda:N",
    "precision": "fp32, bf16 (torch engine on CUDA: autocast to bfloat16) or fp64 (float64 throughout, for checks)",
}


@dataclass(frozen=True)
class EngineConfig:
    engine: str = "numpy"  # numpy | torch
    device: str = "auto"  # auto | cpu | cuda | cuda:N (torch engine)
    precision: str = "fp32"  # fp32 | bf16 (CUDA autocast) | fp64

    def validate(self) -> None:
        """Refuse what no engine can do, before anything is imported or written."""
        if self.engine not in ENGINES:
            raise RnnkitError(f"--engine must be numpy or torch, got {self.engine!r}")
        if not re.fullmatch(r"auto|cpu|cuda|cuda:\d+", self.device):
            raise RnnkitError(f"--device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        if self.precision not in PRECISIONS:
            raise RnnkitError(f"--precision must be fp32, bf16 or fp64, got {self.precision!r}")
        if self.engine == "numpy":
            if self.device not in ("auto", "cpu"):
                raise RnnkitError(f"--device {self.device} needs --engine torch (the numpy engine runs on the CPU)")
            if self.precision == "bf16":
                raise RnnkitError("--precision bf16 needs --engine torch on a CUDA device")


def add_engine_args(group: argparse._ArgumentGroup) -> None:
    """--engine, --device, --precision. A flag left out is absent from the parsed args (argparse.SUPPRESS), so a
    resumed run keeps what it was trained with unless the flag is given."""
    metavars = {"engine": "{numpy,torch}", "device": "{auto,cpu,cuda,cuda:N}", "precision": "{fp32,bf16,fp64}"}
    for f in fields(EngineConfig):
        group.add_argument(
            "--" + f.name,
            default=argparse.SUPPRESS,
            metavar=metavars[f.name],
            help=f"{HELP[f.name]} (default: {f.default}; on --resume: the run's own)",
        )


def engine_overrides(args: argparse.Namespace) -> dict[str, str]:
    """The engine flags given on the command line (those left out are None and fall back)."""
    return {f.name: getattr(args, f.name) for f in fields(EngineConfig) if getattr(args, f.name, None) is not None}


def resolve_engine(stored: dict | None = None, overrides: dict | None = None) -> EngineConfig:
    """`overrides` (flags given) over `stored` (a resumed run's config) over the defaults; validated."""
    names = {f.name for f in fields(EngineConfig)}
    values = {k: v for k, v in (stored or {}).items() if k in names}
    values.update(overrides or {})
    config = EngineConfig(**values)
    config.validate()
    return config
