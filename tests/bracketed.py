"""A library whose names look like Rich/Textual markup: every interface must show them as
they are (`[draft]` is a directory, not a style)."""

from __future__ import annotations

from sqlalchemy import update

from tests.builders import add_category, add_session, delete_asset_rows, index_assets
from tests.conftest import upgraded
from vectorctl.core.db.models import TrainingJob
from vectorctl.core.service import VectorService
from vectorctl.core.targets import Target, TargetKind

DRAFT = "/lib/[draft]"
FILE = f"{DRAFT}/[x].jpg"
EMOJI_DIR = "/lib/:sparkles:"
ORPHAN = f"{DRAFT}/[gone].jpg"
CATEGORY = "[b]Family[/b]"
JOB_ERROR = "cannot open [x].jpg: [Errno 2] gone [/mnt]"
REASON = "copied to [/mnt/archive] first"
OPERATOR = "[bold]op[/]"
OLD = "/old/[v1]"  # deleted with REASON by OPERATOR, so the audit log shows both


def populate_bracketed(service: VectorService) -> int:
    """Build the library; returns the id of the session over DRAFT."""
    upgraded(service.settings.database_url)
    service.ensure_collection()
    category = add_category(service, CATEGORY)
    ids = index_assets(service, [FILE, f"{DRAFT}/b.jpg", f"{EMOJI_DIR}/s.jpg", f"{OLD}/o.jpg"])
    session = add_session(service, DRAFT, [ids[FILE], ids[f"{DRAFT}/b.jpg"]], category_id=category)
    with service.db.begin() as db:
        db.execute(
            update(TrainingJob)
            .where(TrainingJob.asset_id == ids[FILE])
            .values(status="FAILED", error_message=JOB_ERROR)
        )
    gone = index_assets(service, [ORPHAN])
    delete_asset_rows(service, list(gone.values()))
    service.delete(Target(TargetKind.DIRECTORY, OLD), reason=REASON)
    return session
