"""Central-difference gradients, the yardstick for every hand-written backward pass."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numerical_grad(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """dF/dx by (f(x + eps) - f(x - eps)) / 2eps, one entry at a time; x is perturbed in place and restored."""
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        plus = f()
        flat[k] = old - eps
        minus = f()
        flat[k] = old
        gflat[k] = (plus - minus) / (2 * eps)
    return grad


WORST = {"error": 0.0, "checked": 0}  # the largest relative_error of this session, printed at the end of pytest


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """||a - n|| / (||a|| + ||n||): scale-free, and 0 only when the two agree."""
    denom = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    error = 0.0 if denom == 0 else float(np.linalg.norm(analytic - numeric) / denom)
    WORST["error"], WORST["checked"] = max(WORST["error"], error), WORST["checked"] + 1
    return error
