"""Build torch twins of rnnkit layers with the same weights, for the oracle tests."""

from __future__ import annotations

import numpy as np
import torch

from rnnkit import nn

TORCH_CELLS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}

# The largest differences from torch seen in this session's float64 comparisons, printed at the end of pytest
LARGEST = {"abs": 0.0, "rel": 0.0, "compared": 0}


def assert_matches_torch(actual, expected, rtol: float, atol: float) -> None:
    """assert_allclose, and keep the largest absolute and relative (where |expected| > atol) differences."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
    diff = np.abs(actual - expected)
    if diff.size:
        LARGEST["abs"] = max(LARGEST["abs"], float(diff.max()))
        big = np.abs(expected) > atol
        if big.any():
            LARGEST["rel"] = max(LARGEST["rel"], float((diff[big] / np.abs(expected[big])).max()))
    LARGEST["compared"] += diff.size


def t64(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def torch_twin(stack: nn.RecurrentStack, dropout: float = 0.0) -> torch.nn.Module:
    """A torch.nn.RNN/LSTM/GRU with the stack's weights (rnnkit's one bias goes to b_ih, b_hh = 0)."""
    first = stack.layers[0]
    kwargs = {"nonlinearity": "tanh"} if stack.cell == "rnn" else {}
    twin = TORCH_CELLS[stack.cell](
        first.input_size, first.hidden_size, num_layers=len(stack.layers), dropout=dropout, **kwargs
    ).double()
    with torch.no_grad():
        for l, layer in enumerate(stack.layers):
            getattr(twin, f"weight_ih_l{l}").copy_(t64(layer.params["W_ih"]))
            getattr(twin, f"weight_hh_l{l}").copy_(t64(layer.params["W_hh"]))
            if stack.cell == "gru":
                getattr(twin, f"bias_ih_l{l}").copy_(t64(layer.params["b_ih"]))
                getattr(twin, f"bias_hh_l{l}").copy_(t64(layer.params["b_hh"]))
            else:
                getattr(twin, f"bias_ih_l{l}").copy_(t64(layer.params["b"]))
                getattr(twin, f"bias_hh_l{l}").zero_()
    return twin


def torch_grads(stack: nn.RecurrentStack, twin: torch.nn.Module) -> dict[str, np.ndarray]:
    """The twin's gradients under rnnkit's names (the two torch biases sum into rnnkit's one)."""
    out = {}
    for l in range(len(stack.layers)):
        g = lambda name, l=l: getattr(twin, f"{name}_l{l}").grad.numpy()  # noqa: E731
        out[f"{l}.W_ih"], out[f"{l}.W_hh"] = g("weight_ih"), g("weight_hh")
        if stack.cell == "gru":
            out[f"{l}.b_ih"], out[f"{l}.b_hh"] = g("bias_ih"), g("bias_hh")
        else:
            # d/db_ih and d/db_hh are equal, both the gradient of rnnkit's single bias
            out[f"{l}.b"] = g("bias_ih")
    return out
