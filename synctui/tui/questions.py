"""The question asked when quitting would stop a running job: let it finish, cancel it, or stay."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class QuitScreen(ModalScreen[str]):
    """Dismissed with `wait`, `cancel` or `stay`."""

    DEFAULT_CSS = """
    QuitScreen {
        align: center middle;
        & > #dialog {
            width: 72;
            max-width: 100%;
            height: auto;
            border: thick $warning;
            background: $surface;
            padding: 1 2;
        }
        & #question { margin-bottom: 1; }
        & #choices { height: auto; width: auto; }
        & #choices > Button { margin-right: 2; }
    }
    """

    BINDINGS = [
        Binding("w,q", "choose('wait')", "Let it finish", id="quit-wait"),
        Binding("c", "choose('cancel')", "Cancel it", id="quit-cancel"),
        Binding("escape,s", "choose('stay')", "Stay", id="quit-stay"),
    ]

    def __init__(self, running: list[str], grace_s: float) -> None:
        super().__init__()
        self._jobs = running
        self._grace_s = grace_s

    def compose(self) -> ComposeResult:
        names = ", ".join(self._jobs)
        verb = "is" if len(self._jobs) == 1 else "are"
        with Vertical(id="dialog"):
            yield Static(
                f"{names} {verb} running. Quitting stops the scheduler: let the run finish"
                f" (it gets up to {self._grace_s:g}s, then it is interrupted), or cancel it now?",
                id="question", markup=False,
            )
            with Horizontal(id="choices"):
                yield Button("Let it finish (w)", id="wait", variant="primary")
                yield Button("Cancel it (c)", id="cancel", variant="error")
                yield Button("Stay (esc)", id="stay")

    def on_mount(self) -> None:
        self.query_one("#wait", Button).focus()

    @on(Button.Pressed)
    def _chosen(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id)

    def action_choose(self, choice: str) -> None:
        """Answer with `choice`."""
        self.dismiss(choice)
