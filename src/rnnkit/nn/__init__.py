"""The engine: recurrent layers over whole sequences with hand-written backpropagation through time.

Arrays are time-major, x: (T, B, D), hs: (T, B, H); weights are shaped and ordered as torch's. Every layer owns
`params` and `grads` (dicts with the same keys); forward returns a cache that the caller hands back to backward,
and backward ADDS into `grads`, since a weight is shared by every time step.
"""

from rnnkit.nn.dropout import dropout_mask, locked_mask, row_mask
from rnnkit.nn.embedding import Embedding, sum_rows
from rnnkit.nn.gru import GRU, GRUCache
from rnnkit.nn.linear import Linear
from rnnkit.nn.losses import cross_entropy, log_softmax, softmax
from rnnkit.nn.lstm import LSTM, LSTMCache, LSTMState
from rnnkit.nn.recurrent import TableRows
from rnnkit.nn.rnn import RNN, RNNCache
from rnnkit.nn.stack import CELLS, RecurrentStack, StackCache

__all__ = [
    "CELLS",
    "GRU",
    "LSTM",
    "RNN",
    "Embedding",
    "GRUCache",
    "LSTMCache",
    "LSTMState",
    "Linear",
    "RNNCache",
    "RecurrentStack",
    "StackCache",
    "TableRows",
    "cross_entropy",
    "dropout_mask",
    "locked_mask",
    "log_softmax",
    "row_mask",
    "softmax",
    "sum_rows",
]
