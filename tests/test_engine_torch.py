"""The engine against PyTorch in float64: same weights, same outputs, same gradients."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch_twins import assert_matches_torch, t64, torch_grads, torch_twin

from rnnkit import nn, optim

RTOL, ATOL = 1e-9, 1e-12

# (T, B, D, H, layers): the edges T=1, B=1, D != H, plus random shapes drawn once from a fixed seed
_rng = np.random.default_rng(2026)
SHAPES = [(1, 1, 3, 5, 1), (1, 4, 6, 2, 2), (7, 1, 2, 8, 1), (3, 2, 4, 4, 3)] + [
    (
        int(_rng.integers(1, 12)),
        int(_rng.integers(1, 9)),
        int(_rng.integers(1, 10)),
        int(_rng.integers(1, 10)),
        1 + i % 2,
    )
    for i in range(8)
]


def _close(actual, expected):
    assert_matches_torch(actual, expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("shape", SHAPES)
def test_stack_matches_torch_forward_and_backward(cell, shape):
    """Outputs, final states, every weight gradient, dx and the initial-state gradients match torch.nn."""
    T, B, D, H, L = shape
    rng = np.random.default_rng(sum(shape) * 7 + len(cell))
    stack = nn.RecurrentStack(cell, D, H, num_layers=L, rng=rng, dtype=np.float64)
    for name, p in stack.params.items():
        if ".b" in name:
            p[...] = rng.uniform(-1, 1, size=p.shape)
    stack.eval()
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((L, B, H))
    c0 = rng.standard_normal((L, B, H))
    up_hs = rng.standard_normal((T, B, H))
    up_h, up_c = rng.standard_normal((L, B, H)), rng.standard_normal((L, B, H))

    states = [(h0[l], c0[l]) for l in range(L)] if cell == "lstm" else [h0[l] for l in range(L)]
    hs, finals, cache = stack.forward(x, states)
    dstates = [(up_h[l], up_c[l]) for l in range(L)] if cell == "lstm" else [up_h[l] for l in range(L)]
    stack.zero_grad()
    dx, dstates0 = stack.backward(up_hs, cache, dstates)

    twin = torch_twin(stack)
    tx, th0, tc0 = t64(x, True), t64(h0, True), t64(c0, True)
    if cell == "lstm":
        ths, (thT, tcT) = twin(tx, (th0, tc0))
        (ths * t64(up_hs)).sum().add((thT * t64(up_h)).sum()).add((tcT * t64(up_c)).sum()).backward()
    else:
        ths, thT = twin(tx, th0)
        (ths * t64(up_hs)).sum().add((thT * t64(up_h)).sum()).backward()

    _close(hs, ths.detach().numpy())
    for l in range(L):
        if cell == "lstm":
            _close(finals[l][0], thT[l].detach().numpy())
            _close(finals[l][1], tcT[l].detach().numpy())
            _close(dstates0[l][0], th0.grad[l].numpy())
            _close(dstates0[l][1], tc0.grad[l].numpy())
        else:
            _close(finals[l], thT[l].detach().numpy())
            _close(dstates0[l], th0.grad[l].numpy())
    _close(dx, tx.grad.numpy())
    expected = torch_grads(stack, twin)
    assert expected.keys() == stack.grads.keys()
    for name, g in expected.items():
        _close(stack.grads[name], g)


def test_embedding_matches_torch():
    """Lookup and the scatter-add gradient (with repeated ids) match torch.nn.Embedding."""
    rng = np.random.default_rng(1)
    emb = nn.Embedding(9, 5, rng=rng, dtype=np.float64)
    ids = rng.integers(0, 9, size=(6, 4))
    up = rng.standard_normal((6, 4, 5))
    out, cache = emb.forward(ids)
    emb.backward(up, cache)
    twin = torch.nn.Embedding(9, 5).double()
    with torch.no_grad():
        twin.weight.copy_(t64(emb.params["W"]))
    tout = twin(torch.tensor(ids))
    (tout * t64(up)).sum().backward()
    _close(out, tout.detach().numpy())
    _close(emb.grads["W"], twin.weight.grad.numpy())


def test_linear_matches_torch():
    """y, dW, db and dx match torch.nn.Linear over (T, B, in)."""
    rng = np.random.default_rng(2)
    lin = nn.Linear(6, 4, rng=rng, dtype=np.float64)
    x, up = rng.standard_normal((3, 5, 6)), rng.standard_normal((3, 5, 4))
    y, cache = lin.forward(x)
    dx = lin.backward(up, cache)
    twin = torch.nn.Linear(6, 4).double()
    with torch.no_grad():
        twin.weight.copy_(t64(lin.params["W"]))
        twin.bias.copy_(t64(lin.params["b"]))
    tx = t64(x, True)
    ty = twin(tx)
    (ty * t64(up)).sum().backward()
    _close(y, ty.detach().numpy())
    _close(lin.grads["W"], twin.weight.grad.numpy())
    _close(lin.grads["b"], twin.bias.grad.numpy())
    _close(dx, tx.grad.numpy())


@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_masked_cross_entropy_matches_torch_ignore_index(scale):
    """Loss and dlogits equal F.cross_entropy(ignore_index=-1), also for large logits."""
    rng = np.random.default_rng(int(scale))
    T, B, V = 7, 5, 11
    logits = rng.standard_normal((T, B, V)) * scale
    targets = rng.integers(0, V, size=(T, B))
    mask = rng.random((T, B)) > 0.25
    targets[~mask] = -1
    loss, dlogits = nn.cross_entropy(logits, targets, mask)
    tl = t64(logits, True)
    tloss = F.cross_entropy(tl.reshape(-1, V), torch.tensor(targets).reshape(-1), ignore_index=-1)
    tloss.backward()
    _close(loss, tloss.item())
    _close(dlogits, tl.grad.numpy())


def _param_pairs(rng, dtype=np.float64):
    shapes = {"a": (4, 3), "b": (5,), "c": (2, 2, 2)}
    params = {k: rng.standard_normal(s).astype(dtype) for k, s in shapes.items()}
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    return params, tparams


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda p: optim.SGD(p, lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
        (lambda p: optim.Adam(p, lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
        (
            lambda p: optim.Adam(p, lr=0.02, beta_1=0.8, beta_2=0.99, eps=1e-6),
            lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6),
        ),
        (
            lambda p: optim.Adam(p, lr=0.01, weight_decay=0.1),
            lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
        ),
    ],
    ids=["sgd", "adam", "adam-betas", "adamw"],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])  # float32: Adam's compiled kernel
def test_optimizer_steps_match_torch(ours, theirs, dtype):
    """Five steps with fresh random gradients leave the same parameters as the torch optimizer."""
    rng = np.random.default_rng(0)
    params, tparams = _param_pairs(rng, dtype)
    opt, topt = ours(params), theirs(list(tparams.values()))
    for _ in range(5):
        grads = {k: rng.standard_normal(v.shape).astype(dtype) for k, v in params.items()}
        for k, tp in tparams.items():
            tp.grad = torch.tensor(grads[k])
        opt.step(grads)
        topt.step()
    for k in params:
        assert params[k].dtype == dtype
        if dtype == np.float64:
            _close(params[k], tparams[k].detach().numpy())
        else:
            np.testing.assert_allclose(params[k], tparams[k].detach().numpy(), rtol=1e-5, atol=1e-6)


def test_adam_keras_decay_lowers_the_step_size_as_one_over_one_plus_decay_t():
    """With decay, step t uses lr / (1 + decay (t-1)): equal to torch Adam driven by that schedule."""
    rng = np.random.default_rng(1)
    params, tparams = _param_pairs(rng)
    opt = optim.Adam(params, lr=0.01, decay=0.5)
    topt = torch.optim.Adam(list(tparams.values()), lr=0.01)
    for t in range(1, 6):
        grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        for k, tp in tparams.items():
            tp.grad = t64(grads[k])
        for group in topt.param_groups:
            group["lr"] = 0.01 / (1 + 0.5 * (t - 1))
        opt.step(grads)
        topt.step()
    for k in params:
        _close(params[k], tparams[k].detach().numpy())


@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(max_norm):
    """Returned norm and clipped gradients equal torch.nn.utils.clip_grad_norm_ (clipping and not)."""
    rng = np.random.default_rng(3)
    params, tparams = _param_pairs(rng)
    grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    for k, tp in tparams.items():
        tp.grad = t64(grads[k])
    norm = optim.clip_grad_norm(grads, max_norm)
    tnorm = torch.nn.utils.clip_grad_norm_(list(tparams.values()), max_norm)
    _close(norm, tnorm.item())
    for k in grads:
        _close(grads[k], tparams[k].grad.numpy())
