"""`rnnkit music prepare|train|generate|eval`: the melody generator's commands, added to the `rnnkit` parser.

Handlers import numpy and the application lazily, so `rnnkit --help` stays quick; user errors are RnnkitError,
which `rnnkit.cli.main` prints as one line with exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses

# flag help where the music model differs from the name model's wording in rnnkit.flags.HELP
MUSIC_HELP = {
    "embedding_size": "size of the learned token vectors (the seed's one-hot input times W)",
    "hidden_size": "units in each recurrent layer's hidden state (the seed's n_a)",
    "batch_size": "windows per training step (the seed's m), per process: under torchrun the global batch is "
    "WORLD_SIZE times this",
    "num_samples": "short melodies printed at each evaluation",
    "max_steps": "training steps (instead of --epochs); the learning-rate schedule spans them "
    "(default: --epochs 100 of them, or with --max-time alone as many as fit; with --resume: the new total)",
}


def _preset_flags(group, cls, part: str) -> None:
    """One flag per field of cls with default None: the preset fills what is not given."""
    from rnnkit.flags import HELP
    from rnnkit.music.config import PRESETS, preset_configs

    default_m, default_t = preset_configs("default")
    seed_m, seed_t = preset_configs("seed")
    default, seed = (default_m, seed_m) if part == "model" else (default_t, seed_t)
    for f in dataclasses.fields(cls):
        if f.name == "chords":  # a switch of its own, `--chords`
            continue
        kind = str(f.type).split("|")[0].strip()
        a, b = getattr(default, f.name), getattr(seed, f.name)
        shown = f"default: {a}" if a == b or f.name not in PRESETS["seed"][part] else f"default: {a}; seed preset: {b}"
        text = MUSIC_HELP.get(f.name, HELP.get(f.name, ""))
        if "(default:" not in text and (a is not None or b is not None):
            text += f" ({shown})"
        text = text.replace("%", "%%")
        flag = "--" + f.name.replace("_", "-")
        if kind == "bool":  # --x / --no-x, None when neither is given
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
            continue
        convert = {"int": int, "float": float, "str": str}[kind]
        group.add_argument(flag, type=convert, default=None, help=text)


def add_music(sub) -> None:
    """Add `music` and its actions to the top-level subparsers."""
    from rnnkit.config import TrainConfig
    from rnnkit.engines.config import add_engine_args
    from rnnkit.flags import THREADS_HELP
    from rnnkit.music.config import CHORD_TEMPERATURE, ModelConfig
    from rnnkit.runflags import EXIT_CODES, FORCE_HELP, RESUME_HELP

    music = sub.add_parser("music", help="the melody generator (LSTM over (pitch, duration) tokens, MIDI out)")
    actions = music.add_subparsers(dest="action", required=True, metavar="ACTION")

    p = actions.add_parser(
        "prepare",
        help="extract melodies from music21's corpus or MIDI files into a corpus file",
        description="Extract monophonic melodies (the soprano line of a score, the top line of a MIDI track) "
        "into a compact .npz corpus that `rnnkit music train --data FILE` reads without music21, with the chord "
        "of every beat derived from the other parts (a score's other voices, a MIDI file's other tracks) when "
        "every piece has them.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--corpus", metavar="NAME", help="'bach' (the chorales) or a composer in music21's corpus")
    src.add_argument("--data", nargs="+", metavar="PATH", help="MIDI files or folders of them")
    p.add_argument("--track", type=int, help="MIDI track of the melody (default: the highest non-drum track)")
    p.add_argument("--limit", type=int, help="only the first N pieces of --corpus")
    p.add_argument("--out", required=True, help="the .npz file to write")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(handler=music_prepare)

    p = actions.add_parser(
        "train",
        help="train a melody model",
        description="Train an LSTM on random --tx-step windows of melodies (the seed's djmodel); writes a run "
        f"directory. Without --data, the bundled soprano lines of the Bach chorales. {EXIT_CODES}",
    )
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        nargs="+",
        default=["bach"],
        metavar="PATH",
        help="'bach' (bundled), corpus files from `rnnkit music prepare` (.npz), MIDI files or folders (default: bach)",
    )
    g.add_argument("--track", type=int, help="MIDI track of the melody (default: the highest non-drum track)")
    g.add_argument("--val-fraction", type=float, default=0.1, help="share of the pieces held out (default: 0.1)")
    g.add_argument("--no-transpose", action="store_true", help="keep every piece in its own key (default: to C / Am)")
    g.add_argument("--tx", type=int, default=30, help="steps per training window, the seed's Tx (default: 30)")
    g.add_argument(
        "--chords",
        action="store_true",
        help="condition on chords: each step also reads the chord under the next event (root one-hot + 12 pitch "
        "classes, as ImprovRNN) and where in the beat it starts; every piece needs chords (the bundled chorales "
        "have them). Off: the unconditioned baseline",
    )
    g = p.add_argument_group("preset")
    g.add_argument(
        "--preset",
        choices=("default", "seed"),
        default="default",
        help="default: what measured best on the chorales; seed: the original djmodel (LSTM 64, Adam lr 0.01, "
        "decay 0.01, m = 60). Flags below override it (default: default)",
    )
    g.add_argument("--epochs", type=float, help="passes over the data, ceil(tokens / tx) windows each (default: 100)")
    _preset_flags(p.add_argument_group("model"), ModelConfig, "model")
    _preset_flags(p.add_argument_group("training"), TrainConfig, "train")
    add_engine_args(p.add_argument_group("engine"))
    g = p.add_argument_group("run")
    g.add_argument("--out", help="run directory to create (default: runs/music-<timestamp>)")
    g.add_argument("--resume", metavar="DIR", help=RESUME_HELP)
    g.add_argument("--force", action="store_true", help=FORCE_HELP)
    g.add_argument("--threads", type=int, help=THREADS_HELP)
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=music_train)

    p = actions.add_parser(
        "generate",
        help="write new melodies as MIDI (and a piano roll, and audio)",
        description="Generate melodies, feeding each prediction back as the next input (the seed's "
        "music_inference_model), and write them as Standard MIDI Files. With -n N > 1 the files are numbered: "
        "song-1.mid ... song-N.mid (likewise --png and --wav).",
    )
    p.add_argument("run", nargs="?", help="run directory (default: the bundled Bach model)")
    p.add_argument("--out", default="song.mid", help="MIDI file to write (default: %(default)s)")
    p.add_argument("--steps", type=int, help="events (notes and rests) per melody (default: 100; with chords: theirs)")
    how = p.add_mutually_exclusive_group()
    how.add_argument(
        "--temperature",
        type=float,
        help="<1 safer, >1 wilder, 0 = greedy; 0 or 0.01 to 100 (default: 1; over chords with a model trained with "
        f"chords, such as the bundled one: {CHORD_TEMPERATURE:g}, where its melodies sound chord tones on the beat "
        "as often as Bach's within 0.03 and keep every other target, see the README)",
    )
    how.add_argument("--greedy", action="store_true", help="always the most likely next event (the seed's argmax)")
    p.add_argument("--top-k", type=int, help="draw only from the k most likely events")
    p.add_argument("--prime", metavar="FILE.mid", help="continue this melody (it is not repeated in the output)")
    p.add_argument("--track", type=int, help="MIDI track of the --prime melody (default: the highest)")
    p.add_argument("--seed", type=int, help="random seed, for reproducible melodies")
    p.add_argument("-n", type=int, default=1, help="how many melodies (default: 1)")
    p.add_argument(
        "--tempo", type=float, metavar="BPM", help="quarter notes per minute, 4 to 1000 (default: the data's, or 100)"
    )
    p.add_argument(
        "--key",
        help="key to write in, e.g. G, 'F# minor', Bbm (default: C / Am, or the primer's or the chords' key; "
        "over chords it moves melody and chords together)",
    )
    p.add_argument("--instrument", default="piano", help="General MIDI name or program 0-127 (default: piano)")
    p.add_argument("--png", metavar="FILE.png", help="also draw a piano roll")
    p.add_argument("--wav", metavar="FILE.wav", help="also render audio with FluidSynth and a GM soundfont")
    g = p.add_argument_group("over chords (default model: the bundled one trained with chords)")
    over = g.add_mutually_exclusive_group()
    over.add_argument(
        "--chords",
        metavar="SYMBOLS",
        help="a progression, e.g. 'C G/B Am F | Dm G C C': each chord lasts a bar of the meter (4 beats in 4/4) "
        "unless --beats-per-chord, and '|' only groups chords for reading; m, dim, aug, 7, maj7, m7, dim7, m7b5, "
        "sus2, sus4, 6, m6, 9, /bass (voiced in the bass), N.C. The melody lasts as long as the chords and is in "
        "their key",
    )
    over.add_argument("--chords-from", metavar="FILE.mid", help="the chords of a MIDI file's accompaniment")
    g.add_argument(
        "--beats-per-chord",
        type=int,
        metavar="N",
        help="every chord of --chords lasts N beats (default: a bar, so 8 chords make 8 bars, not 8 beats)",
    )
    g.add_argument("--chord-instrument", help="General MIDI instrument of the chord track (default: strings)")
    p.add_argument("--force", action="store_true", help="replace output files that exist (never an input)")
    p.add_argument("--threads", type=int, help=THREADS_HELP)
    p.set_defaults(handler=music_generate)

    p = actions.add_parser(
        "eval",
        help="held-out NLL and how generated melodies compare with real ones",
        description="Negative log-likelihood of the run's held-out pieces, and pitch-class, duration and interval "
        "divergences, scale consistency, range, distinct pitches and copy rate of N generated pieces against "
        "them; the reference column measures the held-out pieces against the training pieces. When the pieces "
        "have chords, also the chord-tone ratios of N melodies generated over their progressions (a model "
        "trained with chords is measured on those alone; one without is the baseline, deaf to the chords).",
    )
    p.add_argument("run", nargs="?", help="run directory (default: the bundled Bach model)")
    p.add_argument("--chords", action="store_true", help="without RUN: the bundled model trained with chords")
    p.add_argument("-n", type=int, default=100, help="generated pieces (default: 100)")
    p.add_argument(
        "--temperature",
        type=float,
        help=f"sampling temperature, 0 or 0.01 to 100 (default: 1; {CHORD_TEMPERATURE:g} for a model trained with "
        "chords, as generate uses over chords)",
    )
    p.add_argument("--top-k", type=int, help="draw only from the k most likely events")
    p.add_argument("--seed", type=int, default=0, help="random seed of the generated pieces (default: 0)")
    p.add_argument("--data", nargs="+", metavar="PATH", help="evaluate on these pieces instead of the held-out split")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--threads", type=int, help=THREADS_HELP)
    p.set_defaults(handler=music_eval)


# -- handlers ----------------------------------------------------------------------------------------------------
def _eprint(text: str) -> None:
    import sys

    print(text, file=sys.stderr)


def music_prepare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rnnkit.errors import RnnkitError
    from rnnkit.music.corpus import save_corpus
    from rnnkit.outputs import refuse_package_path

    out = Path(args.out)
    if args.limit is not None and args.limit < 1:
        raise RnnkitError(f"--limit must be >= 1, got {args.limit}")
    if args.limit is not None and not args.corpus:
        raise RnnkitError("--limit counts the pieces of --corpus; it cannot apply with --data")
    refuse_package_path(out, "--out")
    if out.exists() and not args.force:
        raise RnnkitError(f"--out {out}: exists; use --force to overwrite it")
    if out.suffix != ".npz":
        raise RnnkitError(f"--out {out}: a corpus file ends in .npz")
    if not out.parent.is_dir():
        raise RnnkitError(f"--out {out}: the folder {out.parent} does not exist")
    if args.corpus:
        melodies, meta = _prepare_corpus(args.corpus, args.limit)
    else:
        from rnnkit.music.train import read_midi_sources

        melodies = read_midi_sources(args.data, args.track, warn=_eprint)
        meta = {"source": [str(p) for p in args.data]}
    if not melodies:
        raise RnnkitError("no melodies found")
    save_corpus(melodies, out, meta)
    notes = sum(m.num_notes for m in melodies)
    with_chords = sum(m.chords is not None for m in melodies)
    chords = "with the chords of every beat" if with_chords == len(melodies) else "no chords"
    if 0 < with_chords < len(melodies):
        chords += f" (only {with_chords} of the {len(melodies)} have an accompaniment to take them from)"
    print(f"wrote {out}: {len(melodies)} melodies, {notes} notes, {chords}")
    print(f"train on it with: rnnkit music train --data {out}")
    return 0


def _prepare_corpus(name: str, limit: int | None):
    import warnings

    from rnnkit.errors import RnnkitError

    try:
        import music21
    except ImportError:
        raise RnnkitError("--corpus needs music21: pip install 'rnnkit[music]'") from None
    from rnnkit.music.prepare import prepare_music21_corpus

    def progress(i: int, n: int, path: str) -> None:
        if i % 50 == 0:
            _eprint(f"  {i}/{n} {path}")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        melodies = prepare_music21_corpus(name, limit=limit, progress=progress)
    for w in caught:
        if str(w.message).startswith("skipped"):
            _eprint(f"warning: {w.message}")
    return melodies, {"source": f"music21 corpus: {name}", "music21": music21.__version__}


def music_train(args: argparse.Namespace) -> int:
    from rnnkit.config import TrainConfig
    from rnnkit.engines.config import engine_overrides, resolve_engine
    from rnnkit.music import train as music
    from rnnkit.music.config import ModelConfig, preset_configs
    from rnnkit.runflags import check_resume_flags, exit_code, new_run_path, stop_reason

    if args.resume is not None:
        check_resume_flags(args)
        summary = music.resume(
            args.resume, args.max_steps, args.max_time, progress=not args.quiet, engine=engine_overrides(args)
        )
        out = args.resume
    else:
        out = new_run_path(args.out, "runs/music-")
        pick = lambda cls: {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)}  # noqa: E731
        model, train_config = preset_configs(args.preset, pick(ModelConfig), pick(TrainConfig))
        data = music.DataConfig(
            data=tuple(args.data),
            track=args.track,
            val_fraction=args.val_fraction,
            transpose=not args.no_transpose,
            tx=args.tx,
        )
        summary = music.train(
            out,
            model,
            train_config,
            data,
            preset=args.preset,
            epochs=args.epochs,
            force=args.force,
            progress=not args.quiet,
            engine=resolve_engine(None, engine_overrides(args)),
        )
    if summary.get("rank", 0) != 0:  # under torchrun, rank 0 alone reports
        return 128 + summary["signal"] if summary.get("signal") else 0
    best = summary["best_val"]
    print(f"stopped ({stop_reason(summary)}) at step {summary['step']} after {summary['elapsed']:.1f} s")
    if best is not None:
        print(f"best held-out loss: {best:.4f} nats per token")
    print(f"run: {out}  (loss curves: {out}/loss.png; write a melody with: rnnkit music generate {out} --out song.mid)")
    return exit_code(summary, out)


def _progression(args: argparse.Namespace, gen):
    """The progression --chords or --chords-from names (None without either); bad input is a one-line error."""
    from rnnkit.errors import RnnkitError

    if args.chords is None and args.chords_from is None:
        for flag, value in (("--beats-per-chord", args.beats_per_chord), ("--chord-instrument", args.chord_instrument)):
            if value is not None:
                raise RnnkitError(f"{flag} needs --chords or --chords-from")
        return None
    if args.steps is not None:
        raise RnnkitError("--steps: over chords the melody lasts as long as the progression; drop --steps")
    if args.prime:
        raise RnnkitError("--prime cannot be combined with --chords or --chords-from")
    if args.chords_from is not None:
        if args.beats_per_chord is not None:
            raise RnnkitError("--beats-per-chord applies to --chords, not to --chords-from")
        from rnnkit.music.midi import read_progression

        return read_progression(args.chords_from)
    return gen.progression(args.chords, args.beats_per_chord)


def music_generate(args: argparse.Namespace) -> int:
    from rnnkit.errors import RnnkitError
    from rnnkit.music.generate import numbered_paths
    from rnnkit.music.train import load
    from rnnkit.outputs import check_outputs

    if 1 <= args.n <= 100_000:  # (-n itself is checked where the melodies are made)
        outputs = [("--out", p) for p in numbered_paths(args.out, args.n)]
        for flag, path in (("--png", args.png), ("--wav", args.wav)):
            outputs += [(flag, p) for p in numbered_paths(path, args.n)] if path is not None else []
        inputs = [("--prime", args.prime), ("--chords-from", args.chords_from)]
        if args.run is not None:  # (the bundled models lie in the package, which no output may enter)
            inputs += [("RUN", f"{args.run}/{name}") for name in ("config.json", "vocab.json", "model.safetensors")]
        check_outputs(outputs, [(flag, path) for flag, path in inputs if path], force=args.force)
    over_chords = args.chords is not None or args.chords_from is not None
    gen = load(args.run, chords=over_chords)
    progression = _progression(args, gen)
    if progression is not None and not gen.chords:
        _eprint(f"note: {args.run} was trained without chords: its melodies fill the chords' beats, deaf to them")
    prime = None
    if args.prime:
        from rnnkit.music.midi import read_midi

        prime = read_midi(args.prime, args.track)
    n = args.n
    if args.greedy and n > 1:
        raise RnnkitError("--greedy writes one melody (it is deterministic); drop -n")
    if progression is not None:
        melodies = gen.generate_over(progression, n, args.temperature, args.greedy, args.top_k, args.seed)
    else:
        melodies = gen.generate(
            n,
            100 if args.steps is None else args.steps,
            temperature=1.0 if args.temperature is None else args.temperature,
            greedy=args.greedy,
            top_k=args.top_k,
            prime=prime,
            seed=args.seed,
        )
    signature = prime.time_signature if prime is not None else None
    tempo = args.tempo if args.tempo is not None else (prime.tempo_bpm if prime is not None else None)
    written = gen.write(
        melodies,
        args.out,
        tempo_bpm=tempo,
        key=args.key,
        instrument=args.instrument,
        time_signature=signature,
        png=args.png,
        wav=args.wav,
        chord_instrument=args.chord_instrument or "strings",
    )
    for w in written:
        m = w.melody
        extra = "".join(f", {what} {path}" for what, path in (("piano roll", w.png), ("audio", w.wav)) if path)
        over = "" if m.chords is None else f" over {m.chords.total_beats:g} beats of chords"
        print(
            f"wrote {w.midi}: {len(m)} events, {m.total_beats:g} beats{over}, {m.key.name}, {m.tempo_bpm:g} bpm{extra}"
        )
    return 0


def music_eval(args: argparse.Namespace) -> int:
    import json

    from rnnkit.errors import RnnkitError
    from rnnkit.music.train import DataConfig, evaluate, load_run, read_melodies

    if args.chords and args.run:
        raise RnnkitError("--chords picks the bundled chord model; a RUN is evaluated as it was trained")
    loaded = load_run(args.run, chords=args.chords)
    held = None
    if args.data:
        held = read_melodies(DataConfig(data=tuple(args.data)), warn=_eprint)
    result = evaluate(loaded, args.n, args.temperature, args.top_k, args.seed, held, warn=_eprint)
    if args.json:
        print(json.dumps(result))
    else:
        print(format_eval(result))
    return 0


ROWS = (  # key, label, format, target
    ("pitch_class_jsd", "pitch-class JSD", "{:.4f}", "<= 0.05"),
    ("duration_jsd", "duration JSD", "{:.4f}", "<= 0.05"),
    ("interval_jsd", "interval JSD", "{:.4f}", ""),
    ("scale_consistency", "scale consistency", "{:.3f}", ">= 0.95"),
    ("pitch_range", "pitch range (semitones)", "{:.1f}", ""),
    ("distinct_pitches", "distinct pitches", "{:.1f}", ""),
    ("copy_rate", "copy rate (8-grams)", "{:.3f}", "well below 0.5"),
)


CHORD_ROWS = (  # key of the chord-tone ratios, label, target
    ("count", "chord tones, by count", ""),
    ("duration", "chord tones, by duration", ""),
    ("on_beat", "chord tones, on the beat", "within 0.03 of the reference"),
    ("off_beat", "chord tones, off the beat", ""),
)


def format_eval(result: dict) -> str:
    """The eval result as a text table: model against the held-out-vs-train reference."""
    h, g = result["held_out"], result["generated"]
    lines = [
        f"held-out: {h['pieces']} pieces, {h['tokens']} predictions: NLL {result['nll']:.4f} nats/token "
        f"(perplexity {result['perplexity']:.2f})",
        f"generated: {g['pieces']} pieces, temperature {g['temperature']:g}"
        + (f", top-k {g['top_k']}" if g["top_k"] else "")
        + f", seed {g['seed']}, "
        + ("over the held-out pieces' chords" if result.get("chords") else "the held-out pieces' lengths"),
        "",
        f"{'metric':<26}{'model':>10}{'reference':>12}  target",
    ]
    for key, label, fmt, target in ROWS:
        m, r = fmt.format(result["model"][key]), fmt.format(result["reference"][key])
        lines.append(f"{label:<26}{m:>10}{r:>12}  {target}".rstrip())
    lines.append("reference: the held-out pieces against the training pieces")
    tones = result.get("chord_tones")
    if tones:
        who = "the model, trained with chords" if result.get("chords") else "the model (no chords: the baseline)"
        lines += ["", f"over the held-out pieces' chords: {who}, against the pieces' own melodies", ""]
        lines.append(f"{'metric':<26}{'model':>10}{'reference':>12}  target")
        for key, label, target in CHORD_ROWS:
            m, r = f"{tones['model'][key]:.3f}", f"{tones['reference'][key]:.3f}"
            lines.append(f"{label:<26}{m:>10}{r:>12}  {target}".rstrip())
        lines.append(f"notes judged: {tones['model']['notes']} generated, {tones['reference']['notes']} in the pieces")
    return "\n".join(lines)
