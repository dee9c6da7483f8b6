"""Training and sampling speed of rnnkit's NumPy engine against torch.nn on the same CPU, in one process.

Every row trains the same character model in both engines: Embedding -> LSTM/GRU/RNN -> dropout -> Linear ->
softmax cross-entropy, then clips the global gradient norm and takes an Adam step (what `rnnkit text train`
does each step). Both run float32 with the same thread count (threadpoolctl for NumPy's BLAS,
torch.set_num_threads for torch), from the same initial weights, on the same batches. The engines alternate over
several rounds and the table shows medians, so load from elsewhere on the machine hits both alike. The process
keeps the memory it frees for reuse (`rnnkit.memory.reuse_freed_memory`), as the rnnkit command line does.

    python benchmarks/engine.py                # the full table (a few minutes)
    python benchmarks/engine.py --json         # the same, for machines
    python benchmarks/engine.py --rows lstm-256 --threads 1 --rounds 3

chars/s counts target characters per second of a full training step. GFLOP/s counts the model's nominal
matrix-multiply work (forward plus the two backward products of every weight), divided by rnnkit's step time,
and is shown as a share of the float32 GEMM rate NumPy reaches on a 2048^3 product in the same run.

The sampling table races rnnkit's name sampler against the same model in torch.nn, sampled with torch's cells:
10,000 names drawn in batches, and one long sequence at batch 1. The layer table races a bare nn.LSTM forward
and backward against torch.nn.LSTM on one thread, beside the full steps.

The script runs NumPy's OpenBLAS as users get it: when OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE is set (these
machines set OPENBLAS_CORETYPE=Haswell, which picks slower kernels than the CPU's own), it runs itself again
without them, and the table names the kernel threadpoolctl reports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from rnnkit import optim
from rnnkit.config import TrainConfig
from rnnkit.lm.config import ModelConfig
from rnnkit.lm.model import TokenModel
from rnnkit.memory import reuse_freed_memory
from rnnkit.nn import cross_entropy
from rnnkit.text.data import Batcher, load_surnames
from rnnkit.text.vocab import Vocabulary


@dataclass(frozen=True)
class Row:
    name: str
    cell: str
    hidden_size: int
    num_layers: int
    batch_size: int
    seq_len: int | None  # None: real surnames batches (length-sorted chunks, as `rnnkit text train`)
    embedding_size: int
    dropout: float

    def model_config(self) -> ModelConfig:
        return ModelConfig(self.cell, self.hidden_size, self.num_layers, self.embedding_size, self.dropout)


def rows() -> list[Row]:
    """The name generator's default config, torch-rnn's benchmark grid (B=50, T=50), GRU and RNN at H=256."""
    m, t = ModelConfig(), TrainConfig()
    grid = dict(batch_size=50, seq_len=50, embedding_size=m.embedding_size, dropout=0.0)
    return [
        Row("names", m.cell, m.hidden_size, m.num_layers, t.batch_size, None, m.embedding_size, m.dropout),
        Row("lstm-128", "lstm", 128, 1, **grid),
        Row("lstm-256", "lstm", 256, 1, **grid),
        Row("lstm-512", "lstm", 512, 1, **grid),
        Row("lstm-128x2", "lstm", 128, 2, **grid),
        Row("gru-256", "gru", 256, 1, **grid),
        Row("rnn-256", "rnn", 256, 1, **grid),
    ]


# -- data ------------------------------------------------------------------------------------------------------
def name_vocab() -> tuple[Vocabulary, list[str]]:
    items = load_surnames()
    return Vocabulary.from_items(items), items


def batches(row: Row, vocab_size: int, count: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(inputs, targets, mask), each (T, B): surnames batches, or uniform random tokens for the fixed-T rows."""
    if row.seq_len is None:
        vocab, items = name_vocab()
        batcher = Batcher([vocab.encode(s) for s in items], row.batch_size, seed=seed, sort_chunk=8)
        return [batcher.next_batch() for _ in range(count)]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        ids = rng.integers(0, vocab_size, size=(row.seq_len + 1, row.batch_size))  # (T+1, B)
        out.append((ids[:-1], ids[1:], np.ones((row.seq_len, row.batch_size), dtype=bool)))
    return out


