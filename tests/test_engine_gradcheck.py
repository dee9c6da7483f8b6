"""Every backward pass of the engine against central differences, in float64."""

import numpy as np
import pytest
from gradcheck import numerical_grad, relative_error

from rnnkit import nn

TOL = 1e-6


def _randomize_biases(layer, rng):
    """Give every parameter non-trivial values (torch's init is fine, but make biases clearly non-zero)."""
    for name, p in layer.params.items():
        if name.startswith("b") or name.endswith(".b") or ".b_" in name:
            p[...] = rng.uniform(-0.5, 0.5, size=p.shape)


def _check_layer(cell, T, B, D, H, seed):
    rng = np.random.default_rng(seed)
    layer = nn.CELLS[cell](D, H, rng=rng, dtype=np.float64)
    _randomize_biases(layer, rng)
    x = rng.standard_normal((T, B, D))
    if cell == "lstm":
        state = (rng.standard_normal((B, H)), rng.standard_normal((B, H)))
        up_state = (rng.standard_normal((B, H)), rng.standard_normal((B, H)))
    else:
        state, up_state = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    up_hs = rng.standard_normal((T, B, H))

    def loss() -> float:
        hs, final, _ = layer.forward(x, state)
        finals = final if cell == "lstm" else (final,)
        ups = up_state if cell == "lstm" else (up_state,)
        return float(np.sum(up_hs * hs) + sum(np.sum(u * s) for u, s in zip(ups, finals, strict=True)))

    hs, _, cache = layer.forward(x, state)
    layer.zero_grad()
    dx, dstate0 = layer.backward(up_hs, cache, up_state)
    errors = {name: relative_error(layer.grads[name], numerical_grad(loss, p)) for name, p in layer.params.items()}
    errors["x"] = relative_error(dx, numerical_grad(loss, x))
    if cell == "lstm":
        errors["h0"] = relative_error(dstate0[0], numerical_grad(loss, state[0]))
        errors["c0"] = relative_error(dstate0[1], numerical_grad(loss, state[1]))
    else:
        errors["h0"] = relative_error(dstate0, numerical_grad(loss, state))
    return errors


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(("T", "B", "D", "H"), [(5, 3, 4, 6), (1, 1, 3, 2), (4, 2, 7, 3)])
def test_recurrent_layer_gradients_match_central_differences(cell, T, B, D, H):
    """dW_ih, dW_hh, the biases, dx and the initial-state gradients agree with finite differences."""
    errors = _check_layer(cell, T, B, D, H, seed=T * 100 + D)
    assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_stack_with_dropout_gradients_match_central_differences(cell):
    """A 3-layer stack in training mode (fixed dropout masks) backpropagates exactly."""
    rng = np.random.default_rng(7)
    T, B, D, H = 4, 3, 5, 4
    stack = nn.RecurrentStack(cell, D, H, num_layers=3, dropout=0.3, rng=rng, dtype=np.float64)
    _randomize_biases(stack, rng)
    x = rng.standard_normal((T, B, D))
    if cell == "lstm":
        states = [(rng.standard_normal((B, H)), rng.standard_normal((B, H))) for _ in range(3)]
    else:
        states = [rng.standard_normal((B, H)) for _ in range(3)]
    up = rng.standard_normal((T, B, H))
    seed = 11

    def loss() -> float:
        hs, _, _ = stack.forward(x, states, rng=np.random.default_rng(seed))  # same masks every call
        return float(np.sum(up * hs))

    _, _, cache = stack.forward(x, states, rng=np.random.default_rng(seed))
    assert any(m is not None and (m == 0).any() for m in cache.masks), "dropout should drop something"
    stack.zero_grad()
    dx, dstates0 = stack.backward(up, cache)
    errors = {name: relative_error(stack.grads[name], numerical_grad(loss, p)) for name, p in stack.params.items()}
    errors["x"] = relative_error(dx, numerical_grad(loss, x))
    for l in range(3):
        if cell == "lstm":
            errors[f"h0.{l}"] = relative_error(dstates0[l][0], numerical_grad(loss, states[l][0]))
            errors[f"c0.{l}"] = relative_error(dstates0[l][1], numerical_grad(loss, states[l][1]))
        else:
            errors[f"h0.{l}"] = relative_error(dstates0[l], numerical_grad(loss, states[l]))
    assert max(errors.values()) < TOL, errors


def test_embedding_gradient_matches_central_differences():
    """Repeated ids accumulate: dW from the scatter-add equals finite differences."""
    rng = np.random.default_rng(3)
    emb = nn.Embedding(6, 4, rng=rng, dtype=np.float64)
    ids = rng.integers(0, 6, size=(5, 3))
    ids[0, 0] = ids[1, 1] = ids[2, 2] = 2  # make sure at least one id repeats
    up = rng.standard_normal((5, 3, 4))

    def loss() -> float:
        return float(np.sum(up * emb.forward(ids)[0]))

    out, cache = emb.forward(ids)
    emb.zero_grad()
    emb.backward(up, cache)
    assert relative_error(emb.grads["W"], numerical_grad(loss, emb.params["W"])) < TOL


def test_linear_gradients_match_central_differences():
    """dW, db and dx of y = x W^T + b over (T, B, in) agree with finite differences."""
    rng = np.random.default_rng(4)
    lin = nn.Linear(5, 3, rng=rng, dtype=np.float64)
    x = rng.standard_normal((4, 2, 5))
    up = rng.standard_normal((4, 2, 3))

    def loss() -> float:
        return float(np.sum(up * lin.forward(x)[0]))

    y, cache = lin.forward(x)
    lin.zero_grad()
    dx = lin.backward(up, cache)
    assert relative_error(lin.grads["W"], numerical_grad(loss, lin.params["W"])) < TOL
    assert relative_error(lin.grads["b"], numerical_grad(loss, lin.params["b"])) < TOL
    assert relative_error(dx, numerical_grad(loss, x)) < TOL


def test_masked_cross_entropy_gradient_matches_central_differences():
    """The mean loss over unmasked positions has the gradient (softmax - onehot) * mask / count."""
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((6, 4, 7)) * 3
    targets = rng.integers(0, 7, size=(6, 4))
    mask = rng.random((6, 4)) > 0.3
    targets[~mask] = -1  # padding may hold anything

    def loss() -> float:
        return nn.cross_entropy(logits, targets, mask)[0]

    _, dlogits = nn.cross_entropy(logits, targets, mask)
    assert relative_error(dlogits, numerical_grad(loss, logits)) < TOL
    assert np.all(dlogits[~mask] == 0)
