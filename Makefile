# Two commands on a fresh machine: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test pulumi programs schema sdks bench campaign lint release-fixture clean

# make demo's own virtualenv: the package and its emulator extra, what the README's walkthrough
# installs; none of the test toolchain.
DEMO_VENV := .venv-demo
DEMO_STAMP := $(DEMO_VENV)/.installed

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@# setuptools reminds at every editable install that it is one; nothing to act on.
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# The Pulumi CLI in $(BIN): the one on the PATH if recent enough, else built from Pulumi's
# Go modules into a cache outside the checkout (a machine's first run only).
pulumi: $(STAMP)
	.ci/pulumi-cli.sh $(BIN)

$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/pip install --quiet --upgrade pip
	PYTHONWARNINGS=ignore::UserWarning $(DEMO_VENV)/bin/pip install --quiet -e '.[emulator]'
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	.ci/pulumi-cli.sh $(DEMO_VENV)/bin
	$(DEMO_VENV)/bin/python examples/demo.py

test: pulumi programs
	$(BIN)/python -m pytest -n 2 -q

# What the packaged provider's TypeScript, Go and Python programs need beyond their folders (npm
# packages, the packed Node.js SDK, the Python SDK's virtualenv, the Go program's build), made
# once per machine and content in ~/.cache/pulumi-astrokeys/programs: minutes the first time.
programs: pulumi
	$(BIN)/python tests/packaged_programs_support.py

# The SDKs in sdk/, regenerated from the provider plugin's schema by the CLI's own code
# generators; a test fails while the committed ones differ from a regeneration.
sdks: pulumi
	$(BIN)/python sdk/generate.py

# Ratios measured within one run, one line per figure; BENCH_QUICK=1 for a short run. On the
# real Pulumi CLI; the bench extra brings the profilers the README's findings came from.
bench: pulumi
	$(BIN)/python -c 'import pyinstrument' 2>/dev/null || PYTHONWARNINGS=ignore::UserWarning $(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m benchmarks

# A bigger fault campaign than the one in `make test` (which uses a fixed seed), on the real
# Pulumi CLI (about 9 s of CPU a run), with a seed drawn and printed; CAMPAIGN_SEED=<n>
# replays its programs and draws of faults (which request meets which draw still varies
# with timing).
CAMPAIGN_RUNS ?= 100
CAMPAIGN_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
CAMPAIGN_SEED ?= draw
campaign: pulumi
	CAMPAIGN_RUNS=$(CAMPAIGN_RUNS) CAMPAIGN_WORKERS=$(CAMPAIGN_WORKERS) CAMPAIGN_SEED=$(CAMPAIGN_SEED) \
		$(BIN)/python -m pytest -q tests/test_fault_campaign.py

# The fixture of this checkout as a release, for the upgrade tests: run it at each release, from a
# clean checkout of the release's commit (CONTRIBUTING.md, Releases).
release-fixture: pulumi
	$(BIN)/python tests/fixtures/releases/record.py --commit $$(git rev-parse --short HEAD) --release \
		$$($(BIN)/python -c 'import pulumi_astrokeys; print(pulumi_astrokeys.__version__)')-$$(git rev-parse --short HEAD)

# The provider plugin's schema, committed as schema.json (a test fails when it differs from a generation).
schema: $(STAMP)
	$(BIN)/python -m pulumi_astrokeys.plugin.schema > schema.json

# Static checks: ruff (errors, imports, likely bugs) and mypy, strict, over the typed package.
lint: $(STAMP)
	$(BIN)/ruff check pulumi_astrokeys tests benchmarks examples sdk/generate.py
	$(BIN)/mypy pulumi_astrokeys

clean:
	rm -rf $(VENV) $(DEMO_VENV) .demo .pytest_cache
