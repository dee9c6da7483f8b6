"""What test_engines' data-parallel test runs under torchrun: `rnnkit` itself, with a Ctrl-C on every rank during
training batch RNNKIT_TEST_STOP_AT (the real path: each rank's handler sets its flag; the ranks agree to stop)."""

import os
import signal
import sys

from rnnkit import cli
from rnnkit.text import train as text_train

stop_at = int(os.environ.get("RNNKIT_TEST_STOP_AT", "0"))
if stop_at:
    original, calls = text_train.NameTask.next_batch, {"n": 0}

    def interrupting(self):
        calls["n"] += 1
        if calls["n"] == stop_at:
            os.kill(os.getpid(), signal.SIGINT)
        return original(self)

    text_train.NameTask.next_batch = interrupting

sys.exit(cli.main(sys.argv[1:]))
