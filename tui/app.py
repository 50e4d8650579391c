"""The full-screen console: one `VectorService`, five screens, and the job runner.

Threads: the store is not thread-safe, so every service call runs in a thread worker
holding `service_lock`. Reads are exclusive per area (a newer read drops an older result);
mutations run one at a time as a *job* whose progress every screen shows, so the operator
keeps browsing while it runs and every screen reloads when it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual.app import App, CSSPathType, SystemCommand
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import get_current_worker

from vectorctl.core.errors import Cancelled, VectorctlError
from vectorctl.core.progress import ProgressCallback, ProgressEvent
from vectorctl.core.results import Info, Preview, RetrainResult, WorkerResult
from vectorctl.core.service import DriftReport, HealthReport, VectorService
from vectorctl.core.settings import Settings, with_overrides
from vectorctl.core.targets import Target
from vectorctl.tui import log_setup
from vectorctl.tui.modals.confirm_delete import ConfirmDeleteModal, DeleteRequest
from vectorctl.tui.modals.delete_by_id import DeleteByIdModal
from vectorctl.tui.modals.help import HelpModal
from vectorctl.tui.modals.messages import MessagesModal, ShownMessage
from vectorctl.tui.modals.retrain import RetrainModal, RetrainRequest
from vectorctl.tui.running import JobProgress, RunningJob
from vectorctl.tui.screens.audit import AuditScreen
from vectorctl.tui.screens.collections import CollectionsScreen
from vectorctl.tui.screens.danger import DangerScreen
from vectorctl.tui.screens.directories import DirectoriesScreen
from vectorctl.tui.screens.drift import DriftScreen
from vectorctl.tui.screens.health import HealthScreen
from vectorctl.tui.screens.orphans import OrphansScreen
from vectorctl.tui.screens.sessions import SessionsScreen
from vectorctl.tui.screens.snapshots import SnapshotsScreen

T = TypeVar("T")
log = logging.getLogger("vectorctl")
STYLES = Path(__file__).resolve().parent.parent / "styles"
CLOSE_WAIT_SECONDS = 60
PROGRESS_INTERVAL = 0.1  # seconds between progress repaints; more is noise over SSH
# The header's health state: first checked a while after start (the first screen's data
# goes first), then again every few minutes and when the Health screen asks.
HEALTH_FIRST_DELAY = 15.0
HEALTH_INTERVAL = 300.0


def error_text(exc: BaseException) -> str:
    """One operator line: typed errors already are one; anything else gets its type."""
    if isinstance(exc, VectorctlError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class VectorctlApp(App[None]):
    """Holds the service, the shared header state and the running job."""

    TITLE = "vectorctl"
    CSS_PATH: ClassVar[CSSPathType | None] = [
        STYLES / "app.tcss",
        STYLES / "modals.tcss",
        STYLES / "danger.tcss",
        STYLES / "drift.tcss",
        STYLES / "collections.tcss",
    ]
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "directories": DirectoriesScreen,
        "sessions": SessionsScreen,
        "audit": AuditScreen,
        "orphans": OrphansScreen,
        "danger": DangerScreen,
        "drift": DriftScreen,
        "collections": CollectionsScreen,
        "health": HealthScreen,
        "snapshots": SnapshotsScreen,
    }
    # -narrow puts the directory detail under the tree. (Textual's own annotation of this
    # attribute is malformed, hence the ignore.)
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [  # type: ignore[misc]
        (0, "-narrow"),
        (110, "-wide"),
    ]
    # Ids name the bindings in a profile's [keymap] table. The screen keys 1-9 show in the
    # footer as one "1-9 Screens" item (`PriorityFooter`).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "cancel_job", "Cancel job", id="app.cancel_job"),
        Binding("question_mark,f1", "help", "Help", key_display="?", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("m", "messages", "Messages", id="app.messages"),
        Binding("1", "switch_mode('directories')", "Directories", show=False, id="app.screen_1"),
        Binding("2", "switch_mode('sessions')", "Sessions", show=False, id="app.screen_2"),
        Binding("3", "switch_mode('audit')", "Audit log", show=False, id="app.screen_3"),
        Binding("4", "switch_mode('orphans')", "Orphans", show=False, id="app.screen_4"),
        Binding("5", "switch_mode('danger')", "Danger zone", show=False, id="app.screen_5"),
        Binding("6", "switch_mode('drift')", "Drift", show=False, id="app.screen_6"),
        Binding("7", "switch_mode('collections')", "Collections", show=False, id="app.screen_7"),
        Binding("8", "switch_mode('health')", "Health", show=False, id="app.screen_8"),
        Binding("9", "switch_mode('snapshots')", "Snapshots", show=False, id="app.screen_9"),
        Binding("O", "optimize_store", "Optimize", show=False, id="app.optimize_store"),
    ]
    # Actions the palette offers on every screen: (title, help, action).
    GLOBAL_COMMANDS: ClassVar[list[tuple[str, str, str]]] = [
        ("Directories", "Tree of the library with counts and drift", "switch_mode('directories')"),
        ("Sessions", "Training sessions table", "switch_mode('sessions')"),
        ("Audit log", "Every operation, with restore", "switch_mode('audit')"),
        ("Orphans", "Vectors whose asset is gone", "switch_mode('orphans')"),
        ("Danger zone", "Reset the whole collection", "switch_mode('danger')"),
        ("Drift", "Where the database and the store disagree", "switch_mode('drift')"),
        ("Collections", "Every collection; open another one", "switch_mode('collections')"),
        ("Health", "Every health check of the deployment", "switch_mode('health')"),
        ("Snapshots", "Snapshots of the collection: create, restore", "switch_mode('snapshots')"),
        ("Cancel running job", "Stop the running job after its current batch", "cancel_job"),
        (
            "Optimize store",
            "Compact deleted versions and rebuild segments (changes no point)",
            "optimize_store",
        ),
        ("Help", "Keys of this screen and of the app", "help"),
        ("Messages", "Every message shown since start, errors included", "messages"),
    ]

    # True until the store and the database are open: the header says so (a store due for
    # an optimize can take seconds, during which the engine holds the interpreter).
    opening: reactive[bool] = reactive(True)
    info: reactive[Info | None] = reactive(None)
    orphan_count: reactive[int | None] = reactive(None)
    # The last exact drift comparison (None: none yet, or a repair made it stale): the
    # Drift screen shows it, the directory tree marks its directories.
    drift_report: reactive[DriftReport | None] = reactive(None)
    job: reactive[RunningJob | None] = reactive(None, always_update=True)
    # Bumped when a job changed data: screens reload (now if shown, else when shown).
    data_version: reactive[int] = reactive(0)
    health: reactive[HealthReport | None] = reactive(None)

    def __init__(self, service: VectorService, state_file: Path | None = None) -> None:
        super().__init__()
        self.service = service
        self.service_lock = threading.Lock()
        self._opened = threading.Event()  # service calls wait for it: the open goes first
        # What the toasts said, kept for the messages screen (m) after they are gone.
        self.messages: list[ShownMessage] = []
        # Where the chosen theme is remembered between runs (None: not remembered).
        self.state_file = state_file
        # The library's root directory, once the tree has loaded: tables and dialogs show
        # paths relative to it.
        self.library_root: str | None = None
        service.on_notice = self._service_notice

    def _service_notice(self, message: str) -> None:
        """What the service found at open (an interrupted operation, a journal entry applied):
        a warning that stays up long enough to be read; the audit log keeps it too."""

        def show() -> None:
            self.notify(message, title="Note", severity="warning", timeout=30, markup=False)

        if threading.current_thread() is threading.main_thread():
            show()
        else:
            self.call_from_thread(show)

    @property
    def model_label(self) -> str:
        """The embedding model a retrain will load, as the operator configured it."""
        settings = self.service.settings
        return f"{settings.clip_model} ({settings.clip_pretrained})"

    @property
    def read_only(self) -> bool:
        return self.service.settings.read_only

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """A toast, kept for the messages screen and written to the log file as well."""
        plain = message
        if markup:
            with contextlib.suppress(Exception):  # Textual reports bad markup itself
                plain = Text.from_markup(message).plain
        self.messages.append(ShownMessage(datetime.now(), severity, title, plain))
        level = {"error": logging.ERROR, "warning": logging.WARNING}.get(severity, logging.INFO)
        log.log(level, "console: %s%s", f"{title}: " if title else "", plain)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def action_messages(self) -> None:
        if not isinstance(self.screen, MessagesModal):
            path = log_setup.log_file(self.service.settings.data_dir)
            self.push_screen(MessagesModal(self.messages, str(path) if path.exists() else None))

    def _remember_theme(self, theme: str) -> None:
        if self.state_file is None:
            return
        with contextlib.suppress(OSError):
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            self.state_file.write_text(json.dumps({"theme": theme}))

    def _remembered_theme(self) -> str | None:
        if self.state_file is None:
            return None
        try:
            theme = json.loads(self.state_file.read_text()).get("theme")
        except (OSError, ValueError, AttributeError):
            return None
        return theme if isinstance(theme, str) and theme in self.available_themes else None

    def _apply_keymap(self) -> None:
        """The profile's [keymap]: binding ids mapped to keys. An id no binding has is
        said at once (a typo would otherwise leave the old key silently)."""
        keymap = dict(self.service.settings.keymap)
        if not keymap:
            return
        known = binding_ids()
        unknown = sorted(set(keymap) - known)
        if unknown:
            self.notify(
                f"profile keymap: no key is named {', '.join(unknown)} (the help, ?, "
                "lists the names)",
                title="Keymap",
                severity="warning",
                timeout=20,
                markup=False,
            )
        self.set_keymap({k: v for k, v in keymap.items() if k in known})

    def on_mount(self) -> None:
        theme = self._remembered_theme()
        if theme is not None:
            self.theme = theme
        self.theme_changed_signal.subscribe(self, lambda t: self._remember_theme(t.name))
        self._apply_keymap()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(signum) is not signal.SIG_IGN:  # nohup keeps SIGHUP ignored
                loop.add_signal_handler(signum, self._stop_on_signal, signum)
        self.switch_mode("directories")
        # The first screen is drawn before the store opens: every engine call holds the
        # interpreter lock, so an open started earlier would keep the screen blank.
        self.call_after_refresh(self._open_service)

    def _open_service(self) -> None:
        self.run_worker(self._open_in_thread, thread=True, group="open", exit_on_error=False)

    def _open_in_thread(self) -> None:
        """Open the store and the database; failures are shown by the reads that follow
        (the header's info says which side is unreachable)."""
        try:
            with self.service_lock:
                for side in ("store", "db"):
                    # A failure is reported by `info`, which opens that side again.
                    with suppress(Exception):
                        getattr(self.service, side)
        finally:
            self._opened.set()
            self.call_from_thread(self._service_opened)

    def _service_opened(self) -> None:
        self.opening = False
        self.reload_info()
        self.set_timer(HEALTH_FIRST_DELAY, self.reload_health)
        self.set_interval(HEALTH_INTERVAL, self.reload_health)

    def _stop_on_signal(self, signum: int) -> None:
        """SIGTERM (a service manager, kill) and SIGHUP (the SSH session dropped) stop the
        console the way quitting does: a running job stops after its current batch and its
        audit row records what it did (run_app waits for it before closing the store)."""
        if self.job is not None:
            self.job.cancel.set()
        self.exit(return_code=128 + signum)

    def on_unmount(self) -> None:
        if self.job is not None:
            self.job.cancel.set()

    # -- service calls ----------------------------------------------------------------

    def reload_info(self) -> None:
        self.load(self, "info", lambda s: s.info(), self._set_info)

    def _set_info(self, info: Info) -> None:
        self.info = info

    def load(
        self,
        owner: DOMNode,
        group: str,
        work: Callable[[VectorService], T],
        done: Callable[[T], object],
        failed: Callable[[str], None] | None = None,
    ) -> None:
        """Run a read in a thread worker; `done` or `failed` runs on the UI thread."""
        owner.run_worker(
            partial(self._call, work, done, failed or self.notify_error),
            thread=True,
            group=group,
            exclusive=True,
            exit_on_error=False,
        )

    def _call(
        self,
        work: Callable[[VectorService], T],
        done: Callable[[T], object],
        failed: Callable[[str], None],
    ) -> None:
        worker = get_current_worker()
        outcome: Callable[[], object]
        self._opened.wait()
        try:
            with self.service_lock:
                if worker.is_cancelled:
                    return
                result = work(self.service)
        except Exception as exc:
            outcome = partial(failed, error_text(exc))
        else:
            outcome = partial(done, result)
        if not worker.is_cancelled:
            try:
                self.call_from_thread(outcome)
            except Exception as exc:  # a bug in showing the result: say so, never silently
                self.call_from_thread(self.notify_error, f"internal error: {error_text(exc)}")

    def load_for_action(
        self,
        owner: DOMNode,
        group: str,
        work: Callable[[VectorService], T],
        done: Callable[[T], object],
    ) -> None:
        """A read an operator's key asked for (a preview before a dialog). While a job holds
        the service it is refused at once: waiting would open the dialog whenever the job
        ends, long after the key was pressed and forgotten."""
        if self.job is not None:
            self.notify(
                f"{self.job.title} is running: wait for it to end, or cancel it (x)",
                severity="warning",
                markup=False,
            )
            return
        self.load(owner, group, work, done)

    def notify_error(self, message: str) -> None:
        self.notify(message, title="Error", severity="error", timeout=10, markup=False)

    # -- jobs -------------------------------------------------------------------------

    def start_job(
        self,
        title: str,
        work: Callable[[VectorService, ProgressCallback, threading.Event], T],
        done: Callable[[T], str | None],
        failed: Callable[[str], None] | None = None,
    ) -> bool:
        """Run one long operation; False (and a notice) when another is still running."""
        if self.job is not None:
            self.notify(
                f"{self.job.title} is still running: wait for it or cancel it (x)",
                severity="warning",
                markup=False,
            )
            return False
        job = RunningJob(title)
        self.job = job
        self.run_worker(
            partial(self._run_job, job, work, done, failed),
            thread=True,
            group="job",
            exit_on_error=False,
        )
        return True

    def _run_job(
        self,
        job: RunningJob,
        work: Callable[[VectorService, ProgressCallback, threading.Event], T],
        done: Callable[[T], str | None],
        failed: Callable[[str], None] | None,
    ) -> None:
        last_time, last_phase = 0.0, ""

        def progress(event: ProgressEvent) -> None:
            nonlocal last_time, last_phase
            now = time.monotonic()
            if (
                now - last_time >= PROGRESS_INTERVAL
                or event.phase != last_phase
                or (event.total is not None and event.done >= event.total)
            ):
                last_time, last_phase = now, event.phase
                self.post_message(JobProgress(job, event))

        self._opened.wait()
        try:
            with self.service_lock:
                result = work(self.service, progress, job.cancel)
        except Exception as exc:
            self.call_from_thread(self._job_failed, job, exc, failed)
        else:
            self.call_from_thread(self._job_done, job, partial(done, result))

    def on_job_progress(self, message: JobProgress) -> None:
        if message.job is self.job:
            message.job.event = message.event
            self.job = message.job

    def _job_done(self, job: RunningJob, done: Callable[[], str | None]) -> None:
        self.job = None
        summary = done()
        if summary:
            self.notify(summary, title=job.title, timeout=8, markup=False)
        self._data_changed()

    def _job_failed(
        self, job: RunningJob, exc: Exception, failed: Callable[[str], None] | None
    ) -> None:
        self.job = None
        message = error_text(exc)
        if isinstance(exc, Cancelled):
            self.notify(message, title=job.title, severity="warning", timeout=8, markup=False)
        else:
            self.notify(
                message, title=f"{job.title} failed", severity="error", timeout=15, markup=False
            )
        if failed is not None:
            failed(message)
        self._data_changed()

    def _data_changed(self) -> None:
        self.data_version += 1
        self.reload_info()

    def open_retrain(
        self, directories: list[str], on_start: Callable[[], None] | None = None
    ) -> None:
        """Count what the directories hold now and ask for category, reason and
        confirmation; then run the retrain as a job."""

        def fetch(service: VectorService) -> tuple[list[str], Preview, list[tuple[int, str]]]:
            checked = service.check_retrain(directories)
            preview = service.preview(Target.of_directories(checked), sample_size=1)
            return checked, preview, service.categories()

        def ask(found: tuple[list[str], Preview, list[tuple[int, str]]]) -> None:
            checked, preview, categories = found
            modal = RetrainModal(checked, preview, categories, self.model_label, self.library_root)

            def chosen(request: RetrainRequest | None) -> None:
                if request is not None and self.start_retrain(request) and on_start is not None:
                    on_start()

            self.push_screen(modal, chosen)

        self.load_for_action(self, "retrain", fetch, ask)

    def start_retrain(self, request: RetrainRequest) -> bool:
        """Delete (audited, backed up) and re-embed as one job, then summarise it."""

        def work(
            service: VectorService, progress: ProgressCallback, cancel: threading.Event
        ) -> RetrainResult:
            _say_loading_model(service, progress)
            return service.retrain(
                list(request.directories),
                category_id=request.category_id,
                reason=request.reason,
                backup=request.backup,
                wait=True,
                expect=request.expect,
                confirm=request.phrase,
                progress=progress,
                cancel=cancel,
            )

        def summary(result: RetrainResult) -> str:
            text = (
                f"{request.name}: deleted {result.deleted_count:,}, "
                f"embedded {result.embedded or 0:,}, failed {result.failed or 0:,}"
            )
            if result.cancelled:
                text += " (cancelled: run the queued jobs with w on the Sessions screen)"
            return text

        return self.start_job(f"retrain {request.name}", work, summary)

    def run_queued_jobs(self, session_ids: list[int]) -> bool:
        """Embed the sessions' pending jobs here, as a job (`vectorctl worker` does the same
        in a process of its own, which an embedded store does not allow beside the console)."""

        def work(
            service: VectorService, progress: ProgressCallback, cancel: threading.Event
        ) -> WorkerResult:
            _say_loading_model(service, progress)
            return service.run_worker(
                session_ids=session_ids,
                progress=progress,
                cancel=cancel,
            )

        def summary(result: WorkerResult) -> str:
            which = ", ".join(str(i) for i in session_ids)
            if not (result.embedded or result.failed or result.cancelled):
                text = f"session {which} has no queued job to run"
            else:
                text = f"session {which}: embedded {result.embedded:,}, failed {result.failed:,}"
            if result.cancelled:
                text += " (stopped: w runs the rest)"
            if result.held_by_others:
                text += f"; {result.held_by_others:,} jobs are held by other workers"
            return text

        return self.start_job(f"run jobs of session {session_ids[0]}", work, summary)

    def start_delete(
        self, name: str, preview: Preview, request: DeleteRequest, *, relation: str = "of"
    ) -> bool:
        """Delete what `preview` showed, as confirmed in the dialog: exactly its count (the
        service refuses if another number matches now), as a job. False when another job
        still runs."""
        return self.start_job(
            f"delete {name}",
            lambda s, progress, cancel: s.delete(
                preview.target,
                reason=request.reason,
                backup=request.backup,
                expect=preview.count,
                confirm=request.phrase,
                progress=progress,
                cancel=cancel,
            ),
            lambda result: (
                f"deleted {result.deleted_count:,} vectors {relation} {name}"
                + (f" (audit {result.log_id})" if result.log_id else "")
            ),
        )

    def open_delete_by_id(self) -> None:
        """Name an asset or a category, see what goes, confirm: as `vectorctl delete`."""

        def chosen(target: Target | None) -> None:
            if target is not None:
                self.load_for_action(self, "preview", lambda s: s.preview(target), confirm)

        def confirm(preview: Preview) -> None:
            target = preview.target
            label = f"{target.kind.value} {target.value}"

            def confirmed(request: DeleteRequest | None) -> None:
                if request is not None:
                    self.start_delete(label, preview, request)

            self.push_screen(
                ConfirmDeleteModal("Delete vectors", label, preview, root=self.library_root),
                confirmed,
            )

        self.load_for_action(
            self,
            "categories",
            lambda s: s.categories(),
            lambda categories: self.push_screen(DeleteByIdModal(categories), chosen),
        )

    def watch_job(self, old: RunningJob | None, new: RunningJob | None) -> None:
        if (old is None) != (new is None):  # x Cancel job shows in the footer while one runs
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_job":
            return self.job is not None
        return True

    def action_cancel_job(self) -> None:
        if self.job is None:
            self.notify("no job is running")
            return
        self.job.cancel.set()
        self.notify(f"cancelling {self.job.title} after the current batch…", markup=False)

    def action_optimize_store(self) -> None:
        if self.read_only:
            self.notify("read-only mode: optimize is disabled", severity="warning")
            return
        self.start_job(
            "optimize store",
            lambda s, progress, cancel: s.optimize(progress=progress, cancel=cancel),
            lambda r: (
                f"optimized {r.points:,} points in {r.seconds:.1f} s; the store opens in "
                f"{r.open_seconds:.2f} s"
                if r.optimized
                else "nothing to optimize: the store is in its fast layout"
            ),
        )

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpModal):
            self.push_screen(HelpModal(self.screen))

    # -- health and the active collection -----------------------------------------------

    def reload_health(self) -> None:
        """Run every health check (in a worker); the header and the Health screen show it."""
        self.load(self, "health", lambda s: s.health(), self._set_health, self._health_failed)

    def _set_health(self, report: HealthReport) -> None:
        self.health = report

    def _health_failed(self, message: str) -> None:
        self.notify(message, title="Health check failed", severity="warning", markup=False)

    def switch_collection(self, name: str, vector_size: int | None = None) -> None:
        """Close the service and open one on collection `name` (whose vectors have
        `vector_size`: the configured size is the first collection's); every screen is made
        again on it. Refused while a job runs. If the new collection cannot be opened, the
        old one stays (it reopens on its next use)."""
        if self.job is not None:
            self.notify(
                f"{self.job.title} is still running: wait for it or cancel it (x)",
                severity="warning",
                markup=False,
            )
            return
        old = self.service
        if name == old.settings.collection:
            self.notify(f"{name} is already open", markup=False)
            return
        size = {"vector_size": vector_size} if vector_size else {}
        new = VectorService(with_overrides(old.settings, collection=name, **size))
        new.on_notice = self._service_notice

        def reopen(_service: VectorService) -> VectorService:
            old.close()
            try:
                new.info()  # opens the database and the store, or says why not
                new.store.collection_info()
            except BaseException:
                new.close()
                raise
            return new

        self.load(self, "switch", reopen, self._collection_switched, self.notify_error)

    def _collection_switched(self, service: VectorService) -> None:
        self.service = service
        self.info = self.orphan_count = self.health = None
        current = self.current_mode
        for mode, screen in self.MODES.items():
            if mode != current:
                self.remove_mode(mode)
                self.add_mode(mode, screen)
        self.notify(f"opened collection {service.settings.collection}", markup=False)
        self._data_changed()
        self.set_timer(HEALTH_FIRST_DELAY, self.reload_health)

    # -- command palette --------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every action of the app and of the shown screen, read-only ones filtered out."""
        yield from super().get_system_commands(screen)
        for title, help_text, action in self.GLOBAL_COMMANDS:
            if not (action == "optimize_store" and self.read_only):
                yield SystemCommand(title, help_text, partial(self.run_action, action))
        for title, help_text, action in getattr(screen, "PALETTE_ACTIONS", []):
            if screen.check_action(action.split("(")[0], ()):  # None: refused (read-only)
                yield SystemCommand(title, help_text, partial(screen.run_action, action))


