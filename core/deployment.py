"""Which deployment an operation acted on: the database, the vector store and the collection.

The default data directory is per user, not per database, so two deployments can share one
backups folder and one audit journal. Audit rows, backup archives and journal entries carry
the deployment they belong to, and each is applied only there: the database by the random
identity vectorctl stores in it (`vectorctl_instance`, revision 0003), which survives a
change of host name or URL; the store and collection by name.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from vectorctl.core.db.engine import transaction
from vectorctl.core.db.models import VectorctlInstance


@dataclass(frozen=True)
class Deployment:
    database_id: str  # the database's identity (vectorctl_instance)
    database: str  # its URL with the password masked, for messages only
    store_kind: str  # "server", "local" or "edge"
    store_location: str  # URL or directory, never with a secret
    collection: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "database_id": self.database_id,
            "database": self.database,
            "store_kind": self.store_kind,
            "store_location": self.store_location,
            "collection": self.collection,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Deployment | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(**{key: str(data[key]) for key in cls.__dataclass_fields__})
        except KeyError:
            return None

    def same_store(self, other: Deployment) -> bool:
        """The same database, store and collection: where a recorded operation can be
        checked and completed."""
        return (
            self.database_id,
            self.store_kind,
            self.store_location,
            self.collection,
        ) == (other.database_id, other.store_kind, other.store_location, other.collection)

    def describe(self) -> str:
        return f"collection {self.collection!r} in {self.store_kind} {self.store_location}"


def database_identity(factory: sessionmaker[Session], *, writable: bool) -> str | None:
    """This database's identity, recorded by `db upgrade` (or here, when a row was lost and
    writing is allowed). None only for a read-only session on a database without one."""
    with factory() as db:
        found = db.scalar(select(VectorctlInstance.instance_id).limit(1))
    if found is not None or not writable:
        return found
    try:
        with transaction(factory) as db:
            db.execute(insert(VectorctlInstance).values(id=1, instance_id=str(uuid.uuid4())))
    except IntegrityError:
        pass  # another process wrote it first: read theirs
    with factory() as db:
        return db.scalar(select(VectorctlInstance.instance_id).limit(1))
