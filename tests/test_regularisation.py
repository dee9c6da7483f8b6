"""AWD-LSTM's regularisers and weight averaging: float64 gradient checks, torch agreement, masks, exact resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import interrupt_at
from gradcheck import numerical_grad, relative_error
from test_text_cli import _train
from torch_twins import assert_matches_torch, t64

from rnnkit import cli, nn, optim
from rnnkit.lm.config import ModelConfig
from rnnkit.lm.model import TokenModel
from rnnkit.rundir import RunDir
from rnnkit.text import train as text_train

TOL = 1e-6
EVERYTHING = {"dropout": 0.3, "locked_dropout": True, "input_dropout": 0.3, "embed_dropout": 0.3, "weight_drop": 0.4}


def _randomize_biases(params, rng):
    for name, p in params.items():
        if name.split(".")[-1].startswith("b"):
            p[...] = rng.uniform(-0.5, 0.5, size=p.shape)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_stack_with_weight_drop_and_locked_dropout_gradients_match_central_differences(cell):
    """A 2-layer stack with W_hh masks and locked masks (fixed by the seed) backpropagates exactly."""
    rng = np.random.default_rng(17)
    T, B, D, H = 4, 3, 5, 4
    stack = nn.RecurrentStack(cell, D, H, 2, 0.3, rng, np.float64, locked=True, weight_drop=0.4)
    _randomize_biases(stack.params, rng)
    x = rng.standard_normal((T, B, D))
    if cell == "lstm":
        states = [(rng.standard_normal((B, H)), rng.standard_normal((B, H))) for _ in range(2)]
    else:
        states = [rng.standard_normal((B, H)) for _ in range(2)]
    up = rng.standard_normal((T, B, H))

    def loss() -> float:
        hs, _, _ = stack.forward(x, states, rng=np.random.default_rng(5))  # the same masks every call
        return float(np.sum(up * hs))

    _, _, cache = stack.forward(x, states, rng=np.random.default_rng(5))
    assert all((d.mask == 0).any() for d in cache.dropped), "weight drop should drop something"
    assert cache.masks[1].shape == (1, B, H)
    stack.zero_grad()
    dx, dstates0 = stack.backward(up, cache)
    errors = {name: relative_error(stack.grads[name], numerical_grad(loss, p)) for name, p in stack.params.items()}
    errors["x"] = relative_error(dx, numerical_grad(loss, x))
    h0 = [s[0] for s in states] if cell == "lstm" else states
    dh0 = [s[0] for s in dstates0] if cell == "lstm" else dstates0
    for l in range(2):
        errors[f"h0.{l}"] = relative_error(dh0[l], numerical_grad(loss, h0[l]))
    assert max(errors.values()) < TOL, errors
    for layer in stack.layers:  # the layers hold their own W_hh again after the calls
        assert layer.params["W_hh"] is stack.params[f"{stack.layers.index(layer)}.W_hh"]


def _model(cell: str, **features) -> TokenModel:
    config = ModelConfig(cell, hidden_size=5, num_layers=2, embedding_size=4, **features)
    model = TokenModel(config, vocab_size=7, seed=3, dtype=np.float64)
    _randomize_biases(model.params, np.random.default_rng(4))
    return model


def _batch(rng):
    ids = rng.integers(0, 7, size=(5, 3))  # (T, B)
    targets = rng.integers(0, 7, size=(5, 3))
    mask = np.ones((5, 3), dtype=bool)
    mask[3:, 0] = False
    return ids, targets, mask


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("input_dropout", [0.0, 0.3])  # the fused input table, or the embedding vectors masked
def test_token_model_with_every_regulariser_gradients_match_central_differences(cell, input_dropout):
    """Embedding, input, locked and weight dropout together: every parameter's gradient is exact."""
    model = _model(cell, **{**EVERYTHING, "input_dropout": input_dropout})
    ids, targets, mask = _batch(np.random.default_rng(6))

    def loss() -> float:
        logits, _, _ = model.forward(ids, None, np.random.default_rng(7))
        return nn.cross_entropy(logits, targets, mask)[0]

    logits, _, cache = model.forward(ids, None, np.random.default_rng(7))
    assert (cache.row_mask == 0).any() and (cache.mask == 0).any()
    assert (cache.input_mask is not None) == (input_dropout > 0)
    model.zero_grad()
    model.backward(nn.cross_entropy(logits, targets, mask)[1], cache)
    errors = {name: relative_error(model.grads[name], numerical_grad(loss, p)) for name, p in model.params.items()}
    assert max(errors.values()) < TOL, errors


