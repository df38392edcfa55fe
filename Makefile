# Two commands on a fresh machine:
#   make serve   set everything up and start the service (SQLite and the bundled model)
#   make test    set everything up and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo serve test lint bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/posture analyze sample_images/walk_side_f0128.jpg sample_images/frontal_man.jpg --overlay overlays || true

serve: setup
	$(BIN)/posture serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup
	bash scripts/test-deps.sh
	$(BIN)/ruff check .
	$(BIN)/pytest

bench: setup
	$(BIN)/python benchmarks/analyze_speed.py
