"""Drift: the database and the vector store disagreeing about a point (reference 002).

The database is the source of truth; a payload is derived data. A commit followed by a
Qdrant call that failed or was never made (a file moved, a session's category changed, a
category deleted, a face suggestion accepted) leaves a payload that says something else, and
the directory statistics, previews and deletes that trust the payload are quietly wrong.

- `rules`: the kinds of drift and what a payload should say, point by point;
- `rows`: what the database says, read in key order, by key or at random;
- `scan`: the exact comparison, streaming (memory flat in the number of points);
- `sample`: the sampled estimate with its confidence interval (the reconciliation check);
- `report`: what both return.

A repair sets the drifted fields from the database through the audited protocol
(`core.protocol.change_payloads`), so it is previewed, backed up and undone like a delete.
"""

from vectorctl.core.drift.report import (
    DirectoryDrift,
    DriftEstimate,
    DriftItem,
    DriftPlan,
    DriftReport,
    RateEstimate,
)
from vectorctl.core.drift.rules import KINDS, PAYLOAD_KINDS, parse_kinds
from vectorctl.core.drift.sample import estimate
from vectorctl.core.drift.scan import scan

__all__ = [
    "KINDS",
    "PAYLOAD_KINDS",
    "DirectoryDrift",
    "DriftEstimate",
    "DriftItem",
    "DriftPlan",
    "DriftReport",
    "RateEstimate",
    "estimate",
    "parse_kinds",
    "scan",
]
