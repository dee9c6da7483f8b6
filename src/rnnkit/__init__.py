"""rnnkit: recurrent neural networks written from scratch in NumPy, and the generators built on them.

Layers: the engine (`rnnkit.nn`, `rnnkit.optim`) <- the language-model core (`rnnkit.lm`) <- the applications
(`rnnkit.text`, `rnnkit.music`) <- `rnnkit.cli`.
`rnnkit.reference` keeps the seed's step-by-step functions in the seed's notation, for reading.
"""

__version__ = "0.1.0"
