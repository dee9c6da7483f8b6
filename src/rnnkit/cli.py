"""The `rnnkit` command: one entry point, a subcommand per application.

    rnnkit text train|sample|eval|score     the name generator
    rnnkit music prepare|train|generate|eval the melody generator
    rnnkit serve                             a local web page over both (the optional extra `serve`)

Heavy modules (numpy, matplotlib, the applications) are imported inside the handlers, so `rnnkit --help` is quick.
Bad input ends with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Callable, Sequence

from rnnkit.flags import HELP, THREADS_HELP
from rnnkit.runflags import (
    EXIT_CODES,
    FORCE_HELP,
    RESUME_HELP,
    check_resume_flags,
    exit_code,
    given_options,
    new_run_path,
    stop_reason,
)


def add_config_args(parser: argparse.ArgumentParser, cls, skip: Sequence[str] = (), unset: Sequence[str] = ()) -> None:
    """One --kebab-case flag per field of the dataclass cls, its default shown in --help.

    Flags named in `unset` default to None, so a handler can tell whether they were given; --help still shows
    the field's default, which `config_from_args` fills in.
    """
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = str(f.type).split("|")[0].strip()
        text = HELP.get(f.name, "")
        if kind == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=text)
            continue
        convert = {"int": int, "float": float, "str": str}[kind]
        shown = "" if "(default:" in text or f.default is None else f" (default: {f.default})"
        default = None if f.name in unset else f.default
        parser.add_argument(flag, type=convert, default=default, help=text + shown.replace("%", "%%"))


def config_from_args(cls, args: argparse.Namespace, preset: dict | None = None):
    """cls from the parsed flags: a flag left at None takes the field's default when that is not None, and a
    preset's settings replace those of the flags the command line did not give."""
    values = {}
    for f in dataclasses.fields(cls):
        if hasattr(args, f.name):
            value = getattr(args, f.name)
            values[f.name] = f.default if value is None else value
    given = getattr(args, "given_options", {})  # set by main: the flags the command line gave
    values.update({k: v for k, v in (preset or {}).items() if k not in given})
    return cls(**values)


# -- text ------------------------------------------------------------------------------------------------------
def text_configs(args: argparse.Namespace):
    """The (ModelConfig, TrainConfig, DataConfig) of a new `rnnkit text train`: flags over --preset over the
    stream defaults (with --stream) over the dataclasses' defaults."""
    from rnnkit.config import TrainConfig
    from rnnkit.lm.config import ModelConfig
    from rnnkit.text.config import PRESETS, STREAM_DEFAULTS, DataConfig

    chosen = PRESETS[args.preset] if args.preset else {}
    base = STREAM_DEFAULTS if args.stream else {}
    preset = {part: {**base.get(part, {}), **chosen.get(part, {})} for part in ("model", "train")}
    return (
        config_from_args(ModelConfig, args, preset.get("model")),
        config_from_args(TrainConfig, args, preset.get("train")),
        config_from_args(DataConfig, args),
    )


def text_train(args: argparse.Namespace) -> int:
    from rnnkit.engines.config import engine_overrides, resolve_engine
    from rnnkit.errors import RnnkitError
    from rnnkit.text import train as text

    if args.resume is not None:
        check_resume_flags(args)  # --preset among them: a resumed run keeps its saved settings
        summary = text.resume(
            args.resume, args.max_steps, args.max_time, progress=not args.quiet, engine=engine_overrides(args)
        )
        out = args.resume
    else:
        if args.val_data is not None:
            given = [
                flag
                for flag, v in (("--val-fraction", args.val_fraction), ("--max-val", args.max_val))
                if v is not None
            ]
            if given:
                raise RnnkitError(f"{given[0]} splits --data; it cannot apply with --val-data (drop one of them)")
        if args.stream and args.max_val is not None:
            raise RnnkitError("--max-val caps the held-out items of a list; a --stream run holds out --val-fraction")
        out = new_run_path(args.out, "runs/")
        summary = text.train(
            out,
            *text_configs(args),
            force=args.force,
            progress=not args.quiet,
            engine=resolve_engine(None, engine_overrides(args)),
        )
    if summary.get("rank", 0) != 0:  # under torchrun, rank 0 alone reports
        return 128 + summary["signal"] if summary.get("signal") else 0
    best = summary["best_val"]
    print(f"stopped ({stop_reason(summary)}) at step {summary['step']} after {summary['elapsed']:.1f} s")
    if best is not None:
        print(f"best validation loss: {best:.4f} nats per character ({best / math.log(2):.4f} bits)")
    print(f"run: {out}  (loss curves: {out}/loss.png; sample with: rnnkit text sample {out})")
    return exit_code(summary, out)


