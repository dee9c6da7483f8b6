"""The language-model core the applications share: tokens in, a recurrent stack, the next token's distribution out.

    config.py    ModelConfig: the network's shape (numpy-free, so the command line builds its flags quickly)
    model.py     TokenModel: Embedding -> RecurrentStack -> dropout -> Linear, trained on (T, B) id batches
    vocab.py     TokenVocabulary: sorted tokens after one boundary id 0; each application says what a token is
    batches.py   padded time-major batches of whole sequences, for training and for evaluation
    sample.py    the logit filters (temperature, top-k, top-p) and the draw of the next ids
    evaluate.py  log-likelihoods (of sequences, and of each token) and the mean negative log-likelihood per token
    ensemble.py  Ensemble: several token models read as one, the mixture of their next-token distributions

The names (`rnnkit.text`) and the melodies (`rnnkit.music`) import this package, never each other; it imports
only the engine (`rnnkit.nn`, `rnnkit.kernels`).
"""