def flops_per_char(row: Row, vocab_size: int) -> float:
    """Nominal multiply-add work per target character: 3 products (forward, dx, dW) of 2 flops per weight."""
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[row.cell] * row.hidden_size
    weights = sum((row.embedding_size if l == 0 else row.hidden_size) + row.hidden_size for l in range(row.num_layers))
    return 6.0 * (weights * gates + row.hidden_size * vocab_size)


# -- the two engines -------------------------------------------------------------------------------------------
class RnnkitTrainer:
    """One training step as NameTask.train_step and the Trainer do it."""

    def __init__(self, row: Row, vocab_size: int, seed: int = 0):
        self.model = TokenModel(row.model_config(), vocab_size, seed=seed)
        self.opt = optim.Adam(self.model.params, lr=1e-3)
        self.rng = np.random.default_rng(seed)

    def step(self, batch) -> float:
        inputs, targets, mask = batch
        model = self.model
        model.train()
        model.zero_grad()
        logits, _, cache = model.forward(inputs, None, self.rng)  # (T, B, V)
        loss, dlogits = cross_entropy(logits, targets, mask)
        model.backward(dlogits, cache)
        optim.clip_grad_norm(model.grads, 1.0)
        self.opt.step(model.grads)
        return loss


def torch_twin(model: TokenModel):
    """torch.nn modules (embedding, recurrent stack, output layer) holding `model`'s weights (float32)."""
    import torch

    c, p, V = model.config, model.params, model.vocab_size
    cells = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
    embed = torch.nn.Embedding(V, c.embedding_size)
    dropout = c.dropout if c.num_layers > 1 else 0.0
    rnn = cells[c.cell](c.embedding_size, c.hidden_size, num_layers=c.num_layers, dropout=dropout)
    head = torch.nn.Linear(c.hidden_size, V)
    with torch.no_grad():
        embed.weight.copy_(torch.from_numpy(p["embed.W"]))
        head.weight.copy_(torch.from_numpy(p["head.W"]))
        head.bias.copy_(torch.from_numpy(p["head.b"]))
        for l in range(c.num_layers):
            getattr(rnn, f"weight_ih_l{l}").copy_(torch.from_numpy(p[f"rnn.{l}.W_ih"]))
            getattr(rnn, f"weight_hh_l{l}").copy_(torch.from_numpy(p[f"rnn.{l}.W_hh"]))
            if c.cell == "gru":
                getattr(rnn, f"bias_ih_l{l}").copy_(torch.from_numpy(p[f"rnn.{l}.b_ih"]))
                getattr(rnn, f"bias_hh_l{l}").copy_(torch.from_numpy(p[f"rnn.{l}.b_hh"]))
            else:  # rnnkit keeps one bias, torch two
                getattr(rnn, f"bias_ih_l{l}").copy_(torch.from_numpy(p[f"rnn.{l}.b"]))
                getattr(rnn, f"bias_hh_l{l}").zero_()
    return embed, rnn, head


def torch_cells(rnn) -> list:
    """One torch.nn LSTMCell / GRUCell / RNNCell per layer of `rnn` (nn.LSTM / GRU / RNN), with its weights.

    torch's API for one step at a time: calling nn.LSTM on a sequence of length 1 goes through oneDNN, which took
    about 450-750 us a step at H=512 here (2 and 1 threads), against 150-200 for LSTMCell.
    """
    import torch

    kind = {torch.nn.LSTM: torch.nn.LSTMCell, torch.nn.GRU: torch.nn.GRUCell, torch.nn.RNN: torch.nn.RNNCell}
    cells = []
    for l in range(rnn.num_layers):
        cell = kind[type(rnn)](rnn.input_size if l == 0 else rnn.hidden_size, rnn.hidden_size)
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, name).copy_(getattr(rnn, f"{name}_l{l}"))
        cells.append(cell)
    return cells