BEAM_EXCLUDES = (  # sampling flags a beam search cannot honour: (flag, attribute)
    ("-n", "n"),
    ("--temperature", "temperature"),
    ("--top-k", "top_k"),
    ("--top-p", "top_p"),
    ("--seed", "seed"),
    ("--novel", "novel"),
    ("--greedy", "greedy"),
)


def text_sample(args: argparse.Namespace) -> int:
    from rnnkit.errors import RnnkitError
    from rnnkit.text.stream import TextGenerator

    if args.beam is not None:
        for flag, name in BEAM_EXCLUDES:
            if getattr(args, name) not in (None, False):
                raise RnnkitError(
                    f"{flag} cannot apply with --beam (beam search returns the K most probable names, "
                    "deterministically); drop one of them"
                )
    temperature = 1.0 if args.temperature is None else args.temperature
    greedy = args.greedy or temperature == 0
    n = args.n if args.n is not None else (1 if greedy else 20)
    gen = load_runs(args.run, args.ngram)
    if isinstance(gen, TextGenerator):
        return _sample_stream(gen, args, temperature, greedy)
    if args.length is not None:
        raise RnnkitError("--length is for --stream runs; a name ends by itself (see --max-length)")
    args.max_length = 50 if args.max_length is None else args.max_length
    args.prefix = args.prefix or ""
    if args.beam is not None:
        for s in gen.beam(args.beam, prefix=args.prefix, max_length=args.max_length):
            print(f"{s.name}\t{s.log_prob:.4f}")
        return 0
    names = gen.sample(
        n,
        temperature=temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        prefix=args.prefix,
        seed=args.seed,
        max_length=args.max_length,
        novel=args.novel,
        greedy=greedy,
        progress=True,
    )
    print("\n".join(names))
    return 0


def _sample_stream(gen, args: argparse.Namespace, temperature: float, greedy: bool) -> int:
    """Continue the prime of a stream run, writing each character to stdout as it is drawn (flushed)."""
    from rnnkit.errors import RnnkitError

    for flag, value in (("--beam", args.beam), ("--novel", args.novel), ("--max-length", args.max_length)):
        if value:
            raise RnnkitError(f"{flag} is for name models; a --stream run writes --length characters")
    current = [None]  # the text being written

    def write(index: int, piece: str) -> None:
        if index != current[0] and current[0] is not None:
            sys.stdout.write("\n\n")  # a blank line between texts
        current[0] = index
        sys.stdout.write(piece)
        sys.stdout.flush()

    gen.sample(
        prime=args.prefix,
        length=1000 if args.length is None else args.length,
        n=1 if args.n is None else args.n,
        temperature=temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        greedy=greedy,
        write=write,
    )
    print()
    return 0


