"""The service as a real server process for the fault tests (tests/api/test_faults.py), with the
fake analyzer instead of the model: what is killed with `kill -9` is the server's own storage code.

    python -m tests.api.fault_server PORT        # one server
    python -m tests.api.fault_server --launcher  # a launcher that forks servers on request

Settings come from the POSTURE_* environment, as for `posture serve`. One route is added for the
test: `DELETE /test/account` deletes the calling account through the repository's durable deletion
(what `posture users delete` runs), so account deletions can be killed mid-way too.

The launcher imports everything once, then forks a fresh server process for each `start PORT LOG`
line on its stdin and answers with the server's pid (`status PID` tells whether it still runs,
`reap PID` collects a killed one): the way a
pre-loading supervisor (gunicorn --preload) starts workers. A restart then costs a fork, not the
seconds of importing MediaPipe, which keeps a test of many kills short.
"""

from __future__ import annotations

import contextlib
import os
import sys

import uvicorn
from fastapi import FastAPI, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import CurrentUser, DbSession, Store
from app.main import create_app
from app.storage import repository

from .conftest import FakeAnalyzer


def build() -> FastAPI:
    app = create_app(analyzer=FakeAnalyzer())

    @app.delete("/test/account", status_code=204)
    async def delete_account(user: CurrentUser, db: DbSession, store: Store) -> Response:
        await run_in_threadpool(repository.delete_account, db, store, user)
        return Response(status_code=204)

    return app


def serve(port: int) -> None:
    uvicorn.run(build(), host="127.0.0.1", port=port, log_level="warning")


def launcher() -> None:
    for line in sys.stdin:
        command, *args = line.split()
        if command == "start":
            port, log = int(args[0]), args[1]
            pid = os.fork()
            if pid == 0:  # the server: its own output, no stdin, never back into this loop
                try:
                    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                    os.dup2(fd, 1)
                    os.dup2(fd, 2)
                    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                    serve(port)
                finally:
                    os._exit(0)
            print(pid, flush=True)
        elif command == "status":
            try:
                pid, status = os.waitpid(int(args[0]), os.WNOHANG)
            except ChildProcessError:  # reaped already
                print("exited", flush=True)
                continue
            print("running" if pid == 0 else f"exited {os.waitstatus_to_exitcode(status)}", flush=True)
        elif command == "reap":
            with contextlib.suppress(ChildProcessError):
                os.waitpid(int(args[0]), 0)
            print("reaped", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--launcher":
        launcher()
    else:
        serve(int(sys.argv[1]))
