"""Clip uploads are stored from the multipart parser's spooled file a chunk at a time (issue 23, item 9):
byte-identical under their SHA-256 on the filesystem and in S3 (a real moto server), never read whole
by the store, and an over-limit clip leaves no file behind. The memory figures themselves come from
benchmarks/upload_memory.py (docs/benchmarks.md), not from a timed or measured test."""

from __future__ import annotations

import hashlib
import io
import tempfile
from pathlib import Path
from typing import Any

import pytest
from starlette.datastructures import UploadFile

from app.core.db import Database
from app.storage.files import CHUNK_BYTES, FileKind, FileStore, LocalFileStore, SpooledFile

from .conftest import Api, make_jpeg, running_api
from .movement_fakes import FakeClipAnalyzer, upload, wait_job

MiB = 1024 * 1024


@pytest.fixture
def fake() -> FakeClipAnalyzer:
    return FakeClipAnalyzer()


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the multipart parser spools parts past 1 MB (`tempfile`'s directory), watched by the test."""
    directory = tmp_path / "spool"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def _clip_bytes(size: int, seed: int) -> bytes:
    """A clip-sized body with an MP4 `ftyp` box first, different in every chunk (so a chunk written twice
    or out of order would change the hash)."""
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    return (head + _pseudo(size, seed))[:size]


def _pseudo(size: int, seed: int) -> bytes:
    out, counter = bytearray(), 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest() * 64
        counter += 1
    return bytes(out[:size])


def _clip_files(store: FileStore) -> list[str]:
    return sorted(f.digest for f in store.list() if f.kind is FileKind.CLIP)


@pytest.mark.both_storages
def test_a_large_clip_is_stored_byte_identical_under_its_sha256(
    api: Api, fake: FakeClipAnalyzer, spool_dir: Path
):
    data = _clip_bytes(9 * MiB + 12345, seed=23)  # well past the parser's 1 MB spool threshold
    digest = hashlib.sha256(data).hexdigest()
    subject = api.subject()
    response = upload(api, subject, data, filename="big.mp4", test="lunge")
    assert response.status_code == 202, response.text
    job = wait_job(api, response.json()["job"]["id"], timeout_s=120)
    assert job["status"] == "done", job
    assert _clip_files(api.store) == [digest]
    assert api.store.hash_of(FileKind.CLIP, digest) == digest
    assert api.store.read(FileKind.CLIP, digest) == data
    download = api.store.open(FileKind.CLIP, digest, body=False)
    assert download is not None and download.size == len(data)
    # The worker read the same bytes (the fake analyses what it reads from the path it is given).
    assert fake.clip_calls == 1
    # No spooled copy outlives the request, and no half-written file is left in a local store.
    assert list(spool_dir.iterdir()) == []
    if isinstance(api.store, LocalFileStore):
        assert not [p for p in api.stored_files() if p.name.startswith(".tmp-")]

    # The same clip again (another subject): stored once, still whole.
    again = upload(api, api.subject("Other"), data, filename="again.mp4")
    assert (
        again.status_code == 202
        and wait_job(api, again.json()["job"]["id"], timeout_s=120)["status"] == "done"
    )
    assert _clip_files(api.store) == [digest] and api.store.hash_of(FileKind.CLIP, digest) == digest


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, 3 * CHUNK_BYTES + 7])
def test_a_spooled_file_is_measured_and_copied_exactly(tmp_path: Path, size: int):
    data = _pseudo(size, seed=size)
    with tempfile.SpooledTemporaryFile(max_size=1024) as spooled:
        spooled.write(data)
        source = SpooledFile.measure(spooled)  # wherever the parser left the position
        assert (source.size, source.digest) == (len(data), hashlib.sha256(data).hexdigest())
        store = LocalFileStore(tmp_path / "files")
        assert store.put_file(FileKind.CLIP, source) == source.digest
        assert store.read(FileKind.CLIP, source.digest) == data


class _Reads(io.BytesIO):
    """A file that records the largest read asked of it."""

    largest = 0

    def read(self, size: int | None = -1) -> bytes:
        asked = len(self.getbuffer()) if size is None or size < 0 else size
        self.largest = max(self.largest, asked)
        return super().read(size)


@pytest.mark.both_storages
def test_the_store_reads_a_clip_in_pieces_never_whole(api: Api):
    """Both stores copy from the spooled file in bounded reads (botocore signs and sends a file body
    in pieces of at most 1 MiB), so the server's memory per upload does not grow with the clip."""
    data = _pseudo(6 * MiB, seed=6)
    source_file = _Reads(data)
    source = SpooledFile.measure(source_file)
    assert api.store.put_file(FileKind.CLIP, source) == hashlib.sha256(data).hexdigest()
    assert api.store.read(FileKind.CLIP, source.digest) == data
    assert 0 < source_file.largest <= MiB < len(data)


@pytest.mark.parametrize("backend", ["files", "s3"])
def test_an_over_limit_clip_leaves_no_file_behind(
    database: Database, tmp_path: Path, spool_dir: Path, backend: str, request: pytest.FixtureRequest
):
    storage = request.getfixturevalue("bucket_url") if backend == "s3" else ""
    analyzer = FakeClipAnalyzer()
    limits: dict[str, Any] = {"max_clip_bytes": 2 * MiB, "storage_url": storage}
    with running_api(database, tmp_path / "data", analyzer, **limits) as api:
        subject = api.subject()
        # Past the spool threshold before the limit stops the body: the parser had a file on disk.
        response = upload(api, subject, _clip_bytes(3 * MiB, seed=3), filename="huge.mp4")
        assert response.status_code == 413 and response.json()["code"] == "request_too_large"
        assert "clip" in response.json()["message"]
        assert analyzer.clip_calls == 0 and api.stored_files() == []
        assert api.get(f"/api/v1/subjects/{subject}/movements").json()["total"] == 0
        assert list(spool_dir.iterdir()) == []
        # Within the limit, the same server stores it whole.
        fits = _clip_bytes(2 * MiB - 4096, seed=4)
        accepted = upload(api, subject, fits, filename="fits.mp4")
        assert (
            accepted.status_code == 202
            and wait_job(api, accepted.json()["job"]["id"], timeout_s=120)["status"] == "done"
        )
        assert _clip_files(api.store) == [hashlib.sha256(fits).hexdigest()]


def test_the_clip_route_never_reads_the_part_whole(
    api: Api, fake: FakeClipAnalyzer, monkeypatch: pytest.MonkeyPatch
):
    """A regression guard for the memory bound: `UploadFile.read` (one `bytes` of the whole part) is
    not called on the clip route; a photo upload still reads its part whole, as documented."""
    calls: list[str] = []
    real_read = UploadFile.read

    async def read(self: UploadFile, size: int = -1) -> bytes:
        calls.append(self.filename or "")
        return await real_read(self, size)

    monkeypatch.setattr(UploadFile, "read", read)
    data = _clip_bytes(3 * MiB, seed=9)
    response = upload(api, api.subject(), data, filename="guard.mp4")
    assert (
        response.status_code == 202
        and wait_job(api, response.json()["job"]["id"], timeout_s=120)["status"] == "done"
    )
    assert calls == []
    assert api.store.read(FileKind.CLIP, hashlib.sha256(data).hexdigest()) == data
    assert api.upload(api.subject("Photo"), make_jpeg(9)).status_code == 201
    assert calls == ["photo.jpg"]
