"""What each `synctui` subcommand does, over the core.

The read-only commands (`status`, `history`, `logs`, `health`) answer from the
store and the host's heartbeat, and never import APScheduler or Textual.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
import time
from dataclasses import replace
from functools import partial
from datetime import datetime, timezone
from pathlib import Path

from synctui.config import Config, ConfigError, default_state_dir, discover_config, load_config
from synctui.scheduler.health import unhealthy
from synctui.scheduler.records import Result, RunRecord
from synctui.scheduler.status import SchedulerStatus, live_host, stored_snapshot
from synctui.scheduler.store import DB_NAME, Store, StoreError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
FOLLOW_POLL_S = 0.2
_SYMBOLS = {
    Result.SUCCESS: "✓", Result.FAILURE: "✗", Result.TIMEOUT: "⏱", Result.CANCELLED: "⊘",
    Result.INTERRUPTED: "↯", Result.SKIPPED: "↷", Result.REPLACED: "⇄", Result.RUNNING: "⟳",
}
LOOKED_IN = ("--config, $SYNCTUI_CONFIG, ./synctui.toml, $XDG_CONFIG_HOME/synctui/config.toml,"
             " /etc/synctui/config.toml")


class CommandError(Exception):
    """An error for the operator (one line per problem) and the exit status it means."""

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


# --- shared -----------------------------------------------------------------------


def load(
    args: argparse.Namespace, *, demo_when_missing: bool = False, log_warnings: bool = False
) -> Config:
    """The config the arguments point at (or the demo); a bad one is a CommandError.

    Its warnings go to stderr, or with `log_warnings` through the log (so that
    `--log-format json` stays one JSON object a line).
    """
    try:
        config = read_config(args, demo_when_missing=demo_when_missing)
    except ConfigError as error:
        raise CommandError("\n".join(error.problems)) from None
    for warning in config.warnings:
        if log_warnings:
            logging.getLogger("synctui.config").warning(
                "%s", warning, extra={"event": "config_warning"})
        else:
            print(f"synctui: warning: {warning}", file=sys.stderr)
    return config


def read_config(args: argparse.Namespace, *, demo_when_missing: bool = False) -> Config:
    """The config the arguments point at, read afresh; raises ConfigError."""
    if getattr(args, "demo", False):
        return _demo()
    path = discover_config(getattr(args, "config", None), os.environ, Path.cwd())
    if path is None:
        if demo_when_missing:
            return _demo()
        raise CommandError(f"no config found (looked at {LOOKED_IN}); write one with `synctui init`")
    return load_config(path, secrets=getattr(args, "secrets", None), environ=os.environ)


def _demo() -> Config:
    from synctui.config import local_zone
    from synctui.demo import demo_config

    state_dir = default_state_dir("demo")
    if state_dir is None:
        raise CommandError("no place for the demo's state: set $XDG_STATE_HOME or $HOME")
    return demo_config(state_dir, local_zone())


def open_store(state_dir: Path) -> Store:
    """The history store in `state_dir`, or a CommandError saying why it cannot be opened."""
    try:
        return Store(state_dir)
    except (StoreError, OSError) as error:
        raise _unusable(state_dir, error) from None


def _unusable(state_dir: Path, error: StoreError | OSError, also: str = "") -> CommandError:
    """Why the store cannot be opened (`also`: more of the story), as the operator reads it."""
    message = str(error) if isinstance(error, StoreError) else (
        f"{state_dir}: cannot use the state directory: {error.strerror}"
    )
    return CommandError(
        f"{message}{also} (is it owned by the service's user? try `sudo -u USER synctui ...`)"
    )


def _job(config: Config, name: str | None) -> str | None:
    if name is not None and name not in config.jobs:
        raise CommandError(
            f"no job named {name!r} in {config.path or 'the demo'} (jobs: {', '.join(config.jobs)})"
        )
    return name


def _reach_host(config: Config):
    """The live host's `RemoteControl`, or None when no scheduler runs for this state directory.

    It is looked for where the host said it serves (in the store) and where it serves by
    default (for a `[control] group` member, who may not read the store). A socket that
    takes no connection is a dead host's.
    """
    from synctui.scheduler.control_client import HostUnreachable, RemoteControl
    from synctui.scheduler.protocol import socket_path

    places = [socket_path(config.scheduler.state_dir)]
    try:
        store = Store(config.scheduler.state_dir)
    except (StoreError, OSError):
        pass
    else:
        host = store.host()
        store.close()
        if host is not None and host.socket:
            places.insert(0, Path(host.socket))
    for place in dict.fromkeys(places):
        try:
            remote = RemoteControl(place)
        except HostUnreachable as error:
            if error.denied:
                raise CommandError(f"{error} (is this the service's user, or a member of its"
                                   " [control] group?)", EXIT_FAILED) from None
            continue
        theirs = remote.greeting.get("config")
        if theirs != config.source:
            print(f"synctui: warning: the scheduler of this state directory ({_host_words(remote)})"
                  f" runs another config, {theirs or 'the demo'}: what it says is of its jobs",
                  file=sys.stderr)
        return remote
    return None


def _host_words(remote) -> str:
    return f"pid {remote.greeting['pid']}, {remote.greeting['mode']}"


def _through(remote) -> str:
    return f"through the running scheduler ({_host_words(remote)})"


def _local(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return "-"
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")


def _ago(moment: datetime | None, now: datetime, future: bool = False) -> str:
    if moment is None:
        return ""
    seconds = (moment - now).total_seconds() if future else (now - moment).total_seconds()
    seconds = max(seconds, 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            amount = f"{int(seconds // size)}{unit}"
            break
    else:
        amount = f"{int(seconds)}s"
    return f"in {amount}" if future else f"{amount} ago"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _result(result: Result | None) -> str:
    return "-" if result is None else f"{_SYMBOLS[result]} {result.value}"


# --- console and headless ---------------------------------------------------------


def console(args: argparse.Namespace) -> int:
    """`synctui`: the console, hosting the scheduler or attached to its host (the demo with no config).

    Every error the operator can fix is reported before the screen opens.
    """
    config = load(args, demo_when_missing=True)
    guest = _guest(config)
    from zoneinfo import ZoneInfo

    from synctui.scheduler.control import Refused
    from synctui.scheduler.shared import SharedScheduler
    from synctui.tui.app import SyncTuiApp

    console_log = _console_log(config, guest)
    _log_to_file(console_log)
    shared = SharedScheduler(
        config, guest=guest, reload_config=(lambda: read_config(args)) if config.path else None
    )
    app = SyncTuiApp(
        shared, config_name=config.name, zone=ZoneInfo(config.scheduler.timezone),
        demo=config.path is None, host=shared, **_console_places(config, console_log),
    )
    try:
        shared.open()
    except Refused as refusal:
        raise CommandError(str(refusal), EXIT_FAILED) from None
    try:
        app.run()
    finally:
        # Done already when the console quit; this covers a crash, where runs may still go.
        if shared.hosting:
            running = [job.name for job in shared.status().jobs.values() if job.running]
            if running:
                print(f"synctui: stopping: {', '.join(running)} get up to"
                      f" {config.scheduler.shutdown_grace_s:g}s to finish", file=sys.stderr)
        shared.shutdown()
    return app.return_code or EXIT_OK


def _guest(config: Config) -> bool:
    """Whether the console can only attach: the state directory is not this user's to
    write, but the scheduler running there takes them (a `[control] group` member). Every
    other case where the store cannot be opened is an error before the screen opens."""
    state_dir = config.scheduler.state_dir
    try:
        Store(state_dir).close()
    except (StoreError, OSError) as error:
        database = state_dir / DB_NAME
        not_ours = os.path.isdir(state_dir) and (
            not os.access(state_dir, os.W_OK | os.X_OK)
            or os.path.exists(database) and not os.access(database, os.R_OK | os.W_OK)
        )
        host = _reach_host(config) if not_ours else None
        if host is None:
            also = "; and no scheduler runs there that this user may attach to" if not_ours else ""
            raise _unusable(state_dir, error, also) from None
        host.close()
        return True
    return False


def _console_log(config: Config, guest: bool) -> Path:
    """Where the console logs: its state directory, or a guest's own log directory."""
    if not guest:
        return config.scheduler.state_dir / "console.log"
    from platformdirs import user_log_path

    folder = user_log_path("synctui")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CommandError(f"{folder}: cannot keep the console's log: {error.strerror}") from None
    return folder / f"{config.name}-console.log"


