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
