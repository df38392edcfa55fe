"""`posture batch --store`: batch results into the history, as the API's upload would add them.

A `HistoryStore` is the result sink the batch command writes to beside its CSV/JSONL file
(`posture.batch.output.ResultSink`); `app.cli` hands its opener to the batch command. Settings come
from the same `POSTURE_*` environment as `posture serve` (`--data-dir` overrides the data folder), so a
batch run and the server share one database and one file store.

What an upload stores, a batch stores: only accepted photos; the analysis document; the photo
re-encoded without metadata and its overlay (when the service keeps photos); `taken_at` from the
manifest, else the photo's EXIF time, else now; visits grouped the same way (a manifest's `visit` label,
else shots within 30 minutes of each other). Subjects are found by name in the account, and created
when missing. A movement clip's accepted result becomes a movement, as an uploaded clip's job does:
the clip itself (when the service keeps photos, and the file is still the one scored) and its deepest
frame are stored with it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from app.core.db import Database
from app.core.settings import Settings
from app.services.uploads import as_utc, resolve_taken_at, source_name
from app.storage import movements as movement_storage
from app.storage import repository
from app.storage.files import LocalFileStore, open_store
from app.storage.models import User, utcnow
from posture.batch import BatchInputError, BatchResult
from posture.photo_copy import strip_metadata
from posture.worker import JobResult


class HistoryStore:
    """An open connection to the history: `write(result)` per scored photo, then `close()`.

    `user` names the account that owns the subjects; it may be omitted when the database has
    exactly one account.
    """

    def __init__(self, data_dir: Path | None = None, user: str | None = None) -> None:
        settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
        self.keep_photos = settings.store_photos
        self.location = settings.sqlalchemy_url if settings.database_url else str(settings.data_dir)
        self._db = Database(settings.sqlalchemy_url)
        try:
            self._db.migrate()
            self._files = open_store(settings.storage_location)
            if isinstance(self._files, LocalFileStore):
                self._files.root.mkdir(parents=True, exist_ok=True)
            self._session = self._db.session()
            self._user = self._account(user)
        except BaseException:
            self._db.dispose()
            raise
        self._subjects: dict[str, uuid.UUID] = {}
        self.added = 0

    def _account(self, name: str | None) -> User:
        if name is not None:
            user = repository.user_by_name(self._session, name)
            if user is None:
                raise BatchInputError(f"--user: no account named {name!r} in {self.location}")
            return user
        users = [user for user, _keys in repository.list_users(self._session)]
        if len(users) == 1:
            return users[0]
        if not users:
            raise BatchInputError(
                f"--store: {self.location} has no account yet; create one with `posture users create NAME`"
            )
        names = ", ".join(repr(u.name) for u in users[:5]) + (", …" if len(users) > 5 else "")
        raise BatchInputError(f"--store: several accounts ({names}); choose one with --user NAME")

    def subject_id(self, name: str) -> uuid.UUID:
        """The account's subject of that name (the oldest, if several share it), created if missing."""
        if name not in self._subjects:
            found = repository.subject_id_by_name(self._session, self._user, name)
            if found is None:
                found = repository.create_subject(self._session, self._user, name, None).id
            self._subjects[name] = found
        return self._subjects[name]

    def write(self, result: BatchResult) -> None:
        self.add(result)

    def add(self, result: BatchResult, subject: str | None = None) -> bool:
        """Store one result under `subject` (default: the result's); False when not stored (rejected
        photos and photos without a subject are not, as a refused upload is not)."""
        name = subject if subject is not None else result.subject
        if not result.analysis.ok or not name:
            return False
        if result.is_clip:
            return self._add_clip(result, name)
        analysis = result.analysis
        photo = overlay = None
        if self.keep_photos:
            photo = result.photo_jpeg if result.photo_jpeg is not None else self._copy(result)
            overlay = analysis.overlay_png
        # As for an upload, the stored source is the bare file name: the history (and the page showing
        # it) should not carry the folders of the machine that ran the batch.
        stored = analysis.model_copy(update={"overlay_png": None, "source": source_name(result.source)})
        outcome = JobResult(0, stored, photo_jpeg=photo, overlay_png=overlay)
        given = as_utc(result.item.taken_at) if result.item.taken_at is not None else None
        taken_at = resolve_taken_at(given, outcome, utcnow())
        # The manifest's `visit` label, else the grouping by time, as for uploads (app.storage.visits).
        visit = result.item.visit
        record = repository.add_analysis(
            self._session, self._files, self.subject_id(name), outcome, taken_at, visit
        )
        if record is None:  # the subject was deleted while we ran: make it again next time
            self._subjects.pop(name, None)
            return False
        self.added += 1
        return True

    def _add_clip(self, result: BatchResult, name: str) -> bool:
        analysis = result.analysis
        clip = deepest = None
        if self.keep_photos:
            deepest = getattr(analysis, "deepest_png", None)
            clip = self._scored_file(result) if result.item.path.is_file() else None  # a burst: no one file
        document = {**analysis.to_dict(), "source": source_name(result.source)}
        given = as_utc(result.item.taken_at) if result.item.taken_at is not None else None
        movement = movement_storage.add_movement(
            self._session,
            self._files,
            self.subject_id(name),
            document,
            clip=clip,
            deepest_png=deepest,
            source=source_name(result.source),
            taken_at=given or utcnow(),
        )
        if movement is None:  # the subject was deleted while we ran: make it again next time
            self._subjects.pop(name, None)
            return False
        self.added += 1
        return True

    def _scored_file(self, result: BatchResult) -> bytes | None:
        """The file's bytes, if it is still the file that was scored."""
        try:
            data = result.item.path.read_bytes()
        except OSError:
            return None
        return data if result.sha256 is None or hashlib.sha256(data).hexdigest() == result.sha256 else None

    def _copy(self, result: BatchResult) -> bytes | None:
        """Results scored without `keep_photos` (library use): re-encode here, from the file, if it is
        still the file that was scored."""
        try:
            data = result.item.path.read_bytes()
        except OSError:
            return None
        if hashlib.sha256(data).hexdigest() != result.sha256:
            return None
        return strip_metadata(data)

    def close(self) -> None:
        self._session.close()
        self._files.close()
        self._db.dispose()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def store_results(
    results: Iterable[BatchResult],
    data_dir: Path | None = None,
    subject_for: Callable[[BatchResult], str | None] | None = None,
    *,
    user: str | None = None,
) -> int:
    """Add accepted results of `posture.batch.score()` to the history; returns how many were added.

    `subject_for` names each result's subject (default: `result.subject`); results without one, and
    rejected photos, are not stored. Score with `keep_photos=True` and overlays on to store both, as
    uploads do.
    """
    with HistoryStore(data_dir, user) as store:
        for result in results:
            store.add(result, subject_for(result) if subject_for is not None else None)
        return store.added
