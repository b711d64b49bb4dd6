"""Work done as another user, in a forked child that switched to it (the tests run as root)."""

from __future__ import annotations

import grp
import os
import signal
from pathlib import Path
from typing import Callable, Iterator

from commandline import write_config

NOBODY = 65534
"""The user nobody, and its group (nogroup): the `[control] group` of `group_config`."""
CHILD_DEADLINE_S = 40
"""A forked child is killed after this long, well within a test's timeout: forked from a
process with threads, it could deadlock on a lock one of them held, and a test must fail
then, not hang the whole run."""


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


def as_user(
    uid: int, gid: int, groups: list[int], work: Callable[[Callable[[str], None]], None]
) -> Iterator[str]:
    """The lines `work(say)` says, played in a forked child running as `uid`, then what went
    wrong if it did. The child always exits: it never goes on into the test session, nor
    outlives `CHILD_DEADLINE_S`."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            signal.alarm(CHILD_DEADLINE_S)
            os.close(read)
            with os.fdopen(write, "w", buffering=1) as pipe:

                def say(text: str) -> None:
                    pipe.write(text.replace("\n", " ") + "\n")

                try:
                    os.setgroups(groups)
                    os.setgid(gid)
                    os.setuid(uid)
                    work(say)
                except OSError as error:
                    say(f"OSError: {error.strerror}")
                except BaseException as error:  # the test reads what went wrong
                    say(f"{type(error).__name__}: {error}")
        finally:
            os._exit(0)
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            for line in pipe:
                yield line.rstrip("\n")
    finally:
        os.waitpid(pid, 0)
