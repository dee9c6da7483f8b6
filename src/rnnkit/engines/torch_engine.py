"""The torch engine: the same network in torch.nn (cuDNN's RNN kernels on a GPU), torch.optim, and DDP.

    ids (T, B) -> nn.Embedding -> nn.RNN | nn.LSTM | nn.GRU (dropout between layers) -> nn.Dropout -> nn.Linear

It starts from the NumPy model's weights, so both engines begin alike. rnnkit's RNN and LSTM keep one bias b
where torch keeps b_ih and b_hh: b goes to b_ih and b_hh is held at zero (frozen, never trained), so b_ih + b_hh
is always rnnkit's b. The GRU has both biases in either engine. Optimizer: torch.optim.AdamW (Adam when
--weight-decay is 0) or SGD, with the Trainer's schedule and Keras' decay lr / (1 + decay (t-1)) applied to the
group's rate each step, as rnnkit.optim.Adam does. Dropout draws from torch's generator reseeded from
(seed, rank, step) before every step, so a resumed run draws the masks an uninterrupted one would.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F

from rnnkit.config import TrainConfig
from rnnkit.engines import distributed
from rnnkit.engines.batch import Batch
from rnnkit.engines.config import EngineConfig
from rnnkit.engines.distributed import World
from rnnkit.engines.numpy_engine import arrays_state, state_arrays
from rnnkit.errors import RnnkitError

Arrays = dict[str, np.ndarray]
CELLS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
DTYPES = {"fp32": torch.float32, "bf16": torch.float32, "fp64": torch.float64}  # bf16: float32 weights, autocast


class TorchLM(torch.nn.Module):
    """The NumPy TokenModel's network in torch.nn, time-major: ids (T, B) -> logits (T, B, V).

    With context_size C > 0 the first layer reads [E[id_t]; c_t], so its input weight is [W_ih | W_c]: the two
    halves are trained as parameters of their own (w_ih0, w_context, rnnkit's "rnn.0.W_ih" and "context.W")
    and joined for the cell at every forward; the cell's own weight_ih_l0 is left frozen and unused.
    """

    def __init__(
        self,
        cell: str,
        vocab_size: int,
        embedding_size: int,
        hidden_size: int,
        num_layers: int,
        dropout,
        context_size: int = 0,
    ):
        super().__init__()
        self.cell, self.context_size = cell, context_size
        self.embed = torch.nn.Embedding(vocab_size, embedding_size)
        between = dropout if num_layers > 1 else 0.0
        self.rnn = CELLS[cell](embedding_size + context_size, hidden_size, num_layers=num_layers, dropout=between)
        if context_size:
            joined = self.rnn.weight_ih_l0
            self.w_ih0 = torch.nn.Parameter(joined.detach()[:, :embedding_size].clone())  # (G*H, E)
            self.w_context = torch.nn.Parameter(joined.detach()[:, embedding_size:].clone())  # (G*H, C)
            joined.requires_grad_(False)
        self.drop = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(hidden_size, vocab_size)
        if cell != "gru":  # rnnkit's one bias lives in b_ih; b_hh stays zero
            for l in range(num_layers):
                b_hh = getattr(self.rnn, f"bias_hh_l{l}")
                torch.nn.init.zeros_(b_hh)
                b_hh.requires_grad_(False)

    def forward(self, ids: torch.Tensor, state=None, context: torch.Tensor | None = None):
        x = self.embed(ids)  # (T, B, E)
        if not self.context_size:
            hs, state = self.rnn(x, state)  # (T, B, H)
        else:
            x = torch.cat([x, context.to(x.dtype)], dim=2)  # (T, B, E + C)
            joined = {"weight_ih_l0": torch.cat([self.w_ih0, self.w_context], dim=1)}  # (G*H, E + C)
            hs, state = torch.func.functional_call(self.rnn, joined, (x, state), strict=False)  # (T, B, H)
        return self.head(self.drop(hs)), state  # (T, B, V)


def parameter_names(cell: str, num_layers: int, context: bool = False) -> dict[str, str]:
    """rnnkit's weight names -> TorchLM's parameter names (only the trained ones: not the frozen b_hh)."""
    names = {"embed.W": "embed.weight", "head.W": "head.weight", "head.b": "head.bias"}
    for l in range(num_layers):
        names[f"rnn.{l}.W_ih"] = f"rnn.weight_ih_l{l}"
        names[f"rnn.{l}.W_hh"] = f"rnn.weight_hh_l{l}"
        if cell == "gru":
            names[f"rnn.{l}.b_ih"] = f"rnn.bias_ih_l{l}"
            names[f"rnn.{l}.b_hh"] = f"rnn.bias_hh_l{l}"
        else:
            names[f"rnn.{l}.b"] = f"rnn.bias_ih_l{l}"
    if context:
        names["rnn.0.W_ih"], names["context.W"] = "w_ih0", "w_context"
    return names


def resolve_device(config: EngineConfig, world: World) -> torch.device:
    """auto: the rank's GPU when CUDA is visible, else the CPU. Under torchrun, cuda means cuda:LOCAL_RANK."""
    name = config.device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RnnkitError(f"--device {config.device}: no CUDA device is visible to torch")
        if name == "cuda":
            name = f"cuda:{world.local_rank}"
        elif world.size > 1:
            raise RnnkitError(f"--device {name} names one GPU; under torchrun use --device cuda (cuda:LOCAL_RANK)")
        index = int(name.split(":")[1])
        if index >= torch.cuda.device_count():
            raise RnnkitError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) are visible")
    if config.precision == "bf16" and not name.startswith("cuda"):
        raise RnnkitError("--precision bf16 runs on CUDA only (autocast); on the CPU use --precision fp32")
    return torch.device(name)


