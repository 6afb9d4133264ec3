"""The service through HTTP: every endpoint against the network called directly, and every bad input."""

from __future__ import annotations

import base64
import io
import re
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

import model
from app.api.training import MAX_TRAIN_IMAGES
from app.config import Settings
from app.main import StartupError, create_app
from app.pictures.preprocessing import MAX_PIXELS, normalize
from model.architecture import GRADIENTS, LAYERS
from model.codec import ENCODED_LENGTH
from model.training.recipes import ARTICLE_SMALL_RUN, NAMES, RECIPES
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A random network: the service must answer exactly what the network answers, trained or not."""
    path = tmp_path_factory.mktemp("weights") / "random"
    return model.CNN.random(seed=11).save(path, {"test_accuracy": 0.1})


@pytest.fixture(scope="module")
def net(weights):
    return model.load(weights)


@pytest.fixture(scope="module")
def settings(weights):
    return Settings(weights=weights, max_body_bytes=1_000_000, max_batch=8)


@pytest.fixture
def digit(rng) -> np.ndarray:
    grid = np.zeros((28, 28))
    grid[6:22, 12:16] = rng.random((16, 4))  # a rough "1" with grey ink
    return grid


def png_bytes(array: np.ndarray, mode: str = "L") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


def assert_same_probabilities(answer: dict, expected: np.ndarray) -> None:
    assert answer["label"] == int(expected.argmax())
    assert np.allclose(answer["probabilities"], expected, rtol=1e-6, atol=1e-7)


# --- the endpoints, each against the network called directly ---


def test_predict_matches_the_network(client, net, digit):
    r = client.post("/predict", json={"image": digit.tolist()})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"label", "probabilities", "unsure"}
    assert_same_probabilities(r.json(), net.predict_proba(digit)[0])


def test_predict_with_feature_maps_returns_every_layer(client, net, digit):
    r = client.post("/predict", json={"image": digit.tolist(), "feature_maps": True})
    assert r.status_code == 200, r.text
    body = r.json()
    maps = net.feature_maps(digit)
    assert_same_probabilities(body, maps["O"])
    for name, shape in {"C1": (6, 24, 24), "P1": (6, 12, 12), "C2": (12, 8, 8), "P2": (12, 4, 4), "S": (10,)}.items():
        got = np.array(body["feature_maps"][name])
        assert got.shape == shape
        assert np.allclose(got, maps[name], atol=1e-5), name
    assert np.allclose(body["input"], digit, atol=1e-5)


def test_an_image_sent_as_half_floats_is_read_as_those_numbers(client, net, digit):
    rounded = digit.astype(np.float16).astype(np.float64)  # what half floats can hold
    encoded = {"shape": [28, 28], "float16": half_floats(digit)}
    r = client.post("/predict", json={"image": encoded, "feature_maps": True})
    assert r.status_code == 200, r.text
    assert r.json() == client.post("/predict", json={"image": rounded.tolist(), "feature_maps": True}).json()
    assert_same_probabilities(r.json(), net.predict_proba(rounded)[0])
    drawing = np.zeros((60, 40))
    drawing[10:50, 15:25] = 1.0  # any size, with normalize, as with rows of numbers
    r = client.post("/predict", json={"image": {"shape": [60, 40], "float16": half_floats(drawing)}, "normalize": True})
    assert r.status_code == 200 and np.allclose(r.json()["input"], normalize(drawing), atol=1e-5)
    r = client.post("/explain", json={"image": encoded, "label": 3})
    same = client.post("/explain", json={"image": rounded.tolist(), "label": 3})
    assert r.status_code == 200 and r.json() == same.json()


def test_predict_normalizes_a_raw_drawing_of_any_size(client, net):
    drawing = np.zeros((200, 150))
    drawing[20:180, 60:80] = 1.0
    r = client.post("/predict", json={"image": drawing.tolist(), "normalize": True})
    assert r.status_code == 200, r.text
    expected_input = normalize(drawing)
    assert np.allclose(r.json()["input"], expected_input, atol=1e-5)
    assert_same_probabilities(r.json(), net.predict_proba(expected_input)[0])


def test_predict_image_normalizes_the_file(client, net):
    canvas = np.full((280, 280), 255, np.uint8)  # black ink on white paper
    canvas[40:240, 120:150] = 0
    r = client.post("/predict/image", files={"file": ("one.png", png_bytes(canvas), "image/png")})
    assert r.status_code == 200, r.text
    expected_input = normalize(1 - canvas / 255)
    assert np.allclose(r.json()["input"], expected_input, atol=1e-5)
    assert_same_probabilities(r.json(), net.predict_proba(expected_input)[0])
    with_maps = client.post("/predict/image?feature_maps=true", files={"file": ("one.png", png_bytes(canvas))})
    assert set(with_maps.json()["feature_maps"]) == {"C1", "P1", "C2", "P2", "S"}


def test_batch_gives_one_answer_per_image_in_order(client, net, rng):
    images = rng.random((5, 28, 28))
    r = client.post("/predict/batch", json={"images": images.tolist()})
    assert r.status_code == 200, r.text
    predictions = r.json()["predictions"]
    assert len(predictions) == 5
    for answer, expected in zip(predictions, net.predict_proba(images), strict=True):
        assert_same_probabilities(answer, expected)


def test_model_describes_the_network_and_its_weights(client, weights):
    body = client.get("/model").json()
    assert body["parameters"] == 3898
    assert body["param_shapes"]["k2"] == [12, 6, 5, 5]
    assert body["sha256"] == model.read_metadata(weights)["sha256"]
    assert body["metadata"]["test_accuracy"] == 0.1
    assert body["max_batch"] == 8
    assert "conv 6x5x5 + ReLU -> 6x24x24" in body["architecture"]
    # the description the page draws from: model/architecture.py's, written down nowhere else
    assert [(x["name"], tuple(x["shape"]), x["equation"]) for x in body["layers"]] == [
        (layer.name, layer.shape, layer.equation) for layer in LAYERS
    ]
    assert [(g["name"], g["equation"]) for g in body["gradients"]] == [(g.name, g.equation) for g in GRADIENTS]
    assert body["feature_maps"] == ["C1", "P1", "C2", "P2", "S"]
    # and the facts of training the page would otherwise repeat (issue 27, point 6)
    training = body["training"]
    assert {r["name"]: (r["batch_size"], r["epochs"]) for r in training["recipes"]} == {
        name: (RECIPES[name].batch_size, RECIPES[name].epochs) for name in NAMES
    }
    assert training["article_log"]["accuracy"] == [[e, a] for e, a in sorted(ARTICLE_SMALL_RUN.items())]
    assert training["max_images"] == MAX_TRAIN_IMAGES and training["params_length"] == ENCODED_LENGTH


def test_the_page_takes_shapes_and_equations_from_the_service():
    for script in ("main.js", "explorer.js", "trainer.js", "chart.js", "share.js", "tour.js", "terms.js", "format.js"):
        text = (ROOT / "static" / "js" / script).read_text()
        assert not re.search(r"\[\s*(6|12)\s*,\s*(24|12|8|4|5)\s*[,\]]", text), script  # [maps, side] literals
        assert not re.search(r"\((23|39|43|45|50|56|58|60|65)\)", text), script  # equation numbers
        assert not re.search(r"0\.926|0\.981|0\.074|1024|1_024|\b784\b", text), script  # logs, limits, sizes
    assert not re.search(r"1024|1,024", (ROOT / "static" / "index.html").read_text())


def test_the_examples_in_the_api_document_are_the_served_networks(client, weights, net):
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    sha256 = model.read_metadata(weights)["sha256"]
    assert schemas["Health"]["examples"][0]["sha256"] == sha256
    assert schemas["ModelInfo"]["examples"][0] == client.get("/model").json()
    ref = document["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schemas[ref.removeprefix("#/components/schemas/")]
    example = np.array(body["examples"][0]["image"])
    answer = schemas["PredictResponse"]["examples"][0]
    assert answer == client.post("/predict", json={"image": example.tolist()}).json()


def test_kernels_are_the_networks(client, net):
    body = client.get("/model/kernels").json()
    assert np.allclose(body["k1"], net.params["k1"]) and np.allclose(body["k2"], net.params["k2"])


def test_health(client):
    assert client.get("/healthz").json()["status"] == "ok"


def test_openapi_documents_every_endpoint_with_examples(client):
    spec = client.get("/openapi.json").json()
    endpoints = {"/predict", "/predict/image", "/predict/batch", "/model", "/model/kernels", "/healthz"}
    assert endpoints <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    ref = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/PredictRequest"  # named, so generated clients name it too
    predict_body = schemas["PredictRequest"]
    encodings = predict_body["properties"]["maps_encoding"]["enum"]
    assert predict_body["examples"] and encodings == ["json", "float16", "float32"]
    for name in ("PredictResponse", "BatchResponse", "ModelInfo", "Kernels", "Health", "ErrorResponse"):
        assert schemas[name]["examples"], name
    assert client.get("/docs").status_code == 200


def test_feature_maps_in_float16_decode_to_the_json_numbers(client, rng):
    grid = rng.random((28, 28)).round(3).tolist()
    as_json = client.post("/predict", json={"image": grid, "feature_maps": True}).json()
    compact = client.post("/predict", json={"image": grid, "feature_maps": True, "maps_encoding": "float16"}).json()
    assert compact["label"] == as_json["label"] and compact["probabilities"] == as_json["probabilities"]
    for name, value in [*compact["feature_maps"].items(), ("input", compact["input"])]:
        decoded = np.frombuffer(base64.b64decode(value["float16"]), "<f2").reshape(value["shape"])
        expected = np.array(as_json["input"] if name == "input" else as_json["feature_maps"][name])
        assert decoded.shape == expected.shape
        assert np.allclose(decoded, expected, rtol=1e-3, atol=1e-3), name
    bad = client.post("/predict", json={"image": grid, "maps_encoding": "float64"})
    assert bad.status_code == 422 and "maps_encoding" in bad.json()["detail"]


def test_concurrent_requests_answer_as_sequential_ones(client, rng):
    grids = [rng.random((28, 28)).tolist() for _ in range(24)]
    ask = lambda g: client.post("/predict", json={"image": g, "feature_maps": True}).json()  # noqa: E731
    sequential = [ask(g) for g in grids]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(ask, grids))
    assert concurrent == sequential


# --- bad input: a clear 4xx, and the service keeps serving ---

GOOD = {"image": [[0.0] * 28] * 10 + [[0.0] * 10 + [1.0] * 8 + [0.0] * 10] * 8 + [[0.0] * 28] * 10}


def half_floats(grid: np.ndarray) -> str:
    return base64.b64encode(np.asarray(grid, "<f2").tobytes()).decode()


HALF_FLOATS = half_floats(np.array(GOOD["image"]))


def bad_json_cases():
    row = [0.0] * 28
    return [
        ("not json", "{image: oops", "not valid JSON"),
        ("no image", {}, "image: Field required"),
        ("27 rows", {"image": [row] * 27}, "28 rows of 28 numbers, got 27 rows of 28"),
        ("ragged rows", {"image": [row] * 27 + [row[:5]]}, "row 27 has 5 numbers"),
        ("empty", {"image": []}, "image is empty"),
        ("flat list", {"image": row}, "valid array"),
        ("strings", {"image": [["0.5"] * 28] * 28}, "valid number"),
        ("booleans", {"image": [[True] * 28] * 28}, "valid number"),
        ("nulls", {"image": [[None] * 28] * 28}, "valid number"),
        ("NaN", '{"image": [' + ",".join(["[" + ",".join(["NaN"] * 28) + "]"] * 28) + "]}", "finite"),
        ("Infinity", '{"image": [' + ",".join(["[" + ",".join(["Infinity"] * 28) + "]"] * 28) + "]}", "finite"),
        ("0..255", {"image": [[255] * 28] * 28}, "values must lie in [0, 1], 0 = background and 1 = ink (divide"),
        ("negative", {"image": [[-0.1] * 28] * 28}, "[0, 1]"),
        ("unknown field", {**GOOD, "featuremaps": True}, "unknown field 'featuremaps'"),
        ("flag as string", {**GOOD, "feature_maps": "yes"}, "feature_maps: Input should be a valid boolean"),
        ("blank drawing", {"image": [row] * 28, "normalize": True}, "blank"),
        ("huge drawing", {"image": [[0.0] * 1500] * 2, "normalize": True}, "at most 1024 rows and columns"),
        ("float16, 1-D shape", {"image": {"shape": [784], "float16": HALF_FLOATS}}, "must be [rows, columns]"),
        ("float16, shape not 28x28", {"image": {"shape": [14, 56], "float16": HALF_FLOATS}}, "28 rows of 28"),
        ("float16, not base64", {"image": {"shape": [28, 28], "float16": "a*b"}}, "not valid base64"),
        ("float16, too few bytes", {"image": {"shape": [28, 28], "float16": HALF_FLOATS[:-8]}}, "needs 1568"),
        ("float16, NaN", {"image": {"shape": [28, 28], "float16": half_floats(np.full((28, 28), np.nan))}}, "finite"),
        (
            "float16, 0..255",
            {"image": {"shape": [28, 28], "float16": half_floats(np.full((28, 28), 255.0))}},
            "divide 0..255 pixels by 255",
        ),
        ("float16, missing data", {"image": {"shape": [28, 28]}}, "image.float16: Field required"),
        (
            "float16, shape as text",
            {"image": {"shape": "28x28", "float16": HALF_FLOATS}},
            "image.shape: Input should be a valid array",
        ),
    ]


@pytest.mark.parametrize("name, body, message", bad_json_cases(), ids=[c[0] for c in bad_json_cases()])
def test_bad_json_gets_422_with_a_reason_and_the_service_goes_on(client, name, body, message):
    if isinstance(body, str):
        r = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    else:
        r = client.post("/predict", json=body)
    assert r.status_code == 422, r.text
    assert message in r.json()["detail"]
    assert "Traceback" not in r.text and len(r.text) < 2000  # no echo of a whole image back
    assert client.post("/predict", json=GOOD).status_code == 200


@pytest.mark.parametrize(
    "image, detail",
    [
        ({"shape": [28, 28]}, "image.float16: Field required"),  # an object: nothing about arrays
        ([["x"]], "image.0.0: Input should be a valid number"),  # rows: nothing about objects
        ("28x28", "image: Input should be a valid array"),  # neither: rows are what people send
    ],
)
def test_a_bad_image_is_explained_in_the_form_the_client_chose(client, image, detail):
    r = client.post("/predict", json={"image": image})
    assert r.status_code == 422 and r.json()["detail"] == detail


def image_bytes(fmt: str, size=(64, 64), mode="L") -> bytes:
    buf = io.BytesIO()
    image = Image.new(mode, size, 255)
    image.paste(0, (20, 10, 40, 54))
    image.save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    "name, data, status, message",
    [
        ("empty file", b"", 422, "empty"),
        ("text file", b"hello, this is not an image", 415, "not an image in a supported format"),
        ("TIFF", image_bytes("TIFF"), 415, "TIFF images are not supported"),
        ("truncated PNG", image_bytes("PNG")[:60], 422, "truncated or damaged"),
        ("truncated JPEG", image_bytes("JPEG")[:300], 422, "truncated or damaged"),
        ("blank PNG", png_bytes(np.full((50, 50), 255, np.uint8)), 422, "blank"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 20 else "",
)
def test_bad_images_get_a_4xx_with_a_reason(client, name, data, status, message):
    r = client.post("/predict/image", files={"file": ("f", data)})
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]
    assert client.post("/predict", json=GOOD).status_code == 200


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP"])
def test_every_supported_format_is_read(client, fmt):
    r = client.post("/predict/image", files={"file": (f"d.{fmt.lower()}", image_bytes(fmt))})
    assert r.status_code == 200, r.text


def test_a_decompression_bomb_is_refused_before_decoding(client):
    side = int(MAX_PIXELS**0.5) + 1  # a small file of a huge image
    buf = io.BytesIO()
    Image.new("1", (side, side), 0).save(buf, format="PNG")
    assert len(buf.getvalue()) < 1_000_000
    r = client.post("/predict/image", files={"file": ("bomb.png", buf.getvalue())})
    assert r.status_code == 413
    assert f"the limit is {MAX_PIXELS:,} pixels" in r.json()["detail"]


def test_a_file_declaring_a_gigantic_image_is_refused(client):
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20_000, 20_000, 8, 0, 0, 0, 0))
    r = client.post("/predict/image", files={"file": ("bomb.png", header + chunk(b"IEND", b""))})
    assert r.status_code == 413
    assert f"the limit is {MAX_PIXELS:,} pixels" in r.json()["detail"]
    assert client.post("/predict", json=GOOD).status_code == 200


def test_a_missing_file_field_is_named(client):
    r = client.post("/predict/image", files={"picture": ("d.png", image_bytes("PNG"))})
    assert r.status_code == 422 and "no field 'file'" in r.json()["detail"]


def test_bodies_over_the_limit_get_413(client):
    big = b"x" * 1_000_001
    r = client.post("/predict/image", files={"file": ("big.png", big)})
    assert r.status_code == 413 and "larger than 1,000,000 bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit must hold for what actually arrives
        for _ in range(11):
            yield b"x" * 100_000

    r = client.post("/predict", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert client.post("/predict", json=GOOD).status_code == 200


def test_batches_over_the_limit_or_with_a_bad_image_are_refused(client, rng):
    r = client.post("/predict/batch", json={"images": rng.random((9, 28, 28)).tolist()})
    assert r.status_code == 413 and "9 images in one call; the limit is 8" in r.json()["detail"]
    images = rng.random((3, 28, 28)).tolist()
    images[2] = images[2][:20]
    r = client.post("/predict/batch", json={"images": images})
    assert r.status_code == 422 and "images[2] must be 28 rows" in r.json()["detail"]
    r = client.post("/predict/batch", json={"images": []})
    assert r.status_code == 422 and "at least one" in r.json()["detail"]


# --- start-up ---


def test_startup_refuses_missing_weights(tmp_path):
    with pytest.raises(StartupError, match=r"not found.*CNN_WEIGHTS"):
        with TestClient(create_app(Settings(weights=tmp_path / "none.npz"))):
            pass


def test_startup_refuses_damaged_weights(tmp_path, weights):
    damaged = tmp_path / "damaged.npz"
    data = bytearray(weights.read_bytes())
    data[100] ^= 0x01
    damaged.write_bytes(bytes(data))
    damaged.with_suffix(".json").write_text(weights.with_suffix(".json").read_text())
    with pytest.raises(StartupError, match="SHA-256"):
        with TestClient(create_app(Settings(weights=damaged))):
            pass


def test_the_default_settings_serve_the_committed_weights(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # started from anywhere
    assert Settings().weights == ROOT / "weights" / "cnn.npz"
    monkeypatch.setenv("CNN_WEIGHTS", "/elsewhere/w.npz")
    assert str(Settings().weights) == "/elsewhere/w.npz"
    monkeypatch.setenv("CNN_MAX_BATCH", "lots")
    with pytest.raises(ValueError, match="CNN_MAX_BATCH must be a whole number"):
        Settings()


def test_calibrated_weights_answer_softmax_of_s_over_t_and_say_when_unsure(tmp_path, rng):
    net = model.CNN.random(seed=5)
    path = net.save(tmp_path / "calibrated", {"calibration": {"temperature": 2.5, "unsure_below": 0.6}})
    images = rng.random((6, 28, 28)) * (rng.random((6, 1, 1)) < 0.5)  # some noise, some blank-ish
    with TestClient(create_app(Settings(weights=path))) as c:
        for image in images:
            answer = c.post("/predict", json={"image": image.tolist()}).json()
            S = net.forward(image).S[0].astype(np.float64)
            expected = np.exp(S / 2.5 - (S / 2.5).max())
            expected /= expected.sum()
            assert_same_probabilities(answer, expected)
            assert answer["unsure"] == bool(expected.max() < 0.6)
        batch = c.post("/predict/batch", json={"images": images.tolist()}).json()["predictions"]
        assert [p["unsure"] for p in batch] == [bool(max(p["probabilities"]) < 0.6) for p in batch]
        assert c.get("/model").json()["metadata"]["calibration"]["temperature"] == 2.5
