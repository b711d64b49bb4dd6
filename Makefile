# Every target does its own set-up: a fresh machine needs nothing but python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench tools clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Tools the tests drive from outside Python: tmux (end-to-end) and setpriv (util-linux).
tools:
	@command -v tmux >/dev/null && command -v setpriv >/dev/null || \
	  { apt-get update -qq && apt-get install -y -qq tmux util-linux >/dev/null; }

demo: $(STAMP)
	$(BIN)/synctui --demo

# Each test has its own timeout (pyproject.toml), but pytest-timeout stops timing a test
# once it has failed, so a hang in its teardown would go on forever: bound the whole run.
test: $(STAMP) tools
	timeout --kill-after=30 1200 $(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
