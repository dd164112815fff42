# The two commands of the README. Each creates its venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
# The compiled wheel a user gets from `pip install .` / `pipx install .`, with the dev extras so
# the suite can run against it too (`make test-wheel`, CI).
WHEEL_VENV ?= .venv-wheel
PYW := $(WHEEL_VENV)/bin/python
JOURNEYCTL := $(WHEEL_VENV)/bin/journeyctl

# The developer's install: editable, so it runs the engine's Python source (no compiling).
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# The wheel build compiles the engine's hot modules with mypyc (hatch_build.py, about a minute),
# again only when the package changes. Without a C compiler it says so and builds the same
# wheel uncompiled (HATCH_BUILD_NO_HOOKS): the engine then runs as pure Python.
WHEEL_INPUTS := pyproject.toml hatch_build.py $(shell find journeyctl sequences -type f -not -name '*.pyc' -not -path 'sequences/outbox/*')
$(WHEEL_VENV)/.installed: $(WHEEL_INPUTS)
	test -x $(PYW) || python3 -m venv $(WHEEL_VENV)
	$(PYW) -m pip install -q --upgrade pip
	rm -rf dist
	$(PYW) -m pip wheel -q --no-deps -w dist . || { \
	  echo "engine not compiled (no C compiler?): building it as pure Python" >&2; \
	  HATCH_BUILD_NO_HOOKS=true $(PYW) -m pip wheel -q --no-deps -w dist .; }
	$(PYW) -m pip install -q --force-reinstall --no-deps dist/journeyctl-*.whl
	$(PYW) -m pip install -q "$$(echo dist/journeyctl-*.whl)[dev]"
	touch $@

.PHONY: demo test test-wheel lint

# The main job on the embedded defaults: stock sequences, example data, SQLite, file outbox.
# `run` signs unsubscribe links with UNSUBSCRIBE_SECRET and refuses to start without one: the
# demo uses a fixed, public value (your environment's wins). Never use it for real mail.
demo: export UNSUBSCRIBE_SECRET ?= demo-only-not-a-secret
demo: $(WHEEL_VENV)/.installed
	$(JOURNEYCTL) --version
	$(JOURNEYCTL) validate sequences
	$(JOURNEYCTL) simulate sequences --contacts examples/contacts.csv --events examples/events.csv --start 2026-11-01 --days 30
	$(JOURNEYCTL) simulate sequences --contacts examples/contacts.csv --events examples/events.csv --start 2026-11-01 --days 30 --out demo.html
	rm -f demo.db && $(JOURNEYCTL) run sequences --db demo.db --contacts examples/contacts.csv --events examples/events.csv --now 2026-11-01T10:00:00+09:00
	@echo "delivered messages are in sequences/outbox/ ; state is in demo.db"

# The suite on the source (the editable install).
test: $(VENV)/.installed
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The suite on the installed compiled wheel, as CI runs it after `make test`: from a copy of
# the tree without journeyctl/, so every import (the tests', `python -m journeyctl` in their
# subprocesses) finds the wheel, not the source; JOURNEYCTL_PURE_SOURCE names the source for
# the differential tests (tests/engines.py); JOURNEYCTL_EXPECT_NATIVE=1 fails an uncompiled wheel.
test-wheel: $(WHEEL_VENV)/.installed
	tree=$$(mktemp -d) && \
	tar -cf - --exclude=./journeyctl --exclude='./.venv*' --exclude=./.git --exclude=./dist \
	  --exclude=__pycache__ . | tar -xf - -C "$$tree" && \
	( cd "$$tree" && JOURNEYCTL_EXPECT_NATIVE=1 JOURNEYCTL_PURE_SOURCE="$(CURDIR)" \
	  "$(abspath $(PYW))" -m pytest -q $(PYTEST_ARGS) ); \
	status=$$?; rm -rf "$$tree"; exit $$status

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check journeyctl tests
	$(VENV)/bin/ruff format --check journeyctl tests