def _console_places(config: Config, console_log: Path) -> dict:
    """What the console shows of where things are, and where it remembers the theme."""
    from synctui.tui.screens.help import Places
    from synctui.tui.themes import theme_file

    return {
        "places": Places(config.path, config.scheduler.state_dir, console_log),
        "theme_file": theme_file(),
    }


def _log_to_file(path: Path) -> None:
    """Send every log record to `path` (rotated at 1 MB): nothing may print over the screen.

    Every console on a state directory writes the same file: the handler locks it around
    each write and rotation, so one console's rotation never loses another's lines.
    """
    import logging

    from concurrent_log_handler import ConcurrentRotatingFileHandler

    from synctui.log_format import TextFormatter

    try:
        handler = ConcurrentRotatingFileHandler(
            path, maxBytes=1_000_000, backupCount=1, encoding="utf-8"
        )
    except OSError as error:
        raise CommandError(f"{path}: cannot keep the console's log: {error.strerror}") from None
    handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.captureWarnings(True)


def headless(args: argparse.Namespace) -> int:
    """`synctui --headless [--once [--job NAME]]`."""
    from synctui.log_format import setup_logging

    setup_logging(args.log_format)
    config = load(args, log_warnings=True)
    if args.once and (args.metrics_port is not None or args.metrics_host is not None):
        raise CommandError("--metrics-port and --metrics-host go with --headless, not --once")
    if args.once:
        from synctui.headless import left_out, run_once
        from synctui.scheduler.control import Refused

        name = _job(config, args.job)
        remote = _reach_host(config)
        if remote is not None:
            if name is None:
                raise CommandError(
                    f"a scheduler already runs these jobs ({_host_words(remote)});"
                    " --once would run them alongside it: give --job NAME to have it run one")
            try:
                job = remote.status().jobs.get(name)
            except Refused as refusal:
                raise CommandError(str(refusal), EXIT_FAILED) from None
            if job is not None and job.paused:  # as `run_once` leaves it out
                left_out(name)
                return EXIT_OK
            return _run_on_host(remote, name, wait=True)
        return run_once(config, name, passthrough=not args.no_passthrough)
    if args.job:
        raise CommandError("--job goes with --once")
    return _host(args, config)


