"""Free-text speed: reading a large text into ids, and drawing characters one at a time at batch 1.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/text_stream.py \
        ../shared/data/bench/tinyshakespeare.txt --mb 100 --chars 10000 --threads 1

Preprocessing: the text is repeated into a temporary file of --mb megabytes (enwik8's size by default) and read
by `rnnkit.text.stream.read_stream`, as `rnnkit text train --stream` does: seconds, MB/s, the id type, and how
much the peak resident memory rose; with --train-steps N, also the peak memory of `rnnkit text train --stream`
(the default model) on that file for N steps, in a child process. Generation: `TextGenerator.sample` at batch 1
with the default text model (untrained, over the text's characters, or the run given with --run), the median
chars/s of --repeats runs.
Targets in issue 14: 100 MB in under 60 s; training in under 1 GB; at least 10,000 characters/s. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from rnnkit.lm.config import ModelConfig
from rnnkit.lm.model import TokenModel
from rnnkit.memory import reuse_freed_memory
from rnnkit.text.stream import TextGenerator, read_stream
from rnnkit.text.train import load


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def write_big(text_path: str, mb: float, big: Path) -> int:
    """`big`: the text repeated to `mb` megabytes; returns the bytes written."""
    piece = Path(text_path).read_bytes()
    target = int(mb * 1e6)
    with open(big, "wb") as f:
        written = 0
        while written < target:
            f.write(piece[: target - written])
            written += min(len(piece), target - written)
    return written


def training_rss(big: Path, steps: int, threads: int) -> dict:
    """Peak resident memory of `rnnkit text train --stream` (the default model) on `big` for `steps` steps.

    A child process, so its peak is its own (RUSAGE_CHILDREN); 1% of the stream validates, so the one evaluation
    at the end stays short (the default 10% of 100 MB is 10 MB to read).
    """
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "rnnkit", "text", "train", "--data", str(big), "--stream", "--quiet"]
        argv += ["--max-steps", str(steps), "--eval-every", str(steps), "--val-fraction", "0.01", "--num-samples", "0"]
        argv += ["--threads", str(threads), "--out", str(Path(tmp) / "run")]
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    return {"steps": steps, "seconds": round(seconds, 1), "peak_rss_mb": round(peak, 1)}


def preprocessing(text_path: str, mb: float, train_steps: int = 0, threads: int = 1) -> dict:
    """Seconds to read a file of `mb` megabytes (the text repeated) into ids, and the memory it took; with
    train_steps, also the peak memory of training the default model on it."""
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.txt"
        written = write_big(text_path, mb, big)
        before = peak_rss_mb()
        start = time.perf_counter()
        ids, vocab = read_stream(big)
        seconds = time.perf_counter() - start
        training = training_rss(big, train_steps, threads) if train_steps else None
    return {
        "mb": round(written / 1e6, 1),
        "seconds": round(seconds, 2),
        "mb_per_s": round(written / 1e6 / seconds, 1),
        "chars": len(ids),
        "dtype": str(ids.dtype),
        "vocab_size": len(vocab),
        "peak_rss_rise_mb": round(peak_rss_mb() - before, 1),
        "training": training,
    }


def generation(text_path: str, run: str | None, chars: int, repeats: int) -> dict:
    """Median characters per second of TextGenerator.sample at batch 1 (the default model unless --run)."""
    if run is not None:
        gen, source = load(run), run
    else:
        _, vocab = read_stream(text_path)
        gen, source = TextGenerator(TokenModel(ModelConfig(), len(vocab), seed=0), vocab), "untrained default"
    gen.sample(length=50, seed=0)  # compiles (or loads) the kernels
    rates = []
    for r in range(repeats):
        start = time.perf_counter()
        gen.sample(length=chars, seed=r)
        rates.append(chars / (time.perf_counter() - start))
    return {"model": source, "chars": chars, "chars_per_s": round(statistics.median(rates)), "runs": repeats}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("text", help="a UTF-8 text file (e.g. ../shared/data/bench/tinyshakespeare.txt)")
    p.add_argument("--mb", type=float, default=100, help="size of the file read, in MB (default: %(default)s)")
    p.add_argument("--chars", type=int, default=10_000, help="characters drawn per run (default: %(default)s)")
    p.add_argument("--repeats", type=int, default=5, help="generation runs (default: %(default)s)")
    p.add_argument("--run", help="a --stream run directory to sample from (default: an untrained default model)")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default: %(default)s)")
    p.add_argument("--no-preprocessing", action="store_true", help="only the generation speed")
    p.add_argument(
        "--train-steps",
        type=int,
        default=0,
        help="also train the default model on the big file for this many steps and report its peak memory",
    )
    args = p.parse_args(argv)
    reuse_freed_memory()  # as the command line does
    from threadpoolctl import threadpool_info

    kernel = ", ".join(f"{i.get('internal_api')} {i.get('architecture')}" for i in threadpool_info())
    with threadpool_limits(limits=args.threads):
        result = {
            "preprocessing": None
            if args.no_preprocessing
            else preprocessing(args.text, args.mb, args.train_steps, args.threads),
            "generation": generation(args.text, args.run, args.chars, args.repeats),
        }
    result.update(
        threads=args.threads,
        blas=kernel,
        machine=f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}".strip(),
        date=time.strftime("%Y-%m-%d"),
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
