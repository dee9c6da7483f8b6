"""The README's melody table: held-out NLL and the generation metrics of trained runs, beside the reference.

Each run is measured as `rnnkit music eval RUN -n 100 --seed 0` does (100 pieces generated at the run's default
temperature, 1, or 0.8 for a model trained with chords; the lengths of the held-out pieces); the reference column is
the held-out chorales measured against the training chorales, what a model should approach. Without arguments it
measures the two shipped pretrained models: the unconditioned one (the baseline) and the one trained with chords.

A second table, for the same runs, is the chord-tone ratio (`rnnkit.music.chords.chord_tone_ratios`, pooled over
notes) of 100 melodies generated over the held-out chorales' progressions in turn, each as long as its chorale,
beside Bach's own sopranos against the chords derived from all four voices. A model without chords fills the same
beats deaf to them: the baseline. For a chord model the first table is measured on those melodies too.

    python benchmarks/music_eval.py [RUN ...] [--names NAME ...] [-n 100] [--seed 0] [--temperature T] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

from threadpoolctl import threadpool_limits

from rnnkit.music.cli import CHORD_ROWS, ROWS
from rnnkit.music.train import evaluate, load_run, pretrained_path


def markdown(results: list[dict], names: list[str]) -> str:
    head = ["metric", *names, "held-out vs train (reference)", "target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    nll = [f"{r['nll']:.3f}" for r in results]
    lines.append("| " + " | ".join(["held-out NLL (nats/token)", *nll, "", ""]) + " |")
    for key, label, fmt, target in ROWS:
        values = [fmt.format(r["model"][key]) for r in results]
        lines.append("| " + " | ".join([label, *values, fmt.format(results[0]["reference"][key]), target]) + " |")
    return "\n".join(lines)


def chord_markdown(results: list[dict], names: list[str]) -> str:
    """The chord-tone table of the runs whose held-out pieces have chords."""
    head = ["over the held-out chords", *names, "Bach (reference)", "target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label, target in CHORD_ROWS:
        values = [f"{r['chord_tones']['model'][key]:.3f}" for r in results]
        ref = f"{results[0]['chord_tones']['reference'][key]:.3f}"
        lines.append("| " + " | ".join([label, *values, ref, target]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", help="run directories (default: the shipped pretrained model)")
    parser.add_argument("--names", nargs="+", help="column names (default: the run folders' names)")
    parser.add_argument("-n", type=int, default=100, help="generated pieces per run (default: 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, help="for every run (default: each run's own default)")
    parser.add_argument("--json", action="store_true", help="the full results as JSON lines")
    args = parser.parse_args(argv)

    runs = args.runs or [str(pretrained_path()), str(pretrained_path(chords=True))]
    names = args.names or [r.rstrip("/").split("/")[-1] for r in runs]
    if len(names) != len(runs):
        parser.error("give one --names entry per run")
    with threadpool_limits(limits=1):
        results = [evaluate(load_run(r), args.n, args.temperature, seed=args.seed, warn=lambda _: None) for r in runs]
    if args.json:
        for r in results:
            print(json.dumps(r))
        return 0
    h = results[0]["held_out"]
    print(f"held-out: {h['pieces']} chorales, {h['tokens']} predictions; {args.n} generated pieces per run", end="")
    temperatures = ", ".join(f"{n} {r['generated']['temperature']:g}" for n, r in zip(names, results, strict=True))
    print(f", seed {args.seed}; temperature: {temperatures}")
    print()
    print(markdown(results, names))
    if all(r["chord_tones"] for r in results):
        print()
        print(chord_markdown(results, names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