def text_eval(args: argparse.Namespace) -> int:
    import json

    from rnnkit.text.data import read_items
    from rnnkit.text.stream import TextGenerator

    gen = load_runs(args.run, args.ngram)
    runs = {"runs": args.run}  # which runs were read (several: their ensemble)
    if args.ngram is not None:  # and the n-gram mixed in: its order, and its weight in each way's model
        runs["ngram"] = {"order": args.ngram, "weights": ngram_weights(gen)}
    if args.novel:
        gen = novel_names(gen, args.run)
        runs["novel"] = {"training_mass": gen.training_mass}
    if isinstance(gen, TextGenerator):
        result = gen.evaluate_file(args.data, progress=True)
        if args.json:
            print(json.dumps({**result, **runs}))
        else:
            print(
                f"{_ensemble_of(args.run)}{result['chars']:,} characters, {result['predictions']:,} predictions, "
                "the state carried "
                f"({result['rows']} row{'s' if result['rows'] > 1 else ''}): "
                f"{result['nll']:.4f} nats/char, {result['bpc']:.4f} bits/char, perplexity {result['perplexity']:.3f}"
            )
        return 0
    result = gen.evaluate(read_items(args.data))
    if args.json:
        print(json.dumps({**result, **runs}))
    else:
        print(
            f"{_ensemble_of(args.run)}{result['items']} items, {result['chars']} predictions: "
            f"{result['nll']:.4f} nats/char, "
            f"{result['bpc']:.4f} bits/char, perplexity {result['perplexity']:.3f}"
        )
    return 0


def text_score(args: argparse.Namespace) -> int:
    from rnnkit.errors import RnnkitError
    from rnnkit.text.stream import TextGenerator

    if args.novel and args.chars:
        raise RnnkitError(
            "--novel changes a whole name's probability, not each character's: give --chars or --novel, not both"
        )
    gen = load_runs(args.run, args.ngram)
    if isinstance(gen, TextGenerator):
        runs = " ".join(args.run)
        what = "is a --stream run" if len(args.run) == 1 else "are --stream runs"
        raise RnnkitError(f"{runs} {what}: score a text with `rnnkit text eval {runs} --data FILE`")
    if args.novel:
        gen = novel_names(gen, args.run)
    if args.chars:
        for name in args.names:
            s = gen.char_log_probs(name)
            cells = [f"{c}:{math.exp(lp):.3f}" for c, lp in zip(s.chars, s.log_probs[:-1], strict=True)]
            boundary = math.exp(s.log_probs[-1])  # a --reverse run's last prediction is where the name starts
            cells = [f"<start>:{boundary:.3f}", *cells] if gen.reverse else [*cells, f"<end>:{boundary:.3f}"]
            print(f"{s.name}\t{s.log_prob:.4f}\t{' '.join(cells)}")
        return 0
    for s in gen.score(args.names):
        print(f"{s.name}\t{s.log_prob:.4f}" + ("\t(a training name)" if s.log_prob == -math.inf else ""))
    return 0


def load_runs(runs: list[str], ngram: int | None = None):
    """The generator of one run directory, of the ensemble of several, or (none) of the bundled surnames model.

    ngram: mix in an n-gram of that order (`rnnkit.text.train.mix_ngram`), and say on stderr with what weight.
    """
    from rnnkit.text.train import load

    check_ngram(ngram)
    gen = load(runs if len(runs) > 1 else runs[0] if runs else None, ngram)
    if ngram is not None:
        weights = " and ".join(f"{w:.3f}" for w in ngram_weights(gen))
        print(f"mixing in a {ngram}-gram of the training names, weight {weights}", file=sys.stderr)
    return gen


def novel_names(gen, runs: list[str]):
    """The generator conditioned on new names (`rnnkit.text.novel`), saying on stderr what that changes."""
    from rnnkit.errors import RnnkitError
    from rnnkit.text.novel import NovelNames
    from rnnkit.text.stream import TextGenerator

    if isinstance(gen, TextGenerator):
        what = "is a --stream run" if len(runs) == 1 else "are --stream runs"
        raise RnnkitError(f"--novel scores names, and {' '.join(runs)} {what}")
    print(f"scoring the {len(gen.training_items):,} training names, to condition on new ones", file=sys.stderr)
    novel = NovelNames(gen, progress=True)
    print(
        f"the model gives its training names {novel.training_mass:.1%} of its probability: "
        f"a new name's log-probability rises by {novel.log_gain:.4f}",
        file=sys.stderr,
    )
    return novel


