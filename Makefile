# One virtualenv (.venv) for everything; each target installs what is missing, then runs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
comma := ,
EXTRAS ?= dev
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: run test bench lint install sysdeps redis clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q -e '.[$(EXTRAS)]'
	touch $@

install: $(STAMP)

# Debian packages the tests and the service use; installed only when missing (needs root).
SYSPKGS := redis-server
sysdeps:
	@missing=$$(for p in $(SYSPKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

redis: sysdeps
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || \
		redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no

run: $(STAMP)
	$(PY) -m assistant

test: $(STAMP) redis
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy assistant tests bench

bench: $(STAMP) redis
	$(PY) -m bench.bus

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
