"""The training loop the applications share: optimizer, schedule, clipping, evaluation, checkpoints, resume.

An application hands the Trainer a Task: the model's flat params/grads, one training step on the next batch, an
evaluation, a few samples to print, and its data-order state. The Trainer does the rest, the same way for names
and for music.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import time
from typing import Any, Protocol

import numpy as np

from rnnkit import optim
from rnnkit.config import CALIBRATION_STEPS, DEFAULT_STEPS, TrainConfig, learning_rate
from rnnkit.errors import RnnkitError
from rnnkit.rundir import RunDir


class Task(Protocol):
    """What an application gives the Trainer."""

    params: dict[str, np.ndarray]  # flat name -> array, updated in place by the optimizer
    grads: dict[str, np.ndarray]  # same keys

    def train_step(self, rng: np.random.Generator) -> tuple[float, int]:
        """Zero the grads, forward and backward one batch; return its mean loss and how many targets it had."""

    def evaluate(self) -> float | None:
        """The mean validation loss per target, or None without a validation set."""

    def samples(self, n: int, rng: np.random.Generator) -> list[str]:
        """A few generated examples to show during training."""

    def data_state(self) -> dict[str, Any]: ...

    def load_data_state(self, state: dict[str, Any]) -> None: ...


class TrainingStopped(RnnkitError):
    """Training hit a NaN or exploding loss; the last good checkpoint is kept."""


def make_optimizer(config: TrainConfig, params: dict[str, np.ndarray]):
    if config.optimizer == "sgd":
        return optim.SGD(params, lr=config.lr)
    return optim.Adam(
        params,
        lr=config.lr,
        beta_1=config.beta_1,
        beta_2=config.beta_2,
        decay=config.decay,
        weight_decay=config.weight_decay,
    )


class Trainer:
    """Runs a Task to max_steps (or max_time, or early stopping), saving the run as it goes.

    Checkpoints are written at every evaluation, at the end and on Ctrl-C; model.safetensors always holds the
    best weights by validation loss. Resuming restores weights, optimizer, step, RNGs and data order, so the
    losses continue exactly as if the run had never stopped. With ema_decay > 0 the moving average of the
    weights is what is evaluated, sampled and saved as the model; the checkpoint keeps both.
    """

    def __init__(self, config: TrainConfig, task: Task, run: RunDir, progress: bool = True, log=print):
        config.validate()
        self.config, self.task, self.run, self.progress, self.log = config, task, run, progress, log
        self.opt = make_optimizer(config, task.params)
        self.ema = optim.EMA(task.params, config.ema_decay) if config.ema_decay else None
        self.rng = np.random.default_rng([config.seed, 1])  # dropout masks
        self.step = 0
        # the schedule's length; with only max_time given it is fitted after timing the first steps, then saved
        self.max_steps = config.max_steps or (None if config.max_time else DEFAULT_STEPS)
        self.best_val = math.inf
        self.bad_evals = 0
        self.loss_sum, self.loss_count = 0.0, 0  # train loss since the last evaluation, target-weighted
        self.elapsed = 0.0  # training seconds, summed over resumes
        self.targets_seen = 0
        self._interrupted = False

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
            "rng": self.rng.bit_generator.state,
            "data": self.task.data_state(),
        }

    def save_checkpoint(self) -> None:
        arrays = {f"model.{k}": v for k, v in self.task.params.items()}
        arrays.update({f"optim.{k}": v for k, v in self.opt.state_dict().items()})
        if self.ema is not None:
            arrays.update({f"ema.{k}": v for k, v in self.ema.state_dict().items()})
        self.run.save_checkpoint(arrays, self._state())

    def resume(self) -> None:
        arrays, state = self.run.load_checkpoint()
        try:
            for k, p in self.task.params.items():
                p[...] = arrays[f"model.{k}"]
            self.opt.load_state_dict({k[6:]: v for k, v in arrays.items() if k.startswith("optim.")})
            if self.ema is not None:
                self.ema.load_state_dict({k[4:]: v for k, v in arrays.items() if k.startswith("ema.")})
            self.step, self.bad_evals, self.max_steps = state["step"], state["bad_evals"], state["max_steps"]
            self.best_val = math.inf if state["best_val"] is None else state["best_val"]
            self.loss_sum, self.loss_count = state["loss_sum"], state["loss_count"]
            self.elapsed, self.targets_seen = state["elapsed"], state["targets_seen"]
            self.rng.bit_generator.state = state["rng"]
            self.task.load_data_state(state["data"])
        except (KeyError, ValueError, TypeError) as e:
            raise RnnkitError(f"{self.run}: checkpoint does not match this model ({e})") from None
        self.run.truncate_metrics(self.step)

    # -- the loop --------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _model_weights(self):
        """Within the block task.params hold the model's weights: the moving average when there is one."""
        if self.ema is None:
            yield
            return
        self.ema.swap()
        try:
            yield
        finally:
            self.ema.swap()

    def _evaluate(self) -> bool:
        """Evaluate, log, keep the best weights, checkpoint; return True when patience has run out."""
        with self._model_weights():
            val = self.task.evaluate()
        train = self.loss_sum / max(1, self.loss_count)
        row = {
            "step": self.step,
            "train_loss": train,
            "val_loss": val,
            "lr": self.opt.lr,
            "elapsed": round(self.elapsed, 3),
            "targets_per_s": round(self.targets_seen / max(self.elapsed, 1e-9), 1),
        }
        self.loss_sum, self.loss_count = 0.0, 0
        improved = val is None or val < self.best_val
        if improved:
            self.best_val = math.inf if val is None else val
            self.bad_evals = 0
            with self._model_weights():
                self.run.save_model(dict(self.task.params), {"step": self.step, "val_loss": val})
        else:
            self.bad_evals += 1
        self.run.append_metrics(row)
        self.save_checkpoint()
        self.run.plot()
        # samples draw from their own generator, so showing them never changes the training that follows
        sample_rng = np.random.default_rng([self.config.seed, 2, self.step])
        with self._model_weights():
            samples = self.task.samples(self.config.num_samples, sample_rng) if self.config.num_samples else []
        val_text = "-" if val is None else f"{val:.4f}"
        self.log(f"step {self.step}: train {train:.4f}  val {val_text}  " + "  ".join(samples))
        return self.config.patience is not None and self.bad_evals >= self.config.patience

    def _fit_steps_to_time(self, seconds: float) -> int:
        """How many steps fit in max_time at the pace of the first steps, leaving room for evaluations."""
        per_step = seconds / CALIBRATION_STEPS
        steps = int(0.9 * self.config.max_time / per_step)
        self.log(f"fitted the schedule to --max-time {self.config.max_time:g} s: {steps} steps ({per_step:.3f} s/step)")
        return max(steps, CALIBRATION_STEPS + 1)

    def _on_sigint(self, signum, frame) -> None:
        self._interrupted = True

    def train(self) -> dict[str, Any]:
        """Train until max_steps, max_time, patience or Ctrl-C; return a summary."""
        from tqdm import tqdm

        c = self.config
        previous = signal.signal(signal.SIGINT, self._on_sigint) if _main_thread() else None
        bar = tqdm(
            total=self.max_steps, initial=self.step, disable=not self.progress, dynamic_ncols=True, file=sys.stderr
        )
        reason = "max-steps"
        if self.step == 0:
            self.save_checkpoint()  # so a run that fails early still has a good checkpoint to resume
        start = time.perf_counter() - self.elapsed
        session_start, session_targets = time.perf_counter(), 0
        try:
            while self.max_steps is None or self.step < self.max_steps:
                if self.max_steps is None and self.step == CALIBRATION_STEPS:
                    self.max_steps = self._fit_steps_to_time(self.elapsed)
                    bar.total = self.max_steps
                    bar.refresh()
                self.opt.lr = learning_rate(c, self.step, self.max_steps or CALIBRATION_STEPS * 1000)
                loss, n = self.task.train_step(self.rng)
                if not math.isfinite(loss) or loss > 1e4:
                    raise TrainingStopped(
                        f"training stopped at step {self.step + 1}: the loss is {loss} (try a lower --lr); "
                        f"the last good checkpoint in {self.run} is kept"
                    )
                if c.clip_value is not None:
                    optim.clip_grad_value(self.task.grads, c.clip_value)
                elif c.clip_norm is not None:
                    optim.clip_grad_norm(self.task.grads, c.clip_norm)
                self.opt.step(self.task.grads)
                if self.ema is not None:
                    self.ema.update()
                self.step += 1
                self.loss_sum += loss * n
                self.loss_count += n
                self.targets_seen += n
                session_targets += n
                self.elapsed = time.perf_counter() - start
                bar.update(1)
                if self.step % 10 == 0:
                    rate = session_targets / max(time.perf_counter() - session_start, 1e-9)
                    val = "-" if math.isinf(self.best_val) else f"{self.best_val:.4f}"
                    bar.set_postfix_str(f"loss {self.loss_sum / max(1, self.loss_count):.4f} val {val} {rate:,.0f}/s")
                out_of_time = c.max_time is not None and self.elapsed >= c.max_time
                last = self.step == self.max_steps
                if self.step % c.eval_every == 0 or last or out_of_time or self._interrupted:
                    if self.loss_count and self._evaluate():
                        reason = "patience"
                        break
                    if out_of_time:
                        reason = "max-time"
                        break
                    if self._interrupted:
                        reason = "interrupted"
                        break
        finally:
            bar.close()
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        return {
            "step": self.step,
            "stopped": reason,
            "best_val": None if math.isinf(self.best_val) else self.best_val,
            "elapsed": self.elapsed,
        }


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
