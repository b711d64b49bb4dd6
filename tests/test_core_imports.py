"""Import boundaries at run time: the core loads no console library, the console no
scheduling library (the static arrows are import-linter's, in test_architecture.py)."""

from __future__ import annotations

import subprocess
import sys
import pytest

CORE_MODULES = [
    "synctui.config",
    "synctui.scheduler",
    "synctui.scheduler.runner",
    "synctui.scheduler.store",
    "synctui.scheduler.events",
    "synctui.scheduler.callable_child",
    "synctui.scheduler.metrics",
    "synctui.scheduler.hooks",
    "synctui.scheduler.health",
    "synctui.scheduler.clock",
    "synctui.scheduler.words",
    "synctui.log_format",
]


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_imports_neither_textual_nor_rich(module):
    probe = (
        f"import sys, {module}; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'rich'}))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_the_console_loads_no_apscheduler():
    # The console reaches its scheduler through `ConsoleBackend` only: opening it costs no
    # scheduling library until the command line builds the backend.
    probe = (
        "import sys, synctui.tui.app; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'apscheduler'))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
