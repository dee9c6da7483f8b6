"""Let the process keep the memory it frees, so a training step reuses last step's buffers.

A training step allocates the same few arrays every time: the gates, the caches, their gradients, 5 to 20 MB
each at torch-rnn's sizes. glibc's malloc hands freed memory at the top of its heap back to the operating system
once more than its trim threshold is free (a few MB by default), so the next step gets fresh pages, and the
kernel zeroes each 4 KB page on first touch. benchmarks/memory.py measures it in fresh processes: at torch-rnn's
sizes about 1,000-4,000 page faults per step without, none with, and training about 1.2x faster; the default
name model, whose batches are short, gains nothing. Raising the trim threshold keeps up to `keep_mib` of freed
memory for reuse, and raising the mmap threshold to glibc's largest lets buffers up to 32 MB come from that heap
rather than from fresh mappings.

The command line does this for itself; a program that drives the engine directly can call
`reuse_freed_memory()` once. It changes the whole process's malloc, which is why the engine does not do it on
import. Elsewhere than glibc (macOS, Windows, musl) it does nothing and returns False.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
MMAP_THRESHOLD_MAX = 32 << 20  # the largest mmap threshold glibc accepts on 64-bit machines


def reuse_freed_memory(keep_mib: int = 512) -> bool:
    """Have glibc's malloc keep up to keep_mib MiB of freed memory and serve buffers up to 32 MB from its heap.

    Returns True when both settings took effect.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library this process already uses
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    keep = min(keep_mib, 2047) << 20  # bytes, within mallopt's int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(mallopt(M_TRIM_THRESHOLD, keep))


# -- estimates: refuse work that cannot fit before allocating it ---------------------------------------------------
def available_bytes() -> int:
    """Memory this process could still take: MemAvailable on Linux, else the physical memory."""
    import os

    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: refuse nothing


def gib(nbytes: float) -> str:
    """A size for people: '298 GiB', '1.2 GiB', '37 MiB'."""
    if nbytes >= 10 * 2**30:
        return f"{nbytes / 2**30:,.0f} GiB"
    if nbytes >= 2**30:
        return f"{nbytes / 2**30:.1f} GiB"
    return f"{nbytes / 2**20:,.0f} MiB"


HEADROOM = 0.8  # share of the available memory an estimate may take: estimates are rough, other programs run too


def require_memory(nbytes: float, what: str) -> None:
    """Raise RnnkitError when `what` would need more than HEADROOM of the available memory, with the estimate."""
    from rnnkit.errors import RnnkitError

    available = available_bytes()
    if nbytes > HEADROOM * available:
        raise RnnkitError(f"{what} would need about {gib(nbytes)} of memory; {gib(available)} is available")


def recurrent_model_bytes(
    cell: str, vocab_size: int, embedding_size: int, hidden_size: int, num_layers: int, training: bool = True
) -> int:
    """float32 bytes of the character model Embedding -> cell stack -> Linear: its weights, and for training
    their gradients, Adam's two moments and the checkpoint's copy (five copies in all), plus the float64 draws
    that initialise the weights."""
    gates = {"rnn": 1, "gru": 3}.get(cell, 4)
    params = vocab_size * embedding_size + hidden_size * vocab_size + vocab_size
    params += vocab_size * gates * hidden_size  # the input table E W_ih^T + b
    params += gates * hidden_size * (embedding_size + hidden_size + 2)  # the first layer
    params += (num_layers - 1) * gates * hidden_size * (2 * hidden_size + 2)  # the layers above read h
    return 4 * params * (5 if training else 1) + 8 * params


def recurrent_batch_bytes(cell: str, vocab_size: int, hidden_size: int, num_layers: int, steps: int, batch: int) -> int:
    """float32 bytes one forward and backward pass over a (steps, batch) batch holds: the cache of every layer
    (gates, states), the logits with their gradient and the float64 copy the loss takes."""
    gates = {"rnn": 1, "gru": 3}.get(cell, 4)
    per_position = num_layers * (3 * gates + 4) * hidden_size + 2 * hidden_size + 4 * vocab_size
    return 4 * per_position * steps * batch
