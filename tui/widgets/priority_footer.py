"""A footer that fits: the keys that matter most on the screen shown, in the width there is.

Textual's footer lists every shown binding and lets the rest run off the right edge, so at
80 columns Help, Quit and Cancel job were never seen. This one ranks them — a running
job's Cancel first, then the screen's first three keys, Help and Quit, the screen's other
keys in their order, and the screen keys 1-9 as one item — and drops from the end of that
ranking until the row fits beside the command palette's key. What is dropped is still in
the help (?) and the palette (ctrl+p).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

SCREEN_KEYS_FIRST = 3  # screen keys ranked above Help and Quit
APP_FIRST = ("cancel_job",)
APP_AFTER_SCREEN_KEYS = ("help", "quit")
SWITCH = "switch_mode"
PALETTE_WIDTH = 12  # "^p palette" with its border and a spare cell


@dataclass
class _Item:
    rank: int
    order: int
    key: str
    key_display: str
    description: str
    action: str
    enabled: bool
    tooltip: str

    @property
    def width(self) -> int:  # compact: key, space, description, one cell of margin
        return len(self.key_display) + (len(self.description) + 1 if self.description else 0) + 1


class PriorityFooter(Footer):
    def __init__(self) -> None:
        super().__init__(compact=True)

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        items = self._items()
        budget = self.app.size.width - PALETTE_WIDTH
        kept: list[_Item] = []
        for item in sorted(items, key=lambda i: i.rank):
            if sum(k.width for k in kept) + item.width <= budget:
                kept.append(item)
        for item in sorted(kept, key=lambda i: i.order):
            yield FooterKey(
                item.key,
                item.key_display,
                item.description,
                item.action,
                disabled=not item.enabled,
                tooltip=item.tooltip,
            ).data_bind(compact=Footer.compact)
        palette = self.screen.active_bindings.get(self.app.COMMAND_PALETTE_BINDING)
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE and palette:
            yield FooterKey(
                palette.binding.key,
                self.app.get_key_display(palette.binding),
                palette.binding.description,
                palette.binding.action,
                classes="-command-palette",
                disabled=not palette.enabled,
                tooltip=palette.binding.tooltip or palette.binding.description,
            )

    def _items(self) -> list[_Item]:
        """One item per action (a binding's several keys show once), ranked."""
        seen: set[str] = set()
        declared: list[str] = []  # actions of the focused widget, then of the screen
        screen_keys: list[tuple[Binding, bool, str]] = []
        app_keys: dict[str, tuple[Binding, bool, str]] = {}
        switch: list[Binding] = []
        for node, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.action in seen:
                continue
            if node is self.app and binding.action.startswith(SWITCH):
                switch.append(binding)
                continue
            if not binding.show:
                continue
            seen.add(binding.action)
            if node is not self.app and binding.action not in declared:
                declared += [
                    b.action
                    for cls in type(node).__mro__
                    for b in cls.__dict__.get("BINDINGS", [])
                    if isinstance(b, Binding) and b.action not in declared
                ]
            if node is self.app:
                app_keys[binding.action] = (binding, enabled, tooltip)
            else:
                screen_keys.append((binding, enabled, tooltip))
        items: list[_Item] = []
        order = 0

        def add(rank: int, binding: Binding, enabled: bool, tooltip: str) -> None:
            nonlocal order
            items.append(
                _Item(
                    rank,
                    order,
                    binding.key,
                    self.app.get_key_display(binding),
                    binding.description,
                    binding.action,
                    enabled,
                    tooltip,
                )
            )
            order += 1

        # In the order declared (a keymap re-inserts a remapped key at the end of its map).
        screen_keys.sort(key=lambda item: _declared(item[0].action, declared))
        for index, (binding, enabled, tooltip) in enumerate(screen_keys):
            rank = 10 + index if index < SCREEN_KEYS_FIRST else 30 + index
            add(rank, binding, enabled, tooltip)
        for action, (binding, enabled, tooltip) in app_keys.items():
            if action in APP_FIRST:
                add(0, binding, enabled, tooltip)
            elif action in APP_AFTER_SCREEN_KEYS:
                add(20 + APP_AFTER_SCREEN_KEYS.index(action), binding, enabled, tooltip)
            else:
                add(90, binding, enabled, tooltip)
        if switch:
            keys = [self.app.get_key_display(b) for b in switch]
            joined = "".join(keys)
            shown = f"{keys[0]}-{keys[-1]}" if len(keys) > 2 and joined in "123456789" else joined
            items.append(
                _Item(99, order, switch[0].key, shown, "Screens", switch[0].action, True, "")
            )
        return items

    def bindings_changed(self, screen: Screen[object]) -> None:
        """Recompose whenever the bindings change. Textual's footer skips this while the
        terminal has not reported that it has the focus, which tmux and many SSH terminals
        never do: its keys then stayed those of start-up."""
        self._bindings_ready = True
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self.recompose)

    def on_resize(self) -> None:
        self.call_after_refresh(self.recompose)


def _declared(action: str, declared: list[str]) -> int:
    return declared.index(action) if action in declared else len(declared)
