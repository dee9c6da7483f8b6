"""What keeping freed memory (`rnnkit.memory.reuse_freed_memory`) is worth: each row trains in two fresh
processes, one with glibc's default malloc settings and one with freed memory kept, and the table shows
characters per second and page faults per training step.

    python benchmarks/memory.py                       # lstm-128 and names, one thread
    python benchmarks/memory.py --rows lstm-512 --threads 2

Fresh processes matter: torch's allocations change glibc's thresholds too, so engine.py's shared process
cannot show the difference.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _child(row_name: str, threads: int, keep: bool, seconds: float) -> None:
    import engine
    from threadpoolctl import threadpool_limits

    from rnnkit.memory import reuse_freed_memory

    if keep:
        assert reuse_freed_memory()
    row = {r.name: r for r in engine.rows()}[row_name]
    vocab_size = len(engine.name_vocab()[0])
    data = engine.batches(row, vocab_size, count=64)
    trainer = engine.RnnkitTrainer(row, vocab_size)
    with threadpool_limits(threads):
        trainer.step(data[0])  # compile or load the kernels
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        chars, elapsed, steps = engine._timed_block(trainer.step, data, seconds)
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    print(json.dumps({"chars_s": chars / elapsed, "faults_per_step": faults / steps}))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", nargs="*", default=["lstm-128", "names"], help="engine.py row names")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seconds", type=float, default=5.0, help="training time per process")
    p.add_argument("--child", nargs=3, metavar=("ROW", "THREADS", "KEEP"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        _child(args.child[0], int(args.child[1]), args.child[2] == "keep", args.seconds)
        return 0
    print(f"threads: {args.threads}\n")
    print("| row | default chars/s | faults/step | kept chars/s | faults/step | speed-up |")
    print("|---|---|---|---|---|---|")
    for row in args.rows:
        res = {}
        for mode in ("default", "keep"):
            cmd = [sys.executable, __file__, "--child", row, str(args.threads), mode, "--seconds", str(args.seconds)]
            res[mode] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        d, k = res["default"], res["keep"]
        print(
            f"| {row} | {d['chars_s']:,.0f} | {d['faults_per_step']:,.0f} | {k['chars_s']:,.0f} | "
            f"{k['faults_per_step']:,.0f} | {k['chars_s'] / d['chars_s']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
