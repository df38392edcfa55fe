"""Batch scoring: inputs, rows, resume, interruption, the process pool and the Ray engine.

Real inference throughout; photos are the committed samples, copied into temporary folders. Distinct
copies of one photo get a few trailing bytes (ignored by the JPEG decoder) so their content hashes
differ and resume does not treat them as the same photo.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

import posture
from app.cli import main
from posture.batch import CSV_COLUMNS, BatchItem, RunStats, discover, flatten_analysis, score
from posture.batch.inputs import BatchInputError, read_manifest, subject_rule
from posture.batch.local import ProcessPool
from posture.batch.output import open_writer
from posture.batch.progress import Progress
from posture.measures import MEASURE_NAMES

from . import batch_helpers
from .conftest import BAD, ROOT, SAMPLES

CROP = SAMPLES / "walk_side_crop_f0128.jpg"
WALK = SAMPLES / "walk_side_f0128.jpg"


def _copy(src: Path, dst: Path, variant: int = 0) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(src.read_bytes() + (f"\0copy {variant}".encode() if variant else b""))
    return dst


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Good photos at two depths, every bad sample, and files a folder search must ignore."""
    root = tmp_path_factory.mktemp("mixed")
    _copy(CROP, root / "crop.jpg")
    _copy(WALK, root / "clients" / "alice" / "walk.JPG")
    for bad in sorted(BAD.iterdir()):
        _copy(bad, root / "clients" / "bad" / "nested" / bad.name)
    (root / "notes.txt").write_text("not a photo")
    _copy(CROP, root / ".hidden.jpg", variant=1)
    _copy(CROP, root / ".cache" / "thumb.jpg", variant=2)
    return root