def _host(args: argparse.Namespace, config: Config) -> int:
    from synctui.headless import run_headless
    from synctui.log_format import setup_logging

    setup_logging(args.log_format)
    open_store(config.scheduler.state_dir).close()  # a clean error before anything starts
    return run_headless(config, lambda: read_config(args), passthrough=not args.no_passthrough,
                        metrics=_metrics_server(args))


def _metrics_server(args: argparse.Namespace):
    """The `--metrics-port` server, bound now so that a taken port stops synctui at once."""
    if args.metrics_port is None:
        if args.metrics_host is not None:
            raise CommandError("--metrics-host goes with --metrics-port")
        return None
    from synctui.scheduler.metrics import MetricsError, MetricsServer

    try:
        return MetricsServer(args.metrics_host or "127.0.0.1", args.metrics_port)
    except MetricsError as error:
        raise CommandError(str(error)) from None


# --- read-only --------------------------------------------------------------------


def status(args: argparse.Namespace) -> int:
    """`synctui status [--json|--short] [--job NAME]`."""
    config = load(args)
    name = _job(config, args.job)
    remote = _reach_host(config)
    snapshot = (remote.status() if remote
                else stored_snapshot(open_store(config.scheduler.state_dir), config))
    if name is not None:
        job = snapshot.jobs.get(name)
        if job is None:  # the host runs another config (it said so)
            raise CommandError(f"the running scheduler has no job named {name!r}", EXIT_FAILED)
        # The seed's top-level keys then speak of that job, not of the newest run of any job.
        snapshot = replace(
            snapshot, jobs={name: job}, paused=job.paused, last_run=job.last_run,
            last_result=job.last_result, next_run=job.next_run if snapshot.running else None,
        )
    if args.json:
        print(json.dumps(snapshot.to_json(), indent=2))
    elif args.short:
        print(_short(snapshot))
    else:
        print(_table(snapshot, config))
    return EXIT_OK


