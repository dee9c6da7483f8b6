"""The engine's fast paths against torch and central differences: the fused embedding (x_proj and input_table),
the exp-based gates at saturation, the one-step generation path, the one-hot scatter-add, and float32 (whose LSTM
runs the compiled kernels of rnnkit.kernels)."""

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gradcheck import numerical_grad, relative_error
from torch_twins import TORCH_CELLS, t64

from rnnkit import nn
from rnnkit.lm.config import ModelConfig
from rnnkit.lm.model import TokenModel
from rnnkit.lm.sample import draw, filter_logits, next_ids
from rnnkit.text.generate import NameGenerator
from rnnkit.text.vocab import Vocabulary

RTOL, ATOL = 1e-9, 1e-12
CELLS = ["rnn", "lstm", "gru"]


def _close(actual, expected, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def _randomize_biases(params, rng):
    for name, p in params.items():
        if name.split(".")[-1].startswith("b"):
            p[...] = rng.uniform(-0.5, 0.5, size=p.shape)


def _torch_char_model(model: TokenModel, dtype=torch.float64):
    """Embedding -> torch.nn.RNN/LSTM/GRU -> Linear with the model's weights (rnnkit's one bias into b_ih)."""
    c = model.config
    kwargs = {"nonlinearity": "tanh"} if c.cell == "rnn" else {}
    parts = {
        "embed": torch.nn.Embedding(model.vocab_size, c.embedding_size),
        "rnn": TORCH_CELLS[c.cell](c.embedding_size, c.hidden_size, num_layers=c.num_layers, **kwargs),
        "head": torch.nn.Linear(c.hidden_size, model.vocab_size),
    }
    p = {k: torch.tensor(v, dtype=dtype) for k, v in model.params.items()}
    with torch.no_grad():
        parts["embed"].weight.data = p["embed.W"].clone()
        parts["head"].weight.data, parts["head"].bias.data = p["head.W"].clone(), p["head.b"].clone()
        for l in range(c.num_layers):
            rnn = parts["rnn"]
            setattr(rnn, f"weight_ih_l{l}", torch.nn.Parameter(p[f"rnn.{l}.W_ih"].clone()))
            setattr(rnn, f"weight_hh_l{l}", torch.nn.Parameter(p[f"rnn.{l}.W_hh"].clone()))
            if c.cell == "gru":
                setattr(rnn, f"bias_ih_l{l}", torch.nn.Parameter(p[f"rnn.{l}.b_ih"].clone()))
                setattr(rnn, f"bias_hh_l{l}", torch.nn.Parameter(p[f"rnn.{l}.b_hh"].clone()))
            else:
                setattr(rnn, f"bias_ih_l{l}", torch.nn.Parameter(p[f"rnn.{l}.b"].clone()))
                setattr(rnn, f"bias_hh_l{l}", torch.nn.Parameter(torch.zeros_like(p[f"rnn.{l}.b"])))
        parts["rnn"].flatten_parameters()
    return parts


def _torch_grads(model: TokenModel, parts) -> dict[str, np.ndarray]:
    rnn = parts["rnn"]
    out = {"embed.W": parts["embed"].weight.grad, "head.W": parts["head"].weight.grad}
    out["head.b"] = parts["head"].bias.grad
    for l in range(model.config.num_layers):
        out[f"rnn.{l}.W_ih"] = getattr(rnn, f"weight_ih_l{l}").grad
        out[f"rnn.{l}.W_hh"] = getattr(rnn, f"weight_hh_l{l}").grad
        if model.config.cell == "gru":
            out[f"rnn.{l}.b_ih"] = getattr(rnn, f"bias_ih_l{l}").grad
            out[f"rnn.{l}.b_hh"] = getattr(rnn, f"bias_hh_l{l}").grad
        else:
            out[f"rnn.{l}.b"] = getattr(rnn, f"bias_ih_l{l}").grad
    return {k: v.detach().numpy() for k, v in out.items()}


def _model_vs_torch(cell, layers, dtype, T=6, B=5, V=7, E=4, H=5, seed=0):
    """Loss, logits, final states and every gradient of TokenModel and its torch twin on one masked batch."""
    rng = np.random.default_rng(seed)
    model = TokenModel(ModelConfig(cell, H, layers, E, 0.0), V, seed=seed, dtype=dtype)
    _randomize_biases(model.params, rng)
    ids = rng.integers(0, V, size=(T, B))
    targets = rng.integers(0, V, size=(T, B))
    mask = rng.random((T, B)) > 0.2
    targets[~mask] = -1
    model.zero_grad()
    logits, states, cache = model.forward(ids)
    loss, dlogits = nn.cross_entropy(logits, targets, mask)
    model.backward(dlogits, cache)

    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    parts = _torch_char_model(model, tdtype)
    out = parts["rnn"](parts["embed"](torch.tensor(ids)))
    ths, tfinal = out
    tlogits = parts["head"](ths)
    tloss = F.cross_entropy(tlogits.reshape(-1, V), torch.tensor(targets).reshape(-1), ignore_index=-1)
    tloss.backward()
    th = tfinal[0] if cell == "lstm" else tfinal
    ours_h = np.stack([s[0] if cell == "lstm" else s for s in states])
    return (loss, logits, ours_h, model.grads), (
        tloss.item(),
        tlogits.detach().numpy(),
        th.detach().numpy(),
        _torch_grads(model, parts),
    )


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2])
def test_char_model_with_fused_embedding_matches_torch_in_float64(cell, layers):
    """Embedding fused into the first layer's input projection: loss, logits, states and every gradient as torch."""
    (loss, logits, h, grads), (tloss, tlogits, th, tgrads) = _model_vs_torch(cell, layers, np.float64)
    _close(loss, tloss)
    _close(logits, tlogits)
    _close(h, th)
    assert grads.keys() == tgrads.keys()
    for name, g in tgrads.items():
        _close(grads[name], g)


