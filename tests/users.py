"""Work done as another user, in a forked child that switched to it (the tests run as root)."""

from __future__ import annotations

import os
from typing import Callable, Iterator


def as_user(
    uid: int, gid: int, groups: list[int], work: Callable[[Callable[[str], None]], None]
) -> Iterator[str]:
    """The lines `work(say)` says, played in a forked child running as `uid`, then what went
    wrong if it did. The child always exits: it never goes on into the test session."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
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
