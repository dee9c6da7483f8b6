"""Free-text quality: train a --stream model on the first 90% of a text file, report NLL on the last 10%.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/text_quality.py \
        ../shared/data/bench/tinyshakespeare.txt --max-time 600 --threads 2

The split is nanoGPT's for shakespeare_char: the first int(0.9 N) characters train, the rest test (for
tiny-shakespeare 1,003,854 and 111,540). The test part is also the validation stream printed while training
(as nanoGPT reports its val loss); the figure reported, test_nll, is the final weights' loss on it (with
--ema-decay, the final moving average of the weights, which is what the run evaluates and saves; the raw
weights' is test_nll_raw), read
with the state carried (`rnnkit text eval`), so no choice was made by looking at the test part. Any
`rnnkit text train` flag after `--` is passed through (e.g. `-- --hidden-size 256 --dropout 0.2`); without
them the run uses rnnkit's defaults. Prints one JSON line, with a sample of the final model.

Runs already trained on that split: `--members RUN [RUN ...]` trains nothing and reads the test part with each
run's final weights alone and with all of them together (the mixture of their next-character distributions, as
`rnnkit text eval RUN RUN ...` reads an ensemble), in one JSON line:

    .venv/bin/python benchmarks/text_quality.py ../shared/data/bench/tinyshakespeare.txt \
        --members runs/shake-s0 runs/shake-s1
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

from rnnkit import cli
from rnnkit.rundir import RunDir
from rnnkit.text.stream import TextGenerator, read_stream
from rnnkit.text.train import load


def blas() -> str:
    """The BLAS NumPy runs on and the kernel it chose, as threadpoolctl reports them."""
    from threadpoolctl import threadpool_info

    info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return ", ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}" for i in info) or "?"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        argv, extra = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("text", help="a UTF-8 text file (e.g. ../shared/data/bench/tinyshakespeare.txt)")
    p.add_argument(
        "--max-time", type=float, default=600, help="training seconds, 0: by --max-steps after -- (default: 600)"
    )
    p.add_argument("--threads", type=int, default=2, help="BLAS threads (default: %(default)s)")
    p.add_argument("--test-fraction", type=float, default=0.1, help="the last part tested (default: %(default)s)")
    p.add_argument("--prime", default="\n", help="start of the sample printed (default: a newline)")
    p.add_argument("--sample-length", type=int, default=500, help="characters sampled (default: %(default)s)")
    p.add_argument("--out", help="run directory (default: runs/bench-<text>-<timestamp>)")
    p.add_argument(
        "--members", nargs="+", metavar="RUN", help="train nothing: the test NLL of each run and of their ensemble"
    )
    args = p.parse_args(argv)
    text = Path(args.text).read_text(encoding="utf-8")
    split = int(len(text) * (1 - args.test_fraction))
    if args.members:
        if args.out or extra:
            p.error("--out and flags after -- cannot apply with --members (which trains nothing)")
        return evaluate_members(args.members, text[split:], args.threads)
    out = args.out or f"runs/bench-{Path(args.text).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    with tempfile.TemporaryDirectory() as tmp:  # the two parts, outside the repository
        train_file, test_file = Path(tmp) / "train.txt", Path(tmp) / "test.txt"
        train_file.write_text(text[:split], encoding="utf-8")
        test_file.write_text(text[split:], encoding="utf-8")
        train_argv = ["text", "train", "--data", str(train_file), "--stream", "--val-data", str(test_file)]
        train_argv += ["--out", out, "--threads", str(args.threads), "--quiet"]
        train_argv += ["--max-time", str(args.max_time)] if args.max_time > 0 else []  # 0: by --max-steps alone
        start = time.perf_counter()
        code = cli.main([*train_argv, *extra])
        if code != 0:
            return code
        wall = time.perf_counter() - start
        gen = load(out)
        test_ids, _ = read_stream(test_file, gen.vocab)
        arrays, _ = RunDir(out).load_checkpoint()
        raw = None
        if averaged(arrays):  # --ema-decay: the raw weights' loss too
            gen.model.load_params(final_weights(arrays, raw=True))
            raw = round(gen.evaluate_ids(test_ids)["nll"], 4)
        gen.model.load_params(final_weights(arrays))
        result = gen.evaluate_ids(test_ids)
    sample = gen.sample(prime=args.prime, length=args.sample_length, seed=0)[0]
    metrics = RunDir(out).read_metrics()
    config = RunDir(out).read_config()
    print(
        json.dumps(
            {
                "text": args.text,
                "train_chars": split,
                "test_chars": len(text) - split,
                "test_nll": round(result["nll"], 4),
                "test_bpc": round(result["bpc"], 4),
                "test_nll_raw": raw,  # with --ema-decay: the final raw weights' (test_nll is the average's)
                "best_val_nll": round(min(m["val_loss"] for m in metrics if m["val_loss"] is not None), 4),
                "steps": metrics[-1]["step"],
                "train_seconds": round(metrics[-1]["elapsed"], 1),
                "chars_per_s": metrics[-1]["targets_per_s"],
                "wall_seconds": round(wall, 1),
                "threads": args.threads,
                "model": config["model"],
                "seq_length": config["data"]["seq_length"],
                "batch_size": config["train"]["batch_size"],
                "extra_flags": extra,
                "blas": blas(),
                "machine": f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}".strip(),
                "date": time.strftime("%Y-%m-%d"),
                "run": out,
                "sample": sample,
            },
            ensure_ascii=False,
        )
    )
    return 0


def averaged(arrays: dict) -> bool:
    """Whether a checkpoint keeps a moving average of the weights (--ema-decay)."""
    return any(k.startswith("ema.average.") for k in arrays)


def final_weights(arrays: dict, raw: bool = False) -> dict:
    """A run's final weights from its last checkpoint, not the ones the test part picked (it is also the
    validation stream): with --ema-decay the moving average, or with raw=True the raw weights."""
    prefix = "ema.average." if averaged(arrays) and not raw else "model."
    return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}


def evaluate_members(runs: list[str], test_text: str, threads: int) -> int:
    """Print one JSON line: the test NLL of each run's final weights alone, and of their ensemble."""
    from threadpoolctl import threadpool_limits

    from rnnkit.errors import RnnkitError

    def figures(gen) -> dict:
        result = gen.evaluate_ids(test_ids)
        return {"test_nll": round(result["nll"], 4), "test_bpc": round(result["bpc"], 4)}

    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(threads):
        test_file = Path(tmp) / "test.txt"
        test_file.write_text(test_text, encoding="utf-8")
        try:
            ensemble = load(runs)  # one model per run; it checks that the runs share one vocabulary
            test_ids, _ = read_stream(test_file, ensemble.vocab)
            members = []
            for run, member in zip(runs, ensemble.model.members, strict=True):
                member.load_params(final_weights(RunDir(run).load_checkpoint()[0]))
                members.append({"run": run, **figures(TextGenerator(member, ensemble.vocab))})
            result = {"runs": runs, **figures(ensemble)}
        except RnnkitError as e:
            print(f"text_quality.py: error: {e}", file=sys.stderr)
            return 2
    print(
        json.dumps(
            {
                "members": members,
                "ensemble": result,
                "threads": threads,
                "machine": f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}".strip(),
                "date": time.strftime("%Y-%m-%d"),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
