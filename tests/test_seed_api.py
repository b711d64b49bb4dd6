"""The seed's module-level API: initialize_scheduler(), get_scheduler(), get_scheduler_status()."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json, sys, time
    import synctui.scheduler as core

    before = core.get_scheduler_status()
    assert core.get_scheduler() is None
    scheduler = core.initialize_scheduler()
    assert scheduler is not None and core.get_scheduler() is scheduler
    assert core.initialize_scheduler() is scheduler  # once per process
    deadline = time.monotonic() + 10
    while core.get_scheduler_status()["last_result"] != "success" and time.monotonic() < deadline:
        time.sleep(0.05)
    during = core.get_scheduler_status()
    scheduler.stop()
    stopped = core.get_scheduler_status()
    scheduler.start()
    scheduler.shutdown(grace=0)
    print(json.dumps({"before": before, "during": during, "stopped": stopped,
                      "interval": scheduler.interval_minutes}))
""")


def test_seed_api_starts_reports_and_controls(tmp_path):
    (tmp_path / "synctui.toml").write_text(
        'SYNC_INTERVAL_MINUTES = 15\nSCHEDULER_TIMEZONE = "America/Sao_Paulo"\n'
        '[scheduler]\nstate_dir = "state"\n'
        '[jobs.sync]\ncommand = "echo synced"\ninterval = "200ms"\n'
    )
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    import json

    report = json.loads(done.stdout)
    before, during, stopped = report["before"], report["during"], report["stopped"]
    assert before["running"] is False and before["next_run"] is None
    assert before["interval_minutes"] == 15
    assert during["running"] is True and during["last_result"] == "success"
    assert during["last_run"].endswith("-03:00") and during["next_run"].endswith("-03:00")
    assert during["jobs"]["sync"]["health"] in ("up", "late")
    assert stopped["running"] is False and stopped["next_run"] is None
    assert report["interval"] == 15


def test_initialize_scheduler_without_a_config_returns_none_and_says_why(tmp_path):
    script = "import synctui.scheduler as core; print(core.initialize_scheduler())"
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=30, env=env)
    assert done.stdout.strip() == "None"
    assert "no synctui config found" in done.stderr
    assert "Traceback" not in done.stderr
