"""Name-model quality: train rnnkit on a train file for a time budget, report test NLL per character.

    python benchmarks/names_quality.py --train ../shared/data/bench/names.train.txt \
        --test ../shared/data/bench/names.test.txt --max-time 600 --threads 1

Any `rnnkit text train` flag after `--` is passed through (e.g. `-- --hidden-size 256 --dropout 0.2`); without
them the run uses rnnkit's defaults. The validation set for early stopping / the best checkpoint is held out of the
train file (the default --val-fraction), never taken from the test file. Prints one JSON line, with the test NLL's
standard error over the test names (`test_nll_se`: how far the figure would move on another sample of as many).

On a loaded machine a time budget trains fewer steps than on a quiet one. `--max-time 0` trains by steps alone:
fit them to the budget with benchmarks/step_time.py, then pass them on, e.g. `--max-time 0 -- --max-steps 15059`.

An ensemble of runs already trained: `--members RUN [RUN ...]` trains nothing and evaluates each run alone and
all of them together (the mixture of their next-character distributions, `rnnkit text eval RUN RUN ...`) on
--test, in one JSON line; each run after the first also gets `vs_first`, its test NLL minus the first run's on
the same names and that difference's standard error (much smaller than either figure's):

    python benchmarks/names_quality.py --test ../shared/data/bench/names.test.txt \
        --members runs/names-s0 runs/names-s1 runs/names-s2

`--ngram N` mixes an N-gram of the training names into every model read (`rnnkit text eval --ngram N`); with
--members the ensemble also gets `ngram_gain`, its test NLL with the n-gram minus without, on the same names, and
that difference's standard error.

`--novel` scores the test names as new names (`rnnkit text eval --novel`, `rnnkit.text.novel`): every model
read is conditioned on a name not being one of its training names, and its figures get `training_mass`, the
probability it gives those. It suits a test split of names that are not in the training file (the surnames');
a test name that is a training name is refused.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from rnnkit import cli
from rnnkit.errors import RnnkitError
from rnnkit.text.data import read_items
from rnnkit.text.novel import NovelNames
from rnnkit.text.train import load


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra: list[str] = []
    if "--" in argv:
        argv, extra = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", help="training file, one name per line (needed unless --members)")
    p.add_argument("--test", required=True, help="test file, one name per line")
    p.add_argument("--max-time", type=float, default=600, help="training seconds, 0: none (default: %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default: %(default)s)")
    p.add_argument("--out", help="run directory (default: runs/bench-<train>-<timestamp>)")
    p.add_argument(
        "--members", nargs="+", metavar="RUN", help="train nothing: the test NLL of each run and of their ensemble"
    )
    p.add_argument("--ngram", type=int, metavar="N", help="mix an N-gram of the training names into each model")
    p.add_argument("--novel", action="store_true", help="score the test names as new names (`text eval --novel`)")
    args = p.parse_args(argv)
    if args.members:
        for given, flag in ((args.train, "--train"), (args.out, "--out"), (extra, "flags after --")):
            if given:
                p.error(f"{flag} cannot apply with --members (which trains nothing)")
        return evaluate_members(args.members, args.test, args.threads, args.ngram, args.novel)
    if args.train is None:
        p.error("--train is required (or --members, to evaluate runs already trained)")
    out = args.out or f"runs/bench-{Path(args.train).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    train_argv = [
        "text",
        "train",
        "--data",
        args.train,
        "--out",
        out,
        *(["--max-time", str(args.max_time)] if args.max_time > 0 else []),
        "--threads",
        str(args.threads),
        "--quiet",
        *extra,
    ]
    start = time.perf_counter()
    code = cli.main(train_argv)
    if code != 0:
        return code
    wall = time.perf_counter() - start
    try:
        figures = _test_figures(_load(out, args.ngram, args.novel), read_items(args.test))
    except RnnkitError as e:
        print(f"names_quality.py: error: {e}", file=sys.stderr)
        return 2
    metrics = [json.loads(line) for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]
    config = json.loads((Path(out) / "config.json").read_text())
    print(
        json.dumps(
            {
                "train": args.train,
                "test": args.test,
                **figures,
                "best_val_nll": round(min(m["val_loss"] for m in metrics if m["val_loss"] is not None), 4),
                "steps": metrics[-1]["step"],
                "train_seconds": round(metrics[-1]["elapsed"], 1),
                "wall_seconds": round(wall, 1),
                "threads": args.threads,
                "model": config["model"],
                "extra_flags": extra,
                "ngram": args.ngram,
                "novel": args.novel,
                "machine": f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}".strip(),
                "date": time.strftime("%Y-%m-%d"),
                "run": out,
            }
        )
    )
    return 0


def evaluate_members(runs: list[str], test: str, threads: int, ngram: int | None = None, novel: bool = False) -> int:
    """Print one JSON line: each run's test NLL alone, and their ensemble's (with an n-gram of order `ngram`;
    conditioned on new names with `novel`)."""
    from threadpoolctl import threadpool_limits

    items = read_items(test)
    n = _predictions(items)
    try:
        with threadpool_limits(limits=threads):
            losses, members = [], []
            for run in runs:
                gen = _load(run, ngram, novel)
                losses.append(_name_losses(gen, items))  # (N,)
                members.append({"run": run, **_figures(losses[-1], n), **_mass(gen), **_training(run)})
            for member, L in zip(members[1:], losses[1:], strict=True):
                member["vs_first"] = _paired(L, losses[0], n)
            gen = _load(runs, ngram, novel)
            L_ensemble = _name_losses(gen, items)
            ensemble = {**_figures(L_ensemble, n), **_mass(gen)}
            if ngram is not None:
                ensemble["ngram_gain"] = _paired(L_ensemble, _name_losses(_load(runs, None, novel), items), n)
    except RnnkitError as e:
        print(f"names_quality.py: error: {e}", file=sys.stderr)
        return 2
    print(
        json.dumps(
            {
                "test": test,
                "members": members,
                "ensemble": {"runs": runs, **ensemble},
                "ngram": ngram,
                "novel": novel,
                "threads": threads,
                "machine": f"{platform.machine()} {platform.processor() or ''} {platform.python_version()}".strip(),
                "date": time.strftime("%Y-%m-%d"),
            }
        )
    )
    return 0


def _load(runs, ngram: int | None, novel: bool):
    """The generator of a run or an ensemble (`rnnkit.text.train.load`), conditioned on new names with novel."""
    gen = load(runs, ngram)
    return NovelNames(gen) if novel else gen


def _mass(generator) -> dict:
    """training_mass, the probability a model conditioned on new names gives the training names; else nothing."""
    return {"training_mass": round(generator.training_mass, 4)} if isinstance(generator, NovelNames) else {}


def _test_figures(generator, items: list[str]) -> dict:
    """The test NLL and bpc of a loaded run (or ensemble) over items, and the NLL's standard error."""
    return {**_figures(_name_losses(generator, items), _predictions(items)), **_mass(generator)}


