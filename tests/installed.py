"""The wheel, installed as a user installs it in a venv of its own: what end-to-end tests drive.

`make test` builds the wheel from the checkout, installs it (not editable) into that venv
and names it in `SYNCTUI_INSTALLED`. The tests that run `synctui` as a process take it
from there, never from the checkout, so a file the wheel leaves out fails them.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

INSTALLED = Path(os.environ.get("SYNCTUI_INSTALLED", "/nonexistent/SYNCTUI_INSTALLED-unset"))
PYTHON = str(INSTALLED / "bin" / "python")
"""The installed venv's interpreter: `python -m synctui` as a user runs it."""
SYNCTUI = str(INSTALLED / "bin" / "synctui")
"""The installed console script."""
CHECKOUT = Path(__file__).resolve().parent.parent


def imported_package(env: dict[str, str], cwd: Path) -> Path:
    """Where the installed interpreter imports `synctui` from, run as the tests run it."""
    done = subprocess.run(
        [PYTHON, "-c", "import synctui; print(synctui.__file__)"],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=30,
    )
    if done.returncode != 0:
        raise pytest.UsageError(f"{PYTHON} cannot import synctui: {done.stderr.strip()}")
    return Path(done.stdout.strip()).resolve().parent


def check_installed(env: dict[str, str]) -> None:
    """Refuse a session whose end-to-end tests would not drive the installed wheel."""
    if not Path(SYNCTUI).is_file():
        raise pytest.UsageError(
            f"no installed synctui at {SYNCTUI}: run the tests with `make test`, which builds "
            "the wheel and installs it, or set SYNCTUI_INSTALLED to a venv holding it"
        )
    package = imported_package(env, CHECKOUT)  # the checkout as cwd: where `-m` would find it
    if CHECKOUT in package.parents or not package.is_relative_to(INSTALLED.resolve()):
        raise pytest.UsageError(
            f"the end-to-end tests would import synctui from {package}, not from the wheel "
            f"installed in {INSTALLED}"
        )


def readable_by_others(path: Path) -> bool:
    """Whether a user with no rights of its own here may open `path`: every folder above it
    searchable by others, and the file itself readable (and the interpreter runnable)."""
    path = Path(os.path.realpath(path))
    for folder in path.parents:
        if not os.stat(folder).st_mode & stat.S_IXOTH:
            return False
    return bool(os.stat(path).st_mode & stat.S_IROTH)
