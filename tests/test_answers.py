"""Every endpoint answers exactly as it did before app/ was reorganised (tests/answers.py recorded it)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.answers import RECORDED, endpoints, questions, record_of, settings

EXPECTED = json.loads(RECORDED.read_text())


@pytest.fixture(scope="module")
def service():
    with TestClient(create_app(settings())) as c:
        yield c


@pytest.mark.parametrize("name, ask", list(questions()), ids=[name for name, _ in questions()])
def test_the_answer_is_the_recorded_one(service, name, ask):
    assert record_of(ask(service)) == EXPECTED[name]


def test_the_same_endpoints_are_offered(service):
    assert endpoints(service.get("/openapi.json").json()) == EXPECTED["endpoints"]
