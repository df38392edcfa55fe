"""Copy every stored file to another store (`posture storage migrate`), verifying each by its hash.

Resumable and idempotent: a file already at the destination with the right hash is skipped, anything
else is copied again; nothing is switched (the settings decide which store the service uses). The
source keeps serving meanwhile; the switch-over steps are in docs/api.md.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.storage.files import FileKind, FileStore, StoredFile
from app.storage.models import AnalysisRecord

log = logging.getLogger(__name__)

FileRef = tuple[FileKind, str]


@dataclass
class TransferReport:
    listed: int = 0
    copied: int = 0
    already_there: int = 0
    """At the destination already, with the right hash (an earlier, interrupted run)."""
    failed: list[str] = field(default_factory=list)
    """One line per file that could not be copied and verified."""
    referenced: int = 0
    missing_at_source: list[str] = field(default_factory=list)
    """Files that rows reference but the source does not have (`photo_missing` before and after)."""
    missing_at_destination: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every file the source has, and every referenced file it has, is at the destination, verified."""
        return not self.failed and not self.missing_at_destination


def transfer(
    session: Session,
    source: FileStore,
    destination: FileStore,
    jobs: int = 8,
    progress: Callable[[TransferReport], None] | None = None,
) -> TransferReport:
    """Copy `source`'s files to `destination` (`jobs` at a time), then check that every file a row
    references is there."""
    report = TransferReport()
    lock = threading.Lock()

    def copy(item: StoredFile) -> None:
        try:
            outcome = _copy_one(source, destination, item)
        except Exception as exc:  # one file's failure must not stop the others
            outcome = f"{item.kind.value} {item.digest}: {type(exc).__name__}: {exc}"
        with lock:
            if outcome == "copied":
                report.copied += 1
            elif outcome == "already":
                report.already_there += 1
            else:
                report.failed.append(outcome)
            done = report.copied + report.already_there + len(report.failed)
            if progress is not None and done % 500 == 0:
                progress(report)

    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="migrate") as pool:
        for item in source.list():
            report.listed += 1
            pool.submit(copy, item)
    _check_references(session, source, destination, report)
    return report


def _copy_one(source: FileStore, destination: FileStore, item: StoredFile) -> str:
    if destination.hash_of(item.kind, item.digest) == item.digest:
        return "already"
    data = source.read(item.kind, item.digest)
    if data is None:  # removed (deleted and swept) since the listing: nothing to copy
        return "already"
    if hashlib.sha256(data).hexdigest() != item.digest:
        return f"{item.kind.value} {item.digest}: the source's bytes do not match their hash (not copied)"
    destination.put(item.kind, data)
    if destination.hash_of(item.kind, item.digest) != item.digest:
        return f"{item.kind.value} {item.digest}: the destination's copy does not match its hash"
    return "copied"


def _check_references(
    session: Session, source: FileStore, destination: FileStore, report: TransferReport
) -> None:
    rows = session.execute(select(AnalysisRecord.photo_sha256, AnalysisRecord.overlay_sha256)).all()
    session.rollback()
    referenced: set[FileRef] = set()
    for photo, overlay in rows:
        if photo:
            referenced.add((FileKind.PHOTO, photo))
        if overlay:
            referenced.add((FileKind.OVERLAY, overlay))
    report.referenced = len(referenced)
    present = {(f.kind, f.digest) for f in destination.list()}  # one listing, not a request per file
    for kind, digest in sorted(referenced - present):
        if source.exists(kind, digest):  # uploaded since the listing: run the command again
            report.missing_at_destination.append(f"{kind.value} {digest}")
        else:
            report.missing_at_source.append(f"{kind.value} {digest}")
