# Every target installs what it needs into .venv from nothing (python3 -m venv + pip from PyPI).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo run test bench manifest lint clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m bot console

run: $(STAMP)
	$(PY) -m bot serve

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy --strict bot commands benchmarks

test: lint
	$(VENV)/bin/pytest -n 2

bench: $(STAMP)
	$(PY) -m benchmarks

manifest: $(STAMP)
	$(PY) -m bot manifest > manifest.yml.tmp && mv manifest.yml.tmp manifest.yml

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