def ngram_weights(gen) -> list[float]:
    """The weight w of the n-gram mixed into each way's model (one, or two for runs read both ways)."""
    return [float(g.model.weights[-1]) for g in getattr(gen, "groups", [gen])]  # a NameMixture has groups


def check_ngram(ngram: int | None) -> None:
    from rnnkit.errors import RnnkitError
    from rnnkit.lm.ngram import MAX_ORDER

    if ngram is not None and not 2 <= ngram <= MAX_ORDER:
        raise RnnkitError(f"--ngram must be between 2 and {MAX_ORDER}, got {ngram}")


def _ensemble_of(runs: list[str]) -> str:
    return f"ensemble of {len(runs)} runs: " if len(runs) > 1 else ""


ENSEMBLE_HELP = (
    "Several run directories make an ensemble: the next character's distribution is the mean of the runs' "
    "(each carrying its own state), and everything below works on it as on one model. The runs must share "
    "one vocabulary and one kind (names or --stream). Runs trained with --reverse beside forward ones are mixed "
    "name by name instead: P(name) is the mean of the two ways' P(name), each way weighted by its share of the "
    "runs; sampling, --beam, score and eval work on it, --prefix and --chars do not."
)

MAX_THREADS = 1024
NGRAM_HELP = (
    "mix in an N-gram of the training names (N from 2 to 10; 6 suits names), character by character: "
    "(1 - w) the model + w the counts, w fitted on the run's validation names (name models only)"
)
NOVEL_HELP = (
    "score as new names: the model conditioned on a name not being a training name, P(name) / (1 - M), M the "
    "probability it gives its training names (found by scoring them all once); the distribution that "
    "`sample --novel` draws from"
)


