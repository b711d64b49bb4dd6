"""The command palette's console commands: every action of the main screen, with its key."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Iterator

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from synctui.tui.app import SyncTuiApp

COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("run_now", "Run now", "Run the selected job now"),
    ("cancel_run", "Cancel the run", "Cancel the selected job's running run"),
    ("pause", "Pause the job", "Pause the selected job"),
    ("resume", "Resume the job", "Resume the selected job"),
    ("pause_all", "Pause every job", "Pause every job"),
    ("resume_all", "Resume every job", "Resume every job"),
    ("skip_next", "Skip the next run", "Drop the selected job's next fire time"),
    ("stop", "Stop the scheduler", "No runs start on schedule; runs in progress go on"),
    ("start", "Start the scheduler", "Schedule the jobs again"),
    ("restart", "Restart the scheduler", "Stop and start, catching up what is due"),
    ("reload_config", "Reload the config", "Read the config file again: jobs added, removed"
     " and changed"),
    ("change_theme", "Switch theme", "Pick a theme (remembered)"),
    ("history", "Open the history", "The selected job's runs; enter on one shows its output"),
    ("toggle_log", "Focus the log", "Focus the selected job's log (again: the jobs)"),
    ("help", "Help", "Every key, the badge and health words, where the files are"),
    ("quit", "Quit", "Quit (stops the scheduler this console hosts)"),
)
"""(action, title, help) of each command, in the order the palette lists them."""
MAIN_SCREEN_ACTIONS = {
    "run_now", "cancel_run", "pause", "resume", "pause_all", "resume_all", "skip_next", "stop",
    "start", "restart", "toggle_log", "history", "next_job", "previous_job",
}
"""Actions on the selected job or the scheduler, offered on the main screen only: the history
and output screens have keys of their own."""


class ConsoleCommands(Provider):
    """The console's actions, each shown with its key; toggles offer the half that applies."""

    def _commands(self) -> Iterator[tuple[str, str, str]]:
        app: SyncTuiApp = self.app  # type: ignore[assignment]
        keys = app.keys_by_action()
        for action, title, help_text in COMMANDS:
            if not app.applies(action) or (
                action in MAIN_SCREEN_ACTIONS and self.screen is not app.screen_stack[0]
            ):
                continue
            key = keys.get(action)
            yield title if key is None else f"{title}  ({key})", action, help_text

    async def discover(self) -> Hits:
        for shown, action, help_text in self._commands():
            yield DiscoveryHit(shown, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for shown, action, help_text in self._commands():
            score = matcher.match(shown)
            if score > 0:
                yield Hit(score, matcher.highlight(shown), partial(self.app.run_action, action),
                          text=shown, help=help_text)
