"""The sweep: finish deletions left in the outbox, and remove stored files that no row references.

Run at start-up and periodically by the server (`app.services.sweeper`), and by `posture storage
sweep`. Safe to run from several processes at once and while uploads go on: every removal re-checks the
file's references under its lock (`app.storage.repository`, module doc). A file no row references is
removed only once it is older than the grace period, which spares uploads between their files and their
row; a crash at that point is what leaves such files (and `.tmp-*` leftovers of interrupted writes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice

from sqlalchemy.orm import Session

from app.storage import repository
from app.storage.files import FileStore, StoredFile
from app.storage.models import utcnow

_LIST_BATCH = 500  # listed files checked against the database per query
# Files removed per locked transaction: on SQLite the lock is the database's, so uploads wait meanwhile.
_LOCK_BATCH = 64


@dataclass
class SweepReport:
    outbox_entries: int = 0
    """Outbox entries finished (their files removed, or kept because another row shares them)."""
    outbox_removed: int = 0
    shared_kept: int = 0
    files_checked: int = 0
    """Stored files listed and checked against the database."""
    orphans_removed: int = 0
    """Files no row referenced, older than the grace period."""
    partial_removed: int = 0
    failures: int = 0
    """Removals the store refused (retried next time)."""
    seconds: float = 0.0

    @property
    def acted(self) -> bool:
        """Whether the sweep found anything to do (worth a log line)."""
        return bool(self.outbox_entries or self.orphans_removed or self.partial_removed or self.failures)

    def summary(self) -> str:
        return (
            f"outbox: {self.outbox_entries} entries, {self.outbox_removed} files removed, "
            f"{self.shared_kept} kept (shared); checked {self.files_checked} stored files: "
            f"{self.orphans_removed} unreferenced removed, {self.partial_removed} partial writes removed; "
            f"{self.failures} failures; {self.seconds:.1f} s"
        )


def sweep(
    session: Session,
    store: FileStore,
    grace_s: float,
    should_stop: Callable[[], bool] = lambda: False,
) -> SweepReport:
    """The outbox first (deletions), then every stored file older than `grace_s` that no row references."""
    started = time.monotonic()
    report = SweepReport()
    outbox = repository.drain_outbox(session, store, should_stop=should_stop)
    report.outbox_entries, report.outbox_removed = outbox.entries, outbox.removed
    report.shared_kept, report.failures = outbox.kept, outbox.failed
    cutoff = utcnow() - timedelta(seconds=grace_s)
    for batch in _batches(store.list(), _LIST_BATCH):
        if should_stop():
            break
        report.files_checked += len(batch)
        old = {(f.kind, f.digest) for f in batch if f.modified_at < cutoff}
        # Unlocked first (cheap, and most files are referenced), then re-checked under the locks.
        candidates = old - repository.referenced_files(session, old)
        session.rollback()
        ordered = sorted(candidates)
        for start in range(0, len(ordered), _LOCK_BATCH):
            chunk = ordered[start : start + _LOCK_BATCH]
            removed, failed = repository.remove_unreferenced(session, store, chunk)
            report.orphans_removed += len(removed)
            report.failures += len(failed)
    if not should_stop():
        report.partial_removed = store.remove_partial_writes(cutoff)
    report.seconds = time.monotonic() - started
    return report


def unreferenced(session: Session, store: FileStore) -> list[StoredFile]:
    """Stored files no row references, whatever their age (for checks and tests)."""
    found: list[StoredFile] = []
    for batch in _batches(store.list(), _LIST_BATCH):
        referenced = repository.referenced_files(session, ((f.kind, f.digest) for f in batch))
        found.extend(f for f in batch if (f.kind, f.digest) not in referenced)
    session.rollback()
    return found


def _batches(items: Iterable[StoredFile], size: int) -> Iterator[list[StoredFile]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
