"""A training or evaluation batch, as every application hands it to an engine."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Batch:
    """Token ids in, next tokens out, time-major.

    carry: a stream's batch, which starts from the state the previous carried batch left (detached, so the
    gradient stops at the batch's edge: truncated BPTT) and leaves its own final state for the next one.
    The engine keeps that state (`Engine.carried_state`), one row per batch row.
    """

    inputs: np.ndarray  # (T, B) int64
    targets: np.ndarray  # (T, B) int64
    mask: np.ndarray | None = None  # (T, B) bool, True where a target counts; None: every target counts
    carry: bool = False
    total: int | None = None  # targets in the global batch this is one rank's share of (see distributed.shard)
    context: np.ndarray | None = None  # (T, B, C) dense features beside each input (TokenModel's context), or None

    @property
    def targets_counted(self) -> int:
        """Targets that count in this batch."""
        return int(self.targets.size if self.mask is None else self.mask.sum())

    @property
    def global_targets(self) -> int:
        """Targets that count in the global batch: what the mean loss divides by on every rank."""
        return self.targets_counted if self.total is None else self.total
