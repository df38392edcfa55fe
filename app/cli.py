"""The installed `posture` command: the library's commands (`analyze`, `batch`) and the service's
(`serve`, `users`, `storage`), assembled here, where both the library and the service are visible.

The batch command gets the service's history store as its `--store` sink (`app.services.batch_store`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from posture import cli as library_cli
from posture.batch.output import ResultSink
from posture.cli_args import add_verbose_argument

if TYPE_CHECKING:
    from app.storage.models import User

_UsersHandler = Callable[[argparse.Namespace, Session], int]
_Argument = tuple[tuple[str, ...], dict[str, Any]]
"""An argument of a `users` command: `add_argument`'s flags and options."""


def main(argv: Sequence[str] | None = None) -> int:
    return library_cli.main(argv, build_parser())


def build_parser() -> argparse.ArgumentParser:
    return library_cli.build_parser(register, store=_open_store)


def _open_store(data_dir: Path | None, user: str | None) -> ResultSink:
    from app.services.batch_store import HistoryStore

    return HistoryStore(data_dir, user)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `serve` and `users` to the `posture` command."""
    serve = sub.add_parser(
        "serve",
        help="run the HTTP API (and the page) with uvicorn",
        description="Run the HTTP API. Settings come from POSTURE_* environment variables "
        "(see docs/api.md); the options below override them.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--data-dir", type=Path, help="photos, overlays and the SQLite database (POSTURE_DATA_DIR)"
    )
    serve.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="photos analysed in parallel, each worker with its own model (POSTURE_INFERENCE_WORKERS; "
        "default: one per CPU)",
    )
    serve.add_argument(
        "--clip-workers",
        type=int,
        metavar="N",
        help="movement clips analysed in parallel, on workers apart from the photos' (POSTURE_CLIP_WORKERS; "
        "default 1)",
    )
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.add_argument(
        "--ssl-certfile",
        type=Path,
        metavar="PEM",
        help="serve HTTPS with this certificate (with --ssl-keyfile): a phone's browser opens the camera "
        "only on https or localhost (docs/page.md has a one-line local certificate)",
    )
    serve.add_argument("--ssl-keyfile", type=Path, metavar="PEM", help="the certificate's private key")
    add_verbose_argument(serve)  # the model's native logs, in the server and its workers
    serve.set_defaults(func=_serve)

    users = sub.add_parser("users", help="manage accounts and API keys")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    account: _Argument = (("name",), {"help": "the account's name"})
    commands: tuple[tuple[str, str, _UsersHandler, tuple[_Argument, ...]], ...] = (
        ("create", "create an account; prints its API key on the last line", _users_create, (account,)),
        ("key", "issue another API key for an existing account", _users_key, (account,)),
        ("list", "list accounts", _users_list, ()),
        ("keys", "list an account's API keys: id, prefix, created, last used", _users_keys, (account,)),
        (
            "revoke",
            "revoke an API key: it answers 401 from the next request on, on every server",
            _users_revoke,
            ((("key_id",), {"help": "the key's id or its prefix pp_<16 hex> (`posture users keys NAME`)"}),),
        ),
        (
            "delete",
            "delete an account: its keys, subjects, analyses and stored files",
            _users_delete,
            (account, (("--yes",), {"action": "store_true", "help": "do not ask for confirmation"})),
        ),
    )
    for name, text, handler, arguments in commands:
        command = users_sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        for flags, options in arguments:
            command.add_argument(*flags, **options)
        command.add_argument("--data-dir", type=Path, help="as for `posture serve` (POSTURE_DATA_DIR)")
        command.set_defaults(func=_with_session(handler))

    _register_storage(sub)
    _register_history(sub)
    _register_report(sub)
    _register_programme(sub)


def _settings(args: argparse.Namespace, **overrides: Any) -> Any:
    from app.core.settings import Settings

    if getattr(args, "data_dir", None) is not None:
        overrides["data_dir"] = args.data_dir
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _serve(args: argparse.Namespace) -> int:
    import uvicorn
    from pydantic import ValidationError

    from app.api.server import TlsError, tls_options, uvicorn_options
    from app.main import create_app

    try:
        settings = _settings(args, inference_workers=args.workers, clip_workers=args.clip_workers)
    except ValidationError as exc:
        print(
            f"posture serve: invalid setting: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}",
            file=sys.stderr,
        )
        return 2
    try:
        tls = tls_options(args.ssl_certfile, args.ssl_keyfile)
    except TlsError as exc:
        print(f"posture serve: {exc}", file=sys.stderr)
        return 2
    app = create_app(settings)
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    data = f" --data-dir {settings.data_dir}" if args.data_dir else ""
    # As the user ran it: `.venv/bin/posture` under `make serve`.
    command = sys.argv[0] if Path(sys.argv[0]).name == "posture" else "posture"
    scheme = "https" if tls else "http"
    # Listening on every interface: other devices use this computer's address on the network.
    elsewhere = " (and at this computer's network address)" if args.host in ("0.0.0.0", "::") else ""
    print(
        f"posture-profile on {scheme}://{shown}:{args.port}/{elsewhere} (API docs at /docs)\n"
        f"Data in {settings.data_dir.resolve()}\n"
        f"Create an API key with:  {command} users create NAME{data}",
        flush=True,
    )
    # Bounded connections, header and keep-alive times (the body's time is bounded in the app).
    uvicorn.run(
        app, host=args.host, port=args.port, log_level=args.log_level, **uvicorn_options(settings), **tls
    )
    return 0


def _with_session(
    handler: Callable[[argparse.Namespace, Session], int],
) -> Callable[[argparse.Namespace], int]:
    """A `users` handler run in one session of the migrated database the settings name."""

    def run(args: argparse.Namespace) -> int:
        with _session(args) as session:
            try:
                return handler(args, session)
            except _CommandFailed as failed:
                return failed.status

    return run


class _CommandFailed(Exception):
    """A `users` command ends here with this exit status (its message printed already)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _account_or_exit(session: Session, name: str, command: str) -> User:
    """The account named `name`; if there is none, say so and end `posture users COMMAND` with 1."""
    from app.storage import repository

    user = repository.user_by_name(session, name)
    if user is None:
        print(f"posture users {command}: no account named {name!r}.", file=sys.stderr)
        raise _CommandFailed(1)
    return user


