"""One structured line per request, with the request id echoed in the answer; never the image."""

from __future__ import annotations

import json

import pytest

GRID = [[0.0] * 28 for _ in range(28)]
for row in GRID[6:22]:
    row[14] = 1.0


class Lines:
    """The request lines written to standard output (file descriptor 1) since the test began."""

    def __init__(self, capfd) -> None:
        self.capfd, self.seen = capfd, []

    def read(self) -> list[dict]:
        out = self.capfd.readouterr().out
        self.seen += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        return self.seen

    def __getitem__(self, i):
        return self.read()[i]

    def __iter__(self):
        return iter(self.read())


@pytest.fixture
def lines(capfd):
    capfd.readouterr()  # what came before this test
    return Lines(capfd)


def test_every_request_is_one_line_with_its_id_echoed(client, lines):
    answers = [
        client.post("/predict", json={"image": GRID}),
        client.get("/healthz"),
        client.post("/predict", json={"image": [[2.0]]}),
        client.get("/no/such/page/" + "x" * 500),
        client.get("/"),
        client.get("/openapi.json"),
    ]
    assert [line["status"] for line in lines] == [a.status_code for a in answers] == [200, 200, 422, 404, 200, 200]
    assert [line["route"] for line in lines] == ["/predict", "/healthz", "/predict", "(static)", "/", "/openapi.json"]
    assert [line["method"] for line in lines] == ["POST", "GET", "POST", "GET", "GET", "GET"]
    assert [line["request_id"] for line in lines] == [a.headers["x-request-id"] for a in answers]
    assert len({line["request_id"] for line in lines}) == 6
    assert all(set(line) == {"method", "route", "status", "ms", "request_id"} and line["ms"] >= 0 for line in lines)
    assert all(len(json.dumps(line)) < 200 for line in lines)  # no body, no image, no long path


def test_a_sensible_incoming_id_is_kept_and_anything_else_replaced(client, lines):
    kept = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.2"})
    assert kept.headers["x-request-id"] == "lb-7f3a.2" == lines[-1]["request_id"]
    for hostile in ("a" * 65, "x y", "<script>"):
        answer = client.get("/healthz", headers={"X-Request-ID": hostile})
        assert answer.headers["x-request-id"] != hostile and len(answer.headers["x-request-id"]) == 16
