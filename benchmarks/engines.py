"""Training speed of rnnkit's two engines behind the one Trainer interface, side by side in one run.

Each engine is built by `rnnkit.engines.base.make_engine` from the same NumPy model and steps the same batches
as `rnnkit text train` serves them: forward, loss, backward, clipping and an AdamW step (`forward_backward` then
`update`). The engines alternate over several rounds; the table shows medians, so load from elsewhere hits both.

    python benchmarks/engines.py                          # names default config, numpy and torch on the CPU
    python benchmarks/engines.py --rounds 3 --seconds 2 --threads 1
    python benchmarks/engines.py --json

On a machine with CUDA it adds rows for the torch engine on the GPU (fp32 and bf16), a bare torch.nn.LSTM
training loop of the same shapes beside it (so rnnkit's overhead on top of cuDNN is visible), and the peak GPU
memory of each. Under torchrun it measures data-parallel scaling instead: every rank steps --batch-size rows of
a global batch and rank 0 prints the global chars/s:

    torchrun --nproc-per-node N benchmarks/engines.py --scaling --device cuda

chars/s counts the target characters of the global batch per second of full training steps. Two configs on
the CPU: the names default (padded, masked batches of surnames) and a free-text stream (the same model, the
bundled surnames read as one stream of text, the carried batches `rnnkit text train --stream` serves: its
default 32 rows, T=100, the state carried from step to step).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
from engine import cpu_name  # benchmarks/engine.py, beside this script
from threadpoolctl import threadpool_info, threadpool_limits

from rnnkit.config import TrainConfig, learning_rate
from rnnkit.engines.base import make_engine
from rnnkit.engines.batch import Batch
from rnnkit.engines.config import EngineConfig
from rnnkit.engines.distributed import world_from_env
from rnnkit.lm.config import ModelConfig
from rnnkit.lm.model import TokenModel
from rnnkit.memory import reuse_freed_memory
from rnnkit.text.config import STREAM_DEFAULTS
from rnnkit.text.data import Batcher, load_surnames
from rnnkit.text.vocab import Vocabulary


def name_batches(batch_size: int, count: int, seed: int = 0) -> tuple[int, list[Batch]]:
    """The vocabulary size and `count` surnames batches, as NameTask serves them (length-sorted chunks of 8)."""
    items = load_surnames()
    vocab = Vocabulary.from_items(items)
    batcher = Batcher([vocab.encode(s) for s in items], batch_size, seed=seed, sort_chunk=8)
    return len(vocab), [Batch(*batcher.next_batch()) for _ in range(count)]


def stream_batches(batch_size: int, count: int, seq_length: int = 100) -> tuple[int, list[Batch]]:
    """The vocabulary size and `count` carried batches of a stream, as StreamTask serves them: the bundled
    surnames joined into one text (so the benchmark needs no data file), `batch_size` rows of `seq_length`."""
    from rnnkit.text.stream import StreamTask, TextGenerator

    text = " ".join(load_surnames()).lower()
    vocab = Vocabulary.from_items([text])
    model = TokenModel(ModelConfig(hidden_size=4, embedding_size=2), len(vocab))  # StreamTask's batches ignore it
    tokens = vocab.encode(text)
    task = StreamTask(
        model, TextGenerator(model, vocab), tokens, tokens[:0], TrainConfig(batch_size=batch_size), seq_length
    )
    return len(vocab), [task.next_batch() for _ in range(count)]


CONFIGS = {"names": name_batches, "stream": stream_batches}
BATCH_SIZES = {"names": TrainConfig().batch_size, "stream": STREAM_DEFAULTS["train"]["batch_size"]}  # the CLI's


def timed(step, data: list[Batch], seconds: float, sync=lambda: None) -> float:
    """chars/s of `step` cycling over `data` for about `seconds`, after two untimed warm-up steps."""
    for batch in data[:2]:
        step(batch)
    sync()
    chars, k, start = 0, 0, time.perf_counter()
    while True:
        batch = data[k % len(data)]
        step(batch)
        chars += batch.targets_counted
        k += 1
        if k % 4 == 0:
            sync()
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return chars / elapsed


class EngineStep:
    """One Trainer step on an engine: forward_backward, then update at the schedule's rate."""

    def __init__(self, engine_cfg: EngineConfig, model_cfg: ModelConfig, train: TrainConfig, vocab_size: int):
        self.engine = make_engine(engine_cfg, TokenModel(model_cfg, vocab_size, seed=0), train)
        self.train, self.step_count = train, 0

    def __call__(self, batch: Batch) -> None:
        self.engine.forward_backward(batch, self.step_count)
        self.engine.update(learning_rate(self.train, self.step_count, 5_000))
        self.step_count += 1