@pytest.mark.parametrize("cell", CELLS)
def test_char_model_float32_matches_torch_float32(cell):
    """The float32 training path (exp-based gates, one-hot scatter-add) agrees with torch's float32 kernels."""
    (loss, logits, h, grads), (tloss, tlogits, th, tgrads) = _model_vs_torch(
        cell, 2, np.float32, T=12, B=9, V=11, E=8, H=16, seed=3
    )
    assert logits.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())
    _close(loss, tloss, rtol=1e-5, atol=1e-6)
    _close(logits, tlogits, rtol=1e-4, atol=1e-5)
    _close(h, th, rtol=1e-4, atol=1e-5)
    for name, g in tgrads.items():
        _close(grads[name], g, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
def test_char_model_gradients_with_dropout_match_central_differences(cell):
    """Through the fused embedding and both dropout masks (fixed by the rng seed), every gradient is exact."""
    rng = np.random.default_rng(5)
    V, T, B = 6, 4, 3
    model = TokenModel(ModelConfig(cell, 4, 2, 3, 0.3), V, seed=2, dtype=np.float64)
    _randomize_biases(model.params, rng)
    ids = rng.integers(0, V, size=(T, B))
    ids[0, 0] = ids[1, 1] = 2  # a repeated id, so the table's gradient sums rows
    targets = rng.integers(0, V, size=(T, B))
    mask = rng.random((T, B)) > 0.2

    def loss() -> float:
        logits, _, _ = model.forward(ids, None, np.random.default_rng(11))
        return nn.cross_entropy(logits, targets, mask)[0]

    model.zero_grad()
    logits, _, cache = model.forward(ids, None, np.random.default_rng(11))
    assert cache.mask is not None and (cache.mask == 0).any()
    model.backward(nn.cross_entropy(logits, targets, mask)[1], cache)
    errors = {name: relative_error(model.grads[name], numerical_grad(loss, p)) for name, p in model.params.items()}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])  # float32: the LSTM's kernels on both input paths
