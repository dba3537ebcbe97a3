# Loader Lab. Two commands do all set-up:  `make lab`  and  `make test`.
# Both create .venv (Python 3.11) and install requirements.txt + helpers/ when missing.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.ipynb))
# Jupyter refuses to run as root unless told; containers and CI machines often are root.
LAB_ARGS  ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: help lab test notebooks bench gpu-check check lint format clean

help:
	@echo "make lab        open the notebooks in JupyterLab (sets up .venv first if needed)"
	@echo "make test       unit tests + every notebook re-executed by nbval (worker notebooks"
	@echo "                also under the spawn start method, as on macOS and Windows)"
	@echo "make check      environment check for workshop attendees"
	@echo "make notebooks  re-execute notebooks in place and strip volatile metadata"
	@echo "make bench      benchmarks outside Jupyter; results/ gets JSON and PNG"
	@echo "make gpu-check  on a CUDA machine: train and copy on the GPU (needs only torch, numpy,"
	@echo "                psutil, matplotlib, tqdm; no .venv); exits 0 only if the GPU was used"
	@echo "make lint       ruff over helpers, tests and notebooks"
	@echo "make clean      remove data/generated, results and caches (keeps .venv)"

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 11) else \
		"Loader Lab needs Python 3.11; $(PYTHON) is %d.%d. Use PYTHON=python3.11 make ..." % v)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -e .
	@touch $@

lab: $(STAMP)
	$(BIN)/python -m helpers.check_env --quiet
	$(BIN)/jupyter lab $(LAB_ARGS) notebooks/

# Unit tests, lint and format checks, every notebook under nbval; then the notebooks that
# start worker processes once more under the `spawn` start method (macOS, Windows).
test: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/python tools/nbval_spawn.py

check: $(STAMP)
	$(BIN)/python -m helpers.check_env

notebooks: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.timeout=600 $(NOTEBOOKS)
	$(BIN)/python tools/clean_notebooks.py $(NOTEBOOKS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# No .venv on purpose: a GPU machine may have only PyTorch and a few light packages.
gpu-check:
	$(PYTHON) benchmarks/gpu_check.py

lint: $(STAMP)
	$(BIN)/ruff check helpers tests tools benchmarks data notebooks

format: $(STAMP)
	$(BIN)/ruff format helpers tests tools benchmarks data notebooks

clean:
	rm -rf data/generated results .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +
