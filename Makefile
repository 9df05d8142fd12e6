# kerasprune: `make demo` runs the main job, `make test` the test suite.
# Both create .venv first and install the package with the exact versions of constraints.txt
# (pyproject.toml declares compatible ranges; constraints.txt pins what the tests run with).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench mutation constraints clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=3 $(PY) -m examples.quickstart $(ARGS)

# Two worker processes (pytest-xdist), one test module each at a time.
test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadscope $(ARGS)

$(VENV)/.bench: $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev,bench]"
	touch $(VENV)/.bench

bench: $(VENV)/.bench
	$(PY) -m bench.overhead $(ARGS)
	$(PY) -m bench.tflite $(ARGS)
	$(PY) -m bench.retrain $(ARGS)
	$(PY) -m bench.structured $(ARGS)

# Re-pin constraints.txt from the current venv (run after `make bench` so the bench extra is in).
constraints: $(STAMP)
	@{ sed -n '1,3p' constraints.txt; $(PY) -m pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt

# Mutation testing of the pure-numpy core (not part of CI): writes bench/RESULTS.md.
$(VENV)/.mutation: $(STAMP)
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev,mutation]"
	touch $(VENV)/.mutation

mutation: $(VENV)/.mutation
	nice -n 10 $(PY) -m bench.mutation $(ARGS)

clean:
	rm -rf $(VENV) out mutants