def test_layer_given_x_proj_equals_layer_given_x(cell, dtype):
    """forward(x_proj = x W_ih^T + b) equals forward(x); backward's dL/dx_proj gives dx = dz W_ih, dW_ih = dz^T x."""
    rng = np.random.default_rng(1)
    T, B, D, H = 5, 3, 4, 6
    layer = nn.CELLS[cell](D, H, rng=rng, dtype=dtype)
    _randomize_biases(layer.params, rng)

    def normal(*shape):
        return rng.standard_normal(shape).astype(dtype)

    x, up = normal(T, B, D), normal(T, B, H)
    state = (normal(B, H), normal(B, H)) if cell == "lstm" else normal(B, H)
    tol = {} if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-6}
    x_proj = x @ layer.params["W_ih"].T + layer.params[layer.input_bias]
    hs, final, cache = layer.forward(x, state)
    layer.zero_grad()
    dx, dstate = layer.backward(up, cache)
    grads = {k: g.copy() for k, g in layer.grads.items()}

    x_proj_before = x_proj.copy()
    hs2, final2, cache2 = layer.forward(None, state, x_proj=x_proj)
    np.testing.assert_array_equal(x_proj, x_proj_before)  # the caller's array is left alone
    layer.zero_grad()
    dx_proj, dstate2 = layer.backward(up, cache2)
    assert dx_proj.shape == x_proj.shape
    _close(hs2, hs, **tol)
    _close(np.asarray(final2), np.asarray(final), **tol)
    _close(np.asarray(dstate2), np.asarray(dstate), **tol)
    _close(dx_proj @ layer.params["W_ih"], dx, **tol)
    _close(layer.grads["W_hh"], grads["W_hh"], **tol)
    assert not layer.grads["W_ih"].any()  # the caller owns the input projection's gradients
    # every position its own table row: input_table_backward adds dW_ih, db and returns dx
    dE = layer.input_table_backward(dx_proj.reshape(T * B, -1), x.reshape(T * B, D))
    _close(dE.reshape(T, B, D), dx, **tol)
    _close(layer.grads["W_ih"], grads["W_ih"], **tol)
    _close(layer.grads[layer.input_bias], grads[layer.input_bias], **tol)


