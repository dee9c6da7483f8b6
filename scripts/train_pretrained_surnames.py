"""Train the surnames model that ships inside the package, reproducibly from its seed.

    .venv/bin/python scripts/train_pretrained_surnames.py --threads 2     # about 12 minutes on two CPU threads

Trains rnnkit's default configuration (or `--preset NAME`, and any `rnnkit text train` flags after `--`) on the
bundled surnames for a fixed number of steps (not a time budget, so the result depends only on the seed), then
copies the run's config, vocabulary, metrics, loss curves and best weights (stored as float16 to keep the package
small; they are read back as float32) into src/rnnkit/data/pretrained/surnames/. The optimizer checkpoint is not
shipped.

The shipped model (2026-12-01) is the defaults with a moving average of the weights (`--ema-decay 0.999`),
30,000 steps at most and `--patience 10`: it stopped at step 27,000 with its best validation loss, 2.0414, at
22,000, where the model shipped before (the defaults for 8,000 steps) read 2.0633 on the same 1,000 names.
`--preset best --max-steps 15000` had read 2.0665.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from rnnkit import cli
from rnnkit.rundir import CONFIG, METRICS, PLOT, VOCAB, RunDir

DEST = Path(__file__).resolve().parent.parent / "src" / "rnnkit" / "data" / "pretrained" / "surnames"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--max-steps", type=int, default=30000, help="training steps at most (default: %(default)s)")
    p.add_argument("--ema-decay", type=float, default=0.999, help="weight average's decay (default: %(default)s)")
    p.add_argument("--patience", type=int, default=10, help="evaluations without a better one (default: %(default)s)")
    p.add_argument("--preset", help="a `rnnkit text train --preset` (default: none, the shipped model's settings)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", help="where to keep the full run (default: a temporary folder)")
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = p.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="rnnkit-pretrained-")) / "surnames"
    code = cli.main(
        [
            "text",
            "train",
            "--data",
            "surnames",
            "--out",
            str(out),
            "--max-steps",
            str(args.max_steps),
            "--ema-decay",
            str(args.ema_decay),
            "--patience",
            str(args.patience),
            "--seed",
            str(args.seed),
            "--threads",
            str(args.threads),
            "--quiet",
            *(["--preset", args.preset] if args.preset else []),
            *extra,
        ]
    )
    if code != 0:
        return code
    run = RunDir(out)
    arrays, meta = run.load_model()
    DEST.mkdir(parents=True, exist_ok=True)
    for name in (CONFIG, VOCAB, METRICS, PLOT):
        shutil.copyfile(out / name, DEST / name)
    RunDir(DEST).save_model({k: v.astype(np.float16) for k, v in arrays.items()}, {**meta, "stored_as": "float16"})
    print(f"shipped {DEST} (step {meta['step']}, validation loss {meta['val_loss']:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