class BareLSTM:
    """A plain torch training loop of the same shapes: nn.Embedding, nn.LSTM, dropout, nn.Linear, AdamW."""

    def __init__(self, model_cfg: ModelConfig, vocab_size: int, device: str):
        import torch

        self.torch, self.device = torch, device
        c = model_cfg
        self.embed = torch.nn.Embedding(vocab_size, c.embedding_size).to(device)
        self.rnn = torch.nn.LSTM(c.embedding_size, c.hidden_size, num_layers=c.num_layers).to(device)
        self.drop = torch.nn.Dropout(c.dropout)
        self.head = torch.nn.Linear(c.hidden_size, vocab_size).to(device)
        self.params = [p for m in (self.embed, self.rnn, self.head) for p in m.parameters()]
        self.opt = torch.optim.AdamW(self.params, lr=1e-3, weight_decay=0.1)

    def __call__(self, batch: Batch) -> None:
        torch = self.torch
        ids = torch.from_numpy(batch.inputs).to(self.device)
        targets = torch.from_numpy(np.where(batch.mask, batch.targets, -1)).to(self.device).reshape(-1)
        hs, _ = self.rnn(self.embed(ids))  # (T, B, H)
        logits = self.head(self.drop(hs))  # (T, B, V)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets, ignore_index=-1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        loss.item()  # the Trainer reads every step's loss too


def cpu_rows(
    threads: int,
    rounds: int,
    seconds: float,
    model_cfg: ModelConfig | None = None,
    batches: int = 32,
    config: str = "names",
) -> list[dict]:
    """numpy and torch engines on the CPU, the default model on `config`'s batches, alternating `rounds` times."""
    import torch

    model_cfg, train = model_cfg or ModelConfig(), TrainConfig(batch_size=BATCH_SIZES[config])
    vocab_size, data = CONFIGS[config](train.batch_size, batches)
    steps = {
        "numpy": EngineStep(EngineConfig(), model_cfg, train, vocab_size),
        "torch": EngineStep(EngineConfig(engine="torch", device="cpu"), model_cfg, train, vocab_size),
    }
    torch.set_num_threads(threads)
    rates = {name: [] for name in steps}
    with threadpool_limits(threads):
        for r in range(rounds):
            for name in list(steps) if r % 2 == 0 else list(steps)[::-1]:
                rates[name].append(timed(steps[name], data, seconds))
    return [
        {
            "config": config,
            "engine": name,
            "device": "cpu",
            "precision": "fp32",
            "threads": threads,
            "chars_s": statistics.median(v),
        }
        for name, v in rates.items()
    ]


def cuda_rows(rounds: int, seconds: float) -> list[dict]:
    """The torch engine on the GPU (fp32, bf16) beside a bare nn.LSTM loop, with each one's peak memory."""
    import torch

    model_cfg, train = ModelConfig(), TrainConfig()
    vocab_size, data = name_batches(train.batch_size, 32)
    out = []
    candidates = {
        "torch fp32": lambda: EngineStep(EngineConfig("torch", "cuda", "fp32"), model_cfg, train, vocab_size),
        "torch bf16": lambda: EngineStep(EngineConfig("torch", "cuda", "bf16"), model_cfg, train, vocab_size),
        "bare nn.LSTM fp32": lambda: BareLSTM(model_cfg, vocab_size, "cuda"),
    }
    for name, build in candidates.items():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        step = build()
        rates = [timed(step, data, seconds, sync=torch.cuda.synchronize) for _ in range(rounds)]
        out.append(
            {
                "engine": name,
                "device": torch.cuda.get_device_name(),
                "chars_s": statistics.median(rates),
                "peak_mib": torch.cuda.max_memory_allocated() / 2**20,
            }
        )
        del step
    return out


