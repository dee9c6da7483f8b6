"""The seed's step-by-step algorithms, written for reading.

This module follows Andrew Ng's deep-learning course notebooks "Building a Recurrent Neural Network Step by
Step" and "Character level language model - Dinosaurus Island" in their own notation and signatures: one
function per step, plain NumPy, no classes. The engine (``rnnkit.nn``) does the same maths time-major and
batched; docs/notation.md maps one notation onto the other.

Notation (the course's)::

    n_x   input size             x:  (n_x, m, T_x)     one column per example, time last
    m     examples in the batch  a:  (n_a, m, T_x)     hidden states a<t>
    T_x   time steps             y:  (n_y, m, T_x)     softmax outputs ŷ<t>
    n_a   hidden units           Wax (n_a, n_x)  Waa (n_a, n_a)  Wya (n_y, n_a)  ba (n_a, 1)  by (n_y, 1)
    n_y   output size            LSTM gates Wf, Wi, Wc, Wo: (n_a, n_a + n_x), acting on [a<t-1>; x<t>]

Part 1 (the character-level name model) uses the course's "utils" layout instead: one example at a time
(m = 1), inputs given as lists of character indices, parameter keys ``Wax, Waa, Wya, b, by``.
"""

from __future__ import annotations

import numpy as np

Params = dict[str, np.ndarray]


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over axis 0 (the class axis), numerically stable.

    softmax(x)_k = exp(x_k - max_j x_j) / Σ_j exp(x_j - max_j x_j)

    Parameters
    ----------
    x : (n_y, ...) scores; every column is normalised separately.

    Returns
    -------
    (n_y, ...) probabilities; each column sums to 1.
    """
    e = np.exp(x - np.max(x, axis=0, keepdims=True))  # subtracting the max keeps exp from overflowing
    return e / np.sum(e, axis=0, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function σ(x) = 1 / (1 + exp(-x)), elementwise."""
    return 1.0 / (1.0 + np.exp(-x))


# --------------------------------------------------------------------------------------------------------
# Part 2a: the basic RNN
# --------------------------------------------------------------------------------------------------------


def rnn_cell_forward(xt: np.ndarray, a_prev: np.ndarray, parameters: Params) -> tuple:
    """One step of the basic RNN.

    a<t> = tanh(Waa a<t-1> + Wax x<t> + ba)
    ŷ<t> = softmax(Wya a<t> + by)

    Parameters
    ----------
    xt : (n_x, m) input at step t.
    a_prev : (n_a, m) hidden state a<t-1>.
    parameters : dict with Wax (n_a, n_x), Waa (n_a, n_a), Wya (n_y, n_a), ba (n_a, 1), by (n_y, 1).

    Returns
    -------
    a_next : (n_a, m) hidden state a<t>.
    yt_pred : (n_y, m) prediction ŷ<t>.
    cache : (a_next, a_prev, xt, parameters), what the backward step needs.
    """
    Wax, Waa, Wya = parameters["Wax"], parameters["Waa"], parameters["Wya"]
    ba, by = parameters["ba"], parameters["by"]
    a_next = np.tanh(Waa @ a_prev + Wax @ xt + ba)  # (n_a, m)
    yt_pred = softmax(Wya @ a_next + by)  # (n_y, m)
    cache = (a_next, a_prev, xt, parameters)
    return a_next, yt_pred, cache


def rnn_forward(x: np.ndarray, a0: np.ndarray, parameters: Params) -> tuple:
    """The RNN cell repeated over T_x steps, the same weights at every step.

    Parameters
    ----------
    x : (n_x, m, T_x) inputs.
    a0 : (n_a, m) initial hidden state.
    parameters : as in `rnn_cell_forward`.

    Returns
    -------
    a : (n_a, m, T_x) hidden states a<1> … a<T_x>.
    y_pred : (n_y, m, T_x) predictions.
    caches : (list of T_x cell caches, x).
    """
    n_x, m, T_x = x.shape
    n_y, n_a = parameters["Wya"].shape
    a = np.zeros((n_a, m, T_x))
    y_pred = np.zeros((n_y, m, T_x))
    caches = []
    a_next = a0
    for t in range(T_x):
        a_next, yt_pred, cache = rnn_cell_forward(x[:, :, t], a_next, parameters)
        a[:, :, t] = a_next
        y_pred[:, :, t] = yt_pred
        caches.append(cache)
    return a, y_pred, (caches, x)


