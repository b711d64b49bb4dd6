"""Work done as another user: the installed synctui in processes switched to that user.

The tests run as root. The user they switch to must be able to read the interpreter and
the venv it runs: `make test` makes the installed venv from the system's python3, outside
the checkout, so that holds wherever the checkout is (the interpreter the tests run under
may live in root's 0700 home, and a venv made from it is unreadable to others). Where the
venv is not readable by others, these tests are skipped and say why.
"""

from __future__ import annotations

import grp
import os
import subprocess
from pathlib import Path

import pytest

from commandline import write_config
from installed import INSTALLED, PYTHON, readable_by_others

NOBODY = 65534
"""The user nobody, and its group (nogroup): the `[control] group` of `group_config`."""
STRANGER = 65533
"""A user in no group of ours."""


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "switching users needs root"
    package = next(INSTALLED.glob("lib/python3*/site-packages/synctui/__init__.py"), None)
    for needed in (Path(PYTHON), package):
        if needed is None or not readable_by_others(needed):
            return (f"other users cannot read the installed venv {INSTALLED} ({needed}): it was "
                    "made from an interpreter in a private directory, as where no system "
                    "python3 3.11+ exists")
    return None


needs_other_users = pytest.mark.skipif(_why_not() is not None, reason=_why_not() or "")


def group_config(folder: Path) -> Path:
    """A config readable by all in `folder`, whose `[control] group` is nobody's, with one job
    `work` that says its run id."""
    path = write_config(folder, f"""
        [control]
        group = "{grp.getgrgid(NOBODY).gr_name}"

        [jobs.work]
        command = "echo hello from run $SYNCTUI_RUN_ID"
        interval = "1h"
        manual_cooldown_seconds = 0
    """)
    path.chmod(0o644)
    return path


def user_home(folder: Path, uid: int = NOBODY) -> dict[str, str]:
    """An environment for `uid` with its HOME in `folder` (its own) and no XDG settings."""
    home = folder / f"home-{uid}"
    home.mkdir(exist_ok=True)
    os.chown(home, uid, uid)
    inherited = {name: value for name, value in os.environ.items()
                 if name in ("PATH", "LANG", "LC_ALL", "TERM")}
    return {**inherited, "HOME": str(home), "PYTHONSAFEPATH": "1"}


def as_user(uid: int, argv: list[str], env: dict[str, str], cwd: Path,
            timeout: float = 30) -> subprocess.CompletedProcess:
    """`argv` run to its end as `uid`, in its own group and, for nobody, nogroup."""
    return subprocess.run(
        argv, user=uid, group=uid, extra_groups=[uid], env=env, cwd=cwd, capture_output=True,
        text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )


def in_shell_as(uid: int, command: str) -> str:
    """`command` for a shell that runs it as `uid` (for a terminal: tmux runs it as root)."""
    return f"setpriv --reuid={uid} --regid={uid} --groups={uid} -- {command}"
