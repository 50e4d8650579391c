"""What the operations built on the service (retrain, the demo) need from it.

A Protocol rather than `VectorService` itself, so that those modules sit below the facade
that offers them: the service imports them (lazily, they load the embedding code), never
the other way round. `VectorService` satisfies it as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from vectorctl.core.audit import AuditLog
    from vectorctl.core.progress import CancelToken, ProgressCallback
    from vectorctl.core.protocol import Environment
    from vectorctl.core.results import AuditEntry, DeleteResult, OrphanReport
    from vectorctl.core.settings import Settings
    from vectorctl.core.store.base import VectorStore
    from vectorctl.core.targets import Target


class ServiceContext(Protocol):
    settings: Settings

    @property
    def db(self) -> sessionmaker[Session]: ...

    @property
    def store(self) -> VectorStore: ...

    @property
    def audit(self) -> AuditLog: ...

    def require_writable(self, action: str) -> None: ...

    def audited_environment(self) -> Environment: ...

    def delete(
        self,
        target: Target,
        *,
        reason: str | None = None,
        backup: bool = True,
        expect: int | None = None,
        confirm: str | None = None,
        audit_type: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> DeleteResult: ...

    def audit_log(self, *, limit: int | None = 1000) -> list[AuditEntry]: ...

    def find_orphans(
        self, *, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> OrphanReport: ...
