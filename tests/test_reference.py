"""Tests for rnnkit.reference: gradient checks, agreement with PyTorch, and the name model's behaviour."""

import numpy as np
import pytest
import torch

from rnnkit import reference as ref

SHAPES = [  # (n_x, n_a, m, T_x)
    (3, 5, 4, 6),
    (4, 4, 1, 1),
    (2, 6, 1, 5),
    (7, 3, 5, 1),
]


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """||g - g_num|| / (||g|| + ||g_num||), the course's gradient-check measure (0 when both are exactly 0).

    Both are exactly 0 for dWf and dbf when T_x = 1, since the forget gate multiplies c<0> = 0.
    """
    denominator = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return 0.0 if denominator == 0 else np.linalg.norm(analytic - numeric) / denominator


def numeric_grad(f, x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Central differences of the scalar f() with respect to every entry of x (perturbed in place)."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        plus = f()
        x[i] = old - eps
        minus = f()
        x[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def rnn_params(rng, n_x, n_a, n_y):
    return {
        "Wax": rng.standard_normal((n_a, n_x)) * 0.5,
        "Waa": rng.standard_normal((n_a, n_a)) * 0.5,
        "Wya": rng.standard_normal((n_y, n_a)) * 0.5,
        "ba": rng.standard_normal((n_a, 1)) * 0.5,
        "by": rng.standard_normal((n_y, 1)) * 0.5,
    }


def lstm_params(rng, n_x, n_a, n_y):
    p = {}
    for gate in "fico":
        p["W" + gate] = rng.standard_normal((n_a, n_a + n_x)) * 0.5
        p["b" + gate] = rng.standard_normal((n_a, 1)) * 0.5
    p["Wy"] = rng.standard_normal((n_y, n_a)) * 0.5
    p["by"] = rng.standard_normal((n_y, 1)) * 0.5
    return p


def make_inputs(rng, n_x, n_a, m, T_x):
    x = rng.standard_normal((n_x, m, T_x))
    a0 = rng.standard_normal((n_a, m)) * 0.5
    da_up = rng.standard_normal((n_a, m, T_x))
    return x, a0, da_up


# ---- 1. gradient checks for the step-by-step RNN and LSTM -------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_rnn_backward_matches_central_differences(shape):
    """rnn_backward's dx, da0 and every weight gradient match central differences of L = Σ da_up ⊙ a."""
    n_x, n_a, m, T_x = shape
    rng = np.random.default_rng(0)
    p = rnn_params(rng, n_x, n_a, n_y=3)
    x, a0, da_up = make_inputs(rng, n_x, n_a, m, T_x)
    _, _, caches = ref.rnn_forward(x, a0, p)
    grads = ref.rnn_backward(da_up, caches)

    loss = lambda: np.sum(da_up * ref.rnn_forward(x, a0, p)[0])
    wrt = {"dx": x, "da0": a0, "dWax": p["Wax"], "dWaa": p["Waa"], "dba": p["ba"]}
    for name, array in wrt.items():
        assert grads[name].shape == array.shape
        assert relative_error(grads[name], numeric_grad(loss, array)) < 1e-6, name


@pytest.mark.parametrize("shape", SHAPES)
def test_lstm_backward_matches_central_differences(shape):
    """lstm_backward's dx, da0 and every gate weight and bias gradient match central differences."""
    n_x, n_a, m, T_x = shape
    rng = np.random.default_rng(1)
    p = lstm_params(rng, n_x, n_a, n_y=3)
    x, a0, da_up = make_inputs(rng, n_x, n_a, m, T_x)
    _, _, _, caches = ref.lstm_forward(x, a0, p)
    grads = ref.lstm_backward(da_up, caches)

    loss = lambda: np.sum(da_up * ref.lstm_forward(x, a0, p)[0])
    wrt = {"dx": x, "da0": a0}
    wrt.update({"d" + k: p[k] for k in ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo")})
    assert set(grads) == set(wrt)
    for name, array in wrt.items():
        assert grads[name].shape == array.shape
        assert relative_error(grads[name], numeric_grad(loss, array)) < 1e-6, name


def test_lstm_cell_backward_dc_prev_matches_central_differences():
    """lstm_cell_backward's dc_prev matches central differences for a non-zero c_prev and upstream dc_next."""
    rng = np.random.default_rng(2)
    n_x, n_a, m = 3, 4, 2
    p = lstm_params(rng, n_x, n_a, n_y=2)
    xt, a_prev, c_prev = rng.standard_normal((n_x, m)), rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m))
    da_next, dc_next = rng.standard_normal((n_a, m)), rng.standard_normal((n_a, m))

    def loss():
        a_next, c_next, _, _ = ref.lstm_cell_forward(xt, a_prev, c_prev, p)
        return np.sum(da_next * a_next) + np.sum(dc_next * c_next)

    cache = ref.lstm_cell_forward(xt, a_prev, c_prev, p)[3]
    grads = ref.lstm_cell_backward(da_next, dc_next, cache)
    for name, array in {"dc_prev": c_prev, "da_prev": a_prev, "dxt": xt, "dWf": p["Wf"]}.items():
        assert relative_error(grads[name], numeric_grad(loss, array)) < 1e-6, name


# ---- 2. against PyTorch ---------------------------------------------------------------------------------


def to_torch(array: np.ndarray) -> torch.Tensor:
    return torch.tensor(array, dtype=torch.float64, requires_grad=True)


def assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_rnn_forward_and_backward_match_torch_rnn(shape):
    """rnn_forward's states and rnn_backward's gradients equal torch.nn.RNN's (float64, same weights)."""
    n_x, n_a, m, T_x = shape
    rng = np.random.default_rng(3)
    p = rnn_params(rng, n_x, n_a, n_y=3)
    x, a0, da_up = make_inputs(rng, n_x, n_a, m, T_x)
    a, _, caches = ref.rnn_forward(x, a0, p)
    grads = ref.rnn_backward(da_up, caches)

    rnn = torch.nn.RNN(n_x, n_a, nonlinearity="tanh", dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(p["Wax"]))
        rnn.weight_hh_l0.copy_(torch.from_numpy(p["Waa"]))
        rnn.bias_ih_l0.copy_(torch.from_numpy(p["ba"].ravel()))
        rnn.bias_hh_l0.zero_()
    xt = to_torch(x.transpose(2, 1, 0))  # (T_x, m, n_x)
    h0 = to_torch(a0.T[None])  # (1, m, n_a)
    out, _ = rnn(xt, h0)  # (T_x, m, n_a)
    (out * torch.from_numpy(da_up.transpose(2, 1, 0))).sum().backward()

    assert_close(a, out.detach().numpy().transpose(2, 1, 0))
    assert_close(grads["dx"], xt.grad.numpy().transpose(2, 1, 0))
    assert_close(grads["da0"], h0.grad.numpy()[0].T)
    assert_close(grads["dWax"], rnn.weight_ih_l0.grad.numpy())
    assert_close(grads["dWaa"], rnn.weight_hh_l0.grad.numpy())
    assert_close(grads["dba"].ravel(), rnn.bias_ih_l0.grad.numpy())


@pytest.mark.parametrize("shape", SHAPES)
def test_lstm_forward_and_backward_match_torch_lstm(shape):
    """lstm_forward's a and c and lstm_backward's gradients equal torch.nn.LSTM's (gates i, f, g, o)."""
    n_x, n_a, m, T_x = shape
    rng = np.random.default_rng(4)
    p = lstm_params(rng, n_x, n_a, n_y=3)
    x, a0, da_up = make_inputs(rng, n_x, n_a, m, T_x)
    a, _, c, caches = ref.lstm_forward(x, a0, p)
    grads = ref.lstm_backward(da_up, caches)

    torch_order = ("i", "f", "c", "o")  # torch's i, f, g, o; the course's candidate c̃ is torch's g
    lstm = torch.nn.LSTM(n_x, n_a, dtype=torch.float64)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(np.vstack([p["W" + g][:, n_a:] for g in torch_order])))
        lstm.weight_hh_l0.copy_(torch.from_numpy(np.vstack([p["W" + g][:, :n_a] for g in torch_order])))
        lstm.bias_ih_l0.copy_(torch.from_numpy(np.vstack([p["b" + g] for g in torch_order]).ravel()))
        lstm.bias_hh_l0.zero_()
    xt = to_torch(x.transpose(2, 1, 0))  # (T_x, m, n_x)
    h0 = to_torch(a0.T[None])  # (1, m, n_a)
    c0 = torch.zeros(1, m, n_a, dtype=torch.float64)
    out, (_, c_last) = lstm(xt, (h0, c0))  # out: (T_x, m, n_a)
    (out * torch.from_numpy(da_up.transpose(2, 1, 0))).sum().backward()

    assert_close(a, out.detach().numpy().transpose(2, 1, 0))
    assert_close(c[:, :, -1], c_last.detach().numpy()[0].T)
    assert_close(grads["dx"], xt.grad.numpy().transpose(2, 1, 0))
    assert_close(grads["da0"], h0.grad.numpy()[0].T)
    W_ih_grad = lstm.weight_ih_l0.grad.numpy()
    W_hh_grad = lstm.weight_hh_l0.grad.numpy()
    b_grad = lstm.bias_ih_l0.grad.numpy()
    for k, g in enumerate(torch_order):
        rows = slice(k * n_a, (k + 1) * n_a)
        assert_close(grads["dW" + g][:, n_a:], W_ih_grad[rows])
        assert_close(grads["dW" + g][:, :n_a], W_hh_grad[rows])
        assert_close(grads["db" + g].ravel(), b_grad[rows])


def test_rnn_forward_with_one_step_equals_one_cell_step():
    """rnn_forward over T_x = 1 gives exactly rnn_cell_forward's a_next and yt_pred."""
    rng = np.random.default_rng(5)
    p = rnn_params(rng, 3, 4, 5)
    x, a0, _ = make_inputs(rng, 3, 4, 2, 1)
    a, y, _ = ref.rnn_forward(x, a0, p)
    a_next, yt, _ = ref.rnn_cell_forward(x[:, :, 0], a0, p)
    assert np.array_equal(a[:, :, 0], a_next)
    assert np.array_equal(y[:, :, 0], yt)


def test_softmax_is_stable_and_normalised_over_axis_0():
    """softmax handles huge scores without overflow and each column sums to 1."""
    x = np.array([[1000.0, -5.0], [1001.0, 0.0], [999.0, 2.0]])
    y = ref.softmax(x)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y.sum(axis=0), [1.0, 1.0])
    np.testing.assert_allclose(y[:, 0], ref.softmax(x[:, :1] - 1000.0)[:, 0])