def rnn_cell_backward(da_next: np.ndarray, cache: tuple) -> dict[str, np.ndarray]:
    """Backward through one RNN step (the hidden-state part; ŷ is handled by the caller).

    With dz = (1 - a<t>²) ⊙ da<t>, the gradient through tanh:

    dx<t> = Waxᵀ dz      da<t-1> = Waaᵀ dz
    dWax = dz x<t>ᵀ      dWaa = dz a<t-1>ᵀ      dba = Σ_over_m dz

    Parameters
    ----------
    da_next : (n_a, m) gradient of the loss on a<t>.
    cache : from `rnn_cell_forward`.

    Returns
    -------
    dict with dxt (n_x, m), da_prev (n_a, m), dWax (n_a, n_x), dWaa (n_a, n_a), dba (n_a, 1).
    """
    a_next, a_prev, xt, parameters = cache
    dz = (1 - a_next**2) * da_next  # (n_a, m)
    return {
        "dxt": parameters["Wax"].T @ dz,  # (n_x, m)
        "da_prev": parameters["Waa"].T @ dz,  # (n_a, m)
        "dWax": dz @ xt.T,  # (n_a, n_x)
        "dWaa": dz @ a_prev.T,  # (n_a, n_a)
        "dba": np.sum(dz, axis=1, keepdims=True),  # (n_a, 1)
    }


def rnn_backward(da: np.ndarray, caches: tuple) -> dict[str, np.ndarray]:
    """Backpropagation through time for the basic RNN.

    a<t> feeds both the loss (upstream gradient da[:, :, t]) and a<t+1>, so the gradient reaching step t is
    da[:, :, t] + da_prev from step t+1. The weights are shared, so their gradients add up over t.

    Parameters
    ----------
    da : (n_a, m, T_x) upstream gradient of the loss on every hidden state.
    caches : from `rnn_forward`.

    Returns
    -------
    dict with dx (n_x, m, T_x), da0 (n_a, m), dWax (n_a, n_x), dWaa (n_a, n_a), dba (n_a, 1).
    """
    caches_list, x = caches
    n_a, m, T_x = da.shape
    parameters = caches_list[0][3]
    dx = np.zeros_like(x)
    dWax = np.zeros_like(parameters["Wax"])
    dWaa = np.zeros_like(parameters["Waa"])
    dba = np.zeros_like(parameters["ba"])
    da_prevt = np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        grads = rnn_cell_backward(da[:, :, t] + da_prevt, caches_list[t])
        dx[:, :, t] = grads["dxt"]
        da_prevt = grads["da_prev"]
        dWax += grads["dWax"]
        dWaa += grads["dWaa"]
        dba += grads["dba"]
    return {"dx": dx, "da0": da_prevt, "dWax": dWax, "dWaa": dWaa, "dba": dba}


# --------------------------------------------------------------------------------------------------------
# Part 2b: the LSTM
# --------------------------------------------------------------------------------------------------------


