"""The fault campaign: synctui's promises held against a host that is killed, frozen,
stepped in time, reloaded with bad configs and starved of disk, running jobs that
misbehave in every way a job can.

Two headless hosts run the same eight misbehaving jobs (random exit codes, a hang past
its timeout, self-inflicted SIGSEGV/SIGKILL, TERM-ignoring grandchildren, setsid and
double-forked daemons, a 100 MB flood, a 1 MB line with no newline with invalid UTF-8
after it and stdout closed, and a job every half second):

- the *faulted* host gets, at random moments from `--seed`: SIGKILL (restarted at once:
  an attached console takes over in between, then hands back), SIGSTOP for a few
  intervals then SIGCONT, SIGTERM in the middle of runs (restarted), clock steps
  forward and back (its headless processes under libfaketime, Debian's `faketime`, one
  offset file for all; skipped, with the reason, where it is missing), reloads good
  and bad (SIGHUP; a bad one must be refused with the old config kept, and `synctui
  check` must answer it with exit 2 and one line), and a full disk (its state
  directory on a small tmpfs, filled then freed; only where this process may mount
  one, as root can; else skipped with the reason);
- the *steady* host gets the job faults and the reloads only, and lives the whole
  campaign: its RSS is what "memory stays flat" is judged on.

Meanwhile `status`, `history` and `logs` are asked of both every fraction of a second,
and a console (the real one, in a pseudo-terminal) is attached to the faulted host.

At the end both hosts are stopped and the campaign checks, and prints as a table: runs
by result; kills, and whether every run going at a kill was recorded `interrupted`
(lost otherwise); runs stuck `running`; processes left over (anything still carrying
the campaign's mark in its environment); duplicate fire times (two started runs of one
scheduled fire time) and overlapping runs (each job takes a lock its processes hold, so
a second run of a job while the first's processes live is seen); tracebacks in
anything synctui wrote; RSS of the steady host at start, at 10 minutes, peak and end;
the state directories' size against `keep_log_bytes`; SQLite's integrity check. Exit
status 1 when any invariant fails.

    .venv/bin/python bench/soak.py --minutes 60 --seed 1     # the published run
    .venv/bin/python bench/soak.py --quick                   # one minute, seed 1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import _common
from _pty_terminal import Terminal, screen_text
from _soak_report import report, state_parts, traceback_samples

FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")
KEEP_LOG_BYTES = 8_000_000
TMPFS_BYTES = 48 << 20
RSS_SETTLE_S = 600.0
STOP_S = 30.0
"""How long a host may take to stop on SIGTERM before the campaign calls it hung."""
LOCK_TAKEN = 75
"""flock's exit status when the job's lock is held (no job exits so)."""
RSS_GROWTH_LIMIT_MB = 5.0
BAD_CONFIGS = (
    "[jobs.x]\ncommand = 3\ninterval = \"1s\"\n",
    "[jobs.x]\ncommand = [\"true\"]\ncron = \"61 * * * *\"\n",
    "[scheduler]\nkeep_runs = -1\n",
    "[jobs.x\ncommand = [\"true\"]\n",
    "[jobs.x]\ncommand = [\"true\"]\ninterval = \"soon\"\n",
    "[jobs.x]\ncommand = [\"true\"]\nbogus_key = 1\n",
    "\xff\xfe not even utf-8",
    "[jobs.x]\ncommand = [\"true\"]\ninterval = \"1s\"\ntimeout_seconds = 1e400\n",
)


def jobs() -> dict[str, tuple[str, str]]:
    """name -> (the job's shell command, its extra TOML lines)."""
    urandom = "$(od -An -N1 -tu1 /dev/urandom)"
    return {
        "flaky": (f"exit $(( {urandom} % 4 ))", 'interval = "1s"'),
        "hang": ("sleep 30", 'interval = "2s"\ntimeout_seconds = 0.5\nkill_grace_seconds = 0.2'),
        "crash": (f'if [ $(( {urandom} % 2 )) = 0 ]; then kill -SEGV $$; else kill -KILL $$; fi',
                  'interval = "1.5s"'),
        "stubborn": ("trap '' TERM; (trap '' TERM; sleep 30) & (trap '' TERM; sleep 30) & sleep 30",
                     'interval = "2s"\ntimeout_seconds = 0.5\nkill_grace_seconds = 0.3'),
        "daemon": ("setsid sleep 300 & (sleep 300 &); echo forked", 'interval = "2s"'),
        "flood": ("yes 'a line of a flood of output' | head -c 100000000",
                  'interval = "30s"\nlog_max_bytes = "1MB"\ntimeout_seconds = 20'),
        "odd": ("head -c 1048576 /dev/zero | tr '\\000' x; printf '\\377\\376 not utf-8\\n';"
                " exec >&- 2>&-; sleep 0.2", 'interval = "1s"'),
        "quick": ("true", 'interval = "0.5s"'),
    }


def config_text(state: Path, mark: str, locks: Path, overlaps: Path, variant: int) -> str:
    lines = ["[scheduler]", 'timezone = "UTC"', f'state_dir = "{state}"',
             f"keep_log_bytes = {KEEP_LOG_BYTES}", "keep_runs = 300",
             "shutdown_grace_seconds = 2", f"# variant {variant}", ""]
    for name, (command, extra) in jobs().items():
        # The lock is held by every process of the run (inherited): a second run of the
        # job while any of the first's processes live finds it taken.
        lock = locks / f"{state.name}-{name}"
        wrapped = (f"flock -n -E {LOCK_TAKEN} {lock} sh -c {_quote(command)} || {{ code=$?;"
                   f" [ $code = {LOCK_TAKEN} ] && echo {name} >> {overlaps}; exit $code; }}")
        lines += [f"[jobs.{name}]", f"command = {json.dumps(wrapped)}", extra,
                  f"env = {{ SOAK_MARK = {json.dumps(mark)} }}", ""]
    return "\n".join(lines)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


class Host:
    """One `synctui --headless` on a config, restarted as often as asked; every stderr
    kept (for tracebacks)."""

    def __init__(self, name: str, config: Path, tmp: Path, env: dict) -> None:
        self.name, self.config, self.tmp, self.env = name, config, tmp, env
        self.process: subprocess.Popen | None = None
        self.logs: list[Path] = []

    def start(self) -> None:
        err = self.tmp / f"{self.name}-{len(self.logs)}.err"
        self.logs.append(err)
        with err.open("wb") as stderr:
            self.process = subprocess.Popen(
                [str(_common.SYNCTUI), "--headless", "--no-passthrough", "--config",
                 str(self.config)], env=self.env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=stderr)

    def signal(self, number: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(number)

    def stop(self, timeout: float = STOP_S) -> int | None:
        """SIGTERM and wait; the exit status (None if it had to be killed)."""
        if self.process is None:
            return 0
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return None

    def rss_mb(self) -> float | None:
        try:
            return _common.proc_status_kb(self.process.pid, "VmRSS") / 1024
        except (OSError, AttributeError, ValueError):
            return None


class Readers:
    """`status`, `history` and `logs` asked of each config in turn, as scripts would."""

    def __init__(self, configs: list[Path], env: dict, tmp: Path) -> None:
        self.configs, self.env = configs, env
        self.err = tmp / "readers.err"
        self.asked = 0
        self.hung = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._ask, daemon=True)
        self._thread.start()

    def _ask(self) -> None:
        commands = (["status", "--json"], ["history", "--limit", "50"], ["logs", "quick"],
                    ["status", "--short"])
        with self.err.open("a") as err:
            while not self._stop.wait(0.2):
                config = self.configs[self.asked % len(self.configs)]
                command = commands[self.asked % len(commands)]
                self.asked += 1
                try:
                    done = subprocess.run(
                        [str(_common.SYNCTUI), *command, "--config", str(config)],
                        env=self.env, capture_output=True, text=True, errors="replace",
                        timeout=30)
                except subprocess.TimeoutExpired:
                    self.hung += 1
                    continue
                err.write(done.stderr)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)


