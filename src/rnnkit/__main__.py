"""`python -m rnnkit ...`, which torchrun runs as `torchrun --nproc-per-node N -m rnnkit text train ...`."""

import sys

from rnnkit.cli import main

sys.exit(main())