# ---- 3-6. the character-level name model ----------------------------------------------------------------


def lm_params(rng, n_a, vocab_size):
    return {
        "Wax": rng.standard_normal((n_a, vocab_size)) * 0.5,
        "Waa": rng.standard_normal((n_a, n_a)) * 0.5,
        "Wya": rng.standard_normal((vocab_size, n_a)) * 0.5,
        "b": rng.standard_normal((n_a, 1)) * 0.5,
        "by": rng.standard_normal((vocab_size, 1)) * 0.5,
    }


def test_rnn_backward_lm_matches_central_differences():
    """rnn_backward_lm's gradients on Wax, Waa, Wya, b, by and a0 match central differences of the loss."""
    rng = np.random.default_rng(6)
    n_a, vocab_size = 5, 6
    p = lm_params(rng, n_a, vocab_size)
    a0 = rng.standard_normal((n_a, 1)) * 0.5
    X = [None, 3, 1, 4, 1, 5]
    Y = X[1:] + [0]
    loss, cache = ref.rnn_forward_lm(X, Y, a0, p, vocab_size)
    grads, _ = ref.rnn_backward_lm(X, Y, p, cache)

    f = lambda: ref.rnn_forward_lm(X, Y, a0, p, vocab_size)[0]
    for key in ("Wax", "Waa", "Wya", "b", "by"):
        assert relative_error(grads["d" + key], numeric_grad(f, p[key])) < 1e-6, key
    assert relative_error(grads["da_next"], numeric_grad(f, a0)) < 1e-6


