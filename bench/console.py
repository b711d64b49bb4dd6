"""Console: the real `synctui --config FILE` console in a pseudo-terminal, idle, starting and flooded.

Every figure comes from the installed `synctui` console (Textual) running in a
pseudo-terminal this script creates (`os.openpty`, 120x40 set with TIOCSWINSZ on the
slave, TERM=xterm-256color, the slave as the child's controlling terminal) with a
temporary HOME / XDG_* and a config whose `state_dir` is in a temporary directory.
A reader thread drains the master side and stamps every read with CLOCK_MONOTONIC;
what the console drew is found by removing escape sequences from those bytes and
searching the text. Beside it, in the same run and the same way, a minimal Textual
app written by this script (one Static updated once a second by set_interval) is the
floor any Textual app pays.

Three phases, in this order:

  first frame  --rounds (5) rounds after --warmup (1), console and minimal app
               alternating: spawn -> the output holds the jobs table (the header "Job"
               and the first job's row); the minimal app: spawn -> its clock label. Each
               console is quit with `q` and must exit 0.
  idle         8 jobs (--jobs) every 1h (catch_up = false: nothing fires) and the minimal app,
               side by side; after the jobs table is up plus --settle (3 s), both are
               sampled once a second for --seconds (30): bytes written to the terminal
               per second, CPU % (utime+stime of /proc/<pid>/stat; schedstat too),
               wake-ups/s, RSS (VmRSS).
  flood        the first job `flood` prints 1,000,000 lines (a python -c writing one
               line per write(), as capture_rate.py's python generator); `r` starts it.
               --idle-presses (10) j/k presses first, with nothing running; then while
               a flood run is going, j and k alternately every --interval (0.2 s) until
               --presses (40) presses happened during a flood; when a run ends (it
               lasts ~1 s) it is started again with `r` (the flood job is selected
               again after each `k`). Before, as the floor, the minimal app's own j/k
               (they relabel a second Static) --idle-presses times. Per press: key written -> the first output whose
               text shows the new selection: the status panel's border title
               "╭─ orders " after `j`, "╭─ flood ─" after `k` (the log's title is
               "flood · run N", so a flood redraw never matches). RSS: VmHWM reset
               (clear_refs 5) before the first flood and read after the last press,
               plus VmRSS sampled every 20 ms. Then `q` (and `c` if it asks, a run
               going) and the exit status.

Targets (from the issue): idle < 400 B/s, < 0.5 % CPU, < 80 MB RSS; first frame
< 600 ms (median); key -> frame p95 < 150 ms while flooding; RSS < 150 MB during the
flood.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import _common
from _console_report import report
from _pty_terminal import COLS, ROWS, Terminal, bursts, screen_text
import idle as idle_bench  # sample(), usage(), thread_names(): same /proc figures as idle.py

JOBS = idle_bench.JOBS  # orders, inventory, ... backups
FLOOD_LINES = 1_000_000
FLOOD_CODE = ("import sys; [sys.stdout.write(f'line {i}\\n') for i in range(%d)]" % FLOOD_LINES)

CONFIG_HEAD = """\
[scheduler]
state_dir = "{state}"
catch_up = false
shutdown_grace_seconds = 5
"""
CONFIG_JOB = """
[jobs.{name}]
command = {command}
interval = "1h"
manual_cooldown_seconds = 0
"""

MINIMAL_APP = '''\
"""The floor: a minimal Textual app with a clock label updated once a second (and j/k
changing a second label, for the key -> frame floor)."""
import time

from textual.app import App
from textual.widgets import Static


class Clock(App):
    BINDINGS = [("q", "quit", "Quit"), ("j", "key('j')", "j"), ("k", "key('k')", "k")]

    def compose(self):
        yield Static(self.text(), id="clock")
        yield Static("bench-key -", id="key")

    def on_mount(self):
        self.set_interval(1, self.tick)

    def text(self):
        return "bench-clock " + time.strftime("%H:%M:%S")

    def tick(self):
        self.query_one("#clock", Static).update(self.text())

    def action_key(self, key):
        self.query_one("#key", Static).update("bench-key " + key)


Clock().run()
'''

FIRST_HEADER = re.compile(r"\bJob\b")
FIRST_ROW = re.compile(rf"\b{JOBS[0]}\s+idle\b")  # the first job's row: "orders   idle ..."
MINIMAL_LABEL = re.compile(r"bench-clock \d\d:\d\d:\d\d")
TITLE_OF = {  # the status panel's border title once the job is selected
    "flood": re.compile(r"╭─ flood ─"),  # not "╭─ flood · run N" (the log's title)
    JOBS[0]: re.compile(rf"╭─ {JOBS[0]} "),
}
QUESTION = re.compile(r"Quitting stops the scheduler")
FLOOD_LINE = re.compile(r"line \d+")


def child_env(tmp: Path) -> dict[str, str]:
    """The byte-code-cached environment of `_common.child_env`, as a terminal user has it."""
    env = _common.child_env(tmp / "pycache")
    for name in list(env):
        # What would change the drawing or the size (Rich reads COLUMNS/LINES), or the
        # buffering of the app's own output, if this shell happens to set it.
        if (name in ("COLORTERM", "NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "TMUX",
                     "PYTHONUNBUFFERED", "STATE_DIRECTORY")
                or name.startswith(("TEXTUAL", "XDG_", "SYNCTUI"))):
            del env[name]
    home = tmp / "home"
    env.update(
        TERM="xterm-256color", HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".local/state"), XDG_DATA_HOME=str(home / ".local/share"),
        XDG_CACHE_HOME=str(home / ".cache"),
    )
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        Path(env[name]).mkdir(parents=True, exist_ok=True)
    return env


def config_text(state: Path, *, flood: bool, jobs_at_least: int = len(JOBS)) -> str:
    """The config: the idle benchmark's jobs, more `true` jobs after them up to
    `jobs_at_least`, and with `flood` the flooding job first."""
    names = [*JOBS, *(f"sync{n:04d}" for n in range(jobs_at_least - len(JOBS)))]
    jobs = [(name, '["true"]') for name in names]
    if flood:
        jobs.insert(0, ("flood", _toml_list([sys.executable, "-c", FLOOD_CODE])))
    return CONFIG_HEAD.format(state=state) + "".join(
        CONFIG_JOB.format(name=name, command=command) for name, command in jobs)


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join('"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"'
                           for i in items) + "]"


def quit_console(term: Terminal, timeout: float = 20.0) -> dict:
    """`q`; `c` if it asks because a run is going; then the exit status (killed if none)."""
    _, mark = term.press(b"q")
    asked = False
    deadline = time.monotonic() + timeout
    while term.process.poll() is None and time.monotonic() < deadline:
        if not asked and term.wait_for(QUESTION, start=mark, timeout=0.1) is not None:
            asked = True
            term.press(b"c")
    outcome = term.finish(timeout=max(deadline - time.monotonic(), 0.1))
    return {**outcome, "asked": asked}


def quit_minimal(term: Terminal) -> dict:
    term.press(b"q")
    return term.finish(timeout=10)


# --- phases -------------------------------------------------------------------------------

def first_frames(args, tmp: Path, env: dict, config: Path, minimal: Path) -> dict:
    console_cmd = [str(_common.SYNCTUI), "--config", str(config)]
    minimal_cmd = [sys.executable, str(minimal)]
    rounds = []
    quits = []
    for n in range(args.warmup + args.rounds):
        row = {}
        # Alternate which goes first, so neither always follows the other's exit.
        order = ("console", "minimal") if n % 2 == 0 else ("minimal", "console")
        for who in order:
            if who == "console":
                term = Terminal(console_cmd, env, tmp)
                first_byte = term.first_read_after(0, timeout=30)
                header = term.wait_for(FIRST_HEADER, timeout=30)
                table = term.wait_for(FIRST_HEADER, FIRST_ROW, timeout=30)
                outcome = quit_console(term)
                quits.append(outcome)
                if table is None:
                    raise RuntimeError(f"the console never showed its jobs table: {outcome}\n"
                                       + screen_text(b"".join(c for _, c in term.chunks))[-2000:])
                row["console"] = {
                    "first_byte_ms": _ms(first_byte, term.spawned_at),
                    "header_ms": _ms(header, term.spawned_at),
                    "table_ms": _ms(table, term.spawned_at),
                    **outcome,
                }
            else:
                term = Terminal(minimal_cmd, env, tmp)
                first_byte = term.first_read_after(0, timeout=30)
                label = term.wait_for(MINIMAL_LABEL, timeout=30)
                outcome = quit_minimal(term)
                if label is None:
                    raise RuntimeError(f"the minimal app never drew its label: {outcome}")
                row["minimal"] = {"first_byte_ms": _ms(first_byte, term.spawned_at),
                                  "label_ms": _ms(label, term.spawned_at), **outcome}
        if n >= args.warmup:
            rounds.append(row)
    summary = {
        "console_table_ms": _common.median([r["console"]["table_ms"] for r in rounds]),
        "console_header_ms": _common.median([r["console"]["header_ms"] for r in rounds]),
        "console_first_byte_ms": _common.median([r["console"]["first_byte_ms"] for r in rounds]),
        "minimal_label_ms": _common.median([r["minimal"]["label_ms"] for r in rounds]),
        "minimal_first_byte_ms": _common.median([r["minimal"]["first_byte_ms"] for r in rounds]),
        "console_table_max_ms": max(r["console"]["table_ms"] for r in rounds),
    }
    summary["ratio"] = summary["console_table_ms"] / summary["minimal_label_ms"]
    return {"rounds": rounds, "summary": summary,
            "bad_exits": [q for q in quits if q["exit_status"] != 0 or q["killed"]]}


def warm_up(tmp: Path, env: dict, config: Path, minimal: Path) -> None:
    """One start of each app, filling the byte-code cache (first-frame's warm-up round does
    it otherwise)."""
    term = Terminal([str(_common.SYNCTUI), "--config", str(config)], env, tmp)
    term.wait_for(FIRST_HEADER, FIRST_ROW, timeout=30)
    quit_console(term)
    term = Terminal([sys.executable, str(minimal)], env, tmp)
    term.wait_for(MINIMAL_LABEL, timeout=30)
    quit_minimal(term)


def _ms(at: float | None, since: float) -> float | None:
    return None if at is None else (at - since) * 1000


def idle_phase(args, tmp: Path, env: dict, config: Path, minimal: Path) -> dict:
    console = Terminal([str(_common.SYNCTUI), "--config", str(config)], env, tmp)
    clock = Terminal([sys.executable, str(minimal)], env, tmp)
    terms = {"console": console, "minimal": clock}
    try:
        if console.wait_for(FIRST_HEADER, FIRST_ROW, timeout=30) is None:
            raise RuntimeError("idle: the console never showed its jobs table")
        if clock.wait_for(MINIMAL_LABEL, timeout=30) is None:
            raise RuntimeError("idle: the minimal app never drew")
        time.sleep(args.settle)
        series = {who: [] for who in terms}
        deadline = time.monotonic() + args.seconds
        while True:
            for who, term in terms.items():
                series[who].append(idle_bench.sample(term.pid))
            if time.monotonic() >= deadline:
                break
            time.sleep(min(1.0, max(deadline - time.monotonic(), 0)))
        results = {}
        for who, term in terms.items():
            first, last = series[who][0], series[who][-1]
            usage = idle_bench.usage(first, last, series[who], term.pid)
            written = term.bytes_between(first["t"], last["t"])
            frames = bursts(written)
            usage.update(
                bytes=sum(len(c) for _, c in written),
                bytes_per_s=sum(len(c) for _, c in written) / usage["wall_s"],
                bursts=len(frames),
                what=[{"t": round(t - first["t"], 3), "bytes": len(b),
                       "text": " ".join(screen_text(b).split())[:160]} for t, b in frames],
            )
            results[who] = usage
        names = idle_bench.thread_names(console.pid)
        first, last = series["console"][0]["threads_detail"], series["console"][-1]["threads_detail"]
        wall = results["console"]["wall_s"]
        per_thread = [
            {"tid": tid, "name": names.get(tid, last[tid]["name"]),
             "cpu_ms": (last[tid]["run_ns"] - first.get(tid, {"run_ns": 0})["run_ns"]) / 1e6,
             "wakeups_per_s": (last[tid]["switches"]
                               - first.get(tid, {"switches": 0})["switches"]) / wall}
            for tid in sorted(last)
        ]
    finally:
        exits = {"console": quit_console(console), "minimal": quit_minimal(clock)}
    return {"results": results, "threads": per_thread, "exits": exits}


def minimal_presses(args, tmp: Path, env: dict, minimal: Path) -> list[dict]:
    """The floor for key -> frame: the minimal app's j/k relabel a Static."""
    term = Terminal([sys.executable, str(minimal)], env, tmp)
    presses = []
    try:
        if term.wait_for(MINIMAL_LABEL, timeout=30) is None:
            raise RuntimeError("the minimal app never drew")
        time.sleep(args.settle)
        before = idle_bench.sample(term.pid)
        for n in range(args.idle_presses):
            key = "j" if n % 2 == 0 else "k"
            at, mark = term.press(key.encode())
            shown = term.wait_for(re.compile(f"bench-key {key}"), start=mark,
                                  timeout=args.key_timeout)
            if shown is None:
                raise RuntimeError(f"the minimal app showed no {key} press")
            presses.append({"key": key, "frame_ms": _ms(shown, at),
                            "frame_bytes": term.frame_bytes(mark, shown)})
            time.sleep(max(at + args.interval - time.monotonic(), 0))
        after = idle_bench.sample(term.pid)
    finally:
        outcome = quit_minimal(term)
    return {"presses": presses, "exit": outcome,
            "cpu_ms_per_press": _cpu_ms(before, after) / max(len(presses), 1)}


