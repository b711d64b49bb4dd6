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

test: $(STAMP) tools
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
