# Two commands on a fresh machine: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-all bench campaign lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m pulumi_astrokeys.demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

# Ratios measured within one run, one line per figure; BENCH_QUICK=1 for a short run.
bench: $(STAMP)
	$(BIN)/python -m benchmarks

test-all: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m ""

clean:
	rm -rf $(VENV) .demo .pytest_cache