def add_text(sub) -> None:
    from rnnkit.lm.config import ModelConfig

    text = sub.add_parser("text", help="the character-level name generator").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )

    p = text.add_parser(
        "train",
        help="train a name model",
        description="Train a character-level language model on a list of names, or with --stream on any text "
        f"(truncated BPTT over contiguous rows, the state carried); writes a run directory. {EXIT_CODES}",
    )
    from rnnkit.config import TrainConfig
    from rnnkit.engines.config import add_engine_args
    from rnnkit.text.config import PRESETS, DataConfig

    def flag(name: str, value) -> str:
        return f"--{name.replace('_', '-')}" + ("" if value is True else f" {value}")

    described = "; ".join(
        f"{name}: " + " ".join(flag(k, v) for part in preset.values() for k, v in part.items())
        for name, preset in PRESETS.items()
    )
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help=f"settings put over the defaults (flags given explicitly still win). {described}",
    )
    add_config_args(p.add_argument_group("data"), DataConfig, unset=("val_fraction", "max_val"))
    add_config_args(p.add_argument_group("model"), ModelConfig)
    add_config_args(p.add_argument_group("training"), TrainConfig)
    add_engine_args(p.add_argument_group("engine"))
    g = p.add_argument_group("run")
    g.add_argument("--out", help="run directory to create (default: runs/<timestamp>)")
    g.add_argument("--resume", metavar="DIR", help=RESUME_HELP)
    g.add_argument("--force", action="store_true", help=FORCE_HELP)
    g.add_argument("--threads", type=int, help=THREADS_HELP)
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=text_train)

    p = text.add_parser(
        "sample",
        help="invent names, or continue a text (a --stream run)",
        description="Invent names with a name model, or, with a --stream run, continue --prime for --length "
        f"characters, written as they are drawn. {ENSEMBLE_HELP}",
    )
    p.add_argument(
        "run",
        nargs="*",
        metavar="RUN",
        help="run directory, or several for their ensemble (default: the bundled surnames model)",
    )
    p.add_argument("-n", type=int, help="how many names (default: 20; 1 with --greedy) or texts (default: 1)")
    p.add_argument("--temperature", type=float, help="<1 safer, >1 wilder, 0 = greedy; 0 or 0.01 to 100 (default: 1)")
    p.add_argument("--top-k", type=int, help="draw only from the k most likely characters")
    p.add_argument("--top-p", type=float, help="draw only from the smallest set of characters with mass >= p")
    p.add_argument(
        "--prefix", "--prime", dest="prefix", help="start every name (or text) with this; a text's default: a newline"
    )
    p.add_argument("--length", type=int, help="--stream runs: characters drawn after the prime (default: 1000)")
    p.add_argument("--seed", type=int, help="random seed, for reproducible samples")
    p.add_argument("--novel", action="store_true", help="only names that are not in the training data")
    p.add_argument("--max-length", type=int, help="longest name, in characters (default: 50)")
    p.add_argument("--greedy", action="store_true", help="the single most likely path (the seed's argmax)")
    p.add_argument(
        "--beam",
        type=int,
        metavar="K",
        help="the K most probable names, by beam search, with their log-probabilities (those `score` gives); "
        "with --prefix and --max-length only",
    )
    p.add_argument("--ngram", type=int, metavar="N", help=NGRAM_HELP)
    p.add_argument("--threads", type=int, help=THREADS_HELP)
    p.set_defaults(handler=text_sample)

    p = text.add_parser(
        "eval",
        help="negative log-likelihood of a file of names (or of a text) under a model",
        description=f"The mean negative log-likelihood per character of --data under a model. {ENSEMBLE_HELP}",
    )
    p.add_argument("run", nargs="+", metavar="RUN", help="run directory, or several for their ensemble")
    p.add_argument("--data", required=True, help="UTF-8 file: one item per line, or any text for a --stream run")
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: nll, bpc, perplexity, items, chars (a --stream run: chars, predictions, "
        "rows), runs, the run directories read, with --ngram ngram, its order and weights, and with --novel "
        "novel, the training names' probability M",
    )
    p.add_argument("--ngram", type=int, metavar="N", help=NGRAM_HELP)
    p.add_argument("--novel", action="store_true", help=NOVEL_HELP + "; an item that is a training name is refused")
    p.add_argument("--threads", type=int, help=THREADS_HELP)
    p.set_defaults(handler=text_eval)

    p = text.add_parser(
        "score",
        help="log-probability of given names",
        description="The natural-log probability of each name, its end included. The leading words that are "
        f"folders are run directories; '-' or none: the bundled surnames model. {ENSEMBLE_HELP}",
    )
    p.add_argument("run", nargs="*", metavar="RUN", help="run directory, or several for their ensemble")
    p.add_argument("names", nargs="+", metavar="NAME", help="names to score")
    p.add_argument(
        "--chars",
        action="store_true",
        help="also each character's probability given those before it, then the end's",
    )
    p.add_argument("--ngram", type=int, metavar="N", help=NGRAM_HELP)
    p.add_argument("--novel", action="store_true", help=NOVEL_HELP + "; a training name scores -inf")
    p.add_argument("--threads", type=int, help=THREADS_HELP)
    p.set_defaults(handler=text_score)


# -- serve -----------------------------------------------------------------------------------------------------
def serve(args: argparse.Namespace) -> int:
    from rnnkit.errors import RnnkitError
    from rnnkit.serve import EXTRA_HINT

    try:
        import pydantic  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise RnnkitError(EXTRA_HINT) from None
    from rnnkit.serve.server import serve as run_server

    check_ngram(args.ngram)
    return run_server(args.host, args.port, names=args.names, music=args.music, text=args.text, ngram=args.ngram)