@contextmanager
def _session(args: argparse.Namespace) -> Iterator[Session]:
    from app.core.db import Database

    db = Database(_settings(args).sqlalchemy_url)
    try:
        db.migrate()
        with db.session() as session:
            yield session
    finally:
        db.dispose()


def _users_create(args: argparse.Namespace, session: Session) -> int:
    from app.schemas import SubjectCreate
    from app.storage import repository

    try:  # the same rules as a subject's name: printable, at most 200 characters
        name = SubjectCreate(name=args.name).name
    except ValueError:
        print("posture users create: the name must be 1–200 printable characters.", file=sys.stderr)
        return 2
    try:
        user, key = repository.create_user(session, name)
    except repository.UserExists:
        print(
            f"posture users create: an account named {name!r} exists; "
            f"`posture users key {name}` issues it another key.",
            file=sys.stderr,
        )
        return 1
    print(f"Created account {user.name!r} ({user.id}). Its API key (shown once, keep it secret):")
    print(key)
    return 0


def _users_key(args: argparse.Namespace, session: Session) -> int:
    from app.storage import repository

    user = _account_or_exit(session, args.name, "key")
    key = repository.issue_key(session, user)
    print(f"New API key for {user.name!r} (shown once, keep it secret; older keys stay valid until revoked):")
    print(key)
    return 0


def _users_list(args: argparse.Namespace, session: Session) -> int:
    from app.storage import repository

    for user, n_keys in repository.list_users(session):
        print(f"{user.name}\t{n_keys} key{'s' if n_keys != 1 else ''}\tcreated {user.created_at:%Y-%m-%d}")
    return 0


def _users_keys(args: argparse.Namespace, session: Session) -> int:
    from app.storage import repository

    user = _account_or_exit(session, args.name, "keys")
    print("id\tprefix\tcreated\tlast used\tstate")
    for key in repository.list_keys(session, user):
        state = "valid" if key.revoked_at is None else f"revoked {_when(key.revoked_at)}"
        last_used = _when(key.last_used_at) if key.last_used_at else "never"
        print(f"{key.id}\tpp_{key.lookup}\t{_when(key.created_at)}\t{last_used}\t{state}")
    return 0


