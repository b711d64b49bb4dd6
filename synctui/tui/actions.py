"""The console's actions, listed once: the footer, the command palette and the help are built from it."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Action:
    """One action of the console, with everything each place that offers it shows."""

    key: str
    name: str
    """The action, as `action_<name>` of the app."""
    id: str
    """The binding's id (keymaps name it)."""
    label: str
    """The footer's word."""
    title: str
    """The command palette's name for it."""
    description: str
    """What it does: the footer's tooltip, the palette's help line, the help screen's row."""
    shown: bool = True
    """In the footer."""
    main_screen: bool = True
    """An action on the selected job or the scheduler, offered on the main screen only: the
    history and output screens have keys of their own."""
    in_palette: bool = True
    steers: bool = False
    """It changes what the scheduler does: a read-only console offers it nowhere."""


# In the footer's order. Toggles are two actions on one key: `check_action` offers the one
# that applies, and the palette the same one.
ACTIONS: tuple[Action, ...] = (
    Action("r", "run_now", "run-now", "Run", "Run now", "Run the selected job now", steers=True),
    Action("w", "run_with", "run-with", "Run with", "Run with...",
           "Run the selected job as a full re-sync, or since a time", shown=False,
           steers=True),
    Action("c", "cancel_run", "cancel", "Cancel", "Cancel the run",
           "Cancel the selected job's run (or drop its pending retry)", steers=True),
    Action("p", "pause", "pause", "Pause", "Pause the job", "Pause the selected job", steers=True),
    Action("p", "resume", "resume", "Resume", "Resume the job", "Resume the selected job",
           steers=True),
    Action("P", "pause_all", "pause-all", "Pause all", "Pause every job", "Pause every job",
           steers=True),
    Action("P", "resume_all", "resume-all", "Resume all", "Resume every job", "Resume every job",
           steers=True),
    Action("n", "skip_next", "skip-next", "Skip", "Skip the next run",
           "Skip the selected job's next run", steers=True),
    Action("s", "stop", "stop", "Stop", "Stop the scheduler",
           "Stop the scheduler: no runs start on schedule; runs in progress go on",
           steers=True),
    Action("s", "start", "start", "Start", "Start the scheduler",
           "Start the scheduler: the jobs are scheduled again", steers=True),
    Action("R", "restart", "restart", "Restart", "Restart the scheduler",
           "Restart the scheduler: stop and start, catching up what is due", steers=True),
    Action("l", "toggle_log", "focus-log", "Log", "Focus the log",
           "Focus the selected job's log (again: the jobs)"),
    Action("q", "quit", "quit", "Quit", "Quit", "Quit (stops the scheduler this console hosts)",
           main_screen=False),
    # The last one shown: at 80 columns with every toggle on its longer word, only it is cut.
    Action("question_mark", "help", "help", "Help", "Help",
           "Every key, the badge and health words, where the files are", main_screen=False),
    Action("enter", "history", "history", "History", "Open the history",
           "The selected job's runs; enter on one shows its output", shown=False),
    Action("t", "timeline", "timeline", "Timeline", "Open the timeline",
           "Every job's runs over the last hour, day, week or month", shown=False),
    Action("j", "next_job", "next-job", "Next job", "Next job", "Select the next job",
           shown=False, in_palette=False),
    Action("k", "previous_job", "previous-job", "Previous job", "Previous job",
           "Select the previous job", shown=False, in_palette=False),
    Action("ctrl+r", "reload_config", "reload-config", "Reload config", "Reload the config",
           "Read the config file again: jobs added, removed and changed", shown=False,
           main_screen=False, steers=True),
    Action("ctrl+t", "change_theme", "change-theme", "Theme", "Switch theme",
           "Pick a theme (remembered)", shown=False, main_screen=False),
)

BINDINGS = [
    Binding(action.key, action.name, action.label, show=action.shown,
            tooltip=action.description, id=action.id)
    for action in ACTIONS
]
PALETTE = tuple(action for action in ACTIONS if action.in_palette)
MAIN_SCREEN_ACTIONS = frozenset(action.name for action in ACTIONS if action.main_screen)
STEERING_ACTIONS = frozenset(action.name for action in ACTIONS if action.steers)
