"""The seed's step-by-step functions (rnnkit.reference) against the engine (rnnkit.nn) on the same weights."""

import numpy as np
import pytest

from rnnkit import nn, reference

RTOL, ATOL = 1e-10, 1e-12


def _seed_to_engine(x):
    """(n_x, m, T_x) <-> (T, B, D): a transpose of all three axes, its own inverse."""
    return x.transpose(2, 1, 0)


@pytest.mark.parametrize(("n_x", "n_a", "m", "T_x"), [(3, 5, 4, 6), (1, 2, 1, 1), (6, 3, 2, 4)])
def test_reference_rnn_equals_the_engine_rnn(n_x, n_a, m, T_x):
    """rnn_forward/rnn_backward give the engine RNN's hidden states, dx, da0 and weight gradients."""
    rng = np.random.default_rng(n_x * 10 + T_x)
    p = {
        "Wax": rng.standard_normal((n_a, n_x)) * 0.5,
        "Waa": rng.standard_normal((n_a, n_a)) * 0.5,
        "ba": rng.standard_normal((n_a, 1)),
        "Wya": rng.standard_normal((2, n_a)),
        "by": rng.standard_normal((2, 1)),
    }
    x, a0, da = rng.standard_normal((n_x, m, T_x)), rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m, T_x))
    a, _, caches = reference.rnn_forward(x, a0, p)
    grads = reference.rnn_backward(da, caches)

    layer = nn.RNN(n_x, n_a, dtype=np.float64)
    layer.params["W_ih"][...], layer.params["W_hh"][...], layer.params["b"][...] = p["Wax"], p["Waa"], p["ba"][:, 0]
    hs, _, cache = layer.forward(_seed_to_engine(x), a0.T)
    dx, dh0 = layer.backward(_seed_to_engine(da), cache)

    np.testing.assert_allclose(_seed_to_engine(hs), a, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(_seed_to_engine(dx), grads["dx"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dh0.T, grads["da0"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(layer.grads["W_ih"], grads["dWax"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(layer.grads["W_hh"], grads["dWaa"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(layer.grads["b"], grads["dba"][:, 0], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(("n_x", "n_a", "m", "T_x"), [(3, 5, 4, 6), (2, 2, 1, 1), (5, 3, 2, 4)])
def test_reference_lstm_equals_the_engine_lstm(n_x, n_a, m, T_x):
    """lstm_forward/lstm_backward match the engine LSTM once the stacked [a; x] weights are split by gate."""
    rng = np.random.default_rng(n_a * 10 + T_x)
    p = {}
    for gate in "fico":
        p[f"W{gate}"] = rng.standard_normal((n_a, n_a + n_x)) * 0.5
        p[f"b{gate}"] = rng.standard_normal((n_a, 1))
    p["Wy"], p["by"] = rng.standard_normal((2, n_a)), rng.standard_normal((2, 1))
    x, a0, da = rng.standard_normal((n_x, m, T_x)), rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m, T_x))
    a, _, c, caches = reference.lstm_forward(x, a0, p)
    grads = reference.lstm_backward(da, caches)

    order = "ifco"  # the engine's (torch's) gate order i, f, g, o; the seed calls g the candidate c~ ("c")
    layer = nn.LSTM(n_x, n_a, dtype=np.float64)
    layer.params["W_ih"][...] = np.concatenate([p[f"W{g}"][:, n_a:] for g in order])  # (4H, D)
    layer.params["W_hh"][...] = np.concatenate([p[f"W{g}"][:, :n_a] for g in order])  # (4H, H)
    layer.params["b"][...] = np.concatenate([p[f"b{g}"][:, 0] for g in order])  # (4H,)
    hs, (_, cT), cache = layer.forward(_seed_to_engine(x), (a0.T, np.zeros((m, n_a))))
    dx, (dh0, _) = layer.backward(_seed_to_engine(da), cache)

    np.testing.assert_allclose(_seed_to_engine(hs), a, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(cT.T, c[:, :, -1], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(_seed_to_engine(dx), grads["dx"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(dh0.T, grads["da0"], rtol=RTOL, atol=ATOL)
    for k, g in enumerate(order):
        rows = slice(k * n_a, (k + 1) * n_a)
        dW = np.concatenate([layer.grads["W_hh"][rows], layer.grads["W_ih"][rows]], axis=1)  # back to [a; x]
        np.testing.assert_allclose(dW, grads[f"dW{g}"], rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(layer.grads["b"][rows], grads[f"db{g}"][:, 0], rtol=RTOL, atol=ATOL)


def test_reference_name_model_loss_equals_the_engine_with_its_weights():
    """The seed's rnn_forward_lm loss on one name equals the engine's Embedding-free RNN + Linear + cross-entropy."""
    rng = np.random.default_rng(0)
    n_a, vocab = 7, 27
    p = reference.initialize_parameters(n_a, vocab, vocab, seed=3)
    for k in p:
        p[k] = p[k] + rng.standard_normal(p[k].shape) * 0.3  # non-zero biases, larger weights
    X = [None, 3, 1, 20, 5]  # "cate"; None is the zero input vector
    Y = [3, 1, 20, 5, 0]
    loss, _ = reference.rnn_forward_lm(X, Y, np.zeros((n_a, 1)), p, vocab_size=vocab)

    onehots = np.zeros((len(X), 1, vocab))
    for t, ix in enumerate(X):
        if ix is not None:
            onehots[t, 0, ix] = 1.0
    layer = nn.RNN(vocab, n_a, dtype=np.float64)
    layer.params["W_ih"][...], layer.params["W_hh"][...], layer.params["b"][...] = p["Wax"], p["Waa"], p["b"][:, 0]
    head = nn.Linear(n_a, vocab, dtype=np.float64)
    head.params["W"][...], head.params["b"][...] = p["Wya"], p["by"][:, 0]
    hs, _, _ = layer.forward(onehots)
    logits, _ = head.forward(hs)
    mean_loss, _ = nn.cross_entropy(logits, np.array(Y)[:, None])
    np.testing.assert_allclose(mean_loss * len(Y), loss, rtol=1e-12)