def _torch_token_model(model: TokenModel, cache, ids, targets, mask):
    """The same forward in torch, float64, with rnnkit's masks: loss and the gradient of every parameter."""
    c = model.config
    P = {k: t64(v, grad=True) for k, v in model.params.items()}
    E = P["embed.W"] * torch.from_numpy(cache.row_mask)  # whole rows dropped
    h = torch.nn.functional.embedding(torch.from_numpy(ids), E)  # (T, B, E)
    if cache.input_mask is not None:
        h = h * torch.from_numpy(cache.input_mask)
    for l in range(c.num_layers):
        if l > 0:
            h = h * torch.from_numpy(cache.rnn.masks[l])
        layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[c.cell](h.shape[2], c.hidden_size).double()
        W_hh = P[f"rnn.{l}.W_hh"] * torch.from_numpy(cache.rnn.dropped[l].mask)  # weight drop
        weights = {"weight_ih_l0": P[f"rnn.{l}.W_ih"], "weight_hh_l0": W_hh}
        if c.cell == "gru":
            weights.update(bias_ih_l0=P[f"rnn.{l}.b_ih"], bias_hh_l0=P[f"rnn.{l}.b_hh"])
        else:
            weights.update(bias_ih_l0=P[f"rnn.{l}.b"], bias_hh_l0=torch.zeros_like(P[f"rnn.{l}.b"]))
        h, _ = torch.func.functional_call(layer, weights, (h,))
    h = h * torch.from_numpy(cache.mask)
    logits = h @ P["head.W"].T + P["head.b"]
    t = torch.from_numpy(np.where(mask, targets, -100))
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[2]), t.reshape(-1), ignore_index=-100)
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in P.items()}


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("input_dropout", [0.0, 0.3])
def test_token_model_with_every_regulariser_matches_torch(cell, input_dropout):
    """torch's embedding, LSTM/GRU (W_hh ⊙ mask via functional_call), Linear and cross-entropy agree in float64."""
    model = _model(cell, **{**EVERYTHING, "input_dropout": input_dropout})
    ids, targets, mask = _batch(np.random.default_rng(9))
    logits, _, cache = model.forward(ids, None, np.random.default_rng(10))
    loss, dlogits = nn.cross_entropy(logits, targets, mask)
    model.zero_grad()
    model.backward(dlogits, cache)
    torch_loss, torch_grads = _torch_token_model(model, cache, ids, targets, mask)
    assert_matches_torch(loss, torch_loss, rtol=1e-10, atol=1e-12)
    for k, g in torch_grads.items():
        assert_matches_torch(model.grads[k], g, rtol=1e-8, atol=1e-11)


