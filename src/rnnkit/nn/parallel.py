"""Threads: BLAS threads for the big matrix products, and the batch split over threads in the time loops.

The rows of a batch never meet inside a recurrent layer: row b of h_t depends only on row b of x_t and of
h_{t-1}. So the loop over time can run on slices of the batch at once, one slice per thread. NumPy releases the
GIL inside its matrix products and elementwise loops, so the threads really do run side by side, and BLAS is held
at one thread meanwhile so that they do not fight over the cores. The products outside the loops (the input
projection and the weight gradients, one GEMM each over all steps) keep all n BLAS threads.

    with nn.threads(2):   # what `rnnkit ... --threads 2` does
        model.forward(...)

Outside `threads(n)` everything runs in the calling thread, with whatever BLAS threads the library chose.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

MIN_ROWS = 8  # a slice of fewer rows is not worth a thread

_workers = 1
_pools: dict[int, ThreadPoolExecutor] = {}
_controller = None


def _blas():
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """Use n threads inside the block: n BLAS threads, and time loops split n ways over the batch."""
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    global _workers
    previous = _workers
    _workers = n
    try:
        with _blas().limit(limits=n, user_api="blas"):
            yield
    finally:
        _workers = previous


def batch_slices(batch_size: int) -> list[slice]:
    """The slices of range(batch_size) the time loops run on: one per thread, each at least MIN_ROWS rows."""
    n = max(1, min(_workers, batch_size // MIN_ROWS))
    bounds = [batch_size * k // n for k in range(n + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def over_batch(loop: Callable[[slice], None], batch_size: int) -> None:
    """Call loop(rows) for slices of the batch that together cover it, in parallel threads when allowed."""
    slices = batch_slices(batch_size)
    if len(slices) == 1:
        loop(slices[0])
        return
    pool = _pools.get(len(slices))
    if pool is None:
        pool = _pools[len(slices)] = ThreadPoolExecutor(len(slices), thread_name_prefix="rnnkit")
    with _blas().limit(limits=1, user_api="blas"):
        for future in [pool.submit(loop, rows) for rows in slices]:
            future.result()  # re-raises an exception from the thread
