"""The help text of the configuration flags, one line per dataclass field, shared by every command line.

`rnnkit.cli` builds the name model's flags from it and `rnnkit.music.cli` the melody model's, so this module
imports nothing: an application may use it without importing the `rnnkit` command.
"""

HELP = {
    # model
    "cell": "recurrent cell: rnn, lstm or gru",
    "hidden_size": "units in each recurrent layer's hidden state",
    "num_layers": "recurrent layers stacked",
    "embedding_size": "size of the learned character vectors",
    "dropout": "dropout between layers and before the output layer while training, in [0, 1)",
    "locked_dropout": "draw --dropout once per sequence, the same units dropped at every step (variational)",
    "input_dropout": "locked dropout on the character vectors, the first layer's inputs, in [0, 1)",
    "embed_dropout": "drop whole characters' embedding rows (one choice per batch), in [0, 1)",
    "weight_drop": "dropout on the recurrent weights W_hh, one mask per batch for the whole sequence, in [0, 1)",
    # training
    "optimizer": "adam or sgd (the seed's plain gradient descent)",
    "lr": "peak learning rate",
    "lr_schedule": "cosine (warm-up, then down to --min-lr at --max-steps) or constant",
    "warmup_steps": "linear warm-up steps of the cosine schedule",
    "min_lr": "learning rate at the end of the cosine schedule",
    "beta_1": "Adam's first-moment decay",
    "beta_2": "Adam's second-moment decay",
    "decay": "Keras-style learning-rate decay lr / (1 + decay * step), as the seed's music model",
    "weight_decay": "decoupled weight decay (AdamW)",
    "ema_decay": "evaluate and save a moving average of the weights, a <- d a + (1-d) w each step, d warming up "
    "to this (0: off)",
    "clip_norm": "clip the global gradient norm to this (the default clipping)",
    "clip_value": "clip every gradient entry into [-v, v] instead (the seed's clip)",
    "batch_size": "sequences per training step, per process: under torchrun the global batch is WORLD_SIZE times this "
    "(default: 64; `rnnkit text train --stream`: 32 rows)",
    "max_steps": "training steps; the learning-rate schedule spans them (default: 5000, or with --max-time alone "
    "as many as fit; with --resume: the new total)",
    "max_time": "stop after this many seconds of training, evaluations included; alone, the cosine schedule follows "
    "the clock down to --min-lr (with --resume: seconds more, the earlier sessions' time aside)",
    "eval_every": "evaluate, print samples and checkpoint every this many steps",
    "patience": "stop after this many evaluations without a better validation loss",
    "seed": "seed of every random choice (weights, data order, dropout)",
    "num_samples": "samples printed at each evaluation (--stream: one text of 60 characters per sample)",
    # data
    "data": "'surnames' (the bundled 88,799 US Census surnames) or a UTF-8 text file, one item per line "
    "(with --stream: any text)",
    "val_data": "a separate validation file, instead of holding out part of --data",
    "val_fraction": "share of --data held out for validation (at most --max-val items; --stream: the last part; "
    "not with --val-data)",
    "max_val": "most items held out for validation (not with --val-data)",
    "dedupe": "drop repeated items",
    "stream": "read --data as one stream of characters (prose, code, lyrics) and learn it with truncated BPTT, "
    "instead of one item per line",
    "seq_length": "--stream: characters each row reads per step, the length of truncated BPTT (100 when not given)",
    "shift_rows": "--stream: each epoch after the first, start the rows at a random offset below --seq-length "
    "(from --seed), so truncated BPTT cuts the text in new places (default: on; --no-shift-rows keeps char-rnn's "
    "fixed rows)",
    "reverse": "read each name right to left (last character first); sampling and scores still give names left to "
    "right, but --prefix cannot apply. An ensemble of runs read both ways is the mixture of the names' probabilities",
}
THREADS_HELP = "BLAS threads (default: the library's choice)"
