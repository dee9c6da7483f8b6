"""Seconds per training step of a name-model (or --stream text) configuration, and how many steps a time budget fits.

A machine shared with other work trains fewer steps in `--max-time` than a quiet one. To compare configurations
by what a quiet machine would train in a budget, time each one once here (median over --steps steps after a
warm-up that compiles the kernels), then train it by `--max-steps` set to the steps this prints:

    python benchmarks/step_time.py --data ../shared/data/bench/names.train.txt --steps 80 \
        -- --num-layers 2 --weight-drop 0.3          # any `rnnkit text train` model/training flag after --

Each step is timed twice: wall-clock and the process's CPU time. With one thread the two agree on a quiet
machine; on a loaded one the wall time grows with the load while the CPU time stays close to the quiet figure, so
the steps are fitted to the CPU time (the wall time and the 1-minute load average are printed beside it). With
--threads above 1 the CPU time sums the threads, so the steps are fitted to the wall time: time those on a quiet
machine. The fitted steps use the Trainer's own rule for `--max-time`: 90% of the budget, leaving room for
evaluations. A text file with `-- --stream` times the stream mode's carried (T, B) batches.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

from rnnkit import cli
from rnnkit.memory import reuse_freed_memory


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        argv, extra = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="training file, one name per line")
    p.add_argument("--steps", type=int, default=80, help="steps timed after the warm-up (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=10, help="steps run first and not timed (default: %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default: %(default)s)")
    p.add_argument("--budgets", type=float, nargs="+", default=[600, 1800], help="seconds to fit steps to")
    args = p.parse_args(argv)

    from threadpoolctl import threadpool_limits

    from rnnkit.rundir import RunDir
    from rnnkit.text import stream
    from rnnkit.text import train as text

    argv = ["text", "train", "--data", args.data, *extra]
    parser = cli.build_parser()
    train_args = parser.parse_args(argv)
    train_args.given_options = cli.given_options(parser, argv)  # as `rnnkit text train` sees them
    model, train_config, data = cli.text_configs(train_args)  # --preset included
    reuse_freed_memory()
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(limits=args.threads):
        config = {"model": vars(model), "train": vars(train_config), "data": vars(data)}
        config = {k: dict(v) for k, v in config.items()}
        if data.stream:  # a text file read as one stream: the StreamTask's carried (T, B) batches
            data = stream._check(data)
            config["data"] = vars(data)
            train_ids, val_ids, vocab = stream.read_streams(data)
            trainer = stream.build(RunDir(tmp), config, vocab, train_ids, val_ids)
        else:
            trainer, *_ = text.build(RunDir(tmp), config)
        times, cpu_times = [], []
        for k in range(args.warmup + args.steps):
            start, cpu_start = time.perf_counter(), time.process_time()
            trainer.engine.forward_backward(trainer.task.next_batch(), k)  # what the Trainer does each step
            trainer.engine.update(train_config.lr)
            if getattr(trainer, "ema", None) is not None:  # getattr: also times checkouts from before the EMA
                trainer.ema.update(trainer.engine.export_params())
            if k >= args.warmup:
                times.append(time.perf_counter() - start)
                cpu_times.append(time.process_time() - cpu_start)
    # One thread: the CPU time, which load barely moves. More threads: the process's CPU time sums the threads'
    # (and counts their spinning), so the wall time is the figure, and it is only right on a quiet machine.
    per_step = statistics.median(cpu_times if args.threads == 1 else times)
    result = {
        "data": args.data,
        "cpu_s_per_step": float(f"{per_step:.6g}"),  # 6 significant digits: fitted_steps reads the same value
        "wall_s_per_step": float(f"{statistics.median(times):.6g}"),
        "fitted_steps": {f"{b:g}": int(0.9 * b / per_step) for b in args.budgets},
        "load_1min": round(os.getloadavg()[0], 2),
        "threads": args.threads,
        "extra_flags": extra,
        "model": vars(model),  # as resolved from the flags and any --preset
        "ema_decay": train_config.ema_decay,
        "machine": f"{platform.machine()} {platform.python_version()} {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "numpy": np.__version__,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
