"""Shared fixtures: small data files and a tiny trained name model, so end-to-end tests stay fast."""

from __future__ import annotations

import os
import signal

import pytest

from rnnkit import cli
from rnnkit.text.data import load_surnames

TINY = ["--hidden-size", "16", "--embedding-size", "8", "--batch-size", "16", "--num-samples", "2", "--quiet"]


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """`rnnkit ARGV...` in this process: (exit code, stdout, stderr); arguments may be paths."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def train_tiny(out, data, steps: int, *flags: str) -> None:
    """A TINY name model on `data` for `steps` steps into `out`, evaluated once at the end."""
    argv = ["text", "train", "--data", str(data), "--out", str(out), "--max-steps", str(steps)]
    assert cli.main([*argv, "--eval-every", str(steps), *TINY, *flags]) == 0


@pytest.fixture(scope="session")
def names_file(tmp_path_factory):
    """400 real surnames, one per line."""
    path = tmp_path_factory.mktemp("data") / "names.txt"
    path.write_text("\n".join(load_surnames()[:400]) + "\n", encoding="utf-8")
    return path


def interrupt_at(monkeypatch, task_cls, n: int, signum: int = signal.SIGINT) -> None:
    """Send `signum` (Ctrl-C's by default) to this process in the n-th training step of task_cls: the real signal
    path, where a handler sets a flag and the Trainer stops, saved, once the step is done."""
    original, calls = task_cls.next_batch, {"n": 0}

    def next_batch(self):
        calls["n"] += 1
        if calls["n"] == n:
            os.kill(os.getpid(), signum)
        return original(self)

    monkeypatch.setattr(task_cls, "next_batch", next_batch)


@pytest.fixture(scope="module")
def chorales(tmp_path_factory):
    """A corpus file of 40 bundled chorale melodies, with their chords (a quick data set)."""
    from rnnkit.music.corpus import load_bundled_bach, save_corpus

    path = tmp_path_factory.mktemp("music") / "chorales.npz"
    save_corpus(load_bundled_bach()[:40], path)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A corpus file of the first 12 bundled chorales' melodies (so a run made from it keeps melodies.npz)."""
    from rnnkit.music.corpus import load_bundled_bach, save_corpus

    path = tmp_path_factory.mktemp("music") / "few.npz"
    save_corpus(load_bundled_bach()[:12], path)
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, names_file):
    """A name model trained for 40 steps on names_file."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    code = cli.main(
        [
            "text",
            "train",
            "--data",
            str(names_file),
            "--out",
            str(out),
            "--max-steps",
            "40",
            "--eval-every",
            "20",
            *TINY,
        ]
    )
    assert code == 0
    return out


@pytest.fixture(scope="session")
def stream_text_run(tmp_path_factory):
    """A free-text (--stream) model trained for 20 steps on 300 lines of common English words."""
    import numpy as np

    words = "the of and to in that it is was he for on are as with his they at be this from".split()
    rng = np.random.default_rng(0)
    text = "\n".join(" ".join(rng.choice(words, size=rng.integers(3, 9))) for _ in range(300)) + "\n"
    path = tmp_path_factory.mktemp("data") / "words.txt"
    path.write_text(text, encoding="utf-8")
    out = tmp_path_factory.mktemp("runs") / "words"
    argv = ["text", "train", "--stream", "--data", str(path), "--out", str(out), "--max-steps", "20"]
    assert cli.main([*argv, "--eval-every", "10", "--seq-length", "16", *TINY]) == 0
    return out


def pytest_terminal_summary(terminalreporter):
    """Report the largest float64 differences from torch (test_engine_torch.py) and from central differences."""
    import sys

    checks = sys.modules.get("gradcheck")
    if checks is not None and checks.WORST["checked"]:
        terminalreporter.write_line(
            f"gradient checks: {checks.WORST['checked']} gradients against central differences, "
            f"largest relative error {checks.WORST['error']:.1e}"
        )
    twins = sys.modules.get("torch_twins")
    if twins is not None and twins.LARGEST["compared"]:
        d = twins.LARGEST
        terminalreporter.write_line(
            f"engine vs torch (float64): {d['compared']:,} values compared, largest difference "
            f"{d['abs']:.1e} absolute, {d['rel']:.1e} relative"
        )


@pytest.fixture(scope="session")
def serve_models():
    """create_app's arguments for the bundled surnames and Bach models, loaded once (rnnkit serve's defaults)."""
    from rnnkit.serve.server import load_models

    return load_models()
