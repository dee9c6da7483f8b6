"""Where a NumPy-engine training step spends its time: a cProfile of the default model's steps, per function.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/step_profile.py --threads 2
    .venv/bin/python benchmarks/step_profile.py --config names --threads 1 --top 20
    .venv/bin/python benchmarks/step_profile.py --products          # the recurrent product's two orientations

The steps are `engines.py`'s (the same batches, forward_backward then update), on one engine, under the memory
reuse the command line sets up. Each line is a function's own time (cProfile's tottime) in ms per step: a NumPy
matrix product counts in the Python function that calls it (the time loops `_fused_loop` and `backward`), and
every compiled kernel has its own line. cProfile adds a little to each of the ~400 calls a stream step makes, so
the step time it prints is slightly above `engines.py`'s.

--products times the LSTM's two per-step products both ways, in us: backward's dL/dh_{t-1} = dz_t W_hh
(B, 4H) (4H, H) as written and as its transpose W_hh^T dz_t^T with the long side first (what `nn.LSTM.backward`
does), and the forward's h_{t-1} W_hh^T as written and as W_hh h_{t-1}^T plus the kernel's transpose back (what
`nn.LSTM` does up to 32 rows), at 32 and 64 rows; then the three products of a stream step as rnnkit computes
them, each beside the same product in torch (whose CPU build multiplies with MKL), at --threads.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time

import numpy as np
from engines import BATCH_SIZES, CONFIGS, EngineStep  # benchmarks/engines.py, beside this script
from threadpoolctl import threadpool_limits

from rnnkit.config import TrainConfig
from rnnkit.engines.config import EngineConfig
from rnnkit.lm.config import ModelConfig
from rnnkit.memory import reuse_freed_memory


def profile(config: str, steps: int, top: int) -> None:
    B = BATCH_SIZES[config]
    vocab_size, data = CONFIGS[config](B, 16)
    step = EngineStep(EngineConfig(), ModelConfig(), TrainConfig(batch_size=B), vocab_size)
    for batch in data[:3]:  # compile the kernels
        step(batch)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for k in range(steps):
        step(data[k % len(data)])
    profiler.disable()
    per_step = (time.perf_counter() - start) / steps
    print(f"{config}, {B} rows: {per_step * 1e3:.1f} ms a step under cProfile")
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (calls, _, tottime, cumtime, _)
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])[:top]
    for (file, line, name), (calls, _, tottime, _, _) in rows:
        where = f"{file.split('/src/')[-1]}:{line}" if "/src/" in file else file
        print(f"{tottime / steps * 1e3:8.2f} ms  {calls // steps:5d} calls  {name}  ({where})")


def products(threads: int, B: int = 32, H: int = 512, T: int = 100, repeats: int = 400) -> None:
    """The LSTM's three products of a 32-row stream step, in NumPy's BLAS and in torch's (MKL on x86), in us."""
    import torch

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    W_hh = rng.standard_normal((4 * H, H), dtype=np.float32)
    W_t = np.ascontiguousarray(W_hh.T)  # (H, 4H)
    h = rng.standard_normal((B, H), dtype=np.float32)
    dz = rng.standard_normal((B, 4 * H), dtype=np.float32)
    dz_all = rng.standard_normal((T * B, 4 * H), dtype=np.float32)  # every position's dL/dz
    h_all = rng.standard_normal((T * B, H), dtype=np.float32)  # every position's h_{t-1}
    dh, dh_t = np.empty((B, H), np.float32), np.empty((H, B), np.float32)
    dW = np.empty((4 * H, H), np.float32)
    tW_hh, th, tdz, tdz_all, th_all = (torch.from_numpy(a) for a in (W_hh, h, dz, dz_all, h_all))

    def timed(f, n: int = repeats) -> float:
        f()
        start = time.perf_counter()
        for _ in range(n):
            f()
        return (time.perf_counter() - start) / n * 1e6

    as_written = timed(lambda: np.matmul(dz, W_hh, out=dh))
    transposed = timed(lambda: np.matmul(W_t, dz.T, out=dh_t))
    print(f"B={B} H={H}: dz W_hh {as_written:.0f} us, W_hh^T dz^T {transposed:.0f} us")
    for rows in (B, 2 * B):
        forward_both_ways(W_hh, W_t, rng.standard_normal((rows, H), dtype=np.float32), timed)
    rec_t = np.empty((4 * H, B), np.float32)
    rows = [
        ("W_hh h^T (forward, each step)", lambda: np.matmul(W_hh, h.T, out=rec_t), lambda: th @ tW_hh.T, repeats),
        ("dz W_hh (backward, each step)", lambda: np.matmul(W_t, dz.T, out=dh_t), lambda: tdz @ tW_hh, repeats),
        (f"dz^T h over {T * B} positions (dW_hh)", lambda: np.matmul(dz_all.T, h_all, out=dW),
         lambda: tdz_all.T @ th_all, 10),
    ]  # fmt: skip
    for name, ours, theirs, n in rows:
        print(f"{name}: numpy {timed(ours, n):.0f} us, torch {timed(theirs, n):.0f} us ({threads} thread(s))")


def forward_both_ways(W_hh: np.ndarray, W_t: np.ndarray, h: np.ndarray, timed) -> None:
    """The forward's h W_hh^T (B, 4H) as written, and as W_hh h^T (4H, B) plus the kernel's transpose back, in us."""
    from rnnkit import kernels

    B, H = h.shape
    rec, rec_t = np.empty((B, 4 * H), np.float32), np.empty((4 * H, B), np.float32)
    as_written = timed(lambda: np.matmul(h, W_t, out=rec))
    transposed = timed(lambda: np.matmul(W_hh, h.T, out=rec_t))
    back = timed(lambda: kernels.transpose(rec_t, rec))
    print(f"B={B} H={H}: h W_hh^T {as_written:.0f} us, W_hh h^T {transposed:.0f} us + transpose {back:.0f} us")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=list(CONFIGS), default="stream", help="engines.py's batches")
    p.add_argument("--steps", type=int, default=20, help="steps profiled after three warm-up steps")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default: %(default)s)")
    p.add_argument("--top", type=int, default=14, help="functions shown")
    p.add_argument(
        "--products", action="store_true", help="time the LSTM's products instead (both ways; numpy and torch)"
    )
    args = p.parse_args(argv)
    reuse_freed_memory()  # as the rnnkit command line runs
    with threadpool_limits(args.threads):
        if args.products:
            products(args.threads)
        else:
            profile(args.config, args.steps, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
