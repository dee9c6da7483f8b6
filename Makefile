# The README's commands. Each creates .venv from pyproject.toml when it is missing.
#   make demo    train a name model for about two minutes, print new surnames, then write melodies (one over chords)
#   make test    the test suite (installs the test extra: pytest, hypothesis, torch as the oracle)
#   make bench   the engine speed benchmark against torch, then the numpy and torch engines side by side
#   make screenshots  retake the README's pictures of `rnnkit serve` (docs/*.png) with the browser tests
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CORE   := $(VENV)/.installed-core
STAMP  := $(VENV)/.installed
DEMO   := runs/demo

.PHONY: test demo bench screenshots lint clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# runtime dependencies only (numpy, tqdm, matplotlib, safetensors, mido, threadpoolctl, numba)
$(CORE): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	touch $(CORE)

# the test extra on top (torch==2.13.0 pinned: the CPU build these machines carry)
$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP) $(CORE)

demo: $(CORE)
	@mkdir -p $(DEMO)
	@run=$(DEMO)/names-$$(date +%Y%m%d-%H%M%S); \
	echo "== Training a name model on the 88,799 US Census surnames for about two minutes -> $$run"; \
	$(BIN)/rnnkit text train --out $$run --max-time 120 --eval-every 250 && \
	echo && echo "== 20 new surnames (not in the training data):" && \
	$(BIN)/rnnkit text sample $$run -n 20 --novel --seed 1 && \
	echo && echo "== Loss curves: $$run/loss.png" && \
	mus=$(DEMO)/music-$$(date +%Y%m%d-%H%M%S); \
	echo && echo "== Training a small melody model (the seed's LSTM 64) on Bach chorale soprano lines -> $$mus" && \
	$(BIN)/rnnkit music train --preset seed --epochs 40 --out $$mus --quiet && \
	$(BIN)/rnnkit music generate $$mus --steps 64 --seed 0 --out $$mus/song.mid --png $$mus/song.png && \
	echo "== Melody: $$mus/song.mid  piano roll: $$mus/song.png  (loss curves: $$mus/loss.png)" && \
	$(BIN)/rnnkit music generate --chords "C G/B Am F | Dm G C C" --seed 0 --out $$mus/over-chords.mid \
		--png $$mus/over-chords.png && \
	echo "== Over chords (the bundled chord model): $$mus/over-chords.mid  piano roll: $$mus/over-chords.png"

# torch is the peer in the benchmark, so it needs the test extra; BENCH_ARGS=--json for machines.
# engine.py runs itself without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE and prints the BLAS kernel it got.
bench: $(STAMP)
	$(BIN)/python benchmarks/engine.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/engines.py $(BENCH_ARGS)

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/python -m pytest

# the browser tests write their screenshots to a temporary folder unless asked to update docs/
screenshots: $(STAMP)
	RNNKIT_UPDATE_SCREENSHOTS=1 $(BIN)/python -m pytest tests/test_serve_browser.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
