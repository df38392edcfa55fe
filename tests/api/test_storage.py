"""The file stores (filesystem and S3), durable deletion, the sweep, and the stored photo copy."""

from __future__ import annotations

import asyncio
import io
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from app.core.settings import Settings
from app.storage import repository
from app.storage.files import CHUNK_BYTES, FileKind, FileStore, LocalFileStore, open_store, sha256_hex
from app.storage.files.s3 import S3FileStore
from app.storage.models import ApiKey, FileOutbox, Subject, User
from app.storage.sweep import sweep, unreferenced
from posture.photo_copy import strip_metadata

from .conftest import Api, make_jpeg, new_account, running_api

# --- the stores, each backend ----------------------------------------------------------------------


@pytest.fixture(params=["files", "s3"])
def file_store(request: pytest.FixtureRequest, tmp_path) -> FileStore:
    if request.param == "files":
        return LocalFileStore(tmp_path / "files")
    store = open_store(request.getfixturevalue("bucket_url"))
    request.addfinalizer(store.close)
    return store


def test_put_is_content_addressed_and_idempotent(file_store: FileStore):
    digest = file_store.put(FileKind.PHOTO, b"pixels")
    assert digest == sha256_hex(b"pixels")
    assert file_store.exists(FileKind.PHOTO, digest) and not file_store.exists(FileKind.OVERLAY, digest)
    assert file_store.put(FileKind.PHOTO, b"pixels") == digest
    assert file_store.read(FileKind.PHOTO, digest) == b"pixels"
    [listed] = list(file_store.list())
    assert (listed.kind, listed.digest, listed.size) == (FileKind.PHOTO, digest, 6)
    assert abs(listed.modified_at - datetime.now(UTC)) < timedelta(minutes=1)
    file_store.delete(FileKind.PHOTO, digest)
    assert not file_store.exists(FileKind.PHOTO, digest) and file_store.open(FileKind.PHOTO, digest) is None
    file_store.delete(FileKind.PHOTO, digest)  # removing twice is fine
    assert list(file_store.list()) == []


def test_local_files_are_laid_out_by_hash(tmp_path):
    store = LocalFileStore(tmp_path)
    digest = store.put(FileKind.PHOTO, b"pixels")
    path = store.path(FileKind.PHOTO, digest)
    assert path == tmp_path / "photo" / digest[:2] / f"{digest}.jpg" and path.read_bytes() == b"pixels"


def test_bucket_keys_are_laid_out_by_hash_under_the_prefix(bucket_url):
    from .s3_server import bucket_keys

    store = open_store(bucket_url)
    digest = store.put(FileKind.OVERLAY, b"png")
    assert bucket_keys(bucket_url) == [f"posture/overlay/{digest[:2]}/{digest}.png"]
    store.close()


def test_downloads_stream_in_chunks(file_store: FileStore):
    data = np.random.default_rng(3).bytes(3 * CHUNK_BYTES + 1000)
    digest = file_store.put(FileKind.PHOTO, data)
    download = file_store.open(FileKind.PHOTO, digest)
    assert download is not None and download.size == len(data)
    chunks = list(download.chunks)
    assert len(chunks) >= 4 and max(len(c) for c in chunks) <= CHUNK_BYTES and b"".join(chunks) == data
    assert file_store.hash_of(FileKind.PHOTO, digest) == digest


def test_listing_skips_files_that_are_not_stored_files(file_store: FileStore, tmp_path):
    digest = file_store.put(FileKind.PHOTO, b"a")
    if isinstance(file_store, LocalFileStore):
        (file_store.root / "photo" / digest[:2] / "notes.txt").write_text("mine")
        (file_store.root / "photo" / "zz").mkdir()
        (file_store.root / "photo" / "zz" / f"{digest}.jpg").write_bytes(b"a")  # wrong directory
    else:
        assert isinstance(file_store, S3FileStore)
        client = file_store._client
        client.put_object(
            Bucket=file_store.bucket, Key=f"{file_store.prefix}/photo/{digest[:2]}/x.txt", Body=b""
        )
        client.put_object(
            Bucket=file_store.bucket, Key=f"elsewhere/photo/{digest[:2]}/{digest}.jpg", Body=b""
        )
    assert [(f.kind, f.digest) for f in file_store.list()] == [(FileKind.PHOTO, digest)]


