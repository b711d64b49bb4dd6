# Every target does its own set-up: a fresh machine needs nothing but python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WHEELS := build/wheel
LIBFAKETIME := /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1

# The end-to-end tests drive what a user gets: the wheel, installed (not editable) in a
# venv of its own. That venv lives outside the checkout and is made from the system's
# python3 when it is 3.11 or newer, so that the users the tests switch to can read it
# wherever the checkout is (a clone in root's 0700 home included).
INSTALL_PYTHON ?= $(shell /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  2>/dev/null && echo /usr/bin/python3 || echo $(PYTHON))
INSTALLED ?= /tmp/synctui-installed-$(shell id -u)-$(shell printf %s "$(CURDIR)" | cksum | cut -d' ' -f1)

.PHONY: demo test bench soak fuzz tools installed clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Tools the tests drive from outside Python: tmux (end-to-end), setpriv and flock
# (util-linux), Chromium with its chromedriver (the served console in a real browser),
# nginx (the README's reverse proxy in front of it) and libfaketime (clock steps).
tools:
	@command -v tmux >/dev/null && command -v setpriv >/dev/null && command -v chromium >/dev/null \
	  && command -v chromedriver >/dev/null && PATH="$$PATH:/usr/sbin" command -v nginx >/dev/null \
	  && test -e $(LIBFAKETIME) || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux util-linux \
	      chromium chromium-driver nginx-light faketime >/dev/null; }

# Built afresh every time from a clean build directory (a stale build/lib can put files in
# a wheel that the package data no longer names); synctui itself is reinstalled, its
# dependencies only when they change.
installed: $(STAMP)
	rm -rf build *.egg-info
	$(BIN)/python -m build --wheel --no-isolation --outdir $(WHEELS) . >/dev/null
	@test ! -e $(INSTALLED) -o -O $(INSTALLED) || { echo "$(INSTALLED) is not ours"; exit 2; }
	umask 022 && { test -x $(INSTALLED)/bin/python || $(INSTALL_PYTHON) -m venv $(INSTALLED); } \
	  && $(INSTALLED)/bin/python -m pip install --quiet --disable-pip-version-check $(WHEELS)/synctui-*.whl \
	  && $(INSTALLED)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
	       --force-reinstall $(WHEELS)/synctui-*.whl

demo: $(STAMP)
	$(BIN)/synctui --demo

# Each test has its own timeout (pyproject.toml), but pytest-timeout stops timing a test
# once it has failed, so a hang in its teardown would go on forever: bound the whole run.
test: installed tools
	SYNCTUI_INSTALLED=$(INSTALLED) timeout --kill-after=30 1200 $(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

# The fault campaign (an hour; MINUTES=, SEED= to change) and fuzzing by the ten thousand;
# figures in RELIABILITY.md. The soak needs libfaketime (tools) and, for its full-disk
# phase, root (it mounts a small tmpfs).
MINUTES ?= 60
SEED ?= 1
soak: $(STAMP) tools
	$(BIN)/python bench/soak.py --minutes $(MINUTES) --seed $(SEED)

fuzz: $(STAMP)
	$(BIN)/python bench/fuzz.py

clean:
	rm -rf $(VENV) $(INSTALLED) build *.egg-info .pytest_cache
