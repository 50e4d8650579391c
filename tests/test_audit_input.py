"""What an operator types into the audit log and its search: literal, bounded, refused
cleanly when unusable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.builders import add_session, delete_asset_rows, index_assets
from tests.commands import Run, doc
from tests.conftest import upgraded
from vectorctl.core.audit import AuditLog
from vectorctl.core.db.engine import create_db_engine, session_factory
from vectorctl.core.deployment import Deployment, database_identity
from vectorctl.core.errors import ValidationError
from vectorctl.core.retrain import retrain
from vectorctl.core.service import VectorService
from vectorctl.core.settings import RESET_PHRASE
from vectorctl.core.targets import Target, TargetKind
from vectorctl.core.validation import MAX_REASON

ROWS = [
    ("/photos/100%", "kept 100% of them"),
    ("/photos/a_b", None),
    ("/photos/axb", None),
    ("/photos/ab", "Copied To [/mnt/archive] first"),
]


@pytest.fixture
def audit(db_url: str, tmp_path: Path) -> AuditLog:
    engine = create_db_engine(upgraded(db_url))
    factory = session_factory(engine)
    here = Deployment(
        database_id=str(database_identity(factory, writable=True)),
        database=db_url,
        store_kind="edge",
        store_location=str(tmp_path / "store"),
        collection="image_assets",
    )
    log = AuditLog(factory, tmp_path / "journal", "tester@test", here)
    for target, reason in ROWS:
        log.finish(log.start("DIRECTORY", target, expected=1, reason=reason), "completed", 1)
    return log


# What each search finds: `%` and `_` are characters, a backslash escapes nothing, case
# is ignored.
SEARCHES = {
    "%": ["/photos/100%"],
    "_": ["/photos/a_b"],
    "A_B": ["/photos/a_b"],
    "100%": ["/photos/100%"],
    "\\": [],
    "to [/MNT": ["/photos/ab"],
}


def test_audit_text_search_matches_wildcards_literally_and_ignores_case(audit: AuditLog) -> None:
    found = {text: [e.deletion_target for e in audit.query(text=text)] for text in SEARCHES}
    assert found == SEARCHES


@pytest.mark.parametrize("limit", [0, -1])
def test_audit_limit_below_one_is_refused(audit: AuditLog, limit: int) -> None:
    with pytest.raises(ValidationError, match="limit"):
        audit.query(limit=limit)


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_cli_audit_limit_below_one_exits_2(run: Run, limit: str) -> None:
    result = run("audit", "--limit", limit, "--json")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "reason",
    ["x" * (MAX_REASON + 1), "before\x00after", "red \x1b[31m"],
    ids=["too-long", "nul", "escape"],
)
def test_cli_delete_with_an_unusable_reason_exits_2_and_changes_nothing(
    run: Run,
    populated: dict[str, int],
    reason: str,
) -> None:
    result = run("delete", "dir", "/photos/2024", "--yes", "--reason", reason, "--json")
    assert result.exit_code == 2, result.output
    assert "reason" in result.stderr
    assert doc(run("preview", "dir", "/photos/2024", "--json"))["count"] == 2
    assert doc(run("audit", "--json")) == []


OPERATIONS: dict[str, Callable[[VectorService, str], object]] = {
    "delete": lambda s, r: s.delete(Target(TargetKind.DIRECTORY, "/photos"), reason=r),
    "delete session": lambda s, r: s.delete_session_record(
        s.sessions()[0].id, with_vectors=True, reason=r
    ),
    "clean orphans": lambda s, r: s.clean_orphans(reason=r),
    "reset": lambda s, r: s.reset(RESET_PHRASE, reason=r),
    "retrain": lambda s, r: retrain(s, "/photos", reason=r),
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_every_operation_taking_a_reason_refuses_an_overlong_one_before_acting(
    service: VectorService, operation: str
) -> None:
    ids = index_assets(service, ["/photos/a.jpg", "/photos/b.jpg", "/gone/c.jpg"])
    add_session(service, "/photos", [ids["/photos/a.jpg"]])
    delete_asset_rows(service, [ids["/gone/c.jpg"]])  # one orphan for the clean
    with pytest.raises(ValidationError, match="reason"):
        OPERATIONS[operation](service, "x" * (MAX_REASON + 1))
    assert service.store.count() == 3
    assert service.audit_log() == []
    longest = "x" * MAX_REASON  # the limit itself is fine, and kept whole
    OPERATIONS[operation](service, longest)
    assert [e.deletion_reason for e in service.audit_log()] == [longest]