def torch_step(cells: list, x, states: list):
    """One step of `torch_cells` on inputs x (A, E), updating states (one per layer) in place: the top h (A, H)."""
    h = x
    for l, cell in enumerate(cells):
        states[l] = cell(h, states[l])  # LSTMCell: (h, c); GRUCell, RNNCell: h
        h = states[l][0] if isinstance(states[l], tuple) else states[l]
    return h


class TorchTrainer:
    """The same model in torch.nn, from rnnkit's initial weights, with torch's own Adam and clip_grad_norm_."""

    def __init__(self, row: Row, vocab_size: int, seed: int = 0):
        import torch

        self.torch = torch
        torch.manual_seed(seed)  # dropout's masks
        self.embed, self.rnn, self.head = torch_twin(TokenModel(row.model_config(), vocab_size, seed=seed))
        self.drop = torch.nn.Dropout(row.dropout)
        self.params = [q for m in (self.embed, self.rnn, self.head) for q in m.parameters()]
        self.opt = torch.optim.Adam(self.params, lr=1e-3)

    def step(self, batch) -> float:
        torch = self.torch
        inputs, targets, mask = batch
        ids = torch.from_numpy(inputs)
        tgt = torch.from_numpy(np.where(mask, targets, -1)).reshape(-1)
        for m in (self.rnn, self.drop):
            m.train()
        self.opt.zero_grad()
        hs, _ = self.rnn(self.embed(ids))  # (T, B, H)
        logits = self.head(self.drop(hs))  # (T, B, V)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt, ignore_index=-1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        return loss.item()


