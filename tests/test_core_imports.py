"""Import boundaries: the core loads no console library, the console no scheduler of its own."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import synctui.tui

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


CONCRETE_BACKENDS = {
    "synctui.scheduler.sync_scheduler", "synctui.scheduler.shared",
    "synctui.scheduler.fallback", "synctui.scheduler.control_client",
}


def _imported(tree: ast.AST) -> set[str]:
    """Every module an import statement of `tree` names, and each `from` import's names."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_console_imports_no_concrete_scheduler():
    tui = Path(synctui.tui.__file__).parent
    found = {
        str(path.relative_to(tui)): sorted(_imported(ast.parse(path.read_text())) & CONCRETE_BACKENDS)
        for path in sorted(tui.rglob("*.py"))
    }
    assert {path: modules for path, modules in found.items() if modules} == {}
