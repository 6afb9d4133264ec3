"""Every endpoint answers as it did before app/ was reorganised (tests/answers.py recorded it): field
by field, numbers to within float32's rounding, so that the suite passes on any CPU; and byte for
byte the same when the same process asks twice."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

from app.api.endpoints import ENDPOINTS
from tests import answers
from tests.answers import RECORDED, differences, endpoints, questions, record_of

EXPECTED = json.loads(RECORDED.read_text())
NAMES = [name for name, _ in questions()]


@pytest.fixture(scope="module")
def settings():
    return answers.settings()


@pytest.mark.parametrize("name, ask", list(questions()), ids=NAMES)
def test_the_answer_is_the_recorded_one(client, name, ask):
    assert differences(EXPECTED[name], record_of(ask(client))) == []


@pytest.mark.parametrize("name, ask", list(questions()), ids=NAMES)
def test_the_same_question_gets_the_same_bytes_on_one_machine(client, name, ask):
    assert ask(client).content == ask(client).content


def test_the_same_endpoints_are_offered(client):
    assert endpoints(client.get("/openapi.json").json()) == EXPECTED["endpoints"]


def test_every_json_answer_is_its_endpoints_declared_response_model(client):
    assert all(e.reply.model is not None for e in ENDPOINTS if e.reply.media_type == "application/json")
    for name, ask in questions():
        r = ask(client)
        if r.status_code == 200:
            method, path = name.split()[:2]
            endpoint = next(e for e in ENDPOINTS if (e.method, e.path) == (method, path))
            endpoint.reply.model.model_validate_json(r.content)  # raises where the answer is not the model


def test_the_comparison_forgives_float32_rounding_and_nothing_else():
    recorded = EXPECTED["POST /train ours"]["body"]
    assert differences(recorded, recorded) == []
    nudged = json.loads(json.dumps(recorded))
    nudged["losses"][0] *= 1 + 3e-7  # the last bits of a float32 sum
    assert differences(recorded, nudged) == []
    nudged["losses"][0] *= 1.001
    assert [d.split(":")[0] for d in differences(recorded, nudged)] == [".losses"]
    for field, changed in [("seed", 2), ("recipe", "article"), ("heldout_accuracy", 0.0815)]:
        assert differences(recorded, {**recorded, field: changed}) != [], field
    params = np.frombuffer(base64.b64decode(recorded["params"]), "<f4").copy()
    params[7] *= 1.01
    assert differences(recorded, {**recorded, "params": base64.b64encode(params.tobytes()).decode()}) != []
    maps = EXPECTED["POST /predict maps float16"]["body"]["feature_maps"]
    c1 = np.frombuffer(base64.b64decode(maps["C1"]["float16"]), "<f2").copy()
    c1[c1.argmax()] *= np.float16(1.01)
    assert differences(maps, {**maps, "C1": {**maps["C1"], "float16": base64.b64encode(c1.tobytes()).decode()}})
    teach = EXPECTED["POST /teach"]["body"]
    assert teach["loss_after"] == 0.0 and differences(teach, {**teach, "loss_after": 3e-9}) == []  # near 0
    assert differences(teach, {**teach, "loss_after": 3e-6}) != []
    why = EXPECTED["POST /check dLI"]["body"]["why"]
    number = re.search(r"\d+\.\d{4,}", why).group()  # a number in the sentence, as the weights make it
    point = number.index(".")
    last, first = (
        number[:-1] + str((int(number[-1]) + 1) % 10),
        number[: point + 1] + str((int(number[point + 1]) + 1) % 10) + number[point + 2 :],
    )
    assert differences(why, why.replace(number, last)) == []  # its last digit, rounded otherwise
    assert differences(why, why.replace(number, first)) != []
    assert differences(why, why.replace("corner", "kink")) != []