def test_rnn_forward_lm_loss_is_sum_of_negative_log_probabilities():
    """rnn_forward_lm's loss equals Σ_t -log p<t>[Y[t]] from the cached probabilities."""
    rng = np.random.default_rng(7)
    p = lm_params(rng, 4, 5)
    X, Y = [None, 2, 3], [2, 3, 0]
    loss, (y_hat, _, _) = ref.rnn_forward_lm(X, Y, np.zeros((4, 1)), p, 5)
    assert loss == pytest.approx(-sum(np.log(y_hat[t][Y[t], 0]) for t in range(3)))


def test_clip_bounds_every_entry_and_keeps_small_ones():
    """clip puts every entry into [-maxValue, maxValue] in place and leaves entries already inside alone."""
    rng = np.random.default_rng(8)
    grads = {k: rng.standard_normal((4, 3)) * 10 for k in ("dWaa", "dWax", "dWya", "db", "dby")}
    before = {k: v.copy() for k, v in grads.items()}
    arrays = dict(grads)
    out = ref.clip(grads, 5.0)
    assert out is grads
    assert all(out[k] is arrays[k] for k in arrays)  # the same arrays, clipped in place
    for k, v in grads.items():
        assert np.all(np.abs(v) <= 5.0)
        small = np.abs(before[k]) <= 5.0
        assert np.array_equal(v[small], before[k][small])
        assert np.array_equal(v[~small], 5.0 * np.sign(before[k][~small]))


def vocabulary(names):
    chars = sorted(set("".join(names)) | {"\n"})
    return {ch: i for i, ch in enumerate(chars)}, dict(enumerate(chars))


