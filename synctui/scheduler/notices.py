"""A job's notice state (`failing` or not), derived from its run history, and the changes of it that are told.

Deriving it from the store rather than keeping it in memory means a restart between a
failure and its recovery neither repeats nor forgets a notice.
"""

from __future__ import annotations

from synctui.config.model import JobConfig
from synctui.scheduler.records import FAILED_RESULTS, Result, RunRecord, Trigger

_MOVES_FAILING = FAILED_RESULTS | {Result.SUCCESS}
"""The results that move the `failing` state; cancelled, skipped and replaced runs
(the operator's or the schedule's doing) leave it where it was."""


def failed_runs_in_a_row(history: list[RunRecord]) -> int:
    """How many runs in a row failed, newest first `history`, up to its last success.

    A run's retries are part of that run: only the first attempt of each is counted.
    """
    count = 0
    for record in history:
        if record.result not in _MOVES_FAILING:
            continue
        if record.result is Result.SUCCESS:
            break
        if record.trigger is not Trigger.RETRY:
            count += 1
    return count


def history_needed(job: JobConfig) -> int:
    """How many of a job's newest records `notice` must see to count up to its threshold."""
    # Each run is its attempts, plus a skip record or so between runs.
    return ((job.notify_after_failures or 1) + 1) * (job.retries + 2) + 2


def notice(job: JobConfig, history: list[RunRecord], *, retrying: bool) -> str | None:
    """The notice the newest record of `history` (newest first) calls for, if any.

    `failing` once `notify_after_failures` runs in a row failed and no retry follows,
    then not again until a success; `recovered` at the first success after a failing
    notice. With no `notify_after_failures`, every failed run is told, and the first
    success after any is a recovery.
    """
    record, earlier = history[0], history[1:]
    threshold = job.notify_after_failures
    if record.result is Result.SUCCESS:
        return "recovered" if failed_runs_in_a_row(earlier) >= (threshold or 1) else None
    if record.result in FAILED_RESULTS and not retrying:
        if threshold is None or failed_runs_in_a_row(history) == threshold:
            return "failing"
    return None