def _follow_blas_threads() -> None:
    """torch's CPU threads no more than NumPy's BLAS has (which --threads limits through threadpoolctl)."""
    from threadpoolctl import threadpool_info

    blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    if blas and min(blas) < torch.get_num_threads():
        torch.set_num_threads(min(blas))


class TorchEngine:
    """A TorchLM (in DistributedDataParallel under torchrun), its optimizer, and the NumPy model to sync to."""

    def __init__(self, model, config: TrainConfig, engine: EngineConfig, world: World):
        self.model, self.config, self.engine_config, self.world = model, config, engine, world
        self.device = resolve_device(engine, world)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        else:
            _follow_blas_threads()
        self.dtype = DTYPES[engine.precision]
        self.autocast = engine.precision == "bf16"
        c = model.config
        torch.manual_seed(config.seed)  # torch's own init is overwritten by the NumPy model's weights below
        C = getattr(model, "context_size", 0)
        self.net = TorchLM(c.cell, model.vocab_size, c.embedding_size, c.hidden_size, c.num_layers, c.dropout, C)
        self.net.to(device=self.device, dtype=self.dtype)
        self.names = parameter_names(c.cell, c.num_layers, context=C > 0)
        own = dict(self.net.named_parameters())
        self.params = {k: own[v] for k, v in self.names.items()}  # rnnkit name -> trained torch parameter
        self.import_params(model.params)
        self.dist = None
        self.ddp = self.net
        if world.size > 1:
            self.dist = distributed.start(world, self.device.type)
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp = DistributedDataParallel(self.net, device_ids=ids)
        trained = list(self.params.values())
        if config.optimizer == "sgd":
            self.opt = torch.optim.SGD(trained, lr=config.lr)
        else:
            betas = (config.beta_1, config.beta_2)
            self.opt = torch.optim.AdamW(trained, lr=config.lr, betas=betas, eps=1e-8, weight_decay=config.weight_decay)
        self.t = 0  # optimizer steps taken
        self.carry = None  # a stream's carried state, on the device: h, or (h, c), each (L, B, H)

    # -- a training step -------------------------------------------------------------------------------------
    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).to(self.device, non_blocking=True)

    def _loss_sum(self, batch: Batch, state, module):
        """The loss summed over the targets that count, and the final state."""
        ids, targets = self._tensor(batch.inputs), self._tensor(batch.targets)  # (T, B) each
        context = None if batch.context is None else self._tensor(batch.context).to(self.dtype)  # (T, B, C)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            logits, final = module(ids, state, context)  # (T, B, V)
        logits = logits.reshape(-1, logits.shape[-1]).to(self.dtype)  # (T*B, V); bf16 autocast: back to float32
        nll = F.cross_entropy(logits, targets.reshape(-1), reduction="none")  # (T*B,)
        if batch.mask is not None:
            nll = nll * self._tensor(batch.mask).reshape(-1)
        return nll.sum(), final

    def forward_backward(self, batch: Batch, step: int) -> tuple[float, int]:
        seed = np.random.SeedSequence([self.config.seed, self.world.rank, step]).generate_state(1)[0]
        torch.manual_seed(int(seed))  # this step's dropout masks
        self.ddp.train()
        local = distributed.shard(batch, self.world)
        total = local.global_targets
        state = self.carry if batch.carry and not batch.reset else None
        loss_sum, final = self._loss_sum(local, state, self.ddp)
        # DDP averages the ranks' gradients; scaled so, the average is d(sum over the global batch / its count)
        (loss_sum * (self.world.size / total)).backward()
        if batch.carry:
            self.carry = tuple(s.detach() for s in final) if isinstance(final, tuple) else final.detach()
        loss = loss_sum.detach()
        if self.dist is not None:
            self.dist.all_reduce(loss)
        return loss.item() / total, total

    def update(self, lr: float) -> None:
        c = self.config
        trained = list(self.params.values())
        if c.clip_value is not None:
            torch.nn.utils.clip_grad_value_(trained, c.clip_value)
        elif c.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(trained, c.clip_norm)
        self.t += 1
        if c.optimizer == "adam":
            lr = lr / (1.0 + c.decay * (self.t - 1))  # Keras' decay, as rnnkit.optim.Adam
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)

    @torch.no_grad()
    def evaluate(self, batches: Iterable[Batch]) -> float | None:
        self.net.eval()
        total = torch.zeros(2, dtype=torch.float64, device=self.device)  # summed loss, targets
        state = None
        for batch in batches:
            local = distributed.shard(batch, self.world)
            if local.inputs.shape[1] == 0:
                continue
            # the bare module: evaluation needs no gradient bookkeeping from DDP
            start = state if batch.carry and not batch.reset else None
            loss_sum, state = self._loss_sum(local, start, self.net)
            total[0] += loss_sum.double()
            total[1] += local.targets_counted
        self.net.train()
        if self.dist is not None:
            self.dist.all_reduce(total)
        loss, count = total.tolist()
        return loss / count if count else None

    # -- weights and optimizer state as the NumPy engine's arrays ---------------------------------------------
    def export_params(self) -> Arrays:
        dtype = np.float64 if self.dtype == torch.float64 else np.float32
        return {k: p.detach().cpu().numpy().astype(dtype, copy=True) for k, p in self.params.items()}

    @torch.no_grad()
    def import_params(self, arrays: Arrays) -> None:
        for k, p in self.params.items():
            if k not in arrays or tuple(arrays[k].shape) != tuple(p.shape):
                raise RnnkitError(f"weight {k} does not match the model's configuration")
            p.copy_(torch.from_numpy(np.asarray(arrays[k])).to(p.device, p.dtype))

    def export_optimizer(self) -> Arrays:
        if self.config.optimizer == "sgd":
            return {}
        out: Arrays = {"t": np.array([self.t], dtype=np.int64)}
        dtype = np.float64 if self.dtype == torch.float64 else np.float32
        for k, p in self.params.items():
            state = self.opt.state.get(p, {})
            for ours, theirs in (("m", "exp_avg"), ("v", "exp_avg_sq")):
                moment = state.get(theirs)
                out[f"{ours}.{k}"] = (
                    np.zeros(tuple(p.shape), dtype) if moment is None else moment.cpu().numpy().astype(dtype)
                )
        return out

    def import_optimizer(self, arrays: Arrays) -> None:
        if self.config.optimizer == "sgd":
            return
        self.t = int(arrays["t"][0])
        for k, p in self.params.items():
            if self.t == 0:
                continue
            self.opt.state[p] = {
                "step": torch.tensor(float(self.t)),
                "exp_avg": torch.from_numpy(np.array(arrays[f"m.{k}"])).to(p.device, p.dtype),
                "exp_avg_sq": torch.from_numpy(np.array(arrays[f"v.{k}"])).to(p.device, p.dtype),
            }

    def rng_state(self) -> dict:
        return {}  # dropout is reseeded from (seed, rank, step) every step

    def load_rng_state(self, state: dict) -> None:
        pass

    # -- a stream's carried state ----------------------------------------------------------------------------
    def carried_state(self) -> Arrays:
        """The carried state as the NumPy engine's arrays, (B, H) per layer, rows in the global batch's order.

        Data-parallel, each rank holds its own rows: they are gathered (a collective: every rank calls this).
        """
        if self.carry is None:
            return {}
        parts = self.carry if isinstance(self.carry, tuple) else (self.carry,)  # h (and c), (L, B/W, H) each
        if self.dist is not None:
            gathered = []
            for part in parts:
                pieces = [torch.empty_like(part) for _ in range(self.world.size)]
                self.dist.all_gather(pieces, part.contiguous())
                rows = distributed.interleave([p.transpose(0, 1).cpu().numpy() for p in pieces])  # (B, L, H)
                gathered.append(torch.from_numpy(rows).transpose(0, 1))  # (L, B, H)
            parts = tuple(gathered)
        arrays = [p.cpu().numpy() for p in parts]
        layers = [arrays[0][l] if len(arrays) == 1 else (arrays[0][l], arrays[1][l]) for l in range(len(arrays[0]))]
        return state_arrays(layers)

    def load_carried_state(self, arrays: Arrays) -> None:
        """The global batch's carried rows (as `carried_state` wrote them); this rank keeps its own."""
        states = arrays_state(arrays)
        if states is None:
            self.carry = None
            return
        mine = lambda a: self._tensor(distributed.own_rows(a, self.world)).to(self.dtype)  # noqa: E731
        if isinstance(states[0], tuple):
            h, c = zip(*states, strict=True)
            self.carry = (torch.stack([mine(a) for a in h]), torch.stack([mine(a) for a in c]))  # (L, B/W, H) each
        else:
            self.carry = torch.stack([mine(a) for a in states])  # (L, B/W, H)

    def sync_model(self) -> None:
        self.model.load_params(self.export_params())

    # -- agreeing across ranks -------------------------------------------------------------------------------
    def any_rank(self, flag: bool) -> bool:
        if self.dist is None:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        self.dist.all_reduce(t, op=self.dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def from_master(self, value: float) -> float:
        if self.dist is None:
            return value
        t = torch.tensor([float(value)], dtype=torch.float64, device=self.device)
        self.dist.broadcast(t, src=0)
        return type(value)(t.item())

    def describe(self) -> str:
        line = f"engine: torch {torch.__version__} on {self.device} ({self.engine_config.precision})"
        if self.dist is not None:
            backend = self.dist.get_backend()
            line += f", {self.world.size} processes ({backend}) of {self.config.batch_size} rows each"
        return line

    def close(self, wait: bool = True) -> None:
        if self.dist is not None:
            # DDP's reducer holds the process group (and sits in reference cycles): free it now, not at exit
            self.ddp = self.net
            gc.collect()
            distributed.stop(wait)
            self.dist = None