def test_two_prefixes_in_one_bucket_are_two_stores(bucket_url):
    first, second = open_store(bucket_url), open_store(bucket_url + "-other")
    digest = first.put(FileKind.PHOTO, b"only in the first")
    assert first.exists(FileKind.PHOTO, digest) and not second.exists(FileKind.PHOTO, digest)
    assert list(second.list()) == []
    first.close()
    second.close()


def test_an_interrupted_write_leaves_nothing_behind(tmp_path, monkeypatch):
    store = LocalFileStore(tmp_path)

    def crash(src, dst):
        raise OSError(5, "I/O error")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.put(FileKind.OVERLAY, b"half")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_crashed_write_s_temporary_file_is_swept_once_old(tmp_path):
    """A crash between writing and renaming leaves a `.tmp-*` file (no reader ever sees it)."""
    store = LocalFileStore(tmp_path)
    leftover = tmp_path / "photo" / "ab" / ".tmp-x1y2.jpg"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a photo")
    assert list(store.list()) == []
    now = datetime.now(UTC)
    assert store.remove_partial_writes(now - timedelta(hours=1)) == 0 and leftover.exists()
    os.utime(leftover, (now.timestamp() - 7200, now.timestamp() - 7200))
    assert store.remove_partial_writes(now - timedelta(hours=1)) == 1 and not leftover.exists()


def test_names_accept_only_digests(file_store: FileStore):
    for bad in ("../../etc/passwd", "A" * 64, "ab"):
        with pytest.raises(ValueError):
            file_store.exists(FileKind.PHOTO, bad)
        with pytest.raises(ValueError):
            file_store.delete(FileKind.PHOTO, bad)


def test_the_storage_setting_chooses_the_backend(tmp_path, s3_endpoint):
    assert isinstance(open_store(Settings(data_dir=tmp_path).storage_location), LocalFileStore)
    assert Settings(data_dir=tmp_path).storage_location == str(tmp_path / "files")
    store = open_store(Settings(storage_url="s3://photos/a/b/").storage_location)
    assert isinstance(store, S3FileStore) and (store.bucket, store.prefix, store.url) == (
        "photos",
        "a/b",
        "s3://photos/a/b",
    )
    store.close()
    for bad in ("gs://bucket/x", "s3://", "s3:///prefix"):
        with pytest.raises(ValueError):
            Settings(storage_url=bad)


# --- durable deletion and the sweep --------------------------------------------------------------


def _outbox(api: Api) -> int:
    with api.database.session() as session:
        return session.scalar(select(func.count()).select_from(FileOutbox)) or 0


def _crash_before_file_removal(monkeypatch) -> None:
    """What `kill -9` right after a deletion's commit leaves: rows gone, files and outbox entries kept.
    (tests/api/test_faults.py does it with real kills.)"""
    monkeypatch.setattr(repository, "_drain_now", lambda *args: None)


def _sweep(api: Api, grace_s: float = 3600):
    with api.database.session() as session:
        return sweep(session, api.store, grace_s)


@pytest.fixture
def clean_outbox(database):
    """The outbox is shared by the tests of one database: start from an empty one."""
    with database.session() as session:
        session.execute(FileOutbox.__table__.delete())
        session.commit()


@pytest.mark.both_storages
def test_a_deletion_interrupted_before_its_files_go_is_finished_by_the_sweep(
    api: Api, monkeypatch, clean_outbox
):
    sid = api.subject()
    for seed in (5040, 5041):
        assert api.upload(sid, make_jpeg(seed)).status_code == 201
    _crash_before_file_removal(monkeypatch)
    assert api.delete(f"/api/v1/subjects/{sid}").status_code == 204
    assert len(api.stored_files()) == 4 and _outbox(api) == 4  # recorded with the deletion
    report = _sweep(api)  # no grace needed: the outbox says these files were deleted
    assert (report.outbox_entries, report.outbox_removed, report.failures) == (4, 4, 0)
    assert api.stored_files() == [] and _outbox(api) == 0