def _users_revoke(args: argparse.Namespace, session: Session) -> int:
    from app.storage import repository

    found = repository.revoke_key(session, args.key_id)
    if found is None:
        print(
            f"posture users revoke: no key with the id or prefix {args.key_id!r} "
            "(`posture users keys NAME` lists them).",
            file=sys.stderr,
        )
        return 1
    key, revoked_now = found
    if not revoked_now:
        print(f"Key pp_{key.lookup} of {key.user.name!r} was already revoked ({_when(key.revoked_at)}).")
        return 0
    print(f"Revoked key pp_{key.lookup} of {key.user.name!r}: it is refused from the next request on.")
    return 0


def _users_delete(args: argparse.Namespace, session: Session) -> int:
    from app.storage import repository
    from app.storage.files import open_store

    user = _account_or_exit(session, args.name, "delete")
    if not args.yes:
        if not sys.stdin.isatty():
            print(
                "posture users delete: deleting an account cannot be undone and there is no terminal to "
                "confirm on; pass --yes to delete without asking.",
                file=sys.stderr,
            )
            return 2
        _, n_subjects = repository.list_subjects(session, user, 1, 0)
        session.commit()  # no transaction held while waiting for the answer
        prompt = (
            f"Delete account {user.name!r} with its {n_subjects} subject{'s' if n_subjects != 1 else ''}, "
            "their analyses, stored photos and overlays, and its keys? This cannot be undone.\n"
            "Type the account's name to confirm: "
        )
        try:
            answer = input(prompt)
        except (EOFError, KeyboardInterrupt):
            answer = ""
        if answer.strip() != user.name:
            print("Not deleted.", file=sys.stderr)
            return 1
    store = open_store(_settings(args).storage_location)
    try:
        deleted = repository.delete_account(session, store, user)
    finally:
        store.close()
    if deleted is None:
        print(f"posture users delete: the account {args.name!r} was deleted meanwhile.", file=sys.stderr)
        return 1
    print(
        f"Deleted account {args.name!r}: {deleted.subjects} subjects, {deleted.analyses} analyses, "
        f"{deleted.files} stored files, and its keys."
    )
    return 0


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


# --- posture storage -------------------------------------------------------------------------------


