# The two commands of the README. Both create .venv and install sqlorch into it first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench screenshot clean

# What running needs (`make run`); the test tools come with `make test` (.tested).
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("sqlorch needs Python 3.11 or newer; set PYTHON=python3.11") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	@echo "installing sqlorch and what it needs to run into $(VENV) (about a minute the first time)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@# bytecode now, as a non-editable install would: start-up does not recompile sqlorch (even
	@# where PYTHONDONTWRITEBYTECODE is set)
	$(BIN)/python -m compileall -q sqlorch
	touch $@

$(VENV)/.tested: $(VENV)/.installed
	@echo "installing the test tools into $(VENV) (pytest, hypothesis, Ray, the DuckDB CLI)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# The compiled engine, in numba's cache beside its sources: compiled once here (about 20 s), so
# the first run compiles nothing. numba notices changes to kernel.py alone, not to the modules
# compiled into it, so a change to any of them recompiles it from scratch.
KERNEL := sqlorch/engine/kernel.py sqlorch/engine/arith.py sqlorch/engine/layout.py sqlorch/engine/features.py \
	sqlorch/grid/overfitting.py sqlorch/backtest/kernels.py
$(VENV)/.compiled: $(VENV)/.installed $(KERNEL)
	rm -f sqlorch/engine/__pycache__/*.nbi sqlorch/engine/__pycache__/*.nbc
	@echo "compiling the engine (about 20 s, once)"
	$(BIN)/python -m sqlorch.engine.warm
	$(BIN)/python -m sqlorch.grid.overfitting
	$(BIN)/python -c 'import sqlorch.backtest.kernels as k; k.warm()'
	touch $@

run: $(VENV)/.compiled
	$(BIN)/sqlorch run
	@echo
	@echo "The sqlorch command is in $(BIN): run it as $(BIN)/sqlorch, or first: source $(BIN)/activate"

test: $(VENV)/.compiled $(VENV)/.tested
	$(BIN)/python -m pytest --cov=sqlorch --cov-report=term-missing:skip-covered --cov-fail-under=90

# The benchmark suite (benchmarks/run.py), backtrader and vectorbt included (extra "bench").
bench: $(VENV)/.compiled
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(BIN)/python -m compileall -q sqlorch
	$(BIN)/python benchmarks/run.py all

# docs/report.png, the README's picture of the demo run's HTML report (needs Chromium).
screenshot: $(VENV)/.compiled
	$(BIN)/python scripts/screenshot.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis .coverage