def test_masks_have_the_shapes_that_make_them_locked_and_whole_rows():
    """Locked masks broadcast over time, embedding masks over a row, weight drop over the whole sequence."""
    model = _model("lstm", **EVERYTHING)
    ids, _, _ = _batch(np.random.default_rng(1))
    _, _, cache = model.forward(ids, None, np.random.default_rng(2))
    assert cache.mask.shape == (1, 3, 5) and cache.input_mask.shape == (1, 3, 4)
    assert cache.row_mask.shape == (7, 1) and set(np.unique(cache.row_mask)) <= {0.0, 1 / 0.7}
    assert cache.E[cache.row_mask[:, 0] == 0].sum() == 0  # a dropped character's vector is zero everywhere
    assert all(d.mask.shape == (20, 5) for d in cache.rnn.dropped)
    assert set(np.unique(cache.rnn.dropped[0].mask)) == {0.0, 1 / 0.6}


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
@pytest.mark.parametrize("shape", [(40, 50, 51), (7,)])  # sizes that are and are not whole 64-bit words
def test_a_dropout_mask_drops_p_of_the_units_and_scales_the_rest(p, shape):
    """Each unit is dropped with probability p (within 5 standard errors), kept at 1/(1-p), reproducibly."""
    mask = nn.dropout_mask(shape, p, np.random.default_rng(0), np.float64)
    assert mask.shape == shape and set(np.unique(mask)) <= {0.0, 1 / (1 - p)}
    np.testing.assert_array_equal(mask, nn.dropout_mask(shape, p, np.random.default_rng(0), np.float64))
    if mask.size > 1000:
        dropped = (mask == 0).mean()
        assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / mask.size)
    masks = np.stack([nn.dropout_mask(shape, p, np.random.default_rng(s)).ravel()[:500] for s in range(400)])
    assert abs((masks == 0).mean(axis=0) - p).max() < 0.15  # each unit on its own: 6 standard errors


def test_evaluation_uses_the_full_weights():
    """In eval mode the regularised model computes exactly what the plain one does, with no rng at all."""
    regularised, plain = _model("lstm", **EVERYTHING), _model("lstm", dropout=0.3)
    ids, _, _ = _batch(np.random.default_rng(1))
    regularised.eval(), plain.eval()
    a, _, _ = regularised.forward(ids, None, None)
    b, _, _ = plain.forward(ids, None, None)
    np.testing.assert_array_equal(a, b)
    step, _ = regularised.step_logits(ids[0], None)
    np.testing.assert_allclose(step, a[0], rtol=1e-12)


@pytest.mark.parametrize("input_dropout", [0.0, 0.3])
def test_float32_training_with_every_regulariser_matches_torch(input_dropout):
    """The compiled float32 kernels run under the masks too: torch in float64 agrees to float32 rounding."""
    config = ModelConfig("lstm", 16, 2, 8, **{**EVERYTHING, "input_dropout": input_dropout})
    model = TokenModel(config, 9, seed=1, dtype=np.float32)
    rng = np.random.default_rng(0)
    ids, targets = rng.integers(0, 9, size=(6, 4)), rng.integers(0, 9, size=(6, 4))
    mask = np.ones((6, 4), dtype=bool)
    logits, _, cache = model.forward(ids, None, np.random.default_rng(3))
    loss, dlogits = nn.cross_entropy(logits, targets, mask)
    model.zero_grad()
    model.backward(dlogits, cache)
    torch_loss, torch_grads = _torch_token_model(model, cache, ids, targets, mask)
    np.testing.assert_allclose(loss, torch_loss, rtol=1e-5)
    for k, g in torch_grads.items():
        np.testing.assert_allclose(model.grads[k], g, rtol=1e-3, atol=1e-5, err_msg=k)


def test_ema_matches_torch_averaged_model():
    """optim.EMA is torch.optim.swa_utils.AveragedModel with TensorFlow's warm-up decay, update for update,
    through the warm-up (decays 0.1 ... 0.5) and past it, where the plain decay holds."""
    from torch.optim.swa_utils import AveragedModel

    decay = 0.5

    def avg_fn(average, p, num_averaged):  # num_averaged: the updates already in the average
        d = min(decay, (1 + int(num_averaged)) / (10 + int(num_averaged)))
        return d * average + (1 - d) * p

    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((3, 4)), "b": rng.standard_normal(3)}
    module = torch.nn.Linear(4, 3).double()
    averaged = AveragedModel(module, avg_fn=avg_fn)
    ema = optim.EMA(params, decay=decay)
    for _ in range(14):
        for p in params.values():
            p += rng.standard_normal(p.shape)
        with torch.no_grad():
            module.weight.copy_(t64(params["w"]))
            module.bias.copy_(t64(params["b"]))
        averaged.update_parameters(module)
        ema.update(params)
    assert_matches_torch(ema.average["w"], averaged.module.weight.detach().numpy(), rtol=1e-12, atol=1e-14)
    assert_matches_torch(ema.average["b"], averaged.module.bias.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_ema_keeps_its_own_arrays_and_restores_exactly():
    """The average is a copy (later changes to the weights reach it only through update), and its state dict
    restores the same average and count."""
    params = {"w": np.arange(4.0)}
    ema = optim.EMA(params, decay=0.5)
    ema.update(params)
    params["w"] += 2.0
    np.testing.assert_array_equal(ema.average["w"], [0.0, 1.0, 2.0, 3.0])
    ema.update(params)  # the warm-up's decay 2/11: 2/11 [0,1,2,3] + 9/11 [2,3,4,5]
    np.testing.assert_allclose(ema.average["w"], np.arange(4.0) + 2.0 * 9 / 11, rtol=1e-15)
    other = optim.EMA({"w": np.zeros(4)}, decay=0.5)
    other.load_state_dict(ema.state_dict())
    assert other.n == 2
    np.testing.assert_array_equal(other.average["w"], ema.average["w"])


FEATURES = ["--weight-drop", "0.3", "--locked-dropout", "--input-dropout", "0.2", "--embed-dropout", "0.1"]
EMA = ["--ema-decay", "0.9"]


def test_the_flags_reach_the_saved_config_and_the_model_is_the_average(tmp_path, names_file):
    """Every regulariser's flag is stored in config.json; model.safetensors holds the EMA weights, not the raw ones."""
    assert _train(tmp_path / "run", names_file, 10, *FEATURES, *EMA, "--eval-every", "10") == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"] | {"weight_drop": 0.3, "locked_dropout": True} == config["model"]
    assert config["model"]["input_dropout"] == 0.2 and config["model"]["embed_dropout"] == 0.1
    assert config["train"]["ema_decay"] == 0.9
    run = RunDir(tmp_path / "run")
    model, _ = run.load_model()
    arrays, _ = run.load_checkpoint()
    for k, v in model.items():
        np.testing.assert_array_equal(v, arrays[f"ema.average.{k}"], err_msg=k)
    assert any(not np.array_equal(v, arrays[f"model.{k}"]) for k, v in model.items())
    assert text_train.load(run.path).sample(3, seed=0)


def test_resume_with_every_regulariser_and_ema_is_exact(tmp_path, names_file, monkeypatch):
    """Ctrl-C at step 7 and --resume give the bit-identical weights, average and metrics of a straight run."""
    assert _train(tmp_path / "straight", names_file, 15, *FEATURES, *EMA) == 0
    interrupt_at(monkeypatch, text_train.NameTask, 7)  # Ctrl-C in step 7
    assert _train(tmp_path / "split", names_file, 15, *FEATURES, *EMA) == 130  # saved, exit 128 + SIGINT
    assert cli.main(["text", "train", "--resume", str(tmp_path / "split"), "--quiet"]) == 0
    a, _ = RunDir(tmp_path / "straight").load_checkpoint()
    b, _ = RunDir(tmp_path / "split").load_checkpoint()
    assert a.keys() == b.keys() and any(k.startswith("ema.") for k in a)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    val = lambda run: {r["step"]: r["val_loss"] for r in RunDir(tmp_path / run).read_metrics()}  # noqa: E731
    assert val("straight").items() <= val("split").items()  # the split run adds step 7


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--weight-drop", "1"), ("--input-dropout", "-0.1"), ("--embed-dropout", "2"), ("--ema-decay", "1")],
)
def test_out_of_range_regularisers_are_refused(tmp_path, names_file, capsys, flag, value):
    """A rate outside [0, 1) ends with one line naming the flag and exit code 2."""
    assert _train(tmp_path / "run", names_file, 5, flag, value) == 2
    err = capsys.readouterr().err
    assert flag in err and "Traceback" not in err


