"""Two header lines: where we are connected (secrets masked) and what is there."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.widgets import Static

from vectorctl.core.results import Info
from vectorctl.core.service import DOWN, HealthReport

if TYPE_CHECKING:
    from vectorctl.tui.console import Console
    from vectorctl.tui.running import RunningJob


class StatusHeader(Static):
    """Reads the app's `info`, `orphan_count` and `job`; never calls the service itself."""

    def on_mount(self) -> None:
        for name in ("opening", "info", "orphan_count", "job", "health"):
            self.watch(self.app, name, self._redraw, init=False)
        self._redraw()

    def _redraw(self, _value: object = None) -> None:
        app = cast("Console", self.app)
        text = self.header_text(
            app.service.settings.describe(),
            app.info,
            app.orphan_count,
            app.job,
            opening=app.opening,
        )
        self.update(with_health(text, app.health))

    @staticmethod
    def header_text(
        config: dict[str, object],
        info: Info | None,
        orphans: int | None,
        job: RunningJob | None,
        *,
        opening: bool = False,
    ) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{config['collection']}", style="bold")
        if opening:
            text.append("  opening the store…", style="bold cyan")
        elif info is None:
            text.append("  connecting…", style="dim")
        else:
            _figures(text, info)
        text.append("  orphans ")
        if orphans is None:
            text.append("?", style="dim")
        else:
            text.append(f"{orphans:,}", style="bold yellow" if orphans else "")
        if config["read_only"]:
            text.append("  READ-ONLY ", style="bold reverse yellow")
        if job is not None:
            text.append(f"  ● {job.title}", style="bold cyan")
        text.append(
            f"\ndb {config['database_url']}  {config['store']} {config['qdrant']}", style="dim"
        )
        return text


def _figures(text: Text, info: Info) -> None:
    if info.store_ok and info.points is not None:
        text.append(f"  {info.points:,} vectors")
    elif not info.store_ok:
        text.append("  store unreachable", style="bold red")
    else:
        text.append("  no collection", style="yellow")
    if info.database_ok:
        text.append(f"  {info.assets or 0:,} assets  {info.sessions or 0:,} sessions")
    else:
        text.append("  database unreachable", style="bold red")
    if info.advice:  # "optimize due", "backfill due", ...: the sentence is in `vectorctl info`
        text.append(f"  {info.advice[0].split(':', 1)[0]}", style="bold yellow")


def with_health(text: Text, health: HealthReport | None) -> Text:
    """The header with the deployment's health, when it is not healthy: amber when degraded,
    red when down, with the reason, at the start of the second line (the first line keeps
    the collection's figures)."""
    if health is None or health.status == "healthy":
        return text
    first = text.plain.partition("\n")[0]
    style = "bold reverse red" if health.status == DOWN else "bold reverse yellow"
    split = len(first) + 1
    shown = text[:split]
    shown.append(f" {health.status}: {health.reason} ", style=style)
    shown.append("  ")
    shown.append_text(text[split:])
    return shown
