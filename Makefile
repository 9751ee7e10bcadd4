# relevent-gw developer entry points. `make run` and `make test` are the README's two set-up commands.
# `make run ARGS="--mms-port 10103 --http-port 8611"` hands ARGS to `relevent-gw demo`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint typecheck unit deps model bench completion clean

run: $(STAMP)
	@$(call apt_install,mosquitto)
	$(BIN)/relevent-gw demo $(ARGS)

test: deps lint typecheck unit

# Debian packages driven for real: the broker (demo and tests), the browser of the status-page test,
# openssl for test certificates, systemd-analyze for the unit file, strace for the unit's system call
# filter, libfaketime for wall-clock steps, nft for the shipped firewall rules.
TEST_PACKAGES := mosquitto chromium openssl systemd strace faketime nftables

# $(call apt_install,PACKAGES): install those of PACKAGES that are missing (sudo unless root).
define apt_install
missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
if [ -n "$$missing" ]; then \
  echo "installing Debian packages: $$missing"; \
  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
fi
endef

deps: $(STAMP)
	@$(call apt_install,$(TEST_PACKAGES))

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check relevent tests bench hatch_build.py

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

# Regenerate the shipped default model from our own generator.
model: $(STAMP)
	$(BIN)/relevent-gw scl generate -o relevent/data/der_scheduler.cid

# Shell completion (bash, zsh) and man pages from the parsers, into build/.
completion: $(STAMP)
	mkdir -p build/completion build/man
	for prog in relevent-gw relevent-ctl; do \
	  $(BIN)/python -m relevent.completion bash $$prog > build/completion/$$prog.bash; \
	  $(BIN)/python -m relevent.completion zsh $$prog > build/completion/_$$prog; \
	  $(BIN)/python -m relevent.completion man $$prog > build/man/$$prog.1; \
	done

bench: deps
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/run

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build