def test_sample_is_reproducible_and_ends_with_newline():
    """sample gives the same indices for the same seed, ends with the newline index, and is at most 51 long."""
    char_to_ix, _ = vocabulary(["abcdefghijklmnopqrstuvwxyz"])
    rng = np.random.default_rng(9)
    for scale, seed in [(0.01, 0), (0.01, 3), (3.0, 1), (3.0, 2)]:
        p = lm_params(rng, 10, 27)
        p = {k: v * scale for k, v in p.items()}
        first = ref.sample(p, char_to_ix, seed)
        assert first == ref.sample(p, char_to_ix, seed)
        assert first[-1] == char_to_ix["\n"]
        assert 1 <= len(first) <= 51


def test_sample_is_cut_at_50_characters_when_newline_is_never_drawn():
    """sample stops after 50 drawn characters and appends the newline when the model never predicts it."""
    char_to_ix, _ = vocabulary(["abc"])
    p = lm_params(np.random.default_rng(10), 4, 4)
    p["by"][char_to_ix["\n"]] = -1e3  # the newline's probability underflows to 0
    indices = ref.sample(p, char_to_ix, seed=0)
    assert len(indices) == 51
    assert indices[-1] == char_to_ix["\n"]
    assert char_to_ix["\n"] not in indices[:50]


def test_optimize_updates_parameters_and_returns_last_state():
    """optimize changes every parameter, returns a float loss and clipped gradients, and a_last of shape (n_a, 1)."""
    names = ["anna", "bob"]
    char_to_ix, _ = vocabulary(names)
    n_a, vocab_size = 7, len(char_to_ix)
    p = ref.initialize_parameters(n_a, vocab_size, vocab_size)
    p["b"] += 0.1
    before = {k: v.copy() for k, v in p.items()}
    X = [None] + [char_to_ix[ch] for ch in "anna"]
    Y = X[1:] + [char_to_ix["\n"]]
    loss, grads, a_last = ref.optimize(X, Y, np.full((n_a, 1), 0.3), p, learning_rate=0.5)
    assert a_last.shape == (n_a, 1)
    assert loss > 0
    for k in before:
        assert not np.array_equal(p[k], before[k]), k
    assert all(np.all(np.abs(grads[k]) <= 5) for k in ("dWax", "dWaa", "dWya", "db", "dby"))


def test_initialize_parameters_shapes_and_zero_biases():
    """initialize_parameters gives the course's shapes, small weights, zero biases, and is seeded."""
    p = ref.initialize_parameters(5, 4, 3)
    assert {k: v.shape for k, v in p.items()} == {
        "Wax": (5, 4),
        "Waa": (5, 5),
        "Wya": (3, 5),
        "b": (5, 1),
        "by": (3, 1),
    }
    assert not p["b"].any() and not p["by"].any()
    assert 0 < np.abs(p["Wax"]).max() < 0.1
    assert np.array_equal(p["Waa"], ref.initialize_parameters(5, 4, 3)["Waa"])


NAMES = [
    "aldor", "brimwen", "cassik", "dovrel", "elanna", "fenrik", "galmira", "hobart", "isolde", "jorvik",
    "kestra", "lunnor", "mabelle", "norvin", "ostara", "pellam", "quenby", "rosalind", "tamsin", "vidar",
]  # fmt: skip


def test_model_smoothed_loss_falls_on_a_small_name_list(capsys):
    """model trained 2500 steps on 20 names ends with a lower smoothed loss than it starts with, silently."""
    char_to_ix, ix_to_char = vocabulary(NAMES)
    parameters, losses = ref.model(
        NAMES,
        ix_to_char,
        char_to_ix,
        num_iterations=2500,
        n_a=30,
        vocab_size=len(char_to_ix),
        verbose=False,
        return_losses=True,
    )
    assert len(losses) == 2500
    assert losses[-1] < losses[0] - 2.0
    assert set(parameters) == {"Wax", "Waa", "Wya", "b", "by"}
    assert capsys.readouterr().out == ""


def test_model_prints_loss_and_sampled_names_when_verbose(capsys):
    """model with verbose=True prints the smoothed loss and names_to_print names at iteration 0."""
    char_to_ix, ix_to_char = vocabulary(NAMES)
    parameters = ref.model(NAMES, ix_to_char, char_to_ix, num_iterations=3, n_a=8, names_to_print=4,
                           vocab_size=len(char_to_ix))  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Iteration: 0, Loss: ")
    assert len(lines) == 1 + 1 + 4 + 1  # the loss, a blank line, the names, a blank line
    assert isinstance(parameters, dict)
