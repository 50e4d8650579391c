"""What a drift check returns, and the tally that builds it point by point.

Counts per kind are exact; per directory they are counted at every depth (a directory's
count covers everything below it), and a point whose payload puts it in one directory while
the database puts it in another counts in both, since both directories' figures are wrong.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from vectorctl.core.drift.rules import KINDS, Finding
from vectorctl.core.paths import ancestor_dirs, is_under
from vectorctl.core.protocol import PayloadChange
from vectorctl.core.results import JsonResult
from vectorctl.core.store.base import PointId

SAMPLES_PER_KIND = 20


@dataclass
class DriftItem(JsonResult):
    """One disagreement: the point (None when it does not exist), the field, both sides."""

    kind: str
    point_id: PointId | None
    field: str
    database: Any  # None: the database has no value (or no row)
    payload: Any  # None: the payload has no value (or there is no point)
    path: str | None  # the file, as the database says (as the payload says without a row)


@dataclass
class DirectoryDrift(JsonResult):
    path: str
    counts: dict[str, int]  # kind -> points below this directory (any depth)
    drifted: int = 0  # points below whose payload disagrees (of any payload kind)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "total": self.total}


@dataclass
class DriftReport(JsonResult):
    """An exact comparison of the two stores."""

    counts: dict[str, int]  # every kind checked -> how many
    directories: list[DirectoryDrift]
    samples: list[DriftItem]  # the first SAMPLES_PER_KIND of each kind, in id order
    scanned_points: int  # points read, both collections
    scanned_rows: int  # database rows read (assets, face rows)
    under: str | None
    skipped: dict[str, str]  # kind -> why it was not checked
    seconds: float = 0.0
    points: int = 0  # points compared: all read, or those inside `under` by either path
    drifted: int = 0  # points whose payload disagrees (a repair sets them from the database)

    @property
    def rate(self) -> float:
        """Share of the points compared whose payload disagrees with the database."""
        return self.drifted / self.points if self.points else 0.0

    def by_directory(self) -> dict[str, DirectoryDrift]:
        return {d.path: d for d in self.directories}

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "rate": self.rate}


@dataclass
class DriftPlan:
    """What a repair would change: the report, and per collection the payload changes of
    every drifted point (held in memory: about 300 bytes a point)."""

    report: DriftReport
    changes: dict[str, list[PayloadChange]]  # collection -> changes, in id order

    @property
    def count(self) -> int:
        return sum(len(c) for c in self.changes.values())

    @property
    def fingerprint(self) -> str:
        """Equal for two scans that found exactly the same changes."""
        digest = hashlib.sha256()
        for collection, changes in sorted(self.changes.items()):
            for c in changes:
                line = [collection, c.point_id, c.values, c.previous]
                digest.update(json.dumps(line, sort_keys=True, default=str).encode())
        return digest.hexdigest()


@dataclass
class RateEstimate(JsonResult):
    """A share estimated from a sample, with its 95% confidence interval."""

    found: int
    sampled: int
    population: int
    rate: float
    low: float
    high: float

    @classmethod
    def of(cls, found: int, sampled: int, population: int, z: float = 1.96) -> RateEstimate:
        """Wilson's score interval, with the sample's size scaled for drawing without
        replacement from a finite population (the interval closes when all were drawn)."""
        if not sampled:
            return cls(found, 0, population, 0.0, 0.0, 1.0)
        rate = found / sampled
        if sampled >= population:
            return cls(found, sampled, population, rate, rate, rate)
        n = sampled * (population - 1) / (population - sampled)
        centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        low, high = max(0.0, centre - half), min(1.0, centre + half)
        return cls(found, sampled, population, rate, low, high)


@dataclass
class DriftEstimate(JsonResult):
    """The reconciliation check of reference 002: database rows drawn at random (assets and
    face rows alike), each compared with its point. `drift` is the share whose payload
    disagrees (what `--max-rate` judges); `missing` the share without a point."""

    drift: RateEstimate
    missing: RateEstimate
    kinds: dict[str, RateEstimate]  # each kind checked, over the rows it applies to
    samples: list[DriftItem]
    skipped: dict[str, str]
    seconds: float = 0.0


class Tally:
    """Counts, per-directory counts and samples of what a check finds, for the kinds asked
    for and (with `under`) the points inside that directory by either side's path; with
    `collect`, the payload change of every drifted point."""

    def __init__(self, kinds: tuple[str, ...], under: str | None, collect: bool):
        self.kinds, self.under, self.collect = kinds, under, collect
        self.counts: Counter[str] = Counter({k: 0 for k in kinds})
        self.directories: Counter[tuple[str, str]] = Counter()
        self.samples: dict[str, list[DriftItem]] = {k: [] for k in kinds}
        self.changes: dict[str, list[PayloadChange]] = {}
        self.skipped: dict[str, str] = {}
        self.drifted = 0
        self.drifted_below: Counter[str] = Counter()  # directory -> drifted points

    def wanted(self, *paths: str | None) -> bool:
        return self.under is None or any(
            isinstance(p, str) and is_under(p, self.under) for p in paths
        )

    def point(
        self,
        collection: str,
        point_id: PointId,
        findings: list[Finding],
        path: str | None,
        payload_path: str | None = None,
    ) -> None:
        """A point whose payload disagrees: each finding counted, one change for them all."""
        findings = [f for f in findings if f.kind in self.kinds]
        if not findings or not self.wanted(path, payload_path):
            return
        self.drifted += 1
        for directory in _directories(path, payload_path):
            self.drifted_below[directory] += 1
        for f in findings:
            where = path if path is not None else payload_path
            self._count(f.kind, DriftItem(f.kind, point_id, f.field, f.database, f.payload, where))
            self._place(f.kind, path, payload_path, 1)
        if self.collect:
            values: dict[str, Any] = {}
            previous: dict[str, Any] = {}
            for f in findings:
                values.update(f.values)
                previous.update(f.previous)
            change = PayloadChange(point_id, values, previous)
            self.changes.setdefault(collection, []).append(change)

    def item(self, item: DriftItem, payload_path: str | None = None) -> None:
        """A point or row the other side lacks (missing, orphans)."""
        if item.kind not in self.kinds or not self.wanted(item.path, payload_path):
            return
        self._count(item.kind, item)
        self._place(item.kind, item.path, payload_path, 1)

    def retract(self, item: DriftItem) -> None:
        """An item counted too early: a point found later after all (see `scan`)."""
        if item.kind not in self.kinds or not self.wanted(item.path):
            return
        self.counts[item.kind] -= 1
        self._place(item.kind, item.path, None, -1)
        samples = self.samples[item.kind]
        if item in samples:
            samples.remove(item)

    def _count(self, kind: str, item: DriftItem) -> None:
        self.counts[kind] += 1
        if len(self.samples[kind]) < SAMPLES_PER_KIND:
            self.samples[kind].append(item)

    def _place(self, kind: str, path: str | None, other: str | None, n: int) -> None:
        for directory in _directories(path, other):
            self.directories[directory, kind] += n

    def report(self, scanned_points: int, scanned_rows: int, seconds: float) -> DriftReport:
        by_directory: dict[str, dict[str, int]] = {}
        for (directory, kind), n in sorted(self.directories.items()):
            if n:
                by_directory.setdefault(directory, {})[kind] = n
        return DriftReport(
            counts={k: self.counts[k] for k in KINDS if k in self.kinds and k not in self.skipped},
            directories=[
                DirectoryDrift(d, c, self.drifted_below[d]) for d, c in by_directory.items()
            ],
            samples=[s for k in KINDS if k in self.samples for s in self.samples[k]],
            scanned_points=scanned_points,
            scanned_rows=scanned_rows,
            under=self.under,
            skipped=dict(self.skipped),
            seconds=seconds,
            drifted=self.drifted,
        )


@dataclass
class RepairEntry(JsonResult):
    """One audited run of a repair: one per collection changed."""

    collection: str
    log_id: int
    changed: int
    backup: str | None  # restoring `log_id` puts every old payload back


@dataclass
class DriftRepair(JsonResult):
    counts: dict[str, int]  # the drift found, per kind
    changed: int  # points whose payload was set
    entries: list[RepairEntry]


def _directories(*paths: str | None) -> set[str]:
    """Every directory above these files, each once."""
    return {d for p in paths if isinstance(p, str) for d in ancestor_dirs(p)}
