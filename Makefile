# engage-models: `make report` runs the whole job on the demo data, `make test` runs the tests.
# Both build the virtual environment first when it is missing or older than pyproject.toml.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.engage-installed
KERNEL := engage-models
ARGS   ?=
# Test workers (pytest-xdist): one per core the process may use (nproc), at most 4 (each builds its own session
# worlds); `make test WORKERS=1` runs in one process. A test file stays on one worker (--dist loadfile), so its
# module fixtures are built once.
WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n > 4 ? 4 : n )))
XDIST   := $(if $(filter 0 1,$(WORKERS)),,-n $(WORKERS) --dist loadfile)

# Report language: `make report LANG=ja` (or REPORT_LANG=ja). LANG is also the shell's locale variable
# (LANG=en_US.UTF-8 ...), which make imports from the environment; only a LANG given on the make command
# line picks the report language, and the recipes then get a UTF-8 locale back instead of "ja".
REPORT_LANG ?= en
ifeq ($(origin LANG),command line)
REPORT_LANG := $(LANG)
override LANG := C.UTF-8
endif
# Run date (names reports/<date>/): `make report RUN_DATE=2026-01-31`; default today in UTC.
RUN_DATE ?=
RUN_ARGS := --lang $(REPORT_LANG) $(if $(RUN_DATE),--run-date $(RUN_DATE))

.DEFAULT_GOAL := help
.PHONY: help env report test test-all lab demo-data benchmark lint lock clean-data clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml requirements-lock.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements-lock.txt -e '.[dev,spark]'
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (engage-models)"
	@$(PY) -c "from engage_models.features.engine import spark_unavailable as u; print('Spark engine:', u() or 'ready')"
	@touch $(STAMP)

env: $(STAMP) ## build .venv with pip (pinned by requirements-lock.txt, Spark extra included), register the kernel

report: env ## main job: demo world if data/raw is empty, ingest, notebooks -> reports/ (LANG=ja for Japanese)
	$(PY) -m engage_models run $(RUN_ARGS) $(ARGS)

test: env ## run the tests, notebooks included
	$(PY) -m pytest $(XDIST) $(ARGS)

test-all: env ## run every test, the extended sweeps too (pytest --extended; about twice as long)
	$(PY) -m pytest $(XDIST) --extended $(ARGS)

lab: env ## open JupyterLab on the project's environment
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

demo-data: env ## (re)generate the demo world into data/raw
	$(PY) -m engage_models simulate --out data/raw $(ARGS)

benchmark: env ## time simulation and ingest (ARGS="--accounts 20000" for a bigger run)
	$(PY) benchmarks/bench_simulate_ingest.py $(ARGS)

lint: env ## ruff on the package, tests and notebooks
	$(VENV)/bin/ruff check src tests benchmarks notebooks

lock: env ## refresh requirements-lock.txt from the current environment
	$(PY) -m pip freeze --exclude-editable --exclude engage-models > requirements-lock.txt

clean-data: ## delete generated data and reports (keeps the folders)
	find data/raw data/processed reports -mindepth 1 ! -name .gitkeep -exec rm -rf {} +

clean: clean-data ## also delete the virtual environment
	rm -rf $(VENV)
