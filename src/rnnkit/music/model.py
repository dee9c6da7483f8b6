"""The melody model: the seed's djmodel, one LSTM and one softmax layer shared across the Tx steps.

    ids (T, B) -> Embedding (E) -> RecurrentStack (H, lstm by default) -> dropout -> Linear (V) -> softmax

It is the same network as the name model (`rnnkit.text.model.CharModel`), which is shared rather than copied:
a melody token (pitch, duration) plays the part of a character. The embedding lookup W[id] is exactly the
seed's one-hot input times a weight matrix. Only the defaults and the presets differ; they live in
`rnnkit.music.config`.
"""

from __future__ import annotations

from rnnkit.text.model import CharModel

MelodyModel = CharModel  # forward(ids (T, B)) -> logits (T, B, V); step_logits(ids (B,), states) for generation