def _badge(snapshot: SchedulerStatus) -> str:
    if snapshot.host is None:
        return "■ stopped"
    if not snapshot.running:
        return f"■ stopped (host pid {snapshot.host.pid})"
    return "⏸ paused" if snapshot.paused else "▶ running"


def _short(snapshot: SchedulerStatus) -> str:
    counts: dict[str, int] = {}
    for job in snapshot.jobs.values():
        counts[job.health] = counts.get(job.health, 0) + 1
    healths = " ".join(f"{n} {word}" for word, n in counts.items())
    running = [job.name for job in snapshot.jobs.values() if job.running]
    line = f"synctui {_badge(snapshot)} · {healths}"
    return line + (f" · ⟳ {', '.join(running)}" if running else "")


def _table(snapshot: SchedulerStatus, config: Config) -> str:
    now = datetime.now(timezone.utc)
    zone = snapshot.timezone
    host = snapshot.host
    lines = [
        f"synctui {_badge(snapshot)} · config {config.path or 'demo'} · zone {zone}"
        + (f" · host pid {host.pid} ({host.mode})" if host else ""),
        "",
    ]
    rows = [("JOB", "HEALTH", "LAST RUN", "RESULT", "DURATION", "NEXT RUN", "SCHEDULE")]
    for job in snapshot.jobs.values():
        rows.append((
            job.name,
            job.health,
            f"{_local(job.last_run, zone)} ({_ago(job.last_run, now)})" if job.last_run else "-",
            _result(job.last_result),
            f"{max(0.0, (now - job.last_run).total_seconds()):.0f}s…"
            if job.running and job.last_run
            else _seconds(job.last_duration_s),
            f"{_local(job.next_run, zone)} ({_ago(job.next_run, now, future=True)})"
            if job.next_run else "-",
            job.schedule,
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def history(args: argparse.Namespace) -> int:
    """`synctui history [--job NAME] [--limit N] [--json]`."""
    config = load(args)
    name = _job(config, args.job)
    try:
        runs = open_store(config.scheduler.state_dir).runs(name, limit=args.limit)
    except CommandError:
        # A `[control] group` member may not read the store, but may ask the host.
        remote = _reach_host(config)
        if remote is None:
            raise
        from synctui.scheduler.protocol import MAX_HISTORY

        runs = remote.history(name, min(args.limit, MAX_HISTORY))
    if args.json:
        print(json.dumps([_run_json(run) for run in runs], indent=2))
        return EXIT_OK
    zone = config.scheduler.timezone
    rows = [("ID", "JOB", "TRIGGER", "STARTED", "DURATION", "RESULT", "DETAIL")]
    for run in runs:
        detail = run.error or ""
        if run.result is Result.SKIPPED:
            detail = f"{run.skip_count} fire time{'s' if run.skip_count > 1 else ''} skipped"
        rows.append((str(run.id), run.job, run.trigger.value, _local(run.started_at, zone),
                     _seconds(run.duration_s), _result(run.result), detail))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return EXIT_OK


def _run_json(run: RunRecord) -> dict:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "id": run.id, "job": run.job, "trigger": run.trigger.value, "result": run.result.value,
        "attempt": run.attempt, "scheduled_at": iso(run.scheduled_at),
        "started_at": iso(run.started_at), "finished_at": iso(run.finished_at),
        "duration_s": run.duration_s, "exit_code": run.exit_code, "signal": run.signal,
        "error": run.error, "skip_count": run.skip_count,
        "log_path": str(run.log_path) if run.log_path else None,
    }


def logs(args: argparse.Namespace) -> int:
    """`synctui logs JOB [--run ID] [-f]`."""
    from synctui.scheduler.control import Refused

    config = load(args)
    name = _job(config, args.job)
    try:
        store = open_store(config.scheduler.state_dir)
    except CommandError:
        # A `[control] group` member may not read the store, but may ask the host, whose
        # run logs are readable by the group.
        remote = _reach_host(config)
        if remote is None:
            raise
        record = partial(_hosted_run, remote, name)
        recent = partial(remote.history, name, 50)
        held = None  # a host that went away makes `record` fail
    else:
        record, recent, held = store.run, partial(store.runs, name, limit=50), partial(_held, store)
    if args.run is not None:
        run = record(args.run)
        if run is None or run.job != name:
            raise CommandError(f"{name} has no run {args.run}")
    else:
        run = next((r for r in recent() if r.log_path is not None), None)
        if run is None:
            raise CommandError(f"{name} has no run with a log yet", EXIT_FAILED)
    if run.log_path is None or not run.log_path.exists():
        raise CommandError(f"the log of run {run.id} is gone (retention removed it)", EXIT_FAILED)
    try:
        log = run.log_path.open("rb")
    except OSError as error:  # a log written before `[control] group` was set, say
        raise CommandError(f"{run.log_path}: cannot read the log of run {run.id}:"
                           f" {error.strerror}", EXIT_FAILED) from None
    out = sys.stdout.buffer
    with log:
        shutil.copyfileobj(log, out)
        out.flush()
        while args.follow and run.result is Result.RUNNING:
            chunk = log.read()
            if chunk:
                out.write(chunk)
                out.flush()
                continue
            if held is not None and not held(run.id):
                break  # its process died; the next start records it interrupted
            time.sleep(FOLLOW_POLL_S)
            try:
                run = record(run.id) or run
            except Refused:
                break  # the host went away meanwhile
        out.write(log.read())
    return EXIT_OK


def _hosted_run(remote, name: str, run_id: int) -> RunRecord | None:
    """Run `run_id` of job `name`, as the live host tells it."""
    found = remote.history(name, 1, before_id=run_id + 1)
    return found[0] if found and found[0].id == run_id else None


def _held(store: Store, run_id: int) -> bool:
    """Whether the process that started a `running` run is still alive."""
    from synctui.scheduler.processes import is_alive

    return any(
        orphan.run.id == run_id and is_alive(orphan.host_pid, orphan.host_start)
        for orphan in store.orphans()
    )


def health(args: argparse.Namespace) -> int:
    """`synctui health [--job NAME] [--json] [--liveness]`."""
    if args.liveness:
        return _liveness(args)
    config = load(args)
    name = _job(config, args.job)
    store = open_store(config.scheduler.state_dir)
    now = datetime.now(timezone.utc)
    snapshot = stored_snapshot(store, config, now)
    jobs = {n: j for n, j in snapshot.jobs.items() if name is None or n == name}
    reasons = unhealthy(jobs)
    if args.json:
        print(json.dumps({
            "healthy": not reasons,
            "jobs": {n: {"health": j.health, "reason": reasons.get(n)} for n, j in jobs.items()},
        }))
    else:
        for n, reason in reasons.items():
            print(f"{n}: {jobs[n].health}: {reason}")
        if not reasons:
            print(f"healthy: {', '.join(f'{n} {j.health}' for n, j in jobs.items())}")
    return EXIT_FAILED if reasons else EXIT_OK


# --- the config ---------------------------------------------------------------------


def _liveness(args: argparse.Namespace) -> int:
    """`health --liveness`: whether a scheduler runs and ticks, whatever its jobs do.

    Whatever the config file says now, too: one edited wrong under a running scheduler
    (which refused to reload it and runs on) must not get that scheduler restarted.
    """
    try:
        config = read_config(args)
    except ConfigError as error:
        if error.state_dir is None:
            raise CommandError("\n".join(error.problems)) from None
        print(f"synctui: warning: {error.problems[0]} (a running scheduler goes on with the"
              " config it read before)", file=sys.stderr)
        state_dir = error.state_dir
    else:
        _job(config, args.job)
        state_dir = config.scheduler.state_dir
    now = datetime.now(timezone.utc)
    host = live_host(open_store(state_dir), now)
    alive = host is not None
    reason = (f"scheduler pid {host.pid} ticked"
              f" {(now - host.heartbeat_at).total_seconds():.0f}s ago ({host.mode})"
              + ("" if host.scheduling else "; scheduling is stopped by the operator")
              if alive else "no scheduler is running for this state directory")
    if args.json:
        print(json.dumps({"live": alive, "reason": reason}))
    else:
        print(("live: " if alive else "not live: ") + reason)
    return EXIT_OK if alive else EXIT_FAILED


def check(args: argparse.Namespace) -> int:
    """`synctui check`: validate the config, the commands and the state directory."""
    from zoneinfo import ZoneInfo

    from synctui.scheduler.status import describe_schedule
    from synctui.scheduler.triggers import job_trigger, next_fires

    config = load(args)
    where = config.path or "demo"
    problems = []
    for name, job in config.jobs.items():
        problem = _command_problem(job)
        if problem:
            problems.append(f"{where}: jobs.{name}: {problem}")
    state_dir = config.scheduler.state_dir
    if state_dir.exists() and not state_dir.is_dir():
        problems.append(f"{where}: scheduler.state_dir: {state_dir} is not a directory")
    if problems:
        raise CommandError("\n".join(problems))
    zone = ZoneInfo(config.scheduler.timezone)
    now = datetime.now(timezone.utc)
    print(f"{where}: ok · {len(config.jobs)} jobs · zone {config.scheduler.timezone}"
          f" · state {state_dir}{_state_note(state_dir)}")
    for name, job in config.jobs.items():
        fires = next_fires(job_trigger(job, zone, now, jitter=False), now, 5)
        print(f"\n{name}: {describe_schedule(job)}"
              + (f" (+ up to {job.jitter_s:g}s jitter)" if job.jitter_s else ""))
        for fire in fires:
            print(f"  {fire.astimezone(zone).strftime('%a %Y-%m-%d %H:%M:%S %Z')}")
    return EXIT_OK


def _state_note(state_dir: Path) -> str:
    """What `check` says of the state directory: it checks a config, it needs no state (it
    may run before the first start, or as a user other than the service's)."""
    if not state_dir.exists():
        return " (created at the first start)"
    if not os.access(state_dir, os.W_OK | os.X_OK):
        return " (not writable by this user: the scheduler's own user must be able to write it)"
    return ""


def _command_problem(job) -> str | None:
    if job.callable is not None:
        import importlib.util

        module = job.callable.partition(":")[0].split(".")[0]
        search = [str(job.cwd)] if job.cwd else []
        sys.path[:0] = search
        try:
            found = importlib.util.find_spec(module) is not None
        finally:
            del sys.path[:len(search)]
        return None if found else f"callable: module {module!r} not found"
    if job.cwd is not None and not job.cwd.is_dir():
        return f"cwd: {job.cwd} is not a directory"
    if isinstance(job.command, str):
        return None
    program = job.command[0]
    path = {**os.environ, **job.env}.get("PATH", os.defpath)
    if "/" in program:
        ok = os.access(Path(job.cwd or ".") / program, os.X_OK)
    else:
        ok = shutil.which(program, path=path) is not None
    return None if ok else f"command: {program!r} not found or not executable"


def init(args: argparse.Namespace) -> int:
    """`synctui init [PATH]`: write the commented example config; never overwrite."""
    from synctui.config import EXAMPLE_CONFIG_PATH

    target = Path(args.path)
    try:
        with open(target, "x", encoding="utf-8") as out:
            out.write(EXAMPLE_CONFIG_PATH.read_text(encoding="utf-8"))
        target.chmod(0o600)
    except FileExistsError:
        raise CommandError(f"{target}: already exists; not overwriting it") from None
    except OSError as error:
        raise CommandError(f"{target}: cannot write: {error.strerror}") from None
    print(f"wrote {target}; edit it, then `synctui check --config {target}`")
    return EXIT_OK


# --- steering -----------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """`synctui run JOB [--wait]`: the running scheduler runs it; with none, it runs here."""
    config = load(args)
    name = _job(config, args.job)
    remote = _reach_host(config)
    if remote is not None:
        return _run_on_host(remote, name, wait=args.wait)
    store = open_store(config.scheduler.state_dir)
    from synctui.scheduler.control import Refused
    from synctui.scheduler.host_lock import HostLock
    from synctui.scheduler.sync_scheduler import SyncScheduler

    # Held while the job runs here, as `--once` holds it: no other one-shot runs the
    # same jobs alongside, and a scheduler that starts meanwhile waits as a standby.
    lock = HostLock(config.scheduler.state_dir)
    if not lock.acquire():
        other = store.host()
        raise CommandError(
            f"another synctui{f' (pid {other.pid}, {other.mode})' if other else ''} runs jobs of"
            f" {config.scheduler.state_dir} without a control socket (a `run` or `--once`):"
            " try again when it ends"
        )
    scheduler = SyncScheduler(config, mode="once", store=store, serve=False)
    events = scheduler.subscribe()
    # Stopped by the operator (ctrl-c), a supervisor (SIGTERM) or a dropped SSH link
    # (SIGHUP), the run here ends too, and is recorded so.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.default_int_handler)
    record = None
    try:
        record = scheduler.run_now(name)
        print(f"run {record.id} of {name} started (no scheduler is running: it runs here)",
              file=sys.stderr)
        final = _follow(events, record, lambda: store.run(record.id))
    except Refused as refusal:
        raise CommandError(str(refusal), EXIT_FAILED) from None
    except KeyboardInterrupt:
        scheduler.shutdown(grace=0)
        if record is None:
            raise CommandError(f"stopped before the run of {name} began", EXIT_FAILED) from None
        final = store.run(record.id)
    finally:
        scheduler.shutdown()
        lock.release()
    return _ran(final, args.wait)


def _run_on_host(remote, name: str, *, wait: bool) -> int:
    from synctui.scheduler.control import Refused

    events = remote.subscribe() if wait else None
    try:
        record = remote.run_now(name)
    except Refused as refusal:
        raise CommandError(str(refusal), EXIT_FAILED) from None
    print(f"run {record.id} of {name} started {_through(remote)}", file=sys.stderr)
    if events is None:
        return EXIT_OK
    final = _follow(events, record, lambda: None)
    if final is None:
        raise CommandError(f"the scheduler went away during run {record.id} of {name};"
                           f" `synctui history --job {name}` shows how it ended", EXIT_FAILED)
    return _ran(final, wait)


def _follow(events, record: RunRecord, stored) -> RunRecord | None:
    """Print the run's output until it ends; its final record (None if the host went away).

    `stored` reads the record from the store, for a run hosted here: a run's output is
    published before it is recorded finished, so once it is, one more look at the
    queue, without waiting, holds the rest of it.
    """
    from synctui.scheduler.events import OutputLines, RunFinished, StateChanged

    while True:
        final = stored()
        done = final is not None and final.finished
        for event in events.get(timeout=0 if done else 1.0):
            if isinstance(event, OutputLines) and event.run_id == record.id:
                sys.stdout.write("".join(f"{line}\n" for line in event.lines))
            elif isinstance(event, RunFinished) and event.run.id == record.id:
                final, done = event.run, True
            elif event == StateChanged(None, "host-lost"):
                return None
        sys.stdout.flush()
        if done:
            return final


def _ran(final: RunRecord, wait: bool) -> int:
    print(f"run {final.id}: {final.result.value} in {_seconds(final.duration_s)}"
          + (f": {final.error}" if final.error else ""), file=sys.stderr)
    return EXIT_FAILED if wait and final.result is not Result.SUCCESS else EXIT_OK


def _steer(
    args: argparse.Namespace, act, said, absent: str, absent_status: int, *,
    gone_jobs: bool = False,
) -> int:
    """Do `act(remote)` through the live host and print `said(result)`; with none, say `absent`.

    `gone_jobs`: the host may know a job the config no longer has (a reload removed it
    while it ran), so a job name is checked against the config only if the host refuses.
    """
    config = load(args)
    job = getattr(args, "job", None)
    remote = _reach_host(config)
    if job and (remote is None or not gone_jobs):
        _job(config, job)
    if remote is None:
        print(f"synctui: {absent}", file=sys.stderr)
        return absent_status
    from synctui.scheduler.control import Refused

    try:
        result = act(remote)
    except Refused as refusal:
        if job:
            _job(config, job)  # an unknown name is a usage error, whoever says so
        raise CommandError(str(refusal), EXIT_FAILED) from None
    print(f"{said(result)} ({_through(remote)})")
    return EXIT_OK


def cancel(args: argparse.Namespace) -> int:
    """`synctui cancel JOB`."""
    return _steer(args, lambda remote: remote.cancel(args.job),
                  lambda _: f"{args.job}: asked its run to end",
                  "no scheduler is running: nothing to cancel", EXIT_FAILED, gone_jobs=True)


def skip(args: argparse.Namespace) -> int:
    """`synctui skip JOB`."""
    return _steer(args, lambda remote: remote.skip_next(args.job),
                  lambda when: f"{args.job}: the run due {when.isoformat()} will be skipped",
                  "no scheduler is running: there is no next run to skip", EXIT_FAILED)


def stop(args: argparse.Namespace) -> int:
    """`synctui stop`: the running scheduler stops scheduling (runs in progress finish)."""
    return _steer(args, lambda remote: remote.stop(), lambda _: "scheduler stopped",
                  "no scheduler is running: already stopped", EXIT_OK)


def start(args: argparse.Namespace) -> int:
    """`synctui start`: a stopped scheduler schedules again."""
    return _steer(args, lambda remote: remote.start(), lambda _: "scheduler started",
                  "no scheduler is running; start one with `synctui --headless` or `synctui`",
                  EXIT_FAILED)


def restart(args: argparse.Namespace) -> int:
    """`synctui restart`."""
    return _steer(args, lambda remote: remote.restart(), lambda _: "scheduler restarted",
                  "no scheduler is running; start one with `synctui --headless` or `synctui`",
                  EXIT_FAILED)


def pause(args: argparse.Namespace) -> int:
    """`synctui pause [JOB]`: through the running scheduler, or remembered in the store."""
    return _set_paused(args, True)


def resume(args: argparse.Namespace) -> int:
    """`synctui resume [JOB]`."""
    return _set_paused(args, False)


def _set_paused(args: argparse.Namespace, paused: bool) -> int:
    config = load(args)
    names = [_job(config, args.job)] if args.job else list(config.jobs)
    word = "paused" if paused else "resumed"
    remote = _reach_host(config)
    if remote is not None:
        from synctui.scheduler.control import Refused

        try:
            (remote.pause if paused else remote.resume)(args.job)
        except Refused as refusal:
            raise CommandError(str(refusal), EXIT_FAILED) from None
        print(f"{word} {', '.join(names)} ({_through(remote)})")
        return EXIT_OK
    store = open_store(config.scheduler.state_dir)
    for name in names:
        store.set_paused(name, paused)
    print(f"{word} {', '.join(names)} (no scheduler is running: remembered for the next one)")
    return EXIT_OK
