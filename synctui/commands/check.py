"""`synctui check`: whether the config, its commands and its state directory would work; each schedule in words and its next fire times."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from synctui.commands import EXIT_OK, CommandError
from synctui.commands.reaching import load
from synctui.config.model import url_shown
from synctui.scheduler.clock import utc_now


def check(args: argparse.Namespace) -> int:
    """`synctui check`: validate the config, the commands and the state directory."""
    from synctui.config.crontab import explain
    from synctui.scheduler.blackout import blocked, describe, next_allowed_fire
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
    now = utc_now()
    limit = config.scheduler.max_running
    print(f"{where}: ok · {len(config.jobs)} jobs · zone {config.scheduler.timezone}"
          + (f" · at most {limit} running at once" if limit else "")
          + f" · state {state_dir}{_state_note(state_dir)}")
    for name, job in config.jobs.items():
        trigger = job_trigger(job, zone, now, jitter=False)
        fires = [] if trigger is None else [
            fire.astimezone(zone) for fire in next_fires(trigger, now, 5)]
        print(f"\n{name}: {describe_schedule(job)}"
              + (f" (+ up to {job.jitter_s:g}s jitter)" if job.jitter_s else ""))
        if job.cron is not None:
            print(f"  {explain(job.cron)}")
        for before, fire in zip([None, *fires], fires):
            if before is not None and before.utcoffset() != fire.utcoffset():
                print(f"  -- {config.scheduler.timezone} changes offset here: "
                      f"{_offset(before)} to {_offset(fire)}")
            skipped = blocked(job.window, fire, zone)
            print(f"  {fire.strftime('%a %Y-%m-%d %H:%M:%S %Z')}"
                  + (f"  (skipped: {skipped})" if skipped else ""))
        queue = _queue_words(job, config)
        if queue:
            print(f"  {queue}")
        alerts = _alert_words(job)
        if alerts:
            print(f"  {alerts}")
        window = describe(job.window)
        if window is not None:
            print(f"  {window} ({config.scheduler.timezone})")
            allowed = next_allowed_fire(job.window, zone, fires[0] if fires else None,
                                        lambda moment: trigger.get_next_fire_time(None, moment))
            print(f"  next allowed: {allowed.astimezone(zone).strftime('%a %Y-%m-%d %H:%M:%S %Z')}"
                  if allowed else "  next allowed: none within a year: it never runs on its own")
    return EXIT_OK


def _queue_words(job, config) -> str:
    """The job's queue settings that differ from the defaults: `group warehouse (1 at once) ·
    catch_up all · start_deadline 2h`."""
    from synctui.scheduler.status import every

    words = []
    if job.group:
        words.append(f"group {job.group} ({config.groups[job.group].max_running} at once)")
    if job.catch_up != "last":
        words.append(f"catch_up {job.catch_up}")
    if job.start_deadline_s is not None:
        words.append(f"start_deadline {every(job.start_deadline_s)}")
    return " · ".join(words)


def _alert_words(job) -> str:
    """Who hears of the job, URLs by scheme and host only: `warn_after 10m · notify
    https://hooks.slack.com/… (slack) · ping https://hc-ping.com/…`."""
    words = []
    if job.warn_after is not None:
        words.append(f"warn_after {job.warn_after.text}")
    words.extend(f"notify {url_shown(notifier.url)} ({notifier.format})" for notifier in job.notify)
    if job.ping is not None:
        shown = dict.fromkeys(url_shown(url) for url in (job.ping.start, job.ping.success,
                                                         job.ping.failure) if url)
        words.append(f"ping {', '.join(shown)}")
    return " · ".join(words)


def _offset(moment) -> str:
    """`EDT (UTC-04:00)`; the abbreviation alone when it is the offset itself (`-03`)."""
    offset = moment.strftime("%z")
    utc = f"UTC{offset[:3]}:{offset[3:]}"
    name = moment.strftime("%Z")
    return utc if name.lstrip("+-").isdigit() else f"{name} ({utc})"


def _state_note(state_dir: Path) -> str:
    """What `check` says of the state directory: it checks a config, it needs no state (it
    may run before the first start, or as a user other than the service's)."""
    if not state_dir.exists():
        return " (created at the first start)"
    if not os.access(state_dir, os.W_OK | os.X_OK):
        return " (not writable by this user: the scheduler's own user must be able to write it)"
    return ""


def _command_problem(job) -> str | None:
    """Why the job's command (or callable) cannot start here, if it cannot."""
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
