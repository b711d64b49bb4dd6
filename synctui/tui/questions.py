"""The questions asked before a destructive step: quitting a hosting console, steering another host."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class QuestionScreen(ModalScreen):
    """A question in a box over the console, answered with a button or its key."""

    DEFAULT_CSS = """
    QuestionScreen {
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


class QuitScreen(QuestionScreen):
    """Dismissed with `wait`, `cancel`, `handover` (offered with consoles attached) or `stay`."""

    BINDINGS = [
        Binding("w,q", "choose('wait')", "Let it finish", id="quit-wait"),
        Binding("c", "choose('cancel')", "Cancel it", id="quit-cancel"),
        Binding("h", "choose('handover')", "Hand over", id="quit-handover"),
        Binding("escape,s", "choose('stay')", "Stay", id="quit-stay"),
    ]

    def __init__(self, running: list[str], grace_s: float, *, consoles: int = 0) -> None:
        super().__init__()
        self._jobs = running
        self._grace_s = grace_s
        self._consoles = consoles

    def compose(self) -> ComposeResult:
        names = ", ".join(self._jobs)
        verb = "is" if len(self._jobs) == 1 else "are"
        others = (f"{self._consoles} other console{'s are' if self._consoles > 1 else ' is'}"
                  " attached: hand the scheduler over to it once no run is going, so it goes"
                  " on scheduling?")
        if not self._jobs:
            question = others
        else:
            question = (f"{names} {verb} running. Quitting stops the scheduler: let the run"
                        f" finish (it gets up to {self._grace_s:g}s, then it is interrupted),"
                        " or cancel it now?" + (f" Or: {others}" if self._consoles else ""))
        with Vertical(id="dialog"):
            yield Static(question, id="question", markup=False)
            with Horizontal(id="choices"):
                if self._consoles:
                    yield Button("Hand over (h)", id="handover", variant="primary")
                if self._jobs:
                    yield Button("Let it finish (w)", id="wait",
                                 variant="default" if self._consoles else "primary")
                    yield Button("Cancel it (c)", id="cancel", variant="error")
                else:
                    yield Button("Quit (w)", id="wait")
                yield Button("Stay (esc)", id="stay")

    def on_mount(self) -> None:
        self.query_one("#choices > Button", Button).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Each key works only when its button is there."""
        if action == "choose" and parameters:
            return bool(self.query(f"#{parameters[0]}"))
        return True

    @on(Button.Pressed)
    def _chosen(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id)

    def action_choose(self, choice: str) -> None:
        """Answer with `choice`."""
        self.dismiss(choice)


class ConfirmScreen(QuestionScreen):
    """A yes-or-no question; dismissed with True for yes."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm-yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm-no"),
    ]

    def __init__(self, question: str, yes: str) -> None:
        super().__init__()
        self._question = question
        self._yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(self._question, id="question", markup=False)
            with Horizontal(id="choices"):
                yield Button(f"{self._yes} (y)", id="yes", variant="error")
                yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _chosen(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        """Answer the question."""
        self.dismiss(yes)
