"""`posture storage migrate` between the filesystem and S3 (a real moto server process), and
`posture storage sweep`, on the command line in-process against this run's database."""

from __future__ import annotations

import pytest

from app.cli import main
from app.storage.files import FileKind, LocalFileStore, open_store, sha256_hex

from .conftest import Api, FakeAnalyzer, make_jpeg, running_api
from .s3_server import bucket_keys


@pytest.fixture
def posture(api: Api, monkeypatch, capsys):
    """Run `posture ARGS... --data-dir DIR` against the api's database: (exit code, stdout, stderr)."""
    monkeypatch.setenv("POSTURE_DATABASE_URL", api.database.url)
    monkeypatch.delenv("POSTURE_STORAGE_URL", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--data-dir", str(api.data_dir)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _history(api: Api, count: int, seed: int) -> list[str]:
    sid = api.subject()
    return [api.upload(sid, make_jpeg(seed + i)).json()["id"] for i in range(count)]


def test_migrate_to_a_bucket_copies_verifies_and_resumes(api: Api, posture, bucket_url, tmp_path):
    ids = _history(api, 3, seed=6060)
    local = {sha256_hex(p.read_bytes()) for p in api.stored_files()}
    code, out, err = posture("storage", "migrate", "--to", bucket_url)
    assert code == 0, err
    assert "6 files: 6 copied, 0 already there" in out and "Nothing was switched" in out
    bucket = open_store(bucket_url)
    assert {f.digest for f in bucket.list()} == local
    assert all(bucket.hash_of(f.kind, f.digest) == f.digest for f in bucket.list())
    assert len(api.stored_files()) == 6  # the source is untouched

    # An interrupted run (two files never arrived) and a damaged copy: a second run mends exactly those.
    listed = sorted(bucket.list(), key=lambda f: f.digest)
    bucket.delete(listed[0].kind, listed[0].digest)
    bucket.delete(listed[1].kind, listed[1].digest)
    bucket._client.put_object(
        Bucket=bucket.bucket, Key=bucket.key(listed[2].kind, listed[2].digest), Body=b"torn"
    )
    code, out, _ = posture("storage", "migrate", "--to", bucket_url)
    assert code == 0 and "6 files: 3 copied, 3 already there and verified, 0 failed" in out
    assert all(bucket.hash_of(f.kind, f.digest) == f.digest for f in bucket.list())
    code, out, _ = posture("storage", "migrate", "--to", bucket_url)  # idempotent
    assert code == 0 and "0 copied, 6 already there" in out

    # The switch-over: a server on the bucket serves the same history, byte for byte.
    photo = api.get(f"/api/v1/analyses/{ids[0]}/photo").content
    with running_api(api.database, tmp_path / "other", FakeAnalyzer(), storage_url=bucket_url) as moved:
        moved.key = api.key
        response = moved.get(f"/api/v1/analyses/{ids[0]}/photo")
        assert response.status_code == 200 and response.content == photo
        assert not (tmp_path / "other" / "files").exists()  # nothing written to the new server's disk
    bucket.close()


def test_migrate_from_a_bucket_back_to_a_directory(database, tmp_path, fake, bucket_url, monkeypatch, capsys):
    with running_api(database, tmp_path / "data", fake, storage_url=bucket_url) as api:
        _history(api, 2, seed=6070)
    assert len(bucket_keys(bucket_url)) == 4
    monkeypatch.setenv("POSTURE_DATABASE_URL", database.url)
    monkeypatch.setenv("POSTURE_STORAGE_URL", bucket_url)
    target = tmp_path / "disk"
    assert main(["storage", "migrate", "--to", str(target), "--data-dir", str(tmp_path / "data")]) == 0
    assert "4 copied" in capsys.readouterr().out
    copied = LocalFileStore(target)
    assert sorted(f.digest for f in copied.list()) == sorted(
        k.rsplit("/", 1)[1][:64] for k in bucket_keys(bucket_url)
    )


def test_migrate_refuses_to_copy_a_damaged_source_file(api: Api, posture, bucket_url):
    _history(api, 1, seed=6080)
    photo = next(p for p in api.stored_files() if p.suffix == ".jpg")
    photo.write_bytes(b"bit rot")  # same name, other bytes
    code, out, err = posture("storage", "migrate", "--to", bucket_url)
    assert code == 1 and "do not match their hash (not copied)" in err and "1 failed" in out
    assert [k for k in bucket_keys(bucket_url) if k.endswith(".jpg")] == []


def test_migrate_refuses_the_store_in_use(api: Api, posture):
    code, _, err = posture("storage", "migrate", "--to", str(api.data_dir / "files"))
    assert code == 2 and "in use already" in err
    code, _, err = posture("storage", "migrate", "--to", "ftp://example.org/x")
    assert code == 2 and "unsupported storage URL" in err


def test_sweep_command_removes_unreferenced_files_after_the_grace(api: Api, posture):
    [kept] = _history(api, 1, seed=6090)
    orphan = api.store.put(FileKind.PHOTO, b"left by a crashed upload")
    code, out, _ = posture("storage", "sweep")  # default grace: an hour
    assert code == 0 and "0 unreferenced removed" in out and api.store.exists(FileKind.PHOTO, orphan)
    code, out, _ = posture("storage", "sweep", "--grace", "0")
    assert code == 0 and "checked 3 stored files: 1 unreferenced removed" in out
    assert not api.store.exists(FileKind.PHOTO, orphan)
    assert api.get(f"/api/v1/analyses/{kept}/photo").status_code == 200
    code, _, err = posture("storage", "sweep", "--grace", "-1")
    assert code == 2 and "--grace" in err


def test_head_on_a_stored_file_in_a_bucket_reads_only_its_metadata(database, tmp_path, fake, bucket_url):
    """HEAD answers what GET would (status, length, type, ETag) from the object's metadata: the only
    request to the bucket is a HeadObject, so nothing of the photo is transferred."""
    with running_api(database, tmp_path / "data", fake, storage_url=bucket_url) as api:
        aid = _history(api, 1, seed=6100)[0]
        calls: list[str] = []
        api.client.app.state.store._client.meta.events.register(
            "before-call.s3", lambda model, **_: calls.append(model.name)
        )
        for path, kind in (("photo", FileKind.PHOTO), ("overlay.png", FileKind.OVERLAY)):
            url = f"/api/v1/analyses/{aid}/{path}"
            get = api.get(url)
            assert get.status_code == 200 and calls == ["GetObject"]
            calls.clear()
            head = api.request("HEAD", url)
            assert head.status_code == 200 and head.content == b"" and calls == ["HeadObject"]
            for header in ("content-length", "content-type", "etag", "cache-control"):
                assert head.headers[header] == get.headers[header], header
            assert head.headers["content-length"] == str(len(get.content))
            calls.clear()
            # Gone from the bucket behind the server's back: HEAD says so as GET does.
            api.store.delete(kind, sha256_hex(get.content))
            for method in ("HEAD", "GET"):
                missing = api.request(method, url)
                assert missing.status_code == 404, method
            assert api.get(url).json()["code"] == f"{path.split('.')[0]}_missing"
            calls.clear()
