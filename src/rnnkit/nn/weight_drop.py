"""Weight drop (DropConnect on the recurrent weights, AWD-LSTM's WeightDrop, Merity et al. 2017).

One mask M (G*H, H) of 0 and 1/(1-p) is drawn per batch and the layer runs the whole sequence with

    W_hh' = W_hh ⊙ M          so that      dL/dW_hh = dL/dW_hh' ⊙ M

The same connections h_{t-1} -> z_t are missing at every step, which regularises the recurrence itself without
touching the hidden state. The cells need no change: `dropped_recurrent_weights` lends a layer W_hh' in place of
W_hh for its forward or backward call, and routes the gradient it adds through the mask.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from rnnkit.nn.dropout import dropout_mask


@dataclass(frozen=True)
class DroppedWeights:
    mask: np.ndarray  # (G*H, H) 0 or 1/(1-p)
    W_hh: np.ndarray  # (G*H, H) W_hh ⊙ mask, the weights the layer ran with


def drop_recurrent_weights(layer, p: float, rng: np.random.Generator) -> DroppedWeights:
    """Draw the batch's mask for layer.params["W_hh"] and the dropped weights."""
    W_hh = layer.params["W_hh"]
    mask = dropout_mask(W_hh.shape, p, rng, W_hh.dtype)
    return DroppedWeights(mask, W_hh * mask)


@contextmanager
def dropped_recurrent_weights(layer, dropped: DroppedWeights | None):
    """Within the block the layer computes with dropped.W_hh; the W_hh gradient it adds reaches layer.grads
    multiplied by the mask. With dropped None the block runs the layer unchanged."""
    if dropped is None:
        yield
        return
    W_hh, dW_hh = layer.params["W_hh"], layer.grads["W_hh"]
    scratch = np.zeros_like(dW_hh)  # dL/dW_hh' from this call alone
    layer.params["W_hh"], layer.grads["W_hh"] = dropped.W_hh, scratch
    try:
        yield
    finally:
        layer.params["W_hh"], layer.grads["W_hh"] = W_hh, dW_hh
    scratch *= dropped.mask
    dW_hh += scratch  # dL/dW_hh = dL/dW_hh' ⊙ M
