"""Shared fixtures: small data files and a tiny trained name model, so end-to-end tests stay fast."""

from __future__ import annotations

import pytest

from rnnkit import cli
from rnnkit.text.data import load_surnames

TINY = ["--hidden-size", "16", "--embedding-size", "8", "--batch-size", "16", "--num-samples", "2", "--quiet"]


@pytest.fixture(scope="session")
def names_file(tmp_path_factory):
    """400 real surnames, one per line."""
    path = tmp_path_factory.mktemp("data") / "names.txt"
    path.write_text("\n".join(load_surnames()[:400]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, names_file):
    """A name model trained for 40 steps on names_file."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    code = cli.main(
        [
            "text",
            "train",
            "--data",
            str(names_file),
            "--out",
            str(out),
            "--max-steps",
            "40",
            "--eval-every",
            "20",
            *TINY,
        ]
    )
    assert code == 0
    return out


def pytest_terminal_summary(terminalreporter):
    """Report the largest float64 differences from torch (test_engine_torch.py) and from central differences."""
    import sys

    checks = sys.modules.get("gradcheck")
    if checks is not None and checks.WORST["checked"]:
        terminalreporter.write_line(
            f"gradient checks: {checks.WORST['checked']} gradients against central differences, "
            f"largest relative error {checks.WORST['error']:.1e}"
        )
    twins = sys.modules.get("torch_twins")
    if twins is not None and twins.LARGEST["compared"]:
        d = twins.LARGEST
        terminalreporter.write_line(
            f"engine vs torch (float64): {d['compared']:,} values compared, largest difference "
            f"{d['abs']:.1e} absolute, {d['rel']:.1e} relative"
        )


@pytest.fixture(scope="session")
def serve_models():
    """create_app's arguments for the bundled surnames and Bach models, loaded once (rnnkit serve's defaults)."""
    from rnnkit.serve.server import load_models

    return load_models()
