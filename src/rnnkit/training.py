"""The training loop the applications share: schedule, evaluation, checkpoints, resume, early stopping.

An application hands the Trainer a Task: its NumPy model, the next training batch, the evaluation batches, a few
samples to print, and its data-order state. An engine (rnnkit.engines: NumPy, or torch on a GPU and under
torchrun) computes the steps; the Trainer does the rest, the same way for names and music and for either engine.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import time
from collections.abc import Iterable
from typing import Any, Protocol

import numpy as np

from rnnkit import optim
from rnnkit.config import DEFAULT_STEPS, TrainConfig, learning_rate
from rnnkit.engines.base import Engine
from rnnkit.engines.batch import Batch
from rnnkit.errors import RnnkitError
from rnnkit.rundir import CHECKPOINT, RunDir
from rnnkit.schema import check_trainer_state


class Task(Protocol):
    """What an application gives the Trainer."""

    model: Any  # the NumPy model (rnnkit.lm.model.TokenModel): the engines start from its weights, samples use it

    def next_batch(self) -> Batch:
        """The next global training batch (under torchrun each engine keeps its rank's rows of it)."""

    def eval_batches(self) -> Iterable[Batch] | None:
        """The validation batches, or None without a validation set."""

    def samples(self, n: int, rng: np.random.Generator) -> list[str]:
        """A few generated examples to show during training."""

    def data_state(self) -> dict[str, Any]: ...

    def load_data_state(self, state: dict[str, Any]) -> None: ...


WARM_UP_STEPS = 3  # steps of each session left out of the pace: the first ones compile the kernels
EVAL_RESERVE = 0.08  # share of --max-time kept for the final evaluation until one has been timed
EVAL_MARGIN = 1.5  # then this many times the last evaluation's seconds: they vary with the machine's load
FIRST_EVAL = 0.1  # with --max-time, evaluate once this share of it has passed if --eval-every has not yet


class TrainingStopped(RnnkitError):
    """Training hit a NaN or exploding loss; the last good checkpoint is kept."""


class Trainer:
    """Runs a Task to max_steps (or max_time, or early stopping), saving the run as it goes.

    Checkpoints are written at every evaluation, at the end and on Ctrl-C or SIGTERM; model.safetensors holds the
    best weights by validation loss. Resuming restores weights, optimizer, step, RNGs and data order, so the
    losses continue exactly as if the run had never stopped. With ema_decay > 0 the moving average of the
    weights is what is evaluated, sampled and saved as the model; the checkpoint keeps both.
    """

    def __init__(
        self,
        config: TrainConfig,
        task: Task,
        run: RunDir,
        progress: bool = True,
        log=print,
        engine: Engine | None = None,
    ):
        config.validate()
        if engine is None:
            from rnnkit.engines.numpy_engine import NumpyEngine

            engine = NumpyEngine(task.model, config)
        self.config, self.task, self.run, self.engine = config, task, run, engine
        self.master = engine.world.master  # rank 0 alone writes the run directory and prints
        self.progress, self.log = progress, log
        self.lr = config.lr
        self.ema = optim.EMA(engine.export_params(), config.ema_decay) if config.ema_decay else None
        self.step = 0
        # the schedule's length; None with only max_time given: the schedule then follows the clock
        self.max_steps = config.max_steps or (None if config.max_time else DEFAULT_STEPS)
        self.best_val = math.inf
        self.bad_evals = 0
        self.loss_sum, self.loss_count = 0.0, 0  # train loss since the last evaluation, target-weighted
        self.elapsed = 0.0  # training seconds, summed over resumes
        self.targets_seen = 0
        self.time_limit = config.max_time  # stop when elapsed (summed over sessions) reaches this
        self._interrupted: int | None = None  # the signal (SIGINT, SIGTERM) that asked to stop
        self._begun = False  # begin() wrote the step-0 checkpoint
        self.clock = time.perf_counter  # seconds; tests give a fake clock

    # -- checkpoints -----------------------------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "max_steps": self.max_steps,
            "best_val": None if math.isinf(self.best_val) else self.best_val,
            "bad_evals": self.bad_evals,
            "loss_sum": self.loss_sum,
            "loss_count": self.loss_count,
            "elapsed": self.elapsed,
            "targets_seen": self.targets_seen,
            "rng": self.engine.rng_state(),
            "data": self.task.data_state(),
            "world_size": self.engine.world.size,
        }

    def save_checkpoint(self) -> None:
        """Every rank calls this (a stream's carried state is gathered from all of them); rank 0 writes."""
        carried = self.engine.carried_state()
        if not self.master:
            return
        arrays = {f"model.{k}": v for k, v in self.engine.export_params().items()}
        arrays.update({f"optim.{k}": v for k, v in self.engine.export_optimizer().items()})
        arrays.update({f"carry.{k}": v for k, v in carried.items()})
        if self.ema is not None:
            arrays.update({f"ema.{k}": v for k, v in self.ema.state_dict().items()})
        self.run.save_checkpoint(arrays, self._state())

    def begin(self) -> None:
        """The step-0 checkpoint and weights of a new run, so that it samples and resumes from the start.

        Every rank calls it (the checkpoint gathers from all of them); rank 0 writes.
        """
        self.save_checkpoint()
        self._begun = True
        if self.master:
            self.run.save_model(self.engine.export_params(), {"step": 0, "val_loss": None})

    def resume(self) -> None:
        arrays, state = self.run.load_checkpoint()
        state = check_trainer_state(state, f"{self.run.path / CHECKPOINT} metadata")
        for k, p in self.task.model.params.items():
            a = arrays.get(f"model.{k}")
            if a is None or a.shape != p.shape or not np.issubdtype(a.dtype, np.floating):
                found = "missing" if a is None else f"{a.dtype} {a.shape}"
                raise RnnkitError(f"{self.run.path / CHECKPOINT}: tensor model.{k} is {found}, expected {p.shape}")
        saved_world, world = state.get("world_size", 1), self.engine.world.size
        if saved_world != world:
            raise RnnkitError(
                f"{self.run}: trained on {saved_world} process(es), resumed on {world}; resume it with the same "
                f"number (torchrun --nproc-per-node): the global batch and its data order depend on it"
            )
        part = lambda prefix: {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}  # noqa: E731
        try:
            self.engine.import_params(part("model."))
            self.engine.import_optimizer(part("optim."))
            self.engine.load_carried_state(part("carry."))
            if self.ema is not None:
                self.ema.load_state_dict(part("ema."))
            self.step, self.bad_evals, self.max_steps = state["step"], state["bad_evals"], state["max_steps"]
            self.best_val = math.inf if state["best_val"] is None else state["best_val"]
            self.loss_sum, self.loss_count = state["loss_sum"], state["loss_count"]
            self.elapsed, self.targets_seen = state["elapsed"], state["targets_seen"]
            if state["rng"]:  # empty from the torch engine, which reseeds dropout every step
                self.engine.load_rng_state(state["rng"])
            self.task.load_data_state(state["data"])
        except (KeyError, ValueError, TypeError, IndexError) as e:
            raise RnnkitError(f"{self.run}: checkpoint does not match this model ({e})") from None
        if self.master:
            self.run.truncate_metrics(self.step, warn=self.log)

    def extend(self, max_steps: int | None = None, max_time: float | None = None) -> None:
        """Continue a resumed run beyond its saved end: to `max_steps` in all, for `max_time` more seconds.

        The cosine is re-spanned to the new end: from the current step on, the rate is that of a run of the
        new length (after a finished run it rises again from --min-lr, a warm restart, and anneals back down
        by the new end). With max_time alone, the end moves by as many steps as fit in it at the run's pace;
        with max_steps alone, the earlier sessions' time budget no longer stops the run.
        """
        if max_steps is not None:
            if max_steps <= self.step:
                raise RnnkitError(f"--max-steps {max_steps}: the run is already at step {self.step}; give more")
            self.max_steps = max_steps
            self.time_limit = None
        if max_time is not None:
            if not 0 < max_time < math.inf:
                raise RnnkitError(f"--max-time must be a finite number of seconds > 0, got {max_time}")
            self.time_limit = self.elapsed + max_time
            if max_steps is None and self.step > 0 and self.max_steps is not None:
                per_step = self.elapsed / self.step
                self.max_steps = self.step + max(1, int(0.9 * max_time / max(per_step, 1e-9)))

    # -- the loop --------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _model_weights(self):
        """Within the block the engine holds the model's weights: the moving average when there is one."""
        if self.ema is None:
            yield
            return
        weights = {k: v.copy() for k, v in self.engine.export_params().items()}
        self.engine.import_params(self.ema.average)
        try:
            yield
        finally:
            self.engine.import_params(weights)

    def _evaluate(self) -> bool:
        """Evaluate, log, keep the best weights, checkpoint; return True when patience has run out."""
        batches = self.task.eval_batches()
        with self._model_weights():
            val = None if batches is None else self.engine.evaluate(batches)  # the same on every rank
        train = self.loss_sum / max(1, self.loss_count)
        row = {
            "step": self.step,
            "train_loss": train,
            "val_loss": val,
            "lr": self.lr,
            "elapsed": round(self.elapsed, 3),
            "targets_per_s": round(self.targets_seen / max(self.elapsed, 1e-9), 1),
        }
        self.loss_sum, self.loss_count = 0.0, 0
        improved = val is None or val < self.best_val
        if improved:
            self.best_val = math.inf if val is None else val
            self.bad_evals = 0
            if self.master:
                with self._model_weights():
                    self.run.save_model(self.engine.export_params(), {"step": self.step, "val_loss": val})
        else:
            self.bad_evals += 1
        stop = self.config.patience is not None and self.bad_evals >= self.config.patience
        if self.master:
            self.run.append_metrics(row)
        self.save_checkpoint()
        if not self.master:
            return stop
        self.run.plot()
        # samples draw from their own generator, so showing them never changes the training that follows
        sample_rng = np.random.default_rng([self.config.seed, 2, self.step])
        samples = []
        if self.config.num_samples:
            with self._model_weights():
                self.engine.sync_model()
                samples = self.task.samples(self.config.num_samples, sample_rng)
        val_text = "-" if val is None else f"{val:.4f}"
        self.log(f"step {self.step}: train {train:.4f}  val {val_text}  " + "  ".join(samples))
        return stop

    def _on_signal(self, signum, frame) -> None:
        self._interrupted = signum  # the loop saves at the end of this step and stops

    def _final_eval_s(self, eval_s: float | None) -> float:
        """Seconds to keep for the final evaluation: the last one measured, with a margin; before any,
        EVAL_RESERVE of the budget (the first one also loads the plotting library and the sampler's kernels)."""
        return EVAL_MARGIN * eval_s if eval_s is not None else EVAL_RESERVE * self.time_limit

    def _time_is_up(self, step_s: float | None, eval_s: float | None) -> bool:
        """Whether another step and the final evaluation would overrun max_time."""
        if self.time_limit is None:
            return False
        return self.elapsed + (step_s or 0.0) + self._final_eval_s(eval_s) >= self.time_limit

    def train(self) -> dict[str, Any]:
        """Train until max_steps, max_time, patience or Ctrl-C; return a summary.

        With max_time, the clock counts every session of the run (evaluations and checkpoints included), and
        training stops when one more step and the final evaluation would no longer fit. With max_time alone
        (max_steps None), the cosine schedule follows the clock: it reaches min_lr when the time is up.
        """
        from tqdm import tqdm

        c = self.config
        clock = self.clock
        by_clock = self.max_steps is None
        if self.time_limit is not None:
            self._log_budget(by_clock)
        watched = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C, and what schedulers send before killing
        previous = {s: signal.signal(s, self._on_signal) for s in watched} if _main_thread() else {}
        bar = tqdm(
            total=self.max_steps,
            initial=self.step,
            disable=not (self.progress and self.master),
            dynamic_ncols=True,
            file=sys.stderr,
        )
        reason = "max-steps"
        self.log(self.engine.describe())
        if self.step == 0 and not self._begun:
            self.save_checkpoint()  # so a run that fails early still has a good checkpoint to resume
        if self.time_limit is not None:
            _load_plotting()  # before the clock starts: loading a library is not training
        start = clock() - self.elapsed
        session_start, session_targets, session_steps = clock(), 0, 0
        step_s: float | None = None  # seconds per step, a running mean once compilation is over
        last_step_s = 0.0  # the last step's seconds, while the first steps run
        eval_s: float | None = None  # seconds the last evaluation took, checkpoint and plot included
        time_used = 0.0  # share of the training time spent, for a schedule that follows the clock
        clean = False  # True once the loop ends by itself: every rank then closes together
        try:
            while self.max_steps is None or self.step < self.max_steps:
                time_up = self._time_is_up(step_s if step_s is not None else last_step_s, eval_s)
                if by_clock:  # the share of the training time used: the time left less the final evaluation's
                    horizon = self.time_limit - self._final_eval_s(eval_s)
                    time_used = max(time_used, self.elapsed / max(horizon, 1e-9))  # never back up the cosine
                if self.time_limit is not None and self.engine.world.size > 1:  # every rank decides as rank 0 does
                    time_up, time_used = self.engine.any_rank(time_up), self.engine.from_master(time_used)
                if time_up:
                    reason = "max-time"
                    if self.loss_count and self._evaluate():
                        reason = "patience"
                    break
                self.lr = learning_rate(c, self.step, self.max_steps, time_used)
                t0 = clock()
                loss, n = self.engine.forward_backward(self.task.next_batch(), self.step)
                if not math.isfinite(loss) or loss > 1e4:
                    raise TrainingStopped(
                        f"training stopped at step {self.step + 1}: the loss is {loss} (try a lower --lr); "
                        f"the last good checkpoint in {self.run} is kept"
                    )
                self.engine.update(self.lr)
                if self.ema is not None:
                    self.ema.update(self.engine.export_params())
                now = clock()  # the pace counts the average's update too: it is part of every step
                self.step += 1
                session_steps += 1
                dt = now - t0
                if session_steps > WARM_UP_STEPS:  # the first steps compile kernels: they say nothing of the pace
                    step_s = dt if step_s is None else 0.9 * step_s + 0.1 * dt
                elif step_s is None:  # until then the last step is the best guess there is
                    last_step_s = dt
                self.loss_sum += loss * n
                self.loss_count += n
                self.targets_seen += n
                session_targets += n
                self.elapsed = now - start
                bar.update(1)
                if self.step % 10 == 0:
                    rate = session_targets / max(now - session_start, 1e-9)
                    val = "-" if math.isinf(self.best_val) else f"{self.best_val:.4f}"
                    bar.set_postfix_str(f"loss {self.loss_sum / max(1, self.loss_count):.4f} val {val} {rate:,.0f}/s")
                    if by_clock and step_s:  # the steps that still fit, for the bar
                        bar.total = self.step + max(0, int((self.time_limit - self.elapsed) / step_s))
                # with a time budget, the first evaluation comes early enough to know its cost before the last one
                untimed = (  # after the steps that compile: an evaluation then is one like the last will be
                    self.time_limit is not None
                    and eval_s is None
                    and session_steps > WARM_UP_STEPS
                    and self.elapsed >= FIRST_EVAL * self.time_limit
                )
                if self.engine.world.size > 1:  # every rank evaluates and stops at the same step, or the others hang
                    untimed = self.engine.any_rank(untimed)
                    if self.engine.any_rank(bool(self._interrupted)) and not self._interrupted:
                        self._interrupted = signal.SIGTERM  # another rank was signalled (what torchrun sends)
                if self.step % c.eval_every == 0 or self.step == self.max_steps or self._interrupted or untimed:
                    t0 = clock()
                    stop = self.loss_count and self._evaluate()
                    eval_s = clock() - t0
                    self.elapsed = clock() - start
                    if stop:
                        reason = "patience"
                        break
                    if self._interrupted:
                        reason = "interrupted"
                        break
            self.elapsed = clock() - start
            clean = True
        finally:
            bar.close()
            self.engine.close(wait=clean)
            for s, handler in previous.items():
                signal.signal(s, handler)
        return {
            "step": self.step,
            "stopped": reason,
            "signal": self._interrupted if reason == "interrupted" else None,  # SIGINT or SIGTERM that stopped it
            "best_val": None if math.isinf(self.best_val) else self.best_val,
            "elapsed": self.elapsed,
            "rank": self.engine.world.rank,
        }

    def _log_budget(self, by_clock: bool) -> None:
        c = self.config
        schedule = (
            "the cosine schedule follows the clock down to --min-lr"
            if by_clock and c.lr_schedule == "cosine"
            else f"or {self.max_steps} steps, whichever comes first"
            if self.max_steps is not None
            else "the rate stays constant"
        )
        if self.elapsed > 0:
            left = max(0.0, self.time_limit - self.elapsed)
            self.log(
                f"--max-time: earlier sessions trained {self.elapsed:.0f} s; this one trains {left:.0f} s more, "
                f"to {self.time_limit:.0f} s in all ({schedule})"
            )
        else:
            self.log(f"training for --max-time {self.time_limit:g} s, evaluations included ({schedule})")


def _load_plotting() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
