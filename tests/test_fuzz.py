"""Fuzzing: schemathesis generates requests from the service's own OpenAPI schema.

Every generated request, valid or not, must get an answer that is not a 5xx and that
matches the schema the service documents for it (status code, content type, headers, body).

One check is left out: that every schema-valid request is accepted. The schema cannot say
that a grid must be exactly 28x28 unless "normalize" is true, nor that a drawing must hold
some ink, so schemathesis would call those honest 422s failures.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

import model
from app.config import Settings
from app.main import create_app


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    weights = model.CNN.random(seed=2).save(tmp_path_factory.mktemp("fuzz") / "random", {"test_accuracy": 0.1})
    application = create_app(Settings(weights=weights, max_body_bytes=200_000, max_batch=4))
    with TestClient(application):  # runs the lifespan: the network is loaded before the first request
        yield application


@pytest.fixture(scope="module")
def api_schema(app):
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_request_gets_a_server_error_or_an_undocumented_answer(case):
    case.call_and_validate(excluded_checks=[schemathesis.checks.positive_data_acceptance])
