# The two commands of the README. Each creates .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
JOURNEYCTL := $(VENV)/bin/journeyctl

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# The engine's hot modules compiled by mypyc (journeyctl/engine/native.py); the script returns
# at once when the build is current. Without a C compiler the engine stays pure Python.
.PHONY: demo test lint native
native: $(VENV)/.installed
	$(PY) scripts/build_native.py --optional

# The main job on the embedded defaults: stock sequences, example data, SQLite, file outbox.
# `run` signs unsubscribe links with UNSUBSCRIBE_SECRET and refuses to start without one: the
# demo uses a fixed, public value (your environment's wins). Never use it for real mail.
demo: export UNSUBSCRIBE_SECRET ?= demo-only-not-a-secret
demo: native
	$(JOURNEYCTL) validate sequences
	$(JOURNEYCTL) simulate sequences --contacts examples/contacts.csv --events examples/events.csv --start 2026-11-01 --days 30
	$(JOURNEYCTL) simulate sequences --contacts examples/contacts.csv --events examples/events.csv --start 2026-11-01 --days 30 --out demo.html
	rm -f demo.db && $(JOURNEYCTL) run sequences --db demo.db --contacts examples/contacts.csv --events examples/events.csv --now 2026-11-01T10:00:00+09:00
	@echo "delivered messages are in sequences/outbox/ ; state is in demo.db"

test: native
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check journeyctl tests
	$(VENV)/bin/ruff format --check journeyctl tests