def lstm_cell_forward(xt: np.ndarray, a_prev: np.ndarray, c_prev: np.ndarray, parameters: Params) -> tuple:
    """One LSTM step. Every gate reads the stacked concat = [a<t-1>; x<t>], shape (n_a + n_x, m).

    Γf = σ(Wf concat + bf)          forget gate: how much of c<t-1> to keep
    Γu = σ(Wi concat + bi)          update (input) gate: how much of the candidate to write
    c̃<t> = tanh(Wc concat + bc)     candidate cell value
    c<t> = Γf ⊙ c<t-1> + Γu ⊙ c̃<t>
    Γo = σ(Wo concat + bo)          output gate
    a<t> = Γo ⊙ tanh(c<t>)
    ŷ<t> = softmax(Wy a<t> + by)

    Parameters
    ----------
    xt : (n_x, m) input at step t.
    a_prev, c_prev : (n_a, m) hidden and cell state at step t-1.
    parameters : dict with Wf, Wi, Wc, Wo (n_a, n_a + n_x); bf, bi, bc, bo (n_a, 1); Wy (n_y, n_a); by (n_y, 1).

    Returns
    -------
    a_next, c_next : (n_a, m) hidden and cell state at step t.
    yt_pred : (n_y, m) prediction ŷ<t>.
    cache : (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters).
    """
    p = parameters
    concat = np.concatenate([a_prev, xt], axis=0)  # (n_a + n_x, m)
    ft = sigmoid(p["Wf"] @ concat + p["bf"])  # (n_a, m)
    it = sigmoid(p["Wi"] @ concat + p["bi"])  # (n_a, m)
    cct = np.tanh(p["Wc"] @ concat + p["bc"])  # (n_a, m)
    c_next = ft * c_prev + it * cct  # (n_a, m)
    ot = sigmoid(p["Wo"] @ concat + p["bo"])  # (n_a, m)
    a_next = ot * np.tanh(c_next)  # (n_a, m)
    yt_pred = softmax(p["Wy"] @ a_next + p["by"])  # (n_y, m)
    cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)
    return a_next, c_next, yt_pred, cache


def lstm_forward(x: np.ndarray, a0: np.ndarray, parameters: Params) -> tuple:
    """The LSTM cell repeated over T_x steps. As in the course, the first cell state c<0> is zero.

    Parameters
    ----------
    x : (n_x, m, T_x) inputs.
    a0 : (n_a, m) initial hidden state.
    parameters : as in `lstm_cell_forward`.

    Returns
    -------
    a : (n_a, m, T_x) hidden states.
    y : (n_y, m, T_x) predictions.
    c : (n_a, m, T_x) cell states.
    caches : (list of T_x cell caches, x).
    """
    n_x, m, T_x = x.shape
    n_y, n_a = parameters["Wy"].shape
    a = np.zeros((n_a, m, T_x))
    c = np.zeros((n_a, m, T_x))
    y = np.zeros((n_y, m, T_x))
    caches = []
    a_next, c_next = a0, np.zeros((n_a, m))
    for t in range(T_x):
        a_next, c_next, yt, cache = lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)
        a[:, :, t] = a_next
        c[:, :, t] = c_next
        y[:, :, t] = yt
        caches.append(cache)
    return a, y, c, (caches, x)


