"""Operations built on the service that load code of their own only when called: scanning
files, the embedding worker, retrain and the demo library."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from vectorctl.core.progress import CancelToken, ProgressCallback
from vectorctl.core.results import (
    DemoResult,
    RetrainResult,
    ScanResult,
    WorkerResult,
)

if TYPE_CHECKING:
    from vectorctl.core.embedding import Embedder
from vectorctl.core.services.destructive import Deletes


class Operations(Deletes):
    def scan(
        self,
        root: str | Path,
        *,
        category_id: int | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ScanResult:
        """Register the image files under `root` and queue a training session for them."""
        from vectorctl.core.ingest import scan

        self.require_writable(f"scan {root}")
        return scan(self.db, root, category_id=category_id, progress=progress, cancel=cancel)

    def run_worker(
        self,
        *,
        follow: bool = False,
        session_ids: Sequence[int] | None = None,
        batch_size: int = 32,
        embedder: Embedder | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> WorkerResult:
        """Embed queued jobs here (`core.worker.run_worker`), on this service's connections."""
        from vectorctl.core.worker import run_worker

        self.require_writable("run a worker")
        return run_worker(
            self.settings,
            db=self.db,
            store=self.store,
            embedder=embedder,
            follow=follow,
            session_ids=session_ids,
            batch_size=batch_size,
            progress=progress,
            cancel=cancel,
        )

    def check_retrain(
        self, directories: Sequence[str], category_id: int | None = None
    ) -> list[str]:
        """What `retrain` refuses, before anything is shown or asked."""
        from vectorctl.core.retrain import check_directories

        return check_directories(self, directories, category_id)

    def retrain(
        self,
        directories: str | Sequence[str],
        *,
        category_id: int | None = None,
        reason: str | None = None,
        backup: bool = True,
        wait: bool = False,
        expect: int | None = None,
        confirm: str | None = None,
        embedder: Embedder | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> RetrainResult:
        """Delete (audited) and queue the directories again: `core.retrain.retrain`."""
        from vectorctl.core.retrain import retrain

        return retrain(
            self,
            directories,
            category_id=category_id,
            reason=reason,
            backup=backup,
            wait=wait,
            expect=expect,
            confirm=confirm,
            embedder=embedder,
            progress=progress,
            cancel=cancel,
        )

    def retrain_into(
        self,
        directories: str | Sequence[str],
        collection: str,
        *,
        category_id: int | None = None,
        reason: str | None = None,
        embedder: Embedder | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> RetrainResult:
        """Embed the directories into another collection: `core.retrain.retrain_into`."""
        from vectorctl.core.retrain import retrain_into

        return retrain_into(
            self,
            directories,
            collection,
            category_id=category_id,
            reason=reason,
            embedder=embedder,
            progress=progress,
            cancel=cancel,
        )

    def build_demo(
        self,
        *,
        per_event: int = 30,
        embedder: Embedder | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> DemoResult:
        """Build the demo library in this deployment: `core.demo.build_demo`."""
        from vectorctl.core.demo import build_demo

        return build_demo(
            self, per_event=per_event, embedder=embedder, progress=progress, cancel=cancel
        )