def _name_losses(generator, items: list[str]) -> np.ndarray:
    """L_i = -log P(name_i, end) for every item, from one pass of `score`: (N,). A model of new names refuses
    items that are training names, to which it gives probability 0."""
    if isinstance(generator, NovelNames):
        generator.check_new(items)
    return -np.array([s.log_prob for s in generator.score(items)])


def _predictions(items: list[str]) -> np.ndarray:
    """n_i = each item's characters + 1 (makemore's count, as `evaluate` takes it): (N,)."""
    return np.array([len(item) + 1 for item in items], dtype=np.float64)


def _ratio_se(L: np.ndarray, n: np.ndarray) -> float:
    """The standard error of the ratio sum_i L_i / sum_i n_i over the names i, as a ratio estimator:
    sqrt(N / (N-1) * sum_i (L_i - r n_i)^2) / sum_i n_i, with r the ratio itself."""
    N, r = len(L), L.sum() / n.sum()
    return float(np.sqrt(N / (N - 1) * np.sum((L - r * n) ** 2)) / n.sum()) if N > 1 else float("nan")


def _figures(L: np.ndarray, n: np.ndarray) -> dict:
    """nll = sum_i L_i / sum_i n_i, its bpc, and its standard error over the names (`_ratio_se`): how far the
    figure would move on another sample of as many names. It says how precisely a 1,000-name test split places
    a model against a target; the difference between two models scored on the same names varies much less
    (their losses on each name go together: `_paired`)."""
    nll = L.sum() / n.sum()
    return {"test_nll": round(nll, 4), "test_nll_se": round(_ratio_se(L, n), 4), "test_bpc": round(nll / np.log(2), 4)}


def _paired(L: np.ndarray, L_first: np.ndarray, n: np.ndarray) -> dict:
    """This run's test NLL minus the first run's, on the same names, and that difference's standard error."""
    d = L - L_first
    return {"nll_diff": round(d.sum() / n.sum(), 4), "se": round(_ratio_se(d, n), 4)}


def _training(run: str) -> dict:
    """A run's best validation NLL and the steps it trained, from its metrics.jsonl (when it has one)."""
    from rnnkit.rundir import RunDir

    rows = RunDir(run).read_metrics()
    if not rows:
        return {}
    vals = [m["val_loss"] for m in rows if m.get("val_loss") is not None]
    return {"best_val_nll": round(min(vals), 4) if vals else None, "steps": rows[-1]["step"]}


if __name__ == "__main__":
    sys.exit(main())
