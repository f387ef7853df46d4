# The two commands of the README. Both create .venv and install sqlorch into it first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("sqlorch needs Python 3.11 or newer; set PYTHON=python3.11") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@# bytecode now, as a non-editable install would: start-up does not recompile sqlorch (even
	@# where PYTHONDONTWRITEBYTECODE is set)
	$(BIN)/python -m compileall -q sqlorch
	touch $@

run: $(VENV)/.installed
	$(BIN)/sqlorch run

test: $(VENV)/.installed
	$(BIN)/python -m pytest --cov=sqlorch --cov-report=term-missing:skip-covered --cov-fail-under=90

# The benchmark suite (benchmarks/run.py), backtrader and vectorbt included (extra "bench").
bench: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	$(BIN)/python -m compileall -q sqlorch
	$(BIN)/python benchmarks/run.py all

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis .coverage