# -- timing ----------------------------------------------------------------------------------------------------
def sgemm_rate(threads: int, n: int = 2048, repeats: int = 7) -> float:
    """NumPy's float32 GEMM rate in GFLOP/s on an n^3 product (the median of `repeats`)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, n, n), dtype=np.float32)
    out = np.empty((n, n), dtype=np.float32)
    times = []
    with threadpool_limits(threads):
        for _ in range(repeats):
            t0 = time.perf_counter()
            np.matmul(a, b, out=out)
            times.append(time.perf_counter() - t0)
    return 2.0 * n**3 / statistics.median(times) / 1e9


def _timed_block(step, data, seconds: float) -> tuple[float, float, int]:
    """Run steps over `data` (cycling) for about `seconds` after one untimed step.

    Returns the timed steps' targets and seconds, and how many steps ran in all (the untimed one included).
    """
    step(data[0])
    chars, start, k = 0, time.perf_counter(), 1
    while True:
        batch = data[k % len(data)]
        step(batch)
        chars += int(batch[2].sum())
        k += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return chars, elapsed, k


def train_row(row: Row, threads: int, rounds: int, seconds: float, vocab_size: int) -> dict:
    """rnnkit and torch chars/s for one row, alternating the engines `rounds` times; medians."""
    import torch

    data = batches(row, vocab_size, count=64)
    ours, theirs = RnnkitTrainer(row, vocab_size), TorchTrainer(row, vocab_size)
    torch.set_num_threads(threads)
    rates = {"rnnkit": [], "torch": []}
    sgemm = []  # measured between the engines' blocks too, so the share compares like with like
    with threadpool_limits(threads):
        for r in range(rounds):
            order = [("rnnkit", ours.step), ("torch", theirs.step)]
            for name, step in order if r % 2 == 0 else order[::-1]:
                chars, elapsed, _ = _timed_block(step, data, seconds)
                rates[name].append(chars / elapsed)
            sgemm.append(sgemm_rate(threads, repeats=3))
    ours_rate, torch_rate = statistics.median(rates["rnnkit"]), statistics.median(rates["torch"])
    return {
        "row": row.name,
        "threads": threads,
        "config": asdict(row),
        "rnnkit_chars_s": ours_rate,
        "torch_chars_s": torch_rate,
        "ratio": ours_rate / torch_rate,
        "rnnkit_gflops": ours_rate * flops_per_char(row, vocab_size) / 1e9,
        "sgemm_gflops": statistics.median(sgemm),
    }


# -- sampling --------------------------------------------------------------------------------------------------
def sampling(threads: int, names: int = 10_000, chars: int = 2_000, repeats: int = 7) -> dict:
    """Names/s for `names` names drawn in batches, chars/s for a sequence of `chars` at batch 1 (rnnkit's sampler
    and the same model in torch.nn, alternating): medians of `repeats` runs each.

    The model is the shipped surnames model when there is one (what `rnnkit text sample` uses), else an untrained
    one of the default config, whose names run longer.
    """
    import torch

    from rnnkit.lm.sample import next_ids
    from rnnkit.text.generate import NameGenerator
    from rnnkit.text.train import load, pretrained_path

    if (pretrained_path() / "config.json").exists():
        gen, source = load(), "shipped surnames model"
    else:
        vocab, _ = name_vocab()
        gen, source = NameGenerator(TokenModel(ModelConfig(), len(vocab), seed=0), vocab, True), "untrained"
    model, vocab = gen.model, gen.vocab
    embed, rnn, head = torch_twin(model)
    cells = torch_cells(rnn)

    def one_sequence(n: int, seed: int) -> float:
        """Seconds for n characters at batch 1: the sampler's step (model, then draw), never stopping."""
        rng, table = np.random.default_rng(seed), model.input_table()
        ids, states = np.array([vocab.bos]), None
        t0 = time.perf_counter()
        for _ in range(n):
            logits, states = model.step_logits(ids, states, table)  # (1, V)
            ids = next_ids(logits, 1.0, None, None, rng, greedy=False)  # (1,)
        return time.perf_counter() - t0

    def torch_sequence(n: int, seed: int) -> float:
        """The same in torch.nn: the embedding, a step of each layer's cell, the Linear, softmax, multinomial."""
        g = torch.Generator().manual_seed(seed)
        x, states = torch.tensor([vocab.bos]), [None] * len(cells)  # x (1,)
        t0 = time.perf_counter()
        with torch.inference_mode():
            for _ in range(n):
                h = torch_step(cells, embed(x), states)  # (1, H)
                x = torch.multinomial(torch.softmax(head(h), dim=-1), 1, generator=g)[0]  # (1,)
        return time.perf_counter() - t0

    def torch_names(n: int, seed: int) -> list[str]:
        """n names in one torch.nn batch, each row stepping until it draws the end (finished rows dropped)."""
        g, max_length = torch.Generator().manual_seed(seed), 50
        ids = torch.zeros((n, max_length), dtype=torch.long)  # each row's characters
        length = torch.zeros(n, dtype=torch.long)
        with torch.inference_mode():
            x, states, rows = torch.full((n,), vocab.bos), [None] * len(cells), torch.arange(n)  # (A,) each
            for t in range(max_length):
                logits = head(torch_step(cells, embed(x), states))  # (A, V)
                if t == 0:
                    logits[:, vocab.eos] = -torch.inf  # a name has at least one character, as in rnnkit
                x = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=g)[:, 0]  # (A,)
                going = x != vocab.eos
                rows, x = rows[going], x[going]
                ids[rows, t], length[rows] = x, t + 1
                if len(rows) == 0:
                    break
                states = [tuple(s[going] for s in st) if isinstance(st, tuple) else st[going] for st in states]
        return [vocab.decode(row[:k]) for row, k in zip(ids.numpy(), length.tolist(), strict=True)]

    names_s, chars_s, last = {"rnnkit": [], "torch": []}, {"rnnkit": [], "torch": []}, {}
    torch.set_num_threads(threads)
    with threadpool_limits(threads):
        samplers = [("rnnkit", lambda n, seed: gen.sample(n, seed=seed)), ("torch", torch_names)]
        for _, run in samplers:
            run(100, seed=0)  # warm up
        for r in range(repeats):
            for name, run in samplers if r % 2 == 0 else samplers[::-1]:
                t0 = time.perf_counter()
                last[name] = run(names, seed=1 + r)
                names_s[name].append(names / (time.perf_counter() - t0))
        order = [("rnnkit", one_sequence), ("torch", torch_sequence)]
        for _, run in order:
            run(100, seed=0)  # warm up
        for r in range(repeats):
            for name, run in order if r % 2 == 0 else order[::-1]:
                chars_s[name].append(chars / run(chars, seed=1 + r))
        product_us = [1e6 * recurrent_product(model, 1000) for _ in range(repeats)]
    drawn = last["rnnkit"]  # rnnkit's last draw of names, whose work the counts below describe
    c = model.config
    return {
        "threads": threads,
        "model": f"{source}: {c.cell} H={c.hidden_size} L={c.num_layers}",
        "names": names,
        "names_s": statistics.median(names_s["rnnkit"]),
        "torch_names_s": statistics.median(names_s["torch"]),
        "mean_name_len": float(np.mean([len(s) for s in drawn])),
        "chars": sum(len(s) + 1 for s in drawn),  # every character and the end of each name: one draw each
        "prefix_states": len({s[:k] for s in drawn for k in range(len(s) + 1)}),  # the network's steps
        "extended_prefixes": len({s[:k] for s in drawn for k in range(len(s))}),  # rows of h W_hh^T
        "batch1_chars_s": statistics.median(chars_s["rnnkit"]),
        "batch1_torch_chars_s": statistics.median(chars_s["torch"]),
        "batch1_product_us": statistics.median(product_us),
    }


def recurrent_product(model: TokenModel, n: int) -> float:
    """Seconds per h W_hh^T at batch 1 (every layer's), the matrix-vector products a batch-1 step cannot skip."""
    h = [np.zeros((1, layer.hidden_size), dtype=layer.dtype) for layer in model.rnn.layers]
    t0 = time.perf_counter()
    for _ in range(n):
        for layer, hl in zip(model.rnn.layers, h, strict=True):
            hl @ layer.params["W_hh"].T  # (1, G*H)
    return (time.perf_counter() - t0) / n


# -- peak memory (each engine alone in a fresh process) --------------------------------------------------------
def _status_mib(field: str) -> float:
    """A field of /proc/self/status (VmRSS, VmHWM) in MiB (Linux: ru_maxrss would count the parent's peak)."""
    with open("/proc/self/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith(field + ":"))
    return kib / 1024


def _peak_child(engine: str, row_name: str) -> None:
    row = {r.name: r for r in rows()}[row_name]
    vocab_size = len(name_vocab()[0])
    data = batches(row, vocab_size, count=4)
    trainer = (RnnkitTrainer if engine == "rnnkit" else TorchTrainer)(row, vocab_size)
    trainer.step(data[0])  # one-time work: numba compiles (or loads) rnnkit's kernels, torch sets itself up
    first_peak, before = _status_mib("VmHWM"), _status_mib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current resident size
    for batch in data[1:]:
        trainer.step(batch)
    peak = _status_mib("VmHWM")
    print(json.dumps({"engine": engine, "peak_mib": max(first_peak, peak), "training_mib": peak - before}))


def peak_memory(row: Row) -> dict:
    """Peak resident memory of a process that trains `row` for a few steps (imports, compiled kernels and all),
    and how much a training step adds above what the process holds after its first step."""
    out = {"row": row.name}
    for engine in ("rnnkit", "torch"):
        cmd = [sys.executable, __file__, "--peak-child", engine, row.name]
        res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
        out[engine] = {k: v for k, v in res.items() if k != "engine"}
    return out


# -- start-up ----------------------------------------------------------------------------------------------------
def help_startup_s(repeats: int = 5) -> float:
    """Seconds for `rnnkit --help` in a fresh process (the script installed beside this Python): the median."""
    script = Path(sys.executable).with_name("rnnkit")
    cmd = [str(script), "--help"] if script.exists() else [sys.executable, "-m", "rnnkit.cli", "--help"]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# -- bare layers -----------------------------------------------------------------------------------------------
LAYER_SIZES = (128, 256, 512)
LAYER_SHAPE = {"seq_len": 32, "batch_size": 64, "input_size": 64}  # T, B, D: the name model's first layer


def _median_call_s(fn, seconds: float) -> float:
    """Median seconds of fn() over about `seconds`, after one untimed call."""
    fn()
    times, start = [], time.perf_counter()
    while not times or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def layer_row(hidden_size: int, rounds: int, seconds: float, threads: int = 1) -> dict:
    """A bare LSTM layer, forward then backward, rnnkit's nn.LSTM against torch.nn.LSTM (float32, same weights
    and inputs), alternating `rounds` times: the median seconds per pass of each and their ratio."""
    import torch

    from rnnkit import nn

    T, B, D = LAYER_SHAPE["seq_len"], LAYER_SHAPE["batch_size"], LAYER_SHAPE["input_size"]
    rng = np.random.default_rng(0)
    ours = nn.LSTM(D, hidden_size, rng=rng, dtype=np.float32)
    x = rng.standard_normal((T, B, D), dtype=np.float32)  # (T, B, D)
    dhs = rng.standard_normal((T, B, hidden_size), dtype=np.float32)  # (T, B, H)
    theirs = torch.nn.LSTM(D, hidden_size)
    with torch.no_grad():  # torch's two biases sum to rnnkit's one
        theirs.weight_ih_l0.copy_(torch.from_numpy(ours.params["W_ih"]))
        theirs.weight_hh_l0.copy_(torch.from_numpy(ours.params["W_hh"]))
        theirs.bias_ih_l0.copy_(torch.from_numpy(ours.params["b"]))
        theirs.bias_hh_l0.zero_()
    tx, tdhs = torch.from_numpy(x).requires_grad_(), torch.from_numpy(dhs)

    def rnnkit_pass():
        hs, _, cache = ours.forward(x)
        ours.backward(dhs, cache)

    def torch_pass():
        hs, _ = theirs(tx)
        hs.backward(tdhs)

    torch.set_num_threads(threads)
    times = {"rnnkit": [], "torch": []}
    with threadpool_limits(threads):
        for r in range(rounds):
            order = [("rnnkit", rnnkit_pass), ("torch", torch_pass)]
            for name, fn in order if r % 2 == 0 else order[::-1]:
                times[name].append(_median_call_s(fn, seconds))
    ours_s, torch_s = statistics.median(times["rnnkit"]), statistics.median(times["torch"])
    return {
        "hidden_size": hidden_size,
        "threads": threads,
        **LAYER_SHAPE,
        "rnnkit_ms": 1e3 * ours_s,
        "torch_ms": 1e3 * torch_s,
        "ratio": torch_s / ours_s,
    }


def _layer_lines(layers: list[dict]) -> list[str]:
    r = layers[0]
    lines = [
        f"| bare LSTM layer, forward + backward, T={r['seq_len']} B={r['batch_size']} D={r['input_size']} | "
        "threads | rnnkit ms | torch.nn.LSTM ms | ratio |",
        "|---|---|---|---|---|",
    ]
    for r in layers:
        lines.append(
            f"| H={r['hidden_size']} | {r['threads']} | {r['rnnkit_ms']:.2f} | {r['torch_ms']:.2f} | {r['ratio']:.2f} |"
        )
    return ["", *lines]


# -- BLAS as users get it --------------------------------------------------------------------------------------
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def without_blas_overrides(argv: list[str]) -> None:
    """Run this script again without the OpenBLAS overrides in the environment (they are read when NumPy loads,
    so unsetting them in this process would be too late); returns only when none is set."""
    if any(name in os.environ for name in BLAS_OVERRIDES):
        env = {k: v for k, v in os.environ.items() if k not in BLAS_OVERRIDES}
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *argv], env)