def lstm_cell_backward(da_next: np.ndarray, dc_next: np.ndarray, cache: tuple) -> dict[str, np.ndarray]:
    """Backward through one LSTM step (the state part; ŷ is handled by the caller).

    The cell state gets gradient both directly (dc_next) and through a<t> = Γo ⊙ tanh(c<t>):

    dc = dc_next + da_next ⊙ Γo ⊙ (1 - tanh²(c<t>))
    dΓo = da_next ⊙ tanh(c<t>)    dΓf = dc ⊙ c<t-1>    dΓu = dc ⊙ c̃<t>    dc̃ = dc ⊙ Γu

    then through each gate's nonlinearity to its pre-activation z (σ' = s(1-s), tanh' = 1 - t²):

    dzo = dΓo ⊙ Γo(1-Γo)   dzf = dΓf ⊙ Γf(1-Γf)   dzi = dΓu ⊙ Γu(1-Γu)   dzc = dc̃ ⊙ (1 - c̃²)

    and z = W concat + b gives, for each gate, dW = dz concatᵀ and db = Σ_over_m dz. The input gradients
    are dconcat = Wfᵀ dzf + Wiᵀ dzi + Wcᵀ dzc + Woᵀ dzo, split back into its a<t-1> rows (the first n_a)
    and its x<t> rows; and dc<t-1> = dc ⊙ Γf.

    Parameters
    ----------
    da_next, dc_next : (n_a, m) gradients of the loss on a<t> and c<t>.
    cache : from `lstm_cell_forward`.

    Returns
    -------
    dict with dxt (n_x, m), da_prev (n_a, m), dc_prev (n_a, m), dWf, dWi, dWc, dWo (n_a, n_a + n_x) and
    dbf, dbi, dbc, dbo (n_a, 1).
    """
    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, p = cache
    n_a = a_next.shape[0]
    tanh_c = np.tanh(c_next)
    dc = dc_next + da_next * ot * (1 - tanh_c**2)  # (n_a, m)
    dzo = da_next * tanh_c * ot * (1 - ot)  # (n_a, m)
    dzf = dc * c_prev * ft * (1 - ft)  # (n_a, m)
    dzi = dc * cct * it * (1 - it)  # (n_a, m)
    dzc = dc * it * (1 - cct**2)  # (n_a, m)

    concat = np.concatenate([a_prev, xt], axis=0)  # (n_a + n_x, m)
    dconcat = p["Wf"].T @ dzf + p["Wi"].T @ dzi + p["Wc"].T @ dzc + p["Wo"].T @ dzo  # (n_a + n_x, m)
    return {
        "dxt": dconcat[n_a:],  # (n_x, m)
        "da_prev": dconcat[:n_a],  # (n_a, m)
        "dc_prev": dc * ft,  # (n_a, m)
        "dWf": dzf @ concat.T,  # (n_a, n_a + n_x)
        "dbf": np.sum(dzf, axis=1, keepdims=True),  # (n_a, 1)
        "dWi": dzi @ concat.T,
        "dbi": np.sum(dzi, axis=1, keepdims=True),
        "dWc": dzc @ concat.T,
        "dbc": np.sum(dzc, axis=1, keepdims=True),
        "dWo": dzo @ concat.T,
        "dbo": np.sum(dzo, axis=1, keepdims=True),
    }


def lstm_backward(da: np.ndarray, caches: tuple) -> dict[str, np.ndarray]:
    """Backpropagation through time for the LSTM.

    At step t the hidden state gets da[:, :, t] from the loss plus da_prev from step t+1; the cell state gets
    only dc_prev from step t+1 (the loss does not read c directly). Weight gradients add up over t.

    Parameters
    ----------
    da : (n_a, m, T_x) upstream gradient of the loss on every hidden state.
    caches : from `lstm_forward`.

    Returns
    -------
    dict with dx (n_x, m, T_x), da0 (n_a, m), dWf, dWi, dWc, dWo (n_a, n_a + n_x), dbf, dbi, dbc, dbo (n_a, 1).
    """
    caches_list, x = caches
    n_a, m, T_x = da.shape
    p = caches_list[0][9]
    dx = np.zeros_like(x)
    grads = {f"d{k}": np.zeros_like(p[k]) for k in ("Wf", "bf", "Wi", "bi", "Wc", "bc", "Wo", "bo")}
    da_prevt = np.zeros((n_a, m))
    dc_prevt = np.zeros((n_a, m))
    for t in reversed(range(T_x)):
        step = lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, caches_list[t])
        dx[:, :, t] = step["dxt"]
        da_prevt, dc_prevt = step["da_prev"], step["dc_prev"]
        for k in grads:
            grads[k] += step[k]
    return {"dx": dx, "da0": da_prevt, **grads}


# --------------------------------------------------------------------------------------------------------
# Part 1: the character-level name model (one example at a time, m = 1)
# --------------------------------------------------------------------------------------------------------