class Campaign:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args, self.tmp = args, tmp
        self.rng = random.Random(args.seed)
        self.mark = f"soak-{uuid.uuid4().hex}"
        self.locks, self.overlaps = tmp / "locks", tmp / "overlaps"
        self.locks.mkdir()
        self.overlaps.touch()
        self.env = {k: v for k, v in os.environ.items() if k != "SYNCTUI_CONFIG"}
        self.skipped: dict[str, str] = {}
        self.counts = {"kills": 0, "stops": 0, "terms": 0, "clock steps": 0,
                       "good reloads": 0, "bad reloads": 0, "disk fulls": 0}
        self.at_kill: set[int] = set()  # runs going when the faulted host was killed
        self.bad_answers: list[str] = []
        self.term_exits: list[int | None] = []
        self.console_exit: dict = {}
        self.console_text = ""
        self.offset_s = 0
        self.relived: list[tuple[float, float]] = []
        self.faulted_state = tmp / "faulted"
        self.steady_state = tmp / "steady"
        self.tmpfs = self._mount_tmpfs()
        self.faulted_env = self._faketime_env()
        self.variant = 0
        self.faulted_config = tmp / "faulted.toml"
        self.steady_config = tmp / "steady.toml"
        self._write_configs()
        self.faulted = Host("faulted", self.faulted_config, tmp, self.faulted_env)
        self.steady = Host("steady", self.steady_config, tmp, self.env)
        self.rss: list[tuple[float, float]] = []

    # --- set-up -------------------------------------------------------------------

    def _mount_tmpfs(self) -> bool:
        self.faulted_state.mkdir(mode=0o700)
        if os.geteuid() != 0:
            self.skipped["disk full"] = "not root: no tmpfs can be mounted for the state dir"
            return False
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES},mode=0700",
                               "tmpfs", str(self.faulted_state)], capture_output=True, text=True)
        if done.returncode != 0:
            self.skipped["disk full"] = f"mount refused: {done.stderr.strip()}"
            return False
        return True

    def _faketime_env(self) -> dict:
        if not FAKETIME_LIB.exists():
            self.skipped["clock steps"] = f"{FAKETIME_LIB} missing (Debian's faketime)"
            return dict(self.env)
        self.offset_file = self.tmp / "faketime"
        self.offset_file.write_text("+0\n")
        return {**self.env, "LD_PRELOAD": str(FAKETIME_LIB),
                "FAKETIME_TIMESTAMP_FILE": str(self.offset_file),
                "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_CACHE_DURATION": "1"}

    def _write_configs(self) -> None:
        for state, path in ((self.faulted_state, self.faulted_config),
                            (self.steady_state, self.steady_config)):
            _common.write_config(path, config_text(state, self.mark, self.locks,
                                                   self.overlaps, self.variant))

    # --- the faults ------------------------------------------------------------------

    def running_runs(self, host: int) -> set[int]:
        """The runs going in the process `host` (the console's go on when a standby
        headless is killed)."""
        db = self.faulted_state / "synctui.db"
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
                return {row[0] for row in connection.execute(
                    "SELECT id FROM runs WHERE result = 'running' AND host_pid = ?", (host,))}
        except sqlite3.Error:
            return set()

    def kill(self) -> None:
        # Frozen first, so that no run ends between reading what runs and the kill.
        self.faulted.signal(signal.SIGSTOP)
        time.sleep(0.05)
        self.at_kill |= self.running_runs(self.faulted.process.pid)
        self.faulted.signal(signal.SIGKILL)
        self.faulted.process.wait()
        self.counts["kills"] += 1
        time.sleep(self.rng.uniform(0, 2.5))  # long enough, sometimes, for the console to host
        self.faulted.start()

    def freeze(self) -> None:
        self.faulted.signal(signal.SIGSTOP)
        time.sleep(self.rng.uniform(1, 6))
        self.faulted.signal(signal.SIGCONT)
        self.counts["stops"] += 1

    def term(self) -> None:
        # The grace (2 s), then the jobs' kill_grace_seconds (10 s by default), then SIGKILL.
        self.term_exits.append(self.faulted.stop(timeout=STOP_S))
        self.counts["terms"] += 1
        self.faulted.start()

    def step_clock(self) -> None:
        before = self.offset_s
        self.offset_s += self.rng.choice((-1, 1)) * self.rng.randint(60, 3600)
        self.offset_file.write_text(f"{self.offset_s:+d}\n")
        if self.offset_s < before:  # these fire times come round again: not duplicates
            now = time.time()
            self.relived.append((now + self.offset_s - 5, now + before + 5))
        self.counts["clock steps"] += 1

    def reload_good(self) -> None:
        self.variant += 1
        self._write_configs()
        self.faulted.signal(signal.SIGHUP)
        self.steady.signal(signal.SIGHUP)
        self.counts["good reloads"] += 1

    def reload_bad(self) -> None:
        text = self.rng.choice(BAD_CONFIGS)
        for path in (self.faulted_config, self.steady_config):
            path.write_bytes(text.encode("latin-1"))
        done = subprocess.run([str(_common.SYNCTUI), "check", "--config", str(self.steady_config)],
                              env=self.env, capture_output=True, text=True, errors="replace")
        lines = done.stderr.strip().splitlines()
        if done.returncode != 2 or "Traceback" in done.stderr or not lines:
            self.bad_answers.append(f"exit {done.returncode}: {done.stderr.strip()[:300]}")
        self.faulted.signal(signal.SIGHUP)
        self.steady.signal(signal.SIGHUP)
        time.sleep(1.0)  # the hosts read it, refuse it, keep their config
        self._write_configs()
        self.counts["bad reloads"] += 1

    def fill_disk(self) -> None:
        filler = self.faulted_state / "filler"
        with filler.open("wb") as out:
            try:
                while True:
                    out.write(b"\0" * (1 << 20))
                    out.flush()
            except OSError:
                pass
        time.sleep(self.rng.uniform(2, 5))
        filler.unlink()
        self.counts["disk fulls"] += 1

    def faults(self) -> list[tuple[float, object]]:
        chosen = [(4, self.kill), (2, self.freeze), (2, self.term), (2, self.reload_good),
                  (2, self.reload_bad)]
        if "clock steps" not in self.skipped:
            chosen.append((2, self.step_clock))
        if self.tmpfs:
            chosen.append((1, self.fill_disk))
        return chosen

    # --- the campaign --------------------------------------------------------------

    def run(self) -> dict:
        began = time.monotonic()
        deadline = began + self.args.minutes * 60
        self.steady.start()
        self.faulted.start()
        time.sleep(2)
        # On the real clock: libfaketime 0.9 breaks time.sleep (EINVAL from clock_nanosleep
        # when the monotonic clock is left alone), which the console's polls use.
        console = Terminal([str(_common.SYNCTUI), "--config", str(self.faulted_config)],
                           {**self.env, "TERM": "xterm-256color"}, self.tmp)
        readers = Readers([self.faulted_config, self.steady_config], self.env, self.tmp)
        sampler_stop = threading.Event()

        def sample() -> None:
            while not sampler_stop.wait(2.0):
                rss = self.steady.rss_mb()
                if rss is not None:
                    self.rss.append((time.monotonic() - began, rss))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        weights, actions = zip(*self.faults())
        try:
            while time.monotonic() < deadline:
                time.sleep(self.rng.uniform(1, 6))
                if time.monotonic() >= deadline:
                    break
                self.rng.choices(actions, weights)[0]()
        finally:
            readers.stop()
            console.process.send_signal(signal.SIGTERM)
            self.console_exit = console.finish(timeout=STOP_S)
            # The console's screen, its escapes left out: a crash's traceback is printed there.
            self.console_text = screen_text(b"".join(chunk for _, chunk in console.chunks))
            (self.tmp / "console.out").write_text(self.console_text)
            sampler_stop.set()
            sampler.join(5)
            if "clock steps" not in self.skipped:
                self.offset_file.write_text("+0\n")
            self.final_exits = {"faulted": self.faulted.stop(), "steady": self.steady.stop()}
        self.readers_asked, self.readers_hung = readers.asked, readers.hung
        return self.check()

    # --- the verdict -----------------------------------------------------------------

    def check(self) -> dict:
        results: dict[str, dict[str, int]] = {}
        stuck = duplicates = 0
        integrity = {}
        lost = set(self.at_kill)
        for name, state in (("faulted", self.faulted_state), ("steady", self.steady_state)):
            with sqlite3.connect(state / "synctui.db", timeout=10) as connection:
                results[name] = dict(connection.execute(
                    "SELECT result, count(*) FROM runs GROUP BY result").fetchall())
                stuck += results[name].get("running", 0)
                repeated = connection.execute(
                    "SELECT scheduled_at FROM runs WHERE trigger = 'scheduled' AND result NOT"
                    " IN ('skipped', 'missed') GROUP BY job, scheduled_at HAVING count(*) > 1"
                ).fetchall()
                duplicates += sum(1 for (at,) in repeated if name == "steady" or not any(
                    low <= at <= high for low, high in self.relived))
                integrity[name] = connection.execute("PRAGMA integrity_check").fetchone()[0]
                if name == "faulted":
                    # Kept runs only: retention may have forgotten the oldest.
                    for run_id, result in connection.execute(
                            "SELECT id, result FROM runs WHERE id IN (%s)"
                            % ",".join(map(str, self.at_kill or {0}))):
                        if result == "interrupted":
                            lost.discard(run_id)
                    kept = {row[0] for row in connection.execute("SELECT id FROM runs")}
                    lost &= kept
        leftovers = self._leftovers()
        overlaps = self.overlaps.read_text().split()
        texts = [path.read_text(errors="replace") for host in (self.faulted, self.steady)
                 for path in host.logs]
        texts += [self.console_text, (self.tmp / "readers.err").read_text(errors="replace")]
        tracebacks = sum(text.count("Traceback") for text in texts)
        samples = [sample for text in texts for sample in traceback_samples(text)][:5]
        sizes = {name: state_parts(state) for name, state in
                 (("faulted", self.faulted_state), ("steady", self.steady_state))}
        rss = self._rss()
        invariants = {
            "no run lost at a kill": not lost,
            "no run stuck running": stuck == 0,
            "nothing left over": leftovers == 0,
            "no duplicate fire time": duplicates == 0,
            "no overlapping runs": not overlaps,
            "no traceback": tracebacks == 0,
            "integrity ok": all(value == "ok" for value in integrity.values()),
            "state dirs within keep_log_bytes + 4 MB": all(
                sum(parts.values()) <= KEEP_LOG_BYTES + (4 << 20) for parts in sizes.values()),
            "bad configs answered with exit 2, one line": not self.bad_answers,
            "SIGTERM exits 0": all(code == 0 for code in self.term_exits)
                               and all(code == 0 for code in self.final_exits.values()),
            "readers never hung": self.readers_hung == 0,
            "the console lived to the end and exits 0 on SIGTERM":
                self.console_exit == {"exit_status": 0, "killed": False},
        }
        if rss["growth_mb"] is not None:
            invariants[f"RSS growth after {RSS_SETTLE_S / 60:g} min < {RSS_GROWTH_LIMIT_MB:g} MB"] = (
                rss["growth_mb"] < RSS_GROWTH_LIMIT_MB)
        return {"seed": self.args.seed, "minutes": self.args.minutes, "faults": self.counts,
                "skipped": self.skipped, "results": results, "runs_at_kills": len(self.at_kill),
                "lost": sorted(lost), "stuck": stuck, "leftovers": leftovers,
                "duplicates": duplicates, "overlaps": overlaps, "tracebacks": tracebacks,
                "traceback_samples": samples,
                "integrity": integrity, "state_bytes": sizes, "rss": rss,
                "bad_answers": self.bad_answers, "term_exits": self.term_exits,
                "final_exits": self.final_exits, "console_exit": self.console_exit,
                "readers_asked": self.readers_asked,
                "readers_hung": self.readers_hung, "invariants": invariants}

    def _leftovers(self) -> int:
        needle = f"SOAK_MARK={self.mark}".encode()
        found = 0
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    with open(f"/proc/{entry.name}/environ", "rb") as environ:
                        found += needle in environ.read()
                except OSError:
                    continue
        return found

    def _rss(self) -> dict:
        if not self.rss:
            return {"start_mb": None, "at_settle_mb": None, "peak_mb": None, "end_mb": None,
                    "growth_mb": None}
        settled = [rss for at, rss in self.rss if at >= RSS_SETTLE_S]
        return {"start_mb": self.rss[0][1], "at_settle_mb": settled[0] if settled else None,
                "peak_mb": max(rss for _, rss in self.rss), "end_mb": self.rss[-1][1],
                "growth_mb": max(settled) - settled[0] if settled else None}

    def cleanup(self) -> None:
        if self.tmpfs:
            # The evidence outlives the tmpfs: kept with the campaign's directory (--keep).
            shutil.copytree(self.faulted_state, self.tmp / "faulted-state", dirs_exist_ok=True)
            subprocess.run(["umount", "-l", str(self.faulted_state)], check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="how long (default 60)")
    parser.add_argument("--seed", type=int, default=1, help="the faults' random seed (1)")
    parser.add_argument("--keep", action="store_true", help="keep the campaign's directory")
    args = _common.parse(parser, minutes=1.0)
    tmp = Path(tempfile.mkdtemp(prefix="synctui-soak-"))
    campaign = Campaign(args, tmp)
    try:
        found = campaign.run()
    finally:
        campaign.cleanup()
    print(report(found))
    path = _common.write_results("soak", found)
    print(f"results: {path}")
    if args.keep:
        print(f"kept: {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all(found["invariants"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
