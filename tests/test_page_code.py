"""The page's code says each thing once (issue 34, point 6), read from static/js as text:
one module (http.js) talks to the service and decodes its base64, `$` and the browser's storage keys
are defined once, main.js keeps no loose mutable state, and the server's facts come from GET /model."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT

PAGE = ROOT / "static"
HTTP = "http.js"  # the one module that calls fetch and decodes base64
DOM = "dom.js"  # `$` and the storage keys
FILES = "files.js"  # the one download

RULES: list[tuple[str, str, set[str]]] = [  # (what, pattern, the only files where it may appear)
    ("decodes base64", r"\batob\(", {HTTP}),
    ("wraps fetch", r"(?<![\w.])fetch\(", {HTTP}),
    ("defines $", r"\bconst \$ =", {DOM}),
    ("names a storage key", r"[\"']numpy-cnn:", {DOM}),
    ("makes a download", r"createObjectURL\(", {FILES}),
    ("claims to be the only one", r"(?i)\bthe only (module|place)\b", set()),
]
# Facts that are the server's (GET /model): the rounds of a fine-tune, the maps' equations, their numbers.
SERVER_FACTS = [
    ("steps per round", r"STEPS_PER_ROUND|steps: 16\b"),
    ("map-to-equation kinds", r"C1: \"S1\"|\{ C1: "),
    ("equation numbers", r"\beq(uations?)?\.? *\(?\d"),
]


def scripts() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted((PAGE / "js").glob("*.js"))}


def code_of(text: str) -> str:
    """The text without its comments (// to the end of a line), so that prose may name what code may not."""
    return "\n".join(re.sub(r"(^|\s)//.*$", "", line) for line in text.splitlines())


def violations(files: dict[str, str]) -> list[str]:
    """Every place where the page's code says a thing a second time, or writes down a server fact."""
    found = []
    for name, text in files.items():
        for what, pattern, allowed in RULES:
            if name not in allowed and re.search(pattern, text if not allowed else code_of(text)):
                found.append(f"{name} {what}")
        for what, pattern in SERVER_FACTS:
            if re.search(pattern, code_of(text)):
                found.append(f"{name} writes down {what}")
        for cited in re.findall(r"\b([\w./-]+\.md)\b", text):
            if not any((ROOT / folder / cited).exists() for folder in ("", "docs", "static")):
                found.append(f"{name} cites {cited}, which does not exist")
    for name, allowed in (("$", DOM), ("fetch", HTTP)):
        if allowed not in files:
            found.append(f"no {allowed} defines {name}")
    main = files.get("main.js", "")
    found += [
        f"main.js: module-level {line.split()[0]} {line.split()[1]}"
        for line in main.splitlines()
        if re.match(r"(let|var) ", line)
    ]
    return found


def test_the_page_says_each_thing_once():
    files = scripts()
    files |= {path.name: path.read_text() for path in PAGE.glob("*.html")}
    assert violations(files) == []
    assert sum(len(re.findall(r"\bconst \$ =", text)) for text in files.values()) == 1


def test_the_check_catches_what_it_is_for():
    clean = scripts()
    planted = {
        "teacher.js": 'const $ = (id) => document.getElementById(id);\nconst KEY = "numpy-cnn:teacher-token";',
        "api.js": "// the only module that knows the URLs\nconst b = atob(text);\nawait fetch(path);",
        "main.js": 'let inFlight = null;\nconst OPENS = { C1: "S1", P1: "P1" };',
        "explorer.js": "const note = `the article's equations 23 to 65`; // see contracts.md",
        "board.js": "const STEPS_PER_ROUND = 16;\nlink.href = URL.createObjectURL(blob);",
    }
    found = violations(clean | planted)
    for expected in (
        "teacher.js defines $",
        "teacher.js names a storage key",
        "api.js claims to be the only one",
        "api.js decodes base64",
        "api.js wraps fetch",
        "main.js: module-level let inFlight",
        "main.js writes down map-to-equation kinds",
        "explorer.js writes down equation numbers",
        "explorer.js cites contracts.md, which does not exist",
        "board.js writes down steps per round",
        "board.js makes a download",
    ):
        assert expected in found, (expected, found)


def test_model_tells_the_page_a_fine_tunes_round(client):
    """The teacher's page asks GET /model for a round's steps: as many as one POST /drawings/tune may take."""
    steps = client.get("/model").json()["training"]["tune_steps"]
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert steps == schemas["TuneRequest"]["properties"]["steps"]["maximum"] > 0


def test_every_module_of_the_page_is_a_file_it_imports():
    """An import of a module that is not there would only fail in the browser: each one is checked here."""
    files = scripts()
    for name, text in files.items():
        for imported in re.findall(r"from \"\./([\w-]+\.js)\"|import\(\"\./([\w-]+\.js)\"\)", text):
            assert (Path(PAGE / "js") / "".join(imported)).exists(), (name, imported)
