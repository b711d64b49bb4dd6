"""The help screen (`?`): every key, what the badge and the health words mean, and where
synctui keeps its files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Markdown

from synctui.scheduler.records import Result
from synctui.scheduler.status import HostInfo
from synctui.scheduler.store import DB_NAME, LOGS_DIR
from synctui.scheduler.words import HEALTH_SYMBOLS, STATE_SYMBOLS, result_words

BADGE_MEANINGS = {
    "running": "this console hosts the scheduler and it is scheduling",
    "paused": "every job is paused: nothing runs on schedule until resumed",
    "stopped": "no runs start on schedule (s starts the scheduler again)",
    "stopping": "the console is quitting and lets running jobs end",
    "attached": "another process hosts the scheduler; this console steers it",
    "waiting": "no scheduler for this console yet: another synctui (a run or --once) holds"
               " the state directory, or its host was stopped on purpose (s hosts it here), or"
               " (a [control] group member, who cannot host) the host is gone; it hosts or"
               " attaches as soon as it can",
    "fallback": "no scheduler could start: the console re-reads the history every few seconds"
                " and, with [autorefresh] enabled, runs due jobs itself every"
                " autorefresh interval",
    "demo": "no config was found: the built-in demo runs",
}
HEALTH_MEANINGS = {
    "new": "never ran, and its first fire time is not yet past its grace",
    "up": "a run succeeded since the fire time before the last one, and the last run did not fail",
    "late": "a fire time passed less than grace_minutes ago without a success since",
    "down": "a fire time passed more than grace_minutes ago without a success, or the last"
            " run ended failure, timeout or interrupted",
    "paused": "the job is paused (p resumes it)",
}
RESULT_MEANINGS = {
    Result.RUNNING: "going now",
    Result.SUCCESS: "exit status 0",
    Result.FAILURE: "a non-zero exit status, or killed by a signal",
    Result.TIMEOUT: "ran past timeout_seconds and was ended",
    Result.CANCELLED: "an operator cancelled it (c)",
    Result.INTERRUPTED: "the scheduler stopped or died under it",
    Result.SKIPPED: "its fire time came while the run before was still going, or outside its"
                    " run window (with a count)",
    Result.MISSED: "its fire time could not start by its start_deadline, or catch_up let it go"
                   " (with a count)",
    Result.REPLACED: "ended for a newer run (overlap = \"replace\")",
}


@dataclass(frozen=True)
class Places:
    """Where synctui keeps its files, as the help tells them."""

    config: Path | None
    """The config file; None on the demo."""
    state_dir: Path | None
    console_log: Path | None = None
    """The console's own log (in the state directory, or for a guest in its own)."""
    host: HostInfo | None = None
    """The process hosting the scheduler, as its status says (its socket included)."""


class HelpScreen(Screen[None]):
    """Every key and word of the console, and where things are."""

    DEFAULT_CSS = """
    HelpScreen {
        & > VerticalScroll { padding: 0 2; }
        & Markdown { margin: 0; }
    }
    """

    BINDINGS = [
        Binding("escape,question_mark", "back", "Back", id="back"),
    ]

    def __init__(self, keys: list[tuple[str, str]], places: Places) -> None:
        """Help listing `keys` ((key, what it does) of the main screen) and `places`."""
        super().__init__()
        self._keys = keys
        self._places = places

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(self._text())
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def _text(self) -> str:
        places = self._places
        rows = "\n".join(f"- `{key}` {what}" for key, what in self._keys)
        badges = "\n".join(
            f"- **{STATE_SYMBOLS.get(word, '◇')} {word}**: {meaning}"
            for word, meaning in BADGE_MEANINGS.items()
        )
        healths = "\n".join(
            f"- **{HEALTH_SYMBOLS[word]} {word}**: {meaning}"
            for word, meaning in HEALTH_MEANINGS.items()
        )
        results = "\n".join(
            f"- **{result_words(result)}**: {meaning}"
            for result, meaning in RESULT_MEANINGS.items()
        )
        state, host = places.state_dir, places.host
        config = f"`{places.config}`" if places.config else "none: this is the demo"
        where = [
            f"- **config**: {config}",
            f"- **state directory**: `{state or '-'}`",
            f"- **history**: `{state / DB_NAME if state else '-'}`",
            f"- **run logs**: `{state / LOGS_DIR / 'JOB' / 'RUN.log' if state else '-'}`"
            " (`synctui logs JOB` prints the last)",
            f"- **the console's own log**: `{places.console_log or '-'}`",
            f"- **control socket**: `{host.socket}`" if host and host.socket else
            "- **control socket**: in the state directory while a scheduler hosts it"
            " (`synctui status --json` names it: host.socket)",
        ]
        if host is not None:
            where.insert(0, f"- **scheduler**: hosted by pid {host.pid} ({host.mode}), config"
                            f" `{host.config or 'the demo'}`")
        sections = [
            "## Keys\n\n" + rows,
            "In a job's history (enter): `enter` shows a run's output, `f` filters by result,"
            " `escape` goes back. In the timeline (t): `w`/`W` the next/previous window, `←`/`→`"
            " a cell earlier/later, `↑`/`↓` the job, `end` back to now, `enter` the run's output."
            " In a run's output: `/` searches, `n`/`N` the next/previous"
            " match, `g`/`G` the start/end, `y` copies the cursor line, `escape` goes back."
            " Everywhere: `ctrl+p` lists every action (the command palette).",
            "## The badge\n\n" + badges,
            "## Health\n\n" + healths,
            "## Results\n\n" + results,
            "## Where things are\n\n" + "\n".join(where),
        ]
        if places.config is None:
            sections.append(
                "## Writing a config\n\nThis is the demo: no config was found. `synctui init`"
                " writes a commented example to `./synctui.toml` (`synctui init PATH` elsewhere);"
                " edit its jobs, check it with `synctui check`, then start `synctui` in that"
                " directory (or `synctui --config PATH`)."
            )
        return "\n\n".join(sections)

    def action_back(self) -> None:
        """Back to where help was asked for."""
        self.dismiss()
