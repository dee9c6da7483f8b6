"""Engines: what computes a training step. The Trainer, the run directory and the checkpoints are one; the
engine behind them is either rnnkit's own NumPy code or torch.nn (on a GPU, and data-parallel under torchrun).

An engine is built from the NumPy model (its config and its initial weights) and speaks NumPy at its edges:
weights and optimizer moments go in and out as the NumPy engine's arrays, under the NumPy engine's names, so a
run trained on either engine resumes, samples and evaluates on either. Sampling always runs on the NumPy model.

    config.py         EngineConfig and the --engine/--device/--precision flags (no numpy: `rnnkit --help` is quick)
    batch.py          Batch, what every application hands an engine
    base.py           Engine, the interface the Trainer drives, and make_engine
    numpy_engine.py   rnnkit.nn and rnnkit.optim
    torch_engine.py   torch.nn, torch.optim, DistributedDataParallel (imported only for --engine torch)
    distributed.py    ranks from torchrun's environment, each rank's share of a batch
"""
