"""The two pieces of APScheduler 3 that synctui replaces: its executor (`HandOff`: a fire's
run times go to synctui at once, never counted against `max_instances`) and its loop's
pass (`Firing`: once every fire time due is handed over, synctui's queue starts them)."""

from __future__ import annotations

import logging
from typing import Callable

from apscheduler.executors.base import BaseExecutor
from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger("synctui.scheduler")


class HandOff(BaseExecutor):
    """An executor that calls the job's function inline with the fire's run times.

    The function only hands the fire to synctui and returns; instance counting
    (and so APScheduler's silent `max_instances` drops) is bypassed on purpose.
    """

    def submit_job(self, job, run_times):
        job.func(*job.args, run_times)

    def _do_submit_job(self, job, run_times):  # pragma: no cover - submit_job replaces it
        job.func(*job.args, run_times)


class Firing(BackgroundScheduler):
    """APScheduler's loop, telling `after_fires` once it has handed over every fire time due
    in a pass: runs due together then start in synctui's queue order (fire time, then
    config order), not in APScheduler's (job id)."""

    def __init__(self, after_fires: Callable[[], None], **options) -> None:
        super().__init__(**options)
        self._after_fires = after_fires

    def _process_jobs(self):
        wait_seconds = super()._process_jobs()
        try:
            self._after_fires()
        except Exception:  # as APScheduler does for a failed hand-off: the loop goes on
            log.exception("starting the runs due failed")
        return wait_seconds
