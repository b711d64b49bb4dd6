"""The deploy files in `examples/`: they load, verify, and agree with each other and the config."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from commandline import SYNCTUI, write_config
from synctui.config import EXAMPLE_CONFIG_PATH, load_config
from synctui.config.durations import parse_duration

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
UNIT = EXAMPLES / "synctui.service"


def _unit_keys(text: str) -> dict[str, dict[str, list[str]]]:
    """The unit's sections and their keys (a key may repeat), comments left out."""
    sections: dict[str, dict[str, list[str]]] = {}
    section = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        section.setdefault(key.strip(), []).append(value.strip())
    return sections


def _service_config():
    return load_config(EXAMPLES / "synctui.toml",
                       environ={"HOME": "/nonexistent", "STATE_DIRECTORY": "/var/lib/synctui"})


def _stop_budget() -> float:
    """What a stop may take at most: the grace for running jobs, then the hooks' timeout."""
    config = _service_config()
    return config.scheduler.shutdown_grace_s + max(job.hook_timeout_s for job in config.jobs.values())


def test_the_systemd_unit_has_the_keys_a_service_needs():
    service = _unit_keys(UNIT.read_text())["Service"]
    [start] = service["ExecStart"]
    assert " --headless " in f"{start} " and "--config /etc/synctui/config.toml" in start
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert service["Restart"] == ["on-failure"]
    assert service["User"] == ["synctui"]
    assert service["StateDirectory"] == ["synctui"]
    assert service["StateDirectoryMode"] == ["0700"]
    # SIGTERM to synctui alone: systemd's default would end every job at once, without its grace.
    assert service["KillMode"] == ["mixed"]
    [stop] = service["TimeoutStopSec"]
    assert parse_duration(stop) > _stop_budget()
    assert _unit_keys(UNIT.read_text())["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_the_systemd_unit_passes_systemd_analyze_verify(tmp_path):
    unit = tmp_path / "synctui.service"
    # verify checks that ExecStart's program exists: point it at the installed one.
    unit.write_text(UNIT.read_text().replace("/opt/synctui/bin/synctui", SYNCTUI))
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "synctui.service" not in done.stdout + done.stderr, done.stderr


def test_the_container_probes_liveness_and_stops_within_the_grace():
    dockerfile = (EXAMPLES / "Dockerfile").read_text()
    assert re.search(r'^HEALTHCHECK .*\\\n\s+CMD \["synctui", "health", "--liveness"\]$',
                     dockerfile, re.M)
    # The image runs the wheel, built in a stage of its own, not the copied sources.
    assert re.search(r"^RUN pip wheel .*--wheel-dir /wheels /src$", dockerfile, re.M)
    assert re.search(r"^RUN pip install --no-cache-dir /wheels/\*\.whl ", dockerfile, re.M)
    [command] = re.findall(r"^CMD \[(.*)\]$", dockerfile, re.M)
    assert '"--headless"' in command and '"--log-format", "json"' in command
    stop_timeout = int(re.search(r"--stop-timeout (\d+)", dockerfile).group(1))
    assert stop_timeout > _stop_budget()
    compose = (EXAMPLES / "compose.yaml").read_text()
    assert parse_duration(re.search(r"stop_grace_period: (\S+)", compose).group(1)) > _stop_budget()
    assert re.search(r"^\s+init: true$", compose, re.M)
    assert re.search(r"dockerfile: examples/Dockerfile$", compose, re.M)


def test_the_tmux_snippet_prints_one_status_line(tmp_path, env):
    config = write_config(tmp_path, """
        [jobs.orders]
        command = "true"
        interval = "1h"
    """)
    snippet = (EXAMPLES / "tmux.conf").read_text()
    [command] = re.findall(r"#\((.*)\)", snippet)
    command = command.replace("~/.config/synctui/config.toml", str(config))
    done = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=20,
                          env={**env, "PATH": f"{Path(SYNCTUI).parent}:{env['PATH']}"}, cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout == "synctui ■ stopped · 1 new\n"


def test_the_example_configs_load():
    config = _service_config()
    assert set(config.jobs) == {"orders", "customers"}
    assert config.scheduler.state_dir == Path("/var/lib/synctui")  # systemd decides
    assert config.jobs["orders"].on_failure.startswith("logger -t synctui")  # [scheduler]'s
    assert config.jobs["orders"].hook_timeout_s == 30
    assert config.jobs["customers"].hook_timeout_s == 15
    assert load_config(EXAMPLE_CONFIG_PATH, environ={"HOME": "/nonexistent"}).jobs


@pytest.mark.skipif(shutil.which("tmux") is None, reason="no tmux here")
def test_tmux_takes_the_snippet():
    # A short socket directory: a Unix socket's path holds about 100 bytes.
    with tempfile.TemporaryDirectory(prefix="tmux", dir="/tmp") as sockets:
        env = {"PATH": "/usr/bin:/bin", "TMUX_TMPDIR": sockets, "TERM": "xterm"}
        server = ["tmux", "-L", "synctui-example", "-f", str(EXAMPLES / "tmux.conf")]
        try:
            subprocess.run([*server, "new-session", "-d"], check=True, timeout=10, env=env,
                           capture_output=True)
            shown = subprocess.run([*server, "show-options", "-gv", "status-right"], check=True,
                                   timeout=10, capture_output=True, text=True, env=env)
        finally:
            subprocess.run([*server, "kill-server"], timeout=10, capture_output=True, env=env)
    assert shown.stdout.startswith("#(synctui status --short ")
