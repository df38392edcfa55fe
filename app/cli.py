"""`posture serve` and `posture users`, added to the `posture` command by `posture.cli`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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
    create = users_sub.add_parser("create", help="create an account; prints its API key on the last line")
    create.add_argument("name")
    create.add_argument("--data-dir", type=Path, help="as for `posture serve` (POSTURE_DATA_DIR)")
    create.set_defaults(func=_users_create)
    key = users_sub.add_parser("key", help="issue another API key for an existing account")
    key.add_argument("name")
    key.add_argument("--data-dir", type=Path)
    key.set_defaults(func=_users_key)
    listing = users_sub.add_parser("list", help="list accounts")
    listing.add_argument("--data-dir", type=Path)
    listing.set_defaults(func=_users_list)


def _settings(args: argparse.Namespace, **overrides: Any) -> Any:
    from .settings import Settings

    if getattr(args, "data_dir", None) is not None:
        overrides["data_dir"] = args.data_dir
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _serve(args: argparse.Namespace) -> int:
    import uvicorn
    from pydantic import ValidationError

    from .main import create_app

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


def _open_db(args: argparse.Namespace) -> Any:
    from .db import Database

    settings = _settings(args)
    db = Database(settings.sqlalchemy_url)
    db.migrate()
    return db


def _users_create(args: argparse.Namespace) -> int:
    from . import repository
    from .schemas import SubjectCreate

    try:  # the same rules as a subject's name: printable, at most 200 characters
        name = SubjectCreate(name=args.name).name
    except ValueError:
        print("posture users create: the name must be 1–200 printable characters.", file=sys.stderr)
        return 2
    db = _open_db(args)
    try:
        with db.session() as session:
            user, key = repository.create_user(session, name)
    except repository.UserExists:
        print(
            f"posture users create: an account named {name!r} exists; "
            f"`posture users key {name}` issues it another key.",
            file=sys.stderr,
        )
        return 1
    finally:
        db.dispose()
    print(f"Created account {user.name!r} ({user.id}). Its API key (shown once, keep it secret):")
    print(key)
    return 0


def _users_key(args: argparse.Namespace) -> int:
    from . import repository

    db = _open_db(args)
    try:
        with db.session() as session:
            user = repository.user_by_name(session, args.name)
            if user is None:
                print(f"posture users key: no account named {args.name!r}.", file=sys.stderr)
                return 1
            key = repository.issue_key(session, user)
    finally:
        db.dispose()
    print(f"New API key for {user.name!r} (shown once, keep it secret; older keys stay valid):")
    print(key)
    return 0


def _users_list(args: argparse.Namespace) -> int:
    from . import repository

    db = _open_db(args)
    try:
        with db.session() as session:
            rows = repository.list_users(session)
    finally:
        db.dispose()
    for user, n_keys in rows:
        print(f"{user.name}\t{n_keys} key{'s' if n_keys != 1 else ''}\tcreated {user.created_at:%Y-%m-%d}")
    return 0
