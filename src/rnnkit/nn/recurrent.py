"""What RNN, LSTM and GRU share: weights shaped like torch's, and the big matrix products.

A recurrent layer spends its time in three places. Two of them do not depend on the recurrence and are done
once for the whole sequence, as one matrix product each:
- the input projection  x_proj = x W_ih^T + b            (T*B, D) @ (D, G*H) -> (T*B, G*H)
- the weight gradients  dW_ih = sum_t dz_t^T x_t,  dW_hh = sum_t dz_t^T h_{t-1}
The third, h_{t-1} @ W_hh^T at each step, is the recurrence itself and stays in the time loop, where every
NumPy call costs about a microsecond: the loops below write into preallocated buffers with out= and keep the
number of calls per step small.

When the input is an embedding lookup, x_t = E[id_t], the input projection is a lookup too: E W_ih^T + b is a
(V, G*H) table computed once per forward (`input_table`), and x_proj = table[ids]. A layer's forward then takes
x_proj in place of x (as an array, or as `TableRows`, which looks each step's rows up as the loop reaches it),
and its backward returns dL/dx_proj, which the caller sums into the table's rows and hands to
`input_table_backward`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TableRows:
    """x_proj as rows of a table: step t, row b is table[ids[t, b]], looked up when the time loop reaches t.

    It stands for the (T, B, G*H) array table[ids] without writing it: for a 32 x 100 stream batch and an LSTM
    of 512 that array is 26 MB, written once and read once, where the table (V, 2048) stays in cache.
    """

    table: np.ndarray  # (V, G*H)
    ids: np.ndarray  # (T, B)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (*self.ids.shape, self.table.shape[1])

    @property
    def ndim(self) -> int:
        return 3

    def __getitem__(self, t: int) -> np.ndarray:
        return self.table[self.ids[t]]  # (B, G*H)


class Recurrent:
    """Base of the sequence layers: owns `params` and `grads` (dicts with the same keys), keeps no state.

    Weights are initialised as torch does, U(-1/sqrt(H), 1/sqrt(H)), so a layer and its torch twin start alike.
    """

    gates = 1  # G: how many H-sized blocks the pre-activation z has (RNN 1, GRU 3, LSTM 4)
    input_bias = "b"  # the bias that belongs to the input projection (GRU: b_ih)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        rng: np.random.Generator | None = None,
        dtype: type = np.float32,
    ):
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"input_size and hidden_size must be >= 1, got {input_size}, {hidden_size}")
        rng = np.random.default_rng(0) if rng is None else rng
        self.input_size, self.hidden_size, self.dtype = input_size, hidden_size, np.dtype(dtype)
        GH, D, H = self.gates * hidden_size, input_size, hidden_size
        k = 1.0 / np.sqrt(hidden_size)

        def uniform(*shape: int) -> np.ndarray:
            return rng.uniform(-k, k, size=shape).astype(self.dtype)

        self.params: dict[str, np.ndarray] = {"W_ih": uniform(GH, D), "W_hh": uniform(GH, H)}
        for name in self.bias_names():
            self.params[name] = uniform(GH)
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}

    def bias_names(self) -> tuple[str, ...]:
        return ("b",)

    def zero_grad(self) -> None:
        for g in self.grads.values():
            g.fill(0)

    def initial_state(self, batch_size: int) -> np.ndarray:
        return np.zeros((batch_size, self.hidden_size), dtype=self.dtype)

    # -- the input projection, from x or from an embedding table ----------------------------------------------
    def input_table(self, E: np.ndarray) -> np.ndarray:
        """The input projection of every row of an embedding table E (V, D): E W_ih^T + b  (V, G*H)."""
        table = E @ self.params["W_ih"].T  # (V, G*H)
        table += self.params[self.input_bias]
        return table

    def input_table_backward(self, dtable: np.ndarray, E: np.ndarray) -> np.ndarray:
        """Given dL/dtable (V, G*H): add dW_ih and the input bias's gradient; return dL/dE (V, D)."""
        self.grads["W_ih"] += dtable.T @ E  # (G*H, D)
        self.grads[self.input_bias] += dtable.sum(axis=0)
        return dtable @ self.params["W_ih"]  # (V, D)

    def _steps(self, x: np.ndarray | None, x_proj: np.ndarray | None) -> tuple[int, int]:
        """(T, B) of the input, checking its shape: x (T, B, D), or x_proj (T, B, G*H) in its place."""
        if x_proj is not None:
            if x_proj.ndim != 3 or x_proj.shape[2] != self.gates * self.hidden_size:
                raise ValueError(
                    f"expected x_proj of shape (T, B, {self.gates * self.hidden_size}), got {x_proj.shape}"
                )
            return x_proj.shape[:2]
        if x is None or x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"expected x of shape (T, B, {self.input_size}), got {None if x is None else x.shape}")
        return x.shape[:2]

    def _inputs(
        self,
        x: np.ndarray | None,
        x_proj: np.ndarray | None,
        scale: np.ndarray | None = None,
        out: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The buffer the time loop activates in place (T, B, G*H) (`out`, or fresh), and the caller's x_proj.

        From x the buffer holds (x W_ih^T + b) ⊙ scale, one GEMM for all steps, and the second result is None.
        Given x_proj the buffer is left empty and the loop copies x_proj[t] ⊙ scale into it one step at a time
        (while the step's arrays are in cache). scale (G*H,) multiplies each pre-activation column (the LSTM's
        -1 and -2): powers of two, which keep every product exact.
        """
        T, B = self._steps(x, x_proj)
        GH = self.gates * self.hidden_size
        if out is None:
            out = np.empty((T, B, GH), dtype=self.dtype)
        if x_proj is not None:
            return out, x_proj
        W_ih, b = self.params["W_ih"], self.params[self.input_bias]
        if scale is not None:
            W_ih, b = W_ih * scale[:, None], b * scale
        out2 = out.reshape(T * B, GH)  # a view: out is contiguous
        np.matmul(x.reshape(T * B, -1).astype(self.dtype, copy=False), W_ih.T, out=out2)  # (T*B, G*H)
        out2 += b
        return out, None

    def _weight_grads(self, dz: np.ndarray, x: np.ndarray | None, h_prev: np.ndarray, dz_h: np.ndarray | None = None):
        """The gradients that sum over time, one GEMM each; returns dx (T, B, D), or dz itself without x.

        dz (T, B, G*H) = dL/dx_proj; dz_h = dL/d(h_{t-1} W_hh^T) when it differs from dz (the GRU);
        h_prev (T, B, H) = h_0 .. h_{T-1}. Adds dW_hh, and dW_ih and the input bias when x was given.
        """
        T, B, GH = dz.shape
        dz2 = dz.reshape(T * B, GH)
        dh2 = dz2 if dz_h is None else dz_h.reshape(T * B, GH)
        self.grads["W_hh"] += dh2.T @ h_prev.reshape(T * B, -1)  # (G*H, H)
        if x is None:
            return dz  # dL/dx_proj: the caller owns the input projection
        self.grads[self.input_bias] += dz2.sum(axis=0)
        self.grads["W_ih"] += dz2.T @ x.reshape(T * B, -1)  # (G*H, D)
        return (dz2 @ self.params["W_ih"]).reshape(T, B, -1)  # (T, B, D)

    # -- generation ----------------------------------------------------------------------------------------
    def _recurrent_products(self, h: np.ndarray, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """Generation's h_{t-1} W_hh^T, once per state that goes on: (P, G*H), and which of the P each row reads.

        rows (B,) names the state row (of h) each new row continues; None means row b continues row b, and then
        P = B and the second result is None. Several rows may continue one state (a sampler's names that share a
        prefix): they share its product, so the matrix product has one row per distinct state, not per new row.
        """
        W_hh = self.params["W_hh"]
        if rows is None:
            return h @ W_hh.T, None
        used, which = np.unique(rows, return_inverse=True)  # (P,), (B,): rows == used[which]
        return h[used] @ W_hh.T, which

    def _step_inputs(
        self, x_proj: np.ndarray, x_rows: np.ndarray | None, h: np.ndarray, rows: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The NumPy steps' two inputs, one row per new row: x_proj (B, G*H) and h_{t-1} W_hh^T (B, G*H).

        x_rows picks x_proj's rows (a lookup table's); the product is computed once per state that goes on
        (`_recurrent_products`) and copied to every row that continues it.
        """
        if x_rows is not None:
            x_proj = x_proj[x_rows]
        rec, which = self._recurrent_products(h, rows)
        return x_proj, rec if which is None else rec[which]

    def _initial(self, state: np.ndarray | None, B: int) -> np.ndarray:
        return self.initial_state(B) if state is None else state
