"""Train a melody model that ships with rnnkit and copy its run into src/rnnkit/data/pretrained/bach/ (or, with
--chords, the model over chords into src/rnnkit/data/pretrained/bach-chords/).

The default preset on the bundled soprano lines of the Bach chorales (transposed to C major / A minor, 10% of
the pieces held out), seed 0, one BLAS thread so that the run is reproducible on a given machine. The copy keeps
what generation and evaluation need (config.json, vocab.json, model.safetensors) and the training record
(metrics.jsonl, loss.png); not the optimizer checkpoint.

    python scripts/train_pretrained_bach.py [--chords] [--work runs/pretrained-bach] [--out DIR] [--epochs N]

The two share everything but the chords (same preset, data, split and seed), so the one without chords is the
other's baseline.

Then measure it with `python benchmarks/music_eval.py` (the README's table).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from threadpoolctl import threadpool_limits

from rnnkit.music import train as music
from rnnkit.music.config import preset_configs

ROOT = Path(__file__).resolve().parents[1]
PRETRAINED = ROOT / "src" / "rnnkit" / "data" / "pretrained"
SHIPPED = ("config.json", "vocab.json", "model.safetensors", "metrics.jsonl", "loss.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chords", action="store_true", help="the model over chords (`rnnkit music train --chords`)")
    parser.add_argument("--work", type=Path, help="the full run (default: runs/pretrained-bach[-chords])")
    parser.add_argument("--out", type=Path, help="where the shipped copy goes (default: data/pretrained/bach[-chords])")
    parser.add_argument("--epochs", type=float, default=None, help="default: the preset's")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    name = "bach-chords" if args.chords else "bach"
    args.work = args.work or ROOT / "runs" / f"pretrained-{name}"
    args.out = args.out or PRETRAINED / name

    model, train_config = preset_configs("default", {"chords": args.chords}, {"seed": args.seed})
    with threadpool_limits(limits=1):
        summary = music.train(
            args.work, model, train_config, music.DataConfig(), preset="default", epochs=args.epochs, force=True
        )
    print(f"trained: {summary}", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in SHIPPED:
        shutil.copyfile(args.work / name, args.out / name)
    size = sum((args.out / n).stat().st_size for n in SHIPPED)
    print(f"copied {', '.join(SHIPPED)} to {args.out} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
