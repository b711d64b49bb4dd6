"""The command palette's console commands: every action of the main screen, with its key."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Iterator

from textual.command import DiscoveryHit, Hit, Hits, Provider

from synctui.tui.actions import MAIN_SCREEN_ACTIONS, PALETTE

if TYPE_CHECKING:
    from synctui.tui.app import SyncTuiApp

class ConsoleCommands(Provider):
    """The console's actions, each shown with its key; toggles offer the half that applies."""

    def _commands(self) -> Iterator[tuple[str, str, str]]:
        app: SyncTuiApp = self.app  # type: ignore[assignment]
        keys = app.keys_by_action()
        for action in PALETTE:
            if not app.applies(action.name) or (
                action.name in MAIN_SCREEN_ACTIONS and self.screen is not app.screen_stack[0]
            ):
                continue
            key = keys.get(action.name)
            yield (action.title if key is None else f"{action.title}  ({key})", action.name,
                   action.description)

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
