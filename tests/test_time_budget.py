"""--max-time spends its budget: the Trainer's pace estimate, its reserve for the last evaluation, the schedule."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.config import TrainConfig, learning_rate
from rnnkit.engines.distributed import World
from rnnkit.rundir import RunDir
from rnnkit.training import Trainer


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class SlowStartEngine:
    """An engine whose first steps are slow (kernels compiling) and whose evaluation takes a while, on a fake clock.

    It records the learning rate of every update.
    """

    world = World()

    def __init__(self, clock: FakeClock, first: float, step: float, evaluation: float):
        self.clock, self.first, self.step, self.evaluation = clock, first, step, evaluation
        self.steps, self.lrs = 0, []

    def forward_backward(self, batch, step):
        self.steps += 1
        self.clock.now += self.first if self.steps <= 2 else self.step
        return 1.0, 1

    def update(self, lr):
        self.lrs.append(lr)

    def evaluate(self, batches):
        self.clock.now += self.evaluation
        return 1.0 / self.steps

    def export_params(self):
        return {"w": np.zeros(4, dtype=np.float32)}

    def export_optimizer(self):
        return {}

    def rng_state(self):
        return {}

    def carried_state(self):
        return {}

    def sync_model(self):
        pass

    def any_rank(self, flag):
        return flag

    def from_master(self, value):
        return value

    def describe(self):
        return "engine: fake"

    def close(self, wait: bool = True):
        pass


class Task:
    model = None

    def next_batch(self):
        return None

    def eval_batches(self):
        return []

    def samples(self, n, rng):
        return []

    def data_state(self):
        return {}

    def load_data_state(self, state):
        pass


def _train(tmp_path, budget, first, step, evaluation, eval_every=200, **config):
    clock = FakeClock()
    engine = SlowStartEngine(clock, first, step, evaluation)
    cfg = TrainConfig(max_time=budget, eval_every=eval_every, num_samples=0, **config)
    run = RunDir(tmp_path / "run")
    run.create()
    trainer = Trainer(cfg, Task(), run, progress=False, log=lambda *a: None, engine=engine)
    trainer.clock = clock
    summary = trainer.train()
    return summary, clock.now, engine.lrs, cfg


@pytest.mark.parametrize(
    "budget, first, step, evaluation",
    [(60.0, 4.0, 0.05, 0.5), (30.0, 8.0, 0.02, 2.0), (100.0, 0.5, 0.3, 0.1)],
)
def test_max_time_trains_between_nine_tenths_and_all_of_the_budget(tmp_path, budget, first, step, evaluation):
    """Slow first steps (compilation) do not shorten the run: it ends, last evaluation included, in [0.9 T, T]."""
    summary, ended, lrs, cfg = _train(tmp_path, budget, first, step, evaluation)
    assert summary["stopped"] == "max-time"
    assert 0.9 * budget <= ended <= budget
    assert summary["elapsed"] == pytest.approx(ended)
    # the cosine followed the clock: warm-up, then falling to near --min-lr at the end
    after = lrs[cfg.warmup_steps :]
    assert all(a >= b for a, b in zip(after, after[1:], strict=False))
    assert lrs[-1] < cfg.min_lr + 0.02 * (cfg.lr - cfg.min_lr)


def test_the_first_evaluation_is_reserved_for_before_it_has_been_timed(tmp_path):
    """A run too short for a regular evaluation still leaves room for its final one and ends within the budget."""
    summary, ended, _, _ = _train(tmp_path, 30.0, 1.0, 0.01, 1.2, eval_every=10**6)
    assert summary["stopped"] == "max-time" and 0.9 * 30 <= ended <= 30


def test_with_max_steps_too_the_schedule_follows_the_steps(tmp_path):
    """--max-steps with --max-time: the cosine spans the steps, and whichever limit comes first stops the run."""
    summary, ended, lrs, cfg = _train(tmp_path, 1000.0, 0.1, 0.1, 0.1, max_steps=300)
    assert summary["stopped"] == "max-steps" and summary["step"] == 300
    assert lrs[-1] == pytest.approx(learning_rate(cfg, 299, 300))


def test_learning_rate_by_the_clock():
    """With max_steps None the cosine's progress is the share of the time used."""
    cfg = TrainConfig(lr=1.0, min_lr=0.0, warmup_steps=10)
    assert learning_rate(cfg, 5, None, 0.0) == pytest.approx(0.6)  # warm-up counts steps
    assert learning_rate(cfg, 50, None, 0.5) == pytest.approx(0.5)
    assert learning_rate(cfg, 50, None, 1.5) == pytest.approx(0.0)
