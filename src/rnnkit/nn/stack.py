"""A stack of recurrent layers with inverted dropout between them (as torch.nn.LSTM(num_layers, dropout)).

Two regularisers of AWD-LSTM (Merity et al. 2017) are options: `locked` dropout draws one mask per sequence,
shared by every time step, instead of one per unit and step; `weight_drop` drops connections of each layer's W_hh
with one mask per batch (`rnnkit.nn.weight_drop`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnkit.nn.dropout import dropout_mask, locked_mask
from rnnkit.nn.gru import GRU
from rnnkit.nn.lstm import LSTM
from rnnkit.nn.rnn import RNN
from rnnkit.nn.weight_drop import DroppedWeights, drop_recurrent_weights, dropped_recurrent_weights

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


@dataclass(frozen=True)
class StackCache:
    layers: list[Any]  # one layer cache each
    masks: list[np.ndarray | None]  # the dropout mask applied to layer l's output before layer l+1, or None
    dropped: list[DroppedWeights | None]  # layer l's weight-drop mask and W_hh ⊙ mask, or None


class RecurrentStack:
    """num_layers layers of one cell type; layer l+1 reads layer l's hs, dropped out while training.

    params and grads are flat dicts named "<layer>.<param>", e.g. "0.W_ih", views of the layers' own arrays.
    The state is a list with one entry per layer (h, or (h, c) for the LSTM).
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        rng: np.random.Generator | None = None,
        dtype=np.float32,
        *,
        locked: bool = False,
        weight_drop: float = 0.0,
    ):
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if not 0.0 <= weight_drop < 1.0:
            raise ValueError(f"weight_drop must be in [0, 1), got {weight_drop}")
        rng = np.random.default_rng(0) if rng is None else rng
        self.cell, self.dropout, self.training = cell, dropout, True
        self.locked, self.weight_drop = locked, weight_drop
        self.layers = [
            CELLS[cell](input_size if l == 0 else hidden_size, hidden_size, rng=rng, dtype=dtype)
            for l in range(num_layers)
        ]
        self.params = {f"{l}.{k}": v for l, layer in enumerate(self.layers) for k, v in layer.params.items()}
        self.grads = {f"{l}.{k}": v for l, layer in enumerate(self.layers) for k, v in layer.grads.items()}

    def train(self) -> None:
        self.training = True

    def eval(self) -> None:
        self.training = False

    def zero_grad(self) -> None:
        for layer in self.layers:
            layer.zero_grad()

    def forward(
        self,
        x: np.ndarray | None,
        states: list | None = None,
        rng: np.random.Generator | None = None,
        *,
        x_proj: np.ndarray | None = None,
    ) -> tuple[np.ndarray, list, StackCache]:
        """x (T, B, D) -> hs of the top layer (T, B, H), the final states, the cache.

        rng draws the dropout masks; it is needed only while training with dropout or weight_drop > 0.
        x_proj (T, B, G*H), when given, is the first layer's input projection in place of x (see
        `Recurrent.input_table`).
        """
        states = [None] * len(self.layers) if states is None else states
        if rng is None and self.training and (self.weight_drop > 0 or (self.dropout > 0 and len(self.layers) > 1)):
            raise ValueError("dropout while training needs an rng")
        final, caches, masks, drops = [], [], [], []
        h = x
        for l, layer in enumerate(self.layers):
            mask = dropped = None
            if l > 0 and self.training and self.dropout > 0:
                mask = (locked_mask if self.locked else dropout_mask)(h.shape, self.dropout, rng, h.dtype)
                h = h * mask
            if self.training and self.weight_drop > 0:
                dropped = drop_recurrent_weights(layer, self.weight_drop, rng)
            masks.append(mask)
            drops.append(dropped)
            with dropped_recurrent_weights(layer, dropped):
                h, state, cache = layer.forward(h, states[l], x_proj=x_proj if l == 0 else None)  # (T, B, H)
            final.append(state)
            caches.append(cache)
        return h, final, StackCache(caches, masks, drops)

    def backward(
        self, dhs: np.ndarray, cache: StackCache, dstates: list | None = None, state_grads: bool = True
    ) -> tuple[np.ndarray, list]:
        """dhs (T, B, H) on the top layer's outputs -> dx (T, B, D) and the gradient of every initial state.

        dx is dL/dx_proj (T, B, G*H) when forward was given x_proj. state_grads=False: the initial states'
        gradients are not wanted (training truncates there), each layer skips its last step's product, and
        the list holds None.
        """
        dstates = [None] * len(self.layers) if dstates is None else dstates
        dstates0 = [None] * len(self.layers)
        d = dhs
        for l in reversed(range(len(self.layers))):
            with dropped_recurrent_weights(self.layers[l], cache.dropped[l]):
                d, dstates0[l] = self.layers[l].backward(d, cache.layers[l], dstates[l], state_grads)
            if cache.masks[l] is not None:
                d = d * cache.masks[l]
        return d, dstates0