def _register_storage(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    storage = sub.add_parser(
        "storage",
        help="stored photos and overlays: sweep, migrate to another store",
        description="The file store is POSTURE_STORAGE_URL (default: <data dir>/files): a directory, or "
        "s3://bucket/prefix with boto3's AWS_* variables for the endpoint and credentials.",
    )
    storage_sub = storage.add_subparsers(dest="storage_command", required=True)
    sweep = storage_sub.add_parser(
        "sweep",
        help="finish interrupted deletions and remove files no analysis references",
        description="Remove the files of deleted analyses that a crash or an unreachable store left, and "
        "stored files that no analysis references once older than the grace period. Safe while servers run.",
    )
    sweep.add_argument(
        "--grace",
        type=float,
        metavar="SECONDS",
        help="age an unreferenced file must reach before removal (POSTURE_SWEEP_GRACE_S; default 3600)",
    )
    migrate = storage_sub.add_parser(
        "migrate",
        help="copy every stored file to another store, verifying each hash",
        description="Copy every stored file from the configured store to URL and verify each copy's "
        "SHA-256. Resumable and idempotent (verified copies are skipped); switches nothing: see "
        "docs/api.md for the switch-over steps.",
    )
    migrate.add_argument("--to", required=True, metavar="URL", help="a directory or s3://bucket/prefix")
    migrate.add_argument(
        "--jobs", type=int, default=8, metavar="N", help="files copied at a time (default 8)"
    )
    for command, handler in ((sweep, _storage_sweep), (migrate, _storage_migrate)):
        command.add_argument("--data-dir", type=Path, help="as for `posture serve` (POSTURE_DATA_DIR)")
        command.set_defaults(func=_with_session(handler))


def _storage_sweep(args: argparse.Namespace, session: Session) -> int:
    from app.storage.files import open_store
    from app.storage.sweep import sweep

    settings = _settings(args)
    grace_s = settings.sweep_grace_s if args.grace is None else args.grace
    if grace_s < 0:
        print("posture storage sweep: --grace must be ≥ 0.", file=sys.stderr)
        return 2
    store = open_store(settings.storage_location)
    try:
        report = sweep(session, store, grace_s)
    finally:
        store.close()
    print(f"Swept {store.url}: {report.summary()}")
    return 1 if report.failures else 0


def _storage_migrate(args: argparse.Namespace, session: Session) -> int:
    from app.storage.files import LocalFileStore, open_store
    from app.storage.transfer import TransferReport, transfer

    settings = _settings(args)
    try:
        source, destination = open_store(settings.storage_location), open_store(args.to)
    except ValueError as exc:
        print(f"posture storage migrate: {exc}", file=sys.stderr)
        return 2

    def where(store: Any) -> str:
        return str(store.root.resolve()) if isinstance(store, LocalFileStore) else store.url

    if where(source) == where(destination):
        print(f"posture storage migrate: {args.to} is the store in use already.", file=sys.stderr)
        return 2
    if isinstance(destination, LocalFileStore):
        destination.root.mkdir(parents=True, exist_ok=True)

    def progress(report: TransferReport) -> None:
        done = report.copied + report.already_there + len(report.failed)
        print(f"  {done} of {report.listed}+ files …", file=sys.stderr, flush=True)

    print(f"Copying {source.url} to {destination.url} …", file=sys.stderr, flush=True)
    try:
        report = transfer(session, source, destination, jobs=args.jobs, progress=progress)
    finally:
        source.close()
        destination.close()
    for line in report.failed:
        print(f"failed: {line}", file=sys.stderr)
    for line in report.missing_at_source:
        print(f"missing at the source (referenced by an analysis): {line}", file=sys.stderr)
    print(
        f"{report.listed} files: {report.copied} copied, {report.already_there} already there and verified, "
        f"{len(report.failed)} failed; {report.referenced} referenced by analyses, "
        f"{len(report.missing_at_destination)} of them not yet copied, {len(report.missing_at_source)} "
        "missing at the source."
    )
    if not report.complete:
        print("Not complete: run the command again (it resumes).", file=sys.stderr)
        return 1
    print(f"Complete. Nothing was switched: set POSTURE_STORAGE_URL={args.to} to use it (docs/api.md).")
    return 0


# --- posture history --------------------------------------------------------------------------------


def _register_history(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    history = sub.add_parser(
        "history", help="maintain the stored histories: re-analyse with the current method"
    )
    history_sub = history.add_subparsers(dest="history_command", required=True)
    reanalyze = history_sub.add_parser(
        "reanalyze",
        help="re-run stored photos with the current model and rules",
        description="Re-run the stored photos of analyses not made by the current method (rules version and "
        "model) and replace each analysis (id, time and visit kept), one transaction each. Resumable: run "
        "it again after an interruption. Analyses without a stored photo keep their version, marked.",
    )
    which = reanalyze.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--subject", type=_uuid, action="append", metavar="ID", help="a subject id (repeatable)"
    )
    which.add_argument("--all", action="store_true", help="every subject of every account")
    reanalyze.add_argument(
        "--force", action="store_true", help="re-run every analysis, current method or not"
    )
    reanalyze.add_argument(
        "--progress",
        choices=["auto", "bar", "lines", "none"],
        default="auto",
        help="bar on a terminal (default)",
    )
    reanalyze.add_argument("--data-dir", type=Path, help="as for `posture serve` (POSTURE_DATA_DIR)")
    reanalyze.set_defaults(func=_history_reanalyze)


def _uuid(text: str) -> Any:
    import uuid

    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an id: {text!r}") from None


def _history_reanalyze(args: argparse.Namespace) -> int:
    from app.services import reanalysis
    from app.storage.files import open_store
    from app.storage.models import Subject
    from posture.worker import Worker, WorkerConfig

    settings = _settings(args)
    with _session(args) as session:
        if args.subject:
            known = set(session.scalars(_select_ids(Subject, args.subject)))
            unknown = [str(s) for s in args.subject if s not in known]
            if unknown:
                print(f"posture history reanalyze: no subject {', '.join(unknown)}.", file=sys.stderr)
                return 2
        store = open_store(settings.storage_location)
        workers: list[Worker] = []
        progress: list[_Progress] = []

        def run(job: Any) -> Any:
            if not workers:  # the model loads only when there is something to re-run
                workers.append(Worker(WorkerConfig(model=settings.model_options)))
            return workers[0].run(job)

        try:
            report = reanalysis.reanalyze(
                session,
                store,
                run,
                reanalysis.current_method(settings.model_options),
                args.subject,
                force=args.force,
                on_start=lambda total: progress.append(_Progress(total, args.progress)),
                on_done=lambda: progress[0].step(),
            )
        except KeyboardInterrupt:
            print("\nposture history reanalyze: interrupted; run it again to continue.", file=sys.stderr)
            return 130
        finally:
            for bar in progress:
                bar.close()
            for worker in workers:
                worker.close()
            store.close()
    print("\n".join(reanalysis.summary_lines(report)))
    return 0


def _select_ids(model: Any, ids: Any) -> Any:
    from sqlalchemy import select

    return select(model.id).where(model.id.in_(list(ids)))


class _Progress:
    """A tqdm bar on a terminal; otherwise a line every 10 seconds (logs, cron)."""

    def __init__(self, total: int, mode: str) -> None:
        import time

        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "lines"
        self.mode, self.total, self.done = mode, total, 0
        self._clock = time.monotonic
        self._last = self._clock()
        self._bar: Any = None
        if mode == "bar" and total:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="photo", file=sys.stderr, dynamic_ncols=True, desc="reanalyze")

    def step(self) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update(1)
        elif self.mode == "lines" and (self._clock() - self._last >= 10 or self.done == self.total):
            self._last = self._clock()
            print(
                f"posture history reanalyze: {self.done}/{self.total} analyses", file=sys.stderr, flush=True
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


# --- posture report ---------------------------------------------------------------------------------


def _register_report(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    report = sub.add_parser(
        "report",
        help="write a subject's progress report as a PDF",
        description="The PDF that the page's Report (PDF) button and GET /api/v1/subjects/{id}/report.pdf "
        "give (docs/report.md), read straight from the data dir's database and file store.",
    )
    report.add_argument("subject_id", type=_uuid, metavar="SUBJECT_ID", help="the subject's id")
    report.add_argument("--out", type=Path, required=True, metavar="FILE", help="where to write the PDF")
    for name, which in (("--since", "at or after"), ("--until", "at or before")):
        report.add_argument(name, type=_moment, metavar="TIME", help=f"only photos taken {which} (ISO 8601)")
    report.add_argument("--mode", choices=["standing", "lunge"], help="which series (default: as the page)")
    report.add_argument("--paper", choices=["a4", "letter"], default="a4", help="page size (default a4)")
    report.add_argument(
        "--images", choices=["overlay", "none"], default="overlay", help="none: no photo in the file"
    )
    report.add_argument("--data-dir", type=Path, help="as for `posture serve` (POSTURE_DATA_DIR)")
    report.set_defaults(func=_report)


def _moment(text: str) -> Any:
    from datetime import datetime

    from app.services.uploads import as_utc

    try:
        moment = as_utc(datetime.fromisoformat(text))
    except ValueError:
        moment = None
    if moment is None:
        raise argparse.ArgumentTypeError(f"not a date or time between 1900 and 2200: {text!r}")
    return moment


def _report(args: argparse.Namespace) -> int:
    from app.core.errors import ApiError
    from app.services import report
    from app.services.cache import VersionedCache
    from app.storage.files import open_store
    from app.storage.models import Subject, User

    settings = _settings(args)
    options = report.ReportOptions(
        since=args.since, until=args.until, mode=args.mode, paper=args.paper, images=args.images
    )
    with _session(args) as session:
        # The command runs as the subject's own account: it reads the data dir directly.
        subject = session.get(Subject, args.subject_id)
        owner = session.get(User, subject.user_id) if subject is not None else None
        if owner is None:
            print(f"posture report: no subject {args.subject_id}.", file=sys.stderr)
            return 1
        store = open_store(settings.storage_location)
        try:
            made = report.build(session, owner, store, VersionedCache(0), args.subject_id, options)
        except ApiError as exc:
            print(f"posture report: {exc.code}: {exc.message}", file=sys.stderr)
            return 1
        finally:
            store.close()
    args.out.write_bytes(made.pdf)
    print(f"Wrote {args.out} ({made.pages} pages, {len(made.pdf) // 1024} KiB).")
    return 0


# --- posture programme ------------------------------------------------------------------------------


def _register_programme(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    programme = sub.add_parser(
        "programme",
        help="a subject's programme log: programmes, exercises, workouts done, before/after",
        description="The programme log of the API (docs/programmes.md), read and written straight in the "
        "data dir's database, as the subject's own account.",
    )
    cmds = programme.add_subparsers(dest="programme_command", required=True)
    day = {"type": _day, "metavar": "YYYY-MM-DD"}
    add = cmds.add_parser("add", help="log a programme for a subject; prints its id on the last line")
    add.add_argument("subject_id", type=_uuid, metavar="SUBJECT_ID")
    add.add_argument("--name", required=True, help='e.g. "Calf programme, 6 weeks"')
    add.add_argument("--start", required=True, help="its first day", **day)
    add.add_argument("--end", help="its last day (default: open-ended)", **day)
    add.add_argument("--notes")
    add.add_argument(
        "--exercise",
        action="append",
        default=[],
        metavar="NAME[=DOSE]",
        help='an exercise, e.g. "eccentric heel drops=3x15" (repeat the option for more)',
    )
    listing = cmds.add_parser("list", help="a subject's programmes, latest start first")
    listing.add_argument("subject_id", type=_uuid, metavar="SUBJECT_ID")
    show = cmds.add_parser("show", help="one programme with its exercises and the days they were done")
    show.add_argument("programme_id", type=_uuid, metavar="PROGRAMME_ID")
    update = cmds.add_parser("update", help="change a programme's name, days or notes")
    update.add_argument("programme_id", type=_uuid, metavar="PROGRAMME_ID")
    update.add_argument("--name")
    update.add_argument("--start", **day)
    update.add_argument("--end", **day)
    update.add_argument("--open-ended", action="store_true", help="remove the end day")
    update.add_argument("--notes")
    tick = cmds.add_parser("tick", help="mark an exercise done on a day (default today, UTC)")
    tick.add_argument("programme_id", type=_uuid, metavar="PROGRAMME_ID")
    tick.add_argument("exercise", help="the exercise's id or its name")
    tick.add_argument("--on", help="the day (default today, UTC)", **day)
    tick.add_argument("--undo", action="store_true", help="remove the tick instead")
    delete = cmds.add_parser("delete", help="delete a programme with its exercises and ticks")
    delete.add_argument("programme_id", type=_uuid, metavar="PROGRAMME_ID")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    effect = cmds.add_parser("effect", help="before and after, up the chain, against the noise")
    effect.add_argument("programme_id", type=_uuid, metavar="PROGRAMME_ID")
    effect.add_argument("--json", action="store_true", help="the API's JSON instead of the table")
    for command in (add, listing, show, update, tick, delete, effect):
        command.add_argument("--data-dir", type=Path, help="as for `posture serve` (POSTURE_DATA_DIR)")
        command.set_defaults(func=_programme)


def _day(text: str) -> Any:
    from datetime import date

    try:
        value = date.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or not date(1900, 1, 1) <= value <= date(2200, 12, 31):
        raise argparse.ArgumentTypeError(f"not a day (YYYY-MM-DD) between 1900 and 2200: {text!r}")
    return value


def _programme(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from app.core.errors import ApiError

    command = f"posture programme {args.programme_command}"
    with _session(args) as session:
        try:
            return _programme_run(args, session)
        except ApiError as exc:
            print(f"{command}: {exc.code}: {exc.message}", file=sys.stderr)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors()
            )
            print(f"{command}: invalid_request: {problems}", file=sys.stderr)
        except _CommandFailed as failed:
            return failed.status
    return 1


def _owner(session: Session, model: Any, row_id: Any, what: str, command: str) -> User:
    """The account owning the subject (or programme) `row_id`: the command acts as that account."""
    from app.storage.models import Programme, Subject, User

    subject_id = row_id if model is Subject else getattr(session.get(Programme, row_id), "subject_id", None)
    subject = session.get(Subject, subject_id) if subject_id is not None else None
    owner = session.get(User, subject.user_id) if subject is not None else None
    if owner is None:
        print(f"posture programme {command}: no {what} {row_id}.", file=sys.stderr)
        raise _CommandFailed(1)
    return owner


def _programme_run(args: argparse.Namespace, session: Session) -> int:
    from app import schemas
    from app.services import programmes
    from app.storage.models import Programme, Subject

    command = args.programme_command
    if command in ("add", "list"):
        user = _owner(session, Subject, args.subject_id, "subject", command)
        if command == "list":
            for p in programmes.list_for(session, user, args.subject_id):
                print(_programme_line(p))
            return 0
        exercises = [dict(zip(("name", "dose"), e.split("=", 1), strict=False)) for e in args.exercise]
        body = schemas.ProgrammeCreate(
            name=args.name, start_date=args.start, end_date=args.end, notes=args.notes, exercises=exercises
        )
        made = programmes.create(session, user, args.subject_id, body)
        print(_programme_line(made))
        print(made.id)
        return 0
    user = _owner(session, Programme, args.programme_id, "programme", command)
    pid = args.programme_id
    if command == "show":
        _print_programme(programmes.read(session, user, pid))
    elif command == "update":
        changes: dict[str, Any] = {
            k: v
            for k, v in (
                ("name", args.name),
                ("start_date", args.start),
                ("end_date", args.end),
                ("notes", args.notes),
            )
            if v is not None
        }
        if args.open_ended:
            changes["end_date"] = None
        _print_programme(programmes.update(session, user, pid, schemas.ProgrammeUpdate(**changes)))
    elif command == "tick":
        current = programmes.read(session, user, pid)
        wanted = args.exercise.strip().casefold()
        found = [e for e in current.exercises if str(e.id) == wanted or e.name.casefold() == wanted]
        if len(found) != 1:
            names = ", ".join(e.name for e in current.exercises) or "none"
            print(
                f"posture programme tick: no single exercise {args.exercise!r} (exercises: {names}).",
                file=sys.stderr,
            )
            return 1
        on = args.on or programmes.today()
        _print_programme(programmes.tick(session, user, pid, found[0].id, on, not args.undo))
    elif command == "delete":
        current = programmes.read(session, user, pid)
        if (
            not args.yes
            and input(f"Delete programme {current.name!r} and its ticks? [y/N] ").strip().lower() != "y"
        ):
            print("Nothing deleted.")
            return 1
        programmes.delete(session, user, pid)
        print(f"Deleted programme {pid}.")
    elif command == "effect":
        effect = programmes.effect(session, user, pid)
        if args.json:
            print(effect.model_dump_json(indent=2))
        else:
            _print_effect(effect)
    return 0


def _programme_line(p: Any) -> str:
    end = p.end_date.isoformat() if p.end_date else "open"
    return f"{p.id}  {p.start_date} – {end}  {p.status:<7}  {p.workout_days:>3} workout days  {p.name}"


def _print_programme(p: Any) -> None:
    print(_programme_line(p))
    if p.notes:
        print(f"  notes: {p.notes}")
    for e in p.exercises:
        dose = f" ({e.dose})" if e.dose else ""
        days = ", ".join(d.isoformat() for d in e.ticks) or "not ticked yet"
        print(f"  {e.name}{dose} [{e.id}]: {days}")


def _print_effect(effect: Any) -> None:
    def num(value: Any) -> str:
        return "–" if value is None else f"{value:+.1f}" if isinstance(value, float) else str(value)

    print(
        f"Programme {effect.programme_id}: since {effect.start_date}"
        + (f" to {effect.end_date}" if effect.end_date else "")
    )
    print(f"{'measure':<36} {'before':>7} {'n':>3} {'since':>7} {'n':>3} {'diff':>7} {'noise':>6}  judged")
    for m in effect.measures:
        judged = m.reading
        before = "–" if m.before.median is None else f"{m.before.median:.1f}"
        since = "–" if m.since.median is None else f"{m.since.median:.1f}"
        noise = "–" if m.noise is None else f"±{m.noise:.1f}"
        sides = f"{before:>7} {m.before.visits:>3} {since:>7} {m.since.visits:>3}"
        print(f"{m.label:<36} {sides} {num(m.difference):>7} {noise:>6}  {judged}")
    print()
    for m in effect.measures:
        print(f"- {m.statement}")
    print()
    print(effect.summary)
    print(effect.disclaimer)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
