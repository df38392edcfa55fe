"""Property-based fuzzing of the OpenAPI schema (schemathesis): whatever a client sends, no 5xx.

Bounded: about 15 generated requests per operation and method, on both databases. The app under test uses the
real worker pool (generated "photos" are refused at intake, before the model). Half the generated
ids are swapped for real ones of this account, so the fuzzer also reaches the code behind a found id.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from app.core.settings import Settings
from app.main import create_app

from .conftest import Api, FakeAnalyzer, make_jpeg, running_api


def _openapi() -> dict:
    # The schema does not depend on the database; the requests go to each test's own app (below).
    app = create_app(Settings(database_url="sqlite://"), analyzer=FakeAnalyzer())
    return app.openapi()


schema = schemathesis.openapi.from_dict(_openapi())


@pytest.fixture
def fuzz_api(database, tmp_path, real_pool) -> Iterator[Api]:
    data_dir = tmp_path / "data"
    with running_api(database, data_dir, real_pool) as api:
        # Seed a subject with two analyses (through a twin app with the fast fake analyzer).
        with running_api(database, data_dir, FakeAnalyzer()) as seeder:
            seeder.key = api.key
            sid = seeder.subject("Seed")
            api.seed = {  # type: ignore[attr-defined]
                "subject_id": sid,
                "analysis_id": seeder.upload(sid, make_jpeg(1)).json()["id"],
                "other_analysis_id": seeder.upload(sid, make_jpeg(2)).json()["id"],
            }
        yield api


_coin = itertools.cycle([True, False])


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_gives_a_server_error(case, fuzz_api: Api):
    seed = fuzz_api.seed  # type: ignore[attr-defined]
    if case.path_parameters:
        for name in ("subject_id", "analysis_id"):
            if name in case.path_parameters and next(_coin):
                case.path_parameters[name] = seed[name]
    if case.operation.path == "/api/v1/compare" and isinstance(case.query, dict) and next(_coin):
        case.query.update(a=seed["analysis_id"], b=seed["other_analysis_id"])
    response = case.call(app=fuzz_api.client.app, headers=fuzz_api.auth)
    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code < 500
    if response.status_code >= 400:
        assert set(response.json()) == {"code", "message"}
