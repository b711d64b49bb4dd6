"""Linux process facts: who started when, and ending what a dead host left behind.

A run's job is started in a session of its own, so the session id is the leader's
pid. Linux never hands out a pid while it still names a live session, so once any
member of that session is proven to be the run's (the leader by its start time, or
any process by the `SYNCTUI_RUN_ID` it inherited), the whole session is the run's.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessStat:
    """The few fields of `/proc/PID/stat` synctui needs."""

    pid: int
    state: str
    """`R`, `S`, ... `Z` for a zombie (dead, not yet reaped)."""
    pgid: int
    session: int
    start_ticks: int
    """Start time in clock ticks since boot: with the boot id, tells a pid's reuse apart."""


def read_stat(pid: int) -> ProcessStat | None:
    """The process's stat, or None when it is gone or unreadable."""
    try:
        raw = (_PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(b")") + 2 :].split()
    return ProcessStat(pid, fields[0].decode(), int(fields[2]), int(fields[3]), int(fields[19]))


def boot_id() -> str:
    """This boot's id: start times mean nothing across a reboot."""
    return (_PROC / "sys/kernel/random/boot_id").read_text().strip()


def is_alive(pid: int, start_ticks: int | None) -> bool:
    """Whether `pid` is still the very process that started at `start_ticks` (a zombie is not)."""
    stat = read_stat(pid)
    return stat is not None and stat.start_ticks == start_ticks and stat.state != "Z"


def _session_members(session: int) -> list[ProcessStat]:
    members = []
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            stat = read_stat(int(entry.name))
            if stat is not None and stat.session == session and stat.state != "Z":
                members.append(stat)
    return members


def _belongs_to_run(stat: ProcessStat, run_id: int, leader_start: int | None) -> bool:
    if stat.pid == stat.session and stat.start_ticks == leader_start:
        return True
    try:
        environ = (_PROC / str(stat.pid) / "environ").read_bytes()
    except OSError:
        return False
    # Entries are NUL-terminated "KEY=value" strings.
    return f"\0SYNCTUI_RUN_ID={run_id}\0".encode() in b"\0" + environ


def end_leftover_session(
    session: int, run_id: int, leader_start: int | None, run_boot_id: str | None
) -> int:
    """SIGKILL what is left of a dead run's session once proven to be that run's.

    Returns how many processes were ended (0 when nothing was left or nothing
    could be proven to belong to the run).
    """
    if run_boot_id != boot_id():
        return 0
    members = _session_members(session)
    if not any(_belongs_to_run(m, run_id, leader_start) for m in members):
        return 0
    ended = 0
    for member in members:
        try:
            os.kill(member.pid, signal.SIGKILL)
            ended += 1
        except ProcessLookupError:
            pass
    return ended


def group_alive(pgid: int) -> bool:
    """Whether a process group has a member that is not a zombie.

    Zombies count for `killpg(pgid, 0)`, and an orphan's zombie lingers until init
    reaps it, which some inits do slowly.
    """
    if not signal_group(pgid, 0):
        return False
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            stat = read_stat(int(entry.name))
            if stat is not None and stat.pgid == pgid and stat.state != "Z":
                return True
    return False


def signal_group(pgid: int, signum: int) -> bool:
    """Send `signum` to a process group; False when the group no longer exists."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True
