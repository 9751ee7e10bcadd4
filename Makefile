# relevent-gw developer entry points. `make run` and `make test` are the README's two set-up commands.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck unit deps model bench clean

run: $(STAMP)
	$(BIN)/relevent-gw demo

test: deps lint typecheck unit

deps: $(STAMP)
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || { \
	  echo "installing Debian mosquitto (test broker)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq mosquitto; }

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check relevent tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

# Regenerate the shipped default model from our own generator.
model: $(STAMP)
	$(BIN)/relevent-gw scl generate -o relevent/data/der_scheduler.cid

bench: $(STAMP)
	bench/run

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
