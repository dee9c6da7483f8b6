"""Data-parallel training, kept in one place as nanoGPT keeps it: who am I, what is my share, agree on a stop.

torchrun starts one process per device and tells each where it stands through the environment:
RANK (0 .. WORLD_SIZE-1 over all machines), LOCAL_RANK (the device on this machine) and WORLD_SIZE. Every rank
draws the same global batch from the same seeded batcher (the global batch is --batch-size x WORLD_SIZE rows)
and keeps rows rank, rank + W, rank + 2W, ...: its own share, so a stream's carried state never crosses ranks.
Rank 0 alone writes the run directory. Nothing here imports torch until a process group is started.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np

from rnnkit.engines.batch import Batch
from rnnkit.errors import RnnkitError


@dataclass(frozen=True)
class World:
    rank: int = 0
    local_rank: int = 0
    size: int = 1

    @property
    def master(self) -> bool:
        return self.rank == 0


def world_from_env(environ=os.environ) -> World:
    """Where this process stands, from the variables torchrun sets (one process when they are absent)."""
    try:
        size = int(environ.get("WORLD_SIZE", "1"))
        rank = int(environ.get("RANK", "0"))
        local_rank = int(environ.get("LOCAL_RANK", "0"))
    except ValueError:
        raise RnnkitError("RANK, LOCAL_RANK and WORLD_SIZE must be integers (torchrun sets them)") from None
    if size < 1 or not 0 <= rank < size:
        raise RnnkitError(f"RANK {rank} is outside WORLD_SIZE {size}")
    return World(rank, local_rank, size)


def shard(batch: Batch, world: World) -> Batch:
    """This rank's rows of a global batch: columns rank::size, cut to the longest of them (names are padded).

    The result's `total` is the global batch's number of targets, so every rank scales its loss alike.
    """
    if world.size == 1:
        return batch
    cols = slice(world.rank, None, world.size)
    inputs, targets = batch.inputs[:, cols], batch.targets[:, cols]  # (T, B/W) each
    mask = None if batch.mask is None else batch.mask[:, cols]
    context = None if batch.context is None else batch.context[:, cols]  # (T, B/W, C)
    if mask is not None and mask.shape[1]:
        T = int(mask.sum(axis=0).max())  # masks are True on a prefix of each column
        inputs, targets, mask = inputs[:T], targets[:T], mask[:T]
        context = None if context is None else context[:T]
    return replace(batch, inputs=inputs, targets=targets, mask=mask, context=context, total=batch.global_targets)


def start(world: World, device: str):
    """Join the process group (nccl on CUDA, gloo on the CPU); returns torch.distributed."""
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return dist


def stop() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


def interleave(parts: list[np.ndarray]) -> np.ndarray:
    """Each rank's rows (B/W, ...), in rank order -> the global batch's rows (B, ...): row i is rank i % W's."""
    W = len(parts)
    out = np.empty((sum(len(p) for p in parts), *parts[0].shape[1:]), dtype=parts[0].dtype)
    for r, part in enumerate(parts):
        out[r::W] = part
    return out


def own_rows(rows: np.ndarray, world: World) -> np.ndarray:
    """This rank's rows of the global batch's (B, ...): the inverse of `interleave` for one rank."""
    return rows[world.rank :: world.size]