def initialize_parameters(n_a: int, n_x: int, n_y: int, seed: int = 1) -> Params:
    """Small random weights (standard normal * 0.01) and zero biases.

    Returns
    -------
    dict with Wax (n_a, n_x), Waa (n_a, n_a), Wya (n_y, n_a), b (n_a, 1), by (n_y, 1).
    """
    rng = np.random.default_rng(seed)
    return {
        "Wax": rng.standard_normal((n_a, n_x)) * 0.01,
        "Waa": rng.standard_normal((n_a, n_a)) * 0.01,
        "Wya": rng.standard_normal((n_y, n_a)) * 0.01,
        "b": np.zeros((n_a, 1)),
        "by": np.zeros((n_y, 1)),
    }


def clip(gradients: dict[str, np.ndarray], maxValue: float) -> dict[str, np.ndarray]:
    """Clip every entry of dWaa, dWax, dWya, db, dby into [-maxValue, maxValue], in place.

    This keeps one exploding step from throwing the weights far away. Other keys (da_next) are untouched.
    Returns the same dict.
    """
    for key in ("dWaa", "dWax", "dWya", "db", "dby"):
        np.clip(gradients[key], -maxValue, maxValue, out=gradients[key])
    return gradients


def sample(parameters: Params, char_to_ix: dict[str, int], seed: int) -> list[int]:
    """Draw one name, character by character, from the model.

    Start from a<0> = 0 and a zero input x<1>. At each step: a<t> = tanh(Wax x<t> + Waa a<t-1> + b),
    ŷ<t> = softmax(Wya a<t> + by), draw an index from ŷ<t>, and feed its one-hot vector in as x<t+1>. Stop
    after drawing the newline, or after 50 characters, in which case the newline index is appended (as the
    course does). The draws come from ``np.random.default_rng(seed)``, never the global np.random state.

    Parameters
    ----------
    parameters : dict with Wax (n_a, vocab_size), Waa (n_a, n_a), Wya (vocab_size, n_a), b (n_a, 1),
        by (vocab_size, 1).
    char_to_ix : maps each character (including "\\n") to its index.
    seed : seeds the generator, so the same seed and parameters give the same name.

    Returns
    -------
    indices : list of at most 51 character indices, ending with char_to_ix["\\n"].
    """
    Wax, Waa, Wya, b, by = (parameters[k] for k in ("Wax", "Waa", "Wya", "b", "by"))
    vocab_size, n_a = Wya.shape
    rng = np.random.default_rng(seed)
    newline = char_to_ix["\n"]
    x = np.zeros((vocab_size, 1))
    a_prev = np.zeros((n_a, 1))
    indices: list[int] = []
    idx = -1
    while idx != newline and len(indices) < 50:
        a = np.tanh(Wax @ x + Waa @ a_prev + b)  # (n_a, 1)
        y = softmax(Wya @ a + by)  # (vocab_size, 1)
        idx = int(rng.choice(vocab_size, p=y.ravel()))
        indices.append(idx)
        x = np.zeros((vocab_size, 1))
        x[idx] = 1
        a_prev = a
    if idx != newline:
        indices.append(newline)
    return indices


def rnn_step_forward(parameters: Params, a_prev: np.ndarray, x: np.ndarray) -> tuple:
    """One step of the name model: a<t> = tanh(Wax x + Waa a<t-1> + b), p<t> = softmax(Wya a<t> + by).

    x : (vocab_size, 1) one-hot (or zero) input; a_prev : (n_a, 1). Returns a_next (n_a, 1), p_t (vocab_size, 1).
    """
    a_next = np.tanh(parameters["Wax"] @ x + parameters["Waa"] @ a_prev + parameters["b"])  # (n_a, 1)
    p_t = softmax(parameters["Wya"] @ a_next + parameters["by"])  # (vocab_size, 1)
    return a_next, p_t


