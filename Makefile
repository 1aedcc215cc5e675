# `make demo` and `make test` each set everything up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-fast lint bench-setup bench clean

setup: $(STAMP)

# torch goes in first, through the constraints, so that nothing later pulls a different build.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt torch
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(VENV)/bin/genzoo demo

test: setup
	$(PY) -m pytest -n 2 -q

test-fast: setup
	$(PY) -m pytest -n 2 -q -m "not slow"

# the libraries bench/ compares against (pythae for bench/vae.py; diffusers and
# denoising-diffusion-pytorch for bench/diffusion.py and bench/time_to_quality.py)
bench-setup: setup
	$(PY) -m pip install -q -c constraints.txt -e '.[bench]'
	$(PY) -m pip install -q -c constraints.txt --no-deps denoising-diffusion-pytorch==2.3.4

# every benchmark, each printing its tables and writing bench/results/*.json (bench/RESULTS.md
# gives each one's time: several hours in all on 2 CPU cores; each script also runs by section)
bench: bench-setup
	cd bench && ../$(PY) data_load.py && ../$(PY) metric_floors.py && ../$(PY) throughput.py
	cd bench && ../$(PY) autoencoders.py && ../$(PY) vae.py
	cd bench && ../$(PY) gan.py toy mnist budget stylegan translation
	cd bench && ../$(PY) diffusion.py
	cd bench && ../$(PY) time_to_quality.py

lint: setup
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/ruff format --check src tests

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