def blas() -> dict:
    """The BLAS library NumPy uses and the kernel it picked, as threadpoolctl reports them."""
    from threadpoolctl import threadpool_info

    for info in threadpool_info():
        if info.get("user_api") == "blas":
            return {
                "library": info.get("internal_api"),
                "version": info.get("version"),
                "kernel": info.get("architecture"),
                "overrides": {name: os.environ.get(name) for name in BLAS_OVERRIDES if name in os.environ},
            }
    return {"library": None, "version": None, "kernel": None, "overrides": {}}


# -- report ----------------------------------------------------------------------------------------------------
def cpu_name() -> str:
    """The processor's model name (/proc/cpuinfo on Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()


def machine() -> dict:
    import torch

    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "blas": blas(),
    }


def _row_line(r: dict) -> str:
    c = r["config"]
    shape = f"{c['cell']} H={c['hidden_size']} L={c['num_layers']} B={c['batch_size']} "
    shape += f"T={c['seq_len'] or 'names'}" + (f" p={c['dropout']}" if c["dropout"] else "")
    return (
        f"| {r['row']}: {shape} | {r['threads']} | {r['rnnkit_chars_s']:,.0f} | {r['torch_chars_s']:,.0f} | "
        f"{r['ratio']:.2f} | {r['rnnkit_gflops']:.1f} | {r['rnnkit_gflops'] / r['sgemm_gflops']:.0%} "
        f"of {r['sgemm_gflops']:.0f} |"
    )


def _sampling_lines(sampling: list[dict]) -> list[str]:
    """The sampling table, rnnkit beside torch.nn, and a note on the work rnnkit's sampler did.

    Older results lack torch's rates and some of the counts.
    """
    lines = [
        f"| sampling, {sampling[0]['model']} | threads | rnnkit | torch.nn | ratio |",
        "|---|---|---|---|---|",
    ]
    count = f"{sampling[0].get('names', 10_000):,} names"  # older results always drew 10,000
    for what, ours, theirs in (
        (f"{count}, names/s", "names_s", "torch_names_s"),
        ("one sequence at batch 1, chars/s", "batch1_chars_s", "batch1_torch_chars_s"),
    ):
        for x in sampling:
            torch_rate, ratio = (f"{x[theirs]:,.0f}", f"{x[ours] / x[theirs]:.1f}") if theirs in x else ("-", "-")
            lines.append(f"| {what} | {x['threads']} | {x[ours]:,.0f} | {torch_rate} | {ratio} |")
    s = sampling[-1]
    note = f"rnnkit's {count}: mean length {s['mean_name_len']:.1f}, {s['chars']:,} draws"
    if "prefix_states" in s:
        note += f", {s['prefix_states']:,} prefix states"
    if "extended_prefixes" in s:
        note += f", {s['extended_prefixes']:,} rows of the recurrent product"
    if "batch1_product_us" in s:
        times = ", ".join(
            f"{x['batch1_product_us']:.0f} us at {x['threads']} thread{'s' if x['threads'] > 1 else ''}"
            for x in sampling
        )
        note += f". At batch 1, h W_hh^T alone takes {times} a step"
    return ["", *lines, "", note + "."]


def _blas_line(m: dict) -> str:
    b = m.get("blas")
    if not b:
        return "BLAS: not recorded"
    overrides = ", ".join(f"{k}={v}" for k, v in b["overrides"].items()) or "no OPENBLAS_* overrides"
    return f"BLAS: {b['library']} {b['version']}, kernel {b['kernel']} ({overrides})"


def table(result: dict) -> str:
    lines = [
        f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores; numpy "
        f"{result['machine']['numpy']}, torch {result['machine']['torch']}",
        _blas_line(result["machine"]),
        "",
        "| config | threads | rnnkit chars/s | torch chars/s | ratio | rnnkit GFLOP/s | share of SGEMM GFLOP/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["training"]:
        lines.append(_row_line(r))
    if result.get("layers"):
        lines += _layer_lines(result["layers"])
    if result.get("sampling"):
        lines += _sampling_lines(result["sampling"])
    if "help_startup_s" in result:
        lines += ["", f"rnnkit --help: {result['help_startup_s']:.2f} s (a fresh process, median of 5)"]
    if "memory" in result:
        m = result["memory"]
        lines.append("")
        lines.append(
            f"peak memory, {m['row']}: rnnkit {m['rnnkit']['peak_mib']:.0f} MiB (a training step adds "
            f"{m['rnnkit']['training_mib']:.0f}), torch {m['torch']['peak_mib']:.0f} MiB (a training step adds "
            f"{m['torch']['training_mib']:.0f})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--rows", nargs="*", help="row names to run (default: all): " + ", ".join(r.name for r in rows())
    )
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2], help="thread counts")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per row")
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per engine per round")
    parser.add_argument("--no-training", action="store_true", help="skip the training rows (sampling, memory only)")
    parser.add_argument("--no-sampling", action="store_true", help="skip the sampling rows")
    parser.add_argument(
        "--layer-sizes",
        type=int,
        nargs="*",
        default=list(LAYER_SIZES),
        help="hidden sizes of the bare-layer rows, one thread (default: %(default)s; none to skip)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory row")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--table", metavar="JSON", help="print the table of a saved --json result and exit")
    parser.add_argument("--peak-child", nargs=2, metavar=("ENGINE", "ROW"), help=argparse.SUPPRESS)
    parser.add_argument("--blas", action="store_true", help="print the BLAS library and kernel as JSON and exit")
    args = parser.parse_args(argv)
    reuse_freed_memory()  # as the rnnkit command line runs: freed buffers are kept for the next step (both engines)
    if args.peak_child:
        _peak_child(*args.peak_child)
        return 0
    if args.blas:
        print(json.dumps(blas()))
        return 0
    if args.table:
        try:
            with open(args.table) as f:
                print(table(json.load(f)))
        except (OSError, ValueError, KeyError) as e:
            print(f"engine.py: error: cannot read the table from {args.table}: {e}", file=sys.stderr)
            return 2
        return 0
    unknown = set(args.rows or ()) - {r.name for r in rows()}
    if unknown:
        parser.error(f"unknown rows: {', '.join(sorted(unknown))}")
    selected = [r for r in rows() if not args.rows or r.name in args.rows]
    vocab_size = len(name_vocab()[0])
    result = {"machine": machine(), "help_startup_s": help_startup_s(), "training": []}
    for row in [] if args.no_training else selected:
        for n in args.threads:
            result["training"].append(train_row(row, n, args.rounds, args.seconds, vocab_size))
            print(_row_line(result["training"][-1]), file=sys.stderr, flush=True)
    result["layers"] = [layer_row(h, args.rounds, args.seconds) for h in args.layer_sizes]
    if not args.no_sampling:
        result["sampling"] = [sampling(n) for n in args.threads]
    if not args.no_memory:
        largest = max(selected, key=lambda r: flops_per_char(r, vocab_size) * r.batch_size * (r.seq_len or 10))
        result["memory"] = peak_memory(largest)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    without_blas_overrides(sys.argv[1:])
    raise SystemExit(main())
