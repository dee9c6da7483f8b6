"""kill -9 at any moment: the run always samples (or is recognisably unfinished and trains again without --force)
and finishes with the weights of a run that was never interrupted."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from conftest import TINY

from rnnkit import cli
from rnnkit.rundir import RunDir
from rnnkit.text import train as text_train

# a process that trains and SIGKILLs itself at a chosen moment: in the n-th rename of a file (its temporary copy
# complete, the rename not done), in the n-th evaluation, or just after the n-th metrics row; or, with
# "pause:FILE", that waits in its n-th evaluation until FILE exists
KILLER = textwrap.dedent(
    """
    import os, signal, sys, time
    from rnnkit import checkpoint, cli, rundir, training

    where, n, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    calls = {"n": 0}

    def maybe_die():
        calls["n"] += 1
        if calls["n"] == n:
            os.kill(os.getpid(), signal.SIGKILL)

    if where.startswith("rename:"):
        real_replace = os.replace

        def replace(src, dst):
            if os.path.basename(dst) == where[len("rename:"):]:
                maybe_die()
            return real_replace(src, dst)

        checkpoint.os.replace = replace
    elif where == "evaluate":
        real_evaluate = training.Trainer._evaluate
        training.Trainer._evaluate = lambda self: maybe_die() or real_evaluate(self)
    elif where.startswith("pause:"):
        real_evaluate = training.Trainer._evaluate

        def evaluate(self):
            calls["n"] += 1
            if calls["n"] == n:
                print("paused", flush=True)
                while not os.path.exists(where[len("pause:"):]):
                    time.sleep(0.01)
            return real_evaluate(self)

        training.Trainer._evaluate = evaluate
    elif where == "metrics":
        real_append = rundir.RunDir.append_metrics
        rundir.RunDir.append_metrics = lambda self, row: real_append(self, row) or maybe_die()
    sys.exit(cli.main(argv))
    """
)
STEPS = 30


def train_argv(out, names_file) -> list[str]:
    return ["text", "train", "--data", str(names_file), "--out", str(out), "--max-steps", str(STEPS)] + [
        "--eval-every", "5", "--dropout", "0.2", "--threads", "1", *TINY,
    ]  # fmt: skip


def finish(run, names_file) -> None:
    """What a user does after a crash: sample and resume a run, or train an unfinished one again (no --force)."""
    if (run / "config.json").exists():
        assert text_train.load(run).sample(3, seed=0)
        assert cli.main(["text", "train", "--resume", str(run), "--quiet", "--threads", "1"]) == 0
    else:
        assert cli.main(train_argv(run, names_file)) == 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory, names_file):
    out = tmp_path_factory.mktemp("kill") / "straight"
    assert cli.main(train_argv(out, names_file)) == 0
    return out


def assert_same_run(a, b) -> None:
    for load in (RunDir.load_checkpoint, RunDir.load_model):
        wa, _ = load(RunDir(a))
        wb, _ = load(RunDir(b))
        assert wa.keys() == wb.keys()
        for k in wa:
            np.testing.assert_array_equal(wa[k], wb[k], err_msg=k)
    assert [r["step"] for r in RunDir(b).read_metrics()] == list(range(5, STEPS + 1, 5))
    assert not [p.name for p in b.iterdir() if p.name.endswith(".tmp")]


def _env() -> dict[str, str]:
    src = os.path.join(os.path.dirname(__file__), "..", "src")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.abspath(src), os.environ.get("PYTHONPATH", "")])}


@pytest.mark.parametrize(
    "where, n",
    [
        ("rename:checkpoint.safetensors", 1),  # the first checkpoint, before config.json exists
        ("rename:config.json", 1),  # the last file of a new run
        ("evaluate", 2),  # in the evaluation at step 10
        ("metrics", 3),  # the step-15 row written, its checkpoint not
        ("rename:checkpoint.safetensors", 4),  # in the checkpoint write at step 15
    ],
)
def test_sigkill_at_chosen_moments(tmp_path, names_file, reference, where, n):
    """SIGKILL in a checkpoint write, an evaluation or after a metrics row: the run recovers to the same weights."""
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, str(script), where, str(n), *train_argv(run, names_file)], env=_env())
    assert proc.returncode == -9
    finish(run, names_file)
    assert_same_run(reference, run)


def test_sigkill_at_random_moments(tmp_path, names_file, reference):
    """Three kill -9s at random moments of training and resuming, then a resume: the same weights as no kill."""
    rng = np.random.default_rng(int(time.time()))
    run = tmp_path / "run"
    for _ in range(3):
        if (run / "config.json").exists():
            argv = ["text", "train", "--resume", str(run), "--quiet", "--threads", "1"]
        else:
            argv = train_argv(run, names_file)
        env = {**_env(), "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "rnnkit.cli", *argv], env=env, stdout=subprocess.PIPE)
        proc.stdout.readline()  # its first line: the run is set up (or resumed) and about to train
        time.sleep(rng.uniform(0.0, 2.5))  # the first steps (and plot) take about a second, each 5 more 0.25 s
        proc.kill()
        proc.communicate()
        if (run / "config.json").exists():
            assert text_train.load(run).sample(3, seed=0)
    finish(run, names_file)
    assert_same_run(reference, run)


def test_two_trainings_started_at_once_into_one_folder(tmp_path, names_file, reference):
    """Of two processes training into the same --out at once, one trains it and the other exits 2 at once."""
    run = tmp_path / "run"
    argv = [sys.executable, "-m", "rnnkit.cli", *train_argv(run, names_file)]
    procs = [subprocess.Popen(argv, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2)]
    results = sorted((p.wait(), p.stderr.read().decode()) for p in procs)
    (ok, _), (refused, err) = results
    assert (ok, refused) == (0, 2), results
    assert "another rnnkit process" in err or "holds another run" in err
    assert len(err.strip().split("\n")) == 1 and "Traceback" not in err
    assert_same_run(reference, run)


def test_a_run_being_trained_cannot_be_replaced_by_another_process(tmp_path, names_file, reference):
    """--out RUN --force from a second process while RUN trains exits 2; the first run finishes untouched."""
    run, go_on, script = tmp_path / "run", tmp_path / "go-on", tmp_path / "killer.py"
    script.write_text(KILLER)
    first = subprocess.Popen([sys.executable, str(script), f"pause:{go_on}", "2", *train_argv(run, names_file)],
                             env=_env(), stdout=subprocess.PIPE, text=True)  # fmt: skip
    while first.stdout.readline().strip() != "paused":  # it waits in its evaluation at step 10, holding the run
        assert first.poll() is None
    second = subprocess.run([sys.executable, "-m", "rnnkit.cli", *train_argv(run, names_file), "--force"],
                            env=_env(), capture_output=True, text=True)  # fmt: skip
    go_on.touch()
    first.communicate()
    assert (first.returncode, second.returncode) == (0, 2), second.stderr
    assert "another rnnkit process" in second.stderr and len(second.stderr.strip().split("\n")) == 1
    assert_same_run(reference, run)