@pytest.mark.both_storages
def test_the_sweep_keeps_an_outbox_file_that_another_analysis_shares(api: Api, monkeypatch, clean_outbox):
    photo = make_jpeg(5042)
    gone, kept = api.subject("Gone"), api.subject("Kept")
    api.upload(gone, photo)
    kept_id = api.upload(kept, photo).json()["id"]
    _crash_before_file_removal(monkeypatch)
    assert api.delete(f"/api/v1/subjects/{gone}").status_code == 204
    report = _sweep(api, grace_s=0)
    assert (report.outbox_entries, report.shared_kept, report.outbox_removed, report.orphans_removed) == (
        2,
        2,
        0,
        0,
    )
    assert len(api.stored_files()) == 2 and _outbox(api) == 0
    assert api.get(f"/api/v1/analyses/{kept_id}/photo").status_code == 200


@pytest.mark.both_storages
def test_unreferenced_files_are_removed_after_the_grace_period(api: Api, clean_outbox):
    sid = api.subject()
    kept = api.upload(sid, make_jpeg(5043)).json()["id"]
    orphan = api.store.put(FileKind.PHOTO, b"written by an upload that crashed before its commit")
    first = _sweep(api, grace_s=3600)  # too recent: it could be an upload in flight
    assert first.orphans_removed == 0 and api.store.exists(FileKind.PHOTO, orphan)
    assert first.files_checked == 3
    second = _sweep(api, grace_s=0)
    assert second.orphans_removed == 1 and not api.store.exists(FileKind.PHOTO, orphan)
    assert len(api.stored_files()) == 2 and api.get(f"/api/v1/analyses/{kept}/photo").status_code == 200
    with api.database.session() as session:
        assert unreferenced(session, api.store) == []


class _SweptBetween(LocalFileStore):
    """A sweep removes each file right after the upload first wrote it, before the upload's row commits."""

    swept: ClassVar[set[str]] = set()

    def put(self, kind: FileKind, data: bytes) -> str:
        digest = super().put(kind, data)
        if digest not in self.swept:
            self.swept.add(digest)
            self.delete(kind, digest)
        return digest


def test_an_upload_whose_file_was_swept_before_its_commit_writes_it_again(api: Api):
    """A same-content file from a deleted analysis can go between an upload's write and its commit: the
    upload re-checks under the lock, so its committed row never lacks its file."""
    sid = api.subject()
    store = _SweptBetween(api.data_dir / "files")
    outcome = asyncio.run(api.client.app.state.analyzer.run(_job(make_jpeg(5044))))
    with api.database.session() as session:
        record = repository.add_analysis(session, store, uuid.UUID(sid), outcome, datetime.now(UTC))
    assert record is not None and len(store.swept) == 2
    assert store.exists(FileKind.PHOTO, record.photo_sha256) and store.exists(
        FileKind.OVERLAY, record.overlay_sha256
    )
    assert api.get(f"/api/v1/analyses/{record.id}/photo").status_code == 200


class _Unreachable(LocalFileStore):
    def delete(self, kind: FileKind, digest: str) -> None:
        raise OSError(111, "Connection refused")


def test_a_removal_the_store_refuses_stays_in_the_outbox(api: Api, clean_outbox):
    sid = api.subject()
    api.upload(sid, make_jpeg(5045))
    down = _Unreachable(api.data_dir / "files")
    with api.database.session() as session:
        user = session.scalar(select(User).join(Subject).where(Subject.id == uuid.UUID(sid)))
        assert repository.delete_subject(session, down, user, uuid.UUID(sid))  # the deletion succeeds
        report = sweep(session, down, 3600)
        assert (report.failures, report.outbox_removed) == (2, 0)
        assert session.scalars(select(FileOutbox.attempts)).all() == [2, 2]  # at deletion, then in the sweep
    assert len(api.stored_files()) == 2
    assert _sweep(api).outbox_removed == 2 and api.stored_files() == [] and _outbox(api) == 0