def _cpu_ms(before: dict, after: dict) -> float:
    """On-CPU ms of all the process's threads between two samples (schedstat, ns)."""
    return (after["run_ns"] - before["run_ns"]) / 1e6


def flood_phase(args, tmp: Path, env: dict, config: Path, state: Path, minimal: Path) -> dict:
    floor = minimal_presses(args, tmp, env, minimal)
    term = Terminal([str(_common.SYNCTUI), "--config", str(config)], env, tmp)
    pid = term.pid
    flood_row = re.compile(r"\bflood\s+idle\b")
    presses: list[dict] = []
    runs_started = 0
    sampler = None
    try:
        if term.wait_for(FIRST_HEADER, flood_row, TITLE_OF["flood"], timeout=30) is None:
            raise RuntimeError("flood: the console never showed its jobs table")
        time.sleep(args.settle)
        selected = "flood"

        def press_once(flooding_phase: bool) -> None:
            nonlocal selected
            key, target = (b"j", JOBS[0]) if selected == "flood" else (b"k", "flood")
            busy_before = bool(idle_bench.children(pid))
            at, mark = term.press(key)
            shown = term.wait_for(TITLE_OF[target], start=mark, timeout=args.key_timeout)
            next_read = term.first_read_after(mark, timeout=0.5)
            presses.append({
                "key": key.decode(), "phase": "flood" if flooding_phase else "quiet",
                "flood_running_at_press": busy_before,
                "flood_running_at_frame": bool(idle_bench.children(pid)),
                "frame_ms": _ms(shown, at), "next_read_ms": _ms(next_read, at),
                "frame_bytes": term.frame_bytes(mark, shown),
                "t": at - term.spawned_at,
            })
            if shown is None:
                raise RuntimeError(f"no frame showed the {key.decode()} press within"
                                   f" {args.key_timeout}s")
            selected = target
            time.sleep(max(at + args.interval - time.monotonic(), 0))

        # Quiet presses: nothing running, the same keys and frames.
        quiet_before = idle_bench.sample(pid)
        for _ in range(args.idle_presses + (args.idle_presses % 2)):
            press_once(False)
        quiet_after = idle_bench.sample(pid)
        assert selected == "flood"

        rss_before_kb = _common.proc_status_kb(pid, "VmRSS")
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS from here on
        sampler = idle_bench.RssSampler(pid)
        sampler.start()
        cpu_before = idle_bench.sample(pid)
        flood_began = time.monotonic()
        flood_presses = lambda: sum(p["phase"] == "flood" and p["flood_running_at_press"]
                                    for p in presses)
        while flood_presses() < args.presses:
            if time.monotonic() - flood_began > args.flood_limit:
                raise RuntimeError(f"flood: only {flood_presses()} presses during a flood"
                                   f" in {args.flood_limit:g}s")
            if selected == "flood" and not idle_bench.children(pid):
                term.press(b"r")
                runs_started += 1
                began = time.monotonic()
                while not idle_bench.children(pid):
                    if time.monotonic() - began > 10:
                        raise RuntimeError("flood: `r` started no run within 10 s")
                    time.sleep(0.002)
                time.sleep(args.interval)
            press_once(True)
        flood_ended = time.monotonic()
        cpu_after = idle_bench.sample(pid)
        sampler.stop.set()
        sampler.join()
        vmhwm_kb = _common.proc_status_kb(pid, "VmHWM")
        written = term.bytes_between(flood_began, flood_ended)
        dropped_note = "batches of events were dropped" in screen_text(
            b"".join(c for _, c in written))
    finally:
        if sampler is not None:
            sampler.stop.set()
        outcome = quit_console(term)

    from synctui.scheduler.store import Store

    store = Store(state)
    try:
        runs = [r for r in store.runs("flood", limit=1000)]
    finally:
        store.close()
    durations = sorted(r.duration_s for r in runs if r.duration_s is not None)
    wall = flood_ended - flood_began
    counted = [p for p in presses if p["phase"] == "flood" and p["flood_running_at_press"]]
    quiet = [p for p in presses if p["phase"] == "quiet"]
    ms = [p["frame_ms"] for p in counted]
    return {
        "presses": presses,
        "summary": {
            "presses_counted": len(counted),
            "presses_flood_still_running_at_frame": sum(p["flood_running_at_frame"] for p in counted),
            "presses_between_runs": sum(p["phase"] == "flood" and not p["flood_running_at_press"]
                                        for p in presses),
            "frame_p50_ms": _common.percentile(ms, 50),
            "frame_p95_ms": _common.percentile(ms, 95),
            "frame_max_ms": max(ms),
            "next_read_p50_ms": _common.percentile([p["next_read_ms"] for p in counted], 50),
            "quiet_frame_p50_ms": _common.percentile([p["frame_ms"] for p in quiet], 50) if quiet else None,
            "quiet_frame_p95_ms": _common.percentile([p["frame_ms"] for p in quiet], 95) if quiet else None,
            "quiet_frame_max_ms": max(p["frame_ms"] for p in quiet) if quiet else None,
            "quiet_cpu_ms_per_press": _cpu_ms(quiet_before, quiet_after) / max(len(quiet), 1),
            "quiet_frame_bytes_median": _common.median([p["frame_bytes"] for p in quiet]) if quiet else None,
            "minimal_cpu_ms_per_press": floor["cpu_ms_per_press"],
            "minimal_frame_bytes_median": _common.median([p["frame_bytes"] for p in floor["presses"]]),
            "j_frame_p50_ms": _common.percentile([p["frame_ms"] for p in counted if p["key"] == "j"], 50),
            "k_frame_p50_ms": _common.percentile([p["frame_ms"] for p in counted if p["key"] == "k"], 50),
            "minimal_frame_p50_ms": _common.percentile([p["frame_ms"] for p in floor["presses"]], 50),
            "minimal_frame_p95_ms": _common.percentile([p["frame_ms"] for p in floor["presses"]], 95),
            "minimal_frame_max_ms": max(p["frame_ms"] for p in floor["presses"]),
            "rss_before_mb": rss_before_kb / 1024,
            "rss_peak_sampled_mb": max(kb for _, kb in sampler.samples) / 1024,
            "vmhwm_during_flood_mb": vmhwm_kb / 1024,
            "cpu_pct_during_flood": 100 * ((cpu_after["utime"] + cpu_after["stime"])
                                           - (cpu_before["utime"] + cpu_before["stime"]))
                                    / _common.CLK_TCK / wall,
            "wall_s": wall,
            "bytes_per_s": sum(len(c) for _, c in written) / wall,
            "frames_per_s": len(bursts(written)) / wall,
            "runs_started": runs_started,
            "dropped_events_note_shown": dropped_note,
            "runs": [{"id": r.id, "result": r.result.value, "duration_s": r.duration_s,
                      "log_bytes": r.log_bytes} for r in runs],
            "run_duration_median_s": _common.median(durations) if durations else None,
        },
        "rss_series": [(round(t - flood_began, 3), kb) for t, kb in sampler.samples],
        "exit": outcome,
        "minimal": floor,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5,
                        help="first frame: spawns of each app measured (default 5)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="first frame: unrecorded rounds first, filling the byte-code"
                             " cache (default 1)")
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="idle: measured window (default 30)")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="idle and flood: seconds after the jobs table is up before"
                             " measuring (default 3)")
    parser.add_argument("--presses", type=int, default=40,
                        help="flood: j/k presses made while a flood runs (default 40)")
    parser.add_argument("--idle-presses", type=int, default=10,
                        help="flood: j/k presses first with nothing running (default 10)")
    parser.add_argument("--interval", type=float, default=0.2,
                        help="flood: seconds from one press to the next (default 0.2)")
    parser.add_argument("--key-timeout", type=float, default=10.0,
                        help="flood: give up on a press's frame after this (default 10 s)")
    parser.add_argument("--flood-limit", type=float, default=120.0,
                        help="flood: give up if the presses take longer (default 120 s)")
    parser.add_argument("--jobs", type=int, default=len(JOBS),
                        help=f"jobs in the config, at least (default {len(JOBS)}; more are"
                             " `true` every 1h: the cost of jobs the console is not showing)")
    parser.add_argument("--results-name", default="console",
                        help="results/NAME.json (default console)")
    parser.add_argument("--only", choices=("first-frame", "idle", "flood"), action="append",
                        help="run only this phase (repeatable; default: all three)")
    args = _common.parse(parser, rounds=1, warmup=0, seconds=1.0, settle=0.5, presses=3,
                         idle_presses=2, flood_limit=30.0)
    phases = args.only or ["first-frame", "idle", "flood"]

    out: dict = {"args": vars(args), "terminal": f"{COLS}x{ROWS} xterm-256color"}
    with tempfile.TemporaryDirectory(prefix="synctui-bench-console-") as name:
        tmp = Path(name)
        env = child_env(tmp)
        minimal = tmp / "minimal_clock.py"
        minimal.write_text(MINIMAL_APP)
        idle_config = _common.write_config(tmp / "console.toml",
                                           config_text(tmp / "state", flood=False,
                                                       jobs_at_least=args.jobs))
        if "first-frame" in phases:
            out["first_frame"] = first_frames(args, tmp, env, idle_config, minimal)
        if "idle" in phases:
            if "first-frame" not in phases:
                warm_up(tmp, env, idle_config, minimal)
            out["idle"] = idle_phase(args, tmp, env, idle_config, minimal)
        if "flood" in phases:
            flood_state = tmp / "flood-state"
            flood_config = _common.write_config(tmp / "flood.toml",
                                                config_text(flood_state, flood=True,
                                                            jobs_at_least=args.jobs))
            out["flood"] = flood_phase(args, tmp, env, flood_config, flood_state, minimal)

    report(out)
    path = _common.write_results(args.results_name, out)
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
