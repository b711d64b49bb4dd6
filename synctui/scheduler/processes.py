"""Linux process facts: who started when, and ending what a dead host left behind.

A run's job is started in a session of its own, so the session id is the leader's
pid. Linux never hands out a pid while it still names a live session, so once any
member of that session is proven to be the run's (the leader by its start time, or
any process by the random `SYNCTUI_RUN_TOKEN` it inherited), the whole session is the
run's. A process that left the session is still found by its token.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import threading
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
    ppid: int = 0


def read_stat(pid: int) -> ProcessStat | None:
    """The process's stat, or None when it is gone or unreadable."""
    try:
        raw = (_PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(b")") + 2 :].split()
    return ProcessStat(pid, fields[0].decode(), int(fields[2]), int(fields[3]), int(fields[19]),
                       int(fields[1]))


def boot_id() -> str:
    """This boot's id: start times mean nothing across a reboot."""
    return (_PROC / "sys/kernel/random/boot_id").read_text().strip()


def is_alive(pid: int, start_ticks: int | None) -> bool:
    """Whether `pid` is still the very process that started at `start_ticks` (a zombie is not)."""
    stat = read_stat(pid)
    return stat is not None and stat.start_ticks == start_ticks and stat.state != "Z"


TOKEN_VARIABLE = "SYNCTUI_RUN_TOKEN"


def new_token() -> str:
    """A run's token: random, so no other run (of this or another state dir) carries it."""
    return secrets.token_hex(16)


def _environ(pid: int) -> bytes:
    try:
        with open(f"{_PROC}/{pid}/environ", "rb") as environ:
            return b"\0" + environ.read()
    except OSError:
        return b""


def _carries(pid: int, token: str | None) -> bool:
    # Entries are NUL-terminated "KEY=value" strings.
    return token is not None and f"\0{TOKEN_VARIABLE}={token}\0".encode() in _environ(pid)


def _belongs_to_run(stat: ProcessStat, token: str | None, leader_start: int | None) -> bool:
    if stat.pid == stat.session and stat.start_ticks == leader_start:
        return True
    return _carries(stat.pid, token)


def _living() -> list[ProcessStat]:
    stats = (read_stat(int(entry.name)) for entry in _PROC.iterdir() if entry.name.isdigit())
    return [stat for stat in stats if stat is not None and stat.state != "Z"]


_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Have the orphans of this process's descendants (a daemon a job double-forked)
    become its children rather than init's, so that they stay reachable and reaped.

    Only for a process synctui owns (headless, console): it changes how the whole
    process treats its children. False where the kernel refuses.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


_M_ARENA_MAX = -8
HOST_ARENAS = 2


def cap_malloc_arenas() -> bool:
    """Give glibc's allocator at most `HOST_ARENAS` arenas (as `MALLOC_ARENA_MAX` would).

    A host runs each job on a thread of its own, and glibc gives threads arenas of their
    own, up to eight per CPU, each keeping what it freed: RSS grows for many minutes
    before it levels off (8 MB in the first four of a soak, none with two arenas). Only
    for a process synctui owns, like `become_subreaper`; an operator's own
    `MALLOC_ARENA_MAX` is left alone, and so is a libc without `mallopt`.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    mallopt = getattr(libc, "mallopt", None)
    return mallopt is not None and mallopt(_M_ARENA_MAX, HOST_ARENAS) == 1


def _kill(doomed: list[ProcessStat], *, reap_adopted: bool = False) -> int:
    ended = 0
    me = os.getpid()
    for stat in doomed:
        try:
            os.kill(stat.pid, signal.SIGKILL)
            ended += 1
        except ProcessLookupError:
            continue
        if reap_adopted and stat.ppid == me:
            try:
                os.waitpid(stat.pid, 0)
            except ChildProcessError:
                pass
    return ended


def end_carriers(token: str) -> int:
    """SIGKILL every process carrying the run's token (however far it left its session).

    Called once the run's own process is waited for, so a carrier that is a child of
    this process was adopted (a subreaper's orphan) and no `subprocess` waits for it:
    it is reaped here. Returns how many were ended. Runs ending together share one pass
    over `/proc` (`_Sweeps`), so a burst of ends costs a few passes, not one each.
    """
    return _SWEEPS.end(token)


class _Sweeps:
    """Passes over `/proc` that end the carriers of every token asked for: a caller
    arriving during a pass waits for the next one, which takes all tokens asked for
    meanwhile (a group commit, for processes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._swept = threading.Condition(self._lock)
        self._asked: set[str] = set()
        self._ended: dict[str, int] = {}
        self._sweeping = False

    def end(self, token: str) -> int:
        with self._lock:
            self._asked.add(token)
            while token not in self._ended:
                if not self._sweeping:
                    self._sweep_asked()
                else:
                    self._swept.wait()
            return self._ended.pop(token)

    def _sweep_asked(self) -> None:
        """One pass for every token asked for (called, and returning, with the lock held)."""
        tokens, self._asked, self._sweeping = self._asked, set(), True
        ended: dict[str, int] = {}
        self._lock.release()
        try:
            ended = _sweep(tokens)
        finally:
            self._lock.acquire()
            self._sweeping = False
            self._ended.update({token: ended.get(token, 0) for token in tokens})
            self._swept.notify_all()


_SWEEPS = _Sweeps()


def _sweep(tokens: set[str]) -> dict[str, int]:
    """SIGKILL every process carrying one of `tokens`; how many each had."""
    me = os.getpid()
    carriers: dict[str, list[ProcessStat]] = {}
    # The environment first: it is one read, and a zombie's is empty; the stat (for the
    # parent) only of a carrier.
    for entry in os.scandir(_PROC):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        token = _token_of(int(entry.name))
        if token in tokens:
            stat = read_stat(int(entry.name))
            if stat is not None and stat.state != "Z":
                carriers.setdefault(token, []).append(stat)
    return {token: _kill(found, reap_adopted=True) for token, found in carriers.items()}


def _token_of(pid: int) -> str | None:
    """The run token in the process's environment, if any."""
    environ = _environ(pid)
    key = f"\0{TOKEN_VARIABLE}=".encode()
    at = environ.find(key)
    if at < 0:
        return None
    start = at + len(key)
    end = environ.find(b"\0", start)
    return environ[start:end if end >= 0 else None].decode("ascii", "replace")


def end_leftovers(
    token: str | None, session: int | None, leader_start: int | None, run_boot_id: str | None
) -> int:
    """SIGKILL what is left of a dead run: every process carrying its token, and the
    rest of its session once that session is proven to be the run's.

    The token is stored before the job starts, so this finds the run's processes even
    when its host died before it could store their session. Returns how many were ended.
    """
    living = _living()
    me = os.getpid()
    doomed = {stat.pid: stat for stat in living if _carries(stat.pid, token)}
    if session is not None and run_boot_id == boot_id():
        members = [stat for stat in living if stat.session == session]
        if any(stat.pid in doomed or _belongs_to_run(stat, None, leader_start) for stat in members):
            doomed.update((stat.pid, stat) for stat in members)
    doomed.pop(me, None)
    return _kill(list(doomed.values()))


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