def rnn_step_backward(
    dy: np.ndarray, gradients: dict, parameters: Params, x: np.ndarray, a: np.ndarray, a_prev: np.ndarray
) -> dict[str, np.ndarray]:
    """One step of backpropagation through time for the name model; adds into `gradients`.

    dy = p<t> - onehot(y<t>) is the gradient of -log p<t>[y<t>] on the scores Wya a<t> + by. The hidden state
    gets Wyaᵀ dy from this step's loss plus gradients["da_next"] from step t+1; then through tanh:
    daraw = (1 - a<t>²) ⊙ da, and gradients["da_next"] becomes Waaᵀ daraw, the gradient on a<t-1>.

    dy : (vocab_size, 1); x : (vocab_size, 1); a, a_prev : (n_a, 1). Returns `gradients`.
    """
    gradients["dWya"] += dy @ a.T  # (vocab_size, n_a)
    gradients["dby"] += dy  # (vocab_size, 1)
    da = parameters["Wya"].T @ dy + gradients["da_next"]  # (n_a, 1)
    daraw = (1 - a * a) * da  # (n_a, 1)
    gradients["db"] += daraw
    gradients["dWax"] += daraw @ x.T  # (n_a, vocab_size)
    gradients["dWaa"] += daraw @ a_prev.T  # (n_a, n_a)
    gradients["da_next"] = parameters["Waa"].T @ daraw  # (n_a, 1)
    return gradients


def rnn_forward_lm(X: list, Y: list[int], a0: np.ndarray, parameters: Params, vocab_size: int = 27) -> tuple:
    """Forward through one name; the loss is Σ_t -log p<t>[Y[t]].

    Parameters
    ----------
    X : list of T character indices; X[0] = None stands for the zero input vector (start of a name).
    Y : list of T target indices, Y[t] = X[t+1], the last one the newline.
    a0 : (n_a, 1) initial hidden state.
    parameters : as in `initialize_parameters`.

    Returns
    -------
    loss : float.
    cache : (y_hat, a, x), dicts indexed by t holding p<t> (vocab_size, 1), a<t> (n_a, 1) (a[-1] = a0) and
        the input vectors x<t> (vocab_size, 1).
    """
    x, a, y_hat = {}, {}, {}
    a[-1] = np.copy(a0)
    loss = 0.0
    for t in range(len(X)):
        x[t] = np.zeros((vocab_size, 1))
        if X[t] is not None:
            x[t][X[t]] = 1
        a[t], y_hat[t] = rnn_step_forward(parameters, a[t - 1], x[t])
        loss -= np.log(y_hat[t][Y[t], 0])
    return float(loss), (y_hat, a, x)


def rnn_backward_lm(X: list, Y: list[int], parameters: Params, cache: tuple) -> tuple:
    """Backward through one name, from the cache of `rnn_forward_lm`.

    Returns
    -------
    gradients : dict with dWax, dWaa, dWya, db, dby (shaped like their parameters) and da_next (n_a, 1),
        which after the loop is the gradient on a0.
    a : the dict of hidden states from the cache (as the course returns it).
    """
    y_hat, a, x = cache
    gradients = {f"d{k}": np.zeros_like(parameters[k]) for k in ("Wax", "Waa", "Wya", "b", "by")}
    gradients["da_next"] = np.zeros_like(a[0])
    for t in reversed(range(len(X))):
        dy = np.copy(y_hat[t])
        dy[Y[t]] -= 1
        gradients = rnn_step_backward(dy, gradients, parameters, x[t], a[t], a[t - 1])
    return gradients, a


def update_parameters(parameters: Params, gradients: dict, lr: float) -> Params:
    """Gradient descent, in place: θ ← θ - lr · dθ for θ in Wax, Waa, Wya, b, by. Returns `parameters`."""
    for key in ("Wax", "Waa", "Wya", "b", "by"):
        parameters[key] -= lr * gradients["d" + key]
    return parameters


