# The two commands of the README. Each creates .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
JOURNEYCTL := $(VENV)/bin/journeyctl

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

.PHONY: demo test lint
# The main job on the embedded defaults: stock sequences, example data, SQLite, file outbox.
demo: $(VENV)/.installed
	$(JOURNEYCTL) validate sequences
	$(JOURNEYCTL) simulate sequences --contacts examples/contacts.csv --events examples/events.csv --start 2026-11-01 --days 30
	rm -f demo.db && $(JOURNEYCTL) run sequences --db demo.db --contacts examples/contacts.csv --events examples/events.csv --now 2026-11-01T10:00:00+09:00
	@echo "delivered messages are in sequences/outbox/ ; state is in demo.db"

test: $(VENV)/.installed
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check journeyctl tests
	$(VENV)/bin/ruff format --check journeyctl tests