def scaling(device: str, batch_size: int, rounds: int, seconds: float) -> dict | None:
    """Under torchrun: the global chars/s of the torch engine with --batch-size rows per rank (rank 0 reports)."""
    import torch

    world = world_from_env()
    model_cfg, train = ModelConfig(), TrainConfig(batch_size=batch_size)
    vocab_size, data = name_batches(batch_size * world.size, 32)  # global batches; each rank keeps its rows
    step = EngineStep(EngineConfig("torch", device), model_cfg, train, vocab_size)
    sync = torch.cuda.synchronize if step.engine.device.type == "cuda" else (lambda: None)
    rates = [timed(step, data, seconds, sync) for _ in range(rounds)]
    step.engine.close()
    if not world.master:
        return None
    return {
        "world_size": world.size,
        "rows_per_rank": batch_size,
        "device": str(step.engine.device),
        "global_chars_s": statistics.median(rates),
    }


def machine() -> dict:
    import torch

    blas = [f"{i.get('internal_api')} {i.get('architecture')}" for i in threadpool_info() if i["user_api"] == "blas"]
    return {
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "blas": blas,
        "numpy": np.__version__,
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def table(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"{m['date']}: {m['cpu']} ({m['cores']} cores, BLAS: {', '.join(m['blas']) or '?'}), numpy {m['numpy']}, "
        f"torch {m['torch']}",
        "",
        "the default model (lstm H=512, E=64, dropout 0.3, AdamW, norm clipping), training chars/s on names",
        f"(padded batches of {BATCH_SIZES['names']}) and on a stream ({BATCH_SIZES['stream']} rows, T=100, the state "
        "carried):",
        "",
        "| config | engine | device | threads | chars/s |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.get('config', 'names')} | {r['engine']} | cpu | {r['threads']} | {r['chars_s']:,.0f} |"
        for r in result["cpu"]
    ]
    if result.get("cuda"):
        lines += ["", "| on the GPU | device | chars/s | peak GPU memory |", "|---|---|---|---|"]
        lines += [
            f"| {r['engine']} | {r['device']} | {r['chars_s']:,.0f} | {r['peak_mib']:,.0f} MiB |"
            for r in result["cuda"]
        ]
    else:
        lines += ["", "no CUDA device here: the GPU rows (torch engine vs bare nn.LSTM, memory, scaling) wait for one"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2], help="CPU thread counts")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per row")
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per engine per round")
    parser.add_argument("--no-cpu", action="store_true", help="skip the CPU rows")
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS), help="CPU rows' data")
    parser.add_argument("--scaling", action="store_true", help="under torchrun: data-parallel global chars/s")
    parser.add_argument("--device", default="auto", help="--scaling: the torch engine's --device")
    parser.add_argument("--batch-size", type=int, default=64, help="--scaling: rows per rank")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args(argv)
    reuse_freed_memory()  # as the rnnkit command line runs
    if args.scaling:
        result = scaling(args.device, args.batch_size, args.rounds, args.seconds)
        if result is not None:
            print(
                json.dumps(result)
                if args.json
                else f"{result['world_size']} x {result['device']}, "
                f"{result['rows_per_rank']} rows per rank: {result['global_chars_s']:,.0f} chars/s"
            )
        return 0
    import torch

    result = {"machine": machine(), "cpu": []}
    for n in [] if args.no_cpu else args.threads:
        for config in args.configs:
            result["cpu"] += cpu_rows(n, args.rounds, args.seconds, config=config)
    if torch.cuda.is_available():
        result["cuda"] = cuda_rows(args.rounds, args.seconds)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
