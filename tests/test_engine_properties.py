"""Properties of the engine that hold for any shape (Hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit import nn, optim

shapes = st.tuples(
    st.integers(2, 8),  # T
    st.integers(1, 4),  # B
    st.integers(1, 6),  # D
    st.integers(1, 6),  # H
    st.sampled_from(["rnn", "lstm", "gru"]),
    st.integers(0, 2**31 - 1),  # seed
)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _one_step(cell, p, x, h, c=None):
    """The cell's equations written out once, for a single step: (B, D) -> (B, H)."""
    if cell == "rnn":
        return np.tanh(x @ p["W_ih"].T + h @ p["W_hh"].T + p["b"]), None
    if cell == "lstm":
        i, f, g, o = np.split(x @ p["W_ih"].T + h @ p["W_hh"].T + p["b"], 4, axis=1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        return _sigmoid(o) * np.tanh(c), c
    xr, xz, xn = np.split(x @ p["W_ih"].T + p["b_ih"], 3, axis=1)
    hr, hz, hn = np.split(h @ p["W_hh"].T + p["b_hh"], 3, axis=1)
    r, z = _sigmoid(xr + hr), _sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    return (1 - z) * n + z * h, None


@settings(max_examples=40, deadline=None)
@given(shapes, st.data())
def test_running_in_two_pieces_from_the_carried_state_equals_one_run(shape, data):
    """forward(x[:k]) then forward(x[k:], state) gives the same hs and final state as forward(x)."""
    T, B, D, H, cell, seed = shape
    k = data.draw(st.integers(1, T - 1))
    rng = np.random.default_rng(seed)
    layer = nn.CELLS[cell](D, H, rng=rng, dtype=np.float64)
    x = rng.standard_normal((T, B, D))
    hs, final, _ = layer.forward(x)
    hs1, mid, _ = layer.forward(x[:k])
    hs2, final2, _ = layer.forward(x[k:], mid)
    np.testing.assert_allclose(np.concatenate([hs1, hs2]), hs, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(final2), np.asarray(final), rtol=1e-12, atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(shapes)
def test_one_step_sequence_equals_the_cell_equations(shape):
    """T=1 through the layer equals one application of the cell's equations."""
    _, B, D, H, cell, seed = shape
    rng = np.random.default_rng(seed)
    layer = nn.CELLS[cell](D, H, rng=rng, dtype=np.float64)
    x, h0, c0 = rng.standard_normal((1, B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    hs, final, _ = layer.forward(x, (h0, c0) if cell == "lstm" else h0)
    h1, c1 = _one_step(cell, layer.params, x[0], h0, c0)
    np.testing.assert_allclose(hs[0], h1, rtol=1e-12, atol=1e-14)
    if cell == "lstm":
        np.testing.assert_allclose(final[1], c1, rtol=1e-12, atol=1e-14)


@settings(max_examples=20, deadline=None)
@given(shapes)
def test_float32_layers_agree_with_float64(shape):
    """The float32 path (what training uses) tracks float64 to float32 precision, forward and backward."""
    T, B, D, H, cell, seed = shape
    l64 = nn.CELLS[cell](D, H, rng=np.random.default_rng(seed), dtype=np.float64)
    l32 = nn.CELLS[cell](D, H, rng=np.random.default_rng(seed), dtype=np.float32)
    rng = np.random.default_rng(seed + 1)
    x, up = rng.standard_normal((T, B, D)), rng.standard_normal((T, B, H))
    hs64, _, c64 = l64.forward(x)
    hs32, _, c32 = l32.forward(x.astype(np.float32))
    assert hs32.dtype == np.float32
    dx64, _ = l64.backward(up, c64)
    dx32, _ = l32.backward(up.astype(np.float32), c32)
    np.testing.assert_allclose(hs32, hs64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dx32, dx64, rtol=1e-3, atol=1e-4)
    for name in l64.grads:
        assert l32.grads[name].dtype == np.float32
        np.testing.assert_allclose(l32.grads[name], l64.grads[name], rtol=1e-3, atol=1e-4)


arrays = st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=20).map(np.array)


@given(st.lists(arrays, min_size=1, max_size=4), st.floats(1e-3, 50))
def test_clip_grad_value_bounds_every_entry(gs, max_value):
    """After clip_grad_value every entry lies in [-max_value, max_value] and small entries are untouched."""
    grads = {str(i): g.copy() for i, g in enumerate(gs)}
    optim.clip_grad_value(grads, max_value)
    for i, g in enumerate(gs):
        assert np.all(np.abs(grads[str(i)]) <= max_value)
        inside = np.abs(g) <= max_value
        np.testing.assert_array_equal(grads[str(i)][inside], g[inside])


@given(st.lists(arrays, min_size=1, max_size=4), st.floats(1e-3, 50))
def test_clip_grad_norm_bounds_the_norm_and_keeps_the_direction(gs, max_norm):
    """After clip_grad_norm the global norm is <= max_norm and every gradient is a positive multiple of before."""
    grads = {str(i): g.copy() for i, g in enumerate(gs)}
    before = optim.clip_grad_norm(grads, max_norm)
    np.testing.assert_allclose(before, np.sqrt(sum((g**2).sum() for g in gs)), rtol=1e-12)
    assert optim.grad_norm(grads) <= max_norm * (1 + 1e-9)
    scale = min(1.0, max_norm / (before + 1e-6))
    for i, g in enumerate(gs):
        np.testing.assert_allclose(grads[str(i)], g * scale, rtol=1e-12, atol=1e-300)