def optimize(X: list, Y: list[int], a_prev: np.ndarray, parameters: Params, learning_rate: float = 0.01):
    """One training step on one name: forward, backward, clip the gradients at 5, update.

    Parameters
    ----------
    X, Y : as in `rnn_forward_lm`.
    a_prev : (n_a, 1) initial hidden state.
    parameters : updated in place.

    Returns
    -------
    loss : float, the loss before the update.
    gradients : the clipped gradients.
    a_last : (n_a, 1) the last hidden state a<T>.
    """
    vocab_size = parameters["by"].shape[0]
    loss, cache = rnn_forward_lm(X, Y, a_prev, parameters, vocab_size)
    gradients, a = rnn_backward_lm(X, Y, parameters, cache)
    gradients = clip(gradients, 5)
    update_parameters(parameters, gradients, learning_rate)
    return loss, gradients, a[len(X) - 1]


def get_initial_loss(vocab_size: int, seq_length: int) -> float:
    """The loss of uniform guessing over `seq_length` characters, -log(1/vocab_size) · seq_length."""
    return float(-np.log(1.0 / vocab_size) * seq_length)


def smooth(loss: float, cur_loss: float) -> float:
    """Exponential smoothing of the loss curve: 0.999 · loss + 0.001 · cur_loss."""
    return loss * 0.999 + cur_loss * 0.001


def print_sample(sample_ix: list[int], ix_to_char: dict[int, str]) -> None:
    """Print a sampled name, capitalised, without its newline."""
    print("".join(ix_to_char[ix] for ix in sample_ix).strip().capitalize())


def model(
    data: list[str],
    ix_to_char: dict[int, str],
    char_to_ix: dict[str, int],
    num_iterations: int = 35000,
    n_a: int = 50,
    names_to_print: int = 7,
    vocab_size: int = 27,
    seed: int = 0,
    verbose: bool = True,
    return_losses: bool = False,
):
    """Train the name model with plain SGD, one name per iteration.

    The names are shuffled once with ``np.random.default_rng(seed)``. Iteration j trains on name
    j % len(data): X = [None] + its character indices, Y = X[1:] + [newline], starting each name from
    a<0> = 0. (The original notebook instead carried the last hidden state of one name into the next; names
    are independent, and `sample` starts from zero, so rnnkit starts every name from zero.) The smoothed
    loss starts at `get_initial_loss(vocab_size, names_to_print)`, as in the course. Every 2000 iterations,
    when `verbose`, it prints the smoothed loss and `names_to_print` sampled names (seeds 0, 1, ...).

    Parameters
    ----------
    data : list of names, each a lowercase string without its newline, e.g. ["aachenosaurus", ...]. Every
        character must be in `char_to_ix`.
    ix_to_char, char_to_ix : the vocabulary both ways, including "\\n".
    num_iterations : training steps (one name each).
    n_a : hidden units.
    names_to_print : names sampled at each report.
    vocab_size : number of characters, len(char_to_ix).
    seed : seeds the shuffle; the weights use `initialize_parameters`' own seed.
    verbose : print the reports.
    return_losses : also return the smoothed loss after every iteration.

    Returns
    -------
    parameters : the trained dict (Wax, Waa, Wya, b, by), as the course returns it; or
    (parameters, losses) when `return_losses` is True, with losses a list of `num_iterations` floats.
    """
    parameters = initialize_parameters(n_a, vocab_size, vocab_size)
    loss = get_initial_loss(vocab_size, names_to_print)
    examples = [name.strip().lower() for name in data]
    np.random.default_rng(seed).shuffle(examples)
    losses = []
    for j in range(num_iterations):
        name = examples[j % len(examples)]
        X = [None] + [char_to_ix[ch] for ch in name]
        Y = X[1:] + [char_to_ix["\n"]]
        a_prev = np.zeros((n_a, 1))
        curr_loss, gradients, _ = optimize(X, Y, a_prev, parameters, learning_rate=0.01)
        loss = smooth(loss, curr_loss)
        losses.append(loss)
        if verbose and j % 2000 == 0:
            print(f"Iteration: {j}, Loss: {loss:f}\n")
            for k in range(names_to_print):
                print_sample(sample(parameters, char_to_ix, seed=k), ix_to_char)
            print()
    return (parameters, losses) if return_losses else parameters
