"""The installed `posture` command: the library's commands (`analyze`, `batch`) and the service's
(`serve`, `users`), assembled here, where both the library and the service are visible.

The batch command gets the service's history store as its `--store` sink (`app.services.batch_store`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from posture import cli as library_cli
from posture.batch.output import ResultSink


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
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.set_defaults(func=_serve)

    users = sub.add_parser("users", help="manage accounts and API keys")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    commands: tuple[tuple[str, str, Callable[[argparse.Namespace, Session], int], bool], ...] = (
        ("create", "create an account; prints its API key on the last line", _users_create, True),
        ("key", "issue another API key for an existing account", _users_key, True),
        ("list", "list accounts", _users_list, False),
    )
    for name, text, handler, takes_name in commands:
        command = users_sub.add_parser(name, help=text)
        if takes_name:
            command.add_argument("name")
        command.add_argument("--data-dir", type=Path, help="as for `posture serve` (POSTURE_DATA_DIR)")
        command.set_defaults(func=_with_session(handler))


def _settings(args: argparse.Namespace, **overrides: Any) -> Any:
    from app.core.settings import Settings

    if getattr(args, "data_dir", None) is not None:
        overrides["data_dir"] = args.data_dir
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _serve(args: argparse.Namespace) -> int:
    import uvicorn
    from pydantic import ValidationError

    from app.main import create_app

    try:
        settings = _settings(args, inference_workers=args.workers)
    except ValidationError as exc:
        print(
            f"posture serve: invalid setting: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}",
            file=sys.stderr,
        )
        return 2
    app = create_app(settings)
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    data = f" --data-dir {settings.data_dir}" if args.data_dir else ""
    # As the user ran it: `.venv/bin/posture` under `make serve`.
    command = sys.argv[0] if Path(sys.argv[0]).name == "posture" else "posture"
    print(
        f"posture-profile on http://{shown}:{args.port}/ (API docs at /docs)\n"
        f"Data in {settings.data_dir.resolve()}\n"
        f"Create an API key with:  {command} users create NAME{data}",
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def _with_session(
    handler: Callable[[argparse.Namespace, Session], int],
) -> Callable[[argparse.Namespace], int]:
    """A `users` handler run in one session of the migrated database the settings name."""

    def run(args: argparse.Namespace) -> int:
        with _session(args) as session:
            return handler(args, session)

    return run


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

    user = repository.user_by_name(session, args.name)
    if user is None:
        print(f"posture users key: no account named {args.name!r}.", file=sys.stderr)
        return 1
    key = repository.issue_key(session, user)
    print(f"New API key for {user.name!r} (shown once, keep it secret; older keys stay valid):")
    print(key)
    return 0


def _users_list(args: argparse.Namespace, session: Session) -> int:
    from app.storage import repository

    for user, n_keys in repository.list_users(session):
        print(f"{user.name}\t{n_keys} key{'s' if n_keys != 1 else ''}\tcreated {user.created_at:%Y-%m-%d}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
