"""Optimizers and gradient clipping over flat dicts of parameters.

An optimizer holds a dict name -> parameter array and updates those arrays IN PLACE, so every layer that shares
them sees the new values. `step(grads)` takes a dict with the same keys.
"""

from __future__ import annotations

import numpy as np

Arrays = dict[str, np.ndarray]


def clip_grad_value(grads: Arrays, max_value: float) -> Arrays:
    """The seed's clip: every gradient entry into [-max_value, max_value], in place."""
    if max_value <= 0:
        raise ValueError(f"max_value must be > 0, got {max_value}")
    for g in grads.values():
        limit = min(max_value, float(np.finfo(g.dtype).max))  # a bound past the dtype's range clips nothing
        np.clip(g, -limit, limit, out=g)
    return grads


def grad_norm(grads: Arrays) -> float:
    """The global L2 norm of all gradients together."""
    return float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))


def clip_grad_norm(grads: Arrays, max_norm: float) -> float:
    """Scale all gradients together so their global L2 norm is at most max_norm (torch's clip_grad_norm_).

    Returns the norm before clipping.
    """
    if max_norm <= 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    norm = grad_norm(grads)
    scale = max_norm / (norm + 1e-6)
    if scale < 1.0:
        for g in grads.values():
            g *= scale
    return norm


class SGD:
    """The seed's update: p <- p - lr * dp."""

    def __init__(self, params: Arrays, lr: float = 0.01):
        self.params, self.lr = params, lr

    def step(self, grads: Arrays) -> None:
        for name, p in self.params.items():
            p -= self.lr * grads[name]

    def state_dict(self) -> Arrays:
        return {}

    def load_state_dict(self, state: Arrays) -> None:
        pass


class Adam:
    """Adam with bias correction as torch.optim.Adam, plus two options.

    m <- β1 m + (1-β1) g;  v <- β2 v + (1-β2) g²
    p <- p - lr_t (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + eps)

    decay: Keras' learning-rate decay, lr_t = lr / (1 + decay * (t-1)), which the seed's music model uses.
    weight_decay: decoupled weight decay (AdamW), p <- p - lr_t * weight_decay * p before the Adam step.

    float32 parameters are updated by one compiled pass each (`rnnkit.kernels.adam_step`), the others by the
    NumPy lines below; both compute the same formulas.
    """

    def __init__(
        self,
        params: Arrays,
        lr: float = 1e-3,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        eps: float = 1e-8,
        decay: float = 0.0,
        weight_decay: float = 0.0,
    ):
        self.params, self.lr = params, lr
        self.beta_1, self.beta_2, self.eps = beta_1, beta_2, eps
        self.decay, self.weight_decay = decay, weight_decay
        self.t = 0
        self.m = {name: np.zeros_like(p) for name, p in params.items()}
        self.v = {name: np.zeros_like(p) for name, p in params.items()}
        self._scratch: Arrays = {}  # the NumPy path's temporaries, reused every step

    def step(self, grads: Arrays) -> None:
        self.t += 1
        lr = self.lr / (1.0 + self.decay * (self.t - 1))
        step_size = lr / (1.0 - self.beta_1**self.t)  # lr_t / (1-β1^t)
        inv_root_2 = 1.0 / np.sqrt(1.0 - self.beta_2**self.t)  # 1 / sqrt(1-β2^t)
        keep = 1.0 - lr * self.weight_decay
        for name, p in self.params.items():
            g, m, v = grads[name], self.m[name], self.v[name]
            if all(a.dtype == np.float32 and a.flags.c_contiguous for a in (p, g, m, v)):
                from rnnkit import kernels  # numba: imported on first use

                scalars = (self.beta_1, self.beta_2, step_size, inv_root_2, self.eps, keep)
                kernels.adam_step(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), *map(np.float32, scalars))
                continue
            tmp = self._scratch.setdefault(name, np.empty_like(p))
            if self.weight_decay:
                p *= keep
            np.multiply(g, 1.0 - self.beta_1, out=tmp)
            m *= self.beta_1
            m += tmp  # m = β1 m + (1-β1) g
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - self.beta_2
            v *= self.beta_2
            v += tmp  # v = β2 v + (1-β2) g²
            np.sqrt(v, out=tmp)
            tmp *= inv_root_2
            tmp += self.eps  # sqrt(v / (1-β2^t)) + eps
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            p -= tmp

    def state_dict(self) -> Arrays:
        """Moments and step count as arrays, ready for safetensors."""
        state = {"t": np.array([self.t], dtype=np.int64)}
        state.update({f"m.{name}": m for name, m in self.m.items()})
        state.update({f"v.{name}": v for name, v in self.v.items()})
        return state

    def load_state_dict(self, state: Arrays) -> None:
        self.t = int(state["t"][0])
        for name in self.params:
            self.m[name][...] = state[f"m.{name}"]
            self.v[name][...] = state[f"v.{name}"]


class EMA:
    """An exponential moving average of the weights (Polyak averaging), the model evaluated and saved.

    The first update copies the weights; each one after that does  a <- d a + (1 - d) p  with the warm-up of
    TensorFlow's ExponentialMovingAverage, d = min(decay, (1 + m) / (10 + m)) after m updates, so an early
    average follows the weights closely and the first, untrained weights fade out: with a plain 0.999 they kept
    0.999^2075 = 12.6% of the average after 2,075 steps (and it read a text 0.056 nats/char worse than the raw
    weights did); with the warm-up their share is below 1e-9 by then. From m = 8,991 on, d = 0.999. It is
    torch.optim.swa_utils.AveragedModel with that avg_fn. The average moves more slowly than
    the weights and so sits nearer the middle of the valley the last steps wandered about in. It keeps its own
    arrays: `update` is given the current weights (an engine's exported arrays), so any engine can feed it.
    """

    def __init__(self, params: Arrays, decay: float = 0.999):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.n = 0  # updates so far
        self.average = {name: np.array(p, copy=True) for name, p in params.items()}
        self._scratch = {name: np.empty_like(a) for name, a in self.average.items()}

    def update(self, params: Arrays) -> None:
        """Fold the current weights (the same names and shapes) into the average."""
        m = self.n  # updates already in the average
        self.n += 1
        d = min(self.decay, (1 + m) / (10 + m))  # the warm-up: 2/11, 3/12, 4/13, ... up to decay
        for name, a in self.average.items():
            p = params[name]
            if m == 0:
                a[...] = p
                continue
            tmp = np.subtract(p, a, out=self._scratch[name])
            tmp *= 1.0 - d
            a += tmp  # a + (1 - d)(p - a) = d a + (1 - d) p

    def state_dict(self) -> Arrays:
        state = {"n": np.array([self.n], dtype=np.int64)}
        state.update({f"average.{name}": a for name, a in self.average.items()})
        return state

    def load_state_dict(self, state: Arrays) -> None:
        self.n = int(state["n"][0])
        for name, a in self.average.items():
            a[...] = state[f"average.{name}"]
