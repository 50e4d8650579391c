"""A console screen's actions, each declared once: the key and footer label Textual binds,
the title and help the command palette offers, and whether it changes data (read-only mode
dims its key, refuses it with a reason and leaves it out of the palette).

`ConsoleScreen` derives `BINDINGS` (ids `<screen>.<action>`, what a profile's [keymap]
names), `PALETTE_ACTIONS` and `MUTATIONS` from a screen's `ACTIONS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class ScreenAction:
    action: str  # the screen's `action_<name>`, with arguments if any
    keys: str | None  # None: offered in the palette only
    label: str = ""  # the footer's word for it
    title: str | None = None  # the palette's title; None: not in the palette
    help: str = ""  # the palette's line under the title
    mutation: bool = False
    show: bool = True  # shown in the footer
    key_display: str | None = None

    @property
    def name(self) -> str:
        return self.action.split("(")[0]

    def binding(self, screen_id: str) -> Binding:
        assert self.keys is not None
        return Binding(
            self.keys,
            self.action,
            self.label,
            show=self.show,
            key_display=self.key_display,
            id=f"{screen_id}.{self.name}",
        )


def bindings(actions: tuple[ScreenAction, ...], screen_id: str) -> list[Binding]:
    return [a.binding(screen_id) for a in actions if a.keys is not None]


def palette(actions: tuple[ScreenAction, ...]) -> list[tuple[str, str, str]]:
    """(title, help, action) for the command palette."""
    return [(a.title, a.help, a.action) for a in actions if a.title is not None]


def mutations(actions: tuple[ScreenAction, ...]) -> frozenset[str]:
    return frozenset(a.name for a in actions if a.mutation)