def test_the_best_preset_fills_the_flags_that_were_not_given(tmp_path, names_file):
    """--preset best stores its settings; a flag given explicitly (even --no-locked-dropout) wins over it."""
    from rnnkit.text.config import PRESETS

    assert _train(tmp_path / "preset", names_file, 2, "--preset", "best") == 0
    config = json.loads((tmp_path / "preset" / "config.json").read_text())
    best = PRESETS["best"]
    model = {k: v for k, v in best["model"].items() if k != "dropout"}  # _train gives --dropout 0.2 explicitly
    assert config["model"] | model == config["model"] and config["train"] | best["train"] == config["train"]
    assert config["model"]["dropout"] == 0.2 and config["model"]["hidden_size"] == 16  # explicit flags win
    assert config["model"]["weight_drop"] > 0
    assert (
        _train(tmp_path / "mine", names_file, 2, "--preset", "best", "--weight-drop", "0.05", "--no-locked-dropout")
        == 0
    )
    mine = json.loads((tmp_path / "mine" / "config.json").read_text())
    assert mine["model"]["weight_drop"] == 0.05 and mine["model"]["locked_dropout"] is False
    assert mine["train"]["ema_decay"] == best["train"]["ema_decay"] > 0  # the preset's, not given


def test_preset_with_resume_is_refused(tmp_path, names_file, capsys):
    """A resumed run keeps its saved settings, so --preset with --resume is an error, not silently ignored."""
    assert _train(tmp_path / "run", names_file, 2) == 0
    assert cli.main(["text", "train", "--resume", str(tmp_path / "run"), "--preset", "best", "--quiet"]) == 2
    assert "--preset" in capsys.readouterr().err


def test_step_time_fits_a_budget_from_the_cpu_time_per_step(names_file, capsys):
    """benchmarks/step_time.py times a config's steps (regularisers and EMA included) and fits budgets by the rule
    the Trainer uses for --max-time."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import step_time

    flags = ["--hidden-size", "16", "--embedding-size", "8", "--batch-size", "8", *FEATURES, *EMA]
    argv = ["--data", str(names_file), "--steps", "3", "--warmup", "1", "--budgets", "60", "1800", "--", *flags]
    assert step_time.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["cpu_s_per_step"] > 0 and result["extra_flags"] == flags
    assert result["fitted_steps"]["1800"] == pytest.approx(0.9 * 1800 / result["cpu_s_per_step"], rel=1e-3)


def test_step_time_times_what_a_preset_sets(names_file, capsys):
    """`-- --preset best` times the preset's regularisers and average, as `rnnkit text train --preset best` runs."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import step_time

    from rnnkit.text.config import PRESETS

    flags = ["--hidden-size", "16", "--embedding-size", "8", "--batch-size", "8", "--preset", "best"]
    assert step_time.main(["--data", str(names_file), "--steps", "2", "--warmup", "1", "--", *flags]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["model"]["weight_drop"] == PRESETS["best"]["model"]["weight_drop"] > 0
    assert result["ema_decay"] == PRESETS["best"]["train"]["ema_decay"] > 0
    assert result["model"]["hidden_size"] == 16  # the flags given still win over the defaults


def test_names_quality_trains_by_steps_alone_with_max_time_0(tmp_path, names_file, capsys):
    """benchmarks/names_quality.py --max-time 0 passes no budget on: the run stops at --max-steps, and reports."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import names_quality

    tiny = [
        "--hidden-size",
        "8",
        "--embedding-size",
        "4",
        "--batch-size",
        "8",
        "--eval-every",
        "3",
        "--num-samples",
        "0",
    ]
    argv = ["--train", str(names_file), "--test", str(names_file), "--max-time", "0", "--out", str(tmp_path / "r")]
    assert names_quality.main([*argv, "--", "--max-steps", "3", *tiny]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["steps"] == 3 and result["test_nll"] > 0
    assert json.loads((tmp_path / "r" / "config.json").read_text())["train"]["max_time"] is None


def test_the_torch_engine_refuses_the_numpy_regularisers(tmp_path, names_file, capsys):
    """--engine torch with --weight-drop (which its layers lack) ends with one line, never trains without it."""
    assert _train(tmp_path / "run", names_file, 2, "--engine", "torch", "--weight-drop", "0.3") == 2
    err = capsys.readouterr().err
    assert "--weight-drop" in err and "torch" in err and "Traceback" not in err
    assert not (tmp_path / "run" / "checkpoint.safetensors").exists()
