"""Every endpoint answers exactly as it did before app/ was reorganised (tests/answers.py recorded it)."""

from __future__ import annotations

import json

import pytest

from app.api.endpoints import ENDPOINTS
from tests import answers
from tests.answers import RECORDED, endpoints, questions, record_of

EXPECTED = json.loads(RECORDED.read_text())


@pytest.fixture(scope="module")
def settings():
    return answers.settings()


@pytest.mark.parametrize("name, ask", list(questions()), ids=[name for name, _ in questions()])
def test_the_answer_is_the_recorded_one(client, name, ask):
    assert record_of(ask(client)) == EXPECTED[name]


def test_the_same_endpoints_are_offered(client):
    assert endpoints(client.get("/openapi.json").json()) == EXPECTED["endpoints"]


def test_every_json_answer_is_its_endpoints_declared_response_model(client):
    assert all(e.response is not None for e in ENDPOINTS if e.media_type == "application/json")
    for name, ask in questions():
        r = ask(client)
        if r.status_code == 200:
            method, path = name.split()[:2]
            endpoint = next(e for e in ENDPOINTS if (e.method, e.path) == (method, path))
            endpoint.response.model_validate_json(r.content)  # raises where the answer is not the model
