# Developer commands; CI (.ci/run) runs the same ones.
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install lint format typecheck test bench check serve

install:
	python3 -m venv $(VENV)
	$(BIN)/pip install -e '.[dev]' -e ./clients/python

lint:
	$(BIN)/ruff check acl_service tests bench clients/python examples
	$(BIN)/ruff format --check acl_service tests bench clients/python examples

format:
	$(BIN)/ruff check --fix acl_service tests bench clients/python examples
	$(BIN)/ruff format acl_service tests bench clients/python examples

typecheck:
	$(BIN)/mypy --strict acl_service tests clients/python/src/acl_client

test:
	$(BIN)/pytest

# Needs wrk (apt-get install -y wrk).
bench:
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/decisions.py
	$(BIN)/python bench/batch_profile.py
	$(BIN)/python bench/server.py
	$(BIN)/python bench/client.py

check: lint typecheck test

serve:
	$(BIN)/acl-service serve
