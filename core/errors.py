"""Typed errors whose messages an operator can act on.

Every interface maps them the same way: the CLI turns `exit_code` into the process status
(2 for bad input, 1 for an operation that failed), the TUI shows the message in one line.
"""


class VectorctlError(Exception):
    """Base class: `str(error)` is the whole operator-facing message; `details` are facts a
    script needs as well (the CLI adds them to its JSON error document)."""

    exit_code = 1

    def __init__(self, message: str = "", **details: object):
        super().__init__(message)
        self.details = details


class ValidationError(VectorctlError):
    """The request itself is wrong (bad prefix, unknown id, wrong phrase); nothing was touched."""

    exit_code = 2


class NotFoundError(ValidationError):
    """The named asset, session, category or audit entry does not exist."""


class ReadOnlyError(VectorctlError):
    """A mutation was asked for while the tool runs in read-only mode."""

    exit_code = 2


class ConnectionFailed(VectorctlError):
    """The database or the vector store cannot be reached or opened."""


class SchemaOutOfDate(VectorctlError):
    """The database lacks vectorctl's tables or columns; `vectorctl db upgrade` fixes it."""


class StoreMismatch(VectorctlError):
    """The collection exists but not as expected (missing, or another vector size)."""


class MissingIndex(StoreMismatch):
    """The collection lacks a payload index an engine needs for the request (a facet on a
    server or on Qdrant Edge); `vectorctl store backfill` creates vectorctl's."""


class ModelUnavailable(VectorctlError):
    """The configured OpenCLIP model or its weights cannot be loaded; nothing was embedded."""


class OperationFailed(VectorctlError):
    """A destructive or long operation started and did not finish; the audit row says how far."""


class Cancelled(VectorctlError):
    """The operator cancelled a long operation; what was done so far is recorded."""


class SelectionChanged(OperationFailed):
    """What a destructive operation would select is not what the operator confirmed (points
    came or went since the preview); nothing was changed."""


class AuditDeferred(OperationFailed):
    """The operation ran, but the database could not record its end: the record waits in the
    local journal and is written at the next start. The message says what was done."""


class Unsupported(ValidationError):
    """The configured engine cannot do what was asked (aliases on Qdrant Edge, a server's
    snapshot on an embedded store); nothing was changed."""