def binding_ids() -> set[str]:
    """Every binding id of the console (what a profile's [keymap] can name)."""
    from vectorctl.tui.modals.confirm import ConfirmModal
    from vectorctl.tui.widgets.directory_tree import DirectoryTree

    classes: list[type[Any]] = [VectorctlApp, DirectoryTree, ConfirmModal]
    classes += [screen for screen in VectorctlApp.MODES.values() if isinstance(screen, type)]
    return {
        binding.id
        for cls in classes
        for binding in getattr(cls, "BINDINGS", [])
        if isinstance(binding, Binding) and binding.id
    }


def state_file() -> Path:
    """Where the console remembers the operator's choices (the theme) between runs."""
    import platformdirs

    return Path(platformdirs.user_state_dir("vectorctl")) / "console.json"


def run_app(settings: Settings) -> int:
    """Open the console on a deployment; the CLI calls this when no sub-command is given.
    Returns the exit status (128 + the signal's number when a signal stopped it)."""
    service = VectorService(settings)
    app = VectorctlApp(service, state_file=state_file())
    try:
        app.run()
        return app.return_code or 0
    finally:
        # Quitting cancels a running job, which stops after its current batch; closing the
        # store under it would break the store, so wait for it (bounded) first.
        if app.service_lock.acquire(timeout=CLOSE_WAIT_SECONDS):
            app.service.close()  # the service open now: the operator may have switched
            app.service_lock.release()


def _say_loading_model(service: VectorService, progress: ProgressCallback) -> None:
    """Loading the model reports nothing and can take a while: say what is happening."""
    settings = service.settings
    progress(
        ProgressEvent("loading model", 0, None, f"{settings.clip_model} {settings.clip_pretrained}")
    )
