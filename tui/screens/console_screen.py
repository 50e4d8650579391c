"""What every console screen shares: the header, the job line, the footer, and reloading
when a job changed the data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.events import Key
from textual.screen import Screen

from vectorctl.tui.actions import ScreenAction, bindings, mutations, palette
from vectorctl.tui.widgets.job_status import JobStatus
from vectorctl.tui.widgets.priority_footer import PriorityFooter
from vectorctl.tui.widgets.status_header import StatusHeader

if TYPE_CHECKING:
    from vectorctl.tui.console import Console


class ConsoleScreen(Screen[None]):
    """Subclasses compose their body in `compose_body` and load their data in `reload`.

    Data is reloaded when the screen is first shown, when the operator asks, and after a
    job ends; a screen that is not shown then reloads when it is shown again.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "blur", "Leave field", show=False),
    ]
    # A screen declares its actions here, once; the rest is derived (`tui.actions`).
    ACTIONS: ClassVar[tuple[ScreenAction, ...]] = ()
    # Derived: actions that change data (dimmed, refused and left out of the palette in
    # read-only mode), and the (title, help, action) the command palette offers.
    MUTATIONS: ClassVar[frozenset[str]] = frozenset()
    PALETTE_ACTIONS: ClassVar[list[tuple[str, str, str]]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Before Textual's own __init_subclass__, which merges the class's BINDINGS.
        if "ACTIONS" in cls.__dict__:
            screen_id = cls.__name__.removesuffix("Screen").lower()
            cls.BINDINGS = [*cls.__dict__.get("BINDINGS", []), *bindings(cls.ACTIONS, screen_id)]
            cls.MUTATIONS = mutations(cls.ACTIONS)
            cls.PALETTE_ACTIONS = palette(cls.ACTIONS)
        super().__init_subclass__(**kwargs)

    def __init__(self) -> None:
        super().__init__()
        self._seen_version = -1

    @property
    def console(self) -> Console:
        return cast("Console", self.app)

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        yield from self.compose_body()
        yield JobStatus()
        yield PriorityFooter()

    def compose_body(self) -> ComposeResult:
        raise NotImplementedError

    def reload(self) -> None:
        raise NotImplementedError

    def on_mount(self) -> None:
        self.watch(self.app, "data_version", self._data_version_changed, init=False)

    def on_screen_resume(self) -> None:
        if self._seen_version != self.console.data_version:
            self._seen_version = self.console.data_version
            self.reload()

    def _data_version_changed(self, version: int) -> None:
        if self.is_current:
            self._seen_version = version
            self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """In read-only mode a mutation's key shows dimmed; pressing it says why (`on_key`)."""
        if action in self.MUTATIONS and self.console.read_only:
            return None
        return True

    def on_key(self, event: Key) -> None:
        """A key whose action read-only mode refuses: say so, instead of doing nothing."""
        active = self.active_bindings.get(event.key)
        if active is None or active.enabled or not self.console.read_only:
            return
        action = active.binding.action
        if action in self.MUTATIONS:
            event.stop()
            self.refuse_if_read_only(active.binding.description.lower() or action)

    def refuse_if_read_only(self, what: str) -> bool:
        """True (with the reason shown) when read-only mode forbids `what`."""
        if self.console.read_only:
            self.console.notify(
                f"read-only mode: {what} is disabled (vectorctl was started with --read-only)",
                title="Refused",
                severity="warning",
                markup=False,
            )
            return True
        return False

    def action_blur(self) -> None:
        """Leave a text field so the one-key bindings (1-9, ?, q) work again."""
        self.set_focus(None)

    def action_refresh(self) -> None:
        self.reload()
