"""One error model: each failure's class carries its status (and Retry-After where waiting helps); an
endpoint's family chooses only the shape of the body (OIP v2 also calls a client's mistake 400)."""

from __future__ import annotations

import json

import pytest

import app.registry  # noqa: F401 -- every family's modules, so that every Failure is defined
from app.drawings.database import DatabaseDamaged, DatabaseUnavailable
from app.drawings.guard import TooFast
from app.interop.serving import PROTOCOL
from app.transport.errors import SERVICE, Failure, failure
from model.codec import InvalidParams


def every_failure() -> list[type[Failure]]:
    found, todo = [], [Failure]
    while todo:
        kind = todo.pop()
        found.append(kind)
        todo.extend(kind.__subclasses__())
    return found[1:]


@pytest.mark.parametrize("kind", every_failure(), ids=lambda k: f"{k.__module__}.{k.__name__}")
def test_every_failure_declares_a_status_a_client_can_act_on(kind):
    assert 400 <= kind.status < 600
    assert kind.retry_after is None or kind.retry_after > 0
    if kind.status == 503:
        assert kind.retry_after is not None  # waiting helps: the client is told how long


@pytest.mark.parametrize("kind", [DatabaseUnavailable, DatabaseDamaged])
def test_the_database_away_is_a_503_with_retry_after_in_every_family(kind):
    for family, key in ((SERVICE, "detail"), (PROTOCOL, "error")):
        answer = failure(kind("the drawings' database cannot be reached; try again in a moment"), family)
        assert answer.status == 503 and answer.headers == {"Retry-After": "1"}
        assert json.loads(answer.body) == {key: "the drawings' database cannot be reached; try again in a moment"}


def test_an_instance_may_say_its_own_wait():
    answer = failure(TooFast(7))
    assert answer.status == 429 and answer.headers == {"Retry-After": "7"}


def test_a_family_chooses_the_shape_and_the_protocol_calls_a_mistake_400():
    mistake = InvalidParams("params is not a network")
    assert failure(mistake).status == 422 and json.loads(failure(mistake).body) == {"detail": "params is not a network"}
    assert failure(mistake, PROTOCOL).status == 400
    assert json.loads(failure(mistake, PROTOCOL).body) == {"error": "params is not a network"}


def test_what_declares_no_status_is_a_500_that_says_nothing():
    answer = failure(KeyError("secret"))
    assert answer.status == 500 and b"secret" not in answer.body
