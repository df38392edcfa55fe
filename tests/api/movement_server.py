"""The service as a real server process for the movement crash test (tests/api/test_movements.py), with
the fake clip analyzer (each clip takes `steps` × `step_s`, so a test can `kill -9` it mid-job):

    python -m tests.api.movement_server PORT

Settings come from the POSTURE_* environment, as for `posture serve`."""

from __future__ import annotations

import sys

import uvicorn

from app.main import create_app

from .movement_fakes import FakeClipAnalyzer

if __name__ == "__main__":
    app = create_app(analyzer=FakeClipAnalyzer(steps=100, step_s=0.1))
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
