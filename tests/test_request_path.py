"""The one request path: media types, honest outputs, settings that work, and messages that never
echo large input back. In-process, through TestClient (the worker pool runs for real)."""

from __future__ import annotations

import base64
import io
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

import model
from app.config import Settings
from app.main import create_app
from bench.hops import predict_path, save_path
from model.codec import PARAM_LIMIT, decode_params, encode_params
from tests.conftest import ROOT, WEIGHTS


@pytest.fixture(scope="module")
def settings():
    return Settings(weights=WEIGHTS, max_drawing_side=64)


def a_one() -> np.ndarray:
    grid = np.zeros((28, 28))
    grid[4:24, 13:15] = 1
    return grid


@pytest.mark.parametrize("path", ["/predict", "/explain", "/teach", "/predict/batch"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_json_endpoints_require_application_json(client, path, content_type):
    # text/plain is what a page on another site may post without a CORS preflight
    body = json.dumps({"image": a_one().tolist(), "images": [a_one().tolist()], "label": 1})
    headers = {"Content-Type": content_type} if content_type else {}
    r = client.post(path, content=body, headers=headers)
    assert r.status_code == 415, r.text
    assert "application/json" in r.json()["detail"]


def test_an_upload_must_be_multipart(client):
    r = client.post("/predict/image", content=b"\x89PNG", headers={"Content-Type": "image/png"})
    assert r.status_code == 415 and "multipart/form-data" in r.json()["detail"]


def test_the_drawing_side_setting_is_the_limit(client):
    ok = np.zeros((64, 64))
    ok[10:50, 30:34] = 1
    assert client.post("/predict", json={"image": ok.tolist(), "normalize": True}).json()["label"] == 1
    r = client.post("/predict", json={"image": np.zeros((65, 65)).tolist(), "normalize": True})
    assert r.status_code == 422 and "at most 64 rows and columns" in r.json()["detail"]


def test_an_unknown_key_is_one_short_error_however_long(client):
    r = client.post("/predict", json={"image": a_one().tolist(), "k" * 100_000: 1, "other": 2})
    assert r.status_code == 422
    assert r.json()["detail"].startswith("unknown field 'kkkk") and len(r.text) < 300


def test_a_long_bad_value_is_not_echoed(client):
    r = client.post("/explain", json={"image": a_one().tolist(), "label": "9" * 100_000})
    assert r.status_code == 422 and len(r.text) < 300


def test_maps_beyond_half_float_range_come_as_float32_never_infinity(client):
    params = {name: np.full(shape, 900.0, np.float32) for name, shape in model.PARAM_SHAPES.items()}
    r = client.post(
        "/predict",
        json={
            "image": a_one().tolist(),
            "params": encode_params(params),
            "feature_maps": True,
            "maps_encoding": "float16",
        },
    )
    assert r.status_code == 200, r.text
    assert "Infinity" not in r.text and "NaN" not in r.text
    maps = r.json()["feature_maps"]
    assert "float16" in maps["C1"]  # at most 9,900: half floats hold it
    assert "float32" in maps["C2"] and "float16" not in maps["C2"]  # values in the billions
    C2 = np.frombuffer(base64.b64decode(maps["C2"]["float32"]), "<f4").reshape(maps["C2"]["shape"])
    assert np.isfinite(C2).all() and C2.max() > 65504
    e = client.post("/explain", json={"image": a_one().tolist(), "label": 3, "params": encode_params(params)})
    assert e.status_code == 200 and "Infinity" not in e.text and "NaN" not in e.text


def test_teach_never_answers_parameters_it_would_refuse(client):
    params = {name: np.full(shape, 999.0, np.float32) for name, shape in model.PARAM_SHAPES.items()}
    params["b"] = np.array([999.0] * 9 + [-999.0], np.float32)
    grid = a_one().tolist()
    r = client.post("/teach", json={"image": grid, "label": 9, "lr": 10, "params": encode_params(params)})
    assert r.status_code == 422 and f"beyond +-{PARAM_LIMIT:g}" in r.json()["detail"], r.text
    r = client.post("/teach", json={"image": grid, "label": 3, "lr": 0.1})
    assert r.status_code == 200
    assert np.abs(np.concatenate([v.ravel() for v in decode_params(r.json()["params"]).values()])).max() <= PARAM_LIMIT


def test_exif_orientation_is_applied(client, mnist):
    seven = 255 - np.kron(mnist.test.images[0], np.ones((8, 8), np.uint8))  # dark ink on white
    assert mnist.test.labels[0] == 7
    stored = Image.fromarray(seven).rotate(90, expand=True)  # as a phone holding it sideways stores it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    buf = io.BytesIO()
    stored.save(buf, "JPEG", exif=exif, quality=95)
    r = client.post("/predict/image", files={"file": ("photo.jpg", buf.getvalue())})
    assert r.status_code == 200 and r.json()["label"] == 7


def test_docs_are_served_from_the_package_under_the_same_policy(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
    assert "http://" not in page.text and "https://" not in page.text and "<script>" not in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/js/docs.js"):
        r = client.get(asset)
        assert r.status_code == 200 and "content-security-policy" in r.headers
    for sneaky in ("/docs/..%2findex.html", "/docs/assets/..%2f..%2findex.html", "/docs/"):
        assert "content-security-policy" in client.get(sneaky).headers


# --- every documented setting is read, and does what the README says ---

README_SETTINGS = re.findall(r"^\| `(CNN_[A-Z_]+)` \|", (ROOT / "README.md").read_text(), re.M)
MODEL_ONLY = {"CNN_FAST"}  # read by model/fast/; tests/test_fast.py switches it off
FIELDS = {  # variable -> (the Settings field, a value to set, what it must become)
    "CNN_HOST": ("host", "0.0.0.0", "0.0.0.0"),
    "CNN_PORT": ("port", "8080", 8080),
    "CNN_WORKERS": ("workers", "3", 3),
    "CNN_LOG_LEVEL": ("log_level", "debug", "debug"),
    "CNN_STATIC_DIR": ("static_dir", "/srv/page", Path("/srv/page")),
    "CNN_WEIGHTS": ("weights", "/w/x.npz", Path("/w/x.npz")),
    "CNN_MAX_BODY_BYTES": ("max_body_bytes", "1234", 1234),
    "CNN_MAX_BATCH": ("max_batch", "7", 7),
    "CNN_MAX_DRAWING_SIDE": ("max_drawing_side", "512", 512),
    "CNN_POOL_WORKERS": ("pool_workers", "3", 3),
    "CNN_POOL_WAITING": ("pool_waiting", "0", 0),
    "CNN_JOB_CPU_SECONDS": ("job_cpu_seconds", "0.25", 0.25),
    "CNN_JOB_WALL_SECONDS": ("job_wall_seconds", "4", 4.0),
    "CNN_WORKER_MEMORY_BYTES": ("worker_memory_bytes", str(256 * 2**20), 256 * 2**20),
    "CNN_BODIES_IN_FLIGHT_BYTES": ("bodies_in_flight_bytes", "99999999", 99999999),
    "CNN_HEADER_TIMEOUT": ("header_timeout", "2.5", 2.5),
    "CNN_BODY_TIMEOUT": ("body_timeout", "7", 7.0),
    "CNN_MAX_CONNECTIONS": ("max_connections", "100", 100),
    "CNN_SHUTDOWN_TIMEOUT": ("shutdown_timeout", "3", 3.0),
    "CNN_CORS_ORIGINS": (
        "cors_origins",
        "https://a.example, https://b.example",
        ("https://a.example", "https://b.example"),
    ),
    "CNN_METRICS": ("metrics", "off", False),
    "CNN_METRICS_DIR": ("metrics_dir", "/run/cnn-metrics", Path("/run/cnn-metrics")),
    "CNN_DATABASE_URL": ("database_url", "postgresql://u@db:5432/cnn", "postgresql://u@db:5432/cnn"),
    "CNN_DATA_DIR": ("data_dir", "/var/lib/cnn", Path("/var/lib/cnn")),
    "CNN_TEACHER_TOKEN": ("teacher_token", "s3cret-teacher-token", "s3cret-teacher-token"),
    "CNN_DRAWINGS_PER_MINUTE": ("drawings_per_minute", "30", 30),
    "CNN_MAX_DRAWINGS": ("max_drawings", "500", 500),
    "CNN_TRUSTED_PROXIES": ("trusted_proxies", "127.0.0.1, 10.0.0.0/8", ("127.0.0.1", "10.0.0.0/8")),
    "CNN_DRAWINGS_PER_MINUTE_TOTAL": ("drawings_per_minute_total", "600", 600),
    "CNN_PUBLIC_URL": ("public_url", "https://digits.school.example", "https://digits.school.example"),
    "CNN_MAX_HEADER_BYTES": ("max_header_bytes", "32768", 32768),
    "CNN_MAX_HEADERS": ("max_headers", "50", 50),
    "CNN_WRITE_TIMEOUT": ("write_timeout", "12", 12.0),
    "CNN_ANSWER_BACKLOG_BYTES": ("answer_backlog_bytes", "67108864", 67108864),
    "CNN_MAX_JSON_MAP_IMAGES": ("max_json_map_images", "8", 8),
}


def test_every_setting_the_readme_documents_is_read(monkeypatch):
    assert set(README_SETTINGS) - MODEL_ONLY == set(FIELDS)
    for variable, (_, raw, _) in FIELDS.items():
        monkeypatch.setenv(variable, raw)
    settings = Settings()
    for variable, (field, _, value) in FIELDS.items():
        assert getattr(settings, field) == value, variable


@pytest.mark.parametrize(
    "variable, raw, says",
    [
        ("CNN_MAX_DRAWING_SIDE", "2048", "from 1 to 1024"),
        ("CNN_POOL_WORKERS", "0", "from 1 to 64"),
        ("CNN_JOB_CPU_SECONDS", "soon", "must be a number"),
        ("CNN_HEADER_TIMEOUT", "0", "at least 0.1"),
        ("CNN_METRICS", "maybe", "1 or 0"),
    ],
)
def test_a_bad_setting_is_named_at_start(monkeypatch, variable, raw, says):
    monkeypatch.setenv(variable, raw)
    with pytest.raises(ValueError, match=says):
        Settings()


def test_past_the_bodies_in_flight_budget_a_request_gets_503():
    settings = Settings(weights=WEIGHTS, max_body_bytes=100_000, bodies_in_flight_bytes=100_000)
    with TestClient(create_app(settings)) as c:
        path = c.app.state.path
        with path.budget.hold(60_000) as received:  # another request's body, still arriving
            received(60_000)
            body = json.dumps({"image": np.zeros((100, 100)).tolist(), "normalize": True})
            r = c.post("/predict", content=body, headers={"Content-Type": "application/json"})
            assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
            assert "being received" in r.json()["detail"]
            # a drawing from the page (at most 32 KiB) is not kept out by large bodies
            assert c.post("/predict", json={"image": a_one().tolist()}).json()["label"] == 1
        assert path.budget.used == 0
        assert c.post("/predict", content=body, headers={"Content-Type": "application/json"}).status_code == 422


def test_a_job_past_its_wall_time_is_cut_with_503():
    # below the 0.1 s an operator may set (Settings refuses it): built without validation
    settings = Settings.model_construct(weights=WEIGHTS, job_wall_seconds=0.01, job_cpu_seconds=10)
    big = np.zeros((1024, 1024))
    big[100:900, 500:520] = 1
    with TestClient(create_app(settings)) as c:
        r = c.post("/predict", json={"image": big.tolist(), "normalize": True})
        assert r.status_code == 503 and r.headers["retry-after"] == "1", r.text
        assert c.post("/predict", json={"image": a_one().tolist()}).json()["label"] == 1  # on the loop


def test_formats_we_do_not_read_are_never_parsed(client):
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 4096 4096\n" + b"0 0 moveto 4096 4096 lineto stroke\n" * 200_000
    started = time.perf_counter()
    r = client.post("/predict/image", files={"file": ("a.eps", eps)})
    assert r.status_code == 415 and "PostScript images are not supported" in r.json()["detail"]
    assert time.perf_counter() - started < 2  # it cost 5 s when Pillow tried every format it knows


def test_a_jpeg_of_two_million_markers_is_refused_before_decoding(client):
    buf = io.BytesIO()
    Image.fromarray(np.full((64, 64), 200, np.uint8)).save(buf, "JPEG")
    data = buf.getvalue()
    app0 = b"\xff\xe0\x00\x02"  # an empty APP0 segment, two million times
    r = client.post("/predict/image", files={"file": ("x.jpg", data[:2] + app0 * 2_000_000 + data[2:])})
    assert r.status_code == 422 and "markers" in r.json()["detail"]


# --- how far a request travels through our code (bench/hops.py; issue 34) ---


def test_a_predict_and_a_save_pass_through_few_modules():
    """Counted by a profiler, from the route to the network (/predict) or to the database (a save):
    before issue 34's one-handler record, 12 modules and 17 hops, and 19 modules and 27 hops; a save
    passed 11 modules and 20 hops before the network gave the calibrated probabilities (model.cnn's
    `calibrated`, not model.layers' softmax in the service) and the save's params check moved beside
    the network it protects (read_drawing, not a validator of app/drawings/models.py)."""
    predict = predict_path(WEIGHTS)
    assert len(predict.modules) <= 7 and predict.hops <= 12, predict
    save = save_path(WEIGHTS)
    assert len(save.modules) <= 9 and save.hops <= 18, save
    assert save.modules[-1] == "app.drawings.database" and predict.modules[-1].startswith("model")


def test_a_saved_grid_is_not_encoded_within_the_process():
    """The grid the network read stays an array until the database (it was base64 in JSON, decoded again)."""
    save = save_path(WEIGHTS)
    assert "ipaddress" in save.stdlib  # the tracer sees the standard library (guard.py reads the address)
    assert not {"base64", "json"} & save.stdlib