@pytest.fixture(scope="module")
def mixed_run(mixed: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One CLI run over the mixed folder plus a missing path, with subjects and overlays."""
    out_dir = tmp_path_factory.mktemp("mixed-out")
    out = out_dir / "results.csv"
    missing = mixed / "gone.jpg"
    code = main(
        [
            "batch",
            str(mixed),
            str(missing),
            "--out",
            str(out),
            "--workers",
            "2",
            "--subject-from",
            "folder",
            "--overlay",
            str(out_dir / "overlays"),
            "--progress",
            "none",
        ]
    )
    header, rows = _read_csv(out)
    return {"code": code, "out": out, "header": header, "rows": rows, "dir": out_dir, "missing": missing}


# --- inputs -----------------------------------------------------------------------------------------


def test_discover_walks_folders_in_order_and_keeps_only_photos(mixed):
    items = discover([mixed, mixed / "crop.jpg", mixed / "nope.jpg"])
    rel = [Path(i.source).relative_to(mixed).as_posix() for i in items]
    assert rel == [
        "crop.jpg",
        "clients/alice/walk.JPG",
        *(f"clients/bad/nested/{p.name}" for p in sorted(BAD.iterdir())),
        "nope.jpg",  # named explicitly: kept, and rejected later as unreadable
    ]


def test_subject_rules(mixed):
    walk = BatchItem(mixed / "clients" / "alice" / "walk.JPG", "clients/alice/walk.JPG")
    assert subject_rule("folder")(walk) == "alice"
    assert subject_rule(r"regex:clients/(\w+)/")(walk) == "alice"
    assert subject_rule(r"regex:(?P<subject>[a-z]+)/walk")(walk) == "alice"
    assert subject_rule(r"regex:nomatch/(\w+)")(walk) is None
    with pytest.raises(BatchInputError, match="regular expression"):
        subject_rule("regex:(")
    with pytest.raises(BatchInputError, match="folder"):
        subject_rule("filename")


def test_manifest_paths_subjects_and_times(tmp_path):
    _copy(CROP, tmp_path / "photos" / "a.jpg")
    manifest = tmp_path / "list.csv"
    manifest.write_text(
        "\ufeffPath,Subject,taken_at,comment\n"
        "photos/a.jpg,Ann,2024-03-01,first\n"
        f"{tmp_path / 'photos'},Bo,2024-03-02T08:30:00+01:00,folder row\n"
        "photos/missing.jpg,,,\n",
        encoding="utf-8",
    )
    items = list(read_manifest(manifest))
    assert [(Path(i.source).name, i.subject) for i in items] == [
        ("a.jpg", "Ann"),
        ("a.jpg", "Bo"),
        ("missing.jpg", None),
    ]
    assert items[0].taken_at == datetime(2024, 3, 1)
    assert items[1].taken_at is not None and items[1].taken_at.utcoffset().total_seconds() == 3600
    # The same file named twice is scored once: the first naming (and its subject) wins.
    assert [i.subject for i in discover([manifest])] == ["Ann", None]


@pytest.mark.parametrize(
    ("text", "message"),
    [("file,subject\na.jpg,x\n", "no 'path' column"), ("path,taken_at\na.jpg,yesterday\n", "ISO 8601")],
)
def test_bad_manifest_is_a_usage_error(tmp_path, text, message):
    manifest = tmp_path / "m.csv"
    manifest.write_text(text)
    with pytest.raises(BatchInputError, match=message):
        discover([manifest])
    assert main(["batch", str(manifest), "--out", str(tmp_path / "r.csv")]) == 2


# --- rows and files ---------------------------------------------------------------------------------


def test_flat_row_names_follow_the_analysis(side_results):
    analysis = side_results["walk_side_crop_f0128.jpg"]
    row = flatten_analysis(analysis, sha256="ab" * 32, subject="ann")
    assert tuple(row) == CSV_COLUMNS
    assert all(row[name] == analysis.measures[name] for name in MEASURE_NAMES)
    assert (
        row["score_overall"] == analysis.scores["overall"]
        and row["band_overall"] == analysis.bands["overall"]
    )
    assert (row["image_width"], row["package"], row["model_sha256"]) == (
        analysis.image.width,
        analysis.versions.package,
        analysis.versions.model_sha256,
    )
    # The dict form (a JSONL line, a stored document) flattens to the same row.
    record = {**analysis.to_dict(), "sha256": "ab" * 32, "subject": "ann"}
    assert flatten_analysis(record) == row


class _Row:
    def __init__(self, row: dict) -> None:
        self._row = row

    def row(self) -> dict:
        return self._row

    def record(self) -> dict:
        return self._row


def test_csv_writer_resumes_and_trims_a_cut_row(tmp_path):
    out = tmp_path / "r.csv"
    writer = open_writer(out)
    blank = dict.fromkeys(CSV_COLUMNS)
    writer.write(_Row({**blank, "source": "a.jpg", "sha256": "1" * 64}))
    writer.write(_Row({**blank, "source": "gone.jpg"}))
    writer.write(_Row({**blank, "source": "=cmd().jpg", "error_message": "-1 is not a photo"}))
    writer.close()
    with out.open("a") as f:
        f.write("c.jpg," + "2" * 64 + ",ann")  # a row cut short by a hard kill
    writer = open_writer(out)
    assert writer.done == {"1" * 64, "source:gone.jpg", "source:=cmd().jpg"}
    writer.close()
    header, rows = _read_csv(out)
    assert tuple(header) == CSV_COLUMNS and len(rows) == 3
    # Formula-like text is kept as text for spreadsheets.
    assert (rows[2]["source"], rows[2]["error_message"]) == ("'=cmd().jpg", "'-1 is not a photo")


def test_output_with_other_columns_is_refused(tmp_path):
    out = tmp_path / "r.csv"
    out.write_text("source,status\na.jpg,ok\n")
    with pytest.raises(BatchInputError, match="different columns"):
        open_writer(out)
    with pytest.raises(BatchInputError, match=r"\.csv or \.jsonl"):
        open_writer(tmp_path / "r.xlsx")


def test_plain_progress_lines_when_not_a_terminal(tmp_path):
    with (tmp_path / "log").open("w+") as stream:
        progress = Progress(10, stream=stream, interval_s=0.0)
        assert progress.mode == "lines"
        progress.skipped_one()
        progress.scored(ok=True)
        progress.scored(ok=False)
        progress.close()
        stream.seek(0)
        lines = stream.read().splitlines()
    assert lines[-1].startswith("posture batch: 2/9 photos, 1 rejected, 1 skipped,")
    assert "photos/s, ETA" in lines[-1]


# --- the CLI on a mixed folder ----------------------------------------------------------------------


def test_mixed_folder_gives_one_row_per_photo_with_the_analysis_numbers(mixed_run, mixed, model):
    assert mixed_run["code"] == 1  # some photos were rejected
    assert tuple(mixed_run["header"]) == CSV_COLUMNS
    rows = {Path(r["source"]).name: r for r in mixed_run["rows"]}
    assert sorted(rows) == sorted(["crop.jpg", "walk.JPG", "gone.jpg", *(p.name for p in BAD.iterdir())])
    for name, path in [("crop.jpg", mixed / "crop.jpg"), ("walk.JPG", mixed / "clients/alice/walk.JPG")]:
        row, expected = rows[name], posture.analyze(path, model=model)
        assert row["status"] == "ok" and expected.ok
        assert row["sha256"] and row["facing"] == expected.facing
        for measure in MEASURE_NAMES:
            value = expected.measures[measure]
            assert row[measure] == ("" if value is None else str(value)), measure
        assert int(row["score_overall"]) == expected.scores["overall"]
    assert rows["walk.JPG"]["subject"] == "alice" and rows["crop.jpg"]["subject"] == mixed.name
    for bad in BAD.iterdir():
        row, expected = rows[bad.name], posture.analyze(bad, model=model)
        assert (row["status"], row["error_code"]) == ("rejected", expected.error.code)
        assert row["error_message"] == expected.error.message and row["score_overall"] == ""
    gone = rows["gone.jpg"]
    assert (gone["status"], gone["error_code"], gone["sha256"]) == ("rejected", "unreadable_image", "")
    overlays = sorted(p.name for p in (mixed_run["dir"] / "overlays").iterdir())
    assert [n.split(".")[0] for n in overlays] == ["crop", "walk"]


def test_rerun_adds_nothing_and_starts_no_workers(mixed_run, mixed, capsys):
    started = time.monotonic()
    code = main(
        ["batch", str(mixed), str(mixed_run["missing"]), "--out", str(mixed_run["out"]), "--progress", "none"]
    )
    assert code == 0
    assert "scored 0 photos" in capsys.readouterr().err
    assert time.monotonic() - started < 5  # hashing only; loading models would take longer
    _, rows = _read_csv(mixed_run["out"])
    assert rows == mixed_run["rows"]


# --- library entry point, manifest, JSONL -----------------------------------------------------------


def test_score_with_a_manifest_writes_jsonl_records(tmp_path):
    _copy(CROP, tmp_path / "p" / "one.jpg")
    _copy(CROP, tmp_path / "p" / "same_bytes.jpg")
    _copy(BAD / "empty.jpg", tmp_path / "p" / "empty.jpg")
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,subject,taken_at\np/one.jpg,ann,2024-05-06T07:08:09\np/same_bytes.jpg,bo,\np/empty.jpg,ann,\n"
    )
    out = tmp_path / "r.jsonl"
    assert main(["batch", str(manifest), "--out", str(out), "--workers", "1", "--progress", "none"]) == 1
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [Path(r["source"]).name for r in records] == ["one.jpg", "empty.jpg"]  # same bytes: once
    first = records[0]
    assert set(first) == set(posture.analyze(CROP).to_dict()) | {"sha256", "subject", "taken_at"}
    assert (first["subject"], first["taken_at"], first["status"]) == ("ann", "2024-05-06T07:08:09", "ok")
    assert first["landmarks"] and first["measures"]["pelvic_tilt_deg"] is not None
    # Resuming a JSONL file works the same way.
    assert main(["batch", str(manifest), "--out", str(out), "--progress", "none"]) == 0
    assert len(out.read_text().splitlines()) == 2


def test_score_yields_in_order_and_reports_skips_and_memory(tmp_path):
    paths = [_copy(CROP, tmp_path / f"{i}.jpg", variant=i) for i in range(4)]
    skipped: list[BatchItem] = []
    stats = RunStats()
    first_hash = hashlib.sha256(paths[0].read_bytes()).hexdigest()
    results = list(
        score(paths, workers=2, skip={first_hash}, on_skip=skipped.append, stats=stats, max_pending=2)
    )
    assert [r.source for r in results] == [str(p) for p in paths[1:]]
    assert [i.source for i in skipped] == [str(paths[0])]
    assert all(r.analysis.ok for r in results)
    assert len({r.analysis.measures["pelvic_tilt_deg"] for r in results}) == 1  # same pixels
    assert (stats.scored, stats.skipped, stats.rejected) == (3, 1, 0)
    assert 1 <= len(stats.worker_peak_rss_mb) <= 2
    assert all(50 < mb < 4000 for mb in stats.worker_peak_rss_mb.values())


def test_damaged_model_fails_the_run_with_exit_code_3(tmp_path, monkeypatch):
    bad_model = tmp_path / "pose.task"
    bad_model.write_bytes(b"not a model")
    monkeypatch.setenv("POSTURE_MODEL_PATH", str(bad_model))
    _copy(CROP, tmp_path / "a.jpg")
    with pytest.raises(posture.ModelIntegrityError):
        list(score([tmp_path / "a.jpg"], workers=1))
    assert main(["batch", str(tmp_path / "a.jpg"), "--out", str(tmp_path / "r.csv"), "--workers", "1"]) == 3


# --- interruption -----------------------------------------------------------------------------------


def test_ctrl_c_leaves_a_valid_file_and_a_rerun_completes_it(tmp_path):
    photos = tmp_path / "photos"
    for i in range(16):
        _copy(CROP, photos / f"{i:02d}.jpg", variant=i + 1)
    out = tmp_path / "r.csv"
    command = [sys.executable, "-m", "posture.cli", "batch", str(photos), "--out", str(out), "--workers", "1"]
    # A new session, signalled as a whole, is what a terminal's Ctrl-C does to the driver and workers.
    proc = subprocess.Popen(
        command, cwd=ROOT, stderr=subprocess.PIPE, text=True, start_new_session=True, env=os.environ.copy()
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and len(out.read_text().splitlines()) >= 1 + 3:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be interrupted"
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert "XNNPACK" not in err and "W0000" not in err  # the workers' native start-up chatter is muted
    header, rows = _read_csv(out)
    assert tuple(header) == CSV_COLUMNS and 3 <= len(rows) < 16
    assert all(r["status"] == "ok" and r["rules"] for r in rows)  # every row complete

    assert main(["batch", str(photos), "--out", str(out), "--workers", "2", "--progress", "none"]) == 0
    _, rows = _read_csv(out)
    assert sorted(Path(r["source"]).name for r in rows) == [f"{i:02d}.jpg" for i in range(16)]
    assert len({r["sha256"] for r in rows}) == 16


# --- the process pool -------------------------------------------------------------------------------


def test_pool_keeps_order_bounds_pending_and_survives_a_crash():
    jobs = [("sleep", 0.2), ("sleep", 0.0), ("crash", 0), ("sleep", 0.05), ("raise", 0), ("sleep", 0.0)]
    jobs += [("sleep", 0.1), ("sleep", 0.0), ("sleep", 0.0)]
    pulled = 0

    def feed():
        nonlocal pulled
        for job in jobs:
            pulled += 1
            yield job

    out = []
    with ProcessPool(2, batch_helpers.init_state, "ok", batch_helpers.task) as pool:
        for result in pool.imap(feed(), on_failure=batch_helpers.on_failure, max_pending=3):
            assert pulled - len(out) <= 3
            out.append(result)
        assert pool.restarts == 1
    assert out == [0.2, 0.0, "crashed:crash", 0.05, "raised:raise", 0.0, 0.1, 0.0, 0.0]


@pytest.mark.parametrize(("arg", "error"), [("fail", ValueError), ("die", RuntimeError)])
def test_pool_reports_a_worker_that_cannot_start(arg, error):
    with pytest.raises(error), ProcessPool(1, batch_helpers.init_state, arg, batch_helpers.task) as pool:
        list(pool.imap([("sleep", 0.0)], on_failure=batch_helpers.on_failure))


# --- Ray ---------------------------------------------------------------------------------------------


def test_unreachable_ray_address_is_a_quick_usage_error(tmp_path, capsys):
    ray = pytest.importorskip("ray")
    if ray.is_initialized():  # pragma: no cover - an open connection would be used instead
        pytest.skip("Ray is already initialised in this process")
    _copy(CROP, tmp_path / "a.jpg")
    args = ["batch", str(tmp_path / "a.jpg"), "--out", str(tmp_path / "r.csv"), "--engine", "ray"]
    assert main([*args, "--address", "127.0.0.1:9", "--progress", "none"]) == 2
    assert "no Ray cluster answers at 127.0.0.1:9" in capsys.readouterr().err


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="error", configure_logging=False)
    yield ray
    ray.shutdown()


def test_ray_engine_gives_the_same_rows_as_the_local_pool(local_ray, mixed):
    inputs = [mixed / "crop.jpg", mixed / "clients" / "alice" / "walk.JPG", mixed / "clients" / "bad"]
    local = [r.row() for r in score(inputs, engine="local", workers=2, subject_from="folder")]
    remote = [r.row() for r in score(inputs, engine="ray", workers=2, subject_from="folder")]
    assert local_ray.is_initialized()  # a Ray the caller started is left running
    assert len(remote) == 7 and [r["status"] for r in remote].count("ok") == 2
    assert remote == local


def test_ray_is_imported_only_for_the_ray_engine():
    code = "import posture.batch, posture.cli, sys; print('ray' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == "False"


def test_cli_help_lists_the_batch_options(capsys):
    with pytest.raises(SystemExit):
        main(["batch", "--help"])
    text = capsys.readouterr().out
    for option in ("--out", "--workers", "--engine", "--address", "--store", "--subject-from", "--overlay"):
        assert option in text


# --- the history store ------------------------------------------------------------------------------


class _NoAnalyzer:
    """The API needs an analyzer object; reading the history never calls it."""

    state, detail = "ok", None

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    async def run(self, job):  # pragma: no cover - not reached by reads
        raise AssertionError("the history read analysed a photo")


def test_store_adds_accepted_photos_to_the_history_the_api_shows(tmp_path, monkeypatch):
    pytest.importorskip("app.storage.repository")
    from fastapi.testclient import TestClient

    from app.core.db import Database
    from app.core.settings import Settings
    from app.main import create_app
    from app.storage import repository

    monkeypatch.delenv("POSTURE_DATABASE_URL", raising=False)
    monkeypatch.delenv("POSTURE_DATA_DIR", raising=False)
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    db = Database(settings.sqlalchemy_url)
    db.migrate()
    with db.session() as session:
        _, key = repository.create_user(session, "coach")
    db.dispose()

    _copy(WALK, tmp_path / "p" / "walk.jpg")
    _copy(CROP, tmp_path / "p" / "crop.jpg")
    _copy(BAD / "truncated.jpg", tmp_path / "p" / "bad.jpg")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,subject,taken_at\np/walk.jpg,Ann,2024-05-06T07:08:09+02:00\np/bad.jpg,Ann,\n")
    out = tmp_path / "r.csv"
    args = ["batch", str(manifest), str(tmp_path / "p" / "crop.jpg"), "--out", str(out), "--progress", "none"]
    store = ["--store", "--data-dir", str(data), "--workers", "2"]

    # Every photo needs a subject before anything runs.
    assert main([*args, *store]) == 2 and not out.exists()
    started = datetime.now().astimezone()
    assert main([*args, *store, "--subject", "Bo"]) == 1  # bad.jpg is rejected
    _, rows = _read_csv(out)
    assert [(Path(r["source"]).name, r["subject"], r["status"]) for r in rows] == [
        ("walk.jpg", "Ann", "ok"),
        ("bad.jpg", "Ann", "rejected"),
        ("crop.jpg", "Bo", "ok"),
    ]

    app = create_app(Settings(data_dir=data), analyzer=_NoAnalyzer())
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:
        subjects = client.get("/api/v1/subjects").json()["items"]
        assert [(s["name"], s["analysis_count"]) for s in subjects] == [("Ann", 1), ("Bo", 1)]
        history = {
            s["name"]: client.get(f"/api/v1/subjects/{s['id']}/analyses").json()["items"] for s in subjects
        }
        ann, bo = history["Ann"][0], history["Bo"][0]
        assert ann["taken_at"].startswith("2024-05-06T05:08:09")  # the manifest's time, in UTC
        assert datetime.fromisoformat(bo["taken_at"].replace("Z", "+00:00")) >= started  # no EXIF: now
        for stored, row in [(ann, rows[0]), (bo, rows[2])]:
            assert stored["status"] == "ok" and stored["source"] == Path(row["source"]).name  # as uploads
            for measure in MEASURE_NAMES:
                value = stored["measures"][measure]
                assert row[measure] == ("" if value is None else str(value))
        photo = client.get(f"/api/v1/analyses/{ann['id']}/photo")
        overlay = client.get(f"/api/v1/analyses/{ann['id']}/overlay.png")
        assert photo.status_code == 200 and photo.content[:2] == b"\xff\xd8"
        assert overlay.status_code == 200 and overlay.content[:4] == b"\x89PNG"

    # Resuming stores nothing twice.
    assert main([*args, *store, "--subject", "Bo"]) == 0
    with TestClient(create_app(Settings(data_dir=data), analyzer=_NoAnalyzer())) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        assert [s["analysis_count"] for s in client.get("/api/v1/subjects").json()["items"]] == [1, 1]


def test_store_keeps_an_accepted_clip_as_a_movement_the_api_shows(tmp_path, monkeypatch):
    """`posture batch --store` with a real clip: the walk is not a lunge, so it is refused
    (`not_the_test`) and nothing is stored. An accepted clip's result (the library's analysis of a
    synthetic knee-to-wall lunge, tests/synthetic_clip.py: no licensed lunge clip exists) becomes a
    movement of its subject, with its deepest frame, as an uploaded clip's job does."""
    from fastapi.testclient import TestClient

    from app.core.db import Database
    from app.core.settings import Settings
    from app.main import create_app
    from app.services.batch_store import HistoryStore
    from app.storage import repository
    from posture import ClipOptions, analyze_clip
    from posture.batch.score import BatchResult

    from .synthetic_clip import FakeVideoModel, Movement, write_clip

    monkeypatch.delenv("POSTURE_DATABASE_URL", raising=False)
    monkeypatch.delenv("POSTURE_DATA_DIR", raising=False)
    data = tmp_path / "data"
    db = Database(Settings(data_dir=data).sqlalchemy_url)
    db.migrate()
    with db.session() as session:
        _, key = repository.create_user(session, "coach")
    db.dispose()
    _copy(SAMPLES / "clips" / "walk_side.mp4", tmp_path / "in" / "Cy" / "walk.mp4")
    out = tmp_path / "r.csv"
    args = ["batch", str(tmp_path / "in"), "--out", str(out), "--progress", "none", "--test", "lunge"]
    store = ["--store", "--data-dir", str(data), "--workers", "1", "--subject-from", "folder"]
    assert main([*args, *store]) == 1  # refused
    _, rows = _read_csv(tmp_path / "r.clips.csv")
    assert [(Path(r["source"]).name, r["status"], r["error_code"]) for r in rows] == [
        ("walk.mp4", "rejected", "not_the_test")
    ]

    lunge = Movement(lunge=True, shin_peak_deg=40.0, thigh_peak_deg=30.0, trunk_peak_deg=5.0)
    path = write_clip(tmp_path / "knee_to_wall.mp4", lunge)
    options = ClipOptions(test="lunge", overlay=True, level="off")
    analysis = analyze_clip(path, options, model=FakeVideoModel(lunge))
    assert analysis.ok, analysis.error
    history = HistoryStore(data)
    try:
        item = BatchItem(path=path, source=str(path), subject="Cy")
        assert history.add(BatchResult(item=item, sha256=None, analysis=analysis))
    finally:
        history.close()

    with TestClient(create_app(Settings(data_dir=data), analyzer=_NoAnalyzer())) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        [subject] = client.get("/api/v1/subjects").json()["items"]
        assert subject["name"] == "Cy"
        [movement] = client.get(f"/api/v1/subjects/{subject['id']}/movements").json()["items"]
        assert movement["test"] == "lunge" and movement["source"] == path.name
        assert movement["reps"] == len(analysis.reps) == lunge.reps
        deepest = client.get(f"/api/v1/movements/{movement['id']}/deepest.png")
        assert deepest.status_code == 200 and deepest.content[:4] == b"\x89PNG"
