"""Typed errors whose messages an operator can act on.

Every interface maps them the same way: the CLI turns `exit_code` into the process status
(2 for bad input, 1 for an operation that failed), the TUI shows the message in one line.
"""


class VectorctlError(Exception):
    """Base class: `str(error)` is the whole operator-facing message."""

    exit_code = 1


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


class ModelUnavailable(VectorctlError):
    """The configured OpenCLIP model or its weights cannot be loaded; nothing was embedded."""


class OperationFailed(VectorctlError):
    """A destructive or long operation started and did not finish; the audit row says how far."""


class Cancelled(VectorctlError):
    """The operator cancelled a long operation; what was done so far is recorded."""
