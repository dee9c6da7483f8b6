"""The token model's dense input path (context features beside the token, a melody's chords) against central
differences and torch in float64, and its one-step generation path against forward."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gradcheck import numerical_grad, relative_error
from torch_twins import TORCH_CELLS, assert_matches_torch, t64

from rnnkit import nn
from rnnkit.lm.config import ModelConfig
from rnnkit.lm.model import TokenModel

CELLS = ["rnn", "lstm", "gru"]
V, C = 7, 5


def _model(cell: str, layers: int, dropout: float, dtype=np.float64, seed: int = 3) -> TokenModel:
    model = TokenModel(ModelConfig(cell, 4, layers, 3, dropout), V, seed=seed, dtype=dtype, context_size=C)
    rng = np.random.default_rng(seed + 100)
    for name, p in model.params.items():  # non-zero biases everywhere
        if name.rsplit(".", 1)[-1].startswith("b"):
            p[...] = rng.uniform(-1, 1, size=p.shape)
    return model


def _states(cell, layers, B, rng):
    if cell == "lstm":
        return [(rng.standard_normal((B, 4)), rng.standard_normal((B, 4))) for _ in range(layers)]
    return [rng.standard_normal((B, 4)) for _ in range(layers)]


def test_linear_without_bias_has_only_w_and_its_exact_gradient():
    """nn.Linear(bias=False) is y = x W^T; dW and dx match central differences."""
    rng = np.random.default_rng(0)
    layer = nn.Linear(3, 4, rng=rng, dtype=np.float64, bias=False)
    assert list(layer.params) == ["W"]
    x, up = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 5, 4))
    y, cache = layer.forward(x)
    np.testing.assert_allclose(y, x @ layer.params["W"].T)
    dx = layer.backward(up, cache)

    def loss() -> float:
        return float((layer.forward(x)[0] * up).sum())

    assert relative_error(layer.grads["W"], numerical_grad(loss, layer.params["W"])) < 1e-8
    assert relative_error(dx, numerical_grad(loss, x)) < 1e-8


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2])
def test_context_model_gradients_match_central_differences(cell, layers):
    """Every parameter, W_c included, and the context itself, with dropout, a random upstream gradient and
    non-zero initial states."""
    rng = np.random.default_rng(layers + len(cell))
    T, B = 4, 3
    model = _model(cell, layers, 0.3)
    ids = rng.integers(0, V, size=(T, B))
    ids[0, 0] = ids[2, 1] = 4  # a repeated id
    context = rng.standard_normal((T, B, C))
    states = _states(cell, layers, B, rng)
    up = rng.standard_normal((T, B, V))

    def loss() -> float:
        logits, _, _ = model.forward(ids, states, np.random.default_rng(9), context)
        return float((logits * up).sum())

    model.zero_grad()
    _, _, cache = model.forward(ids, states, np.random.default_rng(9), context)
    dcontext = model.backward(up, cache)
    assert "context.W" in model.grads and model.grads["context.W"].shape == (model.rnn.layers[0].gates * 4, C)
    errors = {name: relative_error(model.grads[name], numerical_grad(loss, p)) for name, p in model.params.items()}
    errors["context"] = relative_error(dcontext, numerical_grad(loss, context))
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2])
def test_context_model_matches_torch_with_the_features_concatenated(cell, layers):
    """torch: Embedding, then the cell over [E[id_t]; c_t] with weight_ih = [W_ih | W_c], then Linear; logits,
    final states, every gradient and dL/dcontext agree in float64."""
    rng = np.random.default_rng(7 * layers + len(cell))
    T, B = 5, 2
    model = _model(cell, layers, 0.0)
    model.eval()
    ids = rng.integers(0, V, size=(T, B))
    context = rng.standard_normal((T, B, C))
    states = _states(cell, layers, B, rng)
    up = rng.standard_normal((T, B, V))
    model.zero_grad()
    logits, finals, cache = model.forward(ids, states, None, context)
    dcontext = model.backward(up, cache)

    p = {k: t64(v, grad=True) for k, v in model.params.items()}
    kwargs = {"nonlinearity": "tanh"} if cell == "rnn" else {}
    twin = TORCH_CELLS[cell](3 + C, 4, num_layers=layers, **kwargs).double()
    with torch.no_grad():
        for l in range(layers):
            W_ih = model.params[f"rnn.{l}.W_ih"]
            if l == 0:
                W_ih = np.concatenate([W_ih, model.params["context.W"]], axis=1)  # [W_ih | W_c]
            getattr(twin, f"weight_ih_l{l}").copy_(t64(W_ih))
            getattr(twin, f"weight_hh_l{l}").copy_(t64(model.params[f"rnn.{l}.W_hh"]))
            if cell == "gru":
                getattr(twin, f"bias_ih_l{l}").copy_(t64(model.params[f"rnn.{l}.b_ih"]))
                getattr(twin, f"bias_hh_l{l}").copy_(t64(model.params[f"rnn.{l}.b_hh"]))
            else:  # rnnkit's one bias is torch's b_ih + b_hh
                getattr(twin, f"bias_ih_l{l}").copy_(t64(model.params[f"rnn.{l}.b"]))
                getattr(twin, f"bias_hh_l{l}").zero_()
    tc = t64(context, grad=True)
    x = torch.cat([F.embedding(torch.tensor(ids), p["embed.W"]), tc], dim=2)  # (T, B, E + C)
    if cell == "lstm":
        h0 = t64(np.stack([s[0] for s in states]))
        c0 = t64(np.stack([s[1] for s in states]))
        hs, (hT, cT) = twin(x, (h0, c0))
    else:
        hs, hT = twin(x, t64(np.stack(states)))
    tlogits = hs @ p["head.W"].T + p["head.b"]
    (tlogits * t64(up)).sum().backward()

    def close(a, b):
        assert_matches_torch(a, b.detach().numpy(), rtol=1e-9, atol=1e-12)

    close(logits, tlogits)
    for l in range(layers):
        close(finals[l][0] if cell == "lstm" else finals[l], hT[l])
        if cell == "lstm":
            close(finals[l][1], cT[l])
    close(dcontext, tc.grad)
    close(model.grads["embed.W"], p["embed.W"].grad)
    close(model.grads["head.W"], p["head.W"].grad)
    close(model.grads["head.b"], p["head.b"].grad)
    for l in range(layers):
        g_ih = getattr(twin, f"weight_ih_l{l}").grad.numpy()
        if l == 0:
            close(model.grads["context.W"], torch.tensor(g_ih[:, 3:]))
            g_ih = g_ih[:, :3]
        close(model.grads[f"rnn.{l}.W_ih"], torch.tensor(g_ih))
        close(model.grads[f"rnn.{l}.W_hh"], getattr(twin, f"weight_hh_l{l}").grad)
        if cell == "gru":
            close(model.grads[f"rnn.{l}.b_ih"], getattr(twin, f"bias_ih_l{l}").grad)
            close(model.grads[f"rnn.{l}.b_hh"], getattr(twin, f"bias_hh_l{l}").grad)
        else:
            close(model.grads[f"rnn.{l}.b"], getattr(twin, f"bias_ih_l{l}").grad)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch", [1, 9])  # below and above the vocabulary size: with and without the table
def test_context_step_logits_equals_forward(cell, dtype, batch):
    """Generation's step_logits with this step's features carries forward's states, with or without a table."""
    rng = np.random.default_rng(batch)
    model = _model(cell, 2, 0.3, dtype=dtype)
    model.eval()
    ids = rng.integers(0, V, size=(4, batch))
    context = rng.standard_normal((4, batch, C)).astype(dtype)
    expected, _, _ = model.forward(ids, None, None, context)
    tol = {"rtol": 1e-9, "atol": 1e-12} if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-5}
    for table in (None, model.input_table()):
        states = None
        for t in range(4):
            logits, states = model.step_logits(ids[t], states, table, context=context[t])
            np.testing.assert_allclose(logits, expected[t], **tol)