def add_serve(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="a local web page: invent names, score them, write and play melodies",
        description="Serve one page and a JSON API over a name model and a melody model (by default the bundled "
        "surnames and Bach models) until Ctrl-C. Needs the optional extra: pip install 'rnnkit[serve]'.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port; 0 picks a free one (default: %(default)s)")
    p.add_argument("--names", metavar="RUN", help="name-model run directory (default: the bundled surnames model)")
    p.add_argument(
        "--music",
        metavar="RUN",
        help="melody run directory, also used as trained for melodies over chords (default: the bundled Bach model, "
        "and over chords the bundled one trained with chords)",
    )
    p.add_argument("--text", metavar="RUN", help="free-text run directory (stream mode) for a text tab (default: none)")
    p.add_argument("--ngram", type=int, metavar="N", help="the name model: " + NGRAM_HELP)
    p.add_argument("--threads", type=int, help="BLAS threads (default: the library's choice)")
    p.set_defaults(handler=serve)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit",
        description="Recurrent networks from scratch in NumPy: invent names and melodies.",
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_text(sub)
    try:
        from rnnkit.music.cli import add_music
    except ImportError:
        pass
    else:
        add_music(sub)
    add_serve(sub)
    return parser


def _version() -> str:
    from rnnkit import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 2 bad input, 130 Ctrl-C, 141 a closed stdout pipe)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C outside the training loop (which saves and stops by itself)
        print("", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `rnnkit text sample -n 100000 | head`: the reader has gone, stop quietly
        _silence_stdout()
        return 141


def _main(argv: Sequence[str] | None) -> int:
    from rnnkit.errors import RnnkitError

    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra and _is_score(args) and not any(word.startswith("-") for word in extra):
            args.names += extra  # `score RUN --chars NAME`: argparse ends the positionals at the option
        elif extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")  # what parse_args says
    except SystemExit as e:  # argparse has printed the usage and the error
        return int(e.code or 0)
    if getattr(args, "action", None) == "train":
        args.given_options = given_options(parser, argv)
    if _is_score(args):
        _score_runs_and_names(args)
    handler: Callable[[argparse.Namespace], int] = args.handler
    from rnnkit.memory import reuse_freed_memory

    reuse_freed_memory()  # each training step reuses the last one's buffers instead of faulting in fresh pages
    try:
        with _threads(getattr(args, "threads", None)):
            return handler(args)
    except RnnkitError as e:
        print(f"rnnkit: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise  # main's, quietly
    except OSError as e:
        print(f"rnnkit: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so flushing what is left at exit meets no closed pipe (Python's advice)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (a test's captured stdout)
        pass


def _is_score(args: argparse.Namespace) -> bool:
    return getattr(args, "command", None) == "text" and getattr(args, "action", None) == "score"


def _score_runs_and_names(args: argparse.Namespace) -> None:
    """Split `rnnkit text score [RUN ...] NAME ...`: the leading words that are folders are runs, the rest names.

    So `rnnkit text score Smith Jones` scores with the bundled model, and so does `rnnkit text score - Smith`.
    """
    import os

    from rnnkit.errors import RnnkitError

    words = [*args.run, *args.names]
    if words[0] == "-":
        args.run, args.names = [], words[1:]
    else:
        runs = 0
        while runs < len(words) and os.path.isdir(words[runs]):
            runs += 1
        args.run, args.names = words[:runs], words[runs:]
    if not args.names:
        raise RnnkitError("no names to score: give them after the run directories")


def _threads(n: int | None):
    import contextlib

    if n is None:
        return contextlib.nullcontext()
    if not 1 <= n <= MAX_THREADS:
        from rnnkit.errors import RnnkitError

        raise RnnkitError(f"--threads must be between 1 and {MAX_THREADS}, got {n}")
    import numpy  # noqa: F401  threadpoolctl limits the BLAS libraries already loaded, and numpy loads OpenBLAS
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n)


if __name__ == "__main__":
    sys.exit(main())
