"""A panel in place of a screen's content when its data cannot be loaded."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class ErrorPanel(Static):
    """Shows the one-line cause and what to do; hidden while there is no error."""

    def on_mount(self) -> None:
        self.display = False

    def show_error(self, what: str, cause: str) -> None:
        text = Text()
        text.append(f"Cannot {what}\n\n", style="bold red")
        text.append(cause + "\n\n")
        text.append("Press r to retry, 1-9 to switch screens, q to quit.", style="dim")
        self.update(text)
        self.display = True

    def clear(self) -> None:
        self.display = False