def test_context_is_required_exactly_when_the_model_has_it():
    """A context model refuses to run without its features, a plain one refuses them; shapes are checked."""
    model = _model("lstm", 1, 0.0)
    ids = np.zeros((2, 3), dtype=np.int64)
    with pytest.raises(ValueError, match="5 context features"):
        model.forward(ids)
    with pytest.raises(ValueError, match="shape"):
        model.forward(ids, context=np.zeros((2, 3, 4)))
    plain = TokenModel(ModelConfig("lstm", 4, 1, 3, 0.0), V)
    with pytest.raises(ValueError):
        plain.forward(ids, context=np.zeros((2, 3, C)))
    assert "context.W" not in plain.params


@pytest.mark.parametrize("cell", CELLS)
def test_the_torch_engine_trains_a_context_model_like_the_numpy_engine(cell):
    """Same weights, same batches with features: both engines give the same losses, weights (W_c included),
    Adam moments and evaluation in float64, 6 steps of AdamW with clipping."""
    from rnnkit.config import TrainConfig, learning_rate
    from rnnkit.engines.base import make_engine
    from rnnkit.engines.batch import Batch
    from rnnkit.engines.config import EngineConfig
    from rnnkit.engines.distributed import World

    rng = np.random.default_rng(len(cell))
    T, B, steps = 6, 4, 6
    batches = [
        Batch(rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B)), context=rng.standard_normal((T, B, C)))
        for _ in range(steps + 1)
    ]
    config = TrainConfig(lr=0.02, warmup_steps=2, clip_norm=0.5, weight_decay=0.1)
    engines = {}
    for name, engine_cfg in (
        ("numpy", EngineConfig(precision="fp64")),
        ("torch", EngineConfig(engine="torch", device="cpu", precision="fp64")),
    ):
        engines[name] = make_engine(engine_cfg, _model(cell, 2, 0.0), config, World())
    losses = {name: [] for name in engines}
    for step, batch in enumerate(batches[:steps]):
        for name, engine in engines.items():
            losses[name].append(engine.forward_backward(batch, step)[0])
            engine.update(learning_rate(config, step, steps))
    np.testing.assert_allclose(losses["torch"], losses["numpy"], rtol=0, atol=1e-9)
    ours, theirs = engines["numpy"].export_params(), engines["torch"].export_params()
    assert ours.keys() == theirs.keys() and "context.W" in ours
    for k in ours:
        np.testing.assert_allclose(theirs[k], ours[k], rtol=1e-9, atol=1e-11, err_msg=k)
    m_ours, m_theirs = engines["numpy"].export_optimizer(), engines["torch"].export_optimizer()
    for k in m_ours:
        np.testing.assert_allclose(m_theirs[k], m_ours[k], rtol=1e-8, atol=1e-14, err_msg=k)
    assert abs(engines["torch"].evaluate(batches[steps:]) - engines["numpy"].evaluate(batches[steps:])) < 1e-9
