"""Headless log lines: JSON from every logger, journald's priority prefixes, no colour off a terminal.

A `sitecustomize` put on the host's PYTHONPATH makes the real `synctui --headless`
say things through APScheduler's logger, `warnings`, the root logger and a
crashing thread, right after it set its logging up.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import textwrap
from datetime import datetime

from commandline import write_config
from synctui.log_format import TextFormatter

_SAYS_THINGS = """
    import logging, threading, warnings
    import synctui.log_format as log_format

    set_up = log_format.setup_logging

    def setup_logging(*args, **kwargs):
        set_up(*args, **kwargs)
        if getattr(setup_logging, "said", False):
            return
        setup_logging.said = True
        aps = logging.getLogger("apscheduler.scheduler")
        aps.info("Added job 'hidden': repeats what synctui says")
        aps.warning("Run time of job 'x' was missed by 0:00:01")
        warnings.warn("a library's warning", UserWarning)
        logging.getLogger().warning("said on the root logger")
        logging.getLogger("some.library").error("two lines\\nin one message")
        crash = threading.Thread(target=lambda: 1 / 0, name="crashing")
        crash.start()
        crash.join()

    log_format.setup_logging = setup_logging
"""


def _saying_things(tmp_path, env):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent(_SAYS_THINGS))
    env["PYTHONPATH"] = str(site)


def test_json_logs_parse_line_by_line_with_every_logger_included(tmp_path, env, hosts):
    _saying_things(tmp_path, env)
    config = write_config(tmp_path, """
        [jobs.job]
        command = "echo done"
        interval = "200ms"
    """)
    host = hosts(config, "--log-format", "json", "--metrics-port", "0")
    host.wait_for(r'"event": "run_finished"')
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0

    entries = [json.loads(line) for line in host.stderr().splitlines()]  # each line parses
    for entry in entries:
        assert entry["level"] in ("debug", "info", "warning", "error", "critical")
        datetime.fromisoformat(entry["time"])
    by_logger = {}
    for entry in entries:
        by_logger.setdefault(entry["logger"], []).append(entry)
    [aps] = by_logger["apscheduler.scheduler"]  # its INFO line is hidden, its warning is not
    assert (aps["level"], aps["message"]) == ("warning", "Run time of job 'x' was missed by 0:00:01")
    [warned] = by_logger["py.warnings"]
    assert "UserWarning: a library's warning" in warned["message"]
    assert by_logger["root"][0]["message"] == "said on the root logger"
    assert by_logger["some.library"][0]["message"] == "two lines\nin one message"
    [crash] = [e for e in entries if e.get("event") == "internal_error"]
    assert crash["message"] == "uncaught error in crashing"
    assert "ZeroDivisionError" in crash["exception"]
    [metrics] = [e for e in entries if e.get("event") == "metrics"]
    assert metrics["message"].startswith("metrics on http://127.0.0.1:")
    finished = [e for e in entries if e.get("event") == "run_finished"]
    assert finished and {"job", "run_id", "trigger", "result", "duration"} <= finished[0].keys()


def test_text_logs_have_no_colour_off_a_terminal_and_name_foreign_loggers(tmp_path, env, hosts):
    _saying_things(tmp_path, env)
    config = write_config(tmp_path, """
        [jobs.job]
        command = "true"
        interval = "1h"
    """)
    host = hosts(config)
    host.wait_ready()
    host.send(signal.SIGTERM)
    assert host.exit_status() == 0
    log = host.stderr()
    assert "\x1b" not in log
    assert "WARNING Run time of job 'x' was missed by 0:00:01 [apscheduler.scheduler]" in log


def test_under_journald_lines_carry_its_priority_prefix_and_no_time(tmp_path, env, hosts):
    config = write_config(tmp_path, """
        [jobs.job]
        command = "exit 3"
        interval = "200ms"
    """)
    err = tmp_path / "host0.err"  # the file the host's stderr will be: journald's stream here
    err.touch()
    env["JOURNAL_STREAM"] = f"{err.stat().st_dev}:{err.stat().st_ino}"
    host = hosts(config)
    host.wait_for(r"^<4>job: run \d+ failure in [\d.]+s: exit status 3$")
    assert host.stderr().startswith("<6>")
    assert all(line[:3] in ("<6>", "<4>", "<3>") for line in host.stderr().splitlines())


def test_on_a_terminal_warnings_and_errors_are_coloured():
    def line(level: int) -> str:
        record = logging.LogRecord("synctui.x", level, __file__, 1, "said", None, None)
        return TextFormatter(colour=True).format(record)

    assert line(logging.WARNING).endswith(" \x1b[33mWARNING\x1b[0m said")
    assert line(logging.ERROR).endswith(" \x1b[31;1mERROR\x1b[0m said")
    assert line(logging.INFO).endswith(" INFO said")


_CONSOLE_LOGGING = """
import logging, sys, time
from pathlib import Path
from synctui.commands.console import log_to_file

path, name = Path(sys.argv[1]), sys.argv[2]


def meet(step):
    # Both consoles start writing together and end together.
    (path.parent / f"{name}.{step}").touch()
    while len(list(path.parent.glob(f"*.{step}"))) < 2:
        time.sleep(0.01)


log_to_file(path)
log = logging.getLogger("synctui.console")
meet("start")
for number in range(12_000):
    log.info("%s line %d %s", name, number, "x" * 100)
meet("end")
log.info("%s done", name)
"""


def test_consoles_sharing_a_console_log_keep_their_latest_lines_through_rotations(tmp_path):
    """Every console on a state directory logs to its console.log: one's rotation must not
    send the other's lines to a file it then deletes."""
    path = tmp_path / "console.log"
    consoles = [subprocess.Popen([sys.executable, "-c", _CONSOLE_LOGGING, str(path), name],
                                 stderr=subprocess.PIPE, text=True)
                for name in ("first", "second")]
    errors = [console.communicate(timeout=60)[1] for console in consoles]
    assert [console.returncode for console in consoles] == [0, 0] and errors == ["", ""], errors
    kept = [line for log in sorted(tmp_path.glob("console.log*"))
            for line in log.read_text(encoding="utf-8").splitlines()]
    assert sum(len(line) + 1 for line in kept) > 1_000_000  # it rotated, and kept a full copy
    assert all(line.endswith((" done", "x" * 100)) for line in kept)  # whole lines only
    for name in ("first", "second"):
        # What is kept of each is its latest lines, every one of them, to its end.
        numbers = sorted(int(line.split(f" {name} line ")[1].split()[0])
                         for line in kept if f" {name} line " in line)
        assert numbers and numbers == list(range(numbers[0], 12_000)), f"{name} lost lines"
        assert any(line.endswith(f"{name} done") for line in kept)