@pytest.mark.parametrize(("cell", "dtype"), [("lstm", np.float64), ("gru", np.float64), ("lstm", np.float32)])
def test_saturated_gates_stay_finite_and_match_torch(cell, dtype):
    """Pre-activations of +-1000 saturate every gate: torch's outputs, no overflow, no warning."""
    rng = np.random.default_rng(7)
    T, B, D, H = 3, 2, 3, 4
    stack = nn.RecurrentStack(cell, D, H, rng=rng, dtype=dtype)
    x = (rng.standard_normal((T, B, D)) * 1000).astype(dtype)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        hs, _, cache = stack.forward(x)
        dx, _ = stack.backward(np.ones((T, B, H)), cache)
    twin = TORCH_CELLS[cell](D, H).double()
    with torch.no_grad():
        twin.weight_ih_l0.copy_(t64(stack.layers[0].params["W_ih"]))
        twin.weight_hh_l0.copy_(t64(stack.layers[0].params["W_hh"]))
        for name in ("bias_ih_l0", "bias_hh_l0"):
            getattr(twin, name).zero_()
        if cell == "gru":
            twin.bias_ih_l0.copy_(t64(stack.layers[0].params["b_ih"]))
            twin.bias_hh_l0.copy_(t64(stack.layers[0].params["b_hh"]))
        else:
            twin.bias_ih_l0.copy_(t64(stack.layers[0].params["b"]))
    tx = t64(x, True)
    ths, _ = twin(tx)
    ths.sum().backward()
    assert np.isfinite(hs).all() and np.isfinite(dx).all()
    tol = {} if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-6}
    _close(hs, ths.detach().numpy(), **tol)
    _close(dx, tx.grad.numpy(), **tol)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("batch", [1, 3, 40])  # below and above the vocabulary size: GEMV and table lookup
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_step_logits_equals_forward_one_step_at_a_time(cell, layers, batch, dtype):
    """Generation's step_logits (no caches, with or without a precomputed table) carries forward's states."""
    rng = np.random.default_rng(layers * 10 + batch)
    model = TokenModel(ModelConfig(cell, 6, layers, 5, 0.3), 11, seed=4, dtype=dtype)
    _randomize_biases(model.params, rng)
    model.eval()
    ids = rng.integers(0, 11, size=(5, batch))
    expected, final, _ = model.forward(ids)
    for table in (None, model.input_table()):
        states = None
        tol = {} if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-6}  # float32: GEMV and GEMM round apart
        for t in range(5):
            logits, states = model.step_logits(ids[t], states, table)
            assert logits.dtype == dtype
            _close(logits, expected[t], **tol)
        for s, f in zip(states, final, strict=True):
            _close(np.asarray(s), np.asarray(f), **tol)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_step_logits_with_rows_equals_stepping_the_gathered_states(cell, layers, dtype):
    """rows lets new rows continue shared states (one recurrent product per state): the same as copying them."""
    rng = np.random.default_rng(layers)
    model = TokenModel(ModelConfig(cell, 6, layers, 5, 0.0), 11, seed=2, dtype=dtype)
    _randomize_biases(model.params, rng)
    _, states = model.step_logits(np.array([1, 4, 7, 9]), None)  # 4 distinct states
    rows = np.array([3, 0, 3, 3, 1, 0])  # state 2 has no continuation, states 3 and 0 several
    ids = rng.integers(0, 11, size=6)
    gathered = [tuple(s[rows] for s in st) if isinstance(st, tuple) else st[rows] for st in states]
    expected, expected_states = model.step_logits(ids, gathered)
    for table in (None, model.input_table()):
        logits, new_states = model.step_logits(ids, states, table, rows=rows)
        tol = {} if dtype == np.float64 else {"rtol": 1e-5, "atol": 1e-6}
        _close(logits, expected, **tol)
        for s, e in zip(new_states, expected_states, strict=True):
            _close(np.asarray(s), np.asarray(e), **tol)


