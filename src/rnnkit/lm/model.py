"""The token model the applications share: Embedding -> recurrent stack -> dropout -> Linear -> softmax.

While training, four kinds of dropout are options (AWD-LSTM's, Merity et al. 2017): embedding dropout drops whole
rows of the table E; input dropout is a locked mask on the embedding vectors; `dropout` sits between the layers
and before the head (locked or not); weight drop masks each layer's W_hh (`rnnkit.nn.weight_drop`).

At every step the network reads the previous token and predicts the next one, over a minibatch at once: a
character of a name (the seed's part 1), or a melody event (pitch, duration), the seed's djmodel with one LSTM
and one softmax layer shared across the Tx steps. The embedding lookup W[id] is exactly the seed's one-hot input
times a weight matrix.

A model built with context_size C > 0 also reads C dense features at every step beside the token (a melody's
chord under the next event): the first layer's input is then [E[id_t]; c_t], written as a second input matrix,
    z_t = W_ih E[id_t] + W_c c_t + W_hh h_{t-1} + b         W_c: (G*H, C), the parameter "context.W"
so the token's part stays a lookup in the table E W_ih^T + b and the features add one product per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit import nn
from rnnkit.errors import RnnkitError
from rnnkit.lm.config import ModelConfig


@dataclass(frozen=True)
class TokenModelCache:
    ids: np.ndarray  # (T, B)
    rnn: nn.StackCache
    top: np.ndarray  # (T, B, H) the stack's output after dropout, the head's input
    mask: np.ndarray | None  # (T, B, H) or locked (1, B, H): the dropout mask before the head, or None
    context: np.ndarray | None = None  # (T, B, C) the dense features, or None
    E: np.ndarray | None = None  # (V, E) the embedding table the batch used (after embedding dropout)
    row_mask: np.ndarray | None = None  # (V, 1) the embedding-dropout mask, or None
    input_mask: np.ndarray | None = None  # (1, B, E) the input-dropout mask, or None
    x: np.ndarray | None = None  # (T, B, E) the masked embedding vectors under input dropout, else None


class TokenModel:
    """params/grads: flat dicts "embed.W", "rnn.<layer>.<name>", "head.W", "head.b" (and "context.W")."""

    def __init__(self, config: ModelConfig, vocab_size: int, seed: int = 0, dtype=np.float32, context_size: int = 0):
        config.validate()
        rng = np.random.default_rng(seed)
        self.config, self.vocab_size, self.dtype = config, vocab_size, np.dtype(dtype)
        self.embed = nn.Embedding(vocab_size, config.embedding_size, rng=rng, dtype=dtype)
        self.rnn = nn.RecurrentStack(
            config.cell,
            config.embedding_size,
            config.hidden_size,
            config.num_layers,
            config.dropout,
            rng,
            dtype,
            locked=config.locked_dropout,
            weight_drop=config.weight_drop,
        )
        self.head = nn.Linear(config.hidden_size, vocab_size, rng=rng, dtype=dtype)
        if context_size < 0:
            raise RnnkitError(f"context size must be >= 0, got {context_size}")
        self.context_size = context_size
        self.context = None  # W_c, drawn after the other weights so a model without context starts as before
        parts = [("embed", self.embed), ("rnn", self.rnn), ("head", self.head)]
        if context_size:
            gates = self.rnn.layers[0].gates * config.hidden_size
            self.context = nn.Linear(context_size, gates, rng=rng, dtype=dtype, bias=False)
            parts.append(("context", self.context))
        self.params, self.grads = {}, {}
        for prefix, part in parts:
            self.params.update({f"{prefix}.{k}": v for k, v in part.params.items()})
            self.grads.update({f"{prefix}.{k}": v for k, v in part.grads.items()})

    @property
    def training(self) -> bool:
        return self.rnn.training

    def train(self) -> None:
        self.rnn.train()

    def eval(self) -> None:
        self.rnn.eval()

    def zero_grad(self) -> None:
        for g in self.grads.values():
            g.fill(0)

    def load_params(self, arrays: dict[str, np.ndarray]) -> None:
        """Copy weights in (shapes must match), keeping the arrays the layers hold."""
        if arrays.keys() != self.params.keys():
            raise RnnkitError("weights do not match the model's configuration")
        for k, p in self.params.items():
            if arrays[k].shape != p.shape:
                raise RnnkitError(f"weight {k} has shape {arrays[k].shape}, the model expects {p.shape}")
            p[...] = arrays[k]

    def _check_context(self, context: np.ndarray | None, shape: tuple[int, ...]) -> None:
        if (context is None) != (self.context is None):
            given = "none" if context is None else "some"
            raise ValueError(f"this model reads {self.context_size} context features per step, {given} given")
        if context is not None and context.shape != (*shape, self.context_size):
            raise ValueError(f"expected context of shape {(*shape, self.context_size)}, got {context.shape}")

    def forward(
        self,
        ids: np.ndarray,
        states: list | None = None,
        rng: np.random.Generator | None = None,
        context: np.ndarray | None = None,
    ) -> tuple[np.ndarray, list, TokenModelCache]:
        """ids (T, B) -> logits (T, B, V), the final states of every layer, the cache.

        The embedding and the first layer's input projection run fused: a lookup in E W_ih^T + b (V, G*H),
        except under input dropout, whose mask falls between the two; the layer reads the table's rows step by
        step (`nn.TableRows`) unless context features add to them.
        context (T, B, C): the dense features of every step, for a model built with context_size C.
        """
        self._check_context(context, ids.shape)
        c, E, first = self.config, self.embed.params["W"], self.rnn.layers[0]
        row_mask = input_mask = x = None
        if self.training and c.embed_dropout > 0:
            row_mask = nn.row_mask(self.vocab_size, c.embed_dropout, rng, self.dtype)
            E = E * row_mask  # (V, E) whole characters dropped for this batch
        if self.training and c.input_dropout > 0:
            x = E[ids]  # (T, B, E)
            input_mask = nn.locked_mask(x.shape, c.input_dropout, rng, self.dtype)
            x = x * input_mask
            x_proj = x @ first.params["W_ih"].T  # (T, B, G*H)
            x_proj += first.params[first.input_bias]
        elif context is None:  # each step's rows of the table, looked up as the time loop reaches them
            x_proj = nn.TableRows(first.input_table(E), ids)  # stands for (T, B, G*H)
        else:
            x_proj = first.input_table(E)[ids]  # (T, B, G*H)
        if context is not None:
            context = context.astype(self.dtype, copy=False)
            x_proj += context @ self.context.params["W"].T  # (T, B, G*H)
        hs, states, rnn_cache = self.rnn.forward(None, states, rng, x_proj=x_proj)  # (T, B, H)
        mask = None
        if self.training and c.dropout > 0:
            mask = (nn.locked_mask if c.locked_dropout else nn.dropout_mask)(hs.shape, c.dropout, rng, self.dtype)
            hs = hs * mask
        logits, _ = self.head.forward(hs)  # (T, B, V)
        cache = TokenModelCache(ids, rnn_cache, hs, mask, context, E, row_mask, input_mask, x)
        return logits, states, cache

    def backward(self, dlogits: np.ndarray, cache: TokenModelCache) -> np.ndarray | None:
        """Add the gradients of every parameter, given dL/dlogits (T, B, V); return dL/dcontext (T, B, C) or None."""
        dhs = self.head.backward(dlogits, cache.top)  # (T, B, H)
        if cache.mask is not None:
            dhs *= cache.mask
        dx_proj, _ = self.rnn.backward(dhs, cache.rnn, state_grads=False)  # (T, B, G*H): BPTT stops at h_0
        first = self.rnn.layers[0]
        if cache.x is not None:  # input dropout: the projection of the masked vectors, one GEMM each way
            T, B, GH = dx_proj.shape
            dz = dx_proj.reshape(T * B, GH)
            first.grads["W_ih"] += dz.T @ cache.x.reshape(T * B, -1)  # (G*H, E)
            first.grads[first.input_bias] += dz.sum(axis=0)
            dx = (dz @ first.params["W_ih"]).reshape(T, B, -1) * cache.input_mask  # (T, B, E)
            dE = nn.sum_rows(cache.ids, dx, self.vocab_size)  # (V, E)
        else:
            dtable = nn.sum_rows(cache.ids, dx_proj, self.vocab_size)  # (V, G*H)
            dE = first.input_table_backward(dtable, cache.E)  # (V, E)
        if cache.row_mask is not None:
            dE *= cache.row_mask
        self.embed.grads["W"] += dE
        if cache.context is None:
            return None
        return self.context.backward(dx_proj, cache.context)  # (T, B, C); adds dW_c = sum_t dz_t^T c_t

    def floats_per_position(self) -> int:
        """About how many numbers a forward pass holds per (step, row): the logits, and each layer's gate buffers
        (two of G H), its states h, c and tanh(c) (3 H) and its output (H). Sizes chunks of a long evaluation."""
        gates = self.rnn.layers[0].gates
        H = self.config.hidden_size
        return self.vocab_size + self.config.num_layers * (2 * gates * H + 4 * H)

    def input_table(self) -> np.ndarray:
        """The embedding through the first layer's input projection, E W_ih^T + b: (V, G*H), one row per id."""
        return self.rnn.layers[0].input_table(self.embed.params["W"])

    def step_logits(
        self,
        ids: np.ndarray,
        states: list | None,
        table: np.ndarray | None = None,
        rows: np.ndarray | None = None,
        context: np.ndarray | None = None,
    ) -> tuple[np.ndarray, list]:
        """One step for generation: ids (B,) -> logits (B, V), carrying the states (never re-running a prefix).

        The same function as forward on a sequence of length 1 (in eval mode), without building caches.
        table: `input_table()`, computed once by a caller that takes many steps with the same weights.
        rows (B,): the row of `states` that ids[b] continues (default: row b); rows may repeat, and the new
        states have B rows. context (B, C): this step's dense features, for a model built with context_size C.
        """
        first = self.rnn.layers[0]
        E = self.embed.params["W"]
        ids = np.asarray(ids)
        self._check_context(context, ids.shape)
        if table is None and len(ids) >= self.vocab_size:
            table = self.input_table()
        if table is not None:
            x_proj, x_rows = table, ids  # row b's input projection is table[ids[b]], looked up by the layer
        else:
            x_proj, x_rows = E[ids] @ first.params["W_ih"].T, None  # (B, G*H)
            x_proj += first.params[first.input_bias]
        if context is not None:  # the features differ per row: gather the token part, add theirs
            x_proj = x_proj[x_rows] if x_rows is not None else x_proj
            x_proj, x_rows = x_proj + context.astype(self.dtype, copy=False) @ self.context.params["W"].T, None
        states = [None] * len(self.rnn.layers) if states is None else states
        new_states, h = [], None
        for l, layer in enumerate(self.rnn.layers):
            if l > 0:  # the layer below's h_t, projected
                x_proj, x_rows = h @ layer.params["W_ih"].T, None  # (B, G*H)
                x_proj += layer.params[layer.input_bias]
            state = states[l]
            if state is None:
                zeros = layer.initial_state(len(ids))
                state = (zeros, zeros) if isinstance(layer, nn.LSTM) else zeros
            h, state = layer.step(x_proj, state, rows, x_rows)  # (B, H)
            new_states.append(state)
        logits = h @ self.head.params["W"].T  # (B, V)
        logits += self.head.params["b"]
        return logits, new_states
