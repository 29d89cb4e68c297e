# Vigil: the two commands of the README, and what they build on.
#   make demo   set up, then run the demo (local Kafka + worker + sample stream + live summary)
#   make test   set up, then run the whole test suite (unit + integration on real Kafka)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test soak bench lint host venv jars

setup: host venv jars

host:
	bash deploy/setup-host.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

jars: venv
	$(PY) -m streams.localkafka fetch

demo: setup
	$(VENV)/bin/vigil demo

test: setup
	$(PY) -m pytest

soak: setup
	$(PY) -m pytest -m soak

bench: setup
	$(PY) bench/bench_enrich.py
	$(PY) bench/eval_drugs.py

lint: venv
	$(VENV)/bin/ruff check processors streams tests bench
	$(VENV)/bin/mypy processors
