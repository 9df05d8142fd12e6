# kerasprune: `make demo` runs the main job, `make test` the test suite.
# Both create .venv and install the pinned dependencies from pyproject.toml first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m examples.quickstart $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(ARGS)

$(VENV)/.bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	touch $(VENV)/.bench

bench: $(VENV)/.bench
	$(PY) -m bench.overhead $(ARGS)
	$(PY) -m bench.tflite $(ARGS)
	$(PY) -m bench.retrain $(ARGS)
	$(PY) -m bench.structured $(ARGS)

clean:
	rm -rf $(VENV) out