@pytest.mark.both_storages
def test_deleting_an_account_removes_everything_it_owned(api: Api, clean_outbox):
    shared = make_jpeg(5046)
    mine = [api.subject("One"), api.subject("Two")]
    for i, sid in enumerate(mine):
        api.upload(sid, make_jpeg(5047 + i))
    api.upload(mine[0], shared)
    other = Api(api.client, new_account(api.database), api.data_dir, api.database)
    theirs = other.upload(other.subject("Theirs"), shared).json()["id"]
    assert len(api.stored_files()) == 6  # three photos and their overlays: the shared one stored once
    with api.database.session() as session:
        user = session.scalar(select(User).join(Subject).where(Subject.id == uuid.UUID(mine[0])))
        user_id = user.id
        deleted = repository.delete_account(session, api.store, user)
        assert deleted == repository.DeletedAccount(subjects=2, analyses=3, files=6)
        for model, column in ((User, User.id), (ApiKey, ApiKey.user_id), (Subject, Subject.user_id)):
            assert session.scalar(select(func.count()).select_from(model).where(column == user_id)) == 0
    assert api.get("/api/v1/subjects").status_code == 401  # its key went with it
    assert len(api.stored_files()) == 2 and _outbox(api) == 0  # only the photo the other account shares
    assert other.get(f"/api/v1/analyses/{theirs}/photo").status_code == 200


@pytest.mark.both_storages
def test_the_server_sweeps_at_start_up_and_then_periodically(
    database, tmp_path, fake, storage, monkeypatch, clean_outbox
):
    data_dir = tmp_path / "data"
    with running_api(database, data_dir, fake, storage_url=storage) as api:
        sid = api.subject()
        api.upload(sid, make_jpeg(5050))
        _crash_before_file_removal(monkeypatch)
        assert api.delete(f"/api/v1/subjects/{sid}").status_code == 204
        assert len(api.stored_files()) == 2 and _outbox(api) == 2
    monkeypatch.undo()
    with running_api(
        database, data_dir, fake, storage_url=storage, sweep_interval_s=0.2, sweep_grace_s=0
    ) as api:
        assert api.stored_files() == [] and _outbox(api) == 0  # the start-up sweep finished the deletion
        orphan = api.store.put(FileKind.OVERLAY, b"an upload that crashed before its commit")
        sweeper = api.client.app.state.sweeper
        runs = sweeper.runs
        deadline = time.monotonic() + 20

        def swept() -> bool:  # the file gone, and the sweep that removed it over
            return not api.store.exists(FileKind.OVERLAY, orphan) and sweeper.runs > runs

        while not swept() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert swept()


def _job(photo: bytes):
    from app.services.uploads import make_job
    from posture.options import AnalysisOptions

    return make_job(Settings(), photo, "p.jpg", AnalysisOptions(), keep_files=True)


# --- the stored copy of a photo ------------------------------------------------------------------


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def test_strip_metadata_keeps_pixels_and_drops_everything_else():
    # A smooth, asymmetric picture: JPEG keeps it closely, and a wrong rotation would show.
    y, x = np.mgrid[0:30, 0:50]
    image = Image.fromarray(np.dstack([x * 5, y * 8, 255 - x * 3]).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 8  # rotate 90° counter-clockwise to view
    exif.get_ifd(0x8825).update({1: "S", 2: (33.0, 51.0, 0.0)})
    data = _encode(image, "JPEG", exif=exif, quality=95, icc_profile=b"\0" * 128, comment=b"secret")
    clean = strip_metadata(data)
    with Image.open(io.BytesIO(clean)) as out:
        assert out.format == "JPEG" and out.size == (30, 50) and out.mode == "RGB"
        assert len(out.getexif()) == 0
        assert not {"exif", "icc_profile", "comment", "xmp"} & set(out.info)
        upright = np.asarray(image.transpose(Image.Transpose.ROTATE_90), dtype=float)
        assert np.abs(np.asarray(out, dtype=float) - upright).mean() < 4  # same picture, JPEG noise


def test_strip_metadata_flattens_transparency_and_deep_greyscale():
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    with Image.open(io.BytesIO(strip_metadata(_encode(rgba, "PNG")))) as out:
        assert out.getpixel((4, 4)) > (240, 240, 240)  # transparent becomes white, not black
    grey16 = Image.fromarray(np.full((8, 8), 40000, dtype=np.uint16))
    with Image.open(io.BytesIO(strip_metadata(_encode(grey16, "PNG")))) as out:
        assert 150 < out.getpixel((4, 4))[0] < 160  # 40000/65535 of white, not clipped to 255