def test_tanh32_is_within_five_float32_ulps_of_tanh():
    """The kernels' rational tanh, over the whole float32 range that matters and beyond (it clamps)."""
    from rnnkit import kernels

    x = np.concatenate([np.linspace(-12, 12, 200_001), [-1e30, -1e-30, 0.0, 1e-30, 1e30]]).astype(np.float32)
    ours = x.copy()
    kernels.tanh_inplace(ours)
    exact = np.tanh(x.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert np.all(np.abs(ours - exact) <= 5 * ulp)  # measured: 4.4 ulps at most (NumPy float32: 1.4)
    assert np.all(np.abs(ours) <= 1) and np.all(ours[x == 0] == 0)


def test_float32_lstm_runs_the_kernels_and_float64_does_not(monkeypatch):
    """The float32 LSTM's time loops go through rnnkit.kernels; float64 never does (torch checks it to 1e-12).

    From no state the first step has no recurrent product; the others take it transposed up to
    `transposed_product_rows` rows, and as it is beyond."""
    from rnnkit import kernels

    calls = []
    for name in ("lstm_forward_step", "lstm_forward_step_t", "lstm_backward_step"):
        kernel = getattr(kernels, name)
        monkeypatch.setattr(kernels, name, lambda *a, k=kernel, n=name: calls.append(n) or k(*a))
    backward = ["lstm_backward_step"] * 3
    for dtype, rows, expected in (
        (np.float64, 32, []),
        (np.float32, 32, ["lstm_forward_step"] + ["lstm_forward_step_t"] * 2 + backward),
        (np.float32, 0, ["lstm_forward_step"] * 3 + backward),
    ):
        calls.clear()
        layer = nn.LSTM(2, 3, dtype=dtype)
        monkeypatch.setattr(layer, "transposed_product_rows", rows)
        hs, _, cache = layer.forward(np.ones((3, 1, 2), dtype=dtype))
        layer.backward(np.ones_like(hs), cache)
        assert calls == expected


def test_the_float32_forward_gives_the_same_either_way_round():
    """h W_hh^T (B, 4H) and its transpose W_hh h^T (4H, B) read back by the kernel: the same outputs and gradients
    to float32 rounding (the two products add in different orders), from a state and from none."""
    rng = np.random.default_rng(5)
    T, B, D, H = 6, 5, 4, 8
    layer = nn.LSTM(D, H, rng=rng)
    x = rng.standard_normal((T, B, D)).astype(np.float32)
    dhs = rng.standard_normal((T, B, H)).astype(np.float32)
    state = tuple(rng.standard_normal((2, B, H)).astype(np.float32))
    for start in (state, None):
        results = []
        for rows in (B, B - 1):  # transposed, then as written
            layer.transposed_product_rows = rows
            layer.zero_grad()
            hs, final, cache = layer.forward(x, start)
            dx, _ = layer.backward(dhs, cache)
            results.append([hs, *final, dx, *(g.copy() for g in layer.grads.values())])
        for a, b in zip(*results, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_rows_equals_add_at(dtype):
    """The compiled scatter-add sums rows by id as np.add.at does, repeats and unused rows included."""
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 9, size=(7, 5))
    d = rng.standard_normal((7, 5, 4)).astype(dtype)
    expected = np.zeros((10, 4), dtype=dtype)
    np.add.at(expected, ids.ravel(), d.reshape(-1, 4))
    out = nn.sum_rows(ids, d, 10)
    assert out.dtype == dtype and not out[9].any()
    _close(out, expected)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_the_samplers_fast_draw_picks_what_filter_logits_then_draw_picks(temperature):
    """next_ids draws from unnormalised exp(z / T): the same ids as the normalised probabilities, seed for seed."""
    logits = np.random.default_rng(0).standard_normal((500, 27)).astype(np.float32) * 3
    logits[:, 0] = -np.inf  # as the sampler masks the end token before the first character
    fast = next_ids(logits, temperature, None, None, np.random.default_rng(1), greedy=False)
    slow = draw(filter_logits(logits, temperature, None, None), np.random.default_rng(1))
    np.testing.assert_array_equal(fast, slow)
    assert not (fast == 0).any()


def _sample_stepping_every_row(gen: NameGenerator, batch: int, rng, max_length: int) -> list[str]:
    """The plain batched sampler: every active row steps the network, whatever its prefix."""
    logits, states = gen._read_prefix(np.array([], dtype=np.int64))  # (1, V)
    logits, states = np.repeat(logits, batch, axis=0), [tuple(np.repeat(s, batch, axis=0) for s in states[0])]
    logits[:, gen.vocab.eos] = -np.inf
    out, active = [[] for _ in range(batch)], np.arange(batch)
    for _ in range(max_length):
        ids = next_ids(logits, 1.0, None, None, rng, greedy=False)
        going = ids != gen.vocab.eos
        for row, i in zip(active[going], ids[going], strict=True):
            out[row].append(int(i))
        active, ids = active[going], ids[going]
        states = [tuple(s[going] for s in st) for st in states]
        if active.size == 0:
            break
        logits, states = gen.model.step_logits(ids, states)
    return [gen.vocab.decode(ids) for ids in out]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])  # the NumPy step and the kernel's
def test_sampling_with_shared_prefixes_draws_what_stepping_every_row_draws(dtype):
    """Rows with the same prefix share one state: the same names, seed for seed, as stepping every row."""
    vocab = Vocabulary.from_items(["ab", "ba", "abc", "cab"])
    model = TokenModel(ModelConfig("lstm", 8, 1, 4, 0.0), len(vocab), seed=1, dtype=dtype)
    gen = NameGenerator(model, vocab)
    shared = gen._sample_batch(300, 1.0, None, None, np.array([], dtype=np.int64), np.random.default_rng(3), 12, False)
    plain = _sample_stepping_every_row(gen, 300, np.random.default_rng(3), 12)
    assert shared == plain
    assert len(set(shared)) > 50  # enough distinct names that the rows really went apart


