"""The run flags both train commands share (--out, --resume, --force) and what their exit codes mean.

Kept light (no numpy) and below the faces, so `rnnkit.cli` and `rnnkit.music.cli` both use it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence

from rnnkit.errors import RnnkitError

RESUME_HELP = (
    "continue the run in DIR from its last checkpoint, on the data it kept, with its saved settings; "
    "--max-steps N (the new total) and --max-time S (seconds more) extend it, the cosine re-spanned to the "
    "new end (after a finished run the rate rises again, then anneals to --min-lr by the new end)"
)
EXIT_CODES = (
    "Ctrl-C or SIGTERM finishes the step, saves a checkpoint and exits 130 or 143 (128 + the signal); "
    "0 means the run reached its end, 2 a bad input."
)
FORCE_HELP = "replace an rnnkit run already in --out (only rnnkit's files there are removed)"


# what --resume can change: the run goes on with its saved settings otherwise
RESUME_FLAGS = {"resume", "max_steps", "max_time", "threads", "quiet", "engine", "device", "precision"}


def check_resume_flags(args: argparse.Namespace) -> None:
    """Refuse, by name, every flag given with --resume that resume cannot honour (and an empty --resume)."""
    if not args.resume:
        raise RnnkitError("--resume: an empty path (an unset variable?); give the run directory to continue")
    ignored = [flag for dest, flag in args.given_options.items() if dest not in RESUME_FLAGS]
    if ignored:
        raise RnnkitError(
            f"--resume continues {args.resume} with its saved settings, so {', '.join(ignored)} cannot apply "
            "(with --resume give only --max-steps, --max-time, --engine, --device, --precision, --threads, --quiet)"
        )


def new_run_path(out: str | None, prefix: str) -> str:
    if out == "":
        raise RnnkitError("--out: an empty path (an unset variable?); give a folder, or leave --out out")
    return out or f"{prefix}{time.strftime('%Y%m%d-%H%M%S')}"


def stop_reason(summary: dict) -> str:
    if summary.get("signal"):
        return f"interrupted by {signal.Signals(summary['signal']).name}; checkpoint saved"
    return summary["stopped"]


def exit_code(summary: dict, out: str) -> int:
    """0 when the run reached its end; 128 + the signal (130 Ctrl-C, 143 SIGTERM) when one stopped it."""
    if summary.get("signal"):
        print(f"continue it with: --resume {out}", file=sys.stderr)
        return 128 + int(summary["signal"])
    return 0


def given_options(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> dict[str, str]:
    """dest -> flag of every option the command line gave (argparse fills in the others with defaults)."""
    actions, stack = [], [parser]
    while stack:
        p = stack.pop()
        for a in p._actions:
            actions.append(a)
            if isinstance(a, argparse._SubParsersAction):
                stack.extend(a.choices.values())
    saved = [(a, a.default) for a in actions]
    try:
        for a, _ in saved:
            a.default = argparse.SUPPRESS
        given = vars(parser.parse_args(argv))
    finally:
        for a, default in saved:
            a.default = default
    flags = {a.dest: a.option_strings[-1] for a in actions if a.option_strings}
    return {dest: flags[dest] for dest in given if dest in flags}
