"""What test_engines' data-parallel tests run under torchrun.

ddp_worker.py ARGS...        `rnnkit ARGS`, with a Ctrl-C on every rank during training batch
                             RNNKIT_TEST_STOP_AT (the real path: each rank's handler sets its flag)
ddp_worker.py --carried OUT  the torch engine on a carried stream: 8 steps, the carried state gathered and
                             handed back after step 4 (as a checkpoint and resume do); rank 0 saves OUT.npz
"""

import os
import signal
import sys

import numpy as np

from rnnkit import cli
from rnnkit.text import train as text_train


def carried(out: str) -> None:
    from test_engines import CARRIED_CONFIG, TORCH64, _carried

    from rnnkit.engines.base import make_engine
    from rnnkit.lm.config import ModelConfig
    from rnnkit.lm.model import TokenModel

    vocab_size, batches, _ = _carried(8)  # global batches of 8 rows; each rank keeps 4
    model = TokenModel(ModelConfig("lstm", 12, 2, 6, 0.0), vocab_size, seed=7, dtype=np.float64)
    engine = make_engine(TORCH64, model, CARRIED_CONFIG)
    losses = []
    for step, batch in enumerate(batches):
        losses.append(engine.forward_backward(batch, step)[0])
        engine.update(0.02)
        if step == 3:
            engine.load_carried_state(engine.carried_state())
    state = engine.carried_state()
    if engine.world.master:
        np.savez(out, losses=np.array(losses), **engine.export_params(), **{f"carry.{k}": v for k, v in state.items()})
    engine.close()


if sys.argv[1:2] == ["--carried"]:
    sys.path.insert(0, os.path.dirname(__file__))
    carried(sys.argv[2])
    sys.exit(0)

stop_at = int(os.environ.get("RNNKIT_TEST_STOP_AT", "0"))
if stop_at:
    original, calls = text_train.NameTask.next_batch, {"n": 0}

    def interrupting(self):
        calls["n"] += 1
        if calls["n"] == stop_at:
            os.kill(os.getpid(), signal.SIGINT)
        return original(self)

    text_train.NameTask.next_batch = interrupting

code = cli.main(sys.argv[1:])
# an interrupted run saves and exits 128 + SIGINT, which torchrun would count as a failed worker
sys.exit(0 if stop_at and code == 128 + signal.SIGINT else code)