@pytest.mark.parametrize("shape", [(2048, 512), (12, 5), (3, 17)])  # whole strips of 8 columns, and remainders
def test_the_transpose_kernel_transposes(shape):
    from rnnkit import kernels

    a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    out = np.empty(shape[::-1], dtype=np.float32)
    kernels.transpose(a, out)
    np.testing.assert_array_equal(out, a.T)


_STEPS_OF_BIG_BUFFERS = """
import resource, sys
import subprocess
import sys

import numpy as np
if sys.argv[1] == "keep":
    from rnnkit.memory import reuse_freed_memory
    assert reuse_freed_memory()
def step():  # like a training step: a few 8 MB buffers alive together, written, then freed
    buffers = [np.ones(2 << 20, dtype=np.float32) for _ in range(3)]
    return sum(float(b[-1]) for b in buffers)
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_reuse_freed_memory_stops_the_page_faults_of_reallocated_buffers():
    """Without it glibc returns freed buffers to the OS and every step faults in fresh pages; with it, none."""
    if not sys.platform.startswith("linux"):  # no glibc: it must say it did nothing
        from rnnkit.memory import reuse_freed_memory

        assert not reuse_freed_memory()
        return

    def faults(mode: str) -> int:
        cmd = [sys.executable, "-c", _STEPS_OF_BIG_BUFFERS, mode]
        return int(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)

    assert faults("default") > 5_000  # 10 steps x 3 buffers x 2,048 pages, most of them faulted afresh
    assert faults("keep") < 100


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_a_layer_reads_table_rows_as_it_reads_the_gathered_array(cell, dtype):
    """TableRows(table, ids) stands for table[ids]: the same outputs, final state and gradients, bit for bit."""
    rng = np.random.default_rng(3)
    layer = nn.CELLS[cell](5, 6, rng=rng, dtype=dtype)
    table = rng.standard_normal((7, layer.gates * 6)).astype(dtype)
    ids = rng.integers(0, 7, size=(4, 3))
    dhs = rng.standard_normal((4, 3, 6)).astype(dtype)
    results = []
    for x_proj in (table[ids], nn.TableRows(table, ids)):
        layer.zero_grad()
        hs, state, cache = layer.forward(None, x_proj=x_proj)
        dx_proj, _ = layer.backward(dhs, cache)
        states = list(state) if cell == "lstm" else [state]  # (h, c) or h
        results.append([hs, *states, dx_proj, layer.grads["W_hh"].copy()])
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_the_skipped_products_change_nothing_else(cell, dtype):
    """Two products a training step does without: forward from no state skips h_0 W_hh^T (h_0 = 0), and
    backward with state_grads=False skips dL/dh_0. Outputs and gradients equal the full computation's, bit for bit."""
    rng = np.random.default_rng(4)
    T, B, D, H = 5, 3, 4, 6
    layer = nn.CELLS[cell](D, H, rng=rng, dtype=dtype)
    x = rng.standard_normal((T, B, D)).astype(dtype)
    dhs = rng.standard_normal((T, B, H)).astype(dtype)
    zeros = np.zeros((B, H), dtype=dtype)
    results = []
    for state, state_grads in (((zeros, zeros) if cell == "lstm" else zeros, True), (None, False)):
        layer.zero_grad()
        hs, final, cache = layer.forward(x, state)
        dx, dstate = layer.backward(dhs, cache, state_grads=state_grads)
        assert (dstate is None) == (not state_grads)
        results.append([hs, *np.atleast_3d(final), dx, *(g.copy() for g in layer.grads.values())])
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)
